//! Admin and health endpoints: flush, snapshot, `/metrics`, `/health`, `/ready`.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ApiError, SharedState, success};
use crate::timeparse::format_rfc3339_ms;

/// `POST /api/v1/admin/flush`: on this node, seals every head chunk of its shard replicas,
/// checkpoints them, purges their Raft logs up to the checkpoint and flushes RocksDB's
/// memtables; returns when done.
pub async fn flush(State(st): State<SharedState>) -> Result<Response, ApiError> {
    let outcome = st
        .cluster
        .groups()
        .flush()
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(success(json!({
        "chunks": outcome.chunks,
        "samples": outcome.samples,
        "sst_bytes": st.engine.sst_bytes(),
    })))
}

/// `?advance=` of `POST /api/v1/admin/clock`.
#[derive(Debug, serde::Deserialize)]
pub struct ClockParams {
    advance: Option<String>,
}

/// `GET|POST /api/v1/admin/clock[?advance=30d]`: this node's time, moved ahead by `advance`
/// first on a POST. Only with `--dev-clock` (a 404 naming the flag otherwise): tests move every
/// node of a cluster ahead by days to age data through retention and rollups without waiting.
pub async fn clock(
    State(st): State<SharedState>,
    method: axum::http::Method,
    axum::extract::Query(p): axum::extract::Query<ClockParams>,
) -> Result<Response, ApiError> {
    let Some(dev) = &st.dev_clock else {
        return Err(ApiError::not_found(
            "the clock API is off: start cairn server with --dev-clock (development only)",
        ));
    };
    if let Some(v) = &p.advance {
        if method != axum::http::Method::POST {
            return Err(ApiError::bad_data("advance: only a POST moves the clock"));
        }
        let ms = cairn_model::units::parse_duration_ms(v).ok_or_else(|| {
            ApiError::bad_data(format!(
                "advance: {v:?} is not a duration (e.g. 90s, 12h, 30d)"
            ))
        })?;
        dev.advance_ms(ms);
    }
    let now = st.clock.now_ms();
    Ok(success(json!({
        "now_ms": now,
        "now": format_rfc3339_ms(now),
        "offset_ms": dev.offset_ms(),
    })))
}

/// `GET /api/v1/admin/rollups`: a digest of each local shard replica's rollup blocks (count
/// and xxh3 of every key and value) with the applied index it was read at. Replicas at the
/// same index hold identical rollups; tests and operators compare them across nodes.
pub async fn rollups(State(st): State<SharedState>) -> Result<Response, ApiError> {
    let engine = st.engine.clone();
    let shards: Vec<u32> = st
        .cluster
        .groups()
        .local_shards()
        .iter()
        .map(|g| g.shard())
        .collect();
    let out = tokio::task::spawn_blocking(move || {
        shards
            .into_iter()
            .map(|shard| {
                let d = engine.rollup_digest(shard)?;
                let tier = |t: cairn_storage::TierDigest| {
                    json!({"blocks": t.blocks, "xxh3": format!("{:016x}", t.xxh3)})
                };
                Ok(json!({
                    "shard": shard,
                    "applied_index": d.applied_index,
                    "5m": tier(d.rollup_5m),
                    "1h": tier(d.rollup_1h),
                }))
            })
            .collect::<Result<Vec<_>, cairn_storage::Error>>()
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(success(json!({ "shards": out })))
}

/// `POST /api/v1/admin/snapshot`: a consistent RocksDB checkpoint under
/// `<data_dir>/snapshots/<name>`; returns its name and path (Prometheus' shape plus the path).
pub async fn snapshot(State(st): State<SharedState>) -> Result<Response, ApiError> {
    let now = st.clock.now_ms();
    let stamp: String = format_rfc3339_ms(now)
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(14)
        .collect();
    let name = format!("{stamp}-{:08x}", rand::random::<u32>());
    let dir = st.cfg.data_dir.join("snapshots").join(&name);
    let engine = st.engine.clone();
    let d2 = dir.clone();
    tokio::task::spawn_blocking(move || engine.snapshot(&d2))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    let path = std::fs::canonicalize(&dir).unwrap_or(dir);
    Ok(success(
        json!({"name": name, "path": path.display().to_string()}),
    ))
}

/// `GET /metrics`
pub async fn metrics(State(st): State<SharedState>) -> Response {
    let st2 = st.clone();
    let mut body = tokio::task::spawn_blocking(move || {
        let mut body = st2.metrics.render(&st2.engine);
        st2.cluster.render_metrics(&mut body);
        st2.jobs.render_metrics(&mut body);
        st2.notify.render_metrics(&mut body);
        body
    })
    .await
    .unwrap_or_default();
    let _ = write!(
        body,
        "# HELP cairn_queries_in_flight PromQL queries evaluating now.\n\
         # TYPE cairn_queries_in_flight gauge\ncairn_queries_in_flight {}\n\
         # HELP cairn_queries_queued PromQL queries waiting for a slot.\n\
         # TYPE cairn_queries_queued gauge\ncairn_queries_queued {}\n",
        st.query.in_flight(),
        st.query.queued()
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// `GET /health`: the process is up.
pub async fn health() -> &'static str {
    "OK\n"
}

/// `GET /ready`: storage is open and accepting writes (recovery finished before we listen).
pub async fn ready(State(st): State<SharedState>) -> Response {
    if st.engine.is_open() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    }
}

/// `GET|HEAD /ping`: InfluxDB clients (Telegraf) probe this before writing.
pub async fn ping() -> Response {
    (StatusCode::NO_CONTENT, [("X-Influxdb-Version", "cairn")]).into_response()
}
