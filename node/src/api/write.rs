//! Write endpoints: InfluxDB line protocol (v1 `/write`, v2 `/api/v2/write`) and Prometheus
//! remote_write 1.0 (`/api/v1/write`). Each request is split by shard, each part is made
//! durable by the engine, and the client hears back only when every part is (or why not).

use std::io::Read;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_model::{WriteBatch, WriteBatchBuilder};
use cairn_storage::ApplyOutcome;

use crate::write_path::CommitError;

use super::{ApiError, Params, SharedState, WriteError, tenant_of};
use cairn_ingest::influx::{self, Precision};
use cairn_ingest::remote;

/// `POST /write?db=&precision=n|u|ms|s` (InfluxDB 1.x).
pub async fn influx_v1(State(st): State<SharedState>, req: Request) -> Response {
    let params = Params::from_request_query(&req);
    let precision = match params.get("precision") {
        None | Some("") => Precision::Ns,
        Some(p) => match Precision::parse_v1(p) {
            Some(p) => p,
            None => {
                return WriteError::invalid(format!(
                    "invalid precision parameter {p:?}: expected one of n, u, ms, s, m, h"
                ))
                .into_response();
            }
        },
    };
    let db = params
        .get("db")
        .filter(|d| !d.is_empty())
        .map(str::to_string);
    ingest_influx(st, req, precision, db).await
}

/// `POST /api/v2/write?org=&bucket=&precision=ns|us|ms|s` (InfluxDB 2.x).
pub async fn influx_v2(State(st): State<SharedState>, req: Request) -> Response {
    let params = Params::from_request_query(&req);
    let precision = match params.get("precision") {
        None | Some("") => Precision::Ns,
        Some(p) => match Precision::parse_v2(p) {
            Some(p) => p,
            None => {
                return WriteError::invalid(format!(
                    "invalid precision parameter {p:?}: expected one of ns, us, ms, s"
                ))
                .into_response();
            }
        },
    };
    let db = params
        .get("bucket")
        .filter(|d| !d.is_empty())
        .map(str::to_string);
    ingest_influx(st, req, precision, db).await
}

async fn ingest_influx(
    st: SharedState,
    req: Request,
    precision: Precision,
    db: Option<String>,
) -> Response {
    let result = async {
        let tenant = tenant_of(req.headers()).map_err(WriteError::from)?;
        let body = read_body(&st, req).await.map_err(WriteError::from)?;
        let mut builder = batch_builder(&st, tenant);
        let report =
            influx::parse_body_into(&body, &mut builder, precision, db.as_deref(), st.clock.now_ms());
        st.metrics.influx_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        st.metrics
            .ingest_rejected_invalid
            .fetch_add(report.rejected as u64, std::sync::atomic::Ordering::Relaxed);
        let expired = count_expired(&st, &builder);
        let outcome = commit(&st, builder.finish_sharded())
            .await
            .map_err(WriteError::from)?;
        let rejected = report.rejected as u64 + outcome.rejected() + expired;
        if rejected == 0 {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        let (line, message) = match &report.first_error {
            Some(e) => (Some(e.line), format!("line {}: {}", e.line, e.message)),
            None => (None, rejection_message(&outcome, expired, &st)),
        };
        Err(WriteError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid",
            message: format!(
                "{message} ({} samples written, {rejected} rejected; the rest of the request was kept)",
                outcome.written + outcome.duplicates
            ),
            line,
            written: outcome.written + outcome.duplicates,
            rejected,
        })
    }
    .await;
    match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// `POST /api/v1/write`: Prometheus remote_write 1.0 (snappy-compressed protobuf).
pub async fn remote_write(State(st): State<SharedState>, req: Request) -> Response {
    let result = async {
        let tenant = tenant_of(req.headers())?;
        let max = st.cfg.limits.max_body_bytes as usize;
        let compressed = read_raw_body(req, max).await?;
        let mut builder = batch_builder(&st, tenant);
        let decoded = remote::decode_into(&compressed, max.saturating_mul(4), &mut builder)
            .map_err(ApiError::bad_data)?;
        st.metrics
            .remote_write_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let expired = count_expired(&st, &builder);
        let outcome = commit(&st, builder.finish_sharded()).await?;
        let rejected = outcome.rejected() + expired;
        if rejected > 0 || decoded.histograms > 0 {
            // Prometheus does not retry a 4xx, which is right: these samples can never be
            // stored. The float samples of the request are written all the same.
            let mut why = Vec::new();
            if rejected > 0 {
                why.push(rejection_message(&outcome, expired, &st));
            }
            if decoded.histograms > 0 {
                why.push(format!(
                    "native histograms are not supported: {} histogram samples in {} series rejected",
                    decoded.histograms, decoded.histogram_series
                ));
            }
            return Err(ApiError::bad_data(format!(
                "{} ({} samples written, {} rejected)",
                why.join("; "),
                outcome.written + outcome.duplicates,
                rejected + decoded.histograms as u64
            )));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// A builder for `tenant`'s shards that leaves out samples older than the tenant's raw
/// retention (its override, else the cluster default): retention would delete them, and the
/// shards' own cut-offs refuse them at apply anyway once a retention pass has run there.
fn batch_builder(st: &SharedState, tenant: cairn_model::Tenant) -> WriteBatchBuilder {
    let raw_ms = crate::cluster::tenant_retention::effective_retention(
        st.cluster.groups().meta(),
        &st.cfg.retention_defaults(),
        tenant.as_str(),
    )
    .map_or(0, |e| e.policy.raw_ms);
    let shards = st.tenant_shards(&tenant);
    let mut builder = WriteBatchBuilder::sharded(tenant, shards);
    if raw_ms > 0 {
        builder.reject_at_or_before(st.clock.now_ms().saturating_sub(raw_ms));
    }
    builder
}

/// The samples `builder` left out for retention, counted with the other too-old samples.
fn count_expired(st: &SharedState, builder: &WriteBatchBuilder) -> u64 {
    let n = builder.expired() as u64;
    st.engine
        .stats()
        .samples_rejected_too_old
        .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    n
}

fn rejection_message(o: &ApplyOutcome, expired: u64, st: &SharedState) -> String {
    let mut parts = Vec::new();
    if expired > 0 {
        parts.push(format!(
            "{expired} samples are older than the tenant's raw retention"
        ));
    }
    if o.rejected_too_old > 0 {
        parts.push(format!(
            "{} samples are older than their series' newest sample by more than the out-of-order window ({}), or than their shard's retention cut-off",
            o.rejected_too_old,
            cairn_model::units::format_duration_ms(st.cfg.storage.ooo_window_ms)
        ));
    }
    if o.rejected_conflict > 0 {
        parts.push(format!(
            "{} samples repeat a stored timestamp with a different value",
            o.rejected_conflict
        ));
    }
    parts.join("; ")
}

/// Commits every part of a write through its shard's Raft group ([`crate::write_path`]);
/// fails with 503 naming the shards that were not committed within the write timeout.
async fn commit(st: &SharedState, parts: Vec<(u32, WriteBatch)>) -> Result<ApplyOutcome, ApiError> {
    crate::write_path::commit(&st.cluster, parts)
        .await
        .map_err(ApiError::from)
}

impl From<CommitError> for ApiError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Unavailable { .. } => ApiError::unavailable(e.to_string()),
            // Not a leadership or quorum problem: a bug or a damaged replica, logged as such.
            CommitError::Failed(e) => ApiError::from(e),
        }
    }
}

/// Reads the body within the size limit, removing `Content-Encoding: gzip|deflate`.
async fn read_body(st: &SharedState, req: Request) -> Result<Vec<u8>, ApiError> {
    let max = st.cfg.limits.max_body_bytes as usize;
    let encoding = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_ascii_lowercase());
    let raw = read_raw_body(req, max).await?;
    let inflated_max = max.saturating_mul(4);
    let inflate = |r: &mut dyn Read| -> Result<Vec<u8>, ApiError> {
        let mut out = Vec::new();
        r.take(inflated_max as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| {
                ApiError::bad_data(format!("Content-Encoding: body does not decompress: {e}"))
            })?;
        if out.len() > inflated_max {
            return Err(ApiError::too_large(format!(
                "decompressed body exceeds {} bytes",
                inflated_max
            )));
        }
        Ok(out)
    };
    match encoding.as_deref() {
        None | Some("") | Some("identity") => Ok(raw.to_vec()),
        Some("gzip") | Some("x-gzip") => inflate(&mut flate2::read::GzDecoder::new(&raw[..])),
        Some("deflate") => inflate(&mut flate2::read::ZlibDecoder::new(&raw[..])),
        Some(other) => Err(ApiError::bad_data(format!(
            "unsupported Content-Encoding {other:?}: use gzip, deflate or none"
        ))),
    }
}

async fn read_raw_body(req: Request, max: usize) -> Result<bytes::Bytes, ApiError> {
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > max as u64
    {
        return Err(ApiError::too_large(format!(
            "request body of {len} bytes exceeds the limit of {max} bytes"
        )));
    }
    axum::body::to_bytes(req.into_body(), max)
        .await
        .map_err(|_| ApiError::too_large(format!("request body exceeds the limit of {max} bytes")))
}
