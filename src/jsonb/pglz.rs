//! PostgreSQL's `pglz` compressed-inline varlena, built on the parsing threads.
//!
//! A resource row over the TOAST threshold (~2 KB) makes the backend compress its
//! `resource` datum with pglz on its only thread, which costs a third of the backend's
//! time in a bulk load. PostgreSQL's own compressor keeps its history in static
//! arrays (not thread-safe), so this is a separate encoder of the same format: the
//! backend's decompressor reads it as its own, and the toaster keeps an already
//! compressed datum as it is. The match search is a short hash chain, so the ratio is
//! close to pglz's, not bit-identical output.
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
/// pglz's default strategy: inputs under 32 bytes are not compressed, a result must
/// save 25 %, and no match in the first 1 KB gives up.
const MIN_INPUT: usize = 32;
const NEED_RATE_PERCENT: usize = 25;
const FIRST_SUCCESS_BY: usize = 1024;
/// `TOAST_PGLZ_COMPRESSION_ID` in the varlena's compression bits.
const PGLZ_METHOD: u32 = 0;
const VARHDRSZ_COMPRESSED: usize = 8;

/// The compressed-inline varlena for `datum` (a plain 4-byte-header varlena), or None
/// when pglz's default strategy would not compress it (too small, saves under 25 %).
pub fn compress_datum(datum: &[u8]) -> Option<Vec<u8>> {
    let raw = datum.get(4..)?;
    if raw.len() < MIN_INPUT || raw.len() >= 1 << 30 {
        return None;
    }
    let mut out = Vec::with_capacity(VARHDRSZ_COMPRESSED + raw.len());
    out.extend_from_slice(&[0; VARHDRSZ_COMPRESSED]);
    let max_len = raw.len() * (100 - NEED_RATE_PERCENT) / 100;
    compress(raw, &mut out, VARHDRSZ_COMPRESSED + max_len)?;
    // Header: 4-byte varlena, compressed (low bits 0b10); then raw size and method.
    let header = ((out.len() as u32) << 2) | 0x02;
    out[..4].copy_from_slice(&header.to_le_bytes());
    let tcinfo = raw.len() as u32 | (PGLZ_METHOD << 30);
    out[4..8].copy_from_slice(&tcinfo.to_le_bytes());
    Some(out)
}

fn hash(window: &[u8]) -> usize {
    let v = u32::from_le_bytes([window[0], window[1], window[2], window[3]]);
    (v.wrapping_mul(2_654_435_761) >> (32 - HASH_BITS)) as usize
}

/// Appends the pglz stream for `input` to `out`; None once `out` would pass `limit`.
fn compress(input: &[u8], out: &mut Vec<u8>, limit: usize) -> Option<()> {
    // head[h] and prev[i] hold position + 1 (0 = none).
    let mut head = vec![0u32; 1 << HASH_BITS];
    let mut prev = vec![0u32; input.len()];
    let mut control_at = out.len();
    let mut control_bit = 8u32;
    let mut matched = false;
    let mut i = 0;
    let remember = |head: &mut Vec<u32>, prev: &mut Vec<u32>, at: usize| {
        if at + 4 <= input.len() {
            let h = hash(&input[at..]);
            prev[at] = head[h];
            head[h] = at as u32 + 1;
        }
    };
    while i < input.len() {
        if out.len() > limit || (!matched && i >= FIRST_SUCCESS_BY) {
            return None;
        }
        if control_bit == 8 {
            control_at = out.len();
            out.push(0);
            control_bit = 0;
        }
        let (len, offset) = longest_match(input, i, &head, &prev);
        if len >= MIN_MATCH {
            matched = true;
            out[control_at] |= 1 << control_bit;
            let hi = ((offset >> 8) as u8) << 4;
            if len > 17 {
                out.extend_from_slice(&[hi | 0x0f, offset as u8, (len - 18) as u8]);
            } else {
                out.extend_from_slice(&[hi | (len - 3) as u8, offset as u8]);
            }
            for at in i..i + len {
                remember(&mut head, &mut prev, at);
            }
            i += len;
        } else {
            out.push(input[i]);
            remember(&mut head, &mut prev, i);
            i += 1;
        }
        control_bit += 1;
    }
    (out.len() <= limit).then_some(())
}

/// The longest earlier match at `at` within the offset range: (length, offset).
fn longest_match(input: &[u8], at: usize, head: &[u32], prev: &[u32]) -> (usize, usize) {
    if at + 4 > input.len() {
        return (0, 0);
    }
    let max = (input.len() - at).min(MAX_MATCH);
    let mut best = (0, 0);
    let mut candidate = head[hash(&input[at..])];
    for _ in 0..CHAIN_DEPTH {
        if candidate == 0 {
            break;
        }
        let from = candidate as usize - 1;
        let offset = at - from;
        if offset > MAX_OFFSET {
            break;
        }
        let len = input[from..]
            .iter()
            .zip(&input[at..at + max])
            .take_while(|(a, b)| a == b)
            .count();
        if len > best.0 {
            best = (len, offset);
            if len >= GOOD_MATCH.min(max) {
                break;
            }
        }
        candidate = prev[from];
    }
    best
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
                assert!(c.len() <= 8 + (d.len() - 4) * 3 / 4);
                assert_eq!(decompress_datum(&c).as_deref(), Some(&d[..]));
            }
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
    fn pglz_declines_what_it_would_not_compress() {
        assert_eq!(compress_datum(&datum(b"short")), None);
        // No repetition in the first kilobyte.
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
