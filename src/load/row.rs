//! One NDJSON line → one row of an Aidbox resource table.

use crate::error::{LoadError, Result};
use crate::fhir::Converter;
use serde_json::{Map, Value};

/// What the main thread inserts: the id column and the `resource` jsonb as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub resource: String,
}

/// Parses, checks and converts one non-blank line (`line_no` counts from 1).
/// Without a converter (`format: aidbox`) the body is stored as it is.
pub fn encode_line(
    line: &[u8],
    line_no: u64,
    resource_type: &str,
    converter: Option<&Converter>,
) -> Result<Row> {
    let value: Value = serde_json::from_slice(line).map_err(|e| LoadError::InvalidJson {
        line: line_no,
        detail: e.to_string(),
    })?;
    let Value::Object(mut resource) = value else {
        return Err(LoadError::InvalidJson {
            line: line_no,
            detail: "the line is not a JSON object".into(),
        });
    };
    let id = match resource.remove("id") {
        Some(Value::String(id)) if !id.is_empty() => id,
        _ => return Err(LoadError::MissingId { line: line_no }),
    };
    match resource.remove("resourceType") {
        None => {}
        Some(Value::String(t)) if t == resource_type => {}
        Some(other) => {
            return Err(LoadError::WrongResourceType {
                line: line_no,
                found: other
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| other.to_string()),
                expected: resource_type.to_string(),
            })
        }
    }
    strip_version_meta(&mut resource);
    if let Some(converter) = converter {
        converter.to_aidbox(resource_type, &mut resource);
    }
    Ok(Row {
        id,
        resource: Value::Object(resource).to_string(),
    })
}

/// `meta.versionId` and `meta.lastUpdated` live in the txid and ts columns.
fn strip_version_meta(resource: &mut Map<String, Value>) {
    if let Some(Value::Object(meta)) = resource.get_mut("meta") {
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
    use serde_json::json;

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
        assert_eq!(row.resource, r#"{"active":true}"#);
    }

    #[test]
    fn other_meta_is_kept() {
        let row = encode(r#"{"id":"p1","meta":{"versionId":"1","profile":["x"]}}"#).unwrap();
        let v: Value = serde_json::from_str(&row.resource).unwrap();
        assert_eq!(v, json!({"meta": {"profile": ["x"]}}));
    }

    #[test]
    fn numbers_keep_their_exact_text() {
        let row = encode(r#"{"id":"p1","n":1.50,"big":123456789012345678901234567890}"#).unwrap();
        assert_eq!(
            row.resource,
            r#"{"big":123456789012345678901234567890,"n":1.50}"#
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
