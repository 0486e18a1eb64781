//! `NotificationLog`: the notification log as the dispatch planner reads it, an index of
//! [`NflogEntry`]s by (receiver, integration kind, index, group key), Alertmanager's
//! `nflog.Log` query. The driver fills it from the meta group's `nflog/{tenant}/` keys (and
//! the entries it has proposed but not yet read back).

use std::collections::BTreeMap;

use super::nflog::NflogEntry;

/// (receiver, integration kind, index within the kind, group key).
type EntryKey = (String, String, u32, String);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotificationLog {
    entries: BTreeMap<EntryKey, NflogEntry>,
    /// (receiver, group key) → the newest timestamp of any of the receiver's integrations.
    last: BTreeMap<(String, String), i64>,
}

impl NotificationLog {
    pub fn new(entries: impl IntoIterator<Item = NflogEntry>) -> NotificationLog {
        let mut log = NotificationLog::default();
        for e in entries {
            log.insert(e);
        }
        log
    }

    /// Adds an entry; an older one never replaces a newer one for the same key.
    pub fn insert(&mut self, e: NflogEntry) {
        let key = (
            e.receiver.clone(),
            e.integration.clone(),
            e.idx,
            e.group_key.clone(),
        );
        if self
            .entries
            .get(&key)
            .is_some_and(|old| old.timestamp_ms > e.timestamp_ms)
        {
            return;
        }
        let last = self
            .last
            .entry((e.receiver.clone(), e.group_key.clone()))
            .or_insert(e.timestamp_ms);
        *last = (*last).max(e.timestamp_ms);
        self.entries.insert(key, e);
    }

    pub fn get(
        &self,
        receiver: &str,
        integration: &str,
        idx: u32,
        group_key: &str,
    ) -> Option<&NflogEntry> {
        self.entries.get(&(
            receiver.to_string(),
            integration.to_string(),
            idx,
            group_key.to_string(),
        ))
    }

    /// When any integration of `receiver` was last notified for the group.
    pub fn last_notified(&self, receiver: &str, group_key: &str) -> Option<i64> {
        self.last
            .get(&(receiver.to_string(), group_key.to_string()))
            .copied()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(integration: &str, idx: u32, ts: i64) -> NflogEntry {
        NflogEntry {
            group_key: "{}:{}".into(),
            receiver: "team".into(),
            integration: integration.into(),
            idx,
            timestamp_ms: ts,
            firing: vec![1],
            resolved: vec![],
        }
    }

    #[test]
    fn newest_entry_wins_and_last_notified_spans_integrations() {
        let log = NotificationLog::new([
            entry("webhook", 0, 200),
            entry("webhook", 0, 100),
            entry("email", 0, 300),
        ]);
        assert_eq!(log.len(), 2);
        assert_eq!(
            log.get("team", "webhook", 0, "{}:{}").unwrap().timestamp_ms,
            200
        );
        assert!(log.get("team", "webhook", 1, "{}:{}").is_none());
        assert_eq!(log.last_notified("team", "{}:{}"), Some(300));
        assert_eq!(log.last_notified("other", "{}:{}"), None);
    }
}
