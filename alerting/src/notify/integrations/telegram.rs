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
