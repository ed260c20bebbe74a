//! `account`: the S3 credentials and endpoint. Its Debug output never shows the secret.

use super::invalid;
use crate::error::Result;
use serde_json::{Map, Value};

#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub region: String,
    /// Full endpoint URL, e.g. `http://127.0.0.1:9000`, or None for AWS itself.
    pub endpoint_url: Option<String>,
    pub path_style: bool,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("path_style", &self.path_style)
            .finish()
    }
}

const KNOWN_KEYS: &[&str] = &[
    "access-key-id",
    "secret-access-key",
    "session-token",
    "region",
    "host",
    "path-style",
    "use-ssl",
];

impl Account {
    pub fn parse(value: &Value) -> Result<Account> {
        let obj = value
            .as_object()
            .ok_or_else(|| invalid("\"account\" must be an object"))?;
        if let Some(unknown) = obj.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            return Err(invalid(format!(
                "unknown \"account\" key \"{unknown}\"; known keys: {}",
                KNOWN_KEYS.join(", ")
            )));
        }
        let access_key_id = required_str(obj, "access-key-id")?;
        let secret_access_key = required_str(obj, "secret-access-key")?;
        let session_token = optional_str(obj, "session-token")?;
        let region = optional_str(obj, "region")?.unwrap_or_else(|| "us-east-1".to_string());
        let use_ssl = optional_bool(obj, "use-ssl")?.unwrap_or(true);
        let host = optional_str(obj, "host")?;
        let endpoint_url = host.as_deref().map(|h| endpoint_url(h, use_ssl));
        let path_style = optional_bool(obj, "path-style")?.unwrap_or(endpoint_url.is_some());
        Ok(Account {
            access_key_id,
            secret_access_key,
            session_token,
            region,
            endpoint_url,
            path_style,
        })
    }
}

/// A full URL is used as is; a bare host name follows Aidbox (`s3.<host>`, e.g.
/// `us-gov-east-1.amazonaws.com`).
fn endpoint_url(host: &str, use_ssl: bool) -> String {
    if host.starts_with("http://") || host.starts_with("https://") {
        host.trim_end_matches('/').to_string()
    } else {
        let scheme = if use_ssl { "https" } else { "http" };
        let host = host.trim_end_matches('/');
        if host.starts_with("s3.") || host.starts_with("s3-") {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://s3.{host}")
        }
    }
}

fn required_str(obj: &Map<String, Value>, key: &str) -> Result<String> {
    optional_str(obj, key)?
        .ok_or_else(|| invalid(format!("\"account\" needs \"{key}\" (a string)")))
}

fn optional_str(obj: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!(
            "\"account.{key}\" must be a non-empty string"
        ))),
    }
}

fn optional_bool(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(invalid(format!("\"account.{key}\" must be true or false"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn full_url_host_means_path_style() {
        let a = Account::parse(
            &json!({"access-key-id": "AK", "secret-access-key": "SECRET",
            "host": "http://127.0.0.1:9000/"}),
        )
        .unwrap();
        assert_eq!(a.endpoint_url.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(a.path_style);
        assert_eq!(a.region, "us-east-1");
    }

    #[test]
    fn bare_host_follows_aidbox() {
        let a = Account::parse(&json!({"access-key-id": "AK", "secret-access-key": "S",
            "region": "us-gov-east-1", "host": "us-gov-east-1.amazonaws.com", "path-style": false}))
        .unwrap();
        assert_eq!(
            a.endpoint_url.as_deref(),
            Some("https://s3.us-gov-east-1.amazonaws.com")
        );
        assert!(!a.path_style);
        let aws =
            Account::parse(&json!({"access-key-id": "AK", "secret-access-key": "S"})).unwrap();
        assert_eq!(aws.endpoint_url, None);
        assert!(!aws.path_style);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let a = Account::parse(
            &json!({"access-key-id": "AK", "secret-access-key": "TOPSECRET",
            "session-token": "TOKENVALUE"}),
        )
        .unwrap();
        let shown = format!("{a:?}");
        assert!(
            !shown.contains("TOPSECRET") && !shown.contains("TOKENVALUE"),
            "{shown}"
        );
    }

    #[test]
    fn missing_secret_is_refused() {
        let err = Account::parse(&json!({"access-key-id": "AK"})).unwrap_err();
        assert!(err.to_string().contains("secret-access-key"));
    }
}
