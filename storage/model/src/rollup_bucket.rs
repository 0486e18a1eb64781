//! `Bucket`: what a rollup keeps of one series over one bucket of time, and how buckets
//! combine. A bucket ending at `end` covers the left-open interval `(end - width, end]`, the
//! same shape as a PromQL window (Prometheus 3.0), so a window `(te - r, te]` whose `te` and
//! `r` are multiples of the width is exactly a run of whole buckets.
//!
//! ```text
//!  raw samples ──push──► Bucket (5 m) ──merge──► Bucket (1 h) ──merge──► any aligned window
//! ```
//!
//! Why these fields, and why exact. Every PromQL function the rollups answer is a function of
//! a window's samples that also is a function of these fields, merged in time order:
//! * `count`, `sum`, `min`, `max`: `*_over_time` and `avg_over_time` (= sum / count).
//! * `first_*` and `last_*` (newest non-stale sample, with its timestamp): `last_over_time`,
//!   a bare selector's value at `end` (the newest sample within the lookback is `last` when
//!   `last_t > end - lookback`, for any lookback up to the width) and `delta`.
//! * `reset_sum`: the sum of the values just before each drop of the series (a counter
//!   reset). Prometheus' reset-corrected increase is `last - first + reset_sum`
//!   ([`Bucket::counter_increase`]), computed the same way, so a NaN in the middle of a counter
//!   is skipped as the raw path skips it. It composes: over two adjacent buckets it is each
//!   one's, plus `a.last` when `b.first` drops below it. With `first_*`, `last_*` and `count`,
//!   this is every input of Prometheus' `extrapolatedRate` (sampled
//!   interval, average spacing, the zero-point clamp from the first value), so `rate` and
//!   `increase` over whole buckets equal the raw answer, not an approximation: Thanos'
//!   `AggrChunk` keeps a counter series with resets marked and re-runs the raw algorithm on
//!   it, which is exact only at its own sample points; these six numbers are exact for any
//!   aligned window.
//! * `stale_t`: the timestamp of the bucket's final raw sample when that sample is a
//!   staleness marker. Range functions ignore markers, but a bare selector must return
//!   nothing when the newest sample in its lookback is one.
//!
//! Stale markers never count as samples (Prometheus drops them from range vectors).

/// One series' summary over `(end - width, end]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// The bucket's end (inclusive), milliseconds.
    pub end: i64,
    /// Non-stale samples.
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub first_t: i64,
    pub first_v: f64,
    pub last_t: i64,
    pub last_v: f64,
    /// Sum of the values just before each drop (counter resets) between the first and the
    /// last sample.
    pub reset_sum: f64,
    /// Set when the bucket's final raw sample is a staleness marker: its timestamp.
    pub stale_t: Option<i64>,
}

impl Bucket {
    /// An empty bucket ending at `end`.
    pub fn empty(end: i64) -> Bucket {
        Bucket {
            end,
            count: 0,
            sum: 0.0,
            min: f64::NAN,
            max: f64::NAN,
            first_t: 0,
            first_v: 0.0,
            last_t: 0,
            last_v: 0.0,
            reset_sum: 0.0,
            stale_t: None,
        }
    }

    /// Whether the bucket saw no sample at all (not even a staleness marker).
    pub fn is_empty(&self) -> bool {
        self.count == 0 && self.stale_t.is_none()
    }

    /// Adds the next sample (in time order, after every sample already pushed).
    pub fn push(&mut self, t: i64, v: f64) {
        if crate::is_stale_marker(v) {
            self.stale_t = Some(t);
            return;
        }
        self.stale_t = None;
        if self.count == 0 {
            self.first_t = t;
            self.first_v = v;
            self.min = v;
            self.max = v;
        } else {
            // Prometheus' min/max_over_time: a NaN is replaced by any later value.
            if v < self.min || self.min.is_nan() {
                self.min = v;
            }
            if v > self.max || self.max.is_nan() {
                self.max = v;
            }
            if v < self.last_v {
                self.reset_sum += self.last_v;
            }
        }
        self.count += 1;
        self.sum += v;
        self.last_t = t;
        self.last_v = v;
    }

    /// The bucket of the samples in `(end - width, end]` out of `samples` (sorted by time;
    /// samples outside the interval are the caller's to leave out).
    pub fn of_samples(end: i64, samples: &[crate::Sample]) -> Bucket {
        let mut b = Bucket::empty(end);
        for s in samples {
            b.push(s.t, s.v);
        }
        b
    }

    /// The counter's reset-corrected increase from the first to the last sample, as
    /// Prometheus computes it (`last - first`, plus the value before each drop).
    pub fn counter_increase(&self) -> f64 {
        self.last_v - self.first_v + self.reset_sum
    }

    /// Appends `later` (whose samples all follow this bucket's) to this one; the result ends
    /// at `later.end`. Associative, so any run of adjacent buckets folds left to right.
    pub fn merge(&mut self, later: &Bucket) {
        self.end = self.end.max(later.end);
        if later.is_empty() {
            return;
        }
        self.stale_t = later.stale_t;
        if later.count == 0 {
            return;
        }
        if self.count == 0 {
            // Keep the merged end: `later` may end before the bucket it is folded into
            // (`merge_buckets` sets the coarse end first, then folds the fine buckets in).
            let end = self.end;
            *self = *later;
            self.end = end;
            return;
        }
        if later.min < self.min || self.min.is_nan() {
            self.min = later.min;
        }
        if later.max > self.max || self.max.is_nan() {
            self.max = later.max;
        }
        if later.first_v < self.last_v {
            self.reset_sum += self.last_v;
        }
        self.reset_sum += later.reset_sum;
        self.count += later.count;
        self.sum += later.sum;
        self.last_t = later.last_t;
        self.last_v = later.last_v;
    }
}

/// The end of the `width`-wide bucket holding time `t`: the smallest multiple of `width`
/// that is `>= t` (buckets are `(end - width, end]`).
pub fn bucket_end(t: i64, width: i64) -> i64 {
    -((-t).div_euclid(width)) * width
}

/// Appends to `out` the non-empty buckets of `width` built from `samples` (sorted by time,
/// stale markers included), for the samples in `(from, to]` (`from` and `to` multiples of
/// `width`). The rollup job and a query reading a tier that is not built yet share this, so
/// stored and computed buckets are the same numbers.
pub fn buckets_of_samples(
    width: i64,
    samples: &[crate::Sample],
    from: i64,
    to: i64,
    out: &mut Vec<Bucket>,
) {
    let mut cur: Option<Bucket> = None;
    for s in samples.iter().filter(|s| s.t > from && s.t <= to) {
        let end = bucket_end(s.t, width);
        match &mut cur {
            Some(b) if b.end == end => b.push(s.t, s.v),
            _ => {
                out.extend(cur.take());
                let mut b = Bucket::empty(end);
                b.push(s.t, s.v);
                cur = Some(b);
            }
        }
    }
    out.extend(cur);
}

/// Appends to `out` the non-empty buckets of rollup `tier` built from raw `samples` in
/// `(from, to]`, as the rollup jobs build them: 5-minute buckets from the samples, 1-hour
/// ones folded from those (the same float additions as a stored hour).
pub fn tier_buckets_of_samples(
    tier: crate::Tier,
    samples: &[crate::Sample],
    from: i64,
    to: i64,
    out: &mut Vec<Bucket>,
) {
    let five = crate::Tier::Rollup5m.bucket_ms();
    if tier == crate::Tier::Rollup1h {
        let mut fine = Vec::new();
        buckets_of_samples(five, samples, from, to, &mut fine);
        merge_buckets(tier.bucket_ms(), &fine, out);
    } else {
        buckets_of_samples(five, samples, from, to, out);
    }
}

/// Appends to `out` the `width`-wide buckets folded from finer ones (`fine` in time order,
/// each inside one `width` bucket, e.g. 5-minute buckets into hours).
pub fn merge_buckets(width: i64, fine: &[Bucket], out: &mut Vec<Bucket>) {
    let mut cur: Option<Bucket> = None;
    for f in fine.iter().filter(|f| !f.is_empty()) {
        let end = bucket_end(f.end, width);
        match &mut cur {
            Some(b) if b.end == end => b.merge(f),
            _ => {
                out.extend(cur.take());
                let mut b = *f;
                b.end = end;
                cur = Some(b);
            }
        }
    }
    out.extend(cur);
}

#[cfg(test)]
#[path = "rollup_bucket_test.rs"]
mod tests;
