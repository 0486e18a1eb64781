//! Alerts posted from outside (`POST /api/v1/alerts/external`): the body decoded into
//! [`NotifyAlert`]s with Alertmanager's defaults, or every problem, each naming the alert's
//! index and the field.
//!
//! ```text
//!  {"version":"4", ..., "alerts":[...]}   Alertmanager's webhook payload (a forwarding
//!                                         Alertmanager or FlexMON); `status` is read
//!  [{"labels":..., "startsAt":...}, ...]  Alertmanager's `POST /api/v2/alerts` body
//!      ─► labels (empty values dropped, at least one left), `source` label added
//!      ─► startsAt: given, else endsAt if given, else now (Alertmanager's postAlertsHandler)
//!      ─► endsAt: given; else now if `status` is resolved; else now + resolve_timeout
//! ```

use std::collections::BTreeMap;

use serde_json::Value;

use super::am_time;
use super::notify_alert::NotifyAlert;
use super::notify_keys::StoredAlert;
use super::silence_set::is_label_name;

/// The label every external alert carries, naming where it came from.
pub const SOURCE_LABEL: &str = "source";
/// Its value when the request names none (`?source=`).
pub const DEFAULT_SOURCE: &str = "external";

/// One bad alert of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertError {
    /// Its index in the body's list of alerts.
    pub index: usize,
    /// `labels`, `startsAt`, `endsAt`, ...
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for AlertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "alert {}: {}: {}", self.index, self.field, self.message)
    }
}

/// Why a request's alerts are refused (nothing of it is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The body is not JSON of either shape.
    Body(String),
    /// Some alerts are invalid: every one, in order.
    Alerts(Vec<AlertError>),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Body(m) => f.write_str(m),
            DecodeError::Alerts(errors) => {
                let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
                f.write_str(&lines.join("; "))
            }
        }
    }
}

/// Decodes `body` (either shape) at `now_ms`; `source` is the `source` label of alerts
/// without one; `resolve_timeout_ms` the configuration's `global.resolve_timeout`.
pub fn decode(
    body: &[u8],
    now_ms: i64,
    resolve_timeout_ms: i64,
    source: &str,
) -> Result<Vec<NotifyAlert>, DecodeError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DecodeError::Body(format!("the body is not JSON: {e}")))?;
    let items = match v {
        Value::Array(items) => items,
        Value::Object(mut o) => match o.remove("alerts") {
            Some(Value::Array(items)) => items,
            Some(_) => return Err(DecodeError::Body("\"alerts\" is not a list".into())),
            None => return Err(DecodeError::Body(shape_error())),
        },
        _ => return Err(DecodeError::Body(shape_error())),
    };
    let mut alerts = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match decode_one(item, now_ms, resolve_timeout_ms, source) {
            Ok(a) => alerts.push(a),
            Err((field, message)) => errors.push(AlertError {
                index,
                field,
                message,
            }),
        }
    }
    if errors.is_empty() {
        Ok(alerts)
    } else {
        Err(DecodeError::Alerts(errors))
    }
}

fn shape_error() -> String {
    "the body is neither Alertmanager's webhook payload (an object with \"alerts\") nor a list of \
     Alertmanager's postable alerts"
        .into()
}

type FieldError = (String, String);

fn decode_one(
    item: &Value,
    now_ms: i64,
    resolve_timeout_ms: i64,
    source: &str,
) -> Result<NotifyAlert, FieldError> {
    let err = |field: &str, message: String| (field.to_string(), message);
    let Value::Object(o) = item else {
        return Err(err("", "an alert must be a JSON object".into()));
    };
    let mut labels = string_map(o.get("labels"), "labels")?;
    // As Alertmanager's removeEmptyLabels: an empty value is no label.
    labels.retain(|_, v| !v.is_empty());
    if labels.is_empty() {
        return Err(err("labels", "at least one label pair required".into()));
    }
    if let Some(bad) = labels.keys().find(|n| !is_label_name(n)) {
        return Err(err(
            "labels",
            format!("invalid label set: invalid name {bad:?}"),
        ));
    }
    let annotations = string_map(o.get("annotations"), "annotations")?;
    let time = |field: &str| -> Result<Option<i64>, FieldError> {
        match o.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => am_time::parse_ms(s).map_err(|e| err(field, e)),
            Some(_) => Err(err(field, "must be an RFC 3339 time string".into())),
        }
    };
    let starts = time("startsAt")?;
    let ends = time("endsAt")?;
    let resolved = match o.get("status") {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) if s == "firing" => false,
        Some(Value::String(s)) if s == "resolved" => true,
        Some(other) => {
            return Err(err(
                "status",
                format!("must be \"firing\" or \"resolved\", not {other}"),
            ));
        }
    };
    let generator_url = match o.get("generatorURL") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(err("generatorURL", "must be a string".into())),
    };
    let starts_at_ms = starts.or(ends).unwrap_or(now_ms);
    let ends_at_ms = match ends {
        Some(e) => e,
        None if resolved => now_ms,
        None => now_ms.saturating_add(resolve_timeout_ms),
    };
    if ends_at_ms < starts_at_ms {
        return Err(err(
            "endsAt",
            format!(
                "start time must be before end time ({} is before startsAt {})",
                am_time::format_ms(ends_at_ms),
                am_time::format_ms(starts_at_ms)
            ),
        ));
    }
    labels
        .entry(SOURCE_LABEL.to_string())
        .or_insert_with(|| source.to_string());
    Ok(NotifyAlert {
        labels,
        annotations,
        starts_at_ms,
        ends_at_ms,
        generator_url,
        updated_at_ms: now_ms,
    })
}

fn string_map(v: Option<&Value>, field: &str) -> Result<BTreeMap<String, String>, FieldError> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err((format!("{field}.{k}"), "must be a string".to_string())),
            })
            .collect(),
        Some(_) => Err((field.to_string(), "must be an object of strings".into())),
    }
}

/// The record to store for `new` when `old` is already stored under its fingerprint: as
/// Alertmanager merges a re-posted alert whose span overlaps the stored one, the earlier
/// start is kept (the alert has been firing since then).
pub fn merge(old: Option<&StoredAlert>, new: &NotifyAlert) -> StoredAlert {
    let mut stored = StoredAlert::from_alert(new);
    if let Some(old) = old
        && old.starts_at_ms <= new.ends_at_ms
        && new.starts_at_ms <= old.ends_at_ms
    {
        stored.starts_at_ms = stored.starts_at_ms.min(old.starts_at_ms);
    }
    stored
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_700_000_000_000;
    const FIVE_MIN: i64 = 300_000;

    fn dec(v: Value) -> Result<Vec<NotifyAlert>, DecodeError> {
        decode(v.to_string().as_bytes(), NOW, FIVE_MIN, DEFAULT_SOURCE)
    }

    #[test]
    fn webhook_payload_firing_and_resolved() {
        let alerts = dec(json!({
            "version": "4", "status": "firing", "receiver": "cairn", "groupKey": "{}:{}",
            "alerts": [
                {"status": "firing", "labels": {"alertname": "Disk", "instance": "a"},
                 "annotations": {"summary": "full"},
                 "startsAt": "2023-11-14T22:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                 "generatorURL": "http://flexmon/graph", "fingerprint": "abc"},
                {"status": "resolved", "labels": {"alertname": "Cpu", "source": "flexmon"},
                 "startsAt": "2023-11-14T21:00:00Z"},
            ],
        }))
        .unwrap();
        assert_eq!(alerts.len(), 2);
        assert_eq!(alerts[0].labels["source"], "external");
        assert_eq!(alerts[0].annotations["summary"], "full");
        assert_eq!(alerts[0].starts_at_ms, 1_699_999_200_000);
        // A firing alert without an end resolves after resolve_timeout unless re-posted.
        assert_eq!(alerts[0].ends_at_ms, NOW + FIVE_MIN);
        assert_eq!(alerts[0].generator_url, "http://flexmon/graph");
        assert_eq!(alerts[0].updated_at_ms, NOW);
        // An alert's own source label stays; a resolved one without an end ends now.
        assert_eq!(alerts[1].labels["source"], "flexmon");
        assert_eq!(alerts[1].ends_at_ms, NOW);
    }

    #[test]
    fn postable_alerts_list_and_the_source_parameter() {
        let body = json!([
            {"labels": {"alertname": "A", "empty": ""}, "endsAt": "2023-11-14T22:20:00Z"},
        ]);
        let alerts = decode(body.to_string().as_bytes(), NOW, FIVE_MIN, "flexmon").unwrap();
        assert_eq!(alerts[0].labels.len(), 2, "empty labels are dropped");
        assert_eq!(alerts[0].labels["source"], "flexmon");
        // No start: the end, as Alertmanager does.
        assert_eq!(alerts[0].starts_at_ms, alerts[0].ends_at_ms);
        let alerts = dec(json!([{"labels": {"alertname": "A"}}])).unwrap();
        assert_eq!(alerts[0].starts_at_ms, NOW);
    }

    #[test]
    fn every_bad_alert_is_named_by_index_and_field() {
        let e = dec(json!([
            {"labels": {"alertname": "ok"}},
            {"labels": {}},
            {"labels": {"a": "b"}, "startsAt": "yesterday"},
            {"labels": {"a": "b"}, "startsAt": "2023-11-14T22:00:00Z", "endsAt": "2023-11-14T21:00:00Z"},
            {"labels": {"1bad": "x"}},
            {"labels": {"a": 1}},
        ]))
        .unwrap_err();
        let DecodeError::Alerts(errors) = e else {
            panic!("{e:?}")
        };
        let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.index, e.field.as_str())).collect();
        assert_eq!(
            got,
            [
                (1, "labels"),
                (2, "startsAt"),
                (3, "endsAt"),
                (4, "labels"),
                (5, "labels.a")
            ]
        );
        assert_eq!(
            errors[0].to_string(),
            "alert 1: labels: at least one label pair required"
        );
    }

    #[test]
    fn other_bodies_are_refused_whole() {
        assert!(
            matches!(dec(json!({"foo": 1})), Err(DecodeError::Body(m)) if m.contains("webhook payload"))
        );
        assert!(matches!(dec(json!("x")), Err(DecodeError::Body(_))));
        assert!(matches!(
            decode(b"{not json", NOW, FIVE_MIN, "x"),
            Err(DecodeError::Body(m)) if m.starts_with("the body is not JSON")
        ));
    }

    #[test]
    fn a_reposted_overlapping_alert_keeps_its_first_start() {
        let first =
            dec(json!([{"labels": {"a": "b"}, "startsAt": "2023-11-14T22:00:00Z"}])).unwrap();
        let old = merge(None, &first[0]);
        let mut again = first[0].clone();
        again.starts_at_ms = NOW;
        assert_eq!(merge(Some(&old), &again).starts_at_ms, old.starts_at_ms);
        // One that resolved before the new one started is a new firing.
        let mut ended = old.clone();
        ended.ends_at_ms = NOW - 1;
        assert_eq!(merge(Some(&ended), &again).starts_at_ms, NOW);
    }
}
