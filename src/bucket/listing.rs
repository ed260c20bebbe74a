//! Lists a bucket's objects, one ListObjectsV2 scan per prefix (the whole bucket
//! when there is none), following continuation tokens past 1,000 keys.

use super::client::{with_read_timeout, ClientSettings};
use super::errors::classify;
use crate::error::Result;
use aws_sdk_s3::Client;
use aws_smithy_types::date_time::Format as DateFormat;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: i64,
    /// ISO-8601, as S3 reports it.
    pub last_modified: String,
}

pub async fn list_objects(
    client: &Client,
    settings: &ClientSettings,
    bucket: &str,
    prefixes: &[String],
) -> Result<Vec<ObjectInfo>> {
    let scans: Vec<Option<&str>> = if prefixes.is_empty() {
        vec![None]
    } else {
        prefixes.iter().map(|p| Some(p.as_str())).collect()
    };
    // Overlapping prefixes list a key twice; keep it once, in key order.
    let mut objects = BTreeMap::new();
    for prefix in scans {
        let mut token: Option<String> = None;
        loop {
            let request = client
                .list_objects_v2()
                .bucket(bucket)
                .set_prefix(prefix.map(str::to_string))
                .set_continuation_token(token.take())
                .send();
            let page = with_read_timeout(settings.read_timeout_ms, request)
                .await?
                .map_err(|e| classify(e, settings))?;
            for obj in page.contents() {
                let Some(key) = obj.key() else { continue };
                let last_modified = obj
                    .last_modified()
                    .and_then(|t| t.fmt(DateFormat::DateTime).ok())
                    .unwrap_or_default();
                objects.insert(
                    key.to_string(),
                    ObjectInfo {
                        key: key.to_string(),
                        size: obj.size().unwrap_or(0),
                        last_modified,
                    },
                );
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated().unwrap_or(false) => {
                    token = Some(next.to_string())
                }
                _ => break,
            }
        }
    }
    Ok(objects.into_values().collect())
}
