//! Group evaluation over an in-memory store: order, offsets, stale markers, failures,
//! templates and alert changes.

use std::collections::BTreeMap;

use cairn_model::{Labels, Matcher, STALE_NAN_BITS, Sample};
use cairn_query::{QueryConfig, QueryEngine, QueryValue};

use super::*;
use crate::alert::AlertState;
use crate::mem_rule_store::MemRuleStore;

const MIN: i64 = 60_000;

fn evaluator() -> GroupEvaluator {
    GroupEvaluator {
        engine: QueryEngine::new(QueryConfig::default()),
        external_labels: BTreeMap::from([("cluster".to_string(), "eu1".to_string())]),
        external_url: "http://cairn.example".to_string(),
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn record(name: &str, expr: &str, l: &[(&str, &str)]) -> Rule {
    Rule::Recording(RecordingRule {
        record: name.to_string(),
        expr: expr.to_string(),
        labels: map(l),
        line: 0,
    })
}

fn alert(name: &str, expr: &str, for_ms: i64) -> AlertingRule {
    AlertingRule {
        alert: name.to_string(),
        expr: expr.to_string(),
        kind: None,
        for_ms,
        keep_firing_for_ms: 0,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        line: 0,
    }
}

fn group(rules: Vec<Rule>) -> RuleGroup {
    RuleGroup {
        file: "rules.yml".to_string(),
        name: "g".to_string(),
        interval_ms: Some(MIN),
        query_offset_ms: None,
        limit: 0,
        rules,
        line: 1,
    }
}

/// A store with `up{job="a"}` and `up{job="b"}` at 0 every minute for an hour (b stops at
/// 10m).
fn store() -> MemRuleStore {
    let mut s = MemRuleStore::new();
    let a: Vec<Sample> = (0..=60).map(|i| Sample::new(i * MIN, 0.0)).collect();
    let b: Vec<Sample> = (0..=10).map(|i| Sample::new(i * MIN, 0.0)).collect();
    s.add(labels(&[("__name__", "up"), ("job", "a")]), &a);
    s.add(labels(&[("__name__", "up"), ("job", "b")]), &b);
    s
}

/// All raw samples of series matching `name` between 0 and `maxt`, with their labels.
fn raw(s: &MemRuleStore, name: &str, maxt: i64) -> Vec<(String, Sample)> {
    let q = s.querier();
    let mut out = Vec::new();
    for h in q
        .select(&[Matcher::equal("__name__", name)], i64::MIN, maxt)
        .unwrap()
    {
        let mut v = Vec::new();
        q.samples(h.id, i64::MIN, maxt, &mut v).unwrap();
        out.extend(v.into_iter().map(|x| (h.labels.to_string(), x)));
    }
    out.sort_by(|a, b| (a.1.t, &a.0).cmp(&(b.1.t, &b.0)));
    out
}

fn instant(s: &MemRuleStore, expr: &str, t: i64) -> Vec<(String, f64)> {
    let r = evaluator()
        .engine
        .instant(s.querier(), expr, t, None)
        .unwrap();
    match r.value {
        QueryValue::Vector(v) => {
            let mut v: Vec<_> = v
                .into_iter()
                .map(|e| (e.labels.to_string(), e.sample.v))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        }
        other => panic!("not a vector: {other:?}"),
    }
}

#[test]
fn later_rules_read_earlier_output_at_the_same_timestamp() {
    let g = group(vec![
        record("job:up:count", "count(up) by (job)", &[("src", "rule")]),
        record("total", "sum(job:up:count)", &[]),
        record("five", "5", &[("k", "v")]),
    ]);
    let mut st = GroupState::new(&g);
    let mut s = store();
    let rep = evaluator().eval(&g, &mut st, &mut s, 0);
    assert!(
        rep.rules.iter().all(|r| r.health == RuleHealth::Ok),
        "{rep:?}"
    );
    assert_eq!(
        rep.rules.iter().map(|r| r.series).collect::<Vec<_>>(),
        vec![2, 1, 1]
    );
    assert_eq!(
        raw(&s, "job:up:count", 0),
        vec![
            (
                "job:up:count{job=\"a\", src=\"rule\"}".to_string(),
                Sample::new(0, 1.0)
            ),
            (
                "job:up:count{job=\"b\", src=\"rule\"}".to_string(),
                Sample::new(0, 1.0)
            ),
        ]
    );
    assert_eq!(
        raw(&s, "total", 0),
        vec![("total{}".to_string(), Sample::new(0, 2.0))]
    );
    // A scalar result is one series with only the rule's name and labels.
    assert_eq!(
        raw(&s, "five", 0),
        vec![("five{k=\"v\"}".to_string(), Sample::new(0, 5.0))]
    );
    assert_eq!(st.rules[0].previous_series.len(), 2);
    assert_eq!(st.rules[0].last_eval_ts_ms, Some(0));
    assert!(rep.changes.is_empty());
}

#[test]
fn series_a_rule_stops_producing_get_a_stale_marker() {
    let g = group(vec![record("r", "up", &[])]);
    let mut st = GroupState::new(&g);
    let mut s = store();
    let ev = evaluator();
    ev.eval(&g, &mut st, &mut s, 10 * MIN);
    // `up{job="b"}` has no sample after 10m; at 16m it is beyond the lookback.
    ev.eval(&g, &mut st, &mut s, 16 * MIN);
    let b: Vec<Sample> = raw(&s, "r", 20 * MIN)
        .into_iter()
        .filter(|(l, _)| l.contains("\"b\""))
        .map(|(_, x)| x)
        .collect();
    assert_eq!(b.len(), 2, "{b:?}");
    assert_eq!(b[0], Sample::new(10 * MIN, 0.0));
    assert_eq!(b[1].t, 16 * MIN);
    assert_eq!(b[1].v.to_bits(), STALE_NAN_BITS);
    assert_eq!(st.rules[0].previous_series.len(), 1);
    // Nothing more is written for it at the next evaluation.
    ev.eval(&g, &mut st, &mut s, 17 * MIN);
    assert_eq!(
        raw(&s, "r", 20 * MIN)
            .iter()
            .filter(|(l, _)| l.contains("\"b\""))
            .count(),
        2
    );
}

#[test]
fn a_failing_rule_does_not_stop_the_group_nor_mark_its_series_stale() {
    // `x` is fine at 0; later `join` has two series on one side and fails.
    let g = group(vec![
        record("x", "up", &[]),
        record("dup", "up", &[("job", "same")]),
        record("y", "count(up)", &[]),
    ]);
    let mut st = GroupState::new(&g);
    let mut s = store();
    let rep = evaluator().eval(&g, &mut st, &mut s, 0);
    assert_eq!(rep.rules[0].health, RuleHealth::Ok);
    assert_eq!(rep.rules[1].health, RuleHealth::Err);
    assert_eq!(
        rep.rules[1].error.as_deref(),
        Some("vector contains metrics with the same labelset after applying rule labels")
    );
    assert_eq!(st.rules[1].health, RuleHealth::Err);
    assert_eq!(rep.rules[2].health, RuleHealth::Ok);
    assert_eq!(raw(&s, "dup", MIN), vec![]);

    // A rule that succeeded, then fails: no stale markers for what it wrote before.
    let g2 = group(vec![record("z", "up", &[])]);
    let mut st2 = GroupState::new(&g2);
    evaluator().eval(&g2, &mut st2, &mut s, 0);
    let broken = group(vec![record("z", "up +", &[])]);
    let rep = evaluator().eval(&broken, &mut st2, &mut s, MIN);
    assert_eq!(rep.rules[0].health, RuleHealth::Err);
    assert!(rep.rules[0].error.is_some());
    assert_eq!(raw(&s, "z", 2 * MIN).len(), 2, "only the samples at 0");
    assert_eq!(st2.rules[0].previous_series.len(), 2);
}

#[test]
fn the_limit_applies_to_recording_rules() {
    let mut g = group(vec![record("r", "up", &[])]);
    g.limit = 1;
    let mut st = GroupState::new(&g);
    let rep = evaluator().eval(&g, &mut st, &mut store(), 0);
    assert_eq!(
        rep.rules[0].error.as_deref(),
        Some("exceeded limit of 1 with 2 series")
    );
}

#[test]
fn query_offset_moves_the_query_and_the_written_samples_but_not_active_at() {
    let mut g = group(vec![
        record("r", "up", &[]),
        Rule::Alerting(alert("Down", "up{job=\"b\"} == 0", 0)),
    ]);
    g.query_offset_ms = Some(7 * MIN);
    let mut st = GroupState::new(&g);
    let mut s = store();
    // At 16m the query runs at 9m, where `up{job="b"}` still exists.
    let rep = evaluator().eval(&g, &mut st, &mut s, 16 * MIN);
    assert_eq!(rep.rules[0].series, 2);
    assert!(raw(&s, "r", i64::MAX).iter().all(|(_, x)| x.t == 9 * MIN));
    let alerts = raw(&s, "ALERTS", i64::MAX);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].1.t, 9 * MIN);
    let a = st.rules[1].alerts.values().next().unwrap();
    assert_eq!(a.active_at_ms, 16 * MIN);
    assert_eq!(rep.changes.len(), 1);
    assert_eq!(rep.changes[0].0, 1);
    // ALERTS_FOR_STATE holds active_at in seconds.
    assert_eq!(raw(&s, "ALERTS_FOR_STATE", i64::MAX)[0].1.v, 960.0);
    // At 24m the query is at 17m: b (last sample at 10m) is gone, stale markers at 17m.
    evaluator().eval(&g, &mut st, &mut s, 24 * MIN);
    let stale: Vec<_> = raw(&s, "r", i64::MAX)
        .into_iter()
        .filter(|(_, x)| x.v.to_bits() == STALE_NAN_BITS)
        .collect();
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].1.t, 17 * MIN);
}

#[test]
fn alerting_rules_expand_templates_and_write_alerts() {
    let mut r = alert("InstanceDown", "up == 0", 5 * MIN);
    r.labels = map(&[
        ("severity", "page"),
        ("where", "{{ $externalLabels.cluster }}"),
    ]);
    r.annotations = map(&[
        ("summary", "{{ $labels.job }} is down ({{ $value }})"),
        ("url", "{{ $externalURL }}"),
        ("bad", "{{ $labels.job | nosuchfunction }}"),
    ]);
    let g = group(vec![
        Rule::Alerting(r),
        record("alerts_seen", "count(ALERTS) by (alertstate)", &[]),
    ]);
    let mut st = GroupState::new(&g);
    let mut s = store();
    let ev = evaluator();
    let rep = ev.eval(&g, &mut st, &mut s, 0);
    assert_eq!(rep.changes.len(), 2, "two new pending alerts");
    let a = st.rules[0]
        .alerts
        .values()
        .find(|a| a.labels.get("job").map(String::as_str) == Some("a"))
        .unwrap();
    assert_eq!(
        a.labels,
        map(&[
            ("alertname", "InstanceDown"),
            ("job", "a"),
            ("severity", "page"),
            ("where", "eu1")
        ])
    );
    assert_eq!(a.annotations["summary"], "a is down (0)");
    assert_eq!(a.annotations["url"], "http://cairn.example");
    assert!(
        a.annotations["bad"].starts_with("<error expanding template: ")
            && a.annotations["bad"].contains("function \"nosuchfunction\" not defined"),
        "{}",
        a.annotations["bad"]
    );
    assert_eq!(a.state, AlertState::Pending);
    // The recording rule after it sees the ALERTS just written.
    assert_eq!(
        instant(&s, "alerts_seen", 0),
        vec![("alerts_seen{alertstate=\"pending\"}".to_string(), 2.0)]
    );
    // Steady state: no durable change until `for` has passed.
    let rep = ev.eval(&g, &mut st, &mut s, MIN);
    assert!(rep.changes.is_empty(), "{:?}", rep.changes);
    let rep = ev.eval(&g, &mut st, &mut s, 5 * MIN);
    assert_eq!(rep.changes.len(), 2);
    assert!(
        rep.changes
            .iter()
            .all(|(i, c)| *i == 0 && c.alert.as_ref().unwrap().state == AlertState::Firing)
    );
    // b has no sample after 10m: at 16m its alert resolves, its ALERTS series goes stale.
    let rep = ev.eval(&g, &mut st, &mut s, 16 * MIN);
    assert_eq!(rep.changes.len(), 1);
    let resolved = rep.changes[0].1.alert.as_ref().unwrap();
    assert_eq!(resolved.state, AlertState::Inactive);
    assert_eq!(resolved.resolved_at_ms, Some(16 * MIN));
    assert_eq!(
        instant(&s, "ALERTS", 16 * MIN),
        vec![(
            "ALERTS{alertname=\"InstanceDown\", alertstate=\"firing\", job=\"a\", severity=\"page\", where=\"eu1\"}".to_string(),
            1.0
        )]
    );
}

#[test]
fn templates_query_through_the_engine_at_the_evaluation_time() {
    let mut r = alert("A", "up{job=\"a\"}", 0);
    r.annotations = map(&[
        (
            "count",
            "{{ with query \"count(up)\" }}{{ . | first | value }}{{ end }}",
        ),
        ("scalar", "{{ query \"time()\" | first | value }}"),
        ("now", "{{ now }}"),
    ]);
    let mut g = group(vec![Rule::Alerting(r)]);
    // The rule's query runs at 16m - 7m = 9m (both up series); templates at 16m (one left).
    g.query_offset_ms = Some(7 * MIN);
    let mut st = GroupState::new(&g);
    evaluator().eval(&g, &mut st, &mut store(), 16 * MIN);
    let a = st.rules[0].alerts.values().next().unwrap();
    assert_eq!(a.annotations["count"], "1");
    assert_eq!(a.annotations["scalar"], "960");
    assert_eq!(a.annotations["now"], "960");
}

#[test]
fn a_template_sees_the_labels_with_the_metric_name() {
    let mut r = alert("A", "up{job=\"a\"}", 0);
    r.annotations = map(&[("m", "{{ $labels.__name__ }}")]);
    let g = group(vec![Rule::Alerting(r)]);
    let mut st = GroupState::new(&g);
    evaluator().eval(&g, &mut st, &mut store(), 0);
    let a = st.rules[0].alerts.values().next().unwrap();
    assert_eq!(a.annotations["m"], "up");
    assert!(!a.labels.contains_key("__name__"));
}

#[test]
fn a_restored_group_resumes_its_alerts() {
    let g = group(vec![
        record("r", "up", &[]),
        Rule::Alerting(alert("InstanceDown", "up == 0", 5 * MIN)),
    ]);
    let mut st = GroupState::new(&g);
    let mut s = store();
    let ev = evaluator();
    ev.eval(&g, &mut st, &mut s, 0);
    ev.eval(&g, &mut st, &mut s, 2 * MIN);
    // A new leader gets the committed alerts (and one of a rule index it lacks).
    let committed: Vec<(usize, Alert)> = st.rules[1]
        .alerts
        .values()
        .map(|a| (1, a.clone()))
        .chain(st.rules[1].alerts.values().map(|a| (0, a.clone())))
        .collect();
    let mut restored = GroupState::restore(&g, committed);
    assert!(restored.rules[0].alerts.is_empty());
    assert_eq!(restored.rules[1].alerts, st.rules[1].alerts);
    assert_eq!(restored.rules[1].health, RuleHealth::Unknown);
    let rep = ev.eval(&g, &mut restored, &mut s, 3 * MIN);
    assert!(rep.changes.is_empty(), "resuming changes nothing");
    let rep = ev.eval(&g, &mut restored, &mut s, 5 * MIN);
    assert_eq!(
        rep.changes.len(),
        2,
        "fires at active_at + for, not 5m after the restore"
    );
}

#[test]
fn a_rule_returning_a_string_fails() {
    let g = group(vec![record("r", "\"text\"", &[])]);
    let mut st = GroupState::new(&g);
    let rep = evaluator().eval(&g, &mut st, &mut store(), 0);
    assert_eq!(
        rep.rules[0].error.as_deref(),
        Some("rule result is not a vector or scalar")
    );
    assert_eq!(rep.rules[0].health.as_str(), "err");
}

/// A store that counts appends and can be told to refuse them.
struct CountingStore {
    inner: MemRuleStore,
    appends: usize,
    fail: bool,
}

impl RuleStore for CountingStore {
    fn querier(&self) -> &dyn cairn_query::Querier {
        self.inner.querier()
    }

    fn append(&mut self, samples: Vec<(Labels, Sample)>) -> crate::Result<()> {
        if self.fail {
            return Err(Error::Append {
                reason: "no quorum".into(),
            });
        }
        self.appends += 1;
        self.inner.append(samples)
    }
}

#[test]
fn a_group_writes_once_unless_a_rule_reads_what_is_held() {
    let g = group(vec![
        Rule::Alerting(alert("A", "up == 0", 0)),
        Rule::Alerting(alert("B", r#"up{job="a"} == 0"#, 0)),
        record("job:up:count", "count(up) by (job)", &[]),
        // Reads ALERTS, held from the two rules above: written before it runs.
        record("firing", r#"count(ALERTS{alertstate="firing"})"#, &[]),
        record("up:sum", "sum(up)", &[]),
    ]);
    let mut st = GroupState::new(&g);
    let mut s = CountingStore {
        inner: store(),
        appends: 0,
        fail: false,
    };
    let rep = evaluator().eval(&g, &mut st, &mut s, 0);
    assert!(
        rep.rules.iter().all(|r| r.health == RuleHealth::Ok),
        "{rep:?}"
    );
    assert_eq!(s.appends, 2, "one write before `firing`, one at the end");
    // `firing` saw A's two alerts and B's one, written at the same timestamp.
    assert_eq!(
        raw(&s.inner, "firing", 0),
        vec![("firing{}".to_string(), Sample::new(0, 3.0))]
    );
    assert_eq!(raw(&s.inner, "up:sum", 0).len(), 1);

    // A group none of whose rules reads another's output writes once.
    let g = group(vec![
        Rule::Alerting(alert("A", "up == 0", 0)),
        record("up:sum", "sum(up)", &[]),
    ]);
    let mut st = GroupState::new(&g);
    s.appends = 0;
    evaluator().eval(&g, &mut st, &mut s, MIN);
    assert_eq!(s.appends, 1);
}

#[test]
fn a_failed_write_marks_every_rule_it_held_unhealthy_and_keeps_their_previous_series() {
    let g = group(vec![
        record("r1", "up", &[]),
        record("r2", "count(up)", &[]),
    ]);
    let mut st = GroupState::new(&g);
    let mut s = CountingStore {
        inner: store(),
        appends: 0,
        fail: false,
    };
    evaluator().eval(&g, &mut st, &mut s, 0);
    assert_eq!(st.rules[0].previous_series.len(), 2);
    s.fail = true;
    // At 20m job b has stopped: r1's stale marker for it is in the write that fails.
    let rep = evaluator().eval(&g, &mut st, &mut s, 20 * MIN);
    for (i, r) in rep.rules.iter().enumerate() {
        assert_eq!(r.health, RuleHealth::Err, "rule {i}: {rep:?}");
        assert!(r.error.as_deref().unwrap_or("").contains("no quorum"));
        assert_eq!(st.rules[i].health, RuleHealth::Err);
    }
    // Not written, so still owed: the next good write carries b's stale marker.
    assert_eq!(st.rules[0].previous_series.len(), 2);
    s.fail = false;
    evaluator().eval(&g, &mut st, &mut s, 21 * MIN);
    let b = raw(&s.inner, "r1", 21 * MIN);
    assert!(
        b.iter()
            .any(|(l, x)| l.contains("job=\"b\"") && x.v.to_bits() == STALE_NAN_BITS),
        "{b:?}"
    );
}
