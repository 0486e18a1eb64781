//! `telegram_configs`: the Bot API's `sendMessage` as Alertmanager's Telegram client sends
//! it (string-valued JSON fields, link previews off), the message cut to Telegram's 4096
//! characters and rendered with HTML escaping under `parse_mode: HTML`.

use std::collections::BTreeMap;

use super::ReadFile;
use super::go_json::Json;
use super::http::{json_post, secret, truncate_in_runes};
use super::render::Renderer;
use super::templates::Templates;
use crate::notify::integrations::TelegramConfig;
use crate::notify::outgoing::Outgoing;

/// Telegram's limit on a message.
pub const MAX_MESSAGE_RUNES: usize = 4096;

pub fn build(
    c: &TelegramConfig,
    r: &Renderer<'_>,
    templates: &Templates,
    read_file: ReadFile<'_>,
) -> Result<Outgoing, String> {
    let token = secret(&c.bot_token, &c.bot_token_file, read_file, "bot_token")?
        .ok_or_else(|| "bot_token: not set".to_string())?;
    let api = if c.api_url.is_empty() {
        templates.global.telegram_api_url.as_str()
    } else {
        c.api_url.as_str()
    };
    let message = if c.parse_mode == "HTML" {
        r.html("message", &c.message)?
    } else {
        r.text("message", &c.message)?
    };
    let (text, _) = truncate_in_runes(&message, MAX_MESSAGE_RUNES);
    // The client sends a map of strings: keys sorted, flags only when set.
    let mut params = BTreeMap::new();
    params.insert("chat_id".to_string(), c.chat_id.to_string());
    params.insert("text".to_string(), text);
    params.insert("disable_web_page_preview".to_string(), "true".to_string());
    if c.disable_notifications {
        params.insert("disable_notification".to_string(), "true".to_string());
    }
    if !c.parse_mode.is_empty() {
        params.insert("parse_mode".to_string(), c.parse_mode.clone());
    }
    if let Some(thread) = c.message_thread_id.filter(|t| *t != 0) {
        params.insert("message_thread_id".to_string(), thread.to_string());
    }
    let url = format!("{}/bot{}/sendMessage", api.trim_end_matches('/'), token);
    Ok(Outgoing::Http(vec![json_post(
        url,
        Json::string_map(&params).encode(),
        &c.http_config,
        read_file,
    )?]))
}
