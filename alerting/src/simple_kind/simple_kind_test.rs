//! Each kind compiled, then evaluated by the query engine over in-memory series that should
//! and should not alert.

use cairn_model::{Labels, Sample};
use cairn_query::{MemQuerier, QueryConfig, QueryEngine, QueryValue};

use super::*;

const MIN: i64 = 60_000;

fn s(v: &str) -> Param {
    Param::Scalar(v.to_string())
}

fn list(v: &[&str]) -> Param {
    Param::List(v.iter().map(|x| x.to_string()).collect())
}

fn params(p: &[(&str, Param)]) -> Vec<(String, Param)> {
    p.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn compile_ok(kind: &str, p: &[(&str, Param)], for_ms: i64) -> String {
    match compile(kind, &params(p), for_ms) {
        Ok(c) => {
            assert_eq!(c.source.kind, kind);
            c.expr
        }
        Err(e) => panic!("{kind} {p:?}: {e:?}"),
    }
}

fn compile_err(kind: &str, p: &[(&str, Param)]) -> Vec<KindError> {
    match compile(kind, &params(p), 0) {
        Ok(c) => panic!("{kind} {p:?} compiled to {}", c.expr),
        Err(e) => e,
    }
}

/// Adds a series `name{pairs}` with one sample a minute from `from` to `to` (inclusive,
/// minutes), of value `v(minute)`.
fn add(
    q: &mut MemQuerier,
    name: &str,
    pairs: &[(&str, &str)],
    from: i64,
    to: i64,
    v: impl Fn(i64) -> f64,
) {
    let mut all = vec![("__name__", name)];
    all.extend_from_slice(pairs);
    let labels = Labels::from_pairs(all).unwrap();
    let samples: Vec<Sample> = (from..=to).map(|m| Sample::new(m * MIN, v(m))).collect();
    q.add(labels, &samples);
}

/// The alerts `expr` yields at minute `at`: each result's labels without the metric name
/// (as an alert has them), as `k=v,k=v`, sorted.
fn alerts(q: &MemQuerier, expr: &str, at: i64) -> Vec<String> {
    let engine = QueryEngine::new(QueryConfig::default());
    let r = engine.instant(q, expr, at * MIN, None).unwrap();
    let QueryValue::Vector(v) = r.value else {
        panic!("{expr}: {:?}", r.value)
    };
    let mut out: Vec<String> = v
        .iter()
        .map(|e| {
            let pairs: Vec<String> = e
                .labels
                .iter()
                .filter(|l| l.name != "__name__")
                .map(|l| format!("{}={}", l.name, l.value))
                .collect();
            pairs.join(",")
        })
        .collect();
    out.sort();
    out
}

#[test]
fn threshold_compiles_metric_and_matchers_into_one_selector() {
    let a = compile_ok(
        "threshold",
        &[
            ("metric", s("cpu")),
            ("matchers", Param::Map(vec![("env".into(), "prod".into())])),
            ("op", s(">")),
            ("value", s("90")),
        ],
        0,
    );
    assert_eq!(a, r#"cpu{env="prod"} > 90"#);
    let b = compile_ok(
        "threshold",
        &[
            ("metric", s(r#"cpu{env="prod"}"#)),
            ("op", s("<=")),
            ("value", s("0.5")),
        ],
        0,
    );
    assert_eq!(b, r#"cpu{env="prod"} <= 0.5"#);
    let c = compile_ok(
        "threshold",
        &[
            ("metric", s(r#"cpu{env=~"p.*"}"#)),
            ("matchers", Param::Map(vec![("dc".into(), "x\"y".into())])),
            ("op", s("!=")),
            ("value", s("-1e-3")),
        ],
        0,
    );
    assert!(
        c.starts_with("cpu{") && c.contains(r#"env=~"p.*""#) && c.contains(r#"dc="x\"y""#),
        "{c}"
    );
    assert!(c.ends_with(" != -0.001"), "{c}");
}

#[test]
fn threshold_alerts_only_on_matching_series_over_the_value() {
    let mut q = MemQuerier::new();
    add(
        &mut q,
        "cpu",
        &[("env", "prod"), ("host", "a")],
        0,
        10,
        |_| 95.0,
    );
    add(
        &mut q,
        "cpu",
        &[("env", "prod"), ("host", "b")],
        0,
        10,
        |_| 50.0,
    );
    add(
        &mut q,
        "cpu",
        &[("env", "dev"), ("host", "c")],
        0,
        10,
        |_| 99.0,
    );
    let expr = compile_ok(
        "threshold",
        &[
            ("metric", s("cpu")),
            ("matchers", Param::Map(vec![("env".into(), "prod".into())])),
            ("op", s(">")),
            ("value", s("90")),
        ],
        0,
    );
    assert_eq!(alerts(&q, &expr, 10), vec!["env=prod,host=a"]);
    let calm = compile_ok(
        "threshold",
        &[("metric", s("cpu")), ("op", s(">")), ("value", s("100"))],
        0,
    );
    assert!(alerts(&q, &calm, 10).is_empty());
}

#[test]
fn threshold_errors_name_their_keys() {
    let keys =
        |errs: Vec<KindError>| -> Vec<String> { errs.into_iter().filter_map(|e| e.key).collect() };
    assert_eq!(
        keys(compile_err(
            "threshold",
            &[("metric", s("cpu")), ("value", s("1"))]
        )),
        vec!["op"]
    );
    assert_eq!(
        keys(compile_err(
            "threshold",
            &[("metric", s("cpu")), ("op", s("=>")), ("value", s("1"))]
        )),
        vec!["op"]
    );
    assert_eq!(
        keys(compile_err(
            "threshold",
            &[("metric", s("cpu")), ("op", s(">")), ("value", s("high"))]
        )),
        vec!["value"]
    );
    assert_eq!(
        keys(compile_err(
            "threshold",
            &[
                ("metric", s("rate(cpu[5m])")),
                ("op", s(">")),
                ("value", s("1"))
            ]
        )),
        vec!["metric"]
    );
    assert_eq!(
        keys(compile_err(
            "threshold",
            &[
                ("metric", s("cpu")),
                ("op", s(">")),
                ("value", s("1")),
                ("numerator", s("x"))
            ]
        )),
        vec!["numerator"]
    );
    assert_eq!(
        keys(compile_err(
            "threshold",
            &[
                ("metric", s("cpu")),
                ("matchers", Param::Map(vec![("a-b".into(), "x".into())])),
                ("op", s(">")),
                ("value", s("1"))
            ]
        )),
        vec!["matchers"]
    );
    assert_eq!(keys(compile_err("nosuch", &[])), vec!["kind"]);
    // All problems at once.
    assert_eq!(compile_err("threshold", &[]).len(), 3);
}

#[test]
fn ratio_matches_on_all_labels_or_on_the_given_ones() {
    let plain = compile_ok(
        "ratio",
        &[
            ("numerator", s("errors")),
            ("denominator", s("requests")),
            ("op", s(">")),
            ("value", s("0.1")),
        ],
        0,
    );
    assert_eq!(plain, "(errors) / (requests) > 0.1");
    let mut q = MemQuerier::new();
    add(&mut q, "errors", &[("host", "a")], 0, 10, |_| 5.0);
    add(&mut q, "requests", &[("host", "a")], 0, 10, |_| 10.0);
    add(&mut q, "errors", &[("host", "b")], 0, 10, |_| 1.0);
    add(&mut q, "requests", &[("host", "b")], 0, 10, |_| 100.0);
    assert_eq!(alerts(&q, &plain, 10), vec!["host=a"]);

    // Errors carry a label the requests lack: only `on(host)` pairs them.
    let mut q = MemQuerier::new();
    add(
        &mut q,
        "errors",
        &[("code", "500"), ("host", "a")],
        0,
        10,
        |_| 5.0,
    );
    add(&mut q, "requests", &[("host", "a")], 0, 10, |_| 10.0);
    add(
        &mut q,
        "errors",
        &[("code", "500"), ("host", "b")],
        0,
        10,
        |_| 1.0,
    );
    add(&mut q, "requests", &[("host", "b")], 0, 10, |_| 100.0);
    assert!(alerts(&q, &plain, 10).is_empty());
    let on = compile_ok(
        "ratio",
        &[
            ("numerator", s("errors")),
            ("denominator", s("requests")),
            ("on", list(&["host"])),
            ("op", s(">")),
            ("value", s("0.1")),
        ],
        0,
    );
    assert_eq!(on, "(errors) / on(host) (requests) > 0.1");
    // As in PromQL, a one-to-one `on(...)` result keeps only the `on` labels.
    assert_eq!(alerts(&q, &on, 10), vec!["host=a"]);
}

#[test]
fn ratio_rejects_bad_promql_and_range_vectors() {
    let e = compile_err(
        "ratio",
        &[
            ("numerator", s("sum(")),
            ("denominator", s("x")),
            ("op", s(">")),
            ("value", s("1")),
        ],
    );
    assert_eq!(e[0].key.as_deref(), Some("numerator"));
    // Each side parses alone, the whole does not: reported on the kind.
    let e = compile_err(
        "ratio",
        &[
            ("numerator", s("x[5m]")),
            ("denominator", s("y")),
            ("op", s(">")),
            ("value", s("1")),
        ],
    );
    assert_eq!(e[0].key.as_deref(), Some("kind"), "{e:?}");
}

#[test]
fn anomaly_baseline_ends_where_the_for_window_starts() {
    let p = [
        ("metric", s("m")),
        ("factor", s("3")),
        ("baseline", s("1h")),
    ];
    assert_eq!(compile_ok("anomaly", &p, 0), "m > 3 * avg_over_time(m[1h])");
    assert_eq!(
        compile_ok("anomaly", &p, 30 * MIN),
        "m > 3 * avg_over_time(m[1h] offset 30m)"
    );
    assert_eq!(
        compile_ok("anomaly", &[("metric", s("m"))], 90_000),
        "m > 3 * avg_over_time(m[1h] offset 1m30s)"
    );

    // Host a sits at 10 for two hours, then jumps to 100; host b stays at 10.
    let mut q = MemQuerier::new();
    add(&mut q, "m", &[("host", "a")], 0, 180, |m| {
        if m >= 120 { 100.0 } else { 10.0 }
    });
    add(&mut q, "m", &[("host", "b")], 0, 180, |_| 10.0);
    let shifted = compile_ok("anomaly", &p, 30 * MIN);
    let unshifted = compile_ok("anomaly", &p, 0);
    assert!(alerts(&q, &shifted, 119).is_empty());
    assert_eq!(alerts(&q, &unshifted, 120), vec!["host=a"]);
    // 30 minutes in (when a `for: 30m` alert would fire) the unshifted baseline already
    // holds half an hour of 100s (average 55, times 3 = 165 > 100): it has stopped alerting.
    // The shifted one compares with the hour before the jump.
    assert!(alerts(&q, &unshifted, 150).is_empty());
    assert_eq!(alerts(&q, &shifted, 150), vec!["host=a"]);
}

#[test]
fn anomaly_rejects_bad_factor_and_baseline() {
    let e = compile_err("anomaly", &[("metric", s("m")), ("factor", s("0"))]);
    assert_eq!(e[0].key.as_deref(), Some("factor"));
    let e = compile_err("anomaly", &[("metric", s("m")), ("baseline", s("1 hour"))]);
    assert_eq!(e[0].key.as_deref(), Some("baseline"));
    let e = compile_err("anomaly", &[("metric", s("m offset 5m"))]);
    assert_eq!(e[0].key.as_deref(), Some("metric"));
}

#[test]
fn absence_yields_one_alert_per_missing_group_within_the_lookback() {
    let by = compile_ok(
        "absence",
        &[("metric", s("up")), ("by", list(&["host"]))],
        0,
    );
    assert_eq!(
        by,
        "group by (host) (last_over_time(up[1h])) unless group by (host) (up)"
    );
    let per_series = compile_ok("absence", &[("metric", s("up")), ("lookback", s("2h"))], 0);
    assert_eq!(per_series, "last_over_time(up[2h]) unless up");

    let mut q = MemQuerier::new();
    // Host a: two series, both still reporting at minute 60.
    add(
        &mut q,
        "up",
        &[("host", "a"), ("job", "node")],
        0,
        60,
        |_| 1.0,
    );
    add(
        &mut q,
        "up",
        &[("host", "a"), ("job", "app")],
        0,
        60,
        |_| 1.0,
    );
    // Host b: two series, both gone since minute 30.
    add(
        &mut q,
        "up",
        &[("host", "b"), ("job", "node")],
        0,
        30,
        |_| 1.0,
    );
    add(
        &mut q,
        "up",
        &[("host", "b"), ("job", "app")],
        0,
        30,
        |_| 1.0,
    );
    // Host c: one of its series gone since minute 40, the other still there.
    add(
        &mut q,
        "up",
        &[("host", "c"), ("job", "node")],
        0,
        60,
        |_| 1.0,
    );
    add(
        &mut q,
        "up",
        &[("host", "c"), ("job", "app")],
        0,
        40,
        |_| 1.0,
    );
    // Host d: one series, last seen at minute 1.
    add(
        &mut q,
        "up",
        &[("host", "d"), ("job", "node")],
        0,
        1,
        |_| 1.0,
    );

    // Minute 20: only d is missing (its last sample is within the hour but older than the
    // 5m lookback delta of an instant selector).
    assert_eq!(alerts(&q, &by, 20), vec!["host=d"]);
    // Minute 60: b is gone as a whole (one alert, not one per series); c still reports.
    assert_eq!(alerts(&q, &by, 60), vec!["host=b", "host=d"]);
    // Per series, c's missing series counts as well.
    assert_eq!(
        alerts(&q, &per_series, 60),
        vec![
            "host=b,job=app",
            "host=b,job=node",
            "host=c,job=app",
            "host=d,job=node"
        ]
    );
    // Minute 100: the data ends at minute 60, so a and c are missing now; b and d went
    // silent more than an hour ago and are no longer reported.
    assert_eq!(alerts(&q, &by, 100), vec!["host=a", "host=c"]);
    // Minute 130: nothing reported within the hour: nothing to miss.
    assert_eq!(alerts(&q, &by, 130), Vec::<String>::new());
}

#[test]
fn source_params_are_kept_for_display() {
    let c = compile(
        "absence",
        &params(&[
            ("metric", s("up")),
            ("by", list(&["host", "dc"])),
            ("lookback", s("30m")),
        ]),
        0,
    )
    .unwrap();
    assert_eq!(
        c.source.params.get("by").map(String::as_str),
        Some("[host, dc]")
    );
    assert_eq!(
        c.source.params.get("lookback").map(String::as_str),
        Some("30m")
    );
    assert_eq!(
        c.expr,
        "group by (host, dc) (last_over_time(up[30m])) unless group by (host, dc) (up)"
    );
}

#[test]
fn numbers_and_durations_render_as_promql_reads_them() {
    assert_eq!(fmt_number(90.0), "90");
    assert_eq!(fmt_number(0.9), "0.9");
    assert_eq!(fmt_number(-2.5), "-2.5");
    assert_eq!(fmt_number(1e-7), "1e-7");
    assert_eq!(fmt_number(f64::INFINITY), "+Inf");
    assert_eq!(fmt_duration(3_600_000), "1h");
    assert_eq!(fmt_duration(90_061_001), "1d1h1m1s1ms");
    assert_eq!(parse_number(".inf"), Some(f64::INFINITY));
    assert_eq!(parse_number("1e3"), Some(1000.0));
    assert_eq!(parse_number("ten"), None);
}
