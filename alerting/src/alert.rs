//! An alert instance: one label set of one alerting rule, with the state Prometheus keeps for
//! it (`rules.Alert`). This is what the meta group stores per alert, so a new leader resumes
//! with the same `for` timers, firing times and `keep_firing_for` clocks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Prometheus' alert states. `Inactive` alerts are resolved ones kept for reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    /// The name Prometheus uses in `ALERTS{alertstate}` and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert instance. Times are ms since the epoch; `None` is Go's zero time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The alert's identifying labels (result labels without `__name__`, plus the rule's
    /// expanded labels and `alertname`).
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub state: AlertState,
    /// When the alert first became pending (`activeAt`).
    pub active_at_ms: i64,
    pub fired_at_ms: Option<i64>,
    pub resolved_at_ms: Option<i64>,
    /// When the expression stopped returning the alert while `keep_firing_for` holds it.
    pub keep_firing_since_ms: Option<i64>,
    /// The value of the result sample at the last evaluation that returned it.
    pub value: f64,
}

/// The alert's fingerprint: a hash of its label set, stable across nodes and versions
/// (xxh64 of `name\xffvalue\xff...`, as Prometheus hashes label sets).
pub fn fingerprint(labels: &BTreeMap<String, String>) -> u64 {
    let mut buf = Vec::with_capacity(128);
    for (n, v) in labels {
        buf.extend_from_slice(n.as_bytes());
        buf.push(0xff);
        buf.extend_from_slice(v.as_bytes());
        buf.push(0xff);
    }
    xxhash_rust::xxh64::xxh64(&buf, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_depends_on_every_label() {
        let a = BTreeMap::from([("a".to_string(), "1".to_string())]);
        let b = BTreeMap::from([("a".to_string(), "2".to_string())]);
        let c = BTreeMap::from([("a1".to_string(), "".to_string())]);
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
        assert_eq!(fingerprint(&a), fingerprint(&a.clone()));
    }
}
