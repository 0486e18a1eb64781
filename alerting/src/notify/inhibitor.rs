//! Inhibition (Alertmanager's `inhibit.Inhibitor`): an alert is muted while another, firing
//! alert matches an inhibit rule's source matchers and agrees with it on the rule's `equal`
//! labels. An alert never inhibits itself, even when it matches both sides of a rule.

use std::collections::BTreeMap;

use super::inhibit_rule::InhibitRule;
use super::matcher::all_match;
use super::notify_alert::NotifyAlert;

/// The fingerprints of the firing alerts that inhibit `target` (empty: not inhibited), in
/// the order of `alerts`. `alerts` are all of the tenant's alerts; resolved ones never
/// inhibit.
pub fn inhibited_by(
    target: &BTreeMap<String, String>,
    rules: &[InhibitRule],
    alerts: &[NotifyAlert],
    now_ms: i64,
) -> Vec<u64> {
    let target_fp = super::notify_alert::label_set_fingerprint(target);
    let mut by = Vec::new();
    for rule in rules {
        if !all_match(&rule.target_matchers, target) {
            continue;
        }
        for source in alerts {
            if source.resolved_at(now_ms) || !all_match(&rule.source_matchers, &source.labels) {
                continue;
            }
            let fp = source.fingerprint();
            // Why: Alertmanager skips a source that is the target itself (an alert matching
            // both sides would otherwise silence itself).
            if fp == target_fp || by.contains(&fp) {
                continue;
            }
            let equal = rule.equal.iter().all(|l| {
                source.labels.get(l).map(String::as_str).unwrap_or("")
                    == target.get(l).map(String::as_str).unwrap_or("")
            });
            if equal {
                by.push(fp);
            }
        }
    }
    by
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::matcher::{MatchOp, Matcher};

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn alert(pairs: &[(&str, &str)], ends_at_ms: i64) -> NotifyAlert {
        NotifyAlert {
            labels: labels(pairs),
            annotations: BTreeMap::new(),
            starts_at_ms: 0,
            ends_at_ms,
            generator_url: String::new(),
            updated_at_ms: 0,
        }
    }

    fn rule(equal: &[&str]) -> InhibitRule {
        InhibitRule {
            source_matchers: vec![Matcher::new("severity", MatchOp::Equal, "critical").unwrap()],
            target_matchers: vec![Matcher::new("severity", MatchOp::Equal, "warning").unwrap()],
            equal: equal.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_firing_source_with_equal_labels_inhibits() {
        let source = alert(&[("severity", "critical"), ("host", "a")], 100);
        let other_host = alert(&[("severity", "critical"), ("host", "b")], 100);
        let alerts = vec![source.clone(), other_host];
        let target = labels(&[("severity", "warning"), ("host", "a")]);
        assert_eq!(
            inhibited_by(&target, &[rule(&["host"])], &alerts, 50),
            vec![source.fingerprint()]
        );
        // Resolved sources do not inhibit.
        assert!(inhibited_by(&target, &[rule(&["host"])], &alerts, 100).is_empty());
        // A target the rule does not select is never inhibited.
        let critical = labels(&[("severity", "critical"), ("host", "a")]);
        assert!(inhibited_by(&critical, &[rule(&["host"])], &alerts, 50).is_empty());
    }

    #[test]
    fn equal_labels_missing_on_both_sides_are_equal() {
        let alerts = vec![alert(&[("severity", "critical")], 100)];
        let target = labels(&[("severity", "warning")]);
        assert_eq!(
            inhibited_by(&target, &[rule(&["cluster"])], &alerts, 0).len(),
            1
        );
        let target = labels(&[("severity", "warning"), ("cluster", "x")]);
        assert!(inhibited_by(&target, &[rule(&["cluster"])], &alerts, 0).is_empty());
    }

    #[test]
    fn an_alert_does_not_inhibit_itself() {
        let r = InhibitRule {
            source_matchers: vec![Matcher::new("team", MatchOp::Equal, "db").unwrap()],
            target_matchers: vec![Matcher::new("team", MatchOp::Equal, "db").unwrap()],
            equal: vec![],
        };
        let a = alert(&[("team", "db"), ("alertname", "A")], 100);
        assert!(
            inhibited_by(
                &a.labels,
                std::slice::from_ref(&r),
                std::slice::from_ref(&a),
                0
            )
            .is_empty()
        );
        let b = alert(&[("team", "db"), ("alertname", "B")], 100);
        assert_eq!(
            inhibited_by(&a.labels, &[r], &[a.clone(), b.clone()], 0),
            vec![b.fingerprint()]
        );
    }
}
