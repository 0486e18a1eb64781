//! Prometheus' JSON for `/api/v1/rules` and `/api/v1/alerts` (web/api/v1/api.go, v3.0:
//! `RuleDiscovery`, `RuleGroup`, `AlertingRule`, `RecordingRule`, `Alert`), rendered from a
//! tenant's committed records. Structs, not `json!`, so fields come out in Go's order.
//!
//! ```text
//!  TenantRules ─► rule_discovery(filter) ─► {"groups":[{name, file, rules:[...], interval, ...}]}
//!              └► alert_discovery()      ─► {"alerts":[{labels, annotations, state, activeAt, ...}]}
//! ```
//! Status (health, lastError, evaluation times) comes from the group's `rulestatus/` record;
//! without one a rule is `unknown` and never evaluated (Go's zero time), as in Prometheus
//! before a group's first evaluation.

use std::collections::{BTreeMap, BTreeSet};

use cairn_alerting::state_keys::{GroupStatus, RuleStatus};
use cairn_alerting::{AlertState, Rule, RuleGroup};
use serde::Serialize;

use super::tenant_rules::{StoredAlert, TenantRules};
use crate::timeparse::format_rfc3339_ms;

/// `RuleDiscovery`.
#[derive(Debug, Serialize)]
pub struct RuleDiscovery {
    pub groups: Vec<GroupJson>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupJson {
    pub name: String,
    pub file: String,
    pub rules: Vec<RuleJson>,
    pub interval: f64,
    pub limit: u64,
    pub evaluation_time: f64,
    pub last_evaluation: String,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum RuleJson {
    Alerting(AlertingRuleJson),
    Recording(RecordingRuleJson),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertingRuleJson {
    pub state: &'static str,
    pub name: String,
    pub query: String,
    pub duration: f64,
    pub keep_firing_for: f64,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `null` with `exclude_alerts=true`, as Prometheus.
    pub alerts: Option<Vec<AlertJson>>,
    pub health: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_error: String,
    pub evaluation_time: f64,
    pub last_evaluation: String,
    #[serde(rename = "type")]
    pub typ: &'static str,
    /// Cairn's addition: the simple kind the rule was written as (`query` is its PromQL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<KindJson>,
}

#[derive(Debug, Serialize)]
pub struct KindJson {
    pub kind: String,
    pub params: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingRuleJson {
    pub name: String,
    pub query: String,
    /// Always present: Prometheus 3.0's release builds (`stringlabels`) write `{}` for none.
    pub labels: BTreeMap<String, String>,
    pub health: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_error: String,
    pub evaluation_time: f64,
    pub last_evaluation: String,
    #[serde(rename = "type")]
    pub typ: &'static str,
}

/// `AlertDiscovery`.
#[derive(Debug, Serialize)]
pub struct AlertDiscovery {
    pub alerts: Vec<AlertJson>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertJson {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub state: &'static str,
    pub active_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_firing_since: Option<String>,
    pub value: String,
}

/// Which rules `GET /api/v1/rules` lists (its query parameters).
#[derive(Debug, Clone, Default)]
pub struct RulesFilter {
    /// `type=alert` / `type=record`; `None`: both.
    pub alerting_only: bool,
    pub recording_only: bool,
    /// `rule_name[]`, `rule_group[]`, `file[]`: empty sets match everything.
    pub rule_names: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    pub files: BTreeSet<String>,
    pub exclude_alerts: bool,
    /// `match[]`: a rule is listed if its labels match one of the sets (none: every rule).
    pub matchers: Vec<Vec<cairn_model::Matcher>>,
}

impl RulesFilter {
    fn labels_match(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers.is_empty()
            || self.matchers.iter().any(|set| {
                set.iter()
                    .all(|m| m.matches(labels.get(&m.name).map_or("", String::as_str)))
            })
    }
}

/// The tenant's groups as `/api/v1/rules` lists them. A group left without rules by the
/// filter (or without any) is not listed, as in Prometheus.
/// `default_interval_ms`: the interval of a group that sets none (`[rules] evaluation_interval`).
pub fn rule_discovery(t: &TenantRules, f: &RulesFilter, default_interval_ms: i64) -> RuleDiscovery {
    let mut groups = Vec::new();
    for g in &t.groups {
        if (!f.groups.is_empty() && !f.groups.contains(&g.name))
            || (!f.files.is_empty() && !f.files.contains(&g.file))
        {
            continue;
        }
        let status = t.status.get(&g.key());
        let alerts = t.alerts_of(&g.key());
        let mut rules = Vec::new();
        for (i, r) in g.rules.iter().enumerate() {
            if (!f.rule_names.is_empty() && !f.rule_names.contains(r.name()))
                || !f.labels_match(r.labels())
            {
                continue;
            }
            let rs = status.and_then(|s| s.rules.get(i));
            match r {
                Rule::Alerting(a) if !f.recording_only => {
                    let mine: Vec<&StoredAlert> = alerts
                        .iter()
                        .filter(|s| s.rule_index == i && is_active(s))
                        .collect();
                    let state = mine
                        .iter()
                        .map(|s| s.alert.state)
                        .max_by_key(|s| state_rank(*s))
                        .unwrap_or(AlertState::Inactive);
                    rules.push(RuleJson::Alerting(AlertingRuleJson {
                        state: state.as_str(),
                        name: a.alert.clone(),
                        query: query_string(&a.expr),
                        duration: a.for_ms as f64 / 1000.0,
                        keep_firing_for: a.keep_firing_for_ms as f64 / 1000.0,
                        labels: a.labels.clone(),
                        annotations: a.annotations.clone(),
                        alerts: (!f.exclude_alerts)
                            .then(|| mine.iter().map(|s| alert_json(s)).collect()),
                        health: health(rs),
                        last_error: rs.map(|s| s.last_error.clone()).unwrap_or_default(),
                        evaluation_time: rs.map_or(0.0, |s| s.evaluation_seconds),
                        last_evaluation: go_time(rs.map_or(0, |s| s.last_evaluation_ms)),
                        typ: "alerting",
                        kind: a.kind.as_ref().map(|k| KindJson {
                            kind: k.kind.clone(),
                            params: k.params.clone(),
                        }),
                    }));
                }
                Rule::Recording(r) if !f.alerting_only => {
                    rules.push(RuleJson::Recording(RecordingRuleJson {
                        name: r.record.clone(),
                        query: query_string(&r.expr),
                        labels: r.labels.clone(),
                        health: health(rs),
                        last_error: rs.map(|s| s.last_error.clone()).unwrap_or_default(),
                        evaluation_time: rs.map_or(0.0, |s| s.evaluation_seconds),
                        last_evaluation: go_time(rs.map_or(0, |s| s.last_evaluation_ms)),
                        typ: "recording",
                    }));
                }
                _ => {}
            }
        }
        if rules.is_empty() {
            continue;
        }
        groups.push(group_json(g, status, rules, default_interval_ms));
    }
    RuleDiscovery { groups }
}

/// Every active (pending or firing) alert of the tenant, group by group in rule order.
pub fn alert_discovery(t: &TenantRules) -> AlertDiscovery {
    let alerts = t
        .groups
        .iter()
        .flat_map(|g| t.alerts_of(&g.key()))
        .filter(|s| is_active(s))
        .map(alert_json)
        .collect();
    AlertDiscovery { alerts }
}

fn group_json(
    g: &RuleGroup,
    status: Option<&GroupStatus>,
    rules: Vec<RuleJson>,
    default_interval_ms: i64,
) -> GroupJson {
    GroupJson {
        name: g.name.clone(),
        file: g.file.clone(),
        rules,
        interval: g.interval_ms.unwrap_or(default_interval_ms) as f64 / 1000.0,
        limit: g.limit,
        evaluation_time: status.map_or(0.0, |s| s.evaluation_seconds),
        last_evaluation: go_time(status.map_or(0, |s| s.last_evaluation_ms)),
    }
}

/// Prometheus lists an alert until it resolves (`ActiveAlerts`: no `ResolvedAt`).
fn is_active(s: &StoredAlert) -> bool {
    s.alert.state != AlertState::Inactive && s.alert.resolved_at_ms.is_none()
}

fn state_rank(s: AlertState) -> u8 {
    match s {
        AlertState::Inactive => 0,
        AlertState::Pending => 1,
        AlertState::Firing => 2,
    }
}

fn alert_json(s: &StoredAlert) -> AlertJson {
    let a = &s.alert;
    AlertJson {
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        state: a.state.as_str(),
        active_at: go_time(a.active_at_ms),
        keep_firing_since: a.keep_firing_since_ms.map(go_time),
        value: go_float_e(a.value),
    }
}

fn health(rs: Option<&RuleStatus>) -> String {
    match rs {
        Some(s) if !s.health.is_empty() => s.health.clone(),
        _ => "unknown".to_string(),
    }
}

/// The expression as Prometheus prints a parsed one (`Expr.String()`); the text as stored
/// if it does not parse (it did when the rule was accepted).
fn query_string(expr: &str) -> String {
    promql_parser::parser::parse(expr)
        .map(|e| e.to_string())
        .unwrap_or_else(|_| expr.to_string())
}

/// Go's `time.Time` in JSON (RFC 3339 with nanoseconds, trailing zeros trimmed), in UTC;
/// 0 is Go's zero time, `0001-01-01T00:00:00Z`, as Prometheus writes a time never set.
pub fn go_time(ms: i64) -> String {
    if ms == 0 {
        return "0001-01-01T00:00:00Z".to_string();
    }
    let s = format_rfc3339_ms(ms);
    // "...:20.500Z" → "...:20.5Z", "...:20.000Z" → "...:20Z"
    match s.strip_suffix('Z').and_then(|x| x.split_once('.')) {
        Some((whole, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                format!("{whole}Z")
            } else {
                format!("{whole}.{frac}Z")
            }
        }
        None => s,
    }
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: the shortest digits that round-trip, with
/// an exponent of at least two digits and a sign (`1e+00`, `1.5e-07`, `NaN`, `+Inf`).
pub fn go_float_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    // Rust's `{:e}` has the same shortest digits: `1.5e-7`, `1e0`.
    let s = format!("{v:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

#[cfg(test)]
mod rules_json_test;
