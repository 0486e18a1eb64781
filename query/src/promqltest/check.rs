//! Checking an eval's results the way promqltest's `execEval`, `runInstantQuery` and
//! `compareResult` do at Prometheus v3.0.0.

use std::fmt::Write as _;

use cairn_model::{Labels, STALE_NAN_BITS};

use super::at_modifier::at_modifier_variants;
use super::{EvalCommand, EvalKind, Expected, Query, ScriptLabels, SeqValue};
use crate::engine::QueryResult;
use crate::value::{QueryValue, Series, VectorElement};

/// Relative error allowed between sample values (test.go's `defaultEpsilon`).
const EPSILON: f64 = 0.000001;

/// Prometheus' `almost.Equal`: equal within a relative `epsilon`, or both the stale marker,
/// or both some other NaN (a stale marker never equals a plain NaN).
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    let stale = |v: f64| v.to_bits() == STALE_NAN_BITS;
    if stale(a) || stale(b) {
        return stale(a) && stale(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let min_normal = f64::from_bits(0x0010_0000_0000_0000);
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < min_normal {
        return diff < epsilon * min_normal;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// The 1-minute window and step of the range-mode rerun of instant evals.
const RANGE_MODE_MS: i64 = 60_000;

impl EvalCommand {
    /// Runs the eval as promqltest does and checks every result: a range eval is one query;
    /// an instant eval is its query, then (unless it uses a time-dependent function) the
    /// same expression with `@ <t>` on every selector at other evaluation times, each
    /// followed by a range query over `[t-1m, t+1m]` step 1m whose middle step must give the
    /// same result. Stops at the first problem, as test.go does.
    pub fn run(
        &self,
        exec: &mut dyn FnMut(&Query) -> Result<QueryResult, String>,
    ) -> Result<(), String> {
        match self.kind {
            EvalKind::Range { .. } => self.check(&exec(&self.query())),
            EvalKind::Instant { at_ms } => {
                let mut queries = vec![self.query()];
                queries.extend(at_modifier_variants(&self.expr, at_ms));
                for (i, q) in queries.iter().enumerate() {
                    let EvalKind::Instant { at_ms: t } = q.kind else {
                        continue;
                    };
                    let ctx = if i == 0 {
                        String::new()
                    } else {
                        format!("[@-modifier variant {:?} at {t}ms] ", q.expr)
                    };
                    let res = exec(q);
                    self.check_instant(&q.expr, &res)
                        .map_err(|e| format!("{ctx}{e}"))?;
                    let Ok(instant) = res else {
                        // An expected failure that happened: nothing more to compare.
                        continue;
                    };
                    let range_q = Query {
                        expr: q.expr.clone(),
                        kind: EvalKind::Range {
                            start_ms: t - RANGE_MODE_MS,
                            end_ms: t + RANGE_MODE_MS,
                            step_ms: RANGE_MODE_MS,
                        },
                    };
                    let range = exec(&range_q);
                    self.check_range_mode(&q.expr, &instant, t, &range)
                        .map_err(|e| format!("{ctx}{e}"))?;
                }
                Ok(())
            }
        }
    }

    /// Checks the result of the eval's own query (no @ variants, no range-mode rerun):
    /// failure expectations, warning and info rules, then the values.
    pub fn check(&self, result: &Result<QueryResult, String>) -> Result<(), String> {
        match self.kind {
            EvalKind::Instant { .. } => self.check_instant(&self.expr, result),
            EvalKind::Range { .. } => {
                let res = match self.check_error(&self.expr, result)? {
                    Some(r) => r,
                    None => return Ok(()),
                };
                // Range evals check warnings only (test.go's execRangeEval ignores infos).
                self.check_warnings(&self.expr, res)?;
                self.compare(&res.value)
            }
        }
    }

    fn check_instant(
        &self,
        expr: &str,
        result: &Result<QueryResult, String>,
    ) -> Result<(), String> {
        let res = match self.check_error(expr, result)? {
            Some(r) => r,
            None => return Ok(()),
        };
        self.check_warnings(expr, res)?;
        if self.info && res.infos.is_empty() {
            return Err(format!(
                "expected info annotations evaluating query {expr:?} but got none"
            ));
        }
        self.compare(&res.value)
    }

    /// Ok(None): an expected error happened (and matched); Ok(Some): go on comparing.
    fn check_error<'r>(
        &self,
        expr: &str,
        result: &'r Result<QueryResult, String>,
    ) -> Result<Option<&'r QueryResult>, String> {
        match result {
            Err(e) if self.fail => {
                self.check_expected_failure(e)?;
                Ok(None)
            }
            Err(e) => Err(format!("error evaluating query {expr:?}: {e}")),
            Ok(_) if self.fail => Err(format!(
                "expected error evaluating query {expr:?} but got none"
            )),
            Ok(r) => Ok(Some(r)),
        }
    }

    fn check_expected_failure(&self, actual: &str) -> Result<(), String> {
        if let Some(msg) = &self.expected_fail_message
            && !msg.is_empty()
            && msg != actual
        {
            return Err(format!(
                "expected error {msg:?} evaluating query {:?}, but got: {actual}",
                self.expr
            ));
        }
        if let Some(re) = &self.expected_fail_regexp
            && !re.is_match(actual)
        {
            return Err(format!(
                "expected error matching pattern {:?} evaluating query {:?}, but got: {actual}",
                re.as_str(),
                self.expr
            ));
        }
        Ok(())
    }

    fn check_warnings(&self, expr: &str, res: &QueryResult) -> Result<(), String> {
        if !self.warn && !res.warnings.is_empty() {
            return Err(format!(
                "unexpected warnings evaluating query {expr:?}: {:?}",
                res.warnings
            ));
        }
        if self.warn && res.warnings.is_empty() {
            return Err(format!(
                "expected warnings evaluating query {expr:?} but got none"
            ));
        }
        Ok(())
    }

    /// promqltest's range-mode check: the instant query's result must equal the middle step
    /// of the same expression run over `[t-1m, t+1m]` step 1m.
    fn check_range_mode(
        &self,
        expr: &str,
        instant: &QueryResult,
        t: i64,
        range: &Result<QueryResult, String>,
    ) -> Result<(), String> {
        let range = range
            .as_ref()
            .map_err(|e| format!("error evaluating query {expr:?} in range mode: {e}"))?;
        if self.ordered {
            // Range results are sorted by labels, so an ordered expectation cannot hold.
            return Ok(());
        }
        let QueryValue::Matrix(mat) = &range.value else {
            return Err(format!(
                "range mode: a range query returned a {} instead of a matrix",
                range.value.type_name()
            ));
        };
        assert_matrix_sorted(mat).map_err(|e| format!("range mode: {e}"))?;
        let vec: Vec<VectorElement> = mat
            .iter()
            .filter_map(|s| {
                s.samples.iter().find(|p| p.t == t).map(|p| VectorElement {
                    labels: s.labels.clone(),
                    sample: *p,
                })
            })
            .collect();
        let value = if matches!(instant.value, QueryValue::Scalar(_)) {
            match vec.first() {
                Some(e) => QueryValue::Scalar(e.sample),
                None => {
                    return Err(format!(
                        "range mode: scalar query {expr:?} returned no point at t={t}"
                    ));
                }
            }
        } else {
            QueryValue::Vector(vec)
        };
        self.compare(&value)
            .map_err(|e| format!("error in eval {expr} range mode: {e}"))
    }

    /// test.go's `compareResult`.
    pub fn compare(&self, value: &QueryValue) -> Result<(), String> {
        match value {
            QueryValue::Matrix(mat) => self.compare_matrix(mat),
            QueryValue::Vector(vec) => self.compare_vector(vec),
            QueryValue::Scalar(s) => {
                let Expected::Scalar(exp) = self.expected else {
                    return Err(format!(
                        "expected vector or matrix result, but got scalar {}",
                        s.v
                    ));
                };
                if !almost_equal(exp, s.v, EPSILON) {
                    return Err(format!("expected scalar {exp} but got {}", s.v));
                }
                Ok(())
            }
            QueryValue::String { value, .. } => Err(format!(
                "unexpected string result {value:?} (promqltest has no string expectations)"
            )),
        }
    }

    fn expected_series(&self, kind: &str) -> Result<&[super::ExpectedSeries], String> {
        match &self.expected {
            Expected::Series(s) => Ok(s),
            Expected::Scalar(_) => Err(format!("expected scalar result, but got {kind}")),
        }
    }

    fn compare_matrix(&self, mat: &[Series]) -> Result<(), String> {
        if self.ordered {
            return Err("expected ordered result, but query returned a matrix".into());
        }
        let expected = self.expected_series("matrix")?;
        assert_matrix_sorted(mat)?;
        let mut seen = vec![false; expected.len()];
        for s in mat {
            let labels = script_labels(&s.labels);
            let Some(idx) = expected.iter().position(|e| e.labels == labels) else {
                return Err(format!(
                    "unexpected metric {} in result, has {}",
                    fmt_labels(&labels),
                    fmt_points(&s.samples)
                ));
            };
            seen[idx] = true;
            let exp = &expected[idx];
            let mut points = Vec::new();
            for (i, v) in exp.values.iter().enumerate() {
                // For an instant eval test.go's end time is Go's zero time, before any
                // timestamp: an instant query returning a matrix can never match values.
                let (t, within) = match self.kind {
                    EvalKind::Range {
                        start_ms,
                        end_ms,
                        step_ms,
                    } => {
                        let t = start_ms + i as i64 * step_ms;
                        (t, t <= end_ms)
                    }
                    EvalKind::Instant { at_ms } => (at_ms, false),
                };
                if !within {
                    return Err(format!(
                        "expected {} points for {}, but query time range cannot return this many points",
                        exp.values.len(),
                        fmt_labels(&exp.labels)
                    ));
                }
                match v {
                    SeqValue::Float(f) => points.push((t, *f)),
                    SeqValue::Omitted => {}
                    SeqValue::Histogram(h) => {
                        return Err(format!(
                            "expected histogram {h} for {} but Cairn returns no histograms",
                            fmt_labels(&exp.labels)
                        ));
                    }
                }
            }
            if points.len() != s.samples.len() {
                return Err(format!(
                    "expected {} float points and 0 histogram points for {}, but got {}",
                    points.len(),
                    fmt_labels(&exp.labels),
                    fmt_points(&s.samples)
                ));
            }
            for (i, ((et, ev), actual)) in points.iter().zip(&s.samples).enumerate() {
                if *et != actual.t {
                    return Err(format!(
                        "expected float value at index {i} for {} to have timestamp {et}, but it had timestamp {} (result has {})",
                        fmt_labels(&exp.labels),
                        actual.t,
                        fmt_points(&s.samples)
                    ));
                }
                if !almost_equal(actual.v, *ev, EPSILON) {
                    return Err(format!(
                        "expected float value at index {i} (t={}) for {} to be {}, but got {} (result has {})",
                        actual.t,
                        fmt_labels(&exp.labels),
                        fmt_f(*ev),
                        fmt_f(actual.v),
                        fmt_points(&s.samples)
                    ));
                }
            }
        }
        if let Some(i) = seen.iter().position(|s| !s) {
            return Err(format!(
                "expected metric {} not found",
                fmt_labels(&expected[i].labels)
            ));
        }
        Ok(())
    }

    fn compare_vector(&self, vec: &[VectorElement]) -> Result<(), String> {
        let expected = self.expected_series("vector")?;
        let mut seen = vec![false; expected.len()];
        for (pos, el) in vec.iter().enumerate() {
            let labels = script_labels(&el.labels);
            let Some(idx) = expected.iter().position(|e| e.labels == labels) else {
                return Err(format!(
                    "unexpected metric {} in result, has value {}",
                    fmt_labels(&labels),
                    fmt_f(el.sample.v)
                ));
            };
            let exp = &expected[idx];
            if self.ordered && exp.pos != pos + 1 {
                return Err(format!(
                    "expected metric {} with {} at position {} but was at {}",
                    fmt_labels(&labels),
                    fmt_values(&exp.values),
                    exp.pos,
                    pos + 1
                ));
            }
            match exp.values.first() {
                Some(SeqValue::Float(f)) => {
                    if !almost_equal(*f, el.sample.v, EPSILON) {
                        return Err(format!(
                            "expected {} for {} but got {}",
                            fmt_f(*f),
                            fmt_labels(&labels),
                            fmt_f(el.sample.v)
                        ));
                    }
                }
                Some(SeqValue::Histogram(h)) => {
                    return Err(format!(
                        "expected histogram {h} for {} but got float value {}",
                        fmt_labels(&labels),
                        fmt_f(el.sample.v)
                    ));
                }
                // An omitted expected value is Go's zero SequenceValue: 0.
                Some(SeqValue::Omitted) => {
                    if !almost_equal(0.0, el.sample.v, EPSILON) {
                        return Err(format!(
                            "expected 0 for {} but got {}",
                            fmt_labels(&labels),
                            fmt_f(el.sample.v)
                        ));
                    }
                }
                None => {
                    return Err(format!(
                        "expectation for {} has no value (line {})",
                        fmt_labels(&labels),
                        exp.line
                    ));
                }
            }
            seen[idx] = true;
        }
        if let Some(i) = seen.iter().position(|s| !s) {
            return Err(format!(
                "expected metric {} with {} not found",
                fmt_labels(&expected[i].labels),
                fmt_values(&expected[i].values)
            ));
        }
        Ok(())
    }
}

/// Range results must be sorted by label set (Prometheus' `labels.Compare`, which orders
/// as Cairn's sorted `Labels` do).
fn assert_matrix_sorted(mat: &[Series]) -> Result<(), String> {
    for (i, w) in mat.windows(2).enumerate() {
        if w[0].labels > w[1].labels {
            return Err(format!(
                "matrix results should always be sorted by labels, but matrix is not sorted: series at index {} with labels {} sorts before series at index {i} with labels {}",
                i + 1,
                w[1].labels,
                w[0].labels
            ));
        }
    }
    Ok(())
}

fn script_labels(l: &Labels) -> ScriptLabels {
    l.iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

/// `{__name__="up", job="x"}` in Prometheus' `labels.String` form.
pub(crate) fn fmt_labels(l: &ScriptLabels) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in l.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{k}={v:?}");
    }
    s.push('}');
    s
}

fn fmt_f(v: f64) -> String {
    if v.to_bits() == STALE_NAN_BITS {
        "stale".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn fmt_values(vals: &[SeqValue]) -> String {
    let parts: Vec<String> = vals
        .iter()
        .map(|v| match v {
            SeqValue::Omitted => "_".to_string(),
            SeqValue::Float(f) => fmt_f(*f),
            SeqValue::Histogram(h) => h.clone(),
        })
        .collect();
    format!("[{}]", parts.join(" "))
}

fn fmt_points(samples: &[crate::value::Sample]) -> String {
    let plural = if samples.len() == 1 { "" } else { "s" };
    let pts: Vec<String> = samples
        .iter()
        .map(|s| format!("{} @[{}]", fmt_f(s.v), s.t))
        .collect();
    format!("{} float point{plural} [{}]", samples.len(), pts.join(" "))
}
