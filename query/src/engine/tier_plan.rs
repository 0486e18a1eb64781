//! The tier planner: which tier (raw, 5 m or 1 h buckets) one selector of a query reads, and
//! whether the answer from it is exact. Pure: it sees the grid, the selector's window and the
//! tiers' bounds, never data.
//!
//! ```text
//!  grid + range/offset/@ + reader + lookback + resolution + TierBounds
//!        │
//!        ▼
//!   preferred = coarsest of  step rule (step ≥ 5m → 5m, ≥ 1h → 1h)
//!                            range rule (range ≥ 1h → 5m, ≥ 1d → 1h)
//!                            retention rule (window older than raw_from → 5m,
//!                                            older than rollup_5m_from → 1h)
//!        │  from `preferred` down to raw: the first tier that holds the window and is exact
//!        ▼
//!   TierPlan { tier, mode: Samples | Buckets | BucketsAsSamples, approximate }
//! ```
//!
//! Exactness. A tier of width `w` answers a window `(te - r, te]` exactly when the window is
//! a run of whole buckets (`te` and `r` multiples of `w`, at every step: the first `te` a
//! multiple and the step too, or `@` pinning one window) and the reader is a function of the
//! window's merged [`cairn_model::Bucket`]: the `*_over_time` sums, counts and extremes,
//! `last`/`present_over_time`, `rate`, `increase`, `delta`. A bare instant selector reads the
//! bucket ending at `te`; it is exact when `te` is aligned and the lookback fits in one bucket
//! (the newest sample within the lookback is then the bucket's `last_*`).
//!
//! When no tier that holds the window is exact, the finest one that holds it is read with
//! every window snapped to its buckets (`te' = ⌊te⌋`, `r' = max(w, ⌈r⌉)`) and the answer is
//! flagged approximate, rather than returning nothing for a window narrower than or not
//! aligned with a bucket (Thanos #1115, #1170).

use cairn_model::Tier;

use crate::functions::RangeFunction;
use crate::querier::TierBounds;

/// An instant query over a range at least this long prefers 5-minute buckets.
pub const RANGE_FOR_5M: i64 = 3_600_000;
/// …and at least this long, 1-hour buckets.
pub const RANGE_FOR_1H: i64 = 86_400_000;

/// Which tier a query reads: chosen per selector (`Auto`), or forced by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resolution {
    #[default]
    Auto,
    /// Read this tier as is: aligned windows exact, others snapped and approximate. `Raw` is
    /// the engine's path before rollups existed.
    Tier(Tier),
}

/// What consumes a selector's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// A bare instant selector (`x`, `sum(x)`, `timestamp(x)`): the newest sample within the
    /// lookback at each step.
    Instant,
    /// A range function over a range selector.
    Range(RangeFunction),
    /// Anything else that needs the window's samples themselves (`absent_over_time`, a range
    /// vector returned as a matrix).
    Samples,
}

/// One selector's place in a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierQuery {
    /// The grid (an instant query is a grid of one step).
    pub start: i64,
    pub end: i64,
    pub step: i64,
    /// The selector's range (ignored for [`Reader::Instant`], which uses `lookback`).
    pub range: i64,
    pub offset: i64,
    pub at: Option<i64>,
    pub reader: Reader,
    pub lookback: i64,
    pub resolution: Resolution,
    pub bounds: TierBounds,
}

/// How the chosen tier is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// Raw samples, the windows as written.
    Samples,
    /// Buckets merged per window, windows snapped to the buckets (a no-op when aligned).
    Buckets,
    /// Each non-empty bucket fed to the reader as one sample `(last_t, last_v)`, windows
    /// snapped: for readers buckets cannot answer (quantiles, `irate`, …).
    BucketsAsSamples,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierPlan {
    pub tier: Tier,
    pub mode: ReadMode,
    pub approximate: bool,
}

impl TierPlan {
    pub const RAW: TierPlan = TierPlan {
        tier: Tier::Raw,
        mode: ReadMode::Samples,
        approximate: false,
    };
}

/// Picks the tier for `q`.
pub fn plan(q: &TierQuery) -> TierPlan {
    let preferred = match q.resolution {
        Resolution::Tier(Tier::Raw) => return TierPlan::RAW,
        Resolution::Tier(t) => return read_rollup(q, t),
        Resolution::Auto => preferred_tier(q),
    };
    // From the preferred tier down to raw: the first that is exact and holds the window.
    // Raw is exact whenever it holds the window.
    let mut tier = Some(preferred);
    while let Some(t) = tier {
        if holds(q, t) && (t == Tier::Raw || exact(q, t)) {
            return read_tier(q, t);
        }
        tier = t.finer();
    }
    // None is: the finest rollup holding the window, snapped; or, when even 1 h buckets have
    // lost part of it, 1 h (which holds the most).
    let finest = Tier::ROLLUPS
        .into_iter()
        .find(|&t| holds(q, t))
        .unwrap_or(Tier::Rollup1h);
    read_rollup(q, finest)
}

fn read_tier(q: &TierQuery, t: Tier) -> TierPlan {
    if t == Tier::Raw {
        TierPlan::RAW
    } else {
        read_rollup(q, t)
    }
}

/// Reads rollup tier `t` as well as it can: whole buckets when the reader is a function of
/// buckets (exact if aligned), one sample per bucket otherwise.
fn read_rollup(q: &TierQuery, t: Tier) -> TierPlan {
    let mode = if bucket_reader(q.reader) {
        ReadMode::Buckets
    } else {
        ReadMode::BucketsAsSamples
    };
    TierPlan {
        tier: t,
        mode,
        approximate: !exact(q, t),
    }
}

/// The coarsest tier the rules ask for (not yet checked for exactness).
fn preferred_tier(q: &TierQuery) -> Tier {
    let mut t = Tier::Raw;
    // A range query's step; an instant query has a grid of one and its step means nothing.
    if q.end > q.start {
        t = t.max(coarsest_within(q.step));
    }
    if q.reader != Reader::Instant {
        t = t.max(if q.range >= RANGE_FOR_1H {
            Tier::Rollup1h
        } else if q.range >= RANGE_FOR_5M {
            Tier::Rollup5m
        } else {
            Tier::Raw
        });
    }
    if !holds(q, Tier::Raw) {
        t = t.max(Tier::Rollup5m);
    }
    if !holds(q, Tier::Rollup5m) {
        t = t.max(Tier::Rollup1h);
    }
    t
}

/// The coarsest tier whose buckets are no wider than `d`.
fn coarsest_within(d: i64) -> Tier {
    if d >= Tier::Rollup1h.bucket_ms() {
        Tier::Rollup1h
    } else if d >= Tier::Rollup5m.bucket_ms() {
        Tier::Rollup5m
    } else {
        Tier::Raw
    }
}

/// Whether tier `t` still holds the oldest window of the query (as `t` would read it).
fn holds(q: &TierQuery, t: Tier) -> bool {
    let te = q.at.unwrap_or(q.start).saturating_sub(q.offset);
    let (te, r) = match t {
        Tier::Raw => (te, window(q)),
        _ => (
            snap_end(te, t.bucket_ms()),
            snap_range(window(q), t.bucket_ms()),
        ),
    };
    q.bounds.from(t) <= te.saturating_sub(r).saturating_add(1)
}

/// The window's length: the range, or the lookback of an instant selector.
fn window(q: &TierQuery) -> i64 {
    match q.reader {
        Reader::Instant => q.lookback,
        _ => q.range,
    }
}

/// Whether reading tier `t` (a rollup) gives the raw answer at every step.
fn exact(q: &TierQuery, t: Tier) -> bool {
    let w = t.bucket_ms();
    let aligned_ends = match q.at {
        Some(at) => at.saturating_sub(q.offset).rem_euclid(w) == 0,
        None => {
            q.start.saturating_sub(q.offset).rem_euclid(w) == 0
                && (q.end == q.start || q.step.rem_euclid(w) == 0)
        }
    };
    aligned_ends
        && match q.reader {
            Reader::Instant => q.lookback <= w,
            Reader::Range(f) => f.exact_over_buckets() && q.range.rem_euclid(w) == 0,
            Reader::Samples => false,
        }
}

/// Whether the reader is computed from merged buckets (rather than from samples).
fn bucket_reader(r: Reader) -> bool {
    match r {
        Reader::Instant => true,
        Reader::Range(f) => f.exact_over_buckets(),
        Reader::Samples => false,
    }
}

/// A window end snapped down to the newest bucket end at or before it (so a snapped window
/// never reads past the step's time).
pub fn snap_end(te: i64, w: i64) -> i64 {
    te.div_euclid(w) * w
}

/// A window length rounded up to whole buckets, and at least one.
pub fn snap_range(r: i64, w: i64) -> i64 {
    let n = r.saturating_add(w - 1).div_euclid(w).max(1);
    n.saturating_mul(w)
}

#[cfg(test)]
#[path = "tier_plan/tier_plan_test.rs"]
mod tests;
