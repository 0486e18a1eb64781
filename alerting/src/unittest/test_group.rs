//! Running one test group (`tests:` item) as promtool's `testGroup.test` does: load the
//! input series lazily (a sample becomes visible once the evaluation time reaches it),
//! evaluate every rule group at every evaluation interval from 0 to the largest
//! `eval_time`, check `alert_rule_test`s at the evaluation that covers their time (only
//! firing alerts count), then run the `promql_expr_test`s over the data and rule output.

use std::collections::{BTreeMap, BTreeSet};

use cairn_model::{Labels, Sample};
use cairn_query::promqltest::{SeqValue, parse_series_desc};
use cairn_query::{QueryConfig, QueryEngine, QueryValue};

use super::go_format::{go_duration, go_float_e, go_quote, labels_string, model_duration};
use super::test_file::TestGroup;
use crate::alert::AlertState;
use crate::group_eval::{GroupEvaluator, GroupState};
use crate::mem_rule_store::MemRuleStore;
use crate::rule::{Rule, RuleGroup};
use crate::rule_store::RuleStore;

/// An alert as the test compares it.
type LabelsAndAnnotations = (BTreeMap<String, String>, BTreeMap<String, String>);

/// Runs the test group; returns promtool's error texts (empty: passed).
pub(super) fn run(tg: &TestGroup, eval_interval_ms: i64, groups: &[RuleGroup]) -> Vec<String> {
    let inputs = match load_series(tg) {
        Ok(v) => v,
        Err(e) => return vec![e],
    };
    if let Some(s) = tg
        .promql_expr_test
        .iter()
        .flat_map(|p| &p.exp_samples)
        .find(|s| !s.histogram.is_empty())
    {
        return vec![format!(
            "native histograms are not supported (expected sample {})",
            go_quote(&s.histogram)
        )];
    }
    for a in &tg.alert_rule_test {
        if a.alertname.is_empty() {
            let in_group = match tg.name.as_str() {
                "" => String::new(),
                n => format!(" (in TestGroup {n})"),
            };
            return vec![format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                model_duration(a.eval_time_ms)
            )];
        }
    }

    let evaluator = GroupEvaluator {
        // promtool's engine steps subqueries without a step at the evaluation interval.
        engine: QueryEngine::new(QueryConfig {
            subquery_step_ms: eval_interval_ms,
            ..QueryConfig::default()
        }),
        external_labels: tg.external_labels.clone(),
        external_url: tg.external_url.clone(),
    };
    let mut states: Vec<GroupState> = groups.iter().map(GroupState::new).collect();
    let mut store = MemRuleStore::new();
    let mut pending = inputs.into_iter().peekable();

    let max_t = tg
        .alert_rule_test
        .iter()
        .map(|a| a.eval_time_ms)
        .chain(tg.promql_expr_test.iter().map(|p| p.eval_time_ms))
        .max()
        .unwrap_or(0);
    let alert_times: Vec<i64> = tg
        .alert_rule_test
        .iter()
        .map(|a| a.eval_time_ms)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut curr = 0;

    let mut errs = Vec::new();
    let mut ts = 0i64;
    while ts <= max_t {
        // promqltest's lazy loader: samples up to and including `ts`.
        while let Some((l, s)) = pending.next_if(|(_, s)| s.t <= ts) {
            store.add(l, &[s]);
        }
        let mut eval_errs = Vec::new();
        for (g, st) in groups.iter().zip(states.iter_mut()) {
            evaluator.eval(g, st, &mut store, ts);
            for (rule, rs) in g.rules.iter().zip(&st.rules) {
                if let Some(e) = &rs.last_error {
                    eval_errs.push(format!(
                        "    rule: {}, time: {}, err: {e}",
                        rule.name(),
                        go_duration(ts)
                    ));
                }
            }
        }
        if !eval_errs.is_empty() {
            errs.extend(eval_errs);
            return errs;
        }

        // Alert tests whose time falls in [ts, ts + interval) look at this evaluation.
        while curr < alert_times.len()
            && ts <= alert_times[curr]
            && alert_times[curr] < ts + eval_interval_ms
        {
            let t = alert_times[curr];
            errs.extend(check_alerts(tg, t, groups, &states));
            curr += 1;
        }
        ts += eval_interval_ms;
    }

    for p in &tg.promql_expr_test {
        if let Some(e) = check_expr(&evaluator.engine, &store, p) {
            errs.push(e);
        }
    }
    errs
}

/// Every input sample, sorted by time; a native histogram is refused.
fn load_series(tg: &TestGroup) -> Result<Vec<(Labels, Sample)>, String> {
    let mut out = Vec::new();
    let step = tg.interval_ms;
    for s in &tg.input_series {
        let (labels, values) = parse_series_desc(&format!("{} {}", s.series, s.values))?;
        let labels = Labels::from_pairs(labels).map_err(|e| format!("{}: {e}", s.series))?;
        for (i, v) in values.iter().enumerate() {
            match v {
                SeqValue::Omitted => {}
                SeqValue::Float(f) => out.push((labels.clone(), Sample::new(i as i64 * step, *f))),
                SeqValue::Histogram(_) => {
                    return Err(format!(
                        "native histograms are not supported (input series {})",
                        go_quote(&s.series)
                    ));
                }
            }
        }
    }
    out.sort_by_key(|(_, s)| s.t);
    Ok(out)
}

fn check_alerts(
    tg: &TestGroup,
    t: i64,
    groups: &[RuleGroup],
    states: &[GroupState],
) -> Vec<String> {
    let tests: Vec<_> = tg
        .alert_rule_test
        .iter()
        .filter(|a| a.eval_time_ms == t)
        .collect();
    let names: BTreeSet<&str> = tests.iter().map(|a| a.alertname.as_str()).collect();
    // The same alert name can be in several groups: all of them count.
    let mut got: BTreeMap<&str, Vec<LabelsAndAnnotations>> = BTreeMap::new();
    for (g, st) in groups.iter().zip(states) {
        for (rule, rs) in g.rules.iter().zip(&st.rules) {
            let Rule::Alerting(r) = rule else { continue };
            if !names.contains(r.alert.as_str()) {
                continue;
            }
            let entry = got.entry(r.alert.as_str()).or_default();
            for a in rs.alerts.values() {
                if a.resolved_at_ms.is_none() && a.state == AlertState::Firing {
                    entry.push((a.labels.clone(), a.annotations.clone()));
                }
            }
        }
    }
    let mut errs = Vec::new();
    for tc in tests {
        let mut got_alerts = got.get(tc.alertname.as_str()).cloned().unwrap_or_default();
        let mut exp_alerts: Vec<LabelsAndAnnotations> = tc
            .exp_alerts
            .iter()
            .map(|e| {
                let mut l = e.exp_labels.clone();
                l.insert("alertname".to_string(), tc.alertname.clone());
                (l, e.exp_annotations.clone())
            })
            .collect();
        got_alerts.sort();
        exp_alerts.sort();
        if got_alerts != exp_alerts {
            let name = match tg.name.as_str() {
                "" => String::new(),
                n => format!("    name: {n},\n"),
            };
            let indent = "            ";
            errs.push(format!(
                "{name}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                tc.alertname,
                model_duration(t),
                indent_lines(&alerts_string(&exp_alerts), indent),
                indent_lines(&alerts_string(&got_alerts), indent),
            ));
        }
    }
    errs
}

/// promtool's `labelsAndAnnotations.String()`.
fn alerts_string(la: &[LabelsAndAnnotations]) -> String {
    if la.is_empty() {
        return "[]".to_string();
    }
    let mut s = String::from("[");
    for (i, (l, a)) in la.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let item = format!(
            "\nLabels:{}\nAnnotations:{}",
            labels_string(l),
            labels_string(a)
        );
        s.push_str(&format!("\n{i}:{}", indent_lines(&item, "  ")));
    }
    s.push_str("\n]");
    s
}

/// promtool's `indentLines`: every line but the first gets `indent`.
fn indent_lines(lines: &str, indent: &str) -> String {
    lines
        .split('\n')
        .enumerate()
        .map(|(i, l)| match i {
            0 => l.to_string(),
            _ => format!("{indent}{l}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One `promql_expr_test`; `None` when it passes.
fn check_expr(
    engine: &QueryEngine,
    store: &MemRuleStore,
    p: &super::test_file::PromqlTestCase,
) -> Option<String> {
    let q = go_quote(&p.expr);
    let t = model_duration(p.eval_time_ms);
    let got = match engine.instant(store.querier(), &p.expr, p.eval_time_ms, None) {
        Ok(r) => match r.value {
            QueryValue::Vector(v) => v
                .into_iter()
                .map(|e| {
                    let m: BTreeMap<String, String> = e
                        .labels
                        .iter()
                        .map(|l| (l.name.clone(), l.value.clone()))
                        .collect();
                    (m, e.sample.v)
                })
                .collect(),
            QueryValue::Scalar(s) => vec![(BTreeMap::new(), s.v)],
            _ => {
                return Some(format!(
                    "    expr: {q}, time: {t}, err: rule result is not a vector or scalar"
                ));
            }
        },
        Err(e) => return Some(format!("    expr: {q}, time: {t}, err: {e}")),
    };
    let mut exp = Vec::with_capacity(p.exp_samples.len());
    for s in &p.exp_samples {
        match parse_metric(&s.labels) {
            Ok(l) => exp.push((l, s.value)),
            Err(e) => {
                return Some(format!(
                    "    expr: {q}, time: {t}, err: labels {}: {e}",
                    go_quote(&s.labels)
                ));
            }
        }
    }
    let mut got: Vec<(BTreeMap<String, String>, f64)> = got;
    exp.sort_by(|a, b| a.0.cmp(&b.0));
    got.sort_by(|a, b| a.0.cmp(&b.0));
    // promtool compares values exactly (go-cmp's ==, so NaN never matches).
    let equal =
        exp.len() == got.len() && exp.iter().zip(&got).all(|(e, g)| e.0 == g.0 && e.1 == g.1);
    if equal {
        return None;
    }
    Some(format!(
        "    expr: {q}, time: {t},\n        exp: {}\n        got: {}",
        samples_string(&exp),
        samples_string(&got)
    ))
}

/// Prometheus' `parser.ParseMetric`: `name`, `name{...}` or `{...}`; empty: no labels.
fn parse_metric(s: &str) -> Result<BTreeMap<String, String>, String> {
    if s.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let (labels, values) = parse_series_desc(s)?;
    if !values.is_empty() {
        return Err(format!("unexpected values after the label set in {s:?}"));
    }
    Ok(labels)
}

/// promtool's `parsedSamplesString`.
fn samples_string(v: &[(BTreeMap<String, String>, f64)]) -> String {
    if v.is_empty() {
        return "nil".to_string();
    }
    v.iter()
        .map(|(l, f)| format!("{} {}", labels_string(l), go_float_e(*f)))
        .collect::<Vec<_>>()
        .join(", ")
}
