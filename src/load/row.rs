//! One NDJSON line → one row of an Aidbox resource table.

use crate::error::{LoadError, Result};
use crate::fhir::Converter;
use crate::json::{self, Bump, Json, Object};
use crate::jsonb;
use std::cell::RefCell;

/// What the main thread inserts: the id column and the finished `resource` jsonb
/// datum (built here, off the main thread, byte for byte as `jsonb_in` would; pglz
/// compressed when the row will be over the TOAST threshold and the sink asked for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub jsonb: Vec<u8>,
}

/// The heap compresses a row's largest value once the row's data passes
/// TOAST_TUPLE_TARGET (2032 bytes with 8 KB pages) less the 24-byte tuple header.
const TOAST_DATA_TARGET: usize = 2032 - 24;
/// The Aidbox columns besides id, resource_type and resource: txid, ts, cts (8 bytes
/// each), status (4), varlena headers and alignment.
const OTHER_COLUMNS: usize = 40;

/// Compresses the row's resource as the heap would, so the backend does not have to.
pub fn compress_like_toast(row: &mut Row, resource_type: &str) {
    if row.jsonb.len() + row.id.len() + resource_type.len() + OTHER_COLUMNS > TOAST_DATA_TARGET {
        if let Some(compressed) = jsonb::pglz::compress_datum(&row.jsonb) {
            row.jsonb = compressed;
        }
    }
}

thread_local! {
    /// Each parsing thread's arena for the tree of the line being encoded.
    static ARENA: RefCell<Bump> = RefCell::new(Bump::new());
}

/// An arena grown past this by one huge line is let go rather than kept.
const ARENA_KEEP_BYTES: usize = 16 << 20;

/// Parses, checks and converts one non-blank line (`line_no` counts from 1).
/// Without a converter (`format: aidbox`) the body is stored as it is.
pub fn encode_line(
    line: &[u8],
    line_no: u64,
    resource_type: &str,
    converter: Option<&Converter>,
) -> Result<Row> {
    ARENA.with(|arena| {
        let mut arena = arena.borrow_mut();
        arena.reset();
        let row = encode_line_in(&arena, line, line_no, resource_type, converter);
        if arena.allocated_bytes() > ARENA_KEEP_BYTES {
            *arena = Bump::new();
        }
        row
    })
}

fn encode_line_in(
    arena: &Bump,
    line: &[u8],
    line_no: u64,
    resource_type: &str,
    converter: Option<&Converter>,
) -> Result<Row> {
    let invalid = |detail: String| LoadError::InvalidJson {
        line: line_no,
        detail,
    };
    let text = simdutf8::compat::from_utf8(line)
        .map_err(|e| invalid(format!("invalid UTF-8 at column {}", e.valid_up_to() + 1)))?;
    let Json::Object(mut resource) =
        json::parse(text, arena).map_err(|e| invalid(e.to_string()))?
    else {
        return Err(invalid("the line is not a JSON object".into()));
    };
    let id = match resource.remove("id") {
        Some(Json::String(id)) if !id.is_empty() => id.to_string(),
        _ => return Err(LoadError::MissingId { line: line_no }),
    };
    match resource.remove("resourceType") {
        None => {}
        Some(Json::String(t)) if t == resource_type => {}
        Some(other) => {
            return Err(LoadError::WrongResourceType {
                line: line_no,
                found: other
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| other.to_serde().to_string()),
                expected: resource_type.to_string(),
            })
        }
    }
    strip_version_meta(&mut resource);
    if let Some(converter) = converter {
        converter.to_aidbox(resource_type, &mut resource);
    }
    // Only a `\u0000` escape can put a NUL in the tree: the parser refuses raw
    // control characters, and conversion builds strings from the line's own.
    let may_hold_nul = memchr::memmem::find(line, b"\\u0000").is_some();
    let capacity = line.len() + line.len() / 8 + 64;
    let tree = Json::Object(resource);
    let jsonb = jsonb::encode_with_capacity(&tree, may_hold_nul, capacity).map_err(|e| {
        LoadError::InvalidValue {
            line: line_no,
            detail: e.0,
        }
    })?;
    // Everything in the tree is in the arena or the line: the arena's reset frees
    // it, without a walk through the tree to drop it.
    std::mem::forget(tree);
    Ok(Row { id, jsonb })
}

/// `meta.versionId` and `meta.lastUpdated` live in the txid and ts columns.
fn strip_version_meta(resource: &mut Object) {
    if let Some(Json::Object(meta)) = resource.get_mut("meta") {
        meta.remove("versionId");
        meta.remove("lastUpdated");
        if meta.is_empty() {
            resource.remove("meta");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jsonb_of(text: &str) -> Vec<u8> {
        jsonb::encode(&json::parse(text, &Bump::new()).unwrap(), true).unwrap()
    }

    fn encode(line: &str) -> Result<Row> {
        encode_line(line.as_bytes(), 3, "Patient", Some(&Converter::default()))
    }

    #[test]
    fn id_resource_type_and_version_meta_leave_the_body() {
        let row = encode(
            r#"{"resourceType":"Patient","id":"p1","meta":{"versionId":"2","lastUpdated":"2020-01-01T00:00:00Z"},"active":true}"#,
        )
        .unwrap();
        assert_eq!(row.id, "p1");
        assert_eq!(row.jsonb, jsonb_of(r#"{"active":true}"#));
    }

    #[test]
    fn other_meta_is_kept() {
        let row = encode(r#"{"id":"p1","meta":{"versionId":"1","profile":["x"]}}"#).unwrap();
        assert_eq!(row.jsonb, jsonb_of(r#"{"meta": {"profile": ["x"]}}"#));
    }

    #[test]
    fn numbers_keep_their_exact_text() {
        let row = encode(r#"{"id":"p1","n":1.50,"big":123456789012345678901234567890}"#).unwrap();
        assert_eq!(
            row.jsonb,
            jsonb_of(r#"{"big":123456789012345678901234567890,"n":1.50}"#)
        );
    }

    #[test]
    fn values_jsonb_cannot_hold_fail_with_the_line() {
        let err = encode(r#"{"id":"p1","name":"a\u0000b"}"#).unwrap_err();
        assert!(
            matches!(&err, LoadError::InvalidValue { line: 3, detail } if detail.contains("\\u0000")),
            "{err:?}"
        );
        for nul_anywhere in [
            r#"{"id":"p1","a\u0000":1}"#,
            r#"{"id":"p1","x":[{"y":"\\\u0000"}]}"#,
            r#"{"id":"p1","subject":{"reference":"Patient/\u0000"}}"#,
        ] {
            assert!(
                matches!(
                    encode(nul_anywhere),
                    Err(LoadError::InvalidValue { line: 3, .. })
                ),
                "{nul_anywhere}"
            );
        }
        // An escaped backslash before `u0000` is six plain characters.
        let row = encode(r#"{"id":"p1","name":"a\\u0000b"}"#).unwrap();
        assert_eq!(row.jsonb, jsonb_of(r#"{"name":"a\\u0000b"}"#));
        assert!(matches!(
            encode(r#"{"id":"p1","n":1e5000}"#).unwrap_err(),
            LoadError::InvalidValue { line: 3, .. }
        ));
    }

    #[test]
    fn only_rows_over_the_toast_threshold_are_compressed() {
        let small = encode(r#"{"id":"p1","name":[{"text":"a"}]}"#).unwrap();
        let mut row = small.clone();
        compress_like_toast(&mut row, "Patient");
        assert_eq!(row, small);
        let names: Vec<String> = (0..200)
            .map(|i| format!(r#"{{"text":"name {i}"}}"#))
            .collect();
        let big = encode(&format!(r#"{{"id":"p1","name":[{}]}}"#, names.join(","))).unwrap();
        let mut row = big.clone();
        compress_like_toast(&mut row, "Patient");
        assert!(row.jsonb.len() < big.jsonb.len() / 2);
        assert_eq!(
            jsonb::pglz::decompress_datum(&row.jsonb).unwrap(),
            big.jsonb
        );
    }

    #[test]
    fn bad_lines_name_their_line() {
        assert_eq!(
            encode(r#"{"id": 12}"#).unwrap_err(),
            LoadError::MissingId { line: 3 }
        );
        assert_eq!(
            encode(r#"{"name":[]}"#).unwrap_err(),
            LoadError::MissingId { line: 3 }
        );
        assert!(matches!(
            encode("{not json").unwrap_err(),
            LoadError::InvalidJson { line: 3, .. }
        ));
        assert!(matches!(
            encode("[1,2]").unwrap_err(),
            LoadError::InvalidJson { line: 3, .. }
        ));
        assert_eq!(
            encode(r#"{"id":"x","resourceType":"Observation"}"#).unwrap_err(),
            LoadError::WrongResourceType {
                line: 3,
                found: "Observation".into(),
                expected: "Patient".into()
            }
        );
    }
}
