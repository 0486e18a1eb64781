//! Expected values from Prometheus' `aggregators.test` and `histograms.test`
//! (tests/conformance/promql) unless a comment derives them.

use super::*;

fn buckets(pairs: &[(f64, f64)]) -> Vec<Bucket> {
    pairs
        .iter()
        .map(|&(upper_bound, count)| Bucket { upper_bound, count })
        .collect()
}

fn q(phi: f64, pairs: &[(f64, f64)]) -> (f64, bool) {
    bucket_quantile(phi, &mut buckets(pairs))
}

const INF: f64 = f64::INFINITY;

#[test]
fn quantile_interpolates() {
    assert_eq!(quantile(0.8, &mut [1.0, 0.0]), 0.8);
    assert!((quantile(0.8, &mut [2.0, 0.0, 1.0]) - 1.6).abs() < 1e-12);
    assert!((quantile(0.8, &mut [4.0, 1.0, 0.0]) - 2.8).abs() < 1e-12);
    assert_eq!(quantile(0.5, &mut [4.0, 1.0, 0.0]), 1.0);
    assert_eq!(quantile(1.0, &mut [4.0, 1.0, 0.0]), 4.0);
    assert_eq!(quantile(0.0, &mut [4.0, 1.0, 0.0]), 0.0);
    assert_eq!(quantile(0.3, &mut [7.0]), 7.0);
}

#[test]
fn quantile_special_cases() {
    assert!(quantile(0.5, &mut []).is_nan());
    assert!(quantile(f64::NAN, &mut [1.0, 2.0]).is_nan());
    assert_eq!(quantile(-0.1, &mut [1.0, 2.0]), f64::NEG_INFINITY);
    assert_eq!(quantile(1.1, &mut [1.0, 2.0]), f64::INFINITY);
    // NaNs sort first, so they affect the low quantiles only.
    let mut v = [3.0, f64::NAN, 1.0, 2.0];
    assert!(quantile(0.0, &mut v).is_nan());
    assert!(v[0].is_nan());
    assert_eq!(&v[1..], &[1.0, 2.0, 3.0]);
    assert_eq!(quantile(1.0, &mut v), 3.0);
}

#[test]
fn bucket_quantile_positive_and_negative() {
    // testhistogram at 50m: 0+5x10 etc. → counts ×10.
    let positive = [(0.1, 50.0), (0.2, 70.0), (1.0, 110.0), (INF, 120.0)];
    let negative = [(-0.2, 10.0), (-0.1, 20.0), (0.3, 20.0), (INF, 30.0)];
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    assert_eq!(q(0.0, &positive), (0.0, false));
    assert_eq!(q(0.0, &negative), (-0.2, false));
    assert_eq!(q(1.0, &positive), (1.0, false));
    assert_eq!(q(1.0, &negative), (0.3, false));
    assert!(close(q(0.2, &positive).0, 0.048));
    assert_eq!(q(0.2, &negative).0, -0.2);
    assert!(close(q(0.5, &positive).0, 0.15));
    assert!(close(q(0.5, &negative).0, -0.15));
    assert!(close(q(0.8, &positive).0, 0.72));
    assert_eq!(q(0.8, &negative).0, 0.3);
    assert_eq!(q(-0.1, &positive), (f64::NEG_INFINITY, false));
    assert_eq!(q(1.01, &positive), (f64::INFINITY, false));
    assert!(q(f64::NAN, &positive).0.is_nan());
}

#[test]
fn bucket_quantile_middle_of_buckets() {
    // testhistogram2 at 7m (counts at 5m).
    let h = [(0.0, 0.0), (2.0, 1.0), (4.0, 2.0), (6.0, 3.0), (INF, 3.0)];
    assert_eq!(q(1.0 / 6.0, &h).0, 1.0);
    assert_eq!(q(0.5, &h).0, 3.0);
    assert_eq!(q(5.0 / 6.0, &h).0, 5.0);
}

#[test]
fn bucket_quantile_sorts_and_needs_inf() {
    let unsorted = [(INF, 120.0), (1.0, 110.0), (0.1, 50.0), (0.2, 70.0)];
    assert!((q(0.5, &unsorted).0 - 0.15).abs() < 1e-12);
    assert!(q(0.5, &[(0.1, 1.0), (1.0, 2.0)]).0.is_nan());
    assert!(q(0.5, &[(INF, 2.0)]).0.is_nan());
    assert!(q(0.5, &[]).0.is_nan());
    // No observations.
    assert!(q(0.2, &[(0.1, 0.0), (0.2, 0.0), (INF, 0.0)]).0.is_nan());
}

#[test]
fn bucket_quantile_forces_monotonicity() {
    // nonmonotonic_bucket at 50m.
    let h = [
        (0.1, 20.0),
        (1.0, 10.0),
        (10.0, 50.0),
        (100.0, 40.0),
        (1000.0, 90.0),
        (INF, 80.0),
    ];
    let (v, forced) = q(0.01, &h);
    assert!((v - 0.0045).abs() < 1e-12 && forced);
    assert!((q(0.5, &h).0 - 8.5).abs() < 1e-12);
    assert!((q(0.99, &h).0 - 979.75).abs() < 1e-9);
}

#[test]
fn bucket_quantile_ignores_tiny_deltas_silently() {
    // 100 → 100·(1-1e-14) is rounding noise, not a decrease worth reporting.
    let h = [(1.0, 100.0), (2.0, 100.0 * (1.0 - 1e-14)), (INF, 200.0)];
    let (v, forced) = q(0.5, &h);
    assert_eq!(v, 1.0);
    assert!(!forced);
}

#[test]
fn bucket_quantile_merges_equal_bounds() {
    // `le="1"` and `le="1.0"` parse to the same bound: their counts add up.
    let h = [(1.0, 10.0), (1.0, 10.0), (2.0, 40.0), (INF, 40.0)];
    // 20 below 1, rank 30 is halfway through (1, 2].
    assert_eq!(q(0.75, &h), (1.5, false));
}

#[test]
fn almost_equal_rules() {
    assert!(almost_equal(1.0, 1.0 + 1e-13, 1e-12));
    assert!(!almost_equal(1.0, 1.0 + 1e-11, 1e-12));
    assert!(almost_equal(f64::NAN, f64::NAN, 1e-12));
    let stale = f64::from_bits(STALE_NAN_BITS);
    assert!(!almost_equal(stale, f64::NAN, 1e-12));
    assert!(almost_equal(stale, stale, 1e-12));
    assert!(!almost_equal(0.0, 1e-300, 1e-12));
}
