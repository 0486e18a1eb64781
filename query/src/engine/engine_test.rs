//! The engine's own checks: limits, deadlines, result shapes and errors. PromQL semantics
//! are covered by Prometheus' scripts (query/tests/promql_conformance.rs).

use std::time::{Duration, Instant};

use super::*;
use crate::mem_querier::MemQuerier;
use crate::value::Labels;

fn querier(series: usize, samples: usize) -> MemQuerier {
    let mut q = MemQuerier::new();
    for i in 0..series {
        let labels = Labels::from_pairs([
            ("__name__", "m".to_string()),
            ("i", i.to_string()),
            ("odd", (i % 2).to_string()),
        ])
        .unwrap();
        let s: Vec<Sample> = (0..samples)
            .map(|k| Sample::new(k as i64 * 10_000, (i * 1000 + k) as f64))
            .collect();
        q.add(labels, &s);
    }
    q
}

fn engine(cfg: QueryConfig) -> QueryEngine {
    QueryEngine::new(cfg)
}

#[test]
fn instant_vector_scalar_and_string_results() {
    let q = querier(3, 10);
    let e = engine(QueryConfig::default());
    let r = e.instant(&q, "m", 95_000, None).unwrap();
    let QueryValue::Vector(v) = r.value else {
        panic!("{:?}", r.value)
    };
    assert_eq!(v.len(), 3);
    assert!(v.iter().all(|el| el.sample.t == 95_000));
    assert_eq!(v[1].sample.v, 1009.0);
    let r = e.instant(&q, "1 + 2", 5_000, None).unwrap();
    assert_eq!(r.value, QueryValue::Scalar(Sample::new(5_000, 3.0)));
    let r = e.instant(&q, "\"hi\"", 5_000, None).unwrap();
    assert_eq!(
        r.value,
        QueryValue::String {
            t: 5_000,
            value: "hi".into()
        }
    );
    let r = e.instant(&q, "m[25s]", 90_000, None).unwrap();
    let QueryValue::Matrix(m) = r.value else {
        panic!()
    };
    // (65s, 90s]: the samples at 70, 80 and 90 s.
    assert_eq!(m[0].samples.len(), 3);
}

#[test]
fn range_results_are_sorted_matrices_and_scalars_become_one_series() {
    let q = querier(3, 10);
    let e = engine(QueryConfig::default());
    let r = e
        .range(&q, "sum by (odd) (m)", 0, 90_000, 30_000, None)
        .unwrap();
    let QueryValue::Matrix(m) = r.value else {
        panic!()
    };
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].labels.get("odd"), "0");
    assert_eq!(m[0].samples.len(), 4);
    assert_eq!(m[0].samples[0], Sample::new(0, 0.0 + 2000.0));
    let r = e.range(&q, "time()", 0, 60_000, 30_000, None).unwrap();
    let QueryValue::Matrix(m) = r.value else {
        panic!()
    };
    assert_eq!(m.len(), 1);
    assert!(m[0].labels.is_empty());
    assert_eq!(m[0].samples[2], Sample::new(60_000, 60.0));
}

#[test]
fn range_queries_reject_strings_range_vectors_and_bad_steps() {
    let q = querier(1, 10);
    let e = engine(QueryConfig::default());
    for (query, step) in [("\"s\"", 1000), ("m[5m]", 1000), ("m", 0), ("m", -5)] {
        let err = e.range(&q, query, 0, 10_000, step, None).unwrap_err();
        assert!(matches!(err, Error::Parse { .. }), "{query}: {err}");
    }
    let err = e.range(&q, "m", 10_000, 0, 1000, None).unwrap_err();
    assert!(err.to_string().contains("end timestamp"), "{err}");
    let err = e.instant(&q, "sum(", 0, None).unwrap_err();
    assert!(matches!(err, Error::Parse { .. }), "{err}");
}

#[test]
fn limits_are_named_when_exceeded() {
    let q = querier(10, 100);
    let e = engine(QueryConfig {
        max_samples: 500,
        ..QueryConfig::default()
    });
    let err = e
        .instant(&q, "count_over_time(m[1h])", 1_000_000, None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Limit {
                limit: "max_samples",
                max: 500
            }
        ),
        "{err}"
    );
    // Under the limit the same query works.
    assert!(
        e.instant(&q, "count_over_time(m[1m])", 1_000_000, None)
            .is_ok()
    );

    let e = engine(QueryConfig {
        max_series: 5,
        ..QueryConfig::default()
    });
    let err = e.instant(&q, "m", 500_000, None).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Limit {
                limit: "max_series",
                ..
            }
        ),
        "{err}"
    );
    assert!(e.instant(&q, "m{odd=\"1\"}", 500_000, None).is_ok());

    let e = engine(QueryConfig {
        max_points_per_series: 10,
        ..QueryConfig::default()
    });
    let err = e.range(&q, "m", 0, 100_000, 10_000, None).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Limit {
                limit: "max_points_per_series",
                ..
            }
        ),
        "{err}"
    );
    assert!(e.range(&q, "m", 0, 90_000, 10_000, None).is_ok());
}

#[test]
fn subquery_results_count_against_max_samples() {
    let q = querier(2, 100);
    let e = engine(QueryConfig {
        max_samples: 1000,
        ..QueryConfig::default()
    });
    // 2 series × 100 raw samples, then 2 × 1,000 subquery points at 1 s steps.
    let err = e
        .instant(&q, "max_over_time(m[1000s:1s])", 1_000_000, None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Limit {
                limit: "max_samples",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_passed_deadline_times_out() {
    let q = querier(2, 10);
    let e = engine(QueryConfig::default());
    let past = Instant::now() - Duration::from_millis(1);
    let err = e.instant(&q, "m", 0, Some(past)).unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
}

#[test]
fn native_histogram_functions_say_they_are_unsupported() {
    let q = querier(1, 10);
    let e = engine(QueryConfig::default());
    let err = e.instant(&q, "histogram_count(m)", 0, None).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("native histograms"), "{err}");
}

#[test]
fn rate_on_a_non_counter_name_adds_an_info_not_a_warning() {
    let q = querier(1, 100);
    let e = engine(QueryConfig::default());
    let r = e.instant(&q, "rate(m[5m])", 900_000, None).unwrap();
    assert!(r.warnings.is_empty());
    assert_eq!(r.infos.len(), 1, "{:?}", r.infos);
    assert!(r.stats.samples_loaded > 0 && r.stats.series_selected == 1);
}

/// A subquery without a step steps at `[query] subquery_step` (Prometheus: its
/// evaluation_interval), so promtool-like runs with another interval agree with promtool.
#[test]
fn a_subquery_without_step_uses_the_configured_step() {
    let q = querier(1, 100);
    let points = |step_ms: i64| -> f64 {
        let e = engine(QueryConfig {
            subquery_step_ms: step_ms,
            ..QueryConfig::default()
        });
        match e
            .instant(&q, "count_over_time(vector(1)[10m:])", 600_000, None)
            .unwrap()
            .value
        {
            QueryValue::Vector(v) => v[0].sample.v,
            other => panic!("not a vector: {other:?}"),
        }
    };
    assert_eq!(points(60_000), 10.0);
    assert_eq!(points(120_000), 5.0);
}
