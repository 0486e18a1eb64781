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
