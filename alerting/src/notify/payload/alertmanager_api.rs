//! `alertmanager_configs` (Cairn's forwarder): the group's alerts as Alertmanager's
//! postable alerts to `POST {url}/api/v2/alerts`. A firing alert's `endsAt` is the input's
//! `resend_ends_at_ms` (now + 4 × group_interval), so the receiving Alertmanager resolves
//! it by itself if Cairn stops resending; a resolved alert carries its own end.

use super::go_json::Json;
use super::http::json_post;
use super::webhook::RFC3339_NANO;
use super::{NotificationInput, ReadFile};
use crate::notify::integrations::AlertmanagerApiConfig;
use crate::notify::notify_alert::NotifyAlert;
use crate::notify::outgoing::Outgoing;
use crate::template::GoTime;

pub fn build(
    c: &AlertmanagerApiConfig,
    input: &NotificationInput,
    alerts: &[NotifyAlert],
    read_file: ReadFile<'_>,
) -> Result<Outgoing, String> {
    if c.url.is_empty() {
        return Err("url: not set".to_string());
    }
    let time = |ms: i64| Json::Str(GoTime::from_unix_millis(ms).format(RFC3339_NANO));
    let list = alerts
        .iter()
        .map(|a| {
            let ends = if a.resolved_at(input.now_ms) {
                a.ends_at_ms
            } else {
                input.resend_ends_at_ms
            };
            Json::obj(vec![
                ("labels", Json::string_map(&a.labels)),
                ("annotations", Json::string_map(&a.annotations)),
                ("startsAt", time(a.starts_at_ms)),
                ("endsAt", time(ends)),
                ("generatorURL", Json::str(&a.generator_url)),
            ])
        })
        .collect();
    let url = format!("{}/api/v2/alerts", c.url.trim_end_matches('/'));
    let mut req = json_post(url, Json::Arr(list).encode(), &c.http_config, read_file)?;
    req.headers.push((
        "X-Cairn-Notification-Id".to_string(),
        input.notification_id.clone(),
    ));
    req.timeout_ms = Some(c.timeout_ms);
    Ok(Outgoing::Http(vec![req]))
}
