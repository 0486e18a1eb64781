//! `slack_configs`: an incoming webhook, or `chat.postMessage` when `api_url` is that
//! method's URL and `http_config.authorization` carries the bot token.

use crate::notify::config::{HttpClientConfig, Secret};

#[derive(Debug, Clone, PartialEq)]
pub struct SlackConfig {
    /// Default false.
    pub send_resolved: bool,
    pub http_config: HttpClientConfig,
    /// Or `global.slack_api_url`.
    pub api_url: Option<Secret>,
    pub api_url_file: Option<String>,
    // Template sources, with Alertmanager's defaults.
    pub channel: String,
    pub username: String,
    pub color: String,
    pub title: String,
    pub title_link: String,
    pub pretext: String,
    pub text: String,
    pub fields: Vec<SlackField>,
    pub short_fields: bool,
    pub footer: String,
    pub fallback: String,
    pub callback_id: String,
    pub icon_emoji: String,
    pub icon_url: String,
    pub image_url: String,
    pub thumb_url: String,
    pub link_names: bool,
    pub mrkdwn_in: Vec<String>,
    pub actions: Vec<SlackAction>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SlackField {
    pub title: String,
    pub value: String,
    pub short: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SlackAction {
    pub kind: String,
    pub text: String,
    pub url: String,
    pub style: String,
    pub name: String,
    pub value: String,
}
