//! PostgreSQL's `pglz` compressed-inline varlena, built on the parsing threads.
//!
//! A resource row over the TOAST threshold (~2 KB) makes the backend compress its
//! `resource` datum with pglz on its only thread, which costs a third of the backend's
//! time in a bulk load. PostgreSQL's own compressor keeps its history in static
//! arrays (not thread-safe), so this is a separate encoder of the same format: the
//! backend's decompressor reads it as its own, and the toaster keeps an already
//! compressed datum as it is. The match search is short (a hash chain, and LZ4-style
//! skipping through incompressible runs), so the output is not pglz's bytes, and its
//! ratio is a little lower where pglz itself would have found little to compress.
//!
//! Format: a control byte announces the next 8 items, bit i set = item i is a tag.
//! A literal is one byte. A tag is `[offset_hi << 4 | len - 3, offset_lo]` for
//! lengths 3–17, or `[offset_hi << 4 | 0xF, offset_lo, len - 18]` for 18–273;
//! offsets 1–4095 count back from the output position.

const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 273;
/// Offsets must fit 12 bits; pglz itself stops below 0x0fff.
const MAX_OFFSET: usize = 0x0ffe;
const HASH_BITS: u32 = 12;
/// Candidates looked at per position: enough for JSON's repeated keys and values.
const CHAIN_DEPTH: usize = 6;
/// A match this long ends the search (pglz's `match_size_good`).
const GOOD_MATCH: usize = 128;
/// Positions inside a match that are added to the history.
const REMEMBERED_IN_MATCH: usize = 8;
/// Inputs under 32 bytes are not compressed (as pglz's default strategy).
const MIN_INPUT: usize = 32;
/// `TOAST_PGLZ_COMPRESSION_ID` in the varlena's compression bits.
const PGLZ_METHOD: u32 = 0;
const VARHDRSZ_COMPRESSED: usize = 8;

/// The compressed-inline varlena for `datum` (a plain 4-byte-header varlena), or None
/// when it would not be smaller.
///
/// Unlike pglz's default strategy this keeps any saving, not only 25 % or more: a
/// datum handed over uncompressed makes the backend try (and fail) again on its
/// own thread before it moves the value out of line. Text that LZ cannot shrink by
/// a quarter, such as base64 attachments, is then stored compressed and out of line
/// instead of uncompressed and out of line.
pub fn compress_datum(datum: &[u8]) -> Option<Vec<u8>> {
    let raw = datum.get(4..)?;
    if raw.len() < MIN_INPUT || raw.len() >= 1 << 30 {
        return None;
    }
    let mut out = Vec::with_capacity(VARHDRSZ_COMPRESSED + raw.len());
    out.extend_from_slice(&[0; VARHDRSZ_COMPRESSED]);
    compress(raw, &mut out, datum.len() - 1)?;
    // Header: 4-byte varlena, compressed (low bits 0b10); then raw size and method.
    let header = ((out.len() as u32) << 2) | 0x02;
    out[..4].copy_from_slice(&header.to_le_bytes());
    let tcinfo = raw.len() as u32 | (PGLZ_METHOD << 30);
    out[4..8].copy_from_slice(&tcinfo.to_le_bytes());
    Some(out)
}

/// The 4 bytes at `at` (which is at least 4 bytes before the end).
fn read_u32(input: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(input[at..at + 4].try_into().unwrap_or([0; 4]))
}

fn hash(input: &[u8], at: usize) -> usize {
    (read_u32(input, at).wrapping_mul(2_654_435_761) >> (32 - HASH_BITS)) as usize
}

/// Positions in the window stored by `prev`, a ring: offsets never pass it.
const WINDOW: usize = 4096;

/// Earlier positions by the hash of their next 4 bytes, as chains: `head[h]` is the
/// latest with hash h, `prev[i % WINDOW]` the one before i. One per thread, reused
/// across calls without clearing: a position is stored as `base + position + 1`, and
/// each call starts with `base` past everything stored before, so older entries read
/// as empty.
struct History {
    // Fixed-size arrays: a hash (12 bits) or a masked position indexes them with no
    // bounds check.
    head: Box<[u32; 1 << HASH_BITS]>,
    prev: Box<[u32; WINDOW]>,
    base: u32,
    /// Where the next call's `base` starts.
    end: u32,
}

thread_local! {
    static HISTORY: std::cell::RefCell<History> = std::cell::RefCell::new(History {
        head: Box::new([0; 1 << HASH_BITS]),
        prev: Box::new([0; WINDOW]),
        base: 0,
        end: 0,
    });
}

impl History {
    /// Makes every stored entry stale before compressing `len` bytes.
    fn start(&mut self, len: usize) {
        let end = match self.end.checked_add(len as u32 + 1) {
            Some(end) => end,
            None => {
                // After 4 GB through this thread: clear once and start over.
                self.head.fill(0);
                self.prev.fill(0);
                self.end = 0;
                len as u32 + 1
            }
        };
        self.base = self.end;
        self.end = end;
    }

    /// Adds position `at`; returns the chain it continues.
    fn remember(&mut self, input: &[u8], at: usize) -> u32 {
        let h = hash(input, at);
        let before = self.head[h];
        self.prev[at & (WINDOW - 1)] = before;
        self.head[h] = self.base + at as u32 + 1;
        before
    }

    /// The longest earlier match at `at`, following the chain from `entry` within the
    /// offset range: (length, offset).
    fn longest_match(&self, input: &[u8], at: usize, mut entry: u32) -> (usize, usize) {
        let max = (input.len() - at).min(MAX_MATCH);
        // Most candidates are hash collisions: a match needs the first three bytes.
        let first3 = read_u32(input, at) & 0x00ff_ffff;
        let mut best = (0, 0);
        for _ in 0..CHAIN_DEPTH {
            if entry <= self.base {
                break;
            }
            let from = (entry - self.base - 1) as usize;
            let offset = at - from;
            if offset > MAX_OFFSET {
                break;
            }
            if read_u32(input, from) & 0x00ff_ffff == first3 {
                let len = common_prefix(&input[from..], &input[at..at + max]);
                if len > best.0 {
                    best = (len, offset);
                    if len >= GOOD_MATCH.min(max) {
                        break;
                    }
                }
            }
            entry = self.prev[from & (WINDOW - 1)];
        }
        best
    }
}

/// Appends the pglz stream for `input` to `out`; None once `out` would pass `limit`.
fn compress(input: &[u8], out: &mut Vec<u8>, limit: usize) -> Option<()> {
    HISTORY.with(|history| compress_with(&mut history.borrow_mut(), input, out, limit))
}

fn compress_with(
    history: &mut History,
    input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Option<()> {
    history.start(input.len());
    let hashed_end = input.len().saturating_sub(3);
    let mut control_at = out.len();
    let mut control_bit = 8u32;
    let mut i = 0;
    // Literals since the last match: past 16 of them (incompressible text such as
    // base64) only every n-th position is looked up, as LZ4 does; `skip` counts down
    // the positions left before the next lookup.
    let mut misses = 0usize;
    let mut skip = 0usize;
    while i < input.len() {
        if out.len() > limit {
            return None;
        }
        if control_bit == 8 {
            control_at = out.len();
            out.push(0);
            control_bit = 0;
        }
        control_bit += 1;
        if i >= hashed_end || skip > 0 {
            out.push(input[i]);
            skip = skip.saturating_sub(1);
            misses += 1;
            i += 1;
            continue;
        }
        let candidate = history.remember(input, i);
        let (len, offset) = history.longest_match(input, i, candidate);
        if len < MIN_MATCH {
            out.push(input[i]);
            misses += 1;
            if misses >= 16 {
                skip = (misses >> 4).min(7);
            }
            i += 1;
            continue;
        }
        misses = 0;
        out[control_at] |= 1 << (control_bit - 1);
        let hi = ((offset >> 8) as u8) << 4;
        if len > 17 {
            out.extend_from_slice(&[hi | 0x0f, offset as u8, (len - 18) as u8]);
        } else {
            out.extend_from_slice(&[hi | (len - 3) as u8, offset as u8]);
        }
        // Only the first positions inside a match go into the history, as in
        // LZ4: the rest rarely start a better match than the one just found.
        for at in i + 1..(i + len.min(REMEMBERED_IN_MATCH)).min(hashed_end) {
            history.remember(input, at);
        }
        i += len;
    }
    (out.len() <= limit).then_some(())
}

/// How many leading bytes `a` and `b` share (at most `b.len()`), 8 at a time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let mut n = 0;
    while n + 8 <= b.len() {
        let x = u64::from_le_bytes(a[n..n + 8].try_into().unwrap_or([0; 8]));
        let y = u64::from_le_bytes(b[n..n + 8].try_into().unwrap_or([0; 8]));
        if x != y {
            return n + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < b.len() && a[n] == b[n] {
        n += 1;
    }
    n
}

#[cfg(test)]
pub(crate) fn decompress_datum(datum: &[u8]) -> Option<Vec<u8>> {
    let header = u32::from_le_bytes(datum.get(..4)?.try_into().ok()?);
    if header & 0x03 != 0x02 || (header >> 2) as usize != datum.len() {
        return None;
    }
    let tcinfo = u32::from_le_bytes(datum[4..8].try_into().ok()?);
    let raw_len = (tcinfo & 0x3fff_ffff) as usize;
    let mut out = Vec::with_capacity(4 + raw_len);
    out.extend_from_slice(&(((4 + raw_len) as u32) << 2).to_le_bytes());
    let mut src = &datum[8..];
    while let Some((&control, rest)) = src.split_first() {
        src = rest;
        for bit in 0..8 {
            let Some((&first, rest)) = src.split_first() else {
                break;
            };
            if control & (1 << bit) == 0 {
                out.push(first);
                src = rest;
                continue;
            }
            let (&second, rest) = rest.split_first()?;
            let mut len = (first & 0x0f) as usize + 3;
            let offset = ((first as usize & 0xf0) << 4) | second as usize;
            src = rest;
            if len == 18 {
                let (&extra, rest) = src.split_first()?;
                len += extra as usize;
                src = rest;
            }
            let start = out.len().checked_sub(offset).filter(|s| *s >= 4)?;
            for k in 0..len {
                out.push(out[start + k]);
            }
        }
    }
    (out.len() == 4 + raw_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datum(body: &[u8]) -> Vec<u8> {
        let mut d = (((body.len() + 4) as u32) << 2).to_le_bytes().to_vec();
        d.extend_from_slice(body);
        d
    }

    #[test]
    fn json_compresses_and_decompresses_to_the_same_bytes() {
        for (_, line) in crate::fixture::resource_lines().iter().take(2000) {
            let d = datum(line.as_bytes());
            if let Some(c) = compress_datum(&d) {
                assert!(c.len() < d.len());
                assert_eq!(decompress_datum(&c).as_deref(), Some(&d[..]));
            }
        }
    }

    #[test]
    fn history_is_reused_across_calls_and_wraps_around() {
        let a = datum(
            &br#"{"name":[{"given":["Anna"],"family":"Smith"}],"x":"Smith Anna"}"#.repeat(40),
        );
        let b = datum(
            &br#"{"code":{"coding":[{"system":"http://loinc.org","code":"1-8"}]}}"#.repeat(40),
        );
        for _ in 0..3 {
            for d in [&a, &b] {
                assert_eq!(decompress_datum(&compress_datum(d).unwrap()).unwrap(), *d);
            }
            // Next calls run into the end of the position space.
            HISTORY.with(|h| h.borrow_mut().end = u32::MAX - 3000);
        }
    }

    #[test]
    fn long_runs_use_long_tags_and_far_offsets() {
        let mut body = vec![b'a'; 5000];
        body.extend((0..6000u32).map(|i| (i % 251) as u8));
        body.extend_from_within(100..400);
        let d = datum(&body);
        let c = compress_datum(&d).unwrap();
        assert!(c.len() < d.len() / 2, "{}", c.len());
        assert_eq!(decompress_datum(&c).unwrap(), d);
    }

    #[test]
    fn what_would_not_get_smaller_stays_as_it_is() {
        assert_eq!(compress_datum(&datum(b"short")), None);
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..4000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        assert_eq!(compress_datum(&datum(&noise)), None);
    }
}
