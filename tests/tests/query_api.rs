//! PromQL through the Prometheus HTTP API of a real `cairn server`: instant and range
//! queries, the exact JSON Prometheus writes, its error types and codes, tenant isolation,
//! query limits, and the `cairn query` command.

use anyhow::Result;
use cairn_tests::*;
use serde_json::{Value, json};

/// 2023-11-14T22:13:20Z, the first sample of every test series.
const T0: i64 = 1_700_000_000;

/// `up` for two jobs and a counter `x` rising by 10 every 15 s, from T0 to T0+300 s.
fn write_fixture(url: &str, tenant: Option<&str>) -> Result<()> {
    let mut body = String::new();
    for i in 0..=20 {
        let t = T0 + 15 * i;
        body.push_str(&format!("up,job=api,instance=a value=1 {t}\n"));
        body.push_str(&format!("up,job=db,instance=b value=0 {t}\n"));
        body.push_str(&format!("x,job=api value={} {t}\n", 10 * i));
    }
    body.push_str(&format!("big value=1e21 {}\n", T0 + 300));
    body.push_str(&format!("tiny value=0.0000001 {}\n", T0 + 300));
    write_lines(url, tenant, "s", &body)
}

fn query(url: &str, q: &str, t: i64) -> (u16, Value) {
    let t = t.to_string();
    prom_api(
        url,
        None,
        false,
        "/api/v1/query",
        &[("query", q), ("time", &t)],
    )
    .unwrap()
}

fn by_job<'a>(result: &'a Value, job: &str) -> &'a Value {
    result
        .as_array()
        .unwrap_or_else(|| panic!("result is not a list: {result}"))
        .iter()
        .find(|e| e["metric"]["job"] == job)
        .unwrap_or_else(|| panic!("no job={job} in {result}"))
}

fn assert_error(resp: (u16, Value), code: u16, kind: &str, message: &str) {
    let (c, v) = resp;
    assert_eq!(c, code, "{v}");
    assert_eq!(v["status"], "error", "{v}");
    assert_eq!(v["errorType"], kind, "{v}");
    let got = v["error"].as_str().unwrap_or_default();
    assert!(got.contains(message), "error {got:?} lacks {message:?}");
}

#[test]
fn instant_and_range_queries_answer_prometheus_json() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start(dir.path(), &[])?;
    let url = node.url.clone();
    write_fixture(&url, None)?;
    let end = T0 + 300;

    // Instant vector: labels as `metric`, `[seconds, "value"]`, GET and POST alike.
    let (code, v) = query(&url, "up", end);
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "vector");
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 2, "{v}");
    let api = by_job(&v["data"]["result"], "api");
    assert_eq!(
        api["metric"],
        json!({"__name__": "up", "instance": "a", "job": "api"})
    );
    assert_eq!(api["value"], json!([end, "1"]));
    assert_eq!(
        by_job(&v["data"]["result"], "db")["value"],
        json!([end, "0"])
    );
    assert!(
        v.get("warnings").is_none() && v.get("infos").is_none(),
        "{v}"
    );
    let t = end.to_string();
    let (code, posted) = prom_api(
        &url,
        None,
        true,
        "/api/v1/query",
        &[("query", "up"), ("time", &t)],
    )?;
    assert_eq!(code, 200, "{posted}");
    assert_eq!(posted["data"]["result"].as_array().unwrap().len(), 2);

    // Timestamps keep their milliseconds as Prometheus writes them; times may be RFC 3339.
    let (_, text) = prom_api_text(
        &url,
        None,
        false,
        "/api/v1/query",
        &[("query", "sum(up)"), ("time", "2023-11-14T22:18:20.5Z")],
    )?;
    assert_eq!(
        text,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000300.500,"1"]}]}}"#
    );

    // Aggregation and rate.
    let (_, v) = query(&url, "sum(x)", end);
    assert_eq!(
        v["data"]["result"],
        json!([{"metric": {}, "value": [end, "200"]}])
    );
    let (_, v) = query(&url, "rate(x[5m])", end);
    let r = &v["data"]["result"][0];
    assert_eq!(r["metric"], json!({"job": "api"}), "{v}");
    let rate: f64 = r["value"][1].as_str().unwrap().parse()?;
    assert!((rate - 10.0 / 15.0).abs() < 1e-9, "rate {rate}");

    // Values in Go's float format: an exponent only for the very large and very small.
    let (_, v) = query(&url, "big", end);
    assert_eq!(v["data"]["result"][0]["value"][1], "1e+21", "{v}");
    let (_, v) = query(&url, "tiny", end);
    assert_eq!(v["data"]["result"][0]["value"][1], "1e-07", "{v}");

    // Scalars and strings.
    let (_, v) = query(&url, "1 + 1.5", end);
    assert_eq!(
        v["data"],
        json!({"resultType": "scalar", "result": [end, "2.5"]})
    );
    let (_, v) = query(&url, "\"hello\"", end);
    assert_eq!(
        v["data"],
        json!({"resultType": "string", "result": [end, "hello"]})
    );

    // Range: a matrix of `values`, one point per step, both ends included.
    let (s, e) = (T0.to_string(), (T0 + 60).to_string());
    for step in ["15", "15s"] {
        let (code, v) = prom_api(
            &url,
            None,
            false,
            "/api/v1/query_range",
            &[("query", "up"), ("start", &s), ("end", &e), ("step", step)],
        )?;
        assert_eq!(code, 200, "{v}");
        assert_eq!(v["data"]["resultType"], "matrix");
        let api = by_job(&v["data"]["result"], "api");
        assert_eq!(
            api["values"],
            json!([
                [T0, "1"],
                [T0 + 15, "1"],
                [T0 + 30, "1"],
                [T0 + 45, "1"],
                [T0 + 60, "1"]
            ])
        );
    }
    // A range query of a scalar is a matrix with one unlabelled series.
    let (_, v) = prom_api(
        &url,
        None,
        true,
        "/api/v1/query_range",
        &[("query", "2"), ("start", &s), ("end", &e), ("step", "30")],
    )?;
    assert_eq!(
        v["data"],
        json!({"resultType": "matrix", "result": [{"metric": {}, "values": [[T0, "2"], [T0 + 30, "2"], [T0 + 60, "2"]]}]})
    );

    // Evaluations are counted on /metrics.
    let m = client().get(format!("{url}/metrics")).send()?.text()?;
    assert!(
        m.contains("cairn_queries_total{endpoint=\"query\",outcome=\"success\"}"),
        "{m}"
    );
    assert!(m.contains("cairn_query_duration_seconds_bucket{endpoint=\"query_range\""));
    assert!(m.contains("cairn_query_samples_loaded_total"));
    Ok(())
}

#[test]
fn bad_parameters_and_bad_promql_are_prometheus_errors() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start(dir.path(), &[])?;
    let url = node.url.clone();
    let q = |params: &[(&str, &str)]| prom_api(&url, None, false, "/api/v1/query", params).unwrap();
    let r = |params: &[(&str, &str)]| {
        prom_api(&url, None, true, "/api/v1/query_range", params).unwrap()
    };

    assert_error(q(&[]), 400, "bad_data", "invalid parameter \"query\"");
    assert_error(
        q(&[("query", "sum(")]),
        400,
        "bad_data",
        "invalid parameter \"query\": ",
    );
    assert_error(
        q(&[("query", "nosuchfunction(up)")]),
        400,
        "bad_data",
        "query",
    );
    assert_error(
        q(&[("query", "up"), ("resolution", "10m")]),
        400,
        "bad_data",
        "invalid parameter \"resolution\": \"10m\" is not a resolution: use raw, 5m, 1h or auto",
    );
    // The development clock is off unless the node was started with --dev-clock.
    let (code, v) = prom_api(
        &url,
        None,
        true,
        "/api/v1/admin/clock",
        &[("advance", "1d")],
    )?;
    assert_eq!(code, 404, "{v}");
    assert!(
        v["error"].as_str().unwrap_or("").contains("--dev-clock"),
        "{v}"
    );
    assert_error(
        q(&[("query", "up"), ("time", "noon")]),
        400,
        "bad_data",
        "invalid parameter \"time\": cannot parse \"noon\" to a valid timestamp",
    );
    assert_error(
        q(&[("query", "up"), ("timeout", "soon")]),
        400,
        "bad_data",
        "invalid parameter \"timeout\": cannot parse \"soon\" to a valid duration",
    );
    let ok = [
        ("query", "up"),
        ("start", "100"),
        ("end", "200"),
        ("step", "10"),
    ];
    let with = |k: &str, v: &'static str| -> Vec<(String, String)> {
        ok.iter()
            .filter(|(n, _)| *n != k)
            .map(|(n, x)| (n.to_string(), x.to_string()))
            .chain(std::iter::once((k.to_string(), v.to_string())))
            .filter(|(_, x)| !x.is_empty())
            .collect()
    };
    let rr = |p: Vec<(String, String)>| {
        let p: Vec<(&str, &str)> = p.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        r(&p)
    };
    assert_error(
        rr(with("start", "")),
        400,
        "bad_data",
        "invalid parameter \"start\"",
    );
    assert_error(
        rr(with("end", "x")),
        400,
        "bad_data",
        "invalid parameter \"end\"",
    );
    assert_error(
        rr(with("end", "50")),
        400,
        "bad_data",
        "end timestamp must not be before start time",
    );
    assert_error(
        rr(with("step", "")),
        400,
        "bad_data",
        "invalid parameter \"step\"",
    );
    for step in ["0", "-5", "0s"] {
        assert_error(
            rr(with("step", step)),
            400,
            "bad_data",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        );
    }
    assert_error(
        r(&[
            ("query", "up"),
            ("start", "0"),
            ("end", "1000000"),
            ("step", "1"),
        ]),
        400,
        "bad_data",
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
    );
    assert_error(
        rr(with("query", "up[5m]")),
        400,
        "bad_data",
        "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector",
    );
    assert_error(
        rr(with("query", "\"s\"")),
        400,
        "bad_data",
        "invalid expression type \"string\" for range query, must be Scalar or instant Vector",
    );
    let (code, v) = prom_api(
        &url,
        Some("bad tenant!"),
        false,
        "/api/v1/query",
        &[("query", "up")],
    )?;
    assert_eq!((code, &v["errorType"]), (400, &json!("bad_data")), "{v}");

    // The endpoints Grafana calls beside queries.
    let (code, v) = prom_api(
        &url,
        None,
        false,
        "/api/v1/format_query",
        &[("query", "sum(rate(x[5m]))by(job)")],
    )?;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"], "sum by (job) (rate(x[5m]))");
    assert_error(
        prom_api(
            &url,
            None,
            false,
            "/api/v1/format_query",
            &[("query", "sum(")],
        )?,
        400,
        "bad_data",
        "invalid parameter \"query\"",
    );
    let (code, v) = prom_api(&url, None, false, "/api/v1/metadata", &[("limit", "5")])?;
    assert_eq!((code, &v["data"]), (200, &json!({})), "{v}");
    let (code, v) = prom_api(
        &url,
        None,
        true,
        "/api/v1/query_exemplars",
        &[("query", "up")],
    )?;
    assert_eq!((code, &v["data"]), (200, &json!([])), "{v}");
    let (_, v) = prom_api(&url, None, false, "/api/v1/status/buildinfo", &[])?;
    for k in [
        "version",
        "revision",
        "branch",
        "buildUser",
        "buildDate",
        "goVersion",
    ] {
        assert!(v["data"].get(k).is_some(), "buildinfo lacks {k}: {v}");
    }
    let (_, v) = prom_api(&url, None, false, "/api/v1/status/runtimeinfo", &[])?;
    for k in [
        "startTime",
        "CWD",
        "reloadConfigSuccess",
        "lastConfigTime",
        "corruptionCount",
        "goroutineCount",
        "GOMAXPROCS",
        "GOGC",
        "GODEBUG",
        "storageRetention",
    ] {
        assert!(v["data"].get(k).is_some(), "runtimeinfo lacks {k}: {v}");
    }
    // The test harness starts nodes keeping data forever (CAIRN_RETENTION=0s).
    assert_eq!(v["data"]["storageRetention"], "unlimited");
    Ok(())
}

#[test]
fn tenants_never_see_each_others_series() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start(dir.path(), &[])?;
    let url = node.url.clone();
    write_lines(
        &url,
        Some("team-a"),
        "s",
        &format!("secret,team=a value=42 {T0}\n"),
    )?;
    write_lines(
        &url,
        Some("team-b"),
        "s",
        &format!("public,team=b value=7 {T0}\n"),
    )?;
    let t = (T0 + 10).to_string();
    let count = |tenant: &str, q: &str| -> Value {
        let (code, v) = prom_api(
            &url,
            Some(tenant),
            false,
            "/api/v1/query",
            &[("query", q), ("time", &t)],
        )
        .unwrap();
        assert_eq!(code, 200, "{v}");
        v["data"]["result"].clone()
    };
    assert_eq!(
        count("team-a", "secret"),
        json!([{"metric": {"__name__": "secret", "team": "a"}, "value": [T0 + 10, "42"]}])
    );
    assert_eq!(count("team-b", "secret"), json!([]));
    assert_eq!(count("default", "secret"), json!([]));
    assert_eq!(
        count("team-b", r#"count by (__name__) ({__name__=~".+"})"#),
        json!([{"metric": {"__name__": "public"}, "value": [T0 + 10, "1"]}])
    );
    // The metadata endpoints answer per tenant too.
    let (_, v) = prom_api(
        &url,
        Some("team-b"),
        false,
        "/api/v1/label/__name__/values",
        &[],
    )?;
    assert_eq!(v["data"], json!(["public"]));
    let (_, v) = prom_api(
        &url,
        Some("team-b"),
        true,
        "/api/v1/series",
        &[("match[]", "secret"), ("start", "0"), ("end", &t)],
    )?;
    assert_eq!(v["data"], json!([]));
    Ok(())
}

#[test]
fn a_query_over_max_samples_is_refused_and_the_node_keeps_answering() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start_with_config(
        dir.path(),
        "[query]\nmax_samples = 100\nmax_points_per_series = 50\n",
        &[],
    )?;
    let url = node.url.clone();
    // 300 samples 10 s apart: the whole series is over the limit, the last 5 minutes (what
    // an instant selector reads) are not.
    let mut body = String::new();
    for i in 0..300 {
        body.push_str(&format!("m value={i} {}\n", T0 + 10 * i));
    }
    write_lines(&url, None, "s", &body)?;
    let end = T0 + 2990;

    assert_error(
        query(&url, "count_over_time(m[1h])", end),
        422,
        "execution",
        "max_samples",
    );
    let (code, v) = query(&url, "m", end);
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["result"][0]["value"], json!([end, "299"]));
    let (code, v) = query(&url, "count_over_time(m[2m])", end);
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["result"][0]["value"], json!([end, "12"]));

    // The resolution limit is the configured one.
    assert_error(
        prom_api(
            &url,
            None,
            false,
            "/api/v1/query_range",
            &[
                ("query", "m"),
                ("start", "0"),
                ("end", "100"),
                ("step", "1"),
            ],
        )?,
        400,
        "bad_data",
        "exceeded maximum resolution of 50 points per timeseries",
    );

    let m = client().get(format!("{url}/metrics")).send()?.text()?;
    assert!(
        m.contains("cairn_query_limit_hits_total{limit=\"max_samples\"} 1"),
        "{m}"
    );
    assert!(m.contains("cairn_query_limit_hits_total{limit=\"max_points_per_series\"} 1"));
    assert!(m.contains("cairn_queries_total{endpoint=\"query\",outcome=\"execution\"} 1"));
    Ok(())
}

#[test]
fn cairn_query_prints_tables_json_and_errors() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start(dir.path(), &[])?;
    let url = node.url.clone();
    write_fixture(&url, Some("cli"))?;
    let end = (T0 + 300).to_string();

    let (ok, out, err) = cairn_cli(&[
        "query", "--url", &url, "--tenant", "cli", "up", "--time", &end,
    ])?;
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().next(),
        Some("__name__  instance  job  VALUE  TIMESTAMP"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l == "up        a         api  1      2023-11-14T22:18:20.000Z"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 3, "{out}");

    let (ok, out, err) = cairn_cli(&[
        "query", "--url", &url, "--tenant", "cli", "sum(up)", "--time", &end, "--json",
    ])?;
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(out.trim())?;
    assert_eq!(v["data"]["result"][0]["value"], json!([T0 + 300, "1"]));

    let (s, e) = (T0.to_string(), (T0 + 30).to_string());
    let (ok, out, err) = cairn_cli(&[
        "query",
        "--url",
        &url,
        "--tenant",
        "cli",
        "up{job=\"api\"}",
        "--start",
        &s,
        "--end",
        &e,
        "--step",
        "15s",
    ])?;
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "up{instance=\"a\", job=\"api\"}\n\
         \x20 2023-11-14T22:13:20.000Z  1\n\
         \x20 2023-11-14T22:13:35.000Z  1\n\
         \x20 2023-11-14T22:13:50.000Z  1\n"
    );

    let (ok, out, _) = cairn_cli(&["query", "--url", &url, "2 * 21", "--time", &end])?;
    assert!(ok);
    assert_eq!(out, "42\n");

    let (ok, _, err) = cairn_cli(&["query", "--url", &url, "sum("])?;
    assert!(!ok);
    assert!(
        err.contains("error: bad_data: invalid parameter \"query\""),
        "{err}"
    );
    let (ok, _, err) = cairn_cli(&["query", "--url", &url, "up", "--start", "yesterday"])?;
    assert!(!ok);
    assert!(err.contains("--start"), "{err}");
    Ok(())
}

/// A counter or gauge without labels from `/metrics`.
fn metric_value(url: &str, name: &str) -> u64 {
    let text = client()
        .get(format!("{url}/metrics"))
        .send()
        .and_then(|r| r.text())
        .unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics")) as u64
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn range_text(
    url: &str,
    tenant: Option<&str>,
    q: &str,
    start: i64,
    end: i64,
    step: &str,
) -> String {
    let (s, e) = (start.to_string(), end.to_string());
    let (code, text) = prom_api_text(
        url,
        tenant,
        false,
        "/api/v1/query_range",
        &[("query", q), ("start", &s), ("end", &e), ("step", step)],
    )
    .unwrap();
    assert_eq!(code, 200, "{text}");
    text
}

/// The value of `series` (matched on `host`) at `t`, if it has a point there.
fn value_at(text: &str, host: &str, t: i64) -> Option<String> {
    let v: Value = serde_json::from_str(text).unwrap();
    let s = v["data"]["result"]
        .as_array()?
        .iter()
        .find(|s| s["metric"]["host"] == host)?;
    s["values"]
        .as_array()?
        .iter()
        .find(|p| p[0] == t)
        .map(|p| p[1].as_str().unwrap_or_default().to_string())
}

#[test]
fn the_result_cache_answers_old_steps_and_is_never_stale() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start(dir.path(), &[])?;
    let url = node.url.clone();
    let base = unix_now() / 60 * 60;
    let (from, to) = (base - 3 * 3600, base - 2 * 3600);
    // host=a every 5 minutes, 2-3 hours ago; value = sample number.
    let mut body = String::new();
    for i in 0..=12 {
        body.push_str(&format!("cache_load,host=a value={i} {}\n", from + 300 * i));
    }
    write_lines(&url, None, "s", &body)?;
    let hits = || metric_value(&url, "cairn_query_cache_hits_total");
    let partial = || metric_value(&url, "cairn_query_cache_partial_total");
    let q = "cache_load";
    let (start, end) = (from, base - 3600);

    // (a) The same request twice: the second is a hit, byte for byte the first answer.
    let first = range_text(&url, None, q, start, end, "60");
    assert_eq!(value_at(&first, "a", from + 120).as_deref(), Some("0"));
    let h0 = hits();
    let second = range_text(&url, None, q, start, end, "60");
    assert_eq!(hits(), h0 + 1);
    assert_eq!(first, second);
    assert!(metric_value(&url, "cairn_query_cache_bytes") > 0);
    // Instant queries at a past time too.
    let t = (to - 540).to_string();
    let instant = || {
        prom_api_text(
            &url,
            None,
            false,
            "/api/v1/query",
            &[("query", q), ("time", &t)],
        )
        .unwrap()
    };
    let i1 = instant();
    assert_eq!(instant(), i1);
    assert_eq!(hits(), h0 + 2);
    // nocache=1 evaluates afresh (same answer) without touching the cache.
    let fresh = prom_api_text(
        &url,
        None,
        false,
        "/api/v1/query",
        &[("query", q), ("time", &t), ("nocache", "1")],
    )?;
    assert_eq!(fresh, i1);
    assert_eq!(hits(), h0 + 2);

    // Answers with annotations are cached with them: rate() of a non-counter name has an info.
    let r1 = range_text(&url, None, "rate(cache_load[10m])", start, end, "60");
    let h = hits();
    let r2 = range_text(&url, None, "rate(cache_load[10m])", start, end, "60");
    assert_eq!(hits(), h + 1);
    assert_eq!(r1, r2);
    assert!(r2.contains("\"infos\""), "{r2}");

    // (b) Writes into the cached range: an out-of-order sample of host=a and a new series.
    let inv = metric_value(&url, "cairn_query_cache_invalidations_total");
    write_lines(
        &url,
        None,
        "s",
        &format!(
            "cache_load,host=a value=99 {}\ncache_load,host=b value=5 {}\n",
            from + 120,
            to - 600
        ),
    )?;
    assert!(metric_value(&url, "cairn_query_cache_invalidations_total") > inv);
    let h1 = hits();
    let third = range_text(&url, None, q, start, end, "60");
    assert_eq!(hits(), h1, "no hit after a write into the past");
    assert_eq!(value_at(&third, "a", from + 120).as_deref(), Some("99"));
    assert_eq!(value_at(&third, "b", to - 600).as_deref(), Some("5"));
    assert_eq!(range_text(&url, None, q, start, end, "60"), third);
    assert_eq!(hits(), h1 + 1, "cached again");
    // host=b appears at the instant's time.
    assert_ne!(instant().1, i1.1, "the instant entry was dropped too");

    // (c) A range ending now: the recent steps are evaluated every time.
    let (fresh_start, t1) = (base - 3600, unix_now());
    write_lines(&url, None, "s", &format!("cache_now,host=a value=1 {t1}\n"))?;
    let text = range_text(&url, None, "cache_now", fresh_start, t1 + 10, "10");
    let last = |text: &str| -> String {
        let v: Value = serde_json::from_str(text).unwrap();
        let values = v["data"]["result"][0]["values"].as_array().unwrap().clone();
        values.last().unwrap()[1].as_str().unwrap().to_string()
    };
    assert_eq!(last(&text), "1");
    let p0 = partial();
    let t2 = t1 + 1;
    write_lines(&url, None, "s", &format!("cache_now,host=a value=2 {t2}\n"))?;
    let text = range_text(&url, None, "cache_now", fresh_start, t2 + 10, "10");
    assert_eq!(last(&text), "2", "{text}");
    assert_eq!(partial(), p0 + 1, "the old steps came from the cache");
    Ok(())
}

#[test]
fn negative_offsets_at_and_other_tenants_are_never_served_from_the_cache() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start(dir.path(), &[])?;
    let url = node.url.clone();
    let base = unix_now() / 60 * 60;
    let from = base - 3 * 3600;
    let mut body = String::new();
    let mut other = String::new();
    for i in 0..=12 {
        body.push_str(&format!("cache_load,host=a value={i} {}\n", from + 300 * i));
        other.push_str(&format!(
            "cache_load,host=a value={} {}\n",
            1000 + i,
            from + 300 * i
        ));
    }
    write_lines(&url, None, "s", &body)?;
    write_lines(&url, Some("other"), "s", &other)?;
    let served = || {
        metric_value(&url, "cairn_query_cache_hits_total")
            + metric_value(&url, "cairn_query_cache_partial_total")
    };
    let end = base - 3600;

    // (d) Steps of these read data after their own time, or at fixed times.
    let at = format!("cache_load @ {}", from + 600);
    for q in [
        "cache_load offset -5m",
        at.as_str(),
        "sum(cache_load offset -1m)",
    ] {
        let before = served();
        let a = range_text(&url, None, q, from, end, "60");
        let b = range_text(&url, None, q, from, end, "60");
        assert_eq!(a, b);
        assert_eq!(served(), before, "{q} was served from the cache");
    }

    // (e) The same query and range per tenant: each its own answer, never another's entry.
    let mine = range_text(&url, None, "cache_load", from, end, "60");
    assert_eq!(value_at(&mine, "a", from).as_deref(), Some("0"));
    let before = served();
    let theirs = range_text(&url, Some("other"), "cache_load", from, end, "60");
    assert_eq!(value_at(&theirs, "a", from).as_deref(), Some("1000"));
    assert_eq!(served(), before, "a tenant used another's entry");
    assert_eq!(
        range_text(&url, Some("other"), "cache_load", from, end, "60"),
        theirs
    );
    assert_eq!(range_text(&url, None, "cache_load", from, end, "60"), mine);
    assert_eq!(served(), before + 2);
    Ok(())
}
