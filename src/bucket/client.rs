//! Builds the S3 client from `account` (or from the server's default AWS chain).

use crate::params::Account;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::Client;
use std::time::Duration;

/// Connection settings shared by the listing and every GET.
#[derive(Debug, Clone, Default)]
pub struct ClientSettings {
    pub account: Option<Account>,
    /// 0 = no limit.
    pub connect_timeout_ms: u64,
    /// 0 = no limit. Applied by us (not the SDK) to every wait for a response or
    /// for the next bytes of a body, so a stall always reads as ReadTimeout.
    pub read_timeout_ms: u64,
}

/// `Err(ReadTimeout)` when `ms` > 0 passes before `fut` completes.
pub async fn with_read_timeout<F: std::future::Future>(
    ms: u64,
    fut: F,
) -> crate::error::Result<F::Output> {
    if ms == 0 {
        return Ok(fut.await);
    }
    tokio::time::timeout(Duration::from_millis(ms), fut)
        .await
        .map_err(|_| crate::error::LoadError::ReadTimeout(ms))
}

fn timeouts(settings: &ClientSettings) -> TimeoutConfig {
    let mut b = TimeoutConfig::builder();
    if settings.connect_timeout_ms > 0 {
        b = b.connect_timeout(Duration::from_millis(settings.connect_timeout_ms));
    }
    b.build()
}

/// Must run inside a tokio runtime.
pub async fn build_client(settings: &ClientSettings) -> Client {
    match &settings.account {
        Some(a) => {
            let credentials = Credentials::new(
                a.access_key_id.clone(),
                a.secret_access_key.clone(),
                a.session_token.clone(),
                None,
                "aidbox_bulk.account",
            );
            let mut b = aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(a.region.clone()))
                .credentials_provider(credentials)
                .force_path_style(a.path_style)
                .timeout_config(timeouts(settings));
            if let Some(url) = &a.endpoint_url {
                b = b.endpoint_url(url);
            }
            Client::from_conf(b.build())
        }
        None => {
            // The server process's own chain: environment, profile, container or instance role.
            let shared = aws_config::defaults(BehaviorVersion::latest())
                .timeout_config(timeouts(settings))
                .load()
                .await;
            let mut b = aws_sdk_s3::config::Builder::from(&shared);
            if shared.region().is_none() {
                b = b.region(Region::new("us-east-1"));
            }
            Client::from_conf(b.build())
        }
    }
}

/// The single-threaded runtime each helper thread drives its S3 calls with.
pub fn runtime() -> crate::error::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::error::LoadError::Aws {
            code: "RuntimeError".into(),
            message: e.to_string(),
        })
}
