use std::time::Duration;

use cairn_alerting::RecordingRule;
use cairn_alerting::group_eval::{RuleHealth, RuleReport};

use super::*;

fn group(name: &str, exprs: &[&str]) -> RuleGroup {
    RuleGroup {
        file: "rules.yml".into(),
        name: name.into(),
        interval_ms: None,
        query_offset_ms: None,
        limit: 0,
        rules: exprs
            .iter()
            .map(|e| {
                cairn_alerting::Rule::Recording(RecordingRule {
                    record: "r".into(),
                    expr: e.to_string(),
                    labels: Default::default(),
                    line: 0,
                })
            })
            .collect(),
        line: 0,
    }
}

fn id(tenant: &str, g: &RuleGroup) -> GroupId {
    (tenant.to_string(), g.key())
}

#[test]
fn tasks_start_stop_and_are_replaced_exactly_when_their_group_changes() {
    let (a, b, c) = (group("a", &["1"]), group("b", &["2"]), group("c", &["3"]));
    let b2 = group("b", &["2", "4"]);
    let running: BTreeMap<GroupId, RuleGroup> = [(id("t1", &a), a.clone()), (id("t1", &b), b)]
        .into_iter()
        .collect();
    let wanted: BTreeMap<GroupId, RuleGroup> = [
        (id("t1", &b2), b2.clone()),
        (id("t1", &c), c.clone()),
        (id("t2", &a), a.clone()),
    ]
    .into_iter()
    .collect();
    let plan = plan_tasks(&running, &wanted);
    assert_eq!(
        plan,
        TaskPlan {
            start: vec![id("t1", &c), id("t2", &a)],
            stop: vec![id("t1", &a)],
            replace: vec![id("t1", &b2)],
        }
    );
    // Nothing to do once they run; everything stops when nothing is wanted (not leading).
    assert_eq!(plan_tasks(&wanted, &wanted), TaskPlan::default());
    let none = plan_tasks(&wanted, &BTreeMap::new());
    assert_eq!(none.stop.len(), 3);
    assert!(none.start.is_empty() && none.replace.is_empty());
}

#[test]
fn a_report_becomes_the_status_api_v1_rules_shows() {
    let report = GroupReport {
        rules: vec![
            RuleReport {
                health: RuleHealth::Ok,
                error: None,
                duration: Duration::from_millis(3),
                series: 2,
            },
            RuleReport {
                health: RuleHealth::Err,
                error: Some("bad_data: parse error".into()),
                duration: Duration::from_millis(1),
                series: 0,
            },
        ],
        duration: Duration::from_millis(5),
        changes: vec![],
    };
    let s = status_of(&report, 1_700_000_000_000);
    assert_eq!(s.last_evaluation_ms, 1_700_000_000_000);
    assert!((s.evaluation_seconds - 0.005).abs() < 1e-9);
    assert_eq!(s.rules.len(), 2);
    assert_eq!(
        (s.rules[0].health.as_str(), s.rules[0].last_error.as_str()),
        ("ok", "")
    );
    assert_eq!(
        (s.rules[1].health.as_str(), s.rules[1].last_error.as_str()),
        ("err", "bad_data: parse error")
    );
    assert!((s.rules[0].evaluation_seconds - 0.003).abs() < 1e-9);
    let f = failed_status(
        &group("g", &["1", "2", "3"]),
        7,
        "no leader of shard 3 is known",
    );
    assert_eq!(f.rules.len(), 3);
    assert!(
        f.rules
            .iter()
            .all(|r| r.health == "err" && r.last_error.contains("shard 3"))
    );
}

/// What a group publishes to the alert board after each evaluation: Prometheus' `sendAlerts`
/// (firing and recently resolved alerts, not pending ones), with the external labels.
#[test]
fn evaluations_publish_firing_and_resolved_alerts_for_notification() {
    use cairn_alerting::mem_rule_store::MemRuleStore;
    use cairn_alerting::notify::rule_alert::RuleAlertContext;
    use cairn_alerting::{AlertingRule, Rule};
    use cairn_model::{Labels, Sample};

    const MIN: i64 = 60_000;
    let evaluator = GroupEvaluator {
        engine: cairn_query::QueryEngine::new(cairn_query::QueryConfig::default()),
        external_labels: BTreeMap::from([("cluster".to_string(), "eu1".to_string())]),
        external_url: "http://cairn.example".to_string(),
    };
    let ctx = RuleAlertContext {
        external_labels: evaluator.external_labels.clone(),
        external_url: evaluator.external_url.clone(),
    };
    let mut store = MemRuleStore::new();
    let series = |job: &str| Labels::from_pairs([("__name__", "up"), ("job", job)]).unwrap();
    let a: Vec<Sample> = (0..=60).map(|i| Sample::new(i * MIN, 0.0)).collect();
    let b: Vec<Sample> = (0..=4).map(|i| Sample::new(i * MIN, 0.0)).collect();
    store.add(series("a"), &a);
    store.add(series("b"), &b);
    let mut g = group("g", &["up"]);
    g.rules.push(Rule::Alerting(AlertingRule {
        alert: "Down".into(),
        expr: "up == 0".into(),
        kind: None,
        for_ms: 2 * MIN,
        keep_firing_for_ms: 0,
        labels: BTreeMap::new(),
        annotations: BTreeMap::from([("summary".into(), "{{ $labels.job }} is down".into())]),
        line: 0,
    }));
    let mut state = GroupState::new(&g);
    let mut published = BTreeMap::new();
    for i in 0..=20 {
        let ts = i * MIN;
        evaluator.eval(&g, &mut state, &mut store, ts);
        published.insert(i, group_notify_alerts(&ctx, &g, &state, ts, MIN));
    }
    // Pending for the first two minutes: nothing to notify.
    assert!(published[&1].is_empty());
    let at2 = &published[&2];
    assert_eq!(at2.len(), 2);
    let a2 = at2.iter().find(|x| x.labels["job"] == "a").unwrap();
    assert_eq!(a2.starts_at_ms, 2 * MIN);
    assert_eq!(a2.ends_at_ms, 2 * MIN + 4 * MIN);
    assert_eq!(a2.labels["alertname"], "Down");
    assert_eq!(a2.labels["cluster"], "eu1");
    assert_eq!(a2.annotations["summary"], "a is down");
    assert_eq!(
        a2.generator_url,
        "http://cairn.example/graph?g0.expr=up+%3D%3D+0&g0.tab=1"
    );
    // `b` stops reporting: once it resolved it is sent resolved, with its resolution time.
    let last = &published[&20];
    let b_last = last.iter().find(|x| x.labels["job"] == "b").unwrap();
    assert!(b_last.resolved_at(20 * MIN));
    let resolved_at = b_last.ends_at_ms;
    assert!(resolved_at > 4 * MIN && resolved_at <= 20 * MIN);
    let a_last = last.iter().find(|x| x.labels["job"] == "a").unwrap();
    assert!(!a_last.resolved_at(20 * MIN));
}
