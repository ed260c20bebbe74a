//! S3 SDK errors → the loader's error codes (Aidbox's `InvalidAccount`, `NoSuchKey`, ...).

use super::client::ClientSettings;
use crate::error::LoadError;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

pub fn classify<E>(err: SdkError<E, HttpResponse>, settings: &ClientSettings) -> LoadError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::TimeoutError(_) => LoadError::ReadTimeout(settings.read_timeout_ms),
        SdkError::ResponseError(_) => LoadError::ReadTimeout(settings.read_timeout_ms),
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            LoadError::ConnectTimeout(settings.connect_timeout_ms)
        }
        SdkError::DispatchFailure(d) => LoadError::Aws {
            code: if d.is_io() {
                "ConnectionError"
            } else {
                "DispatchFailure"
            }
            .into(),
            message: format!("cannot reach S3: {}", describe(&err)),
        },
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default().to_string();
            let status = service.raw().status().as_u16();
            from_service_code(&code, status, service.err().message().unwrap_or_default())
        }
        _ => LoadError::Aws {
            code: "AwsError".into(),
            message: describe(&err),
        },
    }
}

/// The codes S3 (and S3-compatible servers) send, mapped to Aidbox's.
pub fn from_service_code(code: &str, http_status: u16, message: &str) -> LoadError {
    let detail = if message.is_empty() {
        code.to_string()
    } else {
        format!("{code}: {message}")
    };
    match code {
        "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "InvalidToken"
        | "ExpiredToken"
        | "InvalidSecurity"
        | "AuthorizationHeaderMalformed" => LoadError::InvalidAccount(detail),
        "NoSuchBucket" | "NoSuchKey" | "NotFound" => LoadError::NoSuchKey(detail),
        "" if http_status == 404 => LoadError::NoSuchKey(format!("HTTP {http_status}")),
        "" if http_status == 403 => LoadError::InvalidAccount(format!("HTTP {http_status}")),
        "" => LoadError::Aws {
            code: format!("HTTP{http_status}"),
            message: format!("S3 answered HTTP {http_status}"),
        },
        other => LoadError::Aws {
            code: other.to_string(),
            message: format!("S3 error {detail}"),
        },
    }
}

/// The whole source chain, for messages (never contains credentials).
fn describe(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_codes_map_to_aidbox_codes() {
        assert_eq!(
            from_service_code("SignatureDoesNotMatch", 403, "").code(),
            "InvalidAccount"
        );
        assert_eq!(
            from_service_code("InvalidAccessKeyId", 403, "x").code(),
            "InvalidAccount"
        );
        assert_eq!(
            from_service_code("NoSuchBucket", 404, "").code(),
            "NoSuchKey"
        );
        assert_eq!(from_service_code("NoSuchKey", 404, "").code(), "NoSuchKey");
        assert_eq!(from_service_code("", 404, "").code(), "NoSuchKey");
        assert_eq!(from_service_code("SlowDown", 503, "").code(), "SlowDown");
        assert_eq!(from_service_code("", 500, "").code(), "HTTP500");
    }
}
