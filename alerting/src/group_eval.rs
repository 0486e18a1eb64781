//! Evaluating one rule group once: Prometheus' `Group.Eval` (rules/group.go, v3.0) with its
//! rules' `Eval`s (rules/recording.go, rules/alerting.go). Rules run in order, each at the
//! group's evaluation time, and later rules read what earlier ones wrote at the same
//! timestamp: output is held and written once per group, but before any rule that may read
//! it (`pending_output`), so a group costs one replicated write, not one per rule.
//!
//! ```text
//!  ts ──► for each rule (in order):
//!          query at ts - query_offset ──► QueryEngine over store.querier()
//!          recording: rename, labels, duplicate / limit checks ─────────┐
//!          alerting:  drop __name__, expand label + annotation templates│
//!                     ──► alert_state::step ──► AlertChange (report)    │
//!          + stale markers for last evaluation's series now missing ────┴─► held output
//!        held output ──► store.append: before a rule that may read it, and at the end
//! ```
//!
//! It owns the per-rule state a leader keeps between evaluations ([`GroupState`]) and what
//! one evaluation reports ([`GroupReport`]). It must not schedule (see `schedule`), commit
//! alert changes (the node does, from the report) or send notifications. A rule that fails
//! sets its health to `err` and does not stop the group; it writes nothing, not even stale
//! markers, as in Prometheus.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use cairn_model::{Labels, METRIC_NAME, STALE_NAN_BITS, Sample};
use cairn_query::{QueryEngine, QueryValue};

use crate::alert::Alert;
use crate::alert_state::{self, ALERTNAME_LABEL, AlertChange, AlertInput, to_labels};
use crate::error::{Error, Result};
use crate::rule::{AlertingRule, RecordingRule, Rule, RuleGroup};
use crate::rule_store::RuleStore;
use crate::template::AlertTemplateData;

mod pending_output;
mod template_data;

use pending_output::PendingOutput;

#[cfg(test)]
#[path = "group_eval/group_eval_test.rs"]
mod group_eval_test;

/// Evaluates rule groups of one tenant. Holds only configuration.
#[derive(Debug, Clone)]
pub struct GroupEvaluator {
    pub engine: QueryEngine,
    /// `$externalLabels` in templates.
    pub external_labels: BTreeMap<String, String>,
    /// `$externalURL` in templates.
    pub external_url: String,
}

/// A rule's health, as `/api/v1/rules` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleHealth {
    /// Not evaluated yet.
    Unknown,
    Ok,
    Err,
}

impl RuleHealth {
    /// Prometheus' name: `unknown`, `ok`, `err`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleHealth::Unknown => "unknown",
            RuleHealth::Ok => "ok",
            RuleHealth::Err => "err",
        }
    }
}

/// What a leader keeps for one rule between evaluations.
#[derive(Debug, Clone)]
pub struct RuleState {
    /// An alerting rule's alerts by fingerprint (empty for a recording rule).
    pub alerts: BTreeMap<u64, Alert>,
    /// The series the rule wrote at its last successful evaluation (Prometheus'
    /// `seriesInPreviousEval`): those missing next time get a stale marker.
    pub previous_series: BTreeSet<Labels>,
    pub health: RuleHealth,
    pub last_error: Option<String>,
    /// The group evaluation time of the rule's last evaluation.
    pub last_eval_ts_ms: Option<i64>,
    pub last_duration: Duration,
}

impl Default for RuleState {
    fn default() -> Self {
        RuleState {
            alerts: BTreeMap::new(),
            previous_series: BTreeSet::new(),
            health: RuleHealth::Unknown,
            last_error: None,
            last_eval_ts_ms: None,
            last_duration: Duration::ZERO,
        }
    }
}

/// The state of every rule of a group, by rule index.
#[derive(Debug, Clone, Default)]
pub struct GroupState {
    pub rules: Vec<RuleState>,
    pub last_eval_ts_ms: Option<i64>,
    pub last_duration: Duration,
}

impl GroupState {
    /// A group never evaluated.
    pub fn new(group: &RuleGroup) -> GroupState {
        GroupState {
            rules: vec![RuleState::default(); group.rules.len()],
            last_eval_ts_ms: None,
            last_duration: Duration::ZERO,
        }
    }

    /// The state a new leader resumes from: the committed alerts, each with the index of its
    /// rule. Alerts of an index the group does not have, or of a recording rule, are
    /// dropped. The `ALERTS`/`ALERTS_FOR_STATE` series of the live alerts count as written
    /// at the previous evaluation, so those that are gone at the first evaluation get their
    /// stale markers; a recording rule's previous series are unknown (none get one).
    pub fn restore(group: &RuleGroup, alerts: Vec<(usize, Alert)>) -> GroupState {
        let mut st = GroupState::new(group);
        for (i, a) in alerts {
            if let (Some(Rule::Alerting(r)), Some(rs)) = (group.rules.get(i), st.rules.get_mut(i)) {
                rs.previous_series.extend(alert_state::series_of(r, &a));
                rs.alerts.insert(crate::alert::fingerprint(&a.labels), a);
            }
        }
        st
    }
}

/// One rule's part of a [`GroupReport`].
#[derive(Debug, Clone, PartialEq)]
pub struct RuleReport {
    pub health: RuleHealth,
    pub error: Option<String>,
    pub duration: Duration,
    /// Samples the rule produced (recording series, or `ALERTS`/`ALERTS_FOR_STATE`).
    pub series: usize,
}

/// What one evaluation of a group did.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupReport {
    pub rules: Vec<RuleReport>,
    pub duration: Duration,
    /// Durable alert changes to commit, with the index of their rule.
    pub changes: Vec<(usize, AlertChange)>,
}

/// Samples a rule produced, to be written.
type Samples = Vec<(Labels, Sample)>;

impl GroupEvaluator {
    /// Evaluates every rule of `group` at `ts_ms` (the group's evaluation time), writing
    /// through `store` and updating `state`.
    pub fn eval(
        &self,
        group: &RuleGroup,
        state: &mut GroupState,
        store: &mut dyn RuleStore,
        ts_ms: i64,
    ) -> GroupReport {
        let start = Instant::now();
        // A state built for another version of the group: keep what lines up by index.
        state
            .rules
            .resize_with(group.rules.len(), RuleState::default);
        let offset = group.query_offset_ms.unwrap_or(0);
        let mut report = GroupReport {
            rules: Vec::with_capacity(group.rules.len()),
            duration: Duration::ZERO,
            changes: Vec::new(),
        };
        let mut pending = PendingOutput::default();
        for (i, rule) in group.rules.iter().enumerate() {
            if pending.may_be_read_by(rule) {
                flush(&mut pending, state, store, &mut report);
            }
            let rule_start = Instant::now();
            let rs = &mut state.rules[i];
            let (changes, output) = match rule {
                Rule::Recording(r) => (
                    Vec::new(),
                    self.eval_recording(r, store, ts_ms, offset, group.limit),
                ),
                Rule::Alerting(r) => self.eval_alerting(r, rs, store, ts_ms, offset, group.limit),
            };
            // Deletions by the limit are reported even though the rule failed.
            report.changes.extend(changes.into_iter().map(|c| (i, c)));
            let mut series = 0;
            match output {
                Ok(samples) => {
                    series = samples.len();
                    let (batch, returned) = with_stale_markers(rs, samples, ts_ms - offset);
                    pending.add(i, batch, returned);
                    rs.health = RuleHealth::Ok;
                    rs.last_error = None;
                }
                Err(e) => {
                    rs.health = RuleHealth::Err;
                    rs.last_error = Some(e.to_string());
                }
            }
            rs.last_eval_ts_ms = Some(ts_ms);
            rs.last_duration = rule_start.elapsed();
            report.rules.push(RuleReport {
                health: rs.health,
                error: rs.last_error.clone(),
                duration: rs.last_duration,
                series,
            });
        }
        flush(&mut pending, state, store, &mut report);
        state.last_eval_ts_ms = Some(ts_ms);
        state.last_duration = start.elapsed();
        report.duration = state.last_duration;
        report
    }

    /// Runs a rule's expression at `t` the way Prometheus' `EngineQueryFunc` does: a
    /// vector as is, a scalar as one sample without labels, anything else an error.
    fn query(&self, store: &dyn RuleStore, expr: &str, t: i64) -> Result<Vec<(Labels, f64)>> {
        let res = self.engine.instant(store.querier(), expr, t, None)?;
        match res.value {
            QueryValue::Vector(v) => Ok(v.into_iter().map(|e| (e.labels, e.sample.v)).collect()),
            QueryValue::Scalar(s) => Ok(vec![(Labels::default(), s.v)]),
            _ => Err(Error::NotAVector),
        }
    }

    fn eval_recording(
        &self,
        r: &RecordingRule,
        store: &dyn RuleStore,
        ts_ms: i64,
        offset: i64,
        limit: u64,
    ) -> Result<Samples> {
        let t = ts_ms - offset;
        let res = self.query(store, &r.expr, t)?;
        let mut seen = BTreeSet::new();
        let mut samples = Vec::with_capacity(res.len());
        for (labels, v) in res {
            let mut m = to_map(&labels);
            m.insert(METRIC_NAME.to_string(), r.record.clone());
            // Prometheus' label builder: setting an empty value removes the label.
            for (k, val) in &r.labels {
                m.insert(k.clone(), val.clone());
            }
            let l = to_labels(m);
            if !seen.insert(l.clone()) {
                return Err(Error::DuplicateRuleLabels);
            }
            samples.push((l, Sample::new(t, v)));
        }
        if limit > 0 && samples.len() as u64 > limit {
            return Err(Error::SeriesLimit {
                limit,
                count: samples.len(),
            });
        }
        Ok(samples)
    }

    fn eval_alerting(
        &self,
        r: &AlertingRule,
        rs: &mut RuleState,
        store: &dyn RuleStore,
        ts_ms: i64,
        offset: i64,
        limit: u64,
    ) -> (Vec<AlertChange>, Result<Samples>) {
        let res = match self.query(store, &r.expr, ts_ms - offset) {
            Ok(res) => res,
            Err(e) => return (Vec::new(), Err(e)),
        };
        let tmpl_name = format!("__alert_{}", r.alert);
        let mut inputs = Vec::with_capacity(res.len());
        for (labels, value) in res {
            let data_labels = to_map(&labels);
            let data = AlertTemplateData {
                labels: &data_labels,
                external_labels: &self.external_labels,
                external_url: &self.external_url,
                value,
            };
            // Templates query at the evaluation time itself, not the offset one, as
            // Prometheus' template expander does.
            let querier = template_data::EngineQuerier {
                engine: &self.engine,
                store,
                t: ts_ms,
            };
            let expand = |text: &str| template_data::expand(&tmpl_name, text, &data, &querier);
            let mut alert_labels = data_labels.clone();
            alert_labels.remove(METRIC_NAME);
            for (k, text) in &r.labels {
                let v = expand(text);
                // An expanded label that is empty is absent (Prometheus' builder).
                if v.is_empty() {
                    alert_labels.remove(k);
                } else {
                    alert_labels.insert(k.clone(), v);
                }
            }
            alert_labels.insert(ALERTNAME_LABEL.to_string(), r.alert.clone());
            let annotations = r
                .annotations
                .iter()
                .map(|(k, text)| (k.clone(), expand(text)))
                .collect();
            inputs.push(AlertInput {
                labels: alert_labels,
                annotations,
                value,
            });
        }
        let current = std::mem::take(&mut rs.alerts);
        let out = alert_state::step(r, current, inputs, ts_ms, offset, limit);
        rs.alerts = out.alerts;
        match out.error {
            Some(e) => (out.changes, Err(e)),
            None => (out.changes, Ok(out.samples)),
        }
    }
}

/// A rule's samples plus stale markers for the series it wrote last time and not this time,
/// and the set of series it returned.
fn with_stale_markers(
    rs: &RuleState,
    samples: Vec<(Labels, Sample)>,
    stale_t: i64,
) -> (Vec<(Labels, Sample)>, BTreeSet<Labels>) {
    let returned: BTreeSet<Labels> = samples.iter().map(|(l, _)| l.clone()).collect();
    let mut batch = samples;
    for gone in rs.previous_series.difference(&returned) {
        batch.push((
            gone.clone(),
            Sample::new(stale_t, f64::from_bits(STALE_NAN_BITS)),
        ));
    }
    (batch, returned)
}

/// Writes the held output in one append. On success each rule remembers the series it
/// returned (for next time's stale markers); on failure every rule whose output it held is
/// unhealthy with the write's error, as a rule whose own append failed is in Prometheus.
fn flush(
    pending: &mut PendingOutput,
    state: &mut GroupState,
    store: &mut dyn RuleStore,
    report: &mut GroupReport,
) {
    if pending.is_empty() {
        return;
    }
    let held = std::mem::take(pending);
    let result = if held.samples.is_empty() {
        Ok(())
    } else {
        store.append(held.samples)
    };
    for (i, returned) in held.rules {
        let rs = &mut state.rules[i];
        match &result {
            Ok(()) => rs.previous_series = returned,
            Err(e) => {
                rs.health = RuleHealth::Err;
                rs.last_error = Some(e.to_string());
                if let Some(r) = report.rules.get_mut(i) {
                    r.health = rs.health;
                    r.error = rs.last_error.clone();
                }
            }
        }
    }
}

fn to_map(l: &Labels) -> BTreeMap<String, String> {
    l.iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}
