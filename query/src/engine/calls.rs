//! Function calls: range functions over windows, element-wise functions, and the special
//! ones (`absent`, `timestamp`, `label_replace`, `histogram_quantile`, `sort*`, …).

use std::collections::HashMap;

use promql_parser::parser::{Call, Expr, VectorSelector};

use crate::engine::bucket_read::{for_each_bucket_window, reads_buckets};
use crate::engine::evaluator::{Evaluator, RangeInput, Val, relabel, try_relabel};
use crate::engine::grid::{ByStep, Grid};
use crate::engine::labels::{drop_name, with_label};
use crate::engine::series_set::SeriesSet;
use crate::engine::tier_plan::Reader;
use crate::error::{Error, Result};
use crate::functions::{self, Bucket, RangeFunction};
use crate::value::{Labels, METRIC_NAME, Sample, Series, format_value};

impl Evaluator<'_> {
    pub fn eval_call(&mut self, c: &Call, g: &Grid) -> Result<Val> {
        let name = c.func.name;
        let args: Vec<&Expr> = c.args.args.iter().map(|a| unparen(a)).collect();
        if let Some(f) = RangeFunction::from_name(name) {
            return self.call_range(f, &args, g);
        }
        let n = g.len();
        match name {
            "time" => Ok(Val::Scalar(
                (0..n).map(|i| g.ts(i) as f64 / 1000.0).collect(),
            )),
            "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; n])),
            "vector" => {
                let v = self.eval_scalar(args[0], g)?;
                let samples = v
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| Sample::new(g.ts(i), v))
                    .collect();
                Ok(Val::Vector(vec![Series::new(Labels::default(), samples)]))
            }
            "scalar" => {
                let v = self.eval_vector(args[0], g)?;
                let steps = ByStep::new(&v, g);
                Ok(Val::Scalar(
                    (0..n)
                        .map(|i| match steps.elems(i) {
                            [(_, v)] => *v,
                            _ => f64::NAN,
                        })
                        .collect(),
                ))
            }
            "absent" => {
                let v = self.eval_vector(args[0], g)?;
                let mut present = vec![false; n];
                for s in &v {
                    for p in &s.samples {
                        present[g.index(p.t)] = true;
                    }
                }
                Ok(Val::Vector(absent_series(
                    &present,
                    absent_labels(args[0]),
                    g,
                )))
            }
            "absent_over_time" => {
                let input = self.range_input(args[0], g, Reader::Samples)?;
                let mut present = vec![false; n];
                self.for_each_range_series(&input, |_, _, samples| {
                    for_each_window(&input, samples, g, |step, _| present[step] = true);
                    Ok(())
                })?;
                Ok(Val::Vector(absent_series(
                    &present,
                    absent_labels(args[0]),
                    g,
                )))
            }
            "timestamp" => {
                let series = match args[0] {
                    Expr::VectorSelector(vs) => self.eval_vector_selector(vs, g, true)?,
                    other => {
                        let mut v = self.eval_vector(other, g)?;
                        for s in &mut v {
                            s.samples.iter_mut().for_each(|p| p.v = p.t as f64 / 1000.0);
                        }
                        v
                    }
                };
                Ok(Val::Vector(relabel(series, drop_name)?))
            }
            "round" => {
                let to = match args.get(1) {
                    Some(a) => self.eval_scalar(a, g)?,
                    None => vec![1.0; n],
                };
                self.map_values(args[0], g, |i, v| Some(functions::round(v, to[i])))
            }
            "clamp" => {
                let lo = self.eval_scalar(args[1], g)?;
                let hi = self.eval_scalar(args[2], g)?;
                self.map_values(args[0], g, |i, v| {
                    (hi[i] >= lo[i] || lo[i].is_nan() || hi[i].is_nan())
                        .then(|| go_max(lo[i], go_min(hi[i], v)))
                })
            }
            "clamp_min" => {
                let lo = self.eval_scalar(args[1], g)?;
                self.map_values(args[0], g, |i, v| Some(go_max(lo[i], v)))
            }
            "clamp_max" => {
                let hi = self.eval_scalar(args[1], g)?;
                self.map_values(args[0], g, |i, v| Some(go_min(hi[i], v)))
            }
            "label_replace" => {
                let v = self.eval_vector(args[0], g)?;
                let dst = string_arg(args[1])?;
                let repl = string_arg(args[2])?;
                let src = string_arg(args[3])?;
                let re = functions::compile_anchored(&string_arg(args[4])?)?;
                functions::check_label_replace_dst(&dst)?;
                Ok(Val::Vector(try_relabel(v, |l| {
                    functions::label_replace(l, &dst, &repl, &src, &re)
                })?))
            }
            "label_join" => {
                let v = self.eval_vector(args[0], g)?;
                let dst = string_arg(args[1])?;
                let sep = string_arg(args[2])?;
                let srcs: Vec<String> = args[3..]
                    .iter()
                    .map(|a| string_arg(a))
                    .collect::<Result<_>>()?;
                let srcs: Vec<&str> = srcs.iter().map(String::as_str).collect();
                functions::check_label_join_names(&dst, &srcs)?;
                Ok(Val::Vector(try_relabel(v, |l| {
                    functions::label_join(l, &dst, &sep, &srcs)
                })?))
            }
            "sort" | "sort_desc" => {
                let mut v = self.eval_vector(args[0], g)?;
                // Order only matters for an instant query; a range result is sorted by labels.
                if n == 1 {
                    let desc = name == "sort_desc";
                    v.sort_by(|a, b| {
                        let (x, y) = (a.samples[0].v, b.samples[0].v);
                        match (x.is_nan(), y.is_nan()) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => std::cmp::Ordering::Greater,
                            (false, true) => std::cmp::Ordering::Less,
                            _ if desc => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                            _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                        }
                    });
                }
                Ok(Val::Vector(v))
            }
            "sort_by_label" | "sort_by_label_desc" => {
                let mut v = self.eval_vector(args[0], g)?;
                let names: Vec<String> = args[1..]
                    .iter()
                    .map(|a| string_arg(a))
                    .collect::<Result<_>>()?;
                let desc = name == "sort_by_label_desc";
                v.sort_by(|a, b| {
                    let mut o = std::cmp::Ordering::Equal;
                    for l in &names {
                        o = natural_cmp(a.labels.get(l), b.labels.get(l));
                        if o.is_ne() {
                            break;
                        }
                    }
                    let o = o.then_with(|| a.labels.cmp(&b.labels));
                    if desc { o.reverse() } else { o }
                });
                Ok(Val::Vector(v))
            }
            "histogram_quantile" => self.histogram_quantile(args[0], args[1], g),
            "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_fraction"
            | "histogram_stddev" | "histogram_stdvar" => Err(Error::Unsupported {
                what: format!(
                    "{name}(), which reads native histograms only (Cairn stores float samples; histogram_quantile() works on classic _bucket series),"
                ),
            }),
            _ => {
                if let Some(f) = functions::simple_math(name) {
                    return self.map_values(args[0], g, |_, v| Some(f(v)));
                }
                if let Some(f) = functions::date_function(name) {
                    return match args.first() {
                        Some(a) => self.map_values(a, g, |_, v| Some(f(v))),
                        None => Ok(Val::Vector(vec![Series::new(
                            Labels::default(),
                            (0..n)
                                .map(|i| Sample::new(g.ts(i), f(g.ts(i) as f64 / 1000.0)))
                                .collect(),
                        )])),
                    };
                }
                Err(Error::Unsupported {
                    what: format!("function {name}()"),
                })
            }
        }
    }

    /// Applies `f(step, value)` to every point of a vector, dropping the metric name; `None`
    /// drops the point.
    fn map_values(
        &mut self,
        arg: &Expr,
        g: &Grid,
        f: impl Fn(usize, f64) -> Option<f64>,
    ) -> Result<Val> {
        let mut v = self.eval_vector(arg, g)?;
        for s in &mut v {
            s.samples.retain_mut(|p| match f(g.index(p.t), p.v) {
                Some(x) => {
                    p.v = x;
                    true
                }
                None => false,
            });
        }
        v.retain(|s| !s.samples.is_empty());
        Ok(Val::Vector(relabel(v, drop_name)?))
    }

    /// A function of a range vector: one value per series and step, from the samples in
    /// the step's window.
    fn call_range(&mut self, f: RangeFunction, args: &[&Expr], g: &Grid) -> Result<Val> {
        let mi = if f == RangeFunction::QuantileOverTime {
            1
        } else {
            0
        };
        let mut params: Vec<Vec<f64>> = Vec::new();
        for (j, a) in args.iter().enumerate() {
            if j != mi {
                params.push(self.eval_scalar(a, g)?);
            }
        }
        let input = self.range_input(args[mi], g, Reader::Range(f))?;
        let drop = f.drops_metric_name();
        let mut out: Vec<Series> = Vec::new();
        if reads_buckets(&input) {
            // Only functions without parameters have a bucket form.
            self.for_each_bucket_series(&input, |ev, labels, buckets| {
                let mut pts = Vec::new();
                for_each_bucket_window(buckets, g, &input.shift, input.range, |step, b, rs, re| {
                    if let Some(v) = f.eval_bucket(b, rs, re) {
                        pts.push(Sample::new(g.ts(step), v));
                    }
                });
                ev.push_range_result(f, labels, pts, &mut out);
                Ok(())
            })?;
        } else {
            self.call_range_samples(f, &params, &input, g, &mut out)?;
        }
        if drop {
            // Prometheus rejects a range-function result whose series collide after the
            // name is dropped, whether or not their steps overlap.
            let mut seen = std::collections::HashSet::with_capacity(out.len());
            if !out.iter().all(|s| seen.insert(&s.labels)) {
                return Err(Error::exec(crate::engine::series_set::DUPLICATE_LABELSET));
            }
        }
        Ok(Val::Vector(out))
    }

    /// `call_range` over the windows' samples.
    fn call_range_samples(
        &mut self,
        f: RangeFunction,
        params: &[Vec<f64>],
        input: &RangeInput,
        g: &Grid,
        out: &mut Vec<Series>,
    ) -> Result<()> {
        let mut p = vec![0.0; params.len()];
        let mut bad_quantile = None;
        self.for_each_range_series(input, |ev, labels, samples| {
            let mut pts = Vec::new();
            let mut failure = None;
            for_each_window(input, samples, g, |step, w| {
                for (k, v) in params.iter().enumerate() {
                    p[k] = v[step];
                }
                if f == RangeFunction::DoubleExponentialSmoothing
                    && let Err(e) = functions::check_smoothing_params(p[0], p[1])
                {
                    failure.get_or_insert(e);
                    return;
                }
                if f == RangeFunction::QuantileOverTime && !(0.0..=1.0).contains(&p[0]) {
                    bad_quantile = Some(p[0]);
                }
                let te = input.shift.te(g.ts(step));
                if let Some(v) = f.eval(w, te - input.range, te, g.ts(step), &p) {
                    pts.push(Sample::new(g.ts(step), v));
                }
            });
            if let Some(e) = failure {
                return Err(e);
            }
            ev.push_range_result(f, labels, pts, out);
            Ok(())
        })?;
        if let Some(q) = bad_quantile {
            self.warn(format!(
                "PromQL warning: quantile value should be between 0 and 1, got {}",
                format_value(q)
            ));
        }
        Ok(())
    }

    /// Adds one series' points of a range function to its result (nothing when it has none),
    /// with the counter-name info of `rate`/`increase` and the name dropped as `f` says.
    fn push_range_result(
        &mut self,
        f: RangeFunction,
        labels: &Labels,
        pts: Vec<Sample>,
        out: &mut Vec<Series>,
    ) {
        if pts.is_empty() {
            return;
        }
        if matches!(f, RangeFunction::Rate | RangeFunction::Increase) {
            let name = labels.metric_name();
            let counter_like = ["_total", "_sum", "_count", "_bucket"]
                .iter()
                .any(|s| name.ends_with(s));
            if !name.is_empty() && !counter_like {
                self.info(format!(
                    "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"
                ));
            }
        }
        let labels = if f.drops_metric_name() {
            drop_name(labels)
        } else {
            labels.clone()
        };
        out.push(Series::new(labels, pts));
    }

    fn histogram_quantile(&mut self, phi: &Expr, v: &Expr, g: &Grid) -> Result<Val> {
        let phi = self.eval_scalar(phi, g)?;
        let v = self.eval_vector(v, g)?;
        // Group series by their labels without `le` (name included); parse each `le`. The
        // result drops the name, so two histograms that differ only by name collide, which
        // is an error as in Prometheus.
        let mut ids: HashMap<Labels, usize> = HashMap::new();
        let mut groups: Vec<Labels> = Vec::new();
        let mut member: Vec<Option<(usize, f64)>> = Vec::with_capacity(v.len());
        for s in &v {
            let le = s.labels.get("le");
            let Some(bound) = parse_go_float(le) else {
                self.warn(format!(
                    "PromQL warning: bucket label \"le\" is missing or has a malformed value of {:?} for metric name {:?}",
                    le,
                    s.labels.metric_name()
                ));
                member.push(None);
                continue;
            };
            let key = with_label(&s.labels, "le", "");
            let n = ids.len();
            let gid = *ids.entry(key.clone()).or_insert_with(|| {
                groups.push(key);
                n
            });
            member.push(Some((gid, bound)));
        }
        let steps = ByStep::new(&v, g);
        let mut out = SeriesSet::new();
        let slots: Vec<usize> = groups.iter().map(|l| out.slot(drop_name(l))).collect();
        let mut buckets: Vec<Vec<Bucket>> = vec![Vec::new(); groups.len()];
        let mut touched = Vec::new();
        for (i, &q) in phi.iter().enumerate() {
            let elems = steps.elems(i);
            if elems.is_empty() {
                continue;
            }
            for &(s, count) in elems {
                if let Some((gid, upper_bound)) = member[s as usize] {
                    if buckets[gid].is_empty() {
                        touched.push(gid);
                    }
                    buckets[gid].push(Bucket { upper_bound, count });
                }
            }
            if !touched.is_empty() && (q.is_nan() || !(0.0..=1.0).contains(&q)) {
                self.warn(format!(
                    "PromQL warning: quantile value should be between 0 and 1, got {}",
                    format_value(q)
                ));
            }
            for &gid in &touched {
                let (value, fixed) = functions::bucket_quantile(q, &mut buckets[gid]);
                if fixed {
                    self.info(format!(
                        "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {:?}",
                        groups[gid].metric_name()
                    ));
                }
                out.push(slots[gid], g.ts(i), value)?;
                buckets[gid].clear();
            }
            touched.clear();
        }
        Ok(Val::Vector(out.finish()))
    }
}

/// Calls `f(step, window)` for every step whose window (of a range input) holds samples.
/// `buf` holds one series' samples in time order.
fn for_each_window(
    input: &RangeInput,
    buf: &[Sample],
    g: &Grid,
    mut f: impl FnMut(usize, &[Sample]),
) {
    let (mut lo, mut hi) = (0, 0);
    for step in 0..g.len() {
        let te = input.shift.te(g.ts(step));
        if input.shift.at.is_some() && step > 0 {
            // `@` pins the window: the same samples at every step.
            if lo < hi {
                f(step, &buf[lo..hi]);
            }
            continue;
        }
        while hi < buf.len() && buf[hi].t <= te {
            hi += 1;
        }
        while lo < hi && buf[lo].t <= te - input.range {
            lo += 1;
        }
        if lo < hi {
            f(step, &buf[lo..hi]);
        }
    }
}

fn absent_series(present: &[bool], labels: Labels, g: &Grid) -> Vec<Series> {
    let samples: Vec<Sample> = present
        .iter()
        .enumerate()
        .filter(|(_, p)| !**p)
        .map(|(i, _)| Sample::new(g.ts(i), 1.0))
        .collect();
    if samples.is_empty() {
        Vec::new()
    } else {
        vec![Series::new(labels, samples)]
    }
}

/// `absent()`'s result labels: the selector's equality matchers (a label matched more than
/// once, or not by equality, is left out), as Prometheus' `createLabelsForAbsentFunction`.
fn absent_labels(arg: &Expr) -> Labels {
    let vs: &VectorSelector = match arg {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::default(),
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        let equal = matches!(m.op, promql_parser::label::MatchOp::Equal);
        if equal && !seen.contains(&m.name.as_str()) {
            pairs.retain(|(n, _)| *n != m.name);
            pairs.push((m.name.clone(), m.value.clone()));
        } else {
            pairs.retain(|(n, _)| *n != m.name);
        }
        seen.push(&m.name);
    }
    Labels::from_pairs(pairs).unwrap_or_default()
}

fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unparen(&p.expr),
        other => other,
    }
}

fn string_arg(e: &Expr) -> Result<String> {
    match unparen(e) {
        Expr::StringLiteral(s) => Ok(s.val.clone()),
        _ => Err(Error::exec("expected a string literal argument")),
    }
}

/// Go's `math.Max`: +Inf wins over NaN, otherwise NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a == f64::INFINITY || b == f64::INFINITY {
        f64::INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() { b } else { a }
    } else if a > b {
        a
    } else {
        b
    }
}

/// Go's `math.Min`: -Inf wins over NaN, otherwise NaN wins.
fn go_min(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() { a } else { b }
    } else if a < b {
        a
    } else {
        b
    }
}

/// Parses a float as Go's `strconv.ParseFloat` does for bucket bounds (`+Inf`, `1e3`, …).
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    s.parse::<f64>().ok().or_else(|| {
        let t = s.trim_start_matches(['+', '-']);
        let neg = s.starts_with('-');
        match t.to_ascii_lowercase().as_str() {
            "inf" | "infinity" => Some(if neg {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }),
            "nan" => Some(f64::NAN),
            _ => None,
        }
    })
}

/// Natural order (digit runs compare as numbers), as the `natsort` package Prometheus uses
/// in `sort_by_label`.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (da, db) = (a[i].is_ascii_digit(), b[j].is_ascii_digit());
        let si = i;
        while i < a.len() && a[i].is_ascii_digit() == da {
            i += 1;
        }
        let sj = j;
        while j < b.len() && b[j].is_ascii_digit() == db {
            j += 1;
        }
        let (ca, cb) = (&a[si..i], &b[sj..j]);
        let o = if da && db {
            let ta = trim_zeros(ca);
            let tb = trim_zeros(cb);
            ta.len().cmp(&tb.len()).then(ta.cmp(tb))
        } else {
            ca.cmp(cb)
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let k = d.iter().take_while(|&&c| c == b'0').count();
    &d[k..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_compares_digit_runs_as_numbers() {
        use std::cmp::Ordering::*;
        assert_eq!(natural_cmp("4m5", "4m600"), Less);
        assert_eq!(natural_cmp("4m1000", "4m600"), Greater);
        assert_eq!(natural_cmp("1.2.3", "1.11.3"), Less);
        assert_eq!(natural_cmp("10", "9"), Greater);
        assert_eq!(natural_cmp("a", "a"), Equal);
    }

    #[test]
    fn go_min_max_follow_go_special_cases() {
        assert!(go_max(f64::NAN, 1.0).is_nan());
        assert_eq!(go_max(f64::NAN, f64::INFINITY), f64::INFINITY);
        assert_eq!(go_min(f64::NAN, f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(go_min(2.0, 1.0), 1.0);
    }

    #[test]
    fn bucket_bounds_parse_like_go() {
        assert_eq!(parse_go_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("0.5"), Some(0.5));
        assert_eq!(parse_go_float("1e3"), Some(1000.0));
        assert_eq!(parse_go_float("abc"), None);
        assert_eq!(parse_go_float(""), None);
    }
}
