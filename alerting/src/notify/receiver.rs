//! A receiver: a name and the integrations a notification for it goes to.

use super::integrations::{
    AlertmanagerApiConfig, EmailConfig, MsTeamsConfig, MsTeamsV2Config, SlackConfig,
    TelegramConfig, WebhookConfig, WhatsAppConfig,
};

#[derive(Debug, Clone, PartialEq)]
pub struct Receiver {
    pub name: String,
    /// In file order: all `webhook_configs`, then `email_configs`, ... as Alertmanager orders
    /// them; an integration's index counts within its kind.
    pub integrations: Vec<Integration>,
}

// Built once per configuration: boxing the larger configs would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Integration {
    Webhook(WebhookConfig),
    Email(EmailConfig),
    Slack(SlackConfig),
    MsTeams(MsTeamsConfig),
    MsTeamsV2(MsTeamsV2Config),
    Telegram(TelegramConfig),
    WhatsApp(WhatsAppConfig),
    /// Cairn's extension: forward the alerts to an Alertmanager's `POST /api/v2/alerts`.
    Alertmanager(AlertmanagerApiConfig),
}

impl Integration {
    /// The integration's name as Alertmanager names it in its notification log and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Integration::Webhook(_) => "webhook",
            Integration::Email(_) => "email",
            Integration::Slack(_) => "slack",
            Integration::MsTeams(_) => "msteams",
            Integration::MsTeamsV2(_) => "msteamsv2",
            Integration::Telegram(_) => "telegram",
            Integration::WhatsApp(_) => "whatsapp",
            Integration::Alertmanager(_) => "alertmanager",
        }
    }

    pub fn send_resolved(&self) -> bool {
        match self {
            Integration::Webhook(c) => c.send_resolved,
            Integration::Email(c) => c.send_resolved,
            Integration::Slack(c) => c.send_resolved,
            Integration::MsTeams(c) => c.send_resolved,
            Integration::MsTeamsV2(c) => c.send_resolved,
            Integration::Telegram(c) => c.send_resolved,
            Integration::WhatsApp(c) => c.send_resolved,
            Integration::Alertmanager(c) => c.send_resolved,
        }
    }
}
