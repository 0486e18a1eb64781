//! The alerts a rule group hands to the notification pipeline after an evaluation, as
//! Prometheus' `sendAlerts` builds them for Alertmanager: firing alerts and alerts resolved
//! within the retention (pending ones are not sent); `starts_at` is when the alert fired,
//! `ends_at` its resolution or, while it fires, the evaluation time plus four evaluation
//! intervals (at least a minute each: Prometheus' resend delay), so an alert whose rule stops
//! being evaluated resolves by itself. External labels are added where the alert lacks them,
//! as Prometheus' notifier adds them.

use std::collections::BTreeMap;

use super::notify_alert::NotifyAlert;
use crate::alert::{Alert, AlertState};

/// Prometheus' default `rules.alert.resend-delay`.
const RESEND_DELAY_MS: i64 = 60_000;

/// What every alert of a tenant's rules shares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleAlertContext {
    /// `[rules] external_labels`.
    pub external_labels: BTreeMap<String, String>,
    /// `[rules] external_url`.
    pub external_url: String,
}

/// One alerting rule's alerts (its expression `expr`) at the evaluation at `eval_ts_ms` of a
/// group evaluated every `interval_ms`.
pub fn rule_notify_alerts<'a>(
    ctx: &RuleAlertContext,
    expr: &str,
    alerts: impl IntoIterator<Item = &'a Alert>,
    eval_ts_ms: i64,
    interval_ms: i64,
) -> Vec<NotifyAlert> {
    let generator_url = format!(
        "{}/graph?g0.expr={}&g0.tab=1",
        ctx.external_url,
        crate::template::builtins::query_escape(expr)
    );
    let valid_until = eval_ts_ms + 4 * interval_ms.max(RESEND_DELAY_MS);
    alerts
        .into_iter()
        .filter(|a| a.state != AlertState::Pending)
        .filter_map(|a| {
            // An alert that never fired (pending, then gone) has nothing to notify.
            let starts_at_ms = a.fired_at_ms?;
            let mut labels = a.labels.clone();
            for (n, v) in &ctx.external_labels {
                labels.entry(n.clone()).or_insert_with(|| v.clone());
            }
            Some(NotifyAlert {
                labels,
                annotations: a.annotations.clone(),
                starts_at_ms,
                ends_at_ms: match a.state {
                    AlertState::Inactive => a.resolved_at_ms.unwrap_or(eval_ts_ms),
                    _ => valid_until,
                },
                generator_url: generator_url.clone(),
                updated_at_ms: eval_ts_ms,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(name: &str, state: AlertState, fired: Option<i64>, resolved: Option<i64>) -> Alert {
        Alert {
            labels: BTreeMap::from([
                ("alertname".to_string(), name.to_string()),
                ("cluster".to_string(), "own".to_string()),
            ]),
            annotations: BTreeMap::from([("summary".to_string(), "s".to_string())]),
            state,
            active_at_ms: 1_000,
            fired_at_ms: fired,
            resolved_at_ms: resolved,
            keep_firing_since_ms: None,
            value: 1.0,
        }
    }

    #[test]
    fn firing_and_resolved_alerts_as_prometheus_sends_them() {
        let ctx = RuleAlertContext {
            external_labels: BTreeMap::from([
                ("cluster".to_string(), "eu1".to_string()),
                ("region".to_string(), "eu".to_string()),
            ]),
            external_url: "http://cairn:7480".to_string(),
        };
        let alerts = [
            alert("Firing", AlertState::Firing, Some(2_000), None),
            alert("Pending", AlertState::Pending, None, None),
            alert("Resolved", AlertState::Inactive, Some(2_000), Some(50_000)),
        ];
        let out = rule_notify_alerts(&ctx, r#"up{job="a b"} == 0"#, &alerts, 60_000, 15_000);
        assert_eq!(out.len(), 2);
        let firing = &out[0];
        assert_eq!(firing.starts_at_ms, 2_000);
        // Four times the resend delay (1m), the interval being shorter.
        assert_eq!(firing.ends_at_ms, 60_000 + 240_000);
        assert_eq!(firing.labels["cluster"], "own");
        assert_eq!(firing.labels["region"], "eu");
        assert_eq!(firing.annotations["summary"], "s");
        assert_eq!(
            firing.generator_url,
            "http://cairn:7480/graph?g0.expr=up%7Bjob%3D%22a+b%22%7D+%3D%3D+0&g0.tab=1"
        );
        assert_eq!(out[1].ends_at_ms, 50_000);
        assert!(out[1].resolved_at(60_000));
        // A long interval sets the validity.
        let out = rule_notify_alerts(&ctx, "x", &alerts[..1], 60_000, 300_000);
        assert_eq!(out[0].ends_at_ms, 60_000 + 1_200_000);
    }
}
