//! The alert state machine against the cases of Prometheus' rules/alerting_test.go (v3.0)
//! and the transitions of `AlertingRule.Eval`, written as our own tests.

use std::collections::BTreeMap;

use super::*;

const MIN: i64 = 60_000;

fn rule(for_ms: i64, keep_firing_for_ms: i64) -> AlertingRule {
    AlertingRule {
        alert: "HTTPRequestRateHigh".to_string(),
        expr: "http_requests > 50".to_string(),
        kind: None,
        for_ms,
        keep_firing_for_ms,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        line: 0,
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The alert of `instance="0", job="app-server"` of rule `r`, with `extra` labels.
fn input(r: &AlertingRule, extra: &[(&str, &str)], value: f64) -> AlertInput {
    let mut labels = map(&[("instance", "0"), ("job", "app-server")]);
    labels.extend(map(extra));
    labels.insert("alertname".to_string(), r.alert.clone());
    AlertInput {
        labels,
        annotations: map(&[("summary", &format!("value {value}"))]),
        value,
    }
}

/// Runs one step, asserts it did not fail, and returns its outcome.
fn ok_step(
    r: &AlertingRule,
    cur: BTreeMap<u64, Alert>,
    res: Vec<AlertInput>,
    ts: i64,
) -> StepOutcome {
    let out = step(r, cur, res, ts, 0, 0);
    assert!(out.error.is_none(), "unexpected error {:?}", out.error);
    out
}

/// The `ALERTS` samples of an outcome as (alertstate, labels without __name__, t).
fn alerts_samples(out: &StepOutcome) -> Vec<(String, String, i64)> {
    let mut v: Vec<_> = out
        .samples
        .iter()
        .filter(|(l, _)| l.metric_name() == ALERTS_METRIC)
        .map(|(l, s)| {
            assert_eq!(s.v, 1.0);
            (l.get("alertstate").to_string(), l.to_string(), s.t)
        })
        .collect();
    v.sort();
    v
}

fn only(out: &StepOutcome) -> &Alert {
    assert_eq!(out.alerts.len(), 1, "{:?}", out.alerts);
    out.alerts.values().next().unwrap()
}

#[test]
fn for_zero_fires_on_the_first_evaluation() {
    let r = rule(0, 0);
    let out = ok_step(&r, BTreeMap::new(), vec![input(&r, &[], 1.0)], 0);
    let a = only(&out);
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(a.active_at_ms, 0);
    assert_eq!(a.fired_at_ms, Some(0));
    let s = alerts_samples(&out);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, "firing");
    assert_eq!(out.changes.len(), 1);
    assert_eq!(out.changes[0].alert.as_ref(), Some(a));
}

#[test]
fn pending_fires_once_held_for_the_for_duration() {
    let r = rule(MIN, 0);
    let out = ok_step(&r, BTreeMap::new(), vec![input(&r, &[], 75.0)], 0);
    assert_eq!(only(&out).state, AlertState::Pending);
    assert_eq!(alerts_samples(&out)[0].0, "pending");
    // 59 s later: still pending, and nothing durable changed.
    let out = ok_step(&r, out.alerts, vec![input(&r, &[], 80.0)], MIN - 1000);
    assert_eq!(only(&out).state, AlertState::Pending);
    assert_eq!(only(&out).value, 80.0, "the value follows the result");
    assert!(out.changes.is_empty(), "{:?}", out.changes);
    // Exactly `for` after active_at: firing.
    let out = ok_step(&r, out.alerts, vec![input(&r, &[], 85.0)], MIN);
    let a = only(&out);
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!((a.active_at_ms, a.fired_at_ms), (0, Some(MIN)));
    assert_eq!(out.changes.len(), 1);
    assert_eq!(alerts_samples(&out)[0].0, "firing");
}

#[test]
fn a_pending_alert_that_leaves_the_result_is_deleted() {
    let r = rule(5 * MIN, 0);
    let out = ok_step(&r, BTreeMap::new(), vec![input(&r, &[], 1.0)], 0);
    let fp = *out.alerts.keys().next().unwrap();
    let out = ok_step(&r, out.alerts, vec![], MIN);
    assert!(out.alerts.is_empty());
    assert_eq!(
        out.changes,
        vec![AlertChange {
            fingerprint: fp,
            alert: None
        }]
    );
    assert!(out.samples.is_empty());
}

#[test]
fn a_firing_alert_resolves_and_is_kept_for_the_retention() {
    let r = rule(0, 0);
    let out = ok_step(&r, BTreeMap::new(), vec![input(&r, &[], 1.0)], 0);
    let out = ok_step(&r, out.alerts, vec![], MIN);
    let a = only(&out).clone();
    assert_eq!(a.state, AlertState::Inactive);
    assert_eq!(a.resolved_at_ms, Some(MIN));
    assert_eq!(a.fired_at_ms, Some(0));
    assert_eq!(out.changes.len(), 1);
    assert!(out.samples.is_empty(), "inactive alerts write no ALERTS");
    // Still there exactly 15 minutes after resolving, with no change.
    let out = ok_step(&r, out.alerts, vec![], MIN + RESOLVED_RETENTION_MS);
    assert_eq!(only(&out), &a);
    assert!(out.changes.is_empty());
    // Gone once the retention has passed.
    let out = ok_step(&r, out.alerts, vec![], MIN + RESOLVED_RETENTION_MS + 1);
    assert!(out.alerts.is_empty());
    assert_eq!(out.changes.len(), 1);
    assert!(out.changes[0].alert.is_none());
}

#[test]
fn a_label_set_returning_after_resolve_starts_a_new_pending_alert() {
    let r = rule(2 * MIN, 0);
    let mut alerts = BTreeMap::new();
    for t in 0..=2 {
        alerts = ok_step(&r, alerts, vec![input(&r, &[], 1.0)], t * MIN).alerts;
    }
    assert_eq!(alerts.values().next().unwrap().state, AlertState::Firing);
    let out = ok_step(&r, alerts, vec![], 3 * MIN);
    assert_eq!(only(&out).state, AlertState::Inactive);
    let out = ok_step(&r, out.alerts, vec![input(&r, &[], 1.0)], 4 * MIN);
    let a = only(&out);
    assert_eq!(a.state, AlertState::Pending);
    assert_eq!(a.active_at_ms, 4 * MIN);
    assert_eq!((a.fired_at_ms, a.resolved_at_ms), (None, None));
    assert_eq!(out.changes.len(), 1);
}

/// Prometheus' TestKeepFiringFor: `75 85 70 70 10x5`, `> 50`, for 1m, keep_firing_for 1m.
#[test]
fn keep_firing_for_holds_a_firing_alert() {
    let r = rule(MIN, MIN);
    let values = [75.0, 85.0, 70.0, 70.0, 10.0, 10.0];
    let want = ["pending", "firing", "firing", "firing", "firing"];
    let mut alerts = BTreeMap::new();
    for (i, v) in values.iter().enumerate() {
        let ts = i as i64 * MIN;
        let res = if *v > 50.0 {
            vec![input(&r, &[], *v)]
        } else {
            vec![]
        };
        let out = ok_step(&r, alerts, res, ts);
        let got = alerts_samples(&out);
        if let Some(w) = want.get(i) {
            assert_eq!(got.len(), 1, "at {i}m: {got:?}");
            assert_eq!(got[0].0, *w, "at {i}m");
            assert_eq!(got[0].2, ts);
        } else {
            assert!(got.is_empty(), "at {i}m: {got:?}");
        }
        alerts = out.alerts;
        let a = alerts.values().next().unwrap();
        match i {
            4 => assert_eq!(a.keep_firing_since_ms, Some(4 * MIN)),
            5 => {
                assert_eq!(a.state, AlertState::Inactive);
                assert_eq!(a.resolved_at_ms, Some(5 * MIN));
            }
            _ => assert_eq!(a.keep_firing_since_ms, None),
        }
    }
}

/// Prometheus' TestPendingAndKeepFiringFor: keep_firing_for holds only firing alerts.
#[test]
fn keep_firing_for_does_not_hold_a_pending_alert() {
    let r = rule(MIN, MIN);
    let out = ok_step(&r, BTreeMap::new(), vec![input(&r, &[], 75.0)], 0);
    assert_eq!(out.samples.len(), 2, "ALERTS and ALERTS_FOR_STATE");
    let out = ok_step(&r, out.alerts, vec![], MIN);
    assert!(out.samples.is_empty());
    assert!(out.alerts.is_empty());
}

#[test]
fn keep_firing_since_resets_when_the_alert_returns() {
    let r = rule(0, 10 * MIN);
    let out = ok_step(&r, BTreeMap::new(), vec![input(&r, &[], 1.0)], 0);
    let out = ok_step(&r, out.alerts, vec![], MIN);
    assert_eq!(only(&out).keep_firing_since_ms, Some(MIN));
    assert_eq!(only(&out).state, AlertState::Firing);
    assert_eq!(out.changes.len(), 1, "keep_firing_since is durable");
    let out = ok_step(&r, out.alerts, vec![], 2 * MIN);
    assert!(out.changes.is_empty());
    let out = ok_step(&r, out.alerts, vec![input(&r, &[], 1.0)], 3 * MIN);
    assert_eq!(only(&out).keep_firing_since_ms, None);
    assert_eq!(out.changes.len(), 1);
    let out = ok_step(&r, out.alerts, vec![], 4 * MIN);
    assert_eq!(only(&out).keep_firing_since_ms, Some(4 * MIN));
    // Held until 10 minutes after 4m; resolved at 14m.
    let out = ok_step(&r, out.alerts, vec![], 14 * MIN - 1);
    assert_eq!(only(&out).state, AlertState::Firing);
    let out = ok_step(&r, out.alerts, vec![], 14 * MIN);
    assert_eq!(only(&out).state, AlertState::Inactive);
    assert_eq!(only(&out).resolved_at_ms, Some(14 * MIN));
    assert_eq!(only(&out).fired_at_ms, Some(0));
}

/// Prometheus' TestAlertingRuleLabelsUpdate: a label that follows the value makes each
/// change of it a new alert, which never fires until the label holds still.
#[test]
fn a_changing_label_makes_a_new_alert() {
    let r = rule(MIN, 0);
    let sev = |v: f64| if v < 80.0 { "critical" } else { "warning" };
    let values = [75.0, 85.0, 70.0, 70.0];
    let want = ["pending", "pending", "pending", "firing"];
    let mut alerts = BTreeMap::new();
    for (i, v) in values.iter().enumerate() {
        let ts = i as i64 * MIN;
        let out = ok_step(
            &r,
            alerts,
            vec![input(&r, &[("severity", sev(*v))], *v)],
            ts,
        );
        let got = alerts_samples(&out);
        assert_eq!(got.len(), 1, "at {i}m: {got:?}");
        assert_eq!(got[0].0, want[i], "at {i}m");
        assert!(got[0].1.contains(sev(*v)), "{}", got[0].1);
        alerts = out.alerts;
        assert_eq!(alerts.len(), 1, "the other label set was pending: deleted");
    }
    // The series goes stale: the firing alert resolves, nothing is written.
    let out = ok_step(&r, alerts, vec![], 4 * MIN);
    assert!(out.samples.is_empty());
    assert_eq!(only(&out).state, AlertState::Inactive);
}

/// Prometheus' TestAlertingRuleDuplicate: an error, and the state is left alone.
#[test]
fn duplicate_label_sets_fail_without_touching_state() {
    let r = rule(0, 0);
    let first = ok_step(&r, BTreeMap::new(), vec![input(&r, &[("a", "1")], 1.0)], 0);
    let before = first.alerts.clone();
    let out = step(
        &r,
        first.alerts,
        vec![input(&r, &[], 1.0), input(&r, &[], 2.0)],
        MIN,
        0,
        0,
    );
    let err = out.error.expect("duplicate must fail");
    assert_eq!(
        err.to_string(),
        "vector contains metrics with the same labelset after applying alert labels"
    );
    assert_eq!(out.alerts, before);
    assert!(out.changes.is_empty() && out.samples.is_empty());
}

/// Prometheus' TestAlertingRuleLimit.
#[test]
fn the_limit_counts_live_alerts_and_clears_state_when_exceeded() {
    let r = rule(MIN, 0);
    let two = || {
        vec![
            input(&r, &[("label", "1")], 1.0),
            input(&r, &[("label", "2")], 1.0),
        ]
    };
    for limit in [0, 2] {
        let out = step(&r, BTreeMap::new(), two(), 0, 0, limit);
        assert!(out.error.is_none(), "limit {limit}");
        assert_eq!(out.alerts.len(), 2);
    }
    // One alert already known, then two returned with limit 1.
    let known = ok_step(&r, BTreeMap::new(), vec![two().remove(0)], 0);
    let known_fp = *known.alerts.keys().next().unwrap();
    let out = step(&r, known.alerts, two(), MIN, 0, 1);
    assert_eq!(
        out.error.map(|e| e.to_string()).as_deref(),
        Some("exceeded limit of 1 with 2 alerts")
    );
    assert!(out.alerts.is_empty());
    assert!(out.samples.is_empty());
    assert_eq!(
        out.changes,
        vec![AlertChange {
            fingerprint: known_fp,
            alert: None
        }]
    );
}

#[test]
fn kept_firing_alerts_count_toward_the_limit_but_resolved_ones_do_not() {
    let r = rule(0, 10 * MIN);
    let a = input(&r, &[("label", "1")], 1.0);
    let b = input(&r, &[("label", "2")], 1.0);
    let out = ok_step(&r, BTreeMap::new(), vec![a.clone()], 0);
    // `a` is held by keep_firing_for, `b` is new: 2 live alerts.
    let out = step(&r, out.alerts, vec![b.clone()], MIN, 0, 1);
    assert!(matches!(
        out.error,
        Some(Error::AlertLimit { limit: 1, count: 2 })
    ));

    let r = rule(0, 0);
    let out = ok_step(&r, BTreeMap::new(), vec![a], 0);
    let out = ok_step(&r, out.alerts, vec![], MIN);
    let out = step(&r, out.alerts, vec![b], 2 * MIN, 0, 1);
    assert!(out.error.is_none(), "a resolved alert is not live");
    assert_eq!(out.alerts.len(), 2);
}

#[test]
fn value_and_annotation_updates_alone_are_not_changes() {
    let r = rule(0, 0);
    let out = ok_step(&r, BTreeMap::new(), vec![input(&r, &[], 1.0)], 0);
    let out = ok_step(&r, out.alerts, vec![input(&r, &[], 7.0)], MIN);
    assert!(out.changes.is_empty());
    let a = only(&out);
    assert_eq!(a.value, 7.0);
    assert_eq!(a.annotations["summary"], "value 7");
    // But the samples are written at every evaluation.
    assert_eq!(out.samples.len(), 2);
}

#[test]
fn samples_follow_prometheus() {
    let mut r = rule(0, 0);
    r.labels = map(&[("severity", "{{ $labels.x }}"), ("team", "db")]);
    // The expanded `severity` came out empty: absent from the alert.
    let mut inp = input(&r, &[("team", "db")], 1.0);
    inp.labels.remove("severity");
    let out = step(&r, BTreeMap::new(), vec![inp], 90_500, 30_000, 0);
    assert!(out.error.is_none());
    let a = only(&out);
    assert_eq!(a.active_at_ms, 90_500, "active_at is the evaluation time");
    let mut got: Vec<String> = out
        .samples
        .iter()
        .map(|(l, s)| format!("{l} {} @{}", s.v, s.t))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            "ALERTS_FOR_STATE{alertname=\"HTTPRequestRateHigh\", instance=\"0\", job=\"app-server\", severity=\"{{ $labels.x }}\", team=\"db\"} 90 @60500".to_string(),
            "ALERTS{alertname=\"HTTPRequestRateHigh\", alertstate=\"firing\", instance=\"0\", job=\"app-server\", severity=\"{{ $labels.x }}\", team=\"db\"} 1 @60500".to_string(),
        ]
    );
}

#[test]
fn a_rule_label_expanded_to_empty_is_absent() {
    // Prometheus' TestAlertingRuleEmptyLabelFromTemplate: a rule label with an empty value.
    let mut r = rule(MIN, 0);
    r.alert = "EmptyLabel".to_string();
    r.labels = map(&[("empty_label", "")]);
    let out = ok_step(&r, BTreeMap::new(), vec![input(&r, &[], 75.0)], 0);
    let got = alerts_samples(&out);
    assert_eq!(
        got[0].1,
        "ALERTS{alertname=\"EmptyLabel\", alertstate=\"pending\", instance=\"0\", job=\"app-server\"}"
    );
}

/// A new leader resumes from committed alerts: timers continue, nothing restarts.
#[test]
fn restored_alerts_keep_their_timers() {
    let r = rule(10 * MIN, 0);
    let inp = input(&r, &[], 1.0);
    let fp = fingerprint(&inp.labels);
    let pending = Alert {
        labels: inp.labels.clone(),
        annotations: BTreeMap::new(),
        state: AlertState::Pending,
        active_at_ms: -5 * MIN,
        fired_at_ms: None,
        resolved_at_ms: None,
        keep_firing_since_ms: None,
        value: 0.0,
    };
    let restored = BTreeMap::from([(fp, pending.clone())]);
    let out = ok_step(&r, restored, vec![inp.clone()], 0);
    assert_eq!(only(&out).active_at_ms, -5 * MIN);
    assert_eq!(only(&out).state, AlertState::Pending);
    assert!(out.changes.is_empty(), "resuming is not a change");
    // ALERTS_FOR_STATE carries the original active_at (seconds, floored).
    let for_state = out
        .samples
        .iter()
        .find(|(l, _)| l.metric_name() == ALERTS_FOR_STATE_METRIC)
        .unwrap();
    assert_eq!(for_state.1.v, -300.0);
    let out = ok_step(&r, out.alerts, vec![inp.clone()], 5 * MIN);
    assert_eq!(only(&out).state, AlertState::Firing);
    assert_eq!(only(&out).fired_at_ms, Some(5 * MIN));

    // A restored resolved alert still leaves after its retention, counted from resolved_at.
    let resolved = Alert {
        state: AlertState::Inactive,
        fired_at_ms: Some(-20 * MIN),
        resolved_at_ms: Some(-10 * MIN),
        ..pending
    };
    let out = ok_step(&r, BTreeMap::from([(fp, resolved)]), vec![], 5 * MIN);
    assert_eq!(out.alerts.len(), 1);
    let out = ok_step(&r, out.alerts, vec![], 5 * MIN + 1);
    assert!(out.alerts.is_empty());
}

#[test]
fn for_state_seconds_floor_before_the_epoch() {
    let r = rule(MIN, 0);
    let out = ok_step(&r, BTreeMap::new(), vec![input(&r, &[], 1.0)], -1500);
    let v: Vec<f64> = out
        .samples
        .iter()
        .filter(|(l, _)| l.metric_name() == ALERTS_FOR_STATE_METRIC)
        .map(|(_, s)| s.v)
        .collect();
    assert_eq!(v, vec![-2.0]);
}

#[test]
fn an_evaluation_that_changes_nothing_returns_no_changes() {
    let r = rule(0, 0);
    let out = ok_step(&r, BTreeMap::new(), vec![], 0);
    assert!(out.changes.is_empty() && out.alerts.is_empty() && out.samples.is_empty());
    let out = ok_step(&r, BTreeMap::new(), vec![input(&r, &[], 1.0)], 0);
    let out = ok_step(&r, out.alerts, vec![input(&r, &[], 1.0)], MIN);
    assert!(out.changes.is_empty());
}

#[test]
fn diff_reports_created_changed_and_deleted() {
    let r = rule(0, 0);
    let a = ok_step(&r, BTreeMap::new(), vec![input(&r, &[("x", "1")], 1.0)], 0).alerts;
    let b = ok_step(&r, BTreeMap::new(), vec![input(&r, &[("x", "2")], 1.0)], 0).alerts;
    let mut changed = a.clone();
    changed.values_mut().for_each(|x| x.fired_at_ms = Some(5));
    assert_eq!(diff(&a, &a), vec![]);
    assert_eq!(diff(&a, &changed).len(), 1);
    let d = diff(&a, &b);
    assert_eq!(d.len(), 2);
    assert_eq!(d.iter().filter(|c| c.alert.is_none()).count(), 1);
}
