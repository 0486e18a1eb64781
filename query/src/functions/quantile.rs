//! Quantiles: of a list of values (the `quantile` aggregator, `quantile_over_time`,
//! `mad_over_time`) and of classic histogram buckets (`histogram_quantile`), as Prometheus
//! 3.0's `promql/quantile.go` computes them.

use std::cmp::Ordering;

use cairn_model::STALE_NAN_BITS;

/// Relative difference between adjacent cumulative bucket counts below which
/// `histogram_quantile` treats them as equal: such differences are float rounding artefacts
/// (e.g. of sharded sums), not observations.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// φ-quantile of `values` as Prometheus' quantile aggregator and quantile_over_time compute it
/// (sorts `values` in place; φ<0 → -Inf, φ>1 → +Inf, NaN φ → NaN, empty → NaN).
///
/// NaN values sort before all numbers, as in Prometheus, so they take part in the
/// interpolation at the low end.
pub fn quantile(phi: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || phi.is_nan() {
        return f64::NAN;
    }
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    values.sort_unstable_by(nan_first);

    let n = values.len() as f64;
    // Between two samples the result is their weighted average.
    let rank = phi * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (n - 1.0).min(lower + 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Ascending order with every NaN first (Prometheus' `vectorByValueHeap.Less`).
fn nan_first(a: &f64, b: &f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

/// One classic histogram bucket: the cumulative count of observations `<= upper_bound`
/// (the `le` label).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub upper_bound: f64,
    pub count: f64,
}

/// histogram_quantile on classic buckets exactly as Prometheus 3.0's `bucketQuantile`.
///
/// Sorts `buckets` by upper bound and merges buckets with the same bound (summing their
/// counts), so the vector is modified. Returns NaN without a `+Inf` bucket, with fewer than
/// two buckets or with no observations; -Inf for φ<0, +Inf for φ>1, NaN for NaN φ. Within a
/// bucket the result is interpolated linearly, the lowest bucket starting at 0 when its upper
/// bound is positive (else its upper bound is the answer); a quantile in the `+Inf` bucket is
/// the second-highest bound.
///
/// The bool reports that decreasing cumulative counts had to be raised to make them monotonic
/// (Prometheus then adds the info annotation "input to histogram_quantile needed to be fixed
/// for monotonicity"). Differences below a relative 1e-12 are smoothed away silently.
pub fn bucket_quantile(phi: f64, buckets: &mut Vec<Bucket>) -> (f64, bool) {
    if phi.is_nan() {
        return (f64::NAN, false);
    }
    if phi < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if phi > 1.0 {
        return (f64::INFINITY, false);
    }
    // Bounds are never NaN (they come from parsed `le` values the caller filtered).
    buckets.sort_unstable_by(|a, b| {
        a.upper_bound
            .partial_cmp(&b.upper_bound)
            .unwrap_or(Ordering::Equal)
    });
    match buckets.last() {
        Some(b) if b.upper_bound == f64::INFINITY => {}
        _ => return (f64::NAN, false),
    }

    coalesce(buckets);
    let forced_monotonic = ensure_monotonic(buckets, SMALL_DELTA_TOLERANCE);

    if buckets.len() < 2 {
        return (f64::NAN, false);
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return (f64::NAN, false);
    }
    let mut rank = phi * observations;
    // The first bucket (excluding +Inf) whose cumulative count reaches the rank.
    let b = go_search(buckets.len() - 1, |i| buckets[i].count >= rank);

    if b == buckets.len() - 1 {
        return (buckets[buckets.len() - 2].upper_bound, forced_monotonic);
    }
    if b == 0 && buckets[0].upper_bound <= 0.0 {
        return (buckets[0].upper_bound, forced_monotonic);
    }
    let mut bucket_start = 0.0;
    let bucket_end = buckets[b].upper_bound;
    let mut count = buckets[b].count;
    if b > 0 {
        bucket_start = buckets[b - 1].upper_bound;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    (
        bucket_start + (bucket_end - bucket_start) * (rank / count),
        forced_monotonic,
    )
}

/// Go's `sort.Search`: the smallest `i` in `0..n` with `pred(i)` (or `n`), probing the same
/// indices as Go so that even non-monotonic input (NaN counts) lands on the same bucket.
fn go_search(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Merges adjacent buckets with the same upper bound (sorted input), summing their counts.
fn coalesce(buckets: &mut Vec<Bucket>) {
    let mut merged = 0;
    for i in 1..buckets.len() {
        if buckets[i].upper_bound == buckets[merged].upper_bound {
            buckets[merged].count += buckets[i].count;
        } else {
            merged += 1;
            buckets[merged] = buckets[i];
        }
    }
    buckets.truncate(merged + 1);
}

/// Makes the cumulative counts non-decreasing: first numerically insignificant differences
/// (either direction) are flattened, then any remaining decrease is raised to the previous
/// count. Returns whether a real decrease had to be fixed.
fn ensure_monotonic(buckets: &mut [Bucket], tolerance: f64) -> bool {
    let mut forced = false;
    let Some(first) = buckets.first() else {
        return false;
    };
    let mut prev = first.count;
    for bucket in buckets.iter_mut().skip(1) {
        let curr = bucket.count;
        if curr == prev {
            continue;
        }
        // `prev` stays as it is in both corrections: the ignored value never becomes the
        // reference for the next bucket.
        if almost_equal(prev, curr, tolerance) {
            bucket.count = prev;
            continue;
        }
        if curr < prev {
            bucket.count = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    forced
}

/// Prometheus' `almost.Equal`: relative difference below `epsilon`, with an absolute floor
/// near zero; NaNs are equal to each other (a stale marker only to a stale marker).
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    let (a_stale, b_stale) = (a.to_bits() == STALE_NAN_BITS, b.to_bits() == STALE_NAN_BITS);
    if a_stale || b_stale {
        return a_stale && b_stale;
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let min_normal = f64::MIN_POSITIVE;
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < min_normal {
        return diff < epsilon * min_normal;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

#[cfg(test)]
mod quantile_test;
