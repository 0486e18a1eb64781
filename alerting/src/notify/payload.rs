//! What each integration sends for one notification: the template data Alertmanager gives
//! its templates (`Data`), rendered through the tenant's templates and Cairn's defaults
//! (Alertmanager's names, the same messages), into an [`Outgoing`] request or e-mail, as
//! Alertmanager's notifiers build them.
//!
//! ```text
//!  NotificationInput ─► (resolved alerts dropped unless send_resolved) ─► Data ─► Value
//!      ─► Renderer (Templates + Alertmanager's functions; HTML-escaping for HTML bodies)
//!      ─► webhook | slack | msteams | msteamsv2 | telegram | whatsapp | email | alertmanager
//!      ─► Outgoing
//! ```

use std::collections::BTreeMap;

use super::notify_alert::NotifyAlert;
use super::outgoing::Outgoing;
use super::receiver::Integration;

mod alertmanager_api;
pub mod data;
mod email;
pub mod functions;
pub mod go_json;
mod http;
mod msteams;
mod msteamsv2;
mod render;
mod slack;
mod telegram;
pub mod templates;
mod webhook;
mod whatsapp;

pub use data::Data;
pub use http::truncate_in_runes;
pub use templates::{DEFAULT_TEMPLATES, Templates};

use render::Renderer;

/// One notification for one integration: a group's alerts at one flush.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationInput {
    pub receiver: String,
    /// Alertmanager's group key.
    pub group_key: String,
    pub group_labels: BTreeMap<String, String>,
    /// Firing and resolved alerts of the group, in Alertmanager's order.
    pub alerts: Vec<NotifyAlert>,
    pub now_ms: i64,
    /// The tenant's `external_url` (`[rules] external_url`), for `.ExternalURL`.
    pub external_url: String,
    /// Stable across a failover that resends the same notification
    /// (`X-Cairn-Notification-Id`).
    pub notification_id: String,
    /// The `endsAt` the Alertmanager forwarder gives a firing alert: now plus 4 × the
    /// route's `group_interval`, so the receiving Alertmanager keeps it firing until the
    /// next resend and resolves it by itself if Cairn stops sending.
    pub resend_ends_at_ms: i64,
}

/// Reads a `*_file` secret (the node reads the file; tests give a map).
pub type ReadFile<'a> = &'a dyn Fn(&str) -> Result<String, String>;

/// The request(s) or e-mail for `integration`. Resolved alerts are left out when the
/// integration does not send them (Alertmanager's retry stage); when no alert remains the
/// answer is `Outgoing::Http(vec![])`: nothing to send. Errors name the integration and the
/// field (`slack: title: template: ...`).
pub fn build(
    integration: &Integration,
    input: &NotificationInput,
    templates: &Templates,
    read_file: ReadFile<'_>,
) -> Result<Outgoing, String> {
    let kind = integration.kind();
    let alerts: Vec<NotifyAlert> = if integration.send_resolved() {
        input.alerts.clone()
    } else {
        input
            .alerts
            .iter()
            .filter(|a| !a.resolved_at(input.now_ms))
            .cloned()
            .collect()
    };
    if alerts.is_empty() {
        return Ok(Outgoing::Http(Vec::new()));
    }
    let err = |e: String| format!("{kind}: {e}");
    match integration {
        Integration::Webhook(c) => webhook::build(c, input, &alerts, read_file).map_err(err),
        Integration::Alertmanager(c) => {
            alertmanager_api::build(c, input, &alerts, read_file).map_err(err)
        }
        _ => {
            let data = Data::new(
                &input.receiver,
                &input.group_labels,
                &alerts,
                &input.external_url,
                input.now_ms,
            );
            let r = Renderer::new(templates, &data, input.now_ms);
            match integration {
                Integration::Slack(c) => slack::build(c, &r, templates, read_file),
                Integration::MsTeams(c) => msteams::build(c, &r, read_file),
                Integration::MsTeamsV2(c) => msteamsv2::build(c, &r, read_file),
                Integration::Telegram(c) => telegram::build(c, &r, templates, read_file),
                Integration::WhatsApp(c) => whatsapp::build(c, &r, templates, read_file),
                Integration::Email(c) => email::build(c, &r, templates, read_file),
                Integration::Webhook(_) | Integration::Alertmanager(_) => unreachable!(),
            }
            .map_err(err)
        }
    }
}

#[cfg(test)]
#[path = "payload/payload_test.rs"]
mod payload_test;
