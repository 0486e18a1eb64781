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
