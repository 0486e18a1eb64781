//! Reading rollup buckets instead of raw samples: instant selectors and range functions over
//! windows of whole buckets, for selectors the tier planner sent to a rollup tier.
//!
//! ```text
//!  Querier::buckets_many (stitched: built rollups + buckets computed from raw)
//!        │  per series, buckets in time order
//!        ├──▶ instant selector: merge the buckets of (te - span, te], newest sample if fresh
//!        ├──▶ range function:   merge the buckets of (te - r, te], RangeFunction::eval_bucket
//!        └──▶ other readers:    one sample (last_t, last_v) per bucket (approximate)
//! ```
//!
//! Windows here are already snapped to the tier (see `TimeShift::snap`), so each is a run of
//! whole buckets; merging them with `Bucket::merge` left to right gives the window's bucket.

use promql_parser::parser::VectorSelector;

use cairn_model::Bucket;

use crate::engine::evaluator::{Evaluator, RangeInput, RangeSource, TimeShift};
use crate::engine::grid::Grid;
use crate::engine::tier_plan::{ReadMode, TierPlan, snap_range};
use crate::error::{Error, Result};
use crate::querier::{READ_BATCH, SeriesHandle};
use crate::value::{Labels, Sample, Series};

impl Evaluator<'_> {
    /// Reads a batch of series' `tier` buckets ending in `(after, maxt]` into
    /// `bufs[..handles.len()]`, counting them against `max_samples`.
    fn load_bucket_batch(
        &mut self,
        handles: &[SeriesHandle],
        plan: &TierPlan,
        after: i64,
        maxt: i64,
        bufs: &mut Vec<Vec<Bucket>>,
    ) -> Result<()> {
        self.check_deadline()?;
        if bufs.len() < handles.len() {
            bufs.resize_with(handles.len(), Vec::new);
        }
        let ids: Vec<u64> = handles.iter().map(|h| h.id).collect();
        let bufs = &mut bufs[..handles.len()];
        self.q.buckets_many(&ids, plan.tier, after, maxt, bufs)?;
        self.count_samples(bufs.iter().map(Vec::len).sum())
    }

    /// Calls `f(self, labels, buckets)` for every series of a range input read from a rollup
    /// tier, a batch of series at a time.
    pub fn for_each_bucket_series(
        &mut self,
        input: &RangeInput,
        mut f: impl FnMut(&mut Self, &Labels, &[Bucket]) -> Result<()>,
    ) -> Result<()> {
        let RangeSource::Selector {
            series,
            mint,
            maxt,
            plan,
        } = &input.source
        else {
            return Err(Error::exec("internal: buckets of a computed range vector"));
        };
        let mut bufs = Vec::new();
        for batch in series.chunks(READ_BATCH) {
            // `mint` is the oldest sample time a window holds; buckets are named by their end.
            self.load_bucket_batch(batch, plan, mint - 1, *maxt, &mut bufs)?;
            for (h, buf) in batch.iter().zip(&bufs) {
                f(self, &h.labels, buf)?;
            }
        }
        Ok(())
    }

    /// An instant selector read from rollups: at each step, the newest sample of the buckets
    /// in the lookback, unless it is older than the lookback or followed by a staleness
    /// marker. Exact when the step is a bucket end and the lookback fits in one bucket (the
    /// planner checks); otherwise the step snaps down to a bucket end and the lookback up to
    /// whole buckets.
    pub fn vector_selector_from_buckets(
        &mut self,
        vs: &VectorSelector,
        g: &Grid,
        shift: TimeShift,
        plan: TierPlan,
        timestamps: bool,
    ) -> Result<Vec<Series>> {
        self.note_approximate(&plan, "instant selector");
        let w = plan.tier.bucket_ms();
        let shift = TimeShift { snap: w, ..shift };
        let lookback = self.cfg.lookback_delta_ms;
        // Buckets read per step; the newest sample must be within `fresh` of the step.
        let span = snap_range(lookback, w);
        let fresh = if plan.approximate { span } else { lookback };
        let (te0, te1) = (shift.te(g.start), shift.te(g.end));
        let (after, maxt) = (te0.min(te1) - span, te0.max(te1));
        let mut handles = self.select(vs, after + 1, maxt)?;
        let mut out = Vec::with_capacity(handles.len());
        let mut bufs = Vec::new();
        for batch in handles.chunks_mut(READ_BATCH) {
            self.load_bucket_batch(batch, &plan, after, maxt, &mut bufs)?;
            for (h, buf) in batch.iter_mut().zip(&bufs) {
                let mut pts = Vec::new();
                for_each_bucket_window(buf, g, &shift, span, |step, b, _, te| {
                    // A staleness marker after the newest sample ends the series (Bucket docs).
                    let stale = b.stale_t.is_some_and(|s| s > b.last_t);
                    if b.count == 0 || stale || b.last_t <= te - fresh {
                        return;
                    }
                    let v = if timestamps {
                        b.last_t as f64 / 1000.0
                    } else {
                        b.last_v
                    };
                    pts.push(Sample::new(g.ts(step), v));
                });
                if !pts.is_empty() {
                    out.push(Series::new(std::mem::take(&mut h.labels), pts));
                }
            }
        }
        Ok(out)
    }
}

/// Calls `f(step, merged, range_start, range_end)` for every step of `g` whose window
/// `(te - range, te]` (`te` from `shift`, snapped) holds at least one bucket of `buckets`
/// (one series' buckets, in time order); `merged` is the window's buckets merged.
pub(crate) fn for_each_bucket_window(
    buckets: &[Bucket],
    g: &Grid,
    shift: &TimeShift,
    range: i64,
    mut f: impl FnMut(usize, &Bucket, i64, i64),
) {
    let (mut lo, mut hi) = (0, 0);
    let mut pinned: Option<Bucket> = None;
    for step in 0..g.len() {
        let te = shift.te(g.ts(step));
        if shift.at.is_some() && step > 0 {
            // `@` pins the window: the same buckets at every step.
            if let Some(b) = &pinned {
                f(step, b, te - range, te);
            }
            continue;
        }
        while hi < buckets.len() && buckets[hi].end <= te {
            hi += 1;
        }
        while lo < hi && buckets[lo].end <= te - range {
            lo += 1;
        }
        if lo < hi {
            let mut merged = buckets[lo];
            for b in &buckets[lo + 1..hi] {
                merged.merge(b);
            }
            f(step, &merged, te - range, te);
            pinned = Some(merged);
        }
    }
}

/// Replaces `out` with one sample `(last_t, last_v)` per bucket that has one: a series as if
/// scraped once per bucket, for functions that need samples.
pub(crate) fn buckets_as_samples(buckets: &[Bucket], out: &mut Vec<Sample>) {
    out.clear();
    out.extend(
        buckets
            .iter()
            .filter(|b| b.count > 0)
            .map(|b| Sample::new(b.last_t, b.last_v)),
    );
}

/// Whether a range input is answered from merged buckets.
pub(crate) fn reads_buckets(input: &RangeInput) -> bool {
    matches!(
        &input.source,
        RangeSource::Selector { plan, .. } if plan.mode == ReadMode::Buckets
    )
}
