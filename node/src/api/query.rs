//! PromQL over Prometheus' HTTP API: `/api/v1/query`, `/api/v1/query_range`, and the
//! helpers Grafana calls beside them (`format_query`, `query_exemplars`).
//!
//! ```text
//!  GET|POST /api/v1/query{,_range} ─► params (400 bad_data naming the parameter)
//!        ─► promql-parser (400 on a parse error) ─► QueryService::run_cached (result cache,
//!        then slot, deadline, spawn_blocking) ─► json::render_result
//!                                                 (422 execution / 503 timeout|unavailable)
//! ```
//! `resolution=raw|5m|1h|auto` (default auto) forces the storage tier selectors read; the
//! tiers read come back in the `X-Cairn-Resolution` header (`5m`, `raw,5m`; `approximate`
//! appended when a window was rounded to whole buckets) and, when a rollup was read, in
//! `data.stats` (`{"resolution":["5m"],"approximate":false}`; a raw answer stays byte for
//! byte Prometheus').
//!
//! Every request reads only its tenant's shards (`X-Scope-OrgID`).

pub mod json;
pub mod params;

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use cairn_model::Tier;
use cairn_query::{QueryOptions, QueryResult, Resolution};
use promql_parser::parser;
use serde_json::json;

use super::{ApiError, Params, SharedState, success, tenant_of};
use crate::query::{ParsedQuery, QueryError, QueryRange};
use params::{duration_param, invalid, thousands, time_param};

/// Names the storage tiers a query read (`raw`, `5m`, `1h`, finest first).
pub const RESOLUTION_HEADER: &str = "x-cairn-resolution";

/// `GET|POST /api/v1/query?query=&time=&timeout=&resolution=`
pub async fn instant(State(st): State<SharedState>, req: Request) -> Response {
    let started = Instant::now();
    let r = async {
        let (tenant, params) = request(&st, req).await?;
        let t = time_param(&params, "time", Some(st.clock.now_ms()))?;
        let timeout = duration_param(&params, "timeout")?;
        let query = params.get("query").unwrap_or_default().to_string();
        let query = parse_query(query)?;
        let range = QueryRange::Instant { t };
        let cache = use_cache(&params);
        let opts = query_options(&params)?;
        evaluate(&st, tenant, query, range, timeout, cache, opts).await
    }
    .await;
    respond(&st, "query", started, r)
}

/// `GET|POST /api/v1/query_range?query=&start=&end=&step=&timeout=`
pub async fn range(State(st): State<SharedState>, req: Request) -> Response {
    let started = Instant::now();
    let r = async {
        let (tenant, params) = request(&st, req).await?;
        let start = time_param(&params, "start", None)?;
        let end = time_param(&params, "end", None)?;
        if end < start {
            return Err(invalid(
                "end",
                "end timestamp must not be before start time",
            ));
        }
        let step = match params.get("step") {
            None | Some("") => return Err(invalid("step", "cannot parse \"\" to a valid duration")),
            Some(_) => duration_param(&params, "step")?.unwrap_or(0),
        };
        if step <= 0 {
            return Err(invalid(
                "step",
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        // Checked before evaluating, as Prometheus does, so a huge range costs nothing.
        let max_points = st.query.config().max_points_per_series;
        if (end.saturating_sub(start) / step) as u64 > max_points {
            st.metrics.query_limit_hit("max_points_per_series");
            return Err(ApiError::bad_data(format!(
                "exceeded maximum resolution of {} points per timeseries. Try decreasing the query resolution (?step=XX)",
                thousands(max_points)
            )));
        }
        let timeout = duration_param(&params, "timeout")?;
        let query = params.get("query").unwrap_or_default().to_string();
        // The engine refuses string and range-vector expressions with Prometheus' message.
        let query = parse_query(query)?;
        let range = QueryRange::Range { start, end, step };
        let cache = use_cache(&params);
        let opts = query_options(&params)?;
        evaluate(&st, tenant, query, range, timeout, cache, opts).await
    }
    .await;
    respond(&st, "query_range", started, r)
}

/// `GET|POST /api/v1/format_query?query=`: the expression pretty-printed.
pub async fn format_query(
    State(st): State<SharedState>,
    req: Request,
) -> Result<Response, ApiError> {
    let (_, params) = request(&st, req).await?;
    let query = parse_query(params.get("query").unwrap_or_default().to_string())?;
    Ok(success(json!(query.expr.prettify())))
}

/// `GET|POST /api/v1/query_exemplars?query=&start=&end=`: Cairn stores no exemplars, so a
/// valid request answers an empty list (what Grafana expects of a Prometheus without them).
pub async fn exemplars(State(st): State<SharedState>, req: Request) -> Result<Response, ApiError> {
    let (_, params) = request(&st, req).await?;
    let start = time_param(&params, "start", Some(i64::MIN))?;
    let end = time_param(&params, "end", Some(i64::MAX))?;
    if end < start {
        return Err(invalid(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    parse_query(params.get("query").unwrap_or_default().to_string())?;
    Ok(success(json!([])))
}

async fn request(
    st: &SharedState,
    req: Request,
) -> Result<(cairn_model::Tenant, Params), ApiError> {
    let tenant = tenant_of(req.headers())?;
    let params = Params::from_request(req, st.cfg.limits.max_body_bytes as usize).await?;
    Ok((tenant, params))
}

/// `nocache=1` (VictoriaMetrics' parameter) evaluates without reading or filling the result
/// cache, e.g. to benchmark evaluation itself.
fn use_cache(params: &Params) -> bool {
    !matches!(params.get("nocache"), Some("1" | "true"))
}

/// `resolution=raw|5m|1h|auto` (auto when absent or empty) and whether `stats` was asked for.
fn query_options(params: &Params) -> Result<QueryOptions, ApiError> {
    let resolution = match params.get("resolution") {
        None | Some("" | "auto") => Resolution::Auto,
        Some(v) => Resolution::Tier(Tier::from_resolution(v).ok_or_else(|| {
            invalid(
                "resolution",
                format!("{v:?} is not a resolution: use raw, 5m, 1h or auto"),
            )
        })?),
    };
    Ok(QueryOptions { resolution })
}

/// Parses `query`; an error is Prometheus' `invalid parameter "query": <parse error>`.
fn parse_query(text: String) -> Result<ParsedQuery, ApiError> {
    let expr = parser::parse(&text).map_err(|e| invalid("query", e))?;
    Ok(ParsedQuery { text, expr })
}

async fn evaluate(
    st: &SharedState,
    tenant: cairn_model::Tenant,
    query: ParsedQuery,
    range: QueryRange,
    timeout_ms: Option<i64>,
    use_cache: bool,
    opts: QueryOptions,
) -> Result<QueryResult, ApiError> {
    // A zero or negative timeout leaves no time at all, as in Prometheus.
    let timeout = timeout_ms.map(|ms| Duration::from_millis(ms.max(0) as u64));
    let deadline = st.query.deadline(timeout);
    // Before the cache's generation is read: writes acknowledged anywhere are applied here.
    let shards = st.read_shards(&tenant).await?;
    st.query
        .run_cached(use_cache, shards, query, range, deadline, opts)
        .await
        .map_err(|e| api_error(st, e))
}

/// Maps a query failure to Prometheus' error types, counting limit hits.
fn api_error(st: &SharedState, e: QueryError) -> ApiError {
    use cairn_query::Error as E;
    match e {
        QueryError::Query(e @ (E::Parse { .. } | E::InvalidSelector { .. })) => invalid("query", e),
        QueryError::Query(e) => {
            match &e {
                E::Limit { limit, .. } => st.metrics.query_limit_hit(limit),
                E::Timeout { .. } => st.metrics.query_limit_hit("timeout"),
                _ => {}
            }
            ApiError::from(e)
        }
        e @ QueryError::Overloaded { .. } => {
            st.metrics.query_limit_hit("max_queued");
            ApiError::unavailable(e.to_string())
        }
        QueryError::Aborted { reason } => {
            tracing::error!(%reason, "query evaluation aborted");
            ApiError::internal(format!("query evaluation aborted: {reason}"))
        }
    }
}

fn respond(
    st: &SharedState,
    endpoint: &'static str,
    started: Instant,
    r: Result<QueryResult, ApiError>,
) -> Response {
    match r {
        Ok(result) => {
            st.metrics.observe_query(
                endpoint,
                "success",
                started.elapsed(),
                result.stats.samples_loaded,
            );
            let mut tiers = result.stats.tier_names().join(",");
            if result.stats.approximate {
                tiers.push_str(",approximate");
            }
            let mut resp = (
                [(header::CONTENT_TYPE, "application/json")],
                json::render_result(&result),
            )
                .into_response();
            if !tiers.is_empty()
                && let Ok(v) = header::HeaderValue::from_str(&tiers)
            {
                resp.headers_mut().insert(RESOLUTION_HEADER, v);
            }
            resp
        }
        Err(e) => {
            st.metrics
                .observe_query(endpoint, e.kind, started.elapsed(), 0);
            e.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_query_parameter() {
        let e = parse_query("sum(".into()).unwrap_err();
        assert_eq!(e.kind, "bad_data");
        assert!(
            e.message.starts_with("invalid parameter \"query\": "),
            "{}",
            e.message
        );
        assert!(parse_query(String::new()).is_err());
        assert!(parse_query("rate(x[5m])".into()).is_ok());
    }
}
