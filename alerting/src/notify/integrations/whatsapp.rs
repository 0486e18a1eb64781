//! `whatsapp_configs` (Cairn's extension): a text message through the WhatsApp Cloud API
//! (`POST {api_url}/{phone_number_id}/messages`, bearer token) to each recipient.

use crate::notify::config::{HttpClientConfig, Secret};

#[derive(Debug, Clone, PartialEq)]
pub struct WhatsAppConfig {
    /// Default true.
    pub send_resolved: bool,
    pub http_config: HttpClientConfig,
    /// Or `global.whatsapp_api_url`.
    pub api_url: String,
    pub phone_number_id: String,
    pub token: Option<Secret>,
    pub token_file: Option<String>,
    /// Recipients' phone numbers in international form.
    pub to: Vec<String>,
    /// Template source; default `{{ template "whatsapp.default.message" . }}`.
    pub message: String,
}

impl Default for WhatsAppConfig {
    fn default() -> Self {
        WhatsAppConfig {
            send_resolved: true,
            http_config: HttpClientConfig {
                follow_redirects: true,
                ..Default::default()
            },
            api_url: "https://graph.facebook.com/v21.0".to_string(),
            phone_number_id: String::new(),
            token: None,
            token_file: None,
            to: Vec::new(),
            message: "{{ template \"whatsapp.default.message\" . }}".to_string(),
        }
    }
}
