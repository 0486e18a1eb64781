//! `RuleMetrics`: what the rule evaluation driver reports in `/metrics`, per rule group
//! (labels `tenant` and `rule_group` = `file;name`, as Prometheus' `rule_group`) and in
//! total. Only the meta leader evaluates, so only its groups have series; a group's series
//! go when its task stops (deleted, replaced, leadership lost), as Prometheus drops a
//! removed group's.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// One group's figures (Prometheus' `prometheus_rule_group_*`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupFigures {
    /// Seconds the last evaluation took (`_last_duration_seconds`).
    pub last_duration_seconds: f64,
    /// When the last evaluation ran, its evaluation timestamp (ms; 0: never).
    pub last_evaluation_ms: i64,
    pub interval_seconds: f64,
    pub iterations: u64,
    /// Evaluations skipped because the one before overran its interval.
    pub iterations_missed: u64,
    pub rules: usize,
}

/// (tenant, group key `file;name`).
type GroupId = (String, String);

#[derive(Default)]
pub struct RuleMetrics {
    groups: Mutex<BTreeMap<GroupId, GroupFigures>>,
    /// Rule evaluations, every rule of every group.
    pub evaluations: AtomicU64,
    /// Rule evaluations that failed (query error, output not written).
    pub evaluation_failures: AtomicU64,
    /// Meta-group commands carrying alert state (and group status) changes.
    pub state_commits: AtomicU64,
    /// Bytes of keys and values those commands proposed.
    pub state_commit_bytes: AtomicU64,
}

impl RuleMetrics {
    /// Changes a group's figures (creating them at zero first).
    pub fn update(&self, tenant: &str, group: &str, f: impl FnOnce(&mut GroupFigures)) {
        let mut g = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        f(g.entry((tenant.to_string(), group.to_string()))
            .or_default());
    }

    /// Forgets a group (its task stopped).
    pub fn remove(&self, tenant: &str, group: &str) {
        let mut g = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        g.remove(&(tenant.to_string(), group.to_string()));
    }

    pub fn group(&self, tenant: &str, group: &str) -> Option<GroupFigures> {
        let g = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        g.get(&(tenant.to_string(), group.to_string())).cloned()
    }

    /// Appends the families in the text exposition format.
    pub fn render(&self, o: &mut String) {
        let groups = self
            .groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        type Value = fn(&GroupFigures) -> String;
        let families: [(&str, &str, &str, Value); 6] = [
            (
                "cairn_rule_group_last_duration_seconds",
                "gauge",
                "The duration of the last rule group evaluation.",
                |g| g.last_duration_seconds.to_string(),
            ),
            (
                "cairn_rule_group_last_evaluation_timestamp_seconds",
                "gauge",
                "The timestamp of the last rule group evaluation in seconds.",
                |g| (g.last_evaluation_ms as f64 / 1e3).to_string(),
            ),
            (
                "cairn_rule_group_interval_seconds",
                "gauge",
                "The interval of a rule group.",
                |g| g.interval_seconds.to_string(),
            ),
            (
                "cairn_rule_group_iterations_total",
                "counter",
                "Scheduled evaluations of a rule group, run or missed.",
                |g| g.iterations.to_string(),
            ),
            (
                "cairn_rule_group_iterations_missed_total",
                "counter",
                "Rule group evaluations missed because the one before ran past its interval.",
                |g| g.iterations_missed.to_string(),
            ),
            (
                "cairn_rule_group_rules",
                "gauge",
                "The number of rules of a rule group.",
                |g| g.rules.to_string(),
            ),
        ];
        for (name, kind, help, value) in families {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((tenant, group), g) in &groups {
                let _ = writeln!(
                    o,
                    "{name}{{tenant=\"{}\",rule_group=\"{}\"}} {}",
                    escape(tenant),
                    escape(group),
                    value(g)
                );
            }
        }
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
        for (name, help, v) in [
            (
                "cairn_rule_evaluations_total",
                "Rule evaluations (every rule of every group evaluated on this node).",
                c(&self.evaluations),
            ),
            (
                "cairn_rule_evaluation_failures_total",
                "Rule evaluations that failed.",
                c(&self.evaluation_failures),
            ),
            (
                "cairn_alert_state_commits_total",
                "Meta-group commands committing alert state or rule group status.",
                c(&self.state_commits),
            ),
            (
                "cairn_alert_state_commit_bytes_total",
                "Bytes of keys and values proposed by those commands.",
                c(&self.state_commit_bytes),
            ),
        ] {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        }
    }
}

/// A label value in the exposition format: `\`, `"` and newlines escaped.
pub(crate) fn escape(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_render_with_escaped_labels_and_go_when_removed() {
        let m = RuleMetrics::default();
        m.update("t1", "a.yml;say \"hi\"", |g| {
            g.iterations += 2;
            g.iterations_missed += 1;
            g.rules = 3;
            g.interval_seconds = 15.0;
            g.last_evaluation_ms = 1_500;
        });
        m.evaluations.fetch_add(6, Ordering::Relaxed);
        let mut o = String::new();
        m.render(&mut o);
        let labels = r#"{tenant="t1",rule_group="a.yml;say \"hi\""}"#;
        for line in [
            format!("cairn_rule_group_iterations_total{labels} 2"),
            format!("cairn_rule_group_iterations_missed_total{labels} 1"),
            format!("cairn_rule_group_rules{labels} 3"),
            format!("cairn_rule_group_interval_seconds{labels} 15"),
            format!("cairn_rule_group_last_evaluation_timestamp_seconds{labels} 1.5"),
            "cairn_rule_evaluations_total 6".to_string(),
            "cairn_alert_state_commits_total 0".to_string(),
        ] {
            assert!(o.lines().any(|l| l == line), "{line} not in\n{o}");
        }
        m.remove("t1", "a.yml;say \"hi\"");
        let mut o = String::new();
        m.render(&mut o);
        assert!(!o.contains("t1"), "{o}");
        assert!(o.contains("# TYPE cairn_rule_group_rules gauge"), "{o}");
    }
}
