//! Reading without PromQL: `/api/v1/series`, `/api/v1/labels`, `/api/v1/label/<name>/values`,
//! `/api/v1/metadata` (Prometheus' JSON) and `/api/v1/export` (VictoriaMetrics' JSON lines,
//! streamed).

use std::fmt::Write as _;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use cairn_model::{Matcher, Sample};
use cairn_storage::SeriesRef;
use serde_json::{Value, json};

use super::{ApiError, Params, SharedState, success, tenant_of};
use crate::query::TenantShards;
use crate::timeparse::parse_time_ms;

/// Parsed common read parameters.
struct ReadRequest {
    /// The tenant's shards, past the read barrier.
    shards: TenantShards,
    params: Params,
    mint: i64,
    maxt: i64,
    has_range: bool,
}

async fn read_request(st: &SharedState, req: Request) -> Result<ReadRequest, ApiError> {
    let tenant = tenant_of(req.headers())?;
    let params = Params::from_request(req, st.cfg.limits.max_body_bytes as usize).await?;
    let time = |name: &str, default: i64| -> Result<i64, ApiError> {
        match params.get(name) {
            None | Some("") => Ok(default),
            Some(v) => parse_time_ms(v).ok_or_else(|| {
                ApiError::bad_data(format!(
                    "invalid parameter {name:?}: cannot parse {v:?} to a valid timestamp"
                ))
            }),
        }
    };
    let mint = time("start", i64::MIN)?;
    let maxt = time("end", i64::MAX)?;
    if mint > maxt {
        return Err(ApiError::bad_data(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    let has_range = params.get("start").is_some() || params.get("end").is_some();
    let shards = st.read_shards(&tenant).await?;
    Ok(ReadRequest {
        shards,
        params,
        mint,
        maxt,
        has_range,
    })
}

fn matcher_sets(params: &Params) -> Result<Vec<Vec<Matcher>>, ApiError> {
    params
        .all("match[]")
        .into_iter()
        .map(|s| cairn_query::parse_selector(s).map_err(ApiError::from))
        .collect()
}

/// Series matching any of the selectors, de-duplicated, sorted by labels.
fn select_union(r: &ReadRequest, sets: &[Vec<Matcher>]) -> Result<Vec<SeriesRef>, ApiError> {
    let mut out: Vec<SeriesRef> = Vec::new();
    for m in sets {
        out.extend(r.shards.select(m, r.mint, r.maxt)?);
    }
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out.dedup_by(|a, b| a.shard == b.shard && a.sid == b.sid);
    Ok(out)
}

fn labels_json(s: &SeriesRef) -> Value {
    let mut m = serde_json::Map::with_capacity(s.labels.len());
    for l in s.labels.iter() {
        m.insert(l.name.clone(), Value::String(l.value.clone()));
    }
    Value::Object(m)
}

/// `GET|POST /api/v1/series?match[]=...&start=&end=`
pub async fn series(State(st): State<SharedState>, req: Request) -> Result<Response, ApiError> {
    let r = read_request(&st, req).await?;
    let sets = matcher_sets(&r.params)?;
    if sets.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let series = tokio::task::spawn_blocking(move || select_union(&r, &sets))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(success(Value::Array(
        series.iter().map(labels_json).collect(),
    )))
}

/// Runs `list` (label names or values) for each `match[]` set, or once without matchers, off
/// the async runtime, and answers the sorted, distinct union.
async fn list_union<F>(st: SharedState, req: Request, list: F) -> Result<Response, ApiError>
where
    F: Fn(&TenantShards, &[Matcher], Option<(i64, i64)>) -> crate::error::Result<Vec<String>>
        + Send
        + 'static,
{
    let r = read_request(&st, req).await?;
    let mut sets = matcher_sets(&r.params)?;
    if sets.is_empty() {
        sets.push(Vec::new());
    }
    let out = tokio::task::spawn_blocking(move || -> Result<Vec<String>, ApiError> {
        let range = r.has_range.then_some((r.mint, r.maxt));
        let mut all = std::collections::BTreeSet::new();
        for m in &sets {
            all.extend(list(&r.shards, m, range)?);
        }
        Ok(all.into_iter().collect())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(success(json!(out)))
}

/// `GET|POST /api/v1/labels?match[]=...&start=&end=`
pub async fn labels(State(st): State<SharedState>, req: Request) -> Result<Response, ApiError> {
    list_union(st, req, |shards, m, range| shards.label_names(m, range)).await
}

/// `GET /api/v1/label/<name>/values?match[]=...&start=&end=`
pub async fn label_values(
    State(st): State<SharedState>,
    Path(name): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    list_union(st, req, move |shards, m, range| {
        shards.label_values(&name, m, range)
    })
    .await
}

/// `GET|POST /api/v1/export?match[]=...&start=&end=`: one JSON object per series per line,
/// `{"metric":{...},"values":[...],"timestamps":[...]}`, streamed as it is read.
/// Values are JSON numbers; NaN and infinities (JSON has none) are the strings `"NaN"`,
/// `"+Inf"`, `"-Inf"`, and Prometheus' stale marker is `"StaleNaN"`, so an export keeps every
/// sample's meaning.
pub async fn export(State(st): State<SharedState>, req: Request) -> Result<Response, ApiError> {
    let r = read_request(&st, req).await?;
    let sets = matcher_sets(&r.params)?;
    if sets.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let series = tokio::task::spawn_blocking(move || select_union(&r, &sets).map(|s| (s, r)))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    let (series, r) = series;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(16);
    tokio::task::spawn_blocking(move || {
        let mut buf = String::with_capacity(1 << 16);
        for batch in series.chunks(cairn_query::querier::READ_BATCH) {
            let refs: Vec<(u32, u64)> = batch.iter().map(|s| (s.shard, s.sid)).collect();
            let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); batch.len()];
            if let Err(e) = r.shards.read_many(&refs, r.mint, r.maxt, &mut samples) {
                tracing::error!(error = %e, "export read failed");
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                return;
            }
            for (s, samples) in batch.iter().zip(&samples) {
                if !samples.is_empty() {
                    export_line(&mut buf, s, samples);
                }
            }
            if buf.len() >= 1 << 16 && tx.blocking_send(Ok(std::mem::take(&mut buf))).is_err() {
                return;
            }
        }
        if !buf.is_empty() {
            let _ = tx.blocking_send(Ok(buf));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/stream+json")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Appends one export line for a series.
pub fn export_line(buf: &mut String, s: &SeriesRef, samples: &[Sample]) {
    buf.push_str("{\"metric\":");
    buf.push_str(&labels_json(s).to_string());
    buf.push_str(",\"values\":[");
    for (i, x) in samples.iter().enumerate() {
        if i > 0 {
            buf.push(',');
        }
        push_value(buf, x.v);
    }
    buf.push_str("],\"timestamps\":[");
    for (i, x) in samples.iter().enumerate() {
        if i > 0 {
            buf.push(',');
        }
        let _ = write!(buf, "{}", x.t);
    }
    buf.push_str("]}\n");
}

fn push_value(buf: &mut String, v: f64) {
    if cairn_model::is_stale_marker(v) {
        buf.push_str("\"StaleNaN\"");
    } else if v.is_nan() {
        buf.push_str("\"NaN\"");
    } else if v == f64::INFINITY {
        buf.push_str("\"+Inf\"");
    } else if v == f64::NEG_INFINITY {
        buf.push_str("\"-Inf\"");
    } else {
        // `{:?}` is Rust's shortest representation that parses back to the same bits.
        let _ = write!(buf, "{v:?}");
    }
}

/// `GET|POST /api/v1/metadata?metric=&limit=&limit_per_metric=`: Cairn keeps no metric
/// metadata (TYPE/HELP) yet, so the answer is an empty map; the parameters are still checked.
pub async fn metadata(State(st): State<SharedState>, req: Request) -> Result<Response, ApiError> {
    let _ = tenant_of(req.headers())?;
    let params = Params::from_request(req, st.cfg.limits.max_body_bytes as usize).await?;
    for name in ["limit", "limit_per_metric"] {
        if let Some(v) = params.get(name).filter(|v| !v.is_empty())
            && v.parse::<i64>().is_err()
        {
            return Err(ApiError::bad_data(format!("{name} must be a number")));
        }
    }
    Ok(success(json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_model::Labels;

    #[test]
    fn export_lines_keep_every_value_exactly() {
        let s = SeriesRef {
            shard: 0,
            sid: 0,
            labels: Labels::from_pairs([("__name__", "m"), ("a", "x\"y")]).unwrap(),
        };
        let vals = [
            0.1,
            -0.0,
            1e300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::from_bits(cairn_model::STALE_NAN_BITS),
            5.0,
        ];
        let samples: Vec<Sample> = vals
            .iter()
            .enumerate()
            .map(|(i, v)| Sample::new(i as i64 - 1, *v))
            .collect();
        let mut buf = String::new();
        export_line(&mut buf, &s, &samples);
        let v: Value = serde_json::from_str(buf.trim_end()).unwrap();
        assert_eq!(v["metric"]["a"], "x\"y");
        assert_eq!(v["timestamps"][0], -1);
        assert_eq!(v["values"][0].as_f64().unwrap().to_bits(), 0.1f64.to_bits());
        assert_eq!(
            v["values"][1].as_f64().unwrap().to_bits(),
            (-0.0f64).to_bits()
        );
        assert_eq!(v["values"][2].as_f64().unwrap(), 1e300);
        assert_eq!(v["values"][3], "NaN");
        assert_eq!(v["values"][4], "+Inf");
        assert_eq!(v["values"][5], "-Inf");
        assert_eq!(v["values"][6], "StaleNaN");
        assert_eq!(v["values"][7].as_f64().unwrap(), 5.0);
    }
}
