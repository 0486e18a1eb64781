//! Compensated (Kahan–Neumaier) summation, the building block of Prometheus' float sums and
//! means (`sum`, `avg`, `sum_over_time`, `avg_over_time`, `stddev_over_time`, the linear
//! regression of `deriv`/`predict_linear`).

/// Adds `inc` to the running sum `sum` whose compensation term is `c`; returns the new
/// `(sum, c)`. The caller's result is `sum + c` (and just `sum` when it is infinite, as
/// `sum_over_time` does). Same operations in the same order as Prometheus' `kahanSumInc`, so
/// results agree bit for bit.
pub fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        // Once the sum overflowed the compensation is meaningless (it would turn into NaN).
        0.0
    } else if sum.abs() >= inc.abs() {
        // Neumaier's improvement: compensate with whichever term is smaller.
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kahan_sum(values: &[f64]) -> f64 {
        let (s, c) = values
            .iter()
            .fold((0.0, 0.0), |(s, c), &v| kahan_sum_inc(v, s, c));
        s + c
    }

    #[test]
    fn compensates_cancellation() {
        // A naive sum gives 0; Prometheus' sum_over_time gives 2 (functions.test).
        assert_eq!([1.0, 1e100, 1.0, -1e100].iter().sum::<f64>(), 0.0);
        assert_eq!(kahan_sum(&[1.0, 1e100, 1.0, -1e100]), 2.0);
    }

    #[test]
    fn infinite_sum_resets_compensation() {
        let (s, c) = kahan_sum_inc(f64::INFINITY, 1.0, 0.5);
        assert_eq!(s, f64::INFINITY);
        assert_eq!(c, 0.0);
    }
}
