//! The `load_from_bucket` parameters, parsed and checked with Aidbox's exact key names.

mod account;

pub use account::Account;

use crate::bucket::client::ClientSettings;
use crate::error::{LoadError, Result};
use crate::fhir::Converter;
use serde_json::{Map, Value};

/// The order in which a job's files are loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduler {
    /// Largest file first, which balances the workers best.
    Optimal,
    /// Oldest `LastModified` first, ties by key: a stable order with `thread-num` 1.
    ByLastModified,
}

/// What the NDJSON lines hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// FHIR JSON, converted to Aidbox format before it is stored.
    Fhir,
    /// Aidbox format, stored as is.
    Aidbox,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// The bucket exactly as given (`s3://name`); LoaderFiles and the status call use it.
    pub bucket: String,
    /// The bare bucket name for S3 calls.
    pub bucket_name: String,
    pub thread_num: u32,
    pub account: Option<Account>,
    pub disable_idx: bool,
    pub drop_primary_key: bool,
    pub upsert: bool,
    pub scheduler: Scheduler,
    pub prefixes: Vec<String>,
    pub connect_timeout_ms: u64,
    pub read_timeout_ms: u64,
    pub format: Format,
    /// Aidbox's `fhir.validation.correct-aidbox-format`: convert inside extensions.
    pub correct_aidbox_format: bool,
    /// Schema of the resource tables.
    pub schema: String,
}

pub const DEFAULT_THREAD_NUM: u32 = 4;
pub const MAX_THREAD_NUM: u32 = 128;

const KNOWN_KEYS: &[&str] = &[
    "bucket",
    "thread-num",
    "account",
    "disable-idx?",
    "drop-primary-key?",
    "upsert?",
    "scheduler",
    "prefixes",
    "connect-timeout",
    "read-timeout",
    "format",
    "correct-aidbox-format?",
    "schema",
];

impl Params {
    pub fn parse(value: &Value) -> Result<Params> {
        let obj = value
            .as_object()
            .ok_or_else(|| invalid("params must be a JSON object"))?;
        if let Some(unknown) = obj.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            return Err(invalid(format!(
                "unknown parameter \"{unknown}\"; known parameters: {}",
                KNOWN_KEYS.join(", ")
            )));
        }
        let bucket = parse_bucket_param(obj)?;
        let bucket_name = bucket_name(&bucket)?.to_string();
        let thread_num = match obj.get("thread-num") {
            None | Some(Value::Null) => DEFAULT_THREAD_NUM,
            Some(v) => match v.as_u64() {
                Some(n) if (1..=MAX_THREAD_NUM as u64).contains(&n) => n as u32,
                _ => {
                    return Err(invalid(format!(
                        "\"thread-num\" must be an integer from 1 to {MAX_THREAD_NUM}"
                    )))
                }
            },
        };
        let account = match obj.get("account") {
            None | Some(Value::Null) => None,
            Some(v) => Some(Account::parse(v)?),
        };
        let disable_idx = bool_param(obj, "disable-idx?")?;
        let drop_primary_key = bool_param(obj, "drop-primary-key?")?;
        let upsert = bool_param(obj, "upsert?")?;
        if upsert && drop_primary_key {
            return Err(invalid(
                "\"upsert?\" cannot be combined with \"drop-primary-key?\": an upsert needs the primary key",
            ));
        }
        let scheduler = match obj.get("scheduler") {
            None | Some(Value::Null) => Scheduler::Optimal,
            Some(Value::String(s)) if s == "optimal" => Scheduler::Optimal,
            Some(Value::String(s)) if s == "by-last-modified" => Scheduler::ByLastModified,
            Some(other) => {
                return Err(invalid(format!(
                    "unknown \"scheduler\" {other}; use \"optimal\" or \"by-last-modified\""
                )))
            }
        };
        let prefixes = match obj.get("prefixes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|p| p.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid("\"prefixes\" must be an array of strings"))?,
            Some(_) => return Err(invalid("\"prefixes\" must be an array of strings")),
        };
        let format = match obj.get("format") {
            None | Some(Value::Null) => Format::Fhir,
            Some(Value::String(s)) if s == "fhir" => Format::Fhir,
            Some(Value::String(s)) if s == "aidbox" => Format::Aidbox,
            Some(other) => {
                return Err(invalid(format!(
                    "unknown \"format\" {other}; use \"fhir\" or \"aidbox\""
                )))
            }
        };
        let schema = match obj.get("schema") {
            None | Some(Value::Null) => "public".to_string(),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => return Err(invalid("\"schema\" must be a non-empty string")),
        };
        Ok(Params {
            bucket,
            bucket_name,
            thread_num,
            account,
            disable_idx,
            drop_primary_key,
            upsert,
            scheduler,
            prefixes,
            connect_timeout_ms: millis_param(obj, "connect-timeout")?,
            read_timeout_ms: millis_param(obj, "read-timeout")?,
            format,
            correct_aidbox_format: bool_param(obj, "correct-aidbox-format?")?,
            schema,
        })
    }

    /// How this job talks to S3 (the listing and every GET).
    pub fn client_settings(&self) -> ClientSettings {
        ClientSettings {
            account: self.account.clone(),
            connect_timeout_ms: self.connect_timeout_ms,
            read_timeout_ms: self.read_timeout_ms,
        }
    }

    /// The FHIR → Aidbox converter of this job; None for `format: aidbox`.
    pub fn converter(&self) -> Option<Converter> {
        (self.format == Format::Fhir).then_some(Converter {
            correct_aidbox_format: self.correct_aidbox_format,
        })
    }
}

/// The `bucket` key of a params object (also the only key of the status call).
pub fn parse_bucket_param(obj: &Map<String, Value>) -> Result<String> {
    match obj.get("bucket") {
        Some(Value::String(s)) => {
            bucket_name(s)?;
            Ok(s.clone())
        }
        None | Some(Value::Null) => {
            Err(invalid("\"bucket\" is required, as \"s3://<bucket-name>\""))
        }
        Some(_) => Err(invalid(
            "\"bucket\" must be a string \"s3://<bucket-name>\"",
        )),
    }
}

/// `s3://name` → `name`. Sub-paths are refused: `prefixes` selects keys.
pub fn bucket_name(bucket: &str) -> Result<&str> {
    let name = bucket.strip_prefix("s3://").ok_or_else(|| {
        invalid(format!(
            "\"bucket\" must look like \"s3://<bucket-name>\", got \"{bucket}\""
        ))
    })?;
    let name = name.strip_suffix('/').unwrap_or(name);
    let valid = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !valid {
        return Err(invalid(format!(
            "\"bucket\" must look like \"s3://<bucket-name>\" without a path (use \"prefixes\" to select keys), got \"{bucket}\""
        )));
    }
    Ok(name)
}

fn bool_param(obj: &Map<String, Value>, key: &str) -> Result<bool> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(invalid(format!("\"{key}\" must be true or false"))),
    }
}

fn millis_param(obj: &Map<String, Value>, key: &str) -> Result<u64> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v.as_u64().ok_or_else(|| {
            invalid(format!(
                "\"{key}\" must be a non-negative integer (milliseconds, 0 = no limit)"
            ))
        }),
    }
}

pub(crate) fn invalid(msg: impl Into<String>) -> LoadError {
    LoadError::InvalidParams(msg.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Params> {
        Params::parse(&v)
    }

    #[test]
    fn defaults_follow_aidbox() {
        let p = parse(json!({"bucket": "s3://b"})).unwrap();
        assert_eq!(p.bucket, "s3://b");
        assert_eq!(p.bucket_name, "b");
        assert_eq!(p.thread_num, 4);
        assert_eq!(p.scheduler, Scheduler::Optimal);
        assert_eq!(p.format, Format::Fhir);
        assert_eq!(p.schema, "public");
        assert!(!p.upsert && !p.disable_idx && !p.drop_primary_key);
        assert!(p.prefixes.is_empty() && p.account.is_none());
        assert_eq!((p.connect_timeout_ms, p.read_timeout_ms), (0, 0));
    }

    #[test]
    fn every_parameter_is_read() {
        let p = parse(json!({
            "bucket": "s3://my-bucket", "thread-num": 2, "disable-idx?": true,
            "upsert?": true, "scheduler": "by-last-modified", "prefixes": ["fhir/1/"],
            "connect-timeout": 100, "read-timeout": 200, "format": "aidbox", "schema": "s",
            "account": {"access-key-id": "k", "secret-access-key": "s", "region": "eu-west-1"}
        }))
        .unwrap();
        assert_eq!(p.thread_num, 2);
        assert!(p.disable_idx && p.upsert);
        assert_eq!(p.scheduler, Scheduler::ByLastModified);
        assert_eq!(p.prefixes, vec!["fhir/1/".to_string()]);
        assert_eq!((p.connect_timeout_ms, p.read_timeout_ms), (100, 200));
        assert_eq!(p.format, Format::Aidbox);
        assert_eq!(p.schema, "s");
        assert_eq!(p.account.unwrap().region, "eu-west-1");
    }

    #[test]
    fn bad_calls_are_refused_with_a_clear_message() {
        let cases = [
            (json!({}), "\"bucket\" is required"),
            (
                json!({"bucket": "b"}),
                "must look like \"s3://<bucket-name>\"",
            ),
            (json!({"bucket": "s3://b/sub/path"}), "without a path"),
            (
                json!({"bucket": "s3://b", "scheduler": "fast"}),
                "unknown \"scheduler\" \"fast\"",
            ),
            (
                json!({"bucket": "s3://b", "thread-num": "4"}),
                "\"thread-num\" must be an integer",
            ),
            (
                json!({"bucket": "s3://b", "thread-num": 0}),
                "\"thread-num\" must be an integer",
            ),
            (
                json!({"bucket": "s3://b", "upsert?": "yes"}),
                "\"upsert?\" must be true or false",
            ),
            (
                json!({"bucket": "s3://b", "upsert?": true, "drop-primary-key?": true}),
                "cannot be combined",
            ),
            (
                json!({"bucket": "s3://b", "disable-idx": true}),
                "unknown parameter \"disable-idx\"",
            ),
            (
                json!({"bucket": "s3://b", "prefixes": "fhir/"}),
                "\"prefixes\" must be an array",
            ),
            (
                json!({"bucket": "s3://b", "read-timeout": -1}),
                "\"read-timeout\" must be",
            ),
            (json!([1]), "params must be a JSON object"),
        ];
        for (value, expected) in cases {
            let err = parse(value.clone()).unwrap_err();
            assert!(matches!(err, LoadError::InvalidParams(_)), "{value}");
            assert!(err.to_string().contains(expected), "{value}: {err}");
        }
    }
}
