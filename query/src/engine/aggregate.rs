//! Aggregation operators (`sum`, `avg`, `topk`, `quantile`, `count_values`, …) with
//! `by`/`without`, evaluated step by step as Prometheus does.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};

use crate::engine::evaluator::{Evaluator, Val};
use crate::engine::grid::{ByStep, Grid};
use crate::engine::labels::with_label;
use crate::engine::series_set::SeriesSet;
use crate::error::{Error, Result};
use crate::functions;
use crate::value::{Labels, METRIC_NAME, Sample, Series, format_value};

/// One group's running state within one step.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    count: f64,
    value: f64,
    kahan: f64,
    mean: f64,
    incremental_mean: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Simple {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Group,
    Stddev,
    Stdvar,
}

impl Acc {
    fn first(op: Simple, v: f64) -> Acc {
        let mut a = Acc {
            count: 1.0,
            value: v,
            mean: v,
            ..Acc::default()
        };
        if matches!(op, Simple::Stddev | Simple::Stdvar) {
            // Prometheus starts the variance of a NaN or infinite first value at NaN.
            a.value = if v.is_finite() { 0.0 } else { f64::NAN };
        }
        a
    }

    fn add(&mut self, op: Simple, v: f64) {
        match op {
            Simple::Sum => {
                (self.value, self.kahan) = functions::kahan_sum_inc(v, self.value, self.kahan)
            }
            Simple::Avg => {
                self.count += 1.0;
                if !self.incremental_mean {
                    let (nv, nc) = functions::kahan_sum_inc(v, self.value, self.kahan);
                    if !nv.is_infinite() {
                        (self.value, self.kahan) = (nv, nc);
                        return;
                    }
                    // The sum would overflow: continue with an incremental mean.
                    self.incremental_mean = true;
                    self.mean = self.value / (self.count - 1.0);
                    self.kahan /= self.count - 1.0;
                }
                if self.mean.is_infinite() {
                    if v.is_infinite() && (self.mean > 0.0) == (v > 0.0) {
                        return;
                    }
                    if !v.is_infinite() && !v.is_nan() {
                        return;
                    }
                }
                let current = self.mean + self.kahan;
                (self.mean, self.kahan) = functions::kahan_sum_inc(
                    v / self.count - current / self.count,
                    self.mean,
                    self.kahan,
                );
            }
            Simple::Min => {
                if self.value > v || self.value.is_nan() {
                    self.value = v;
                }
            }
            Simple::Max => {
                if self.value < v || self.value.is_nan() {
                    self.value = v;
                }
            }
            Simple::Count => self.count += 1.0,
            Simple::Group => {}
            Simple::Stddev | Simple::Stdvar => {
                self.count += 1.0;
                let delta = v - self.mean;
                self.mean += delta / self.count;
                self.value += delta * (v - self.mean);
            }
        }
    }

    fn result(&self, op: Simple) -> f64 {
        match op {
            Simple::Sum => self.value + self.kahan,
            Simple::Avg => {
                if self.incremental_mean {
                    self.mean + self.kahan
                } else {
                    (self.value + self.kahan) / self.count
                }
            }
            Simple::Min | Simple::Max => self.value,
            Simple::Count => self.count,
            Simple::Group => 1.0,
            Simple::Stdvar => self.value / self.count,
            Simple::Stddev => (self.value / self.count).sqrt(),
        }
    }
}

/// Grouping of input series: each series' group id and each group's labels.
struct Groups {
    of_series: Vec<u32>,
    labels: Vec<Labels>,
}

impl Groups {
    /// Groups series by their `by`/`without` labels. Keys are hashed from the series' own
    /// labels and only copied for a new group, so a large selection costs one hash per series.
    fn new(series: &[Series], modifier: &Option<LabelModifier>) -> Groups {
        let kept = |name: &str| match modifier {
            Some(LabelModifier::Include(l)) => l.labels.iter().any(|n| n == name),
            Some(LabelModifier::Exclude(l)) => {
                name != METRIC_NAME && !l.labels.iter().any(|n| n == name)
            }
            None => false,
        };
        let mut by_hash: HashMap<u64, Vec<u32>> = HashMap::new();
        let mut labels: Vec<Labels> = Vec::new();
        let of_series = series
            .iter()
            .map(|s| {
                let key = s.labels.iter().filter(|l| kept(&l.name));
                let mut h = std::hash::DefaultHasher::new();
                for l in key.clone() {
                    l.hash(&mut h);
                }
                let candidates = by_hash.entry(h.finish()).or_default();
                if let Some(&gid) = candidates
                    .iter()
                    .find(|&&gid| labels[gid as usize].iter().eq(key.clone()))
                {
                    return gid;
                }
                let gid = labels.len() as u32;
                labels.push(Labels::from_sorted_unchecked(key.cloned().collect()));
                candidates.push(gid);
                gid
            })
            .collect();
        Groups { of_series, labels }
    }
}

impl Evaluator<'_> {
    pub fn eval_aggregate(&mut self, a: &AggregateExpr, g: &Grid) -> Result<Val> {
        let op = a.op.to_string().to_ascii_lowercase();
        let simple = match op.as_str() {
            "sum" => Some(Simple::Sum),
            "avg" => Some(Simple::Avg),
            "min" => Some(Simple::Min),
            "max" => Some(Simple::Max),
            "count" => Some(Simple::Count),
            "group" => Some(Simple::Group),
            "stddev" => Some(Simple::Stddev),
            "stdvar" => Some(Simple::Stdvar),
            _ => None,
        };
        // Parameters are evaluated before the vector, as in Prometheus.
        // Prometheus 3.0 evaluates an aggregation's parameter once, at the first step, and
        // uses that value for the whole range (later versions evaluate it per step).
        let param = match (&a.param, op.as_str()) {
            (Some(p), "count_values") => Param::Label(string_param(p)?),
            (Some(p), _) => {
                let first_step = Grid::new(g.start, g.start, g.step);
                Param::Scalar(self.eval_scalar(p, &first_step)?[0])
            }
            (None, _) => Param::None,
        };
        let input = self.eval_vector(&a.expr, g)?;
        let groups = Groups::new(&input, &a.modifier);
        let steps = ByStep::new(&input, g);
        let out = match (simple, op.as_str(), param) {
            (Some(s), _, _) => simple_aggregate(s, &groups, &steps, g),
            (None, "quantile", Param::Scalar(phi)) => self.quantile(phi, &groups, &steps, g),
            (None, "topk" | "bottomk" | "limitk", Param::Scalar(k)) => {
                select_k(&op, k, &input, &groups, &steps, g)?
            }
            (None, "limit_ratio", Param::Scalar(r)) => self.limit_ratio(r, &input, &steps, g)?,
            (None, "count_values", Param::Label(label)) => {
                count_values(&label, &groups, &steps, g)?
            }
            _ => {
                return Err(Error::Unsupported {
                    what: format!("aggregation {op:?}"),
                });
            }
        };
        Ok(Val::Vector(out))
    }

    fn quantile(&mut self, q: f64, groups: &Groups, steps: &ByStep, g: &Grid) -> Vec<Series> {
        let mut out: Vec<Series> = groups
            .labels
            .iter()
            .map(|l| Series::new(l.clone(), Vec::new()))
            .collect();
        let mut values: Vec<Vec<f64>> = vec![Vec::new(); groups.labels.len()];
        let mut touched = Vec::new();
        for i in 0..g.len() {
            let elems = steps.elems(i);
            if elems.is_empty() {
                continue;
            }
            if q.is_nan() || !(0.0..=1.0).contains(&q) {
                self.warn(format!(
                    "PromQL warning: quantile value should be between 0 and 1, got {}",
                    format_value(q)
                ));
            }
            for &(s, v) in elems {
                let gid = groups.of_series[s as usize] as usize;
                if values[gid].is_empty() {
                    touched.push(gid);
                }
                values[gid].push(v);
            }
            for &gid in &touched {
                let v = functions::quantile(q, &mut values[gid]);
                out[gid].samples.push(Sample::new(g.ts(i), v));
                values[gid].clear();
            }
            touched.clear();
        }
        out.retain(|s| !s.samples.is_empty());
        out
    }
}

impl Evaluator<'_> {
    /// `limit_ratio(r, v)`: a deterministic sample of about `r` of the series, chosen by the
    /// hash of their labels as Prometheus does (xxHash64 of `name 0xff value 0xff …`, over
    /// 2^64); a negative `r` takes the complement, so `limit_ratio(r) or limit_ratio(r - 1)`
    /// is every series.
    fn limit_ratio(
        &mut self,
        param: f64,
        input: &[Series],
        steps: &ByStep,
        g: &Grid,
    ) -> Result<Vec<Series>> {
        let offsets: Vec<f64> = input.iter().map(|s| sample_offset(&s.labels)).collect();
        let mut out: Vec<Series> = input
            .iter()
            .map(|s| Series::new(s.labels.clone(), Vec::new()))
            .collect();
        for i in 0..g.len() {
            let elems = steps.elems(i);
            if elems.is_empty() {
                continue;
            }
            if param.is_nan() {
                return Err(Error::exec("Ratio value NaN is NaN"));
            }
            if param == 0.0 {
                continue;
            }
            let ratio = param.clamp(-1.0, 1.0);
            if ratio != param {
                self.warn(format!(
                    "PromQL warning: ratio value should be between -1 and 1, got {}, capping to {}",
                    format_value(param),
                    format_value(ratio)
                ));
            }
            for &(s, v) in elems {
                let o = offsets[s as usize];
                if (ratio >= 0.0 && o < ratio) || (ratio < 0.0 && o >= 1.0 + ratio) {
                    out[s as usize].samples.push(Sample::new(g.ts(i), v));
                }
            }
        }
        out.retain(|s| !s.samples.is_empty());
        Ok(out)
    }
}

/// Where a series falls in [0, 1] for `limit_ratio`: Prometheus' `labels.Hash()` over 2^64.
fn sample_offset(labels: &Labels) -> f64 {
    let mut h = xxhash_rust::xxh64::Xxh64::new(0);
    for l in labels.iter() {
        h.update(l.name.as_bytes());
        h.update(&[0xff]);
        h.update(l.value.as_bytes());
        h.update(&[0xff]);
    }
    h.digest() as f64 / u64::MAX as f64
}

enum Param {
    None,
    /// Its value at the first step, for every step (Prometheus 3.0).
    Scalar(f64),
    Label(String),
}

fn string_param(e: &Expr) -> Result<String> {
    match e {
        Expr::StringLiteral(s) => Ok(s.val.clone()),
        Expr::Paren(p) => string_param(&p.expr),
        _ => Err(Error::exec("expected a string literal parameter")),
    }
}

fn simple_aggregate(op: Simple, groups: &Groups, steps: &ByStep, g: &Grid) -> Vec<Series> {
    let mut out: Vec<Series> = groups
        .labels
        .iter()
        .map(|l| Series::new(l.clone(), Vec::new()))
        .collect();
    let mut accs: Vec<Option<Acc>> = vec![None; groups.labels.len()];
    let mut touched = Vec::new();
    for i in 0..g.len() {
        for &(s, v) in steps.elems(i) {
            let gid = groups.of_series[s as usize] as usize;
            match &mut accs[gid] {
                Some(a) => a.add(op, v),
                slot @ None => {
                    *slot = Some(Acc::first(op, v));
                    touched.push(gid);
                }
            }
        }
        for &gid in &touched {
            if let Some(a) = accs[gid].take() {
                out[gid].samples.push(Sample::new(g.ts(i), a.result(op)));
            }
        }
        touched.clear();
    }
    out.retain(|s| !s.samples.is_empty());
    out
}

/// `topk`, `bottomk` and `limitk`: up to k input series per group and step, keeping their
/// labels. For an instant query the result is ordered group by group, best first.
fn select_k(
    op: &str,
    kf: f64,
    input: &[Series],
    groups: &Groups,
    steps: &ByStep,
    g: &Grid,
) -> Result<Vec<Series>> {
    let mut out = SeriesSet::new();
    let mut slots: Vec<Option<usize>> = vec![None; input.len()];
    let mut members: Vec<Vec<(u32, f64)>> = vec![Vec::new(); groups.labels.len()];
    let mut order: Vec<usize> = Vec::new();
    for i in 0..g.len() {
        let elems = steps.elems(i);
        if elems.is_empty() {
            continue;
        }
        // Go's convertibleToInt64: within [-2^63, 2^63), NaN excluded.
        const TWO_63: f64 = 9_223_372_036_854_775_808.0;
        if !(-TWO_63..TWO_63).contains(&kf) {
            return Err(Error::exec(format!(
                "Scalar value {} overflows int64",
                format_value(kf)
            )));
        }
        let k = if kf >= usize::MAX as f64 {
            usize::MAX
        } else if kf < 1.0 {
            0
        } else {
            kf as usize
        };
        if k == 0 {
            continue;
        }
        for &(s, v) in elems {
            let gid = groups.of_series[s as usize] as usize;
            if members[gid].is_empty() {
                order.push(gid);
            }
            members[gid].push((s, v));
        }
        for &gid in &order {
            let m = &mut members[gid];
            match op {
                // NaN sorts last either way.
                "topk" => m.sort_by(|a, b| desc_nan_last(a.1, b.1)),
                "bottomk" => m.sort_by(|a, b| asc_nan_last(a.1, b.1)),
                _ => {}
            }
            for &(s, v) in m.iter().take(k) {
                let slot = *slots[s as usize]
                    .get_or_insert_with(|| out.slot(input[s as usize].labels.clone()));
                out.push(slot, g.ts(i), v)?;
            }
            m.clear();
        }
        order.clear();
    }
    Ok(out.finish())
}

/// Ascending by value with NaN last.
fn asc_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// Descending by value with NaN last.
fn desc_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal),
    }
}

fn count_values(label: &str, groups: &Groups, steps: &ByStep, g: &Grid) -> Result<Vec<Series>> {
    if !functions::is_valid_label_name(label) {
        return Err(Error::exec(format!("invalid label name {label:?}")));
    }
    let mut out = SeriesSet::new();
    let mut slots: HashMap<(u32, String), usize> = HashMap::new();
    let mut counts: Vec<f64> = Vec::new();
    let mut touched: Vec<usize> = Vec::new();
    for i in 0..g.len() {
        for &(s, v) in steps.elems(i) {
            let gid = groups.of_series[s as usize];
            let key = (gid, format_value(v));
            let slot = match slots.get(&key) {
                Some(&slot) => slot,
                None => {
                    let labels = with_label(&groups.labels[gid as usize], label, &key.1);
                    let slot = out.slot(labels);
                    slots.insert(key, slot);
                    slot
                }
            };
            if counts.len() <= slot {
                counts.resize(slot + 1, 0.0);
            }
            if counts[slot] == 0.0 {
                touched.push(slot);
            }
            counts[slot] += 1.0;
        }
        for &slot in &touched {
            out.push(slot, g.ts(i), counts[slot])?;
            counts[slot] = 0.0;
        }
        touched.clear();
    }
    Ok(out.finish())
}
