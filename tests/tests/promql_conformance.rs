//! Prometheus v3.0.0's own PromQL test scripts (`tests/conformance/promql/*.test`) run
//! through a real node's HTTP API: each clear-segment gets a fresh tenant (`X-Scope-OrgID:
//! t<n>`), each `load` block is sent as one remote_write request, each eval is asked over
//! `/api/v1/query` or `/api/v1/query_range`, and the Prometheus JSON answer is turned back
//! into a `QueryResult` for `cairn_query::promqltest` to check as promqltest does.
//!
//! Prints one line per file and every failure. Fails if any eval fails or the numbers of evals
//! passed and skipped are not exactly the expected ones, unless `CAIRN_PROMQL_ALLOW_FAILURES=1`
//! (then it only reports).

use anyhow::{Context, bail};
use cairn_proto::prometheus::{Label as PLabel, Sample as PSample, TimeSeries, WriteRequest};
use cairn_query::promqltest::{self, EvalKind, LoadCommand, Query, Target};
use cairn_query::value::{Labels, Sample};
use cairn_query::{QueryResult, QueryStats, QueryValue, Series, VectorElement};
use cairn_tests::*;
use prost::Message;
use serde_json::Value;

/// A node and the tenant of the current clear-segment.
struct OverHttp {
    url: String,
    http: reqwest::blocking::Client,
    tenant: String,
    next_tenant: u64,
}

impl OverHttp {
    fn new_tenant(&mut self) {
        self.next_tenant += 1;
        self.tenant = format!("t{}", self.next_tenant);
    }
}

impl Target for OverHttp {
    fn clear(&mut self) -> Result<(), String> {
        self.new_tenant();
        Ok(())
    }

    fn load(&mut self, load: &LoadCommand) -> Result<(), String> {
        let timeseries: Vec<TimeSeries> = load
            .series
            .iter()
            .map(|s| TimeSeries {
                labels: s
                    .labels
                    .iter()
                    .map(|(k, v)| PLabel {
                        name: k.clone(),
                        value: v.clone(),
                    })
                    .collect(),
                // `stale` is the stale-marker NaN, bit for bit; `_` and histograms send nothing.
                samples: s
                    .float_samples(load.step_ms)
                    .into_iter()
                    .map(|p| PSample {
                        value: p.v,
                        timestamp: p.t,
                    })
                    .collect(),
                exemplars: vec![],
                histograms: vec![],
            })
            .filter(|ts| !ts.samples.is_empty())
            .collect();
        if timeseries.is_empty() {
            return Ok(());
        }
        let req = WriteRequest {
            timeseries,
            metadata: vec![],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .map_err(|e| format!("snappy: {e}"))?;
        let resp = self
            .http
            .post(format!("{}/api/v1/write", self.url))
            .header("X-Scope-OrgID", &self.tenant)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body)
            .send()
            .map_err(|e| format!("remote_write: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().unwrap_or_default();
            return Err(format!("remote_write: HTTP {status}: {text}"));
        }
        Ok(())
    }

    fn query(&mut self, q: &Query) -> Result<QueryResult, String> {
        let (path, params) = match q.kind {
            EvalKind::Instant { at_ms } => (
                "/api/v1/query",
                vec![("query", q.expr.clone()), ("time", secs(at_ms))],
            ),
            EvalKind::Range {
                start_ms,
                end_ms,
                step_ms,
            } => (
                "/api/v1/query_range",
                vec![
                    ("query", q.expr.clone()),
                    ("start", secs(start_ms)),
                    ("end", secs(end_ms)),
                    ("step", secs(step_ms)),
                ],
            ),
        };
        let resp = self
            .http
            .get(format!("{}{path}", self.url))
            .header("X-Scope-OrgID", &self.tenant)
            .query(&params)
            .send()
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = resp.status();
        let text = resp.text().map_err(|e| format!("GET {path}: body: {e}"))?;
        let json: Value = serde_json::from_str(&text).map_err(|_| {
            format!(
                "GET {path}: HTTP {status}, not JSON: {}",
                text.chars().take(200).collect::<String>()
            )
        })?;
        match json["status"].as_str() {
            // Prometheus' error text is the `error` field; promqltest compares it as is.
            Some("error") => Err(json["error"].as_str().unwrap_or_default().to_string()),
            Some("success") => {
                from_prometheus_json(&json).map_err(|e| format!("GET {path}: {e:#}: {text}"))
            }
            _ => Err(format!("GET {path}: HTTP {status}: unexpected body {text}")),
        }
    }
}

/// Milliseconds as exact Unix seconds with a fraction (`-60.5`, `3000`).
fn secs(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.unsigned_abs();
    if a.is_multiple_of(1000) {
        format!("{sign}{}", a / 1000)
    } else {
        format!("{sign}{}.{:03}", a / 1000, a % 1000)
    }
}

/// A `[<unix seconds>, "<value>"]` pair.
fn point(v: &Value) -> anyhow::Result<Sample> {
    let pair = v.as_array().context("point is not an array")?;
    let (Some(t), Some(val)) = (pair.first(), pair.get(1)) else {
        bail!("point is not a pair");
    };
    let t = t.as_f64().context("timestamp is not a number")?;
    let val = val.as_str().context("value is not a string")?;
    // Prometheus writes NaN, +Inf and -Inf; Rust's parser takes them all.
    let v: f64 = val
        .parse()
        .with_context(|| format!("value {val:?} is not a float"))?;
    Ok(Sample {
        t: (t * 1000.0).round() as i64,
        v,
    })
}

fn metric(v: &Value) -> anyhow::Result<Labels> {
    let m = v["metric"].as_object().context("no metric object")?;
    let pairs = m
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()));
    Labels::from_pairs(pairs).map_err(|e| anyhow::anyhow!("metric labels: {e}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Prometheus' query API JSON (`status: success`) as a `QueryResult`.
fn from_prometheus_json(json: &Value) -> anyhow::Result<QueryResult> {
    let data = &json["data"];
    let result = &data["result"];
    let value = match data["resultType"].as_str() {
        Some("scalar") => QueryValue::Scalar(point(result)?),
        Some("string") => {
            let pair = result.as_array().context("string result is not a pair")?;
            QueryValue::String {
                t: (pair.first().and_then(Value::as_f64).unwrap_or(0.0) * 1000.0).round() as i64,
                value: pair
                    .get(1)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            }
        }
        Some("vector") => QueryValue::Vector(
            result
                .as_array()
                .context("vector result is not an array")?
                .iter()
                .map(|e| {
                    if e.get("histogram").is_some() {
                        bail!("native histogram in a vector: {e}");
                    }
                    Ok(VectorElement {
                        labels: metric(e)?,
                        sample: point(&e["value"])?,
                    })
                })
                .collect::<anyhow::Result<_>>()?,
        ),
        Some("matrix") => QueryValue::Matrix(
            result
                .as_array()
                .context("matrix result is not an array")?
                .iter()
                .map(|s| {
                    if s.get("histograms").is_some() {
                        bail!("native histograms in a matrix: {s}");
                    }
                    let samples = match s.get("values") {
                        Some(vals) => vals
                            .as_array()
                            .context("values is not an array")?
                            .iter()
                            .map(point)
                            .collect::<anyhow::Result<_>>()?,
                        None => Vec::new(),
                    };
                    Ok(Series {
                        labels: metric(s)?,
                        samples,
                    })
                })
                .collect::<anyhow::Result<_>>()?,
        ),
        other => bail!("unknown resultType {other:?}"),
    };
    Ok(QueryResult {
        value,
        warnings: strings(&json["warnings"]),
        infos: strings(&json["infos"]),
        stats: QueryStats::default(),
    })
}

#[test]
fn prometheus_promql_test_scripts_over_http() {
    let dir = tempfile::tempdir().unwrap();
    // Scripts write samples from 1970: keep them from any retention job.
    let node = CairnProcess::start(&dir.path().join("cairn"), &["--retention", "0s"]).unwrap();
    let mut target = OverHttp {
        url: node.url.clone(),
        http: client(),
        tenant: String::new(),
        next_tenant: 0,
    };

    let files = promqltest::script_files(&conformance_dir().join("promql")).unwrap();
    let totals = promqltest::run_script_files(&files, "HTTP", &mut target);
    if !promqltest::failures_allowed() {
        assert_eq!(
            totals.failed,
            0,
            "{} PromQL conformance evals failed over HTTP (set CAIRN_PROMQL_ALLOW_FAILURES=1 to only report); node log:\n{}",
            totals.failed,
            node.log_text()
        );
        // As in the in-process run (query/tests/promql_conformance.rs), whose numbers these
        // are: after a deliberate change set both to the `promql total` line printed above.
        assert_eq!(
            (totals.passed, totals.skipped),
            (652, 56),
            "PromQL evals over HTTP (passed, skipped)"
        );
    }
}

#[test]
fn seconds_are_exact() {
    assert_eq!(secs(0), "0");
    assert_eq!(secs(3_000_000), "3000");
    assert_eq!(secs(-60_000), "-60");
    assert_eq!(secs(1_500), "1.500");
    assert_eq!(secs(-1), "-0.001");
}

#[test]
fn prometheus_json_becomes_query_results() {
    let v: Value = serde_json::from_str(
        r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"m","a":"1"},"values":[[0,"1"],[60.5,"NaN"],[120,"+Inf"]]}]},
            "warnings":["w"],"infos":["i"]}"#,
    )
    .unwrap();
    let r = from_prometheus_json(&v).unwrap();
    let QueryValue::Matrix(m) = &r.value else {
        panic!("{r:?}")
    };
    assert_eq!(m[0].labels.get("a"), "1");
    assert_eq!(m[0].samples[1].t, 60_500);
    assert!(m[0].samples[1].v.is_nan());
    assert_eq!(m[0].samples[2].v, f64::INFINITY);
    assert_eq!((r.warnings.len(), r.infos.len()), (1, 1));
    let v: Value = serde_json::from_str(
        r#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"-Inf"]}}"#,
    )
    .unwrap();
    let r = from_prometheus_json(&v).unwrap();
    assert_eq!(
        r.value,
        QueryValue::Scalar(Sample {
            t: 1500,
            v: f64::NEG_INFINITY
        })
    );
    let v: Value = serde_json::from_str(
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[3000,"2"]}]}}"#,
    )
    .unwrap();
    let r = from_prometheus_json(&v).unwrap();
    let QueryValue::Vector(els) = &r.value else {
        panic!()
    };
    assert!(els[0].labels.is_empty() && els[0].sample.v == 2.0);
}
