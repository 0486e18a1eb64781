//! Prometheus' JSON for rules and alerts, checked field by field against what Prometheus 3.0
//! writes for the same rules and alerts.

use std::collections::BTreeMap;

use cairn_alerting::rule_file::parse_group;
use cairn_alerting::state_keys::{self, GroupStatus, RuleStatus};
use cairn_alerting::{Alert, AlertState, RuleGroup, fingerprint};
use serde_json::{Value, json};

use super::*;

const T: &str = "acme";

fn group() -> RuleGroup {
    parse_group(
        "api",
        r#"
name: g
interval: 30s
rules:
  - alert: HighLoad
    expr: load>1
    for: 5m
    keep_firing_for: 1m
    labels: {severity: page}
    annotations: {summary: "load {{ $value }}"}
  - record: job:load:sum
    expr: sum by (job) (load)
"#,
    )
    .expect("a valid group")
}

fn alert(instance: &str, state: AlertState, value: f64) -> Alert {
    Alert {
        labels: BTreeMap::from([
            ("alertname".to_string(), "HighLoad".to_string()),
            ("instance".to_string(), instance.to_string()),
            ("severity".to_string(), "page".to_string()),
        ]),
        annotations: BTreeMap::from([("summary".to_string(), format!("load {value}"))]),
        state,
        active_at_ms: 1_700_000_000_500,
        fired_at_ms: None,
        resolved_at_ms: (state == AlertState::Inactive).then_some(1_700_000_100_000),
        keep_firing_since_ms: None,
        value,
    }
}

fn records(g: &RuleGroup, alerts: &[Alert], status: Option<GroupStatus>) -> TenantRules {
    let rules = vec![(
        state_keys::group_key(T, g),
        serde_json::to_string(g).unwrap(),
    )];
    let alerts: Vec<(String, String)> = alerts
        .iter()
        .map(|a| {
            (
                state_keys::alert_key(T, g, 0, fingerprint(&a.labels)),
                serde_json::to_string(a).unwrap(),
            )
        })
        .collect();
    let status: Vec<(String, String)> = status
        .iter()
        .map(|s| {
            (
                state_keys::status_key(T, g),
                serde_json::to_string(s).unwrap(),
            )
        })
        .collect();
    TenantRules::from_entries(T, &rules, &alerts, &status)
}

fn render(t: &TenantRules, f: &RulesFilter) -> Value {
    serde_json::to_value(rule_discovery(t, f, 60_000)).unwrap()
}

#[test]
fn go_floats_as_strconv_formats_them_with_e() {
    for (v, want) in [
        (1.0, "1e+00"),
        (0.0, "0e+00"),
        (-0.0, "-0e+00"),
        (1.5, "1.5e+00"),
        (1234567.0, "1.234567e+06"),
        (1.5e-7, "1.5e-07"),
        (1e21, "1e+21"),
        (1e100, "1e+100"),
        (0.1, "1e-01"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
    ] {
        assert_eq!(go_float_e(v), want, "{v}");
    }
}

#[test]
fn go_times_in_utc_with_trimmed_fractions() {
    assert_eq!(go_time(0), "0001-01-01T00:00:00Z");
    assert_eq!(go_time(1_700_000_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(go_time(1_700_000_000_500), "2023-11-14T22:13:20.5Z");
    assert_eq!(go_time(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
}

/// A group never evaluated: every rule `unknown`, Go's zero times, alerts as committed
/// (the resolved one left out), the rule's state the highest of its alerts.
#[test]
fn rules_render_as_prometheus_writes_them() {
    let g = group();
    let t = records(
        &g,
        &[
            alert("a", AlertState::Pending, 2.0),
            alert("b", AlertState::Firing, 1.5),
            alert("c", AlertState::Inactive, 3.0),
        ],
        None,
    );
    let v = render(&t, &RulesFilter::default());
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    let gj = &groups[0];
    assert_eq!(gj["name"], "g");
    assert_eq!(gj["file"], "api");
    assert_eq!(gj["interval"], json!(30.0));
    assert_eq!(gj["limit"], 0);
    assert_eq!(gj["evaluationTime"], json!(0.0));
    assert_eq!(gj["lastEvaluation"], "0001-01-01T00:00:00Z");
    let ar = &gj["rules"][0];
    assert_eq!(ar["state"], "firing");
    assert_eq!(ar["name"], "HighLoad");
    assert_eq!(
        ar["query"], "load > 1",
        "printed as Prometheus prints the parsed expr"
    );
    assert_eq!(ar["duration"], json!(300.0));
    assert_eq!(ar["keepFiringFor"], json!(60.0));
    assert_eq!(ar["labels"], json!({"severity": "page"}));
    assert_eq!(ar["annotations"], json!({"summary": "load {{ $value }}"}));
    assert_eq!(ar["health"], "unknown");
    assert!(ar.get("lastError").is_none(), "omitted when empty");
    assert_eq!(ar["type"], "alerting");
    assert!(ar.get("kind").is_none());
    let alerts = ar["alerts"].as_array().unwrap();
    assert_eq!(
        alerts.len(),
        2,
        "the resolved alert is not listed: {alerts:?}"
    );
    let b = alerts
        .iter()
        .find(|a| a["labels"]["instance"] == "b")
        .unwrap();
    assert_eq!(
        *b,
        json!({
            "labels": {"alertname": "HighLoad", "instance": "b", "severity": "page"},
            "annotations": {"summary": "load 1.5"},
            "state": "firing",
            "activeAt": "2023-11-14T22:13:20.5Z",
            "value": "1.5e+00",
        })
    );
    let rr = &gj["rules"][1];
    assert_eq!(
        *rr,
        json!({
            "name": "job:load:sum",
            "query": "sum by (job) (load)",
            "labels": {},
            "health": "unknown",
            "evaluationTime": 0.0,
            "lastEvaluation": "0001-01-01T00:00:00Z",
            "type": "recording",
        })
    );
    // Go's field order, not alphabetical.
    let text = serde_json::to_string(&rule_discovery(&t, &RulesFilter::default(), 60_000)).unwrap();
    let rule = &text[text.find("\"state\"").unwrap()..];
    let order: Vec<usize> = [
        "\"state\"",
        "\"name\"",
        "\"query\"",
        "\"duration\"",
        "\"type\"",
    ]
    .iter()
    .map(|k| rule.find(k).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn status_records_give_health_errors_and_times() {
    let g = group();
    let status = GroupStatus {
        last_evaluation_ms: 1_700_000_000_000,
        evaluation_seconds: 0.25,
        rules: vec![
            RuleStatus {
                health: "err".into(),
                last_error: "boom".into(),
                last_evaluation_ms: 1_700_000_000_000,
                evaluation_seconds: 0.125,
            },
            RuleStatus {
                health: "ok".into(),
                last_error: String::new(),
                last_evaluation_ms: 1_700_000_000_001,
                evaluation_seconds: 0.5,
            },
        ],
    };
    let v = render(&records(&g, &[], Some(status)), &RulesFilter::default());
    let gj = &v["groups"][0];
    assert_eq!(gj["evaluationTime"], json!(0.25));
    assert_eq!(gj["lastEvaluation"], "2023-11-14T22:13:20Z");
    assert_eq!(gj["rules"][0]["health"], "err");
    assert_eq!(gj["rules"][0]["lastError"], "boom");
    assert_eq!(gj["rules"][0]["state"], "inactive");
    assert_eq!(gj["rules"][0]["alerts"], json!([]));
    assert_eq!(gj["rules"][1]["health"], "ok");
    assert_eq!(gj["rules"][1]["lastEvaluation"], "2023-11-14T22:13:20.001Z");
    assert_eq!(gj["rules"][1]["evaluationTime"], json!(0.5));
}

#[test]
fn filters_select_rules_and_drop_emptied_groups() {
    let g = group();
    let t = records(&g, &[alert("a", AlertState::Firing, 1.0)], None);
    let names = |v: &Value| -> Vec<String> {
        v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap().clone())
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let f = RulesFilter {
        recording_only: true,
        ..Default::default()
    };
    assert_eq!(names(&render(&t, &f)), ["job:load:sum"]);
    let f = RulesFilter {
        alerting_only: true,
        exclude_alerts: true,
        ..Default::default()
    };
    let v = render(&t, &f);
    assert_eq!(names(&v), ["HighLoad"]);
    assert_eq!(v["groups"][0]["rules"][0]["alerts"], Value::Null);
    assert_eq!(v["groups"][0]["rules"][0]["state"], "firing");
    let f = RulesFilter {
        rule_names: ["nothing".to_string()].into(),
        ..Default::default()
    };
    assert_eq!(render(&t, &f), json!({"groups": []}));
    let f = RulesFilter {
        files: ["other.yml".to_string()].into(),
        ..Default::default()
    };
    assert_eq!(render(&t, &f), json!({"groups": []}));
    let f = RulesFilter {
        matchers: vec![cairn_query::parse_selector(r#"{severity=~"page|ticket"}"#).unwrap()],
        ..Default::default()
    };
    assert_eq!(names(&render(&t, &f)), ["HighLoad"], "labels match one set");
    let f = RulesFilter {
        matchers: vec![
            cairn_query::parse_selector(r#"{severity="none"}"#).unwrap(),
            cairn_query::parse_selector(r#"{severity="page"}"#).unwrap(),
        ],
        ..Default::default()
    };
    assert_eq!(names(&render(&t, &f)), ["HighLoad"], "any set may match");
    let f = RulesFilter {
        matchers: vec![cairn_query::parse_selector(r#"{severity="none"}"#).unwrap()],
        ..Default::default()
    };
    assert_eq!(render(&t, &f), json!({"groups": []}));
    let f = RulesFilter {
        groups: ["g".to_string()].into(),
        files: ["api".to_string()].into(),
        ..Default::default()
    };
    assert_eq!(names(&render(&t, &f)), ["HighLoad", "job:load:sum"]);
}

#[test]
fn alerts_list_active_ones_with_keep_firing_since_only_when_set() {
    let g = group();
    let mut kept = alert("k", AlertState::Firing, 4.0);
    kept.keep_firing_since_ms = Some(1_700_000_060_000);
    let t = records(
        &g,
        &[
            kept,
            alert("p", AlertState::Pending, 1.0),
            alert("r", AlertState::Inactive, 1.0),
        ],
        None,
    );
    let v = serde_json::to_value(alert_discovery(&t)).unwrap();
    let alerts = v["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2, "{v}");
    let k = alerts
        .iter()
        .find(|a| a["labels"]["instance"] == "k")
        .unwrap();
    assert_eq!(k["keepFiringSince"], "2023-11-14T22:14:20Z");
    assert_eq!(k["value"], "4e+00");
    let p = alerts
        .iter()
        .find(|a| a["labels"]["instance"] == "p")
        .unwrap();
    assert!(p.get("keepFiringSince").is_none(), "{p}");
    assert_eq!(p["state"], "pending");
    assert_eq!(
        serde_json::to_value(alert_discovery(&TenantRules::default())).unwrap(),
        json!({"alerts": []})
    );
}
