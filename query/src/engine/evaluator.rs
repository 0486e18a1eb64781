//! `Evaluator`: walks a PromQL expression over a [`Grid`] of steps. Selectors, subqueries
//! and literals live here; operators, aggregations and function calls in their own files.
//!
//! Times: a selector with `offset o` evaluated at step `ts` looks at `ts - o`; with `@ t` it
//! looks at `t - o` at every step. Windows are left-open, as in Prometheus 3.0: a range
//! `[r]` at time `te` holds samples with `te - r < t <= te`, and the lookback of an instant
//! selector is `(te - lookback, te]`.

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use promql_parser::parser::{AtModifier, Expr, Offset, SubqueryExpr, VectorSelector};

use cairn_model::{Tier, is_stale_marker};

use crate::config::QueryConfig;
use crate::engine::QueryStats;
use crate::engine::bucket_read::buckets_as_samples;
use crate::engine::grid::Grid;
use crate::engine::labels::drop_name;
use crate::engine::series_set::DUPLICATE_LABELSET;
use crate::engine::tier_plan::{
    self, ReadMode, Reader, Resolution, TierPlan, TierQuery, snap_end, snap_range,
};
use crate::error::{Error, Result};
use crate::querier::{Querier, READ_BATCH, SeriesHandle};
use crate::selector::matcher_sets;
use crate::value::{Labels, Sample, Series};

/// The value of an expression over all steps of a grid.
#[derive(Debug)]
pub(crate) enum Val {
    /// One value per step.
    Scalar(Vec<f64>),
    Str(String),
    /// Series with points on the grid's step timestamps.
    Vector(Vec<Series>),
    /// Raw samples of a range vector (only at the top of an instant query).
    Matrix(Vec<Series>),
}

/// Offset and `@` of a selector or subquery, resolved to milliseconds, and the bucket width
/// a selector reading rollups snaps its window ends to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeShift {
    pub offset: i64,
    pub at: Option<i64>,
    /// 0, or the width of the buckets read: window ends are rounded down to a bucket end (a
    /// no-op when they are aligned).
    pub snap: i64,
}

impl TimeShift {
    /// The time a step at `ts` looks at.
    pub fn te(&self, ts: i64) -> i64 {
        let te = self.at.unwrap_or(ts) - self.offset;
        if self.snap > 0 {
            snap_end(te, self.snap)
        } else {
            te
        }
    }
}

/// The range-vector argument of a function: where its series come from and how each step
/// maps to a window.
pub(crate) struct RangeInput {
    pub range: i64,
    pub shift: TimeShift,
    /// The range selector's vector selector (for `absent_over_time`'s labels).
    pub source: RangeSource,
}

pub(crate) enum RangeSource {
    /// Series read from storage: samples in `[mint, maxt]`, or the buckets ending in
    /// `(mint - 1, maxt]` of the planned tier.
    Selector {
        series: Vec<SeriesHandle>,
        mint: i64,
        maxt: i64,
        plan: TierPlan,
    },
    Computed(Vec<Series>),
}

pub(crate) struct Evaluator<'a> {
    pub q: &'a dyn Querier,
    pub cfg: &'a QueryConfig,
    /// The top-level query's start and end, for `@ start()` and `@ end()`.
    pub query_start: i64,
    pub query_end: i64,
    pub deadline: Instant,
    pub stats: QueryStats,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
    /// Which tier selectors read (`Auto`: the tier planner decides per selector).
    pub resolution: Resolution,
}

impl<'a> Evaluator<'a> {
    pub fn check_deadline(&self) -> Result<()> {
        if Instant::now() > self.deadline {
            return Err(Error::Timeout {
                phase: "query evaluation",
            });
        }
        Ok(())
    }

    pub fn warn(&mut self, msg: String) {
        if !self.warnings.contains(&msg) {
            self.warnings.push(msg);
        }
    }

    pub fn info(&mut self, msg: String) {
        if !self.infos.contains(&msg) {
            self.infos.push(msg);
        }
    }

    /// Flags the answer approximate, with an info annotation saying why, when `plan` does
    /// not give the raw answer. `what` names the reader (`rate`, `instant selector`, …).
    pub fn note_approximate(&mut self, plan: &TierPlan, what: &str) {
        if !plan.approximate {
            return;
        }
        let res = plan.tier.resolution();
        let msg = match (plan.mode, self.resolution) {
            (ReadMode::BucketsAsSamples, Resolution::Auto) => format!(
                "PromQL info: {what} over data older than raw retention was computed from {res} rollups"
            ),
            (ReadMode::BucketsAsSamples, _) => format!(
                "PromQL info: {what} was computed from {res} rollups (resolution={res}), one sample per bucket"
            ),
            _ => format!(
                "PromQL info: {what} was computed from {res} rollups, its windows rounded to whole {res} buckets"
            ),
        };
        self.info(msg);
    }

    pub fn eval(&mut self, e: &Expr, g: &Grid) -> Result<Val> {
        self.check_deadline()?;
        match e {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; g.len()])),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, g),
            Expr::Unary(u) => match self.eval(&u.expr, g)? {
                Val::Scalar(mut v) => {
                    v.iter_mut().for_each(|x| *x = -*x);
                    Ok(Val::Scalar(v))
                }
                Val::Vector(mut series) => {
                    for s in &mut series {
                        s.samples.iter_mut().for_each(|p| p.v = -p.v);
                    }
                    Ok(Val::Vector(relabel(series, drop_name)?))
                }
                _ => Err(Error::exec(
                    "unary minus needs a scalar or an instant vector",
                )),
            },
            Expr::VectorSelector(vs) => Ok(Val::Vector(self.eval_vector_selector(vs, g, false)?)),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                let input = self.range_input(e, g, Reader::Samples)?;
                Ok(Val::Matrix(self.raw_windows(input, g)?))
            }
            Expr::Binary(b) => self.eval_binary(b, g),
            Expr::Aggregate(a) => self.eval_aggregate(a, g),
            Expr::Call(c) => self.eval_call(c, g),
            Expr::Extension(_) => Err(Error::Unsupported {
                what: "extension expressions".into(),
            }),
        }
    }

    /// Evaluates an expression that must be a scalar (function and aggregation parameters).
    pub fn eval_scalar(&mut self, e: &Expr, g: &Grid) -> Result<Vec<f64>> {
        match self.eval(e, g)? {
            Val::Scalar(v) => Ok(v),
            other => Err(Error::exec(format!(
                "expected a scalar, got {}",
                val_type(&other)
            ))),
        }
    }

    /// Evaluates an expression that must be an instant vector.
    pub fn eval_vector(&mut self, e: &Expr, g: &Grid) -> Result<Vec<Series>> {
        match self.eval(e, g)? {
            Val::Vector(v) => Ok(v),
            other => Err(Error::exec(format!(
                "expected an instant vector, got {}",
                val_type(&other)
            ))),
        }
    }

    pub fn shift(&self, offset: &Option<Offset>, at: &Option<AtModifier>) -> TimeShift {
        let offset = match offset {
            Some(Offset::Pos(d)) => d.as_millis() as i64,
            Some(Offset::Neg(d)) => -(d.as_millis() as i64),
            None => 0,
        };
        let at = at.as_ref().map(|a| match a {
            AtModifier::Start => self.query_start,
            AtModifier::End => self.query_end,
            AtModifier::At(t) => system_time_ms(*t),
        });
        TimeShift {
            offset,
            at,
            snap: 0,
        }
    }

    /// The tier a selector with this shift and range (the lookback for an instant selector)
    /// reads on grid `g`, recorded in the query's stats.
    pub fn plan_tier(
        &mut self,
        g: &Grid,
        shift: &TimeShift,
        range: i64,
        reader: Reader,
    ) -> TierPlan {
        let plan = tier_plan::plan(&TierQuery {
            start: g.start,
            end: g.end,
            step: g.step,
            range,
            offset: shift.offset,
            at: shift.at,
            reader,
            lookback: self.cfg.lookback_delta_ms,
            resolution: self.resolution,
            bounds: self.q.tier_bounds(),
        });
        self.stats.note_tier(plan.tier, plan.approximate);
        plan
    }

    /// Series matching a vector selector with samples in `[mint, maxt]`, in the querier's
    /// order (like Prometheus, the engine does not sort selections; range results are sorted
    /// at the end).
    pub fn select(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesHandle>> {
        let sets = matcher_sets(vs)?;
        let mut out: Vec<SeriesHandle> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for set in &sets {
            let found = self.q.select(set, mint, maxt)?;
            if sets.len() == 1 {
                out = found;
            } else {
                out.extend(found.into_iter().filter(|h| seen.insert(h.id)));
            }
        }
        self.stats.series_selected += out.len() as u64;
        if self.stats.series_selected > self.cfg.max_series {
            return Err(Error::Limit {
                limit: "max_series",
                max: self.cfg.max_series,
            });
        }
        Ok(out)
    }

    /// Reads a batch of series' samples into `bufs[..handles.len()]`, counting them against
    /// `max_samples`.
    fn load_batch(
        &mut self,
        handles: &[SeriesHandle],
        mint: i64,
        maxt: i64,
        bufs: &mut Vec<Vec<Sample>>,
    ) -> Result<()> {
        self.check_deadline()?;
        if bufs.len() < handles.len() {
            bufs.resize_with(handles.len(), Vec::new);
        }
        let ids: Vec<u64> = handles.iter().map(|h| h.id).collect();
        let bufs = &mut bufs[..handles.len()];
        self.q.samples_many(&ids, mint, maxt, bufs)?;
        self.count_samples(bufs.iter().map(Vec::len).sum())
    }

    pub fn count_samples(&mut self, n: usize) -> Result<()> {
        self.stats.samples_loaded += n as u64;
        if self.stats.samples_loaded > self.cfg.max_samples {
            return Err(Error::Limit {
                limit: "max_samples",
                max: self.cfg.max_samples,
            });
        }
        Ok(())
    }

    /// An instant vector selector: per step, the newest sample within the lookback delta,
    /// unless it is a stale marker. With `timestamps`, the value is the sample's timestamp
    /// in seconds (for `timestamp()`).
    pub fn eval_vector_selector(
        &mut self,
        vs: &VectorSelector,
        g: &Grid,
        timestamps: bool,
    ) -> Result<Vec<Series>> {
        let shift = self.shift(&vs.offset, &vs.at);
        let lookback = self.cfg.lookback_delta_ms;
        let plan = self.plan_tier(g, &shift, lookback, Reader::Instant);
        if plan.tier != Tier::Raw {
            return self.vector_selector_from_buckets(vs, g, shift, plan, timestamps);
        }
        let (te0, te1) = (shift.te(g.start), shift.te(g.end));
        let (mint, maxt) = (te0.min(te1) - lookback + 1, te0.max(te1));
        let mut handles = self.select(vs, mint, maxt)?;
        let mut out = Vec::with_capacity(handles.len());
        let mut bufs = Vec::new();
        for batch in handles.chunks_mut(READ_BATCH) {
            self.load_batch(batch, mint, maxt, &mut bufs)?;
            for (h, buf) in batch.iter_mut().zip(&bufs) {
                let mut pts = Vec::new();
                let mut j = 0;
                for i in 0..g.len() {
                    let ts = g.ts(i);
                    let te = shift.te(ts);
                    while j < buf.len() && buf[j].t <= te {
                        j += 1;
                    }
                    if j == 0 {
                        continue;
                    }
                    let s = buf[j - 1];
                    if s.t <= te - lookback || is_stale_marker(s.v) {
                        continue;
                    }
                    let v = if timestamps { s.t as f64 / 1000.0 } else { s.v };
                    pts.push(Sample::new(ts, v));
                }
                if !pts.is_empty() {
                    // The handle is not used again: take its labels rather than copy them.
                    out.push(Series::new(std::mem::take(&mut h.labels), pts));
                }
            }
        }
        Ok(out)
    }

    /// Resolves a range-vector expression (a range selector or a subquery, maybe in
    /// parentheses) into its series source. A range selector reads the tier planned for
    /// `reader`; reading rollups, its windows are snapped to whole buckets.
    pub fn range_input(&mut self, e: &Expr, g: &Grid, reader: Reader) -> Result<RangeInput> {
        match e {
            Expr::Paren(p) => self.range_input(&p.expr, g, reader),
            Expr::MatrixSelector(ms) => {
                let mut shift = self.shift(&ms.vs.offset, &ms.vs.at);
                let mut range = ms.range.as_millis() as i64;
                let plan = self.plan_tier(g, &shift, range, reader);
                if plan.tier != Tier::Raw {
                    shift.snap = plan.tier.bucket_ms();
                    range = snap_range(range, shift.snap);
                    self.note_approximate(&plan, reader_name(reader));
                }
                let (te0, te1) = (shift.te(g.start), shift.te(g.end));
                let (mint, maxt) = (te0.min(te1) - range + 1, te0.max(te1));
                let series = self.select(&ms.vs, mint, maxt)?;
                Ok(RangeInput {
                    range,
                    shift,
                    source: RangeSource::Selector {
                        series,
                        mint,
                        maxt,
                        plan,
                    },
                })
            }
            Expr::Subquery(sq) => self.subquery(sq, g),
            _ => Err(Error::exec("expected a range vector")),
        }
    }

    /// Evaluates a subquery's inner expression on its own grid: steps aligned to multiples
    /// of the subquery step, from just after the earliest window start to the latest step.
    fn subquery(&mut self, sq: &SubqueryExpr, g: &Grid) -> Result<RangeInput> {
        let shift = self.shift(&sq.offset, &sq.at);
        let range = sq.range.as_millis() as i64;
        let step = sq
            .step
            .map(|d| d.as_millis() as i64)
            .filter(|&s| s > 0)
            .unwrap_or(self.cfg.subquery_step_ms);
        let (te0, te1) = (shift.te(g.start), shift.te(g.end));
        let (lo, hi) = (te0.min(te1), te0.max(te1));
        let first = lo - range;
        let mut start = first.div_euclid(step) * step;
        if start <= first {
            start += step;
        }
        let series = if start > hi {
            Vec::new()
        } else {
            let inner = Grid::new(start, hi, step);
            let v = self.eval_vector(&sq.expr, &inner)?;
            let points: usize = v.iter().map(|s| s.samples.len()).sum();
            self.count_samples(points)?;
            v
        };
        Ok(RangeInput {
            range,
            shift,
            source: RangeSource::Computed(series),
        })
    }

    /// Calls `f(self, labels, samples)` for every series of a range input, stale markers
    /// removed, reading selector series a batch at a time.
    pub fn for_each_range_series(
        &mut self,
        input: &RangeInput,
        mut f: impl FnMut(&mut Self, &Labels, &[Sample]) -> Result<()>,
    ) -> Result<()> {
        match &input.source {
            RangeSource::Selector {
                series,
                mint,
                maxt,
                plan,
            } => match plan.mode {
                ReadMode::Samples => {
                    let mut bufs = Vec::new();
                    for batch in series.chunks(READ_BATCH) {
                        self.load_batch(batch, *mint, *maxt, &mut bufs)?;
                        for (h, buf) in batch.iter().zip(bufs.iter_mut()) {
                            buf.retain(|s| !is_stale_marker(s.v));
                            f(self, &h.labels, buf)?;
                        }
                    }
                }
                ReadMode::BucketsAsSamples => {
                    let mut samples = Vec::new();
                    self.for_each_bucket_series(input, |ev, labels, buckets| {
                        buckets_as_samples(buckets, &mut samples);
                        f(ev, labels, &samples)
                    })?;
                }
                ReadMode::Buckets => {
                    return Err(Error::exec(
                        "internal: a bucket read reached the sample path",
                    ));
                }
            },
            RangeSource::Computed(series) => {
                for s in series {
                    f(self, &s.labels, &s.samples)?;
                }
            }
        }
        Ok(())
    }

    /// The raw samples of a range vector at the single step of an instant query.
    fn raw_windows(&mut self, input: RangeInput, g: &Grid) -> Result<Vec<Series>> {
        if g.len() != 1 {
            return Err(Error::exec(
                "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector",
            ));
        }
        let te = input.shift.te(g.start);
        let mut out = Vec::new();
        self.for_each_range_series(&input, |_, labels, samples| {
            let w: Vec<Sample> = samples
                .iter()
                .copied()
                .filter(|s| s.t > te - input.range && s.t <= te)
                .collect();
            if !w.is_empty() {
                out.push(Series::new(labels.clone(), w));
            }
            Ok(())
        })?;
        Ok(out)
    }
}

/// Re-labels every series with `f` and merges series that end up with the same labels,
/// failing when two of them have a point at the same step.
pub(crate) fn relabel(series: Vec<Series>, f: impl Fn(&Labels) -> Labels) -> Result<Vec<Series>> {
    try_relabel(series, |l| Ok(f(l)))
}

/// `relabel` with a fallible label edit.
pub(crate) fn try_relabel(
    series: Vec<Series>,
    mut f: impl FnMut(&Labels) -> Result<Labels>,
) -> Result<Vec<Series>> {
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    let mut out: Vec<Series> = Vec::with_capacity(series.len());
    for s in series {
        let labels = f(&s.labels)?;
        match index.get(&labels) {
            None => {
                index.insert(labels.clone(), out.len());
                out.push(Series::new(labels, s.samples));
            }
            Some(&i) => {
                let merged = merge_points(&out[i].samples, &s.samples)?;
                out[i].samples = merged;
            }
        }
    }
    Ok(out)
}

/// Merges two sorted point lists; a timestamp in both is a duplicate label set at one step.
fn merge_points(a: &[Sample], b: &[Sample]) -> Result<Vec<Sample>> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].t.cmp(&b[j].t) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => return Err(Error::exec(DUPLICATE_LABELSET)),
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    Ok(out)
}

fn val_type(v: &Val) -> &'static str {
    match v {
        Val::Scalar(_) => "scalar",
        Val::Str(_) => "string",
        Val::Vector(_) => "instant vector",
        Val::Matrix(_) => "range vector",
    }
}

fn system_time_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// How an annotation names what reads a selector.
fn reader_name(r: Reader) -> &'static str {
    match r {
        Reader::Instant => "instant selector",
        Reader::Range(f) => f.name(),
        Reader::Samples => "range selector",
    }
}
