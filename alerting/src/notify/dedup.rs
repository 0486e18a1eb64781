//! Deduplication against the notification log (Alertmanager's `DedupStage`): whether an
//! integration must be notified about a group's alerts, given what it was last sent, and the
//! notification id that makes a resend after a failover recognisable.

use std::collections::BTreeSet;

use super::nflog::NflogEntry;

/// Alertmanager's `needsUpdate`. `firing` and `resolved` are the group's alert fingerprints
/// after the mute stages; `entry` is what this integration was last sent for the group.
pub fn needs_update(
    entry: Option<&NflogEntry>,
    firing: &BTreeSet<u64>,
    resolved: &BTreeSet<u64>,
    send_resolved: bool,
    repeat_interval_ms: i64,
    now_ms: i64,
) -> bool {
    let Some(entry) = entry else {
        // Never notified: only firing alerts are news.
        return !firing.is_empty();
    };
    // A firing alert the receiver has not heard of.
    if !firing.iter().all(|fp| entry.firing.contains(fp)) {
        return true;
    }
    if firing.is_empty() {
        // Why: everything resolved. Alertmanager notifies (send_resolved or not, so the log's
        // firing set is cleared) unless the receiver was never told anything was firing: alerts
        // that fired and resolved between two flushes are no news.
        return !entry.firing.is_empty();
    }
    if send_resolved && !resolved.iter().all(|fp| entry.resolved.contains(fp)) {
        return true;
    }
    // Nothing changed: repeat once the repeat interval has passed.
    entry.timestamp_ms < now_ms - repeat_interval_ms
}

/// What identifies one notification for `X-Cairn-Notification-Id`.
pub struct NotificationIdParts<'a> {
    pub tenant: &'a str,
    pub receiver: &'a str,
    pub integration: &'a str,
    pub idx: u32,
    pub group_key: &'a str,
    /// The timestamp of the log entry the notification follows (0: none).
    pub previous_ms: i64,
    pub firing: &'a BTreeSet<u64>,
    pub resolved: &'a BTreeSet<u64>,
}

/// A stable id (32 hex digits) for a notification. Everything that makes it differ from the
/// previous one goes in, nothing clock- or leader-dependent: a new meta leader that resends a
/// notification the old one delivered but did not log (it died between the receiver's
/// accept and the commit) computes the same id, so receivers can drop the duplicate.
pub fn notification_id(p: &NotificationIdParts<'_>) -> String {
    let mut buf = Vec::with_capacity(128 + 8 * (p.firing.len() + p.resolved.len()));
    for s in [p.tenant, p.receiver, p.integration, p.group_key] {
        // Length-prefixed, so no two field splits give the same bytes.
        buf.extend_from_slice(&(s.len() as u64).to_le_bytes());
        buf.extend_from_slice(s.as_bytes());
    }
    buf.extend_from_slice(&p.idx.to_le_bytes());
    buf.extend_from_slice(&p.previous_ms.to_le_bytes());
    for set in [p.firing, p.resolved] {
        buf.extend_from_slice(&(set.len() as u64).to_le_bytes());
        for fp in set {
            buf.extend_from_slice(&fp.to_le_bytes());
        }
    }
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;

    fn set(fps: &[u64]) -> BTreeSet<u64> {
        fps.iter().copied().collect()
    }

    fn entry(firing: &[u64], resolved: &[u64], ts: i64) -> NflogEntry {
        NflogEntry {
            group_key: "g".into(),
            receiver: "r".into(),
            integration: "webhook".into(),
            idx: 0,
            timestamp_ms: ts,
            firing: firing.to_vec(),
            resolved: resolved.to_vec(),
        }
    }

    // The cases Alertmanager's TestDedupStageNeedsUpdate covers.
    #[test]
    fn needs_update_follows_alertmanager() {
        let now = 10 * HOUR;
        let rep = 4 * HOUR;
        let nu = |e: Option<&NflogEntry>, f: &[u64], r: &[u64], sr: bool| {
            needs_update(e, &set(f), &set(r), sr, rep, now)
        };
        // No previous notification: notify firing alerts only.
        assert!(nu(None, &[2, 3, 4], &[], false));
        assert!(!nu(None, &[], &[2, 3, 4], true));
        // A new firing alert.
        assert!(nu(
            Some(&entry(&[1, 2, 3], &[], now)),
            &[2, 3, 4],
            &[],
            false
        ));
        // Same firing alerts, recent: no.
        let e = entry(&[1, 2, 3], &[], now - MIN);
        assert!(!nu(Some(&e), &[1, 2, 3], &[], false));
        // A firing subset (one resolved) without send_resolved: no.
        assert!(!nu(Some(&e), &[1, 2], &[3], false));
        // ... with send_resolved: yes.
        assert!(nu(Some(&e), &[1, 2], &[3], true));
        // Repeat interval passed: yes.
        let old = entry(&[1, 2, 3], &[], now - rep - 1);
        assert!(nu(Some(&old), &[1, 2, 3], &[], false));
        // Exactly the repeat interval ago: not yet (Alertmanager's `Before`).
        let edge = entry(&[1, 2, 3], &[], now - rep);
        assert!(!nu(Some(&edge), &[1, 2, 3], &[], false));
        // All resolved: notify whatever send_resolved says, to clear the log's firing set.
        assert!(nu(Some(&e), &[], &[1, 2, 3], false));
        assert!(nu(Some(&e), &[], &[1, 2, 3], true));
        // All resolved, and the last notification had nothing firing: no.
        let cleared = entry(&[], &[1, 2, 3], now - rep - 1);
        assert!(!nu(Some(&cleared), &[], &[1, 2, 3], true));
        // Resolved alerts already sent: only the repeat interval.
        let sent = entry(&[1, 2], &[3], now - MIN);
        assert!(!nu(Some(&sent), &[1, 2], &[3], true));
        // A firing alert after the group was all resolved.
        assert!(nu(Some(&cleared), &[4], &[], false));
    }

    #[test]
    fn notification_id_is_stable_and_distinguishes_its_parts() {
        let (f, r) = (set(&[1, 2]), set(&[3]));
        let parts = NotificationIdParts {
            tenant: "acme",
            receiver: "team",
            integration: "webhook",
            idx: 0,
            group_key: "{}:{}",
            previous_ms: 0,
            firing: &f,
            resolved: &r,
        };
        let id = notification_id(&parts);
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(id, notification_id(&parts));
        let f2 = set(&[1]);
        let r2 = set(&[2, 3]);
        let variants = [
            NotificationIdParts {
                tenant: "other",
                ..parts
            },
            NotificationIdParts {
                receiver: "x",
                ..parts
            },
            NotificationIdParts {
                integration: "email",
                ..parts
            },
            NotificationIdParts { idx: 1, ..parts },
            NotificationIdParts {
                group_key: "{}:{a=\"b\"}",
                ..parts
            },
            NotificationIdParts {
                previous_ms: 5,
                ..parts
            },
            NotificationIdParts {
                firing: &f2,
                resolved: &r2,
                ..parts
            },
        ];
        for v in &variants {
            assert_ne!(notification_id(v), id);
        }
    }
}
