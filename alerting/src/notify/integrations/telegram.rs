//! `telegram_configs`: the Bot API's `sendMessage`.

use crate::notify::config::{HttpClientConfig, Secret};

#[derive(Debug, Clone, PartialEq)]
pub struct TelegramConfig {
    /// Default true.
    pub send_resolved: bool,
    pub http_config: HttpClientConfig,
    /// Or `global.telegram_api_url`.
    pub api_url: String,
    pub bot_token: Option<Secret>,
    pub bot_token_file: Option<String>,
    pub chat_id: i64,
    pub message_thread_id: Option<i64>,
    /// Template source; default `{{ template "telegram.default.message" . }}`.
    pub message: String,
    pub disable_notifications: bool,
    /// Default `HTML`; `Markdown`, `MarkdownV2` or empty.
    pub parse_mode: String,
}

/// Alertmanager's defaults.
impl Default for TelegramConfig {
    fn default() -> Self {
        TelegramConfig {
            send_resolved: true,
            http_config: HttpClientConfig {
                follow_redirects: true,
                ..Default::default()
            },
            api_url: "https://api.telegram.org".to_string(),
            bot_token: None,
            bot_token_file: None,
            chat_id: 0,
            message_thread_id: None,
            message: "{{ template \"telegram.default.message\" . }}".to_string(),
            disable_notifications: false,
            parse_mode: "HTML".to_string(),
        }
    }
}
