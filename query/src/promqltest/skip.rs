//! Which evals the conformance runs skip: only those that need native histograms, which
//! Cairn deliberately does not store (see `tests/conformance/promql-skips.md`). An eval is
//! never skipped for failing.
//!
//! An eval needs native histograms when, within the current clear-segment,
//! - one of its vector selectors matches a series that holds a `{{...}}` value, or a
//!   native histogram with custom buckets that `load_with_nhcb` derives from a classic
//!   histogram (`foo_bucket{le=..}`/`foo_count`/`foo_sum` → `foo`), unless the selector is
//!   the operand of an aggregation that ignores histogram samples (`stddev(series)`), or
//! - its expected output holds a `{{...}}` value, or
//! - it calls a function that only works on native histograms.

use promql_parser::label::{MatchOp, Matchers};
use promql_parser::parser::{self, Expr, VectorSelector};

use super::check::fmt_labels;
use super::{Command, EvalCommand, Expected, LoadCommand, ScriptLabels, SeqValue};

/// Functions that return nothing for float series: a query using one tests native
/// histograms only.
pub const NATIVE_HISTOGRAM_FUNCTIONS: [&str; 6] = [
    "histogram_count",
    "histogram_sum",
    "histogram_avg",
    "histogram_fraction",
    "histogram_stddev",
    "histogram_stdvar",
];

/// Aggregations whose answer over a mix of float and histogram samples is their answer over
/// the floats alone: Prometheus 3.0 leaves a histogram sample out of them (engine.go's
/// `aggregation()`: "Ignore histograms for STDVAR and STDDEV", with an info annotation, which
/// a plain `eval` does not check), and a group of histograms only gives no result. Cairn,
/// which loads only the float samples, gives the same answer, so selecting a native-histogram
/// series directly under one of these does not make an eval need native histograms.
pub const HISTOGRAM_IGNORING_AGGREGATIONS: [&str; 2] = ["stddev", "stdvar"];

/// Scripts that test a behaviour Prometheus 3.0 has only behind a feature flag, with the flag.
/// Prometheus' own runner turns these flags on for every script; Cairn follows 3.0's defaults,
/// under which these scripts' answers differ (every other script agrees either way).
pub const FEATURE_FLAG_SCRIPTS: &[(&str, &str)] = &[(
    "name_label_dropping.test",
    "promql-delayed-name-removal: the metric name is kept through functions until the end of evaluation",
)];

/// The feature flag a whole script needs, if any.
pub fn script_feature_flag(script_name: &str) -> Option<&'static str> {
    FEATURE_FLAG_SCRIPTS
        .iter()
        .find(|(name, _)| *name == script_name)
        .map(|(_, flag)| *flag)
}

/// The native-histogram series of the current clear-segment, and the rules above.
#[derive(Debug, Default, Clone)]
pub struct SkipRules {
    /// Labels of each native-histogram series, and the script line that made it.
    native: Vec<(ScriptLabels, usize)>,
}

impl SkipRules {
    /// Follows the script: a `clear` forgets every series, a `load` adds its native ones.
    pub fn observe(&mut self, cmd: &Command) {
        match cmd {
            Command::Clear => self.native.clear(),
            Command::Load(load) => {
                for s in &load.series {
                    if s.has_histograms() {
                        self.native.push((s.labels.clone(), s.line));
                    }
                }
                if load.with_nhcb {
                    for labels in load.nhcb_series() {
                        self.native.push((labels, load.line));
                    }
                }
            }
            Command::Eval(_) => {}
        }
    }

    /// Why `eval` is skipped, or None if it runs.
    pub fn skip_reason(&self, eval: &EvalCommand) -> Option<String> {
        if let Expected::Series(series) = &eval.expected
            && let Some(s) = series
                .iter()
                .find(|s| s.values.iter().any(|v| matches!(v, SeqValue::Histogram(_))))
        {
            return Some(format!(
                "native histograms: expects a histogram value for {} (line {})",
                fmt_labels(&s.labels),
                s.line
            ));
        }
        // An expression promql-parser rejects is not skipped: the run reports it.
        let expr = parser::parse(&eval.expr).ok()?;
        let mut found = None;
        walk(&expr, &mut |e| {
            if found.is_some() {
                return false;
            }
            match e {
                Expr::Call(c) if NATIVE_HISTOGRAM_FUNCTIONS.contains(&c.func.name) => {
                    found = Some(format!(
                        "native histograms: calls {}(), which only works on native histograms",
                        c.func.name
                    ));
                }
                // Its histogram samples are left out, as Cairn never loaded them.
                Expr::Aggregate(a)
                    if HISTOGRAM_IGNORING_AGGREGATIONS.contains(&a.op.to_string().as_str())
                        && matches!(unparen(&a.expr), Expr::VectorSelector(_)) =>
                {
                    return false;
                }
                Expr::VectorSelector(vs) => found = self.selects_native(vs),
                Expr::MatrixSelector(ms) => found = self.selects_native(&ms.vs),
                _ => {}
            }
            true
        });
        found
    }

    fn selects_native(&self, vs: &VectorSelector) -> Option<String> {
        self.native
            .iter()
            .find(|(labels, _)| selector_matches(vs, labels))
            .map(|(labels, line)| {
                format!(
                    "native histograms: selects {}, a native-histogram series (loaded at line {line})",
                    fmt_labels(labels)
                )
            })
    }
}

impl LoadCommand {
    /// The native histograms with custom buckets Prometheus derives from this block when it
    /// is `load_with_nhcb`: one per classic histogram, named without `_bucket`/`_count`/`_sum`
    /// and without `le` (test.go's `appendCustomHistogram`).
    pub fn nhcb_series(&self) -> Vec<ScriptLabels> {
        if !self.with_nhcb {
            return Vec::new();
        }
        let mut out: Vec<ScriptLabels> = Vec::new();
        for s in &self.series {
            let name = s.labels.get("__name__").map_or("", String::as_str);
            let base = if let Some(b) = name.strip_suffix("_bucket") {
                // Only buckets with a parseable, non-NaN `le` make it into a histogram.
                match s.labels.get("le").map(|le| super::parse_number(le)) {
                    Some(Ok(le)) if !le.is_nan() => b,
                    _ => continue,
                }
            } else if let Some(b) = name.strip_suffix("_count") {
                b
            } else if let Some(b) = name.strip_suffix("_sum") {
                b
            } else {
                continue;
            };
            let mut labels = s.labels.clone();
            labels.remove("le");
            labels.insert("__name__".to_string(), base.to_string());
            if !out.contains(&labels) {
                out.push(labels);
            }
        }
        out
    }
}

/// Does the selector (name, matchers and `or` alternatives) match a series with `labels`?
fn selector_matches(vs: &VectorSelector, labels: &ScriptLabels) -> bool {
    let get = |n: &str| labels.get(n).map_or("", String::as_str);
    if let Some(name) = &vs.name
        && get("__name__") != name
    {
        return false;
    }
    let Matchers {
        matchers,
        or_matchers,
    } = &vs.matchers;
    let all = |ms: &[promql_parser::label::Matcher]| {
        ms.iter().all(|m| match &m.op {
            MatchOp::Equal => get(&m.name) == m.value,
            MatchOp::NotEqual => get(&m.name) != m.value,
            MatchOp::Re(r) => r.is_match(get(&m.name)),
            MatchOp::NotRe(r) => !r.is_match(get(&m.name)),
        })
    };
    if or_matchers.is_empty() {
        all(matchers)
    } else {
        all(matchers) && or_matchers.iter().any(|g| all(g))
    }
}

/// `e` without the parentheses around it.
fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unparen(&p.expr),
        other => other,
    }
}

/// Visits the nodes of the expression tree, parents first; `f` returns whether to visit the
/// node's children.
fn walk(e: &Expr, f: &mut dyn FnMut(&Expr) -> bool) {
    if !f(e) {
        return;
    }
    match e {
        Expr::Aggregate(a) => {
            walk(&a.expr, f);
            if let Some(p) = &a.param {
                walk(p, f);
            }
        }
        Expr::Unary(u) => walk(&u.expr, f),
        Expr::Binary(b) => {
            walk(&b.lhs, f);
            walk(&b.rhs, f);
        }
        Expr::Paren(p) => walk(&p.expr, f),
        Expr::Subquery(s) => walk(&s.expr, f),
        Expr::Call(c) => {
            for a in &c.args.args {
                walk(a, f);
            }
        }
        Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::Extension(_) => {}
    }
}
