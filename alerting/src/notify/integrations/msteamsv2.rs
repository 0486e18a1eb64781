//! `msteamsv2_configs` (Alertmanager 0.28): an Adaptive Card to a Power Automate workflow
//! webhook.

use crate::notify::config::{HttpClientConfig, Secret};

#[derive(Debug, Clone, PartialEq)]
pub struct MsTeamsV2Config {
    /// Default true.
    pub send_resolved: bool,
    pub http_config: HttpClientConfig,
    pub webhook_url: Option<Secret>,
    pub webhook_url_file: Option<String>,
    // Template sources, with Alertmanager's defaults.
    pub title: String,
    pub text: String,
}

/// Alertmanager's defaults.
impl Default for MsTeamsV2Config {
    fn default() -> Self {
        MsTeamsV2Config {
            send_resolved: true,
            http_config: HttpClientConfig {
                follow_redirects: true,
                ..Default::default()
            },
            webhook_url: None,
            webhook_url_file: None,
            title: "{{ template \"msteamsv2.default.title\" . }}".to_string(),
            text: "{{ template \"msteamsv2.default.text\" . }}".to_string(),
        }
    }
}
