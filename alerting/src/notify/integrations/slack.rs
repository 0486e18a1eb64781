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

/// Alertmanager's defaults.
impl Default for SlackConfig {
    fn default() -> Self {
        SlackConfig {
            send_resolved: false,
            http_config: HttpClientConfig {
                follow_redirects: true,
                ..Default::default()
            },
            api_url: None,
            api_url_file: None,
            channel: String::new(),
            username: "{{ template \"slack.default.username\" . }}".to_string(),
            color: r#"{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}"#.to_string(),
            title: "{{ template \"slack.default.title\" . }}".to_string(),
            title_link: "{{ template \"slack.default.titlelink\" . }}".to_string(),
            pretext: "{{ template \"slack.default.pretext\" . }}".to_string(),
            text: "{{ template \"slack.default.text\" . }}".to_string(),
            fields: Vec::new(),
            short_fields: false,
            footer: "{{ template \"slack.default.footer\" . }}".to_string(),
            fallback: "{{ template \"slack.default.fallback\" . }}".to_string(),
            callback_id: "{{ template \"slack.default.callbackid\" . }}".to_string(),
            icon_emoji: "{{ template \"slack.default.iconemoji\" . }}".to_string(),
            icon_url: "{{ template \"slack.default.iconurl\" . }}".to_string(),
            image_url: String::new(),
            thumb_url: String::new(),
            link_names: false,
            mrkdwn_in: Vec::new(),
            actions: Vec::new(),
        }
    }
}
