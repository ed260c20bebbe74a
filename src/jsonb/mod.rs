//! PostgreSQL's on-disk `jsonb`, built off the main thread: the same bytes
//! `jsonb_in` would produce for the same JSON (keys sorted by length then bytes,
//! duplicate keys resolved to the last, JEntry offsets every 32 entries, numbers as
//! `numeric` varlenas, 4-byte alignment), so the backend only copies finished datums.

mod numeric;
pub mod pglz;

use crate::json::{Json, Object};

const JENTRY_OFFLENMASK: u32 = 0x0FFF_FFFF;
const JENTRY_HAS_OFF: u32 = 0x8000_0000;
const JENTRY_TYPEMASK: u32 = 0x7000_0000;
const JENTRY_ISSTRING: u32 = 0x0000_0000;
const JENTRY_ISNUMERIC: u32 = 0x1000_0000;
const JENTRY_ISBOOL_FALSE: u32 = 0x2000_0000;
const JENTRY_ISBOOL_TRUE: u32 = 0x3000_0000;
const JENTRY_ISNULL: u32 = 0x4000_0000;
const JENTRY_ISCONTAINER: u32 = 0x5000_0000;
const JB_OFFSET_STRIDE: usize = 32;
const JB_FSCALAR: u32 = 0x1000_0000;
const JB_FOBJECT: u32 = 0x2000_0000;
const JB_FARRAY: u32 = 0x4000_0000;
const JB_CMASK: u32 = 0x0FFF_FFFF;

/// Why a JSON value cannot be stored as jsonb (as `jsonb_in` would refuse it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonbError(pub String);

/// The complete varlena datum (4-byte header included) of `value` as jsonb.
/// Strings are searched for NUL (which jsonb refuses) only when `may_hold_nul`: a
/// caller that knows none can be there (a parsed line without a `\u0000` escape)
/// saves a search per string.
pub fn encode(value: &Json, may_hold_nul: bool) -> Result<Vec<u8>, JsonbError> {
    encode_with_capacity(value, may_hold_nul, 1024)
}

/// `encode` into a buffer of `capacity` bytes to begin with (a line's length is a
/// good guess: the datum is rarely much longer than the JSON text).
pub fn encode_with_capacity(
    value: &Json,
    may_hold_nul: bool,
    capacity: usize,
) -> Result<Vec<u8>, JsonbError> {
    let mut buf = Vec::with_capacity(capacity);
    buf.extend_from_slice(&[0; 4]);
    match value {
        Json::Object(_) | Json::Array(_) => {
            encode_value(&mut buf, value, may_hold_nul)?;
        }
        scalar => {
            // A top-level scalar is stored as a one-element "raw scalar" array.
            encode_array(
                &mut buf,
                std::slice::from_ref(scalar),
                JB_FSCALAR,
                may_hold_nul,
            )?;
        }
    }
    if buf.len() > JENTRY_OFFLENMASK as usize {
        return Err(too_big(buf.len()));
    }
    let header = (buf.len() as u32) << 2;
    buf[..4].copy_from_slice(&header.to_le_bytes());
    Ok(buf)
}

fn too_big(len: usize) -> JsonbError {
    JsonbError(format!(
        "total size of jsonb object elements exceeds the maximum of {} bytes ({len})",
        JENTRY_OFFLENMASK
    ))
}

fn pad_to_int(buf: &mut Vec<u8>) -> u32 {
    let pad = (4 - buf.len() % 4) % 4;
    buf.resize(buf.len() + pad, 0);
    pad as u32
}

/// Writes one value; returns its JEntry (type bits | length).
fn encode_value(buf: &mut Vec<u8>, value: &Json, nul: bool) -> Result<u32, JsonbError> {
    Ok(match value {
        Json::Null => JENTRY_ISNULL,
        Json::Bool(true) => JENTRY_ISBOOL_TRUE,
        Json::Bool(false) => JENTRY_ISBOOL_FALSE,
        Json::String(s) => encode_string(buf, s, nul)?,
        Json::Number(n) => {
            let pad = pad_to_int(buf);
            let start = buf.len();
            numeric::encode(n, buf).map_err(|e| JsonbError(e.0))?;
            JENTRY_ISNUMERIC | (pad + (buf.len() - start) as u32)
        }
        Json::Array(items) => encode_array(buf, items, 0, nul)?,
        Json::Object(obj) => encode_object(buf, obj, nul)?,
    })
}

fn encode_string(buf: &mut Vec<u8>, s: &str, nul: bool) -> Result<u32, JsonbError> {
    if nul && memchr::memchr(0, s.as_bytes()).is_some() {
        return Err(JsonbError(
            "unsupported Unicode escape sequence: \\u0000 cannot be converted to text".into(),
        ));
    }
    if s.len() > JENTRY_OFFLENMASK as usize {
        return Err(JsonbError(format!(
            "string too long to represent as jsonb string ({} bytes)",
            s.len()
        )));
    }
    buf.extend_from_slice(s.as_bytes());
    Ok(JENTRY_ISSTRING | s.len() as u32)
}

/// Reserves the JEntry slots, writes the children, fills the slots in.
fn write_children(
    buf: &mut Vec<u8>,
    count: usize,
    mut children: impl FnMut(&mut Vec<u8>, usize) -> Result<u32, JsonbError>,
) -> Result<(), JsonbError> {
    let slots = buf.len();
    buf.resize(slots + 4 * count, 0);
    let mut total: u32 = 0;
    for i in 0..count {
        let mut meta = children(buf, i)?;
        total = total
            .checked_add(meta & JENTRY_OFFLENMASK)
            .filter(|t| *t <= JENTRY_OFFLENMASK)
            .ok_or_else(|| too_big(buf.len()))?;
        if i % JB_OFFSET_STRIDE == 0 {
            meta = (meta & JENTRY_TYPEMASK) | total | JENTRY_HAS_OFF;
        }
        buf[slots + 4 * i..slots + 4 * i + 4].copy_from_slice(&meta.to_le_bytes());
    }
    Ok(())
}

fn encode_array(
    buf: &mut Vec<u8>,
    items: &[Json],
    flags: u32,
    nul: bool,
) -> Result<u32, JsonbError> {
    let base = buf.len();
    pad_to_int(buf);
    let count = u32::try_from(items.len())
        .ok()
        .filter(|n| *n <= JB_CMASK)
        .ok_or_else(|| too_big(items.len()))?;
    buf.extend_from_slice(&(count | JB_FARRAY | flags).to_le_bytes());
    write_children(buf, items.len(), |buf, i| encode_value(buf, &items[i], nul))?;
    Ok(JENTRY_ISCONTAINER | (buf.len() - base) as u32)
}

fn encode_object(buf: &mut Vec<u8>, obj: &Object, nul: bool) -> Result<u32, JsonbError> {
    let base = buf.len();
    pad_to_int(buf);
    // Members are unique and already in jsonb's key order.
    let pairs = obj.members();
    let n = pairs.len();
    let count = u32::try_from(n)
        .ok()
        .filter(|c| *c <= JB_CMASK)
        .ok_or_else(|| too_big(n))?;
    buf.extend_from_slice(&(count | JB_FOBJECT).to_le_bytes());
    write_children(buf, 2 * n, |buf, i| {
        if i < n {
            encode_string(buf, pairs[i].0, nul)
        } else {
            encode_value(buf, &pairs[i - n].1, nul)
        }
    })?;
    Ok(JENTRY_ISCONTAINER | (buf.len() - base) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_text(text: &str) -> Result<Vec<u8>, JsonbError> {
        encode(
            &crate::json::parse(text, &crate::json::Bump::new()).unwrap(),
            true,
        )
    }

    fn u32s(b: &[u8]) -> Vec<u32> {
        b.chunks(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }

    #[test]
    fn an_empty_object_and_array() {
        assert_eq!(u32s(&encode_text("{}").unwrap()), vec![8 << 2, JB_FOBJECT]);
        assert_eq!(u32s(&encode_text("[]").unwrap()), vec![8 << 2, JB_FARRAY]);
    }

    #[test]
    fn a_small_object_layout() {
        // {"bb": true, "a": "x"}: keys sorted by length: "a", "bb"; then values "x", true.
        let b = encode_text(r#"{"bb": true, "a": "x"}"#).unwrap();
        let head = u32s(&b[..24]);
        assert_eq!(head[1], 2 | JB_FOBJECT);
        assert_eq!(head[2], JENTRY_HAS_OFF | 1); // "a", first entry stores its end offset
        assert_eq!(head[3], 2); // "bb", a length
        assert_eq!(head[4], JENTRY_ISSTRING | 1); // "x"
        assert_eq!(head[5], JENTRY_ISBOOL_TRUE);
        assert_eq!(&b[24..], b"abbx");
        assert_eq!(head[0] >> 2, b.len() as u32);
    }

    #[test]
    fn scalars_at_the_top_are_raw_scalar_arrays() {
        let b = encode_text(r#""s""#).unwrap();
        assert_eq!(
            u32s(&b[..12]),
            vec![13 << 2, 1 | JB_FARRAY | JB_FSCALAR, JENTRY_HAS_OFF | 1]
        );
    }

    #[test]
    fn nul_characters_are_refused_like_jsonb_in() {
        let err = encode_text(r#"{"a": "x\u0000y"}"#).unwrap_err();
        assert!(err.0.contains("\\u0000"), "{err:?}");
    }
}
