//! The mute stages a group's alerts pass at flush time (Alertmanager's `MuteStage` with the
//! inhibitor and the silencer, `TimeMuteStage` and `TimeActiveStage`). A muted alert is left
//! out of the notification; a group muted by time intervals sends nothing at all.

use std::collections::BTreeMap;

use super::inhibit_rule::InhibitRule;
use super::inhibitor::inhibited_by;
use super::notify_alert::NotifyAlert;
use super::silence::Silence;
use super::time_interval::TimeInterval;

/// Whether an inhibit rule (with a firing source among `all_alerts`) or an active silence
/// mutes `alert` now.
pub fn alert_muted(
    alert: &NotifyAlert,
    inhibit_rules: &[InhibitRule],
    all_alerts: &[NotifyAlert],
    silences: &[Silence],
    now_ms: i64,
) -> bool {
    !inhibited_by(&alert.labels, inhibit_rules, all_alerts, now_ms).is_empty()
        || silences.iter().any(|s| s.mutes(&alert.labels, now_ms))
}

/// Whether a route's time intervals mute its groups now: `now` falls in one of its
/// `mute_time_intervals`, or it has `active_time_intervals` and `now` falls in none of them.
/// `contains` is `TimeInterval::contains` (an argument so the stage can be tested alone); a
/// name with no interval (validation refuses it) mutes nothing and activates nothing.
pub fn time_muted(
    mute_time_intervals: &[String],
    active_time_intervals: &[String],
    intervals: &BTreeMap<String, Vec<TimeInterval>>,
    now_ms: i64,
    contains: &dyn Fn(&TimeInterval, i64) -> bool,
) -> bool {
    let in_any = |names: &[String]| {
        names
            .iter()
            .filter_map(|n| intervals.get(n))
            .flatten()
            .any(|ti| contains(ti, now_ms))
    };
    if in_any(mute_time_intervals) {
        return true;
    }
    !active_time_intervals.is_empty() && !in_any(active_time_intervals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::matcher::{MatchOp, Matcher};

    const MIN: i64 = 60_000;
    const DAY: i64 = 1440 * MIN;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn mute_and_active_time_intervals() {
        let intervals = BTreeMap::from([
            (
                "nights".to_string(),
                vec![TimeInterval {
                    times: vec![(0, 6 * 60)],
                    ..Default::default()
                }],
            ),
            (
                "office".to_string(),
                vec![
                    TimeInterval {
                        times: vec![(9 * 60, 12 * 60)],
                        ..Default::default()
                    },
                    TimeInterval {
                        times: vec![(13 * 60, 17 * 60)],
                        ..Default::default()
                    },
                ],
            ),
        ]);
        let at = |h: i64| 3 * DAY + h * 60 * MIN;
        let muted = |m: &[&str], a: &[&str], h: i64| {
            time_muted(
                &names(m),
                &names(a),
                &intervals,
                at(h),
                &TimeInterval::contains,
            )
        };
        assert!(!muted(&[], &[], 3));
        assert!(muted(&["nights"], &[], 3));
        assert!(!muted(&["nights"], &[], 7));
        // Active intervals: muted outside all of their parts.
        assert!(!muted(&[], &["office"], 10));
        assert!(muted(&[], &["office"], 12));
        assert!(!muted(&[], &["office"], 14));
        assert!(muted(&[], &["office"], 20));
        // Mute wins over active.
        assert!(muted(&["office"], &["office"], 10));
    }

    fn alert(pairs: &[(&str, &str)]) -> NotifyAlert {
        NotifyAlert {
            labels: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: BTreeMap::new(),
            starts_at_ms: 0,
            ends_at_ms: 10 * MIN,
            generator_url: String::new(),
            updated_at_ms: 0,
        }
    }

    #[test]
    fn silences_and_inhibition_mute_alerts() {
        let warning = alert(&[("alertname", "Disk"), ("severity", "warning")]);
        let critical = alert(&[("alertname", "Down"), ("severity", "critical")]);
        let silence = Silence {
            id: "s".into(),
            matchers: vec![Matcher::new("alertname", MatchOp::Equal, "Disk").unwrap()],
            starts_at_ms: MIN,
            ends_at_ms: 2 * MIN,
            updated_at_ms: 0,
            created_by: String::new(),
            comment: String::new(),
        };
        let silences = [silence];
        let all = [warning.clone(), critical.clone()];
        // The silence is pending, active, expired.
        assert!(!alert_muted(&warning, &[], &all, &silences, 0));
        assert!(alert_muted(&warning, &[], &all, &silences, MIN));
        assert!(!alert_muted(&warning, &[], &all, &silences, 2 * MIN));
        assert!(!alert_muted(&critical, &[], &all, &silences, MIN));
        let rule = InhibitRule {
            source_matchers: vec![Matcher::new("severity", MatchOp::Equal, "critical").unwrap()],
            target_matchers: vec![Matcher::new("severity", MatchOp::Equal, "warning").unwrap()],
            equal: vec![],
        };
        let rules = [rule];
        assert!(alert_muted(&warning, &rules, &all, &[], 0));
        assert!(!alert_muted(&critical, &rules, &all, &[], 0));
        // The source resolved: no longer inhibited.
        assert!(!alert_muted(&warning, &rules, &all, &[], 10 * MIN));
    }
}
