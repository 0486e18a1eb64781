//! Each integration's settings, as Alertmanager names them and with its defaults filled in.
//! Text fields hold template source (`{{ template "slack.default.title" . }}` when unset);
//! `payload` renders them.

pub mod alertmanager_api;
pub mod email;
pub mod msteams;
pub mod msteamsv2;
pub mod slack;
pub mod telegram;
pub mod webhook;
pub mod whatsapp;

pub use alertmanager_api::AlertmanagerApiConfig;
pub use email::EmailConfig;
pub use msteams::MsTeamsConfig;
pub use msteamsv2::MsTeamsV2Config;
pub use slack::{SlackAction, SlackConfig, SlackField};
pub use telegram::TelegramConfig;
pub use webhook::WebhookConfig;
pub use whatsapp::WhatsAppConfig;
