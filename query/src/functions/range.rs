//! Functions of a range vector (`rate(x[5m])`, `avg_over_time(x[1h])`, …): each turns the
//! samples of one series inside one window into at most one value.
//!
//! ```text
//!   evaluator: per series, per step ──▶ window (range_start, range_end] ──▶ RangeFunction::eval ──▶ Option<f64>
//! ```
//!
//! The evaluator selects the window, removes stale markers, drops `__name__` when
//! [`RangeFunction::drops_metric_name`] says so and raises the errors of invalid arguments
//! ([`check_smoothing_params`]); this module only does the arithmetic, with the same float
//! operations in the same order as Prometheus 3.0 (`promql/functions.go`) so that results
//! agree bit for bit.

use super::kahan::kahan_sum_inc;
use super::quantile::quantile;
use crate::error::{Error, Result};
use crate::value::Sample;

/// Functions that take a range vector and return one value per series and step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeFunction {
    Rate,
    Irate,
    Increase,
    Delta,
    Idelta,
    Deriv,
    PredictLinear,
    Resets,
    Changes,
    AvgOverTime,
    MinOverTime,
    MaxOverTime,
    SumOverTime,
    CountOverTime,
    LastOverTime,
    PresentOverTime,
    StddevOverTime,
    StdvarOverTime,
    QuantileOverTime,
    MadOverTime,
    /// `double_exponential_smoothing`, called `holt_winters` before Prometheus 3.0.
    DoubleExponentialSmoothing,
}

impl RangeFunction {
    /// By PromQL function name ("rate", "holt_winters", "double_exponential_smoothing", ...).
    pub fn from_name(name: &str) -> Option<RangeFunction> {
        use RangeFunction::*;
        Some(match name {
            "rate" => Rate,
            "irate" => Irate,
            "increase" => Increase,
            "delta" => Delta,
            "idelta" => Idelta,
            "deriv" => Deriv,
            "predict_linear" => PredictLinear,
            "resets" => Resets,
            "changes" => Changes,
            "avg_over_time" => AvgOverTime,
            "min_over_time" => MinOverTime,
            "max_over_time" => MaxOverTime,
            "sum_over_time" => SumOverTime,
            "count_over_time" => CountOverTime,
            "last_over_time" => LastOverTime,
            "present_over_time" => PresentOverTime,
            "stddev_over_time" => StddevOverTime,
            "stdvar_over_time" => StdvarOverTime,
            "quantile_over_time" => QuantileOverTime,
            "mad_over_time" => MadOverTime,
            // Prometheus 3.0 only knows the new name; the old one is accepted here so that a
            // parser that still has it evaluates it the same way.
            "double_exponential_smoothing" | "holt_winters" => DoubleExponentialSmoothing,
            _ => return None,
        })
    }

    /// The PromQL name (the Prometheus 3.0 one for `double_exponential_smoothing`).
    pub fn name(self) -> &'static str {
        use RangeFunction::*;
        match self {
            Rate => "rate",
            Irate => "irate",
            Increase => "increase",
            Delta => "delta",
            Idelta => "idelta",
            Deriv => "deriv",
            PredictLinear => "predict_linear",
            Resets => "resets",
            Changes => "changes",
            AvgOverTime => "avg_over_time",
            MinOverTime => "min_over_time",
            MaxOverTime => "max_over_time",
            SumOverTime => "sum_over_time",
            CountOverTime => "count_over_time",
            LastOverTime => "last_over_time",
            PresentOverTime => "present_over_time",
            StddevOverTime => "stddev_over_time",
            StdvarOverTime => "stdvar_over_time",
            QuantileOverTime => "quantile_over_time",
            MadOverTime => "mad_over_time",
            DoubleExponentialSmoothing => "double_exponential_smoothing",
        }
    }

    /// Whether the result drops `__name__`. `last_over_time` acts like `offset` and keeps it;
    /// every other range function drops it (Prometheus 3.0's `dropName`).
    pub fn drops_metric_name(self) -> bool {
        self != RangeFunction::LastOverTime
    }

    /// Evaluates over `window`: the samples of one series with `range_start < t <= range_end`,
    /// sorted by time, stale markers already removed, never empty.
    ///
    /// `range_start`/`range_end` are the window bounds in ms (already adjusted for offset and
    /// `@`), used by the extrapolation of rate/increase/delta (and `range_end - range_start`
    /// is the selector's range that `rate` divides by); `eval_t` is the step's evaluation
    /// timestamp in ms, which `predict_linear` predicts relative to. `params` holds the scalar
    /// arguments of this step in call order, without the range vector: quantile_over_time
    /// `[φ]`, predict_linear `[t seconds]`, double_exponential_smoothing `[sf, tf]` (which the
    /// caller must have checked with [`check_smoothing_params`]; invalid factors give `None`).
    ///
    /// Returns `None` when Prometheus produces no sample (rate and friends with fewer than
    /// two samples, an empty window).
    pub fn eval(
        self,
        window: &[Sample],
        range_start: i64,
        range_end: i64,
        eval_t: i64,
        params: &[f64],
    ) -> Option<f64> {
        use RangeFunction::*;
        let first = window.first()?;
        let last = window.last()?;
        let param = |i: usize| params.get(i).copied().unwrap_or(f64::NAN);
        match self {
            Rate | Increase | Delta => {
                let (is_counter, is_rate) = (self != Delta, self == Rate);
                let w = RateInputs::of_samples(window, is_counter);
                extrapolated_rate(&w, range_start, range_end, is_counter, is_rate)
            }
            Irate => instant_value(window, true),
            Idelta => instant_value(window, false),
            Deriv => {
                if window.len() < 2 {
                    return None;
                }
                // Regressing against times relative to the first sample keeps the x values
                // small (prometheus/prometheus#2674).
                Some(linear_regression(window, first.t).0)
            }
            PredictLinear => {
                if window.len() < 2 {
                    return None;
                }
                let (slope, intercept) = linear_regression(window, eval_t);
                Some(slope * param(0) + intercept)
            }
            Resets => Some(
                window
                    .windows(2)
                    .filter(|pair| pair[1].v < pair[0].v)
                    .count() as f64,
            ),
            Changes => Some(
                window
                    .windows(2)
                    .filter(|pair| {
                        let (prev, cur) = (pair[0].v, pair[1].v);
                        // NaN → NaN is no change, although NaN != NaN.
                        cur != prev && !(cur.is_nan() && prev.is_nan())
                    })
                    .count() as f64,
            ),
            AvgOverTime => Some(avg_over_time(window)),
            MinOverTime => Some(window.iter().fold(first.v, |min, s| {
                // A NaN is only kept when nothing else is there.
                if s.v < min || min.is_nan() { s.v } else { min }
            })),
            MaxOverTime => {
                Some(window.iter().fold(
                    first.v,
                    |max, s| {
                        if s.v > max || max.is_nan() { s.v } else { max }
                    },
                ))
            }
            SumOverTime => {
                let (sum, c) = window
                    .iter()
                    .fold((0.0, 0.0), |(sum, c), s| kahan_sum_inc(s.v, sum, c));
                Some(if sum.is_infinite() { sum } else { sum + c })
            }
            CountOverTime => Some(window.len() as f64),
            LastOverTime => Some(last.v),
            PresentOverTime => Some(1.0),
            StdvarOverTime => Some(variance_over_time(window)),
            StddevOverTime => Some(variance_over_time(window).sqrt()),
            QuantileOverTime => {
                let mut values: Vec<f64> = window.iter().map(|s| s.v).collect();
                Some(quantile(param(0), &mut values))
            }
            MadOverTime => {
                let mut values: Vec<f64> = window.iter().map(|s| s.v).collect();
                let median = quantile(0.5, &mut values);
                let mut deviations: Vec<f64> =
                    window.iter().map(|s| (s.v - median).abs()).collect();
                Some(quantile(0.5, &mut deviations))
            }
            DoubleExponentialSmoothing => {
                let (sf, tf) = (param(0), param(1));
                if check_smoothing_params(sf, tf).is_err() {
                    return None;
                }
                double_exponential_smoothing(window, sf, tf)
            }
        }
    }
}

/// Validates the smoothing and trend factors of `double_exponential_smoothing`; both must lie
/// strictly between 0 and 1. Prometheus raises this error whenever the function is applied to
/// a series with samples in the window, even one with fewer than two. NaN passes, as in
/// Prometheus (its comparisons are false), and then yields NaN.
pub fn check_smoothing_params(sf: f64, tf: f64) -> Result<()> {
    if sf <= 0.0 || sf >= 1.0 {
        return Err(Error::exec(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {}",
            go_fixed(sf)
        )));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(Error::exec(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {}",
            go_fixed(tf)
        )));
    }
    Ok(())
}

/// Go's `%f`: six decimals, and `NaN`/`+Inf`/`-Inf` for the special values.
fn go_fixed(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v:.6}")
    }
}

/// The selector's range in seconds as Go's `time.Duration.Seconds()` computes it (whole
/// seconds plus the nanosecond remainder divided separately), which `rate` divides by.
fn duration_seconds(ms: i64) -> f64 {
    let secs = ms / 1000;
    let nanos = (ms % 1000) * 1_000_000;
    secs as f64 + nanos as f64 / 1e9
}

/// What Prometheus' `extrapolatedRate` needs of a window: its first and last sample, how
/// many samples it holds, and the change between first and last (for a counter, corrected
/// for resets). Raw windows and merged rollup buckets both reduce to this, so `rate`,
/// `increase` and `delta` share one extrapolation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RateInputs {
    pub first_t: i64,
    pub first_v: f64,
    pub last_t: i64,
    pub last_v: f64,
    pub count: u64,
    /// `last_v - first_v`, plus (for a counter) the value before each reset.
    pub change: f64,
}

impl RateInputs {
    /// The inputs of a raw window (sorted, stale markers removed, never empty).
    fn of_samples(window: &[Sample], is_counter: bool) -> RateInputs {
        let first = window[0];
        let last = window[window.len() - 1];
        let mut change = last.v - first.v;
        if is_counter {
            // A drop means the counter restarted from zero: add back what it had reached.
            for pair in window.windows(2) {
                if pair[1].v < pair[0].v {
                    change += pair[0].v;
                }
            }
        }
        RateInputs {
            first_t: first.t,
            first_v: first.v,
            last_t: last.t,
            last_v: last.v,
            count: window.len() as u64,
            change,
        }
    }
}

/// rate (counter, per second), increase (counter) and delta (gauge): the change between the
/// first and last sample extrapolated towards the window bounds (Prometheus'
/// `extrapolatedRate`). `None` with fewer than two samples.
pub(crate) fn extrapolated_rate(
    w: &RateInputs,
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if w.count < 2 {
        return None;
    }
    let result = w.change;

    let mut duration_to_start = (w.first_t - range_start) as f64 / 1000.0;
    let mut duration_to_end = (range_end - w.last_t) as f64 / 1000.0;
    let sampled_interval = (w.last_t - w.first_t) as f64 / 1000.0;
    let average_between_samples = sampled_interval / (w.count - 1) as f64;

    // Extrapolate all the way to a bound only when the series plausibly continues there,
    // i.e. the gap is at most 10% more than the average spacing; otherwise assume the
    // series starts or ends half a spacing beyond the outermost sample.
    let threshold = average_between_samples * 1.1;
    let mut extrapolate_to = sampled_interval;

    if duration_to_start >= threshold {
        duration_to_start = average_between_samples / 2.0;
    }
    if is_counter && result > 0.0 && w.first_v >= 0.0 {
        // Counters are never negative: do not extrapolate to before the point where the
        // line through the samples crosses zero.
        let duration_to_zero = sampled_interval * (w.first_v / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    extrapolate_to += duration_to_start;

    if duration_to_end >= threshold {
        duration_to_end = average_between_samples / 2.0;
    }
    extrapolate_to += duration_to_end;

    let mut factor = extrapolate_to / sampled_interval;
    if is_rate {
        factor /= duration_seconds(range_end - range_start);
    }
    Some(result * factor)
}

/// irate and idelta: the last two samples only. irate treats a drop as a counter reset.
fn instant_value(window: &[Sample], is_rate: bool) -> Option<f64> {
    let [.., previous, last] = window else {
        return None;
    };
    let mut result = if is_rate && last.v < previous.v {
        last.v
    } else {
        last.v - previous.v
    };
    let interval = last.t - previous.t;
    if interval == 0 {
        return None;
    }
    if is_rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

/// Least-squares regression of value on time (in seconds relative to `intercept_t` ms);
/// returns the slope and the value at `intercept_t`. Sums are Kahan-compensated.
fn linear_regression(window: &[Sample], intercept_t: i64) -> (f64, f64) {
    let mut n = 0.0;
    let (mut sum_x, mut c_x) = (0.0, 0.0);
    let (mut sum_y, mut c_y) = (0.0, 0.0);
    let (mut sum_xy, mut c_xy) = (0.0, 0.0);
    let (mut sum_x2, mut c_x2) = (0.0, 0.0);
    let init_y = window[0].v;
    let mut const_y = true;
    for (i, s) in window.iter().enumerate() {
        // `!=` on purpose: a NaN after the first sample makes y non-constant.
        if const_y && i > 0 && s.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (s.t - intercept_t) as f64 / 1e3;
        (sum_x, c_x) = kahan_sum_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_sum_inc(s.v, sum_y, c_y);
        (sum_xy, c_xy) = kahan_sum_inc(x * s.v, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_sum_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        // A flat line has slope 0 exactly, without rounding noise; a flat infinite one has
        // no meaningful slope.
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sum_x += c_x;
    sum_y += c_y;
    sum_xy += c_xy;
    sum_x2 += c_x2;

    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

/// avg_over_time: a Kahan sum divided by the count, switching to an incremental mean once
/// the sum would overflow.
fn avg_over_time(window: &[Sample]) -> f64 {
    let (mut sum, mut mean, mut count, mut c) = (0.0, 0.0, 0.0, 0.0);
    let mut incremental = false;
    for s in window {
        count += 1.0;
        if !incremental {
            let (new_sum, new_c) = kahan_sum_inc(s.v, sum, c);
            // Keep the plain sum while it is finite, and always for the first sample (even
            // ±Inf) so that the division below never sees a zero count.
            if count == 1.0 || !new_sum.is_infinite() {
                (sum, c) = (new_sum, new_c);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        if mean.is_infinite() {
            // Inf - Inf would turn the mean into NaN: an infinite mean stays as it is unless
            // the new value is an infinity of the other sign or NaN.
            if s.v.is_infinite() && (mean > 0.0) == (s.v > 0.0) {
                continue;
            }
            if !s.v.is_infinite() && !s.v.is_nan() {
                continue;
            }
        }
        let corrected_mean = mean + c;
        // Dividing both terms by the count before subtracting avoids overflow.
        (mean, c) = kahan_sum_inc(s.v / count - corrected_mean / count, mean, c);
    }
    if incremental {
        mean + c
    } else {
        (sum + c) / count
    }
}

/// The population variance by Welford's method with Kahan-compensated mean and sum of
/// squares (stdvar_over_time; stddev_over_time is its square root).
fn variance_over_time(window: &[Sample]) -> f64 {
    let mut count = 0.0;
    let (mut mean, mut c_mean) = (0.0, 0.0);
    let (mut aux, mut c_aux) = (0.0, 0.0);
    for s in window {
        count += 1.0;
        let delta = s.v - (mean + c_mean);
        (mean, c_mean) = kahan_sum_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_sum_inc(delta * (s.v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// Holt's linear (double exponential) smoothing; the smoothed value after the last sample.
fn double_exponential_smoothing(window: &[Sample], sf: f64, tf: f64) -> Option<f64> {
    if window.len() < 2 {
        return None;
    }
    // s0: previous smoothed value, s1: current smoothed value, b: trend.
    let mut s0 = 0.0;
    let mut s1 = window[0].v;
    let mut b = window[1].v - window[0].v;
    for (i, s) in window.iter().enumerate().skip(1) {
        let x = sf * s.v;
        // The first step keeps the initial trend; later ones blend in the latest slope.
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        (s0, s1) = (s1, x + y);
    }
    Some(s1)
}

mod bucket_eval;

#[cfg(test)]
mod range_test;
