//! The parts of a FHIR resource that Aidbox keeps in columns, not in `resource`:
//! `id`, `resourceType`, `meta.versionId` (txid) and `meta.lastUpdated` (ts).

use serde_json::{Map, Value};

/// Column values to put back into a resource; None leaves that part out.
#[derive(Debug, Default, Clone)]
pub struct RowFields<'a> {
    pub id: Option<&'a str>,
    pub version_id: Option<String>,
    pub last_updated: Option<String>,
}

/// Adds `resourceType`, `id` and the version meta back, as Aidbox's FHIR API does.
pub fn restore(resource_type: &str, resource: &mut Map<String, Value>, row: RowFields<'_>) {
    resource.insert(
        "resourceType".into(),
        Value::String(resource_type.to_string()),
    );
    if let Some(id) = row.id {
        resource.insert("id".into(), Value::String(id.to_string()));
    }
    let mut extra = Vec::new();
    if let Some(v) = row.version_id {
        extra.push(("versionId", v));
    }
    if let Some(ts) = row.last_updated {
        extra.push(("lastUpdated", ts));
    }
    if extra.is_empty() {
        return;
    }
    let meta = resource
        .entry("meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(meta) = meta {
        for (k, v) in extra {
            meta.insert(k.into(), Value::String(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_go_back_into_the_resource() {
        let mut r = json!({"meta": {"profile": ["p"]}, "active": true})
            .as_object()
            .unwrap()
            .clone();
        restore(
            "Patient",
            &mut r,
            RowFields {
                id: Some("p1"),
                version_id: Some("42".into()),
                last_updated: Some("2026-01-01T00:00:00.000Z".into()),
            },
        );
        assert_eq!(
            Value::Object(r),
            json!({"resourceType": "Patient", "id": "p1", "active": true,
                   "meta": {"profile": ["p"], "versionId": "42", "lastUpdated": "2026-01-01T00:00:00.000Z"}})
        );
        let mut bare = Map::new();
        restore("Patient", &mut bare, RowFields::default());
        assert_eq!(Value::Object(bare), json!({"resourceType": "Patient"}));
    }
}
