//! The HTTP API: routes, shared state, request parameters and tenancy.
//!
//! ```text
//!  POST /write, /api/v2/write ─► ingest::influx ─┐
//!  POST /api/v1/write ─────────► ingest::remote ─┴► WriteBatch per shard ─► Cluster::write
//!                                                   (Raft: committed on a majority) ─► 204
//!  GET|POST /api/v1/query, /query_range ─► query::QueryService (PromQL, limits) ─► Engine
//!  GET|POST /api/v1/series, /labels, /label/:name/values, /export ─► Engine::select/read_samples
//!  GET /api/v1/status/{buildinfo,runtimeinfo};  GET|POST /metadata, /format_query, /query_exemplars
//!  (reads first pass Cluster::read_barrier: read-your-writes on any node)
//!  PUT|DELETE /api/v1/rules/{group}, PUT|GET /api/v1/rules, GET /api/v1/alerts ─► meta KV
//!  PUT|GET|DELETE /api/v1/alerts/config, POST /api/v1/alerts/external, Alertmanager API v2's
//!  /api/v2/silences, /silence/{id}, /status, /receivers (api::notify) ─► meta KV
//!  GET /api/v1/tenants/{tenant}, PUT|DELETE /api/v1/tenants/{tenant}/retention ─► meta KV
//!  GET /api/v1/cluster/status, /cluster/rules;  DELETE /api/v1/cluster/nodes/{id} (drain, remove)
//!  POST /api/v1/debug/faults (test-faults builds)
//!  POST /api/v1/admin/flush, /snapshot, /clock (--dev-clock); GET /api/v1/admin/rollups;  GET /metrics, /health, /ready
//! ```

pub mod admin;
pub mod alerts;
pub mod backup;
pub mod cluster;
pub mod error;
pub mod notify;
pub mod query;
pub mod read;
pub mod rules;
pub mod status;
pub mod tenants;
pub mod write;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};

use cairn_model::Tenant;
use cairn_storage::Engine;
use notify::{am_alerts, am_config, am_status, external_alerts, silences};

use crate::cluster::Cluster;
use crate::config::NodeConfig;
use crate::metrics::Metrics;
use crate::query::QueryService;
use crate::query::TenantShards;
use cairn_query::ResultCache;
pub use error::{ApiError, WriteError, invalid_response};

/// What every handler shares.
pub struct AppState {
    pub engine: Arc<Engine>,
    pub cluster: Arc<Cluster>,
    pub cfg: NodeConfig,
    pub metrics: Metrics,
    pub query: QueryService,
    /// The background jobs (for their `/metrics`).
    pub jobs: Arc<crate::jobs::Supervisor>,
    /// When the node started (ms since the epoch), for `/api/v1/status/runtimeinfo`.
    pub started_at_ms: i64,
    /// Where handlers read the time (the request's default evaluation time, ingest's "now").
    pub clock: Arc<dyn cairn_model::Clock>,
    /// The same clock when it is a development clock (`--dev-clock`), which the admin API moves.
    pub dev_clock: Option<Arc<cairn_model::OffsetClock>>,
    /// The rule groups' current alerts (on the meta leader), for Alertmanager's alert API.
    pub alert_board: Arc<crate::notify::AlertBoard>,
    /// The notification pipeline (its aggregation groups, on the meta leader).
    pub notify: Arc<crate::notify::NotifyManager>,
}

impl AppState {
    /// The shards `tenant` owns (shuffle sharding, docs/design.md).
    pub fn tenant_shards(&self, tenant: &Tenant) -> Vec<u32> {
        self.cluster.tenant_shards(tenant.as_str())
    }

    /// The shards `tenant` owns, once this node's replicas of them have applied everything
    /// acknowledged before the call (a 503 naming the shard if one cannot get there). Shards
    /// without a local replica are read from another node, which passes the barrier there.
    pub async fn read_shards(&self, tenant: &Tenant) -> Result<TenantShards, ApiError> {
        let shards = TenantShards::new(
            self.engine.clone(),
            self.cluster.clone(),
            tenant.clone(),
            self.tenant_shards(tenant),
        );
        self.cluster.read_barrier(shards.local()).await?;
        Ok(shards)
    }

    /// The query result cache (`[query_cache]`), shared by queries and the write path.
    pub fn result_cache(&self) -> &ResultCache {
        self.query.result_cache()
    }
}

pub type SharedState = Arc<AppState>;

pub fn router(state: SharedState) -> Router {
    let router = Router::new()
        .route("/write", post(write::influx_v1))
        .route("/api/v2/write", post(write::influx_v2))
        .route("/api/v1/write", post(write::remote_write))
        .route("/api/v1/query", get(query::instant).post(query::instant))
        .route("/api/v1/query_range", get(query::range).post(query::range))
        .route(
            "/api/v1/format_query",
            get(query::format_query).post(query::format_query),
        )
        .route(
            "/api/v1/query_exemplars",
            get(query::exemplars).post(query::exemplars),
        )
        .route("/api/v1/metadata", get(read::metadata).post(read::metadata))
        .route("/api/v1/series", get(read::series).post(read::series))
        .route("/api/v1/labels", get(read::labels).post(read::labels))
        .route("/api/v1/label/{name}/values", get(read::label_values))
        .route("/api/v1/export", get(read::export).post(read::export))
        .route("/api/v1/status/buildinfo", get(status::buildinfo))
        .route("/api/v1/status/runtimeinfo", get(status::runtimeinfo))
        .route(
            "/api/v1/rules",
            get(rules::list).post(rules::list).put(rules::put_all),
        )
        .route(
            "/api/v1/rules/{group}",
            put(rules::put_group).delete(rules::delete_group),
        )
        .route("/api/v1/alerts", get(alerts::list).post(alerts::list))
        .route(
            "/api/v1/alerts/config",
            get(am_config::get)
                .put(am_config::put)
                .delete(am_config::delete),
        )
        .route("/api/v1/alerts/external", post(external_alerts::post))
        .route("/api/v2/silences", get(silences::list).post(silences::post))
        .route(
            "/api/v2/silence/{id}",
            get(silences::get).delete(silences::delete),
        )
        .route("/api/v2/status", get(am_status::status))
        .route("/api/v2/alerts", get(am_alerts::alerts))
        .route("/api/v2/alerts/groups", get(am_alerts::groups))
        .route("/api/v2/receivers", get(am_status::receivers))
        .route("/api/v1/tenants/{tenant}", get(tenants::get))
        .route(
            "/api/v1/tenants/{tenant}/retention",
            put(tenants::put_retention).delete(tenants::delete_retention),
        )
        .route("/api/v1/cluster/status", get(cluster::status))
        .route("/api/v1/cluster/nodes/{id}", delete(cluster::remove_node))
        .route("/api/v1/cluster/rules", get(rules::cluster_list))
        .route("/api/v1/admin/flush", post(admin::flush))
        .route("/api/v1/admin/snapshot", post(admin::snapshot))
        .route("/api/v1/admin/clock", get(admin::clock).post(admin::clock))
        .route("/api/v1/admin/rollups", get(admin::rollups))
        .route("/api/v1/admin/backup/shards/{id}", get(backup::shard))
        .route("/api/v1/admin/backup/meta", get(backup::meta))
        .route("/metrics", get(admin::metrics))
        .route("/health", get(admin::health))
        .route("/ready", get(admin::ready))
        .route("/ping", get(admin::ping).head(admin::ping))
        .fallback(not_found);
    #[cfg(feature = "test-faults")]
    let router = router.route("/api/v1/debug/faults", post(cluster::faults));
    router
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError {
        status: axum::http::StatusCode::NOT_FOUND,
        kind: "not_found",
        message: format!("no such endpoint: {} {}", req.method(), req.uri().path()),
    }
}

/// Records request counts and latency per route.
async fn observe(State(st): State<SharedState>, req: Request, next: Next) -> Response {
    let handler = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "other".into());
    let start = Instant::now();
    let resp = next.run(req).await;
    st.metrics
        .observe(&handler, resp.status().as_u16(), start.elapsed());
    resp
}

/// The request's tenant: `X-Scope-OrgID` (Mimir's convention) or `default`.
pub fn tenant_of(headers: &HeaderMap) -> Result<Tenant, ApiError> {
    match headers.get("x-scope-orgid") {
        None => Ok(Tenant::default_tenant()),
        Some(v) => {
            let s = v
                .to_str()
                .map_err(|_| ApiError::bad_data("X-Scope-OrgID header is not valid text"))?;
            Tenant::new(s.trim()).map_err(|e| ApiError::bad_data(format!("X-Scope-OrgID: {e}")))
        }
    }
}

/// Query-string and form parameters (Prometheus accepts both, and repeats `match[]`).
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Collects the query string and, for a form POST, the body's parameters.
    pub async fn from_request(req: Request, max_body: usize) -> Result<Params, ApiError> {
        let mut v: Vec<(String, String)> = req
            .uri()
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|c| c.to_str().ok())
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        if req.method() == Method::POST && is_form {
            let body = axum::body::to_bytes(req.into_body(), max_body)
                .await
                .map_err(|e| ApiError::too_large(format!("reading form body: {e}")))?;
            v.extend(form_urlencoded::parse(&body).into_owned());
        }
        Ok(Params(v))
    }

    /// Only the query string (for endpoints whose body is data, like writes).
    pub fn from_request_query(req: &Request) -> Params {
        Params(
            req.uri()
                .query()
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// `{"status":"success","data":...}`
pub fn success(data: serde_json::Value) -> Response {
    axum::Json(serde_json::json!({"status": "success", "data": data})).into_response()
}
