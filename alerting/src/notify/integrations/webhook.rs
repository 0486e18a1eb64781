//! `webhook_configs`.

use crate::notify::config::{HttpClientConfig, Secret};

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    /// Default true.
    pub send_resolved: bool,
    pub http_config: HttpClientConfig,
    /// `url` (or the contents of `url_file`, read when sending).
    pub url: Option<Secret>,
    pub url_file: Option<String>,
    /// 0 sends every alert.
    pub max_alerts: u64,
    /// Per attempt (Alertmanager 0.28's `timeout`); None uses the sender's default.
    pub timeout_ms: Option<i64>,
    /// Cairn's extension: sign the body with HMAC-SHA256 into `X-Cairn-Signature`.
    pub signing_secret: Option<Secret>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            send_resolved: true,
            http_config: HttpClientConfig {
                follow_redirects: true,
                ..Default::default()
            },
            url: None,
            url_file: None,
            max_alerts: 0,
            timeout_ms: None,
            signing_secret: None,
        }
    }
}
