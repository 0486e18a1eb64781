//! Expected values come from Prometheus' `functions.test` (tests/conformance/promql)
//! unless a comment derives them.

use super::*;

const MIN: i64 = 60_000;

/// A series loaded like `load <step>` in a test script: values at 0, step, 2·step, …
fn load(step_ms: i64, values: &[f64]) -> Vec<Sample> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| Sample::new(i as i64 * step_ms, v))
        .collect()
}

/// `0+inc x n` from a test script: n+1 values.
fn series(start: f64, inc: f64, n: usize) -> Vec<f64> {
    (0..=n).map(|i| start + inc * i as f64).collect()
}

/// Evaluates `f(x[range] offset)` at `eval_t` over `samples`, selecting the left-open window
/// as the evaluator does.
fn eval_at(
    f: RangeFunction,
    samples: &[Sample],
    eval_t: i64,
    range: i64,
    offset: i64,
    params: &[f64],
) -> Option<f64> {
    let end = eval_t - offset;
    let start = end - range;
    let window: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.t > start && s.t <= end)
        .collect();
    f.eval(&window, start, end, eval_t, params)
}

fn at(f: RangeFunction, samples: &[Sample], eval_t: i64, range: i64) -> Option<f64> {
    eval_at(f, samples, eval_t, range, 0, &[])
}

fn assert_close(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("a value");
    assert!(
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{actual} != {expected}"
    );
}

#[test]
fn names() {
    assert_eq!(RangeFunction::from_name("rate"), Some(RangeFunction::Rate));
    assert_eq!(
        RangeFunction::from_name("holt_winters"),
        Some(RangeFunction::DoubleExponentialSmoothing)
    );
    assert_eq!(
        RangeFunction::from_name("double_exponential_smoothing"),
        Some(RangeFunction::DoubleExponentialSmoothing)
    );
    assert_eq!(
        RangeFunction::from_name("mad_over_time"),
        Some(RangeFunction::MadOverTime)
    );
    assert_eq!(RangeFunction::from_name("absent_over_time"), None);
    assert_eq!(RangeFunction::from_name("abs"), None);
    assert!(!RangeFunction::LastOverTime.drops_metric_name());
    assert!(RangeFunction::Rate.drops_metric_name());
    assert!(RangeFunction::PresentOverTime.drops_metric_name());
}

#[test]
fn resets_and_changes() {
    use RangeFunction::{Changes, Resets};
    let foo = load(5 * MIN, &[1., 2., 3., 0., 1., 0., 0., 1., 2., 0.]);
    let bar = load(5 * MIN, &[1., 2., 3., 4., 5., 1., 2., 3., 4., 5.]);
    let t = 50 * MIN;
    // Nothing in (45m, 50m]: the series stops at 45m.
    assert_eq!(at(Resets, &foo, t, 5 * MIN), None);
    assert_eq!(at(Resets, &foo, t, 10 * MIN), Some(0.0));
    assert_eq!(at(Resets, &foo, t, 20 * MIN), Some(1.0));
    assert_eq!(at(Resets, &foo, t, 32 * MIN), Some(2.0));
    assert_eq!(at(Resets, &bar, t, 32 * MIN), Some(1.0));
    assert_eq!(at(Resets, &foo, t, 50 * MIN), Some(3.0));
    assert_eq!(at(Changes, &foo, t, 20 * MIN), Some(2.0));
    assert_eq!(at(Changes, &foo, t, 30 * MIN), Some(3.0));
    assert_eq!(at(Changes, &foo, t, 50 * MIN), Some(7.0));
    assert_eq!(at(Changes, &bar, t, 50 * MIN), Some(8.0));

    // NaN → NaN is no change, NaN ↔ number is.
    let b = load(5 * MIN, &[f64::NAN, f64::NAN, f64::NAN]);
    let c = load(5 * MIN, &[0.0, f64::NAN, 0.0]);
    assert_eq!(at(Changes, &b, 15 * MIN, 20 * MIN), Some(0.0));
    assert_eq!(at(Changes, &c, 15 * MIN, 20 * MIN), Some(2.0));
}

#[test]
fn increase_extrapolates_with_zero_cutoff() {
    use RangeFunction::Increase;
    let foo = load(5 * MIN, &series(0.0, 10.0, 10));
    let mut bar = series(0.0, 18.0, 5);
    bar.extend(series(0.0, 18.0, 5));
    let bar = load(5 * MIN, &bar);
    let dings = load(5 * MIN, &series(10.0, 10.0, 10));
    let bumms = load(5 * MIN, &series(1.0, 10.0, 10));
    let t = 50 * MIN;
    assert_close(at(Increase, &foo, t, 50 * MIN), 100.0);
    assert_close(at(Increase, &bar, t, 50 * MIN), 160.0);
    assert_close(at(Increase, &dings, t, 50 * MIN), 100.0);
    assert_close(at(Increase, &bumms, t, 50 * MIN), 100.0);
    assert_close(at(Increase, &foo, t, 100 * MIN), 100.0);
    assert_close(at(Increase, &bar, t, 100 * MIN), 162.0);
    assert_close(at(Increase, &dings, t, 100 * MIN), 105.0);
    assert_close(at(Increase, &bumms, t, 100 * MIN), 101.0);

    // 3 → 2 is a reset: read as 3 0 1 2.
    let reset = load(5 * MIN, &[0., 1., 2., 3., 2., 3., 4.]);
    assert_close(at(Increase, &reset, 30 * MIN, 30 * MIN), 7.0);
}

#[test]
fn rate() {
    use RangeFunction::Rate;
    let mut middle = series(0.0, 27.0, 4);
    middle.extend(series(0.0, 27.0, 5));
    let middle = load(5 * MIN, &middle);
    assert_close(at(Rate, &middle, 50 * MIN, 50 * MIN), 0.08);

    let mut end = series(0.0, 10.0, 9);
    end.extend([0.0, 10.0]);
    let end = load(5 * MIN, &end);
    assert_eq!(at(Rate, &end, 50 * MIN, 5 * MIN), None);
    assert_eq!(at(Rate, &end, 50 * MIN, 6 * MIN), Some(0.0));

    let window = load(5 * MIN, &series(0.0, 80.0, 10));
    assert_close(at(Rate, &window, 50 * MIN, 50 * MIN), 0.26666666666666666);
    let a = load(5 * MIN, &series(0.0, 10.0, 10));
    let b = load(5 * MIN, &series(0.0, 20.0, 10));
    assert_close(
        eval_at(Rate, &a, 50 * MIN, 10 * MIN, 5 * MIN, &[]),
        0.03333333333333333,
    );
    assert_close(
        eval_at(Rate, &b, 50 * MIN, 10 * MIN, 5 * MIN, &[]),
        0.06666666666666667,
    );
}

#[test]
fn rate_zero_cutoff() {
    use RangeFunction::Rate;
    let expected_at_10m = [0.5, 0.55, 0.6, 0.6, 0.6, 0.6];
    for (i, expected) in expected_at_10m.into_iter().enumerate() {
        let s = load(4 * MIN, &series(60.0 * i as f64, 240.0, 10));
        assert_close(at(Rate, &s, 10 * MIN, 20 * MIN), expected);
        assert_close(at(Rate, &s, 50 * MIN, 20 * MIN), 0.6);
    }
}

#[test]
fn irate_and_idelta() {
    use RangeFunction::{Delta, Idelta, Irate};
    let foo = load(5 * MIN, &series(0.0, 10.0, 10));
    let mut bar = series(0.0, 10.0, 5);
    bar.extend(series(0.0, 10.0, 5));
    let bar = load(5 * MIN, &bar);
    assert_close(at(Irate, &foo, 50 * MIN, 50 * MIN), 1.0 / 30.0);
    assert_close(at(Irate, &bar, 50 * MIN, 50 * MIN), 1.0 / 30.0);
    // The reset from 50 to 0 at 30m: irate takes the new value as the increase.
    assert_eq!(at(Irate, &bar, 30 * MIN, 50 * MIN), Some(0.0));
    assert_eq!(at(Irate, &foo, 0, 50 * MIN), None);

    let foo = load(5 * MIN, &[0., 50., 100., 150., 200.]);
    let bar = load(5 * MIN, &[200., 150., 100., 50., 0.]);
    assert_close(at(Delta, &foo, 20 * MIN, 20 * MIN), 200.0);
    assert_close(at(Delta, &bar, 20 * MIN, 20 * MIN), -200.0);

    let foo = load(5 * MIN, &[0., 50., 100., 150.]);
    let bar = load(5 * MIN, &[0., 50., 100., 50.]);
    assert_eq!(at(Idelta, &foo, 20 * MIN, 20 * MIN), Some(50.0));
    assert_eq!(at(Idelta, &bar, 20 * MIN, 20 * MIN), Some(-50.0));
}

#[test]
fn deriv_and_predict_linear() {
    use RangeFunction::{Deriv, PredictLinear};
    let mut middle = series(0.0, 10.0, 4);
    middle.extend(series(0.0, 10.0, 5));
    let middle = load(5 * MIN, &middle);
    let canary = load(5 * MIN, &series(0.0, 80.0, 10));
    assert_eq!(
        at(Deriv, &canary, 50 * MIN, 50 * MIN),
        Some(0.26666666666666666)
    );
    assert_eq!(
        at(Deriv, &middle, 50 * MIN, 100 * MIN),
        Some(0.010606060606060607)
    );
    assert_close(
        eval_at(PredictLinear, &middle, 50 * MIN, 50 * MIN, 0, &[3600.0]),
        70.0,
    );
    // `[55m] @ 3000`: the window ends at 50m whatever the step; the prediction is relative
    // to the step's time.
    let end = 50 * MIN;
    let start = end - 55 * MIN;
    let window: Vec<Sample> = middle
        .iter()
        .copied()
        .filter(|s| s.t > start && s.t <= end)
        .collect();
    let at_3000 = |eval_t| PredictLinear.eval(&window, start, end, eval_t, &[3600.0]);
    assert_close(at_3000(50 * MIN), 76.81818181818181);
    assert_close(at_3000(10 * MIN), 51.36363636363637);
    assert_close(at_3000(70 * MIN), 89.54545454545455);

    // One sample: no regression.
    assert_eq!(at(Deriv, &middle, 0, MIN), None);
    // Constant values: slope exactly 0; constant infinities: NaN.
    let flat = load(MIN, &[3.0, 3.0, 3.0]);
    assert_eq!(at(Deriv, &flat, 2 * MIN, 5 * MIN), Some(0.0));
    let inf = load(MIN, &[f64::INFINITY; 3]);
    assert!(at(Deriv, &inf, 2 * MIN, 5 * MIN).unwrap().is_nan());
}

#[test]
fn double_exponential_smoothing() {
    use RangeFunction::DoubleExponentialSmoothing as Des;
    let t = 8000 * 1000;
    let step = 10_000;
    let cases: [(Vec<f64>, f64); 3] = [
        (series(0.0, 10.0, 1000), 8000.0),
        (series(0.0, 40.0, 2000), 32000.0),
        (series(8000.0, -10.0, 1000), 0.0),
    ];
    for (values, expected) in cases {
        let s = load(step, &values);
        assert_close(eval_at(Des, &s, t, MIN, 0, &[0.01, 0.1]), expected);
    }
    // Hand-computed: values 1, 3, 4 with sf = tf = 0.5.
    // i=1: s = 0.5*3 + 0.5*(1+2) = 3; i=2: b = 0.5*(3-1) + 0.5*2 = 2, s = 0.5*4 + 0.5*(3+2) = 4.5.
    let s = load(step, &[1.0, 3.0, 4.0]);
    assert_eq!(Des.eval(&s, -1, 20_000, 20_000, &[0.5, 0.5]), Some(4.5));
    assert_eq!(Des.eval(&s[..1], -1, 0, 0, &[0.5, 0.5]), None);
    assert_eq!(Des.eval(&s, -1, 20_000, 20_000, &[1.0, 0.5]), None);
}

#[test]
fn smoothing_params() {
    assert!(check_smoothing_params(0.5, 0.5).is_ok());
    assert!(check_smoothing_params(f64::NAN, 0.5).is_ok());
    assert_eq!(
        check_smoothing_params(1.0, 0.5).unwrap_err().to_string(),
        "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000"
    );
    assert_eq!(
        check_smoothing_params(0.5, 0.0).unwrap_err().to_string(),
        "invalid trend factor. Expected: 0 < tf < 1, got: 0.000000"
    );
    assert_eq!(
        check_smoothing_params(f64::INFINITY, 0.5)
            .unwrap_err()
            .to_string(),
        "invalid smoothing factor. Expected: 0 < sf < 1, got: +Inf"
    );
}

#[test]
fn avg_and_sum_over_time() {
    use RangeFunction::{AvgOverTime, SumOverTime};
    const S: i64 = 10_000;
    let inf = f64::INFINITY;
    // The literal of functions.test, kept verbatim.
    #[allow(clippy::excessive_precision)]
    let big = 9.988465674311579e+307;
    let avg = |values: &[f64], t: i64, range: i64| at(AvgOverTime, &load(S, values), t, range);
    assert_eq!(avg(&[1., 2., 3., 4., 5.], 55_000, MIN), Some(3.0));
    assert_eq!(avg(&[1., 2., 3., 4., inf], MIN, MIN), Some(inf));
    assert_eq!(avg(&[1., 2., 3., 4., -inf], MIN, MIN), Some(-inf));
    assert!(avg(&[1., 2., 3., inf, -inf], MIN, MIN).unwrap().is_nan());
    assert_eq!(avg(&[inf, 0., inf], MIN, MIN), Some(inf));
    assert!(avg(&[inf, inf, inf, -inf], MIN, MIN).unwrap().is_nan());
    assert_eq!(avg(&[-inf, 0., -inf], MIN, MIN), Some(-inf));
    assert!(avg(&[1., 2., -inf, -inf, inf], MIN, MIN).unwrap().is_nan());
    // The sum overflows; the incremental mean does not.
    assert_eq!(avg(&[big, big], MIN, MIN), Some(big));
    assert_eq!(avg(&[-big, -big, -big], MIN, MIN), Some(-big));
    assert_eq!(avg(&[-big, big], 45_000, MIN), Some(0.0));
    assert_eq!(avg(&[-big, big], MIN, 2 * MIN), Some(0.0));
    assert_eq!(
        at(SumOverTime, &load(S, &[big, big]), MIN, 2 * MIN),
        Some(inf)
    );

    // Kahan summation keeps the small terms.
    let cancel = load(S, &[1.0, 1e100, 1.0, -1e100]);
    assert_eq!(at(SumOverTime, &cancel, MIN, 2 * MIN), Some(2.0));
    assert_eq!(at(AvgOverTime, &cancel, MIN, 2 * MIN), Some(0.5));
}

#[test]
fn variance_over_time() {
    use RangeFunction::{StddevOverTime, StdvarOverTime};
    let s = load(10_000, &[0., 8., 8., 2., 3.]);
    assert_close(at(StdvarOverTime, &s, MIN, 2 * MIN), 10.56);
    assert!((at(StddevOverTime, &s, MIN, 2 * MIN).unwrap() - 3.249615).abs() < 1e-6);
    // prometheus/prometheus#4927: equal values give exactly 0.
    let v = 1.5990505637277868;
    let s = load(10_000, &[v, v, v]);
    assert_eq!(at(StdvarOverTime, &s, MIN, MIN), Some(0.0));
    assert_eq!(at(StddevOverTime, &s, MIN, MIN), Some(0.0));
}

#[test]
fn quantile_and_mad_over_time() {
    use RangeFunction::{MadOverTime, QuantileOverTime};
    let s = load(10_000, &[4., 6., 2., 1., 999., 1., 2.]);
    assert_eq!(at(MadOverTime, &s, 70_000, 70_000), Some(1.0));

    let two = load(10_000, &[0., 1.]);
    let three = load(10_000, &[0., 1., 2.]);
    let uneven = load(10_000, &[0., 1., 4.]);
    let q = |phi: f64, s: &[Sample]| eval_at(QuantileOverTime, s, MIN, 2 * MIN, 0, &[phi]);
    assert_eq!(q(0.0, &uneven), Some(0.0));
    assert_eq!(q(0.5, &two), Some(0.5));
    assert_eq!(q(0.5, &uneven), Some(1.0));
    assert_eq!(q(0.75, &three), Some(1.5));
    assert_eq!(q(0.75, &uneven), Some(2.5));
    assert_close(q(0.8, &two), 0.8);
    assert_close(q(0.8, &three), 1.6);
    assert_close(q(0.8, &uneven), 2.8);
    assert_eq!(q(1.0, &uneven), Some(4.0));
    assert_eq!(q(-1.0, &uneven), Some(f64::NEG_INFINITY));
    assert_eq!(q(2.0, &uneven), Some(f64::INFINITY));
    assert!(q(f64::NAN, &uneven).unwrap().is_nan());
}

#[test]
fn simple_aggregations_over_time() {
    use RangeFunction::*;
    let nan = f64::NAN;
    let s = load(10_000, &[nan, 3.0, 1.0, nan, 2.0]);
    let t = 40_000;
    assert_eq!(at(MinOverTime, &s, t, MIN), Some(1.0));
    assert_eq!(at(MaxOverTime, &s, t, MIN), Some(3.0));
    assert_eq!(at(CountOverTime, &s, t, MIN), Some(5.0));
    assert_eq!(at(LastOverTime, &s, t, MIN), Some(2.0));
    assert_eq!(at(PresentOverTime, &s, t, MIN), Some(1.0));
    let only_nan = load(10_000, &[nan, nan]);
    assert!(at(MinOverTime, &only_nan, t, MIN).unwrap().is_nan());
    assert!(at(MaxOverTime, &only_nan, t, MIN).unwrap().is_nan());
    assert_eq!(CountOverTime.eval(&[], 0, 1, 1, &[]), None);
}
