//! Forgetting old silences: Alertmanager keeps an expired silence for its retention (120h by
//! default) after it ended, then drops it (`Silences.GC`). A pure planner; the node's
//! notification driver runs it on the meta leader and deletes what it returns.

use super::notify_keys::StoredSilence;

/// How long an ended silence is kept (Alertmanager's `--data.retention` default).
pub const SILENCE_RETENTION_MS: i64 = 120 * 3_600_000;

/// The keys (of `(key, silence)` pairs as scanned from the meta KV) of the silences that ended
/// at least [`SILENCE_RETENTION_MS`] before `now_ms`.
pub fn silence_gc(silences: &[(String, StoredSilence)], now_ms: i64) -> Vec<String> {
    silences
        .iter()
        .filter(|(_, s)| s.ends_at_ms.saturating_add(SILENCE_RETENTION_MS) <= now_ms)
        .map(|(k, _)| k.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_silences_ended_more_than_the_retention_ago() {
        let now = 1_000_000_000_000;
        let s = |id: &str, ends: i64| {
            (
                format!("silences/t/{id}"),
                StoredSilence {
                    id: id.into(),
                    matchers: Vec::new(),
                    starts_at_ms: 0,
                    ends_at_ms: ends,
                    updated_at_ms: 0,
                    created_by: String::new(),
                    comment: String::new(),
                },
            )
        };
        let all = [
            s("old", now - SILENCE_RETENTION_MS - 1),
            s("edge", now - SILENCE_RETENTION_MS),
            s("recent", now - SILENCE_RETENTION_MS + 1),
            s("active", now + 1),
        ];
        assert_eq!(silence_gc(&all, now), ["silences/t/old", "silences/t/edge"]);
    }
}
