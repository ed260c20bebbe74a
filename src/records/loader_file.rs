//! LoaderFile: one per loadable object, keyed by bucket + key.

use crate::bucket::listing::ObjectInfo;
use crate::error::LoadError;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Aidbox's status values, spelling included (`skiped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    Pending,
    InProgress,
    Done,
    Error,
    Skiped,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Pending => "pending",
            FileStatus::InProgress => "in-progress",
            FileStatus::Done => "done",
            FileStatus::Error => "error",
            FileStatus::Skiped => "skiped",
        }
    }
}

/// FHIR ids cannot hold `/`, so the id is a digest of bucket and key: the same
/// object always maps to the same LoaderFile.
pub fn loader_file_id(bucket: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(bucket.as_bytes());
    h.update(b"\n");
    h.update(key.as_bytes());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `resource` of a newly queued file.
pub fn pending(bucket: &str, object: &ObjectInfo, resource_type: &str) -> Value {
    json!({
        "bucket": bucket,
        "file": object.key,
        "type": resource_type,
        "size": object.size,
        "last-modified": object.last_modified,
        "status": FileStatus::Pending.as_str(),
    })
}

/// The fields merged into the record when a file fails.
pub fn failure_patch(err: &LoadError) -> Value {
    json!({
        "status": FileStatus::Error.as_str(),
        "error": {"source": err.source().as_str(), "code": err.code()},
        "message": err.message(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = loader_file_id("s3://b", "Patient.ndjson");
        assert_eq!(a, loader_file_id("s3://b", "Patient.ndjson"));
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, loader_file_id("s3://c", "Patient.ndjson"));
        assert_ne!(a, loader_file_id("s3://b", "patient.ndjson"));
    }

    #[test]
    fn records_have_aidbox_fields() {
        let obj = ObjectInfo {
            key: "fhir/Patient.ndjson.gz".into(),
            size: 10,
            last_modified: "2026-01-01T00:00:00Z".into(),
        };
        assert_eq!(
            pending("s3://b", &obj, "Patient"),
            json!({"bucket": "s3://b", "file": "fhir/Patient.ndjson.gz", "type": "Patient",
                   "size": 10, "last-modified": "2026-01-01T00:00:00Z", "status": "pending"})
        );
        let patch = failure_patch(&LoadError::MissingId { line: 2 });
        assert_eq!(
            patch["error"],
            json!({"source": "aidbox", "code": "missing-id"})
        );
        assert_eq!(
            patch["message"],
            "missing-id: line 2: the resource has no string \"id\""
        );
    }
}
