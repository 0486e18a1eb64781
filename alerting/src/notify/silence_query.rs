//! `GET /api/v2/silences`: which silences a `filter=` list selects and in what order, as
//! Alertmanager's API answers (`CheckSilenceMatchesFilterLabels`, `SortSilences`).
//!
//! A filter matcher selects the silences that have a matcher with the same name, operator
//! and value (it does not match the silence against labels). The order: active silences by
//! end (next to expire first), then pending by start, then expired by end (latest first).

use std::cmp::Ordering;

use super::gettable_silence::{GettableSilence, state_of};
use super::matcher::Matcher;
use super::notify_keys::StoredSilence;
use super::silence::SilenceState;

/// The silences `filter` selects, as the API shows them at `now_ms`, in Alertmanager's order.
pub fn query(silences: &[StoredSilence], filter: &[Matcher], now_ms: i64) -> Vec<GettableSilence> {
    let mut selected: Vec<&StoredSilence> = silences
        .iter()
        .filter(|s| {
            filter.iter().all(|f| {
                s.matchers
                    .iter()
                    .any(|m| m.name == f.name && m.op == f.op.as_str() && m.value == f.value)
            })
        })
        .collect();
    selected.sort_by(|a, b| order(a, b, now_ms));
    selected
        .into_iter()
        .map(|s| GettableSilence::from_stored(s, now_ms))
        .collect()
}

fn order(a: &StoredSilence, b: &StoredSilence, now_ms: i64) -> Ordering {
    let rank = |s: SilenceState| match s {
        SilenceState::Active => 1,
        SilenceState::Pending => 2,
        SilenceState::Expired => 3,
    };
    let (sa, sb) = (state_of(a, now_ms), state_of(b, now_ms));
    rank(sa)
        .cmp(&rank(sb))
        .then_with(|| match sa {
            SilenceState::Active => a.ends_at_ms.cmp(&b.ends_at_ms),
            SilenceState::Pending => a.starts_at_ms.cmp(&b.starts_at_ms),
            SilenceState::Expired => b.ends_at_ms.cmp(&a.ends_at_ms),
        })
        // Ties in a stable, repeatable order.
        .then_with(|| a.id.cmp(&b.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::notify_keys::StoredMatcher;

    const NOW: i64 = 1_700_000_000_000;

    fn silence(id: &str, starts: i64, ends: i64, matchers: &[(&str, &str, &str)]) -> StoredSilence {
        StoredSilence {
            id: id.into(),
            matchers: matchers
                .iter()
                .map(|(n, o, v)| StoredMatcher {
                    name: n.to_string(),
                    op: o.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            starts_at_ms: starts,
            ends_at_ms: ends,
            updated_at_ms: starts,
            created_by: "ops".into(),
            comment: String::new(),
        }
    }

    #[test]
    fn orders_active_by_end_then_pending_by_start_then_expired_latest_first() {
        let foo = [("alertname", "=", "Foo")];
        let all = vec![
            silence("exp-old", NOW - 9, NOW - 5, &foo),
            silence("pend-late", NOW + 20, NOW + 30, &foo),
            silence("act-late", NOW - 5, NOW + 50, &foo),
            silence("exp-new", NOW - 9, NOW - 1, &foo),
            silence("pend-soon", NOW + 10, NOW + 30, &foo),
            silence("act-soon", NOW - 5, NOW + 40, &foo),
        ];
        let ids: Vec<String> = query(&all, &[], NOW).into_iter().map(|s| s.id).collect();
        assert_eq!(
            ids,
            [
                "act-soon",
                "act-late",
                "pend-soon",
                "pend-late",
                "exp-new",
                "exp-old"
            ]
        );
    }

    #[test]
    fn a_filter_selects_silences_with_an_identical_matcher() {
        let all = vec![
            silence(
                "a",
                NOW,
                NOW + 9,
                &[("alertname", "=", "Foo"), ("env", "=", "prod")],
            ),
            silence("b", NOW, NOW + 9, &[("alertname", "=~", "Foo")]),
            silence("c", NOW, NOW + 9, &[("alertname", "=", "Bar")]),
        ];
        let ids = |filters: &[&str]| -> Vec<String> {
            let f: Vec<Matcher> = filters
                .iter()
                .map(|t| crate::notify::parse_matcher(t).unwrap())
                .collect();
            query(&all, &f, NOW).into_iter().map(|s| s.id).collect()
        };
        assert_eq!(ids(&["alertname=\"Foo\""]), ["a"]);
        assert_eq!(ids(&["alertname=~Foo"]), ["b"]);
        assert_eq!(ids(&["alertname=Foo", "env=prod"]), ["a"]);
        assert_eq!(ids(&["env=dev"]), Vec::<String>::new());
        assert_eq!(ids(&[]).len(), 3);
    }
}
