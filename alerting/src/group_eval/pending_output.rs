//! Rule output waiting to be written. Prometheus appends each rule's output before the next
//! rule runs, so a later rule reads what an earlier one wrote at the same timestamp. Through
//! Cairn's replicated write path an append is a Raft commit (and a read barrier) per rule: a
//! group of 100 alerting rules would pay 100 commits per evaluation. So output is held here
//! and written once, at the end of the group, unless a rule may read it first: before a rule
//! whose selectors could match a held metric name (or name no metric at all, or whose
//! templates may `query`), what is held is written, and that rule sees it as in Prometheus.

use std::collections::BTreeSet;

use cairn_model::{Labels, METRIC_NAME, Sample};
use promql_parser::label::MatchOp;
use promql_parser::parser::{Expr, VectorSelector};
use promql_parser::util::{ExprVisitor, walk_expr};

use crate::rule::Rule;

/// Output of one or more rules, not written yet.
#[derive(Debug, Default)]
pub(super) struct PendingOutput {
    pub samples: Vec<(Labels, Sample)>,
    /// Metric names among `samples`.
    names: BTreeSet<String>,
    /// The rules whose output this holds, each with the series it returned (its
    /// `previous_series` once written).
    pub rules: Vec<(usize, BTreeSet<Labels>)>,
}

impl PendingOutput {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Holds rule `index`'s output (its samples and stale markers); `returned` is the set
    /// of series it returned this time.
    pub fn add(
        &mut self,
        index: usize,
        samples: Vec<(Labels, Sample)>,
        returned: BTreeSet<Labels>,
    ) {
        for (l, _) in &samples {
            let name = l.get(METRIC_NAME);
            if !self.names.contains(name) {
                self.names.insert(name.to_string());
            }
        }
        self.samples.extend(samples);
        self.rules.push((index, returned));
    }

    /// Whether `rule` may read something held here: then it must be written first.
    pub fn may_be_read_by(&self, rule: &Rule) -> bool {
        if self.samples.is_empty() {
            return false;
        }
        if let Rule::Alerting(r) = rule {
            // A template's `query` may read anything.
            let templates = r.labels.values().chain(r.annotations.values());
            if templates.into_iter().any(|t| t.contains("query")) {
                return true;
            }
        }
        match promql_parser::parser::parse(rule.expr()) {
            Ok(expr) => {
                let mut v = NameCheck {
                    names: &self.names,
                    hit: false,
                };
                let _ = walk_expr(&mut v, &expr);
                v.hit
            }
            // Not parseable here: the rule will fail on its own; be safe.
            Err(_) => true,
        }
    }
}

/// Finds a selector that may match one of `names`.
struct NameCheck<'a> {
    names: &'a BTreeSet<String>,
    hit: bool,
}

impl NameCheck<'_> {
    fn selector_may_match(&self, vs: &VectorSelector) -> bool {
        if !vs.matchers.or_matchers.is_empty() {
            return true;
        }
        let name = vs.name.as_deref().or_else(|| {
            vs.matchers
                .matchers
                .iter()
                .find(|m| m.name == METRIC_NAME && matches!(m.op, MatchOp::Equal))
                .map(|m| m.value.as_str())
        });
        match name {
            Some(n) => self.names.contains(n),
            // `{job="x"}` or `{__name__=~"..."}`: any metric.
            None => true,
        }
    }
}

impl ExprVisitor for NameCheck<'_> {
    type Error = std::convert::Infallible;

    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, Self::Error> {
        let hit = match expr {
            Expr::VectorSelector(vs) => self.selector_may_match(vs),
            Expr::MatrixSelector(ms) => self.selector_may_match(&ms.vs),
            _ => false,
        };
        self.hit |= hit;
        Ok(!self.hit)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::rule::{AlertingRule, RecordingRule};

    fn held(names: &[&str]) -> PendingOutput {
        let mut p = PendingOutput::default();
        for (i, n) in names.iter().enumerate() {
            let l = Labels::from_pairs([(METRIC_NAME, *n), ("job", "a")]).unwrap();
            p.add(
                i,
                vec![(l.clone(), Sample::new(0, 1.0))],
                BTreeSet::from([l]),
            );
        }
        p
    }

    fn recording(expr: &str) -> Rule {
        Rule::Recording(RecordingRule {
            record: "r".into(),
            expr: expr.into(),
            labels: BTreeMap::new(),
            line: 0,
        })
    }

    #[test]
    fn a_rule_reading_a_held_metric_flushes_first() {
        let p = held(&["job:up:sum", "ALERTS"]);
        assert!(p.may_be_read_by(&recording("job:up:sum > 1")));
        assert!(p.may_be_read_by(&recording("rate(job:up:sum[5m])")));
        assert!(p.may_be_read_by(&recording(r#"count(ALERTS{alertstate="firing"})"#)));
        assert!(p.may_be_read_by(&recording(r#"{__name__="job:up:sum"}"#)));
        // Selectors that name no metric may match anything.
        assert!(p.may_be_read_by(&recording(r#"{job="a"}"#)));
        assert!(p.may_be_read_by(&recording(r#"{__name__=~"job:.*"}"#)));
        assert!(p.may_be_read_by(&recording(r#"up or {job="a"}"#)));
    }

    #[test]
    fn a_rule_reading_other_metrics_does_not() {
        let p = held(&["job:up:sum", "ALERTS"]);
        assert!(!p.may_be_read_by(&recording("up == 0")));
        assert!(!p.may_be_read_by(&recording("sum by (job) (rate(http_requests_total[5m]))")));
        assert!(!PendingOutput::default().may_be_read_by(&recording(r#"{job="a"}"#)));
    }

    #[test]
    fn a_template_query_may_read_anything() {
        let p = held(&["job:up:sum"]);
        let rule = |annotation: &str| {
            Rule::Alerting(AlertingRule {
                alert: "A".into(),
                expr: "up == 0".into(),
                kind: None,
                for_ms: 0,
                keep_firing_for_ms: 0,
                labels: BTreeMap::new(),
                annotations: BTreeMap::from([("s".to_string(), annotation.to_string())]),
                line: 0,
            })
        };
        assert!(p.may_be_read_by(&rule(r#"{{ query "job:up:sum" | first | value }}"#)));
        assert!(!p.may_be_read_by(&rule("{{ $value }}")));
    }
}
