//! The alert state machine of one alerting rule: Prometheus' `AlertingRule.Eval`
//! (rules/alerting.go, v3.0) without the query and the templates. It takes the rule's
//! current alerts and the evaluation's result elements (labels and annotations already
//! expanded) and returns the new alerts, the durable changes to commit, and the `ALERTS` /
//! `ALERTS_FOR_STATE` samples to write. It does no I/O and reads no clock.
//!
//! ```text
//!   result element, new label set ──► pending (active_at = ts)
//!   pending, ts - active_at >= for ──► firing (fired_at = ts)        (for 0: at once)
//!   pending, missing ───────────────► deleted
//!   firing, missing ────────────────► inactive (resolved_at = ts), unless keep_firing_for
//!                                     holds it: keep_firing_since = first missing ts, kept
//!                                     firing while ts - keep_firing_since < keep_firing_for
//!   inactive, ts - resolved_at > 15m ► deleted;  inactive, returned ► a new pending alert
//! ```

use std::collections::BTreeMap;

use cairn_model::{Label, Labels, METRIC_NAME, Sample};

use crate::alert::{Alert, AlertState, fingerprint};
use crate::error::Error;
use crate::rule::AlertingRule;

#[cfg(test)]
#[path = "alert_state/alert_state_test.rs"]
mod alert_state_test;

/// How long a resolved alert is kept (and reported as resolved): Prometheus'
/// `resolvedRetention`.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60_000;

/// The metric name of the synthetic alert series.
pub const ALERTS_METRIC: &str = "ALERTS";
/// The metric name of the series that records each alert's `active_at` (seconds).
pub const ALERTS_FOR_STATE_METRIC: &str = "ALERTS_FOR_STATE";
/// The label that names the alert.
pub const ALERTNAME_LABEL: &str = "alertname";
/// The label of `ALERTS` that holds the alert's state.
pub const ALERTSTATE_LABEL: &str = "alertstate";

/// One element of the rule's result, as the alert it describes: its identifying labels
/// (result labels without `__name__`, the rule's expanded labels, `alertname`), its
/// expanded annotations and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertInput {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub value: f64,
}

/// A durable change to one alert: `alert` is its new form, `None` when it was deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertChange {
    pub fingerprint: u64,
    pub alert: Option<Alert>,
}

/// What one evaluation step decided.
#[derive(Debug)]
pub struct StepOutcome {
    /// The rule's alerts after the step (pending, firing and retained inactive ones).
    pub alerts: BTreeMap<u64, Alert>,
    /// Only the alerts whose durable fields changed (see [`durable_eq`]), by fingerprint.
    pub changes: Vec<AlertChange>,
    /// `ALERTS` and `ALERTS_FOR_STATE` samples for every pending or firing alert, at the
    /// query time (`ts - query_offset`).
    pub samples: Vec<(Labels, Sample)>,
    /// Set when the step failed: a duplicate label set (state unchanged, nothing written)
    /// or the limit exceeded (all state cleared, nothing written), as Prometheus.
    pub error: Option<Error>,
}

/// The durable fields of two alerts are equal: those the meta group stores and a new
/// leader resumes from. The value and the annotations are left out: they are recomputed
/// at every evaluation, and committing them would make every evaluation a change.
pub fn durable_eq(a: &Alert, b: &Alert) -> bool {
    a.state == b.state
        && a.active_at_ms == b.active_at_ms
        && a.fired_at_ms == b.fired_at_ms
        && a.resolved_at_ms == b.resolved_at_ms
        && a.keep_firing_since_ms == b.keep_firing_since_ms
        && a.labels == b.labels
}

/// One evaluation of an alerting rule at `ts_ms` (the group's evaluation time), given its
/// current alerts and the result elements of its query. `limit` is the group's limit
/// (0: none); samples are stamped `ts_ms - query_offset_ms`, as Prometheus does.
pub fn step(
    rule: &AlertingRule,
    current: BTreeMap<u64, Alert>,
    results: Vec<AlertInput>,
    ts_ms: i64,
    query_offset_ms: i64,
    limit: u64,
) -> StepOutcome {
    // New alerts from the result, checked for duplicates before any state is touched.
    let mut returned: BTreeMap<u64, Alert> = BTreeMap::new();
    for r in results {
        let fp = fingerprint(&r.labels);
        if returned.contains_key(&fp) {
            return StepOutcome {
                alerts: current,
                changes: Vec::new(),
                samples: Vec::new(),
                error: Some(Error::DuplicateAlertLabels),
            };
        }
        returned.insert(
            fp,
            Alert {
                labels: r.labels,
                annotations: r.annotations,
                state: AlertState::Pending,
                active_at_ms: ts_ms,
                fired_at_ms: None,
                resolved_at_ms: None,
                keep_firing_since_ms: None,
                value: r.value,
            },
        );
    }

    let before = current.clone();
    let mut active = current;
    for (fp, new) in &returned {
        match active.get_mut(fp) {
            // A live alert keeps its timers; only what is recomputed each time changes.
            Some(a) if a.state != AlertState::Inactive => {
                a.value = new.value;
                a.annotations = new.annotations.clone();
            }
            // New, or returning after it resolved: a new pending alert.
            _ => {
                active.insert(*fp, new.clone());
            }
        }
    }

    let sample_ts = ts_ms - query_offset_ms;
    let mut samples = Vec::new();
    let mut live = 0usize;
    let fps: Vec<u64> = active.keys().copied().collect();
    for fp in fps {
        let Some(a) = active.get_mut(&fp) else {
            continue;
        };
        if returned.contains_key(&fp) {
            a.keep_firing_since_ms = None;
        } else {
            let mut keep_firing = false;
            if a.state == AlertState::Firing && rule.keep_firing_for_ms > 0 {
                let since = *a.keep_firing_since_ms.get_or_insert(ts_ms);
                keep_firing = ts_ms - since < rule.keep_firing_for_ms;
            }
            // Decided on the state before this step: a pending alert goes at once, a
            // resolved one once it has been reported as resolved for the retention.
            let expired = a.state == AlertState::Pending
                || a.resolved_at_ms
                    .is_some_and(|r| ts_ms - r > RESOLVED_RETENTION_MS);
            if expired {
                active.remove(&fp);
                continue;
            }
            if !keep_firing {
                if a.state != AlertState::Inactive {
                    a.state = AlertState::Inactive;
                    a.resolved_at_ms = Some(ts_ms);
                }
                continue;
            }
        }
        live += 1;
        if a.state == AlertState::Pending && ts_ms - a.active_at_ms >= rule.for_ms {
            a.state = AlertState::Firing;
            a.fired_at_ms = Some(ts_ms);
        }
        samples.push(alerts_sample(rule, a, sample_ts));
        samples.push(for_state_sample(rule, a, sample_ts));
    }

    if limit > 0 && live as u64 > limit {
        let changes = before
            .keys()
            .map(|fp| AlertChange {
                fingerprint: *fp,
                alert: None,
            })
            .collect();
        return StepOutcome {
            alerts: BTreeMap::new(),
            changes,
            samples: Vec::new(),
            error: Some(Error::AlertLimit { limit, count: live }),
        };
    }

    let changes = diff(&before, &active);
    StepOutcome {
        alerts: active,
        changes,
        samples,
        error: None,
    }
}

/// The durable changes from `before` to `after`, in fingerprint order.
pub fn diff(before: &BTreeMap<u64, Alert>, after: &BTreeMap<u64, Alert>) -> Vec<AlertChange> {
    let mut changes = Vec::new();
    for (fp, old) in before {
        match after.get(fp) {
            None => changes.push(AlertChange {
                fingerprint: *fp,
                alert: None,
            }),
            Some(new) if !durable_eq(old, new) => changes.push(AlertChange {
                fingerprint: *fp,
                alert: Some(new.clone()),
            }),
            Some(_) => {}
        }
    }
    for (fp, new) in after {
        if !before.contains_key(fp) {
            changes.push(AlertChange {
                fingerprint: *fp,
                alert: Some(new.clone()),
            });
        }
    }
    changes.sort_by_key(|c| c.fingerprint);
    changes
}

/// The `ALERTS` and `ALERTS_FOR_STATE` series a live (pending or firing) alert writes at
/// every evaluation; none for an inactive one.
pub fn series_of(rule: &AlertingRule, a: &Alert) -> Vec<Labels> {
    if a.state == AlertState::Inactive {
        return Vec::new();
    }
    vec![alerts_sample(rule, a, 0).0, for_state_sample(rule, a, 0).0]
}

/// `ALERTS{alertstate=...} 1`: the rule's (unexpanded) labels, overlaid with the alert's,
/// then `__name__`, `alertname` and `alertstate`, as Prometheus' `AlertingRule.sample`.
fn alerts_sample(rule: &AlertingRule, a: &Alert, t: i64) -> (Labels, Sample) {
    let mut l = base_labels(rule, a, ALERTS_METRIC);
    l.insert(ALERTSTATE_LABEL.to_string(), a.state.as_str().to_string());
    (to_labels(l), Sample::new(t, 1.0))
}

/// `ALERTS_FOR_STATE`: the alert's `active_at` in whole seconds (Go's `Time.Unix()`).
fn for_state_sample(rule: &AlertingRule, a: &Alert, t: i64) -> (Labels, Sample) {
    let l = base_labels(rule, a, ALERTS_FOR_STATE_METRIC);
    let secs = a.active_at_ms.div_euclid(1000);
    (to_labels(l), Sample::new(t, secs as f64))
}

fn base_labels(rule: &AlertingRule, a: &Alert, metric: &str) -> BTreeMap<String, String> {
    // Prometheus starts from the rule's label templates as written; an expanded label that
    // came out empty is absent from the alert, so its template text shows through here.
    let mut l = rule.labels.clone();
    for (k, v) in &a.labels {
        l.insert(k.clone(), v.clone());
    }
    l.insert(METRIC_NAME.to_string(), metric.to_string());
    l.insert(ALERTNAME_LABEL.to_string(), rule.alert.clone());
    l
}

/// A sorted map as a label set (empty values mean "absent", as everywhere).
pub(crate) fn to_labels(m: BTreeMap<String, String>) -> Labels {
    Labels::from_sorted_unchecked(
        m.into_iter()
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            .map(|(k, v)| Label::new(k, v))
            .collect(),
    )
}
