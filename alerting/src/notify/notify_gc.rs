//! Garbage collection of the notification state in the meta group: notification log entries
//! past Alertmanager's retention (`--data.retention`, 120h), and external alerts resolved more
//! than 15 minutes ago (Prometheus keeps resolved alerts as long). Values that do not parse
//! are left alone: they are not this planner's to judge.

use super::nflog::NflogEntry;
use super::notify_keys::StoredAlert;

/// How long a notification log entry is kept after it was written.
pub const NFLOG_RETENTION_MS: i64 = 120 * 3_600_000;
/// How long an external alert is kept after it resolved.
pub const RESOLVED_ALERT_RETENTION_MS: i64 = 15 * 60_000;

/// The keys to delete, given scans of `nflog/` and `extalerts/` (key, JSON value).
pub fn expired_keys(
    nflog: &[(String, String)],
    external_alerts: &[(String, String)],
    now_ms: i64,
) -> Vec<String> {
    let old_entries = nflog.iter().filter(|(_, v)| {
        serde_json::from_str::<NflogEntry>(v)
            .is_ok_and(|e| e.timestamp_ms < now_ms - NFLOG_RETENTION_MS)
    });
    let old_alerts = external_alerts.iter().filter(|(_, v)| {
        serde_json::from_str::<StoredAlert>(v)
            .is_ok_and(|a| a.ends_at_ms < now_ms - RESOLVED_ALERT_RETENTION_MS)
    });
    old_entries
        .chain(old_alerts)
        .map(|(k, _)| k.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn old_entries_and_long_resolved_alerts_go() {
        let now = 1_000 * 3_600_000;
        let entry = |ts: i64| {
            serde_json::to_string(&NflogEntry {
                group_key: "g".into(),
                receiver: "r".into(),
                integration: "webhook".into(),
                idx: 0,
                timestamp_ms: ts,
                firing: vec![],
                resolved: vec![],
            })
            .unwrap()
        };
        let alert = |ends: i64| {
            serde_json::to_string(&StoredAlert {
                labels: BTreeMap::from([("a".to_string(), "b".to_string())]),
                annotations: BTreeMap::new(),
                starts_at_ms: 0,
                ends_at_ms: ends,
                generator_url: String::new(),
                updated_at_ms: 0,
            })
            .unwrap()
        };
        let nflog = vec![
            (
                "nflog/t/old".to_string(),
                entry(now - NFLOG_RETENTION_MS - 1),
            ),
            ("nflog/t/edge".to_string(), entry(now - NFLOG_RETENTION_MS)),
            ("nflog/t/bad".to_string(), "{".to_string()),
        ];
        let ext = vec![
            ("extalerts/t/1".to_string(), alert(now - 16 * 60_000)),
            ("extalerts/t/2".to_string(), alert(now - 14 * 60_000)),
            ("extalerts/t/3".to_string(), alert(now + 60_000)),
        ];
        assert_eq!(
            expired_keys(&nflog, &ext, now),
            ["nflog/t/old", "extalerts/t/1"]
        );
    }
}
