//! `msteams_configs` (Alertmanager 0.26): the legacy Office 365 connector's MessageCard.

use crate::notify::config::{HttpClientConfig, Secret};

#[derive(Debug, Clone, PartialEq)]
pub struct MsTeamsConfig {
    /// Default true.
    pub send_resolved: bool,
    pub http_config: HttpClientConfig,
    pub webhook_url: Option<Secret>,
    pub webhook_url_file: Option<String>,
    // Template sources, with Alertmanager's defaults.
    pub title: String,
    pub summary: String,
    pub text: String,
}

/// Alertmanager's defaults.
impl Default for MsTeamsConfig {
    fn default() -> Self {
        MsTeamsConfig {
            send_resolved: true,
            http_config: HttpClientConfig {
                follow_redirects: true,
                ..Default::default()
            },
            webhook_url: None,
            webhook_url_file: None,
            title: "{{ template \"msteams.default.title\" . }}".to_string(),
            summary: "{{ template \"msteams.default.summary\" . }}".to_string(),
            text: "{{ template \"msteams.default.text\" . }}".to_string(),
        }
    }
}
