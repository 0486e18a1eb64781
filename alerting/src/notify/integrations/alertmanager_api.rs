//! `alertmanager_configs` (Cairn's extension): forward the group's alerts to an existing
//! Alertmanager's `POST /api/v2/alerts`, so it keeps working beside Cairn. It is not
//! deduplicated against the notification log: Alertmanager deduplicates itself, and it needs
//! firing alerts re-sent before their `endsAt` passes.

use crate::notify::config::HttpClientConfig;

#[derive(Debug, Clone, PartialEq)]
pub struct AlertmanagerApiConfig {
    /// Default true.
    pub send_resolved: bool,
    pub http_config: HttpClientConfig,
    /// The Alertmanager's base URL (`http://am:9093`); `/api/v2/alerts` is appended.
    pub url: String,
    /// Per request; default 10s.
    pub timeout_ms: i64,
}

impl Default for AlertmanagerApiConfig {
    fn default() -> Self {
        AlertmanagerApiConfig {
            send_resolved: true,
            http_config: HttpClientConfig {
                follow_redirects: true,
                ..Default::default()
            },
            url: String::new(),
            timeout_ms: 10_000,
        }
    }
}
