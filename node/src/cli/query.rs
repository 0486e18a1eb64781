//! `cairn query`: runs PromQL on a node through its Prometheus API and prints the result as
//! an aligned table (or the raw JSON with `--json`).
//!
//! ```text
//!  instant vector                         range (matrix)                     scalar / string
//!  __name__  job  VALUE  TIMESTAMP        up{job="api"}                      1.5
//!  up        api  1      2023-11-14T...     2023-11-14T22:13:20.000Z  1
//!                                           2023-11-14T22:13:35.000Z  1.5
//! ```

use anyhow::{Context, bail};
use serde_json::Value;

use crate::api::query::json::push_timestamp;
use crate::timeparse::{format_rfc3339_ms, parse_time_ms};

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// Node to query.
    #[arg(long, default_value = "http://127.0.0.1:7480", env = "CAIRN_URL")]
    pub url: String,
    /// Tenant (sent as X-Scope-OrgID).
    #[arg(long, env = "CAIRN_TENANT")]
    pub tenant: Option<String>,
    /// PromQL expression, e.g. 'sum by (job) (rate(http_requests_total[5m]))'.
    pub expr: String,
    /// Evaluation time of an instant query: RFC 3339, Unix seconds, now, or now-1h [default: now].
    #[arg(long, conflicts_with_all = ["start", "end", "step"])]
    pub time: Option<String>,
    /// Start of a range query (same forms as --time) [default: end - 1h].
    #[arg(long)]
    pub start: Option<String>,
    /// End of a range query [default: now].
    #[arg(long)]
    pub end: Option<String>,
    /// Step of a range query: seconds or a duration like 15s, 1m [default: range / 250, at least 1s].
    #[arg(long)]
    pub step: Option<String>,
    /// Evaluation timeout sent to the node (the node's own limit still applies), e.g. 30s.
    #[arg(long)]
    pub timeout: Option<String>,
    /// Print the node's JSON response as it is.
    #[arg(long)]
    pub json: bool,
}

pub async fn query(args: QueryArgs) -> anyhow::Result<()> {
    let now = cairn_model::Clock::now_ms(&cairn_model::SystemClock);
    let mut form: Vec<(&str, String)> = vec![("query", args.expr.clone())];
    let range = args.start.is_some() || args.end.is_some() || args.step.is_some();
    let path = if range {
        let end = resolve_time("--end", args.end.as_deref().unwrap_or("now"), now)?;
        let start = match &args.start {
            Some(s) => resolve_time("--start", s, now)?,
            None => end - 3_600_000,
        };
        let step = match &args.step {
            Some(s) => s.clone(),
            // Prometheus' UI default: about 250 points, never finer than a second.
            None => seconds(((end - start) / 250).max(1000)),
        };
        form.push(("start", seconds(start)));
        form.push(("end", seconds(end)));
        form.push(("step", step));
        "/api/v1/query_range"
    } else {
        if let Some(t) = &args.time {
            form.push(("time", seconds(resolve_time("--time", t, now)?)));
        }
        "/api/v1/query"
    };
    if let Some(t) = &args.timeout {
        form.push(("timeout", t.clone()));
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    let url = format!("{}{path}", args.url.trim_end_matches('/'));
    let req = reqwest::Client::new()
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body);
    let resp = super::send(req, args.tenant.as_deref(), &args.url).await?;
    let status = resp.status();
    let text = resp.text().await.context("reading the response")?;
    if args.json {
        println!("{text}");
    }
    let v: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => bail!("{status}: {}", text.trim()),
    };
    if v["status"] != "success" {
        bail!(
            "{}: {}",
            v["errorType"].as_str().unwrap_or("error"),
            v["error"].as_str().unwrap_or(text.trim())
        );
    }
    for (key, what) in [("warnings", "warning"), ("infos", "info")] {
        for w in v[key].as_array().into_iter().flatten() {
            eprintln!("{what}: {}", w.as_str().unwrap_or_default());
        }
    }
    if !args.json {
        let out = render(&v["data"])?;
        if out.is_empty() {
            eprintln!("(empty result)");
        }
        print!("{out}");
    }
    Ok(())
}

/// `now`, `now-1h`, `now+5m`, RFC 3339 or Unix seconds → ms.
pub fn resolve_time(flag: &str, s: &str, now_ms: i64) -> anyhow::Result<i64> {
    let s = s.trim();
    let bad = || {
        anyhow::anyhow!(
            "{flag} {s:?}: expected RFC 3339, Unix seconds, now, or now-<duration> like now-1h"
        )
    };
    if let Some(rest) = s.strip_prefix("now") {
        if rest.is_empty() {
            return Ok(now_ms);
        }
        let (sign, d) = match rest.split_at(1) {
            ("-", d) => (-1, d),
            ("+", d) => (1, d),
            _ => return Err(bad()),
        };
        let d = cairn_model::units::parse_duration_ms(d).ok_or_else(bad)?;
        return Ok(now_ms + sign * d);
    }
    parse_time_ms(s).ok_or_else(bad)
}

/// ms as the API's seconds (`1700000000.5` style).
fn seconds(ms: i64) -> String {
    let mut s = String::new();
    push_timestamp(&mut s, ms);
    s
}

/// The `data` of a query response as text.
pub fn render(data: &Value) -> anyhow::Result<String> {
    let result = &data["result"];
    match data["resultType"].as_str() {
        Some("scalar") | Some("string") => {
            let v = result.get(1).and_then(Value::as_str).unwrap_or_default();
            Ok(format!("{v}\n"))
        }
        Some("vector") => Ok(vector_table(result.as_array().map_or(&[], Vec::as_slice))),
        Some("matrix") => Ok(matrix_blocks(result.as_array().map_or(&[], Vec::as_slice))),
        other => bail!("unexpected resultType {other:?}"),
    }
}

fn metric_pairs(metric: &Value) -> Vec<(&str, &str)> {
    metric
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// `[t, "v"]` → (time as RFC 3339, value).
fn point(p: &Value) -> (String, &str) {
    let t = p.get(0).and_then(Value::as_f64).unwrap_or(0.0);
    let v = p.get(1).and_then(Value::as_str).unwrap_or_default();
    (format_rfc3339_ms((t * 1000.0).round() as i64), v)
}

/// One row per element: a column per label name (`__name__` first), then VALUE and TIMESTAMP.
fn vector_table(elems: &[Value]) -> String {
    if elems.is_empty() {
        return String::new();
    }
    let mut names: Vec<&str> = elems
        .iter()
        .flat_map(|e| metric_pairs(&e["metric"]))
        .map(|(k, _)| k)
        .collect();
    names.sort_by_key(|n| (*n != "__name__", *n));
    names.dedup();
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(elems.len() + 1);
    let mut header: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    header.extend(["VALUE".to_string(), "TIMESTAMP".to_string()]);
    rows.push(header);
    for e in elems {
        let pairs = metric_pairs(&e["metric"]);
        let mut row: Vec<String> = names
            .iter()
            .map(|n| {
                pairs
                    .iter()
                    .find(|(k, _)| k == n)
                    .map_or(String::new(), |(_, v)| v.to_string())
            })
            .collect();
        let (t, v) = point(&e["value"]);
        row.extend([v.to_string(), t]);
        rows.push(row);
    }
    aligned(&rows, "")
}

/// A `name{label="value", ...}` line per series, then its points indented.
fn matrix_blocks(series: &[Value]) -> String {
    let mut out = String::new();
    for (i, s) in series.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&series_name(&s["metric"]));
        out.push('\n');
        let rows: Vec<Vec<String>> = s["values"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let (t, v) = point(p);
                vec![t, v.to_string()]
            })
            .collect();
        out.push_str(&aligned(&rows, "  "));
    }
    out
}

/// Prometheus' series notation: `up{job="api"}`, `{}` for no labels.
fn series_name(metric: &Value) -> String {
    let pairs = metric_pairs(metric);
    let name = pairs
        .iter()
        .find(|(k, _)| *k == "__name__")
        .map_or("", |(_, v)| v);
    let rest: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| format!("{k}={}", Value::String(v.to_string())))
        .collect();
    if rest.is_empty() && !name.is_empty() {
        return name.to_string();
    }
    format!("{name}{{{}}}", rest.join(", "))
}

/// Left-aligned columns two spaces apart, without trailing spaces.
fn aligned(rows: &[Vec<String>], indent: &str) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::from(indent);
        for (c, cell) in r.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if c + 1 < r.len() {
                line.extend(std::iter::repeat_n(' ', widths[c] - cell.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn relative_and_absolute_times() {
        let now = 1_700_000_000_000;
        assert_eq!(resolve_time("--time", "now", now).unwrap(), now);
        assert_eq!(
            resolve_time("--start", "now-1h", now).unwrap(),
            now - 3_600_000
        );
        assert_eq!(resolve_time("--end", "now+90s", now).unwrap(), now + 90_000);
        assert_eq!(
            resolve_time("--time", "1700000000.5", now).unwrap(),
            now + 500
        );
        assert_eq!(
            resolve_time("--time", "2023-11-14T22:13:20Z", now).unwrap(),
            now
        );
        let e = resolve_time("--start", "yesterday", now)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--start") && e.contains("yesterday"), "{e}");
        assert!(resolve_time("--time", "now*2", now).is_err());
        assert_eq!(seconds(1_700_000_000_500), "1700000000.500");
    }

    #[test]
    fn vectors_are_aligned_tables_with_a_column_per_label() {
        let data = json!({"resultType": "vector", "result": [
            {"metric": {"__name__": "up", "job": "api", "instance": "a:1"}, "value": [1700000000, "1"]},
            {"metric": {"__name__": "up", "job": "database"}, "value": [1700000000.5, "0.25"]},
        ]});
        assert_eq!(
            render(&data).unwrap(),
            "__name__  instance  job       VALUE  TIMESTAMP\n\
             up        a:1       api       1      2023-11-14T22:13:20.000Z\n\
             up                  database  0.25   2023-11-14T22:13:20.500Z\n"
        );
        let empty = json!({"resultType": "vector", "result": []});
        assert_eq!(render(&empty).unwrap(), "");
    }

    #[test]
    fn matrices_are_blocks_and_scalars_just_the_value() {
        let data = json!({"resultType": "matrix", "result": [
            {"metric": {"__name__": "up", "job": "api"}, "values": [[1, "1"], [16, "10.5"]]},
            {"metric": {}, "values": [[1, "NaN"]]},
        ]});
        assert_eq!(
            render(&data).unwrap(),
            "up{job=\"api\"}\n\
             \x20 1970-01-01T00:00:01.000Z  1\n\
             \x20 1970-01-01T00:00:16.000Z  10.5\n\
             \n\
             {}\n\
             \x20 1970-01-01T00:00:01.000Z  NaN\n"
        );
        let s = json!({"resultType": "scalar", "result": [1, "2.5"]});
        assert_eq!(render(&s).unwrap(), "2.5\n");
        let s = json!({"resultType": "string", "result": [1, "hello"]});
        assert_eq!(render(&s).unwrap(), "hello\n");
    }
}
