//! `webhook_configs`: Alertmanager's webhook JSON (version 4), alerts cut to `max_alerts`,
//! plus Cairn's `X-Cairn-Notification-Id` and, with `signing_secret`, `X-Cairn-Signature`
//! (`sha256=` and the hex HMAC-SHA256 of the exact body).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::data::{Data, DataAlert};
use super::go_json::Json;
use super::http::{json_post, secret};
use super::{NotificationInput, ReadFile};
use crate::notify::integrations::WebhookConfig;
use crate::notify::notify_alert::NotifyAlert;
use crate::notify::outgoing::Outgoing;

/// Go's `time.RFC3339Nano`, how `encoding/json` writes a `time.Time`.
pub const RFC3339_NANO: &str = "2006-01-02T15:04:05.999999999Z07:00";

pub fn build(
    c: &WebhookConfig,
    input: &NotificationInput,
    alerts: &[NotifyAlert],
    read_file: ReadFile<'_>,
) -> Result<Outgoing, String> {
    let url = secret(&c.url, &c.url_file, read_file, "url")?
        .ok_or_else(|| "url: neither url nor url_file is set".to_string())?;
    let body = body(c, input, alerts);
    let mut req = json_post(url, body, &c.http_config, read_file)?;
    req.timeout_ms = c.timeout_ms;
    req.headers.push((
        "X-Cairn-Notification-Id".to_string(),
        input.notification_id.clone(),
    ));
    if let Some(key) = &c.signing_secret {
        req.headers.push((
            "X-Cairn-Signature".to_string(),
            signature(&key.0, &req.body),
        ));
    }
    Ok(Outgoing::Http(vec![req]))
}

/// The webhook's body: `Data`'s fields, then `version`, `groupKey`, `truncatedAlerts`, as
/// Go encodes Alertmanager's `Message` (the embedded `*Data` first).
pub fn body(c: &WebhookConfig, input: &NotificationInput, alerts: &[NotifyAlert]) -> Vec<u8> {
    let max = c.max_alerts as usize;
    let (kept, truncated) = if max != 0 && alerts.len() > max {
        (&alerts[..max], alerts.len() - max)
    } else {
        (alerts, 0)
    };
    let data = Data::new(
        &input.receiver,
        &input.group_labels,
        kept,
        &input.external_url,
        input.now_ms,
    );
    let mut fields = data_json(&data);
    fields.push(("version".to_string(), Json::str("4")));
    fields.push(("groupKey".to_string(), Json::str(&input.group_key)));
    fields.push(("truncatedAlerts".to_string(), Json::Int(truncated as i64)));
    Json::Obj(fields).encode()
}

/// `template.Data`'s JSON fields.
pub fn data_json(d: &Data) -> Vec<(String, Json)> {
    let alerts = d.alerts.iter().map(alert_json).collect();
    vec![
        ("receiver".to_string(), Json::str(&d.receiver)),
        ("status".to_string(), Json::str(d.status)),
        ("alerts".to_string(), Json::Arr(alerts)),
        ("groupLabels".to_string(), Json::string_map(&d.group_labels)),
        (
            "commonLabels".to_string(),
            Json::string_map(&d.common_labels),
        ),
        (
            "commonAnnotations".to_string(),
            Json::string_map(&d.common_annotations),
        ),
        ("externalURL".to_string(), Json::str(&d.external_url)),
    ]
}

fn alert_json(a: &DataAlert) -> Json {
    Json::obj(vec![
        ("status", Json::str(a.status)),
        ("labels", Json::string_map(&a.labels)),
        ("annotations", Json::string_map(&a.annotations)),
        ("startsAt", Json::Str(a.starts_at.format(RFC3339_NANO))),
        ("endsAt", Json::Str(a.ends_at.format(RFC3339_NANO))),
        ("generatorURL", Json::str(&a.generator_url)),
        ("fingerprint", Json::str(&a.fingerprint)),
    ])
}

/// `sha256=<hex HMAC-SHA256(key, body)>`.
pub fn signature(key: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length; new_from_slice cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}
