//! `GET /api/v2/status` and `GET /api/v2/receivers`, in Alertmanager's shapes: the cluster is
//! Cairn's (its nodes are the peers; `ready` once the meta group has a leader), the
//! configuration is the tenant's stored `alertmanager.yml` with its secrets hidden.

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{AmError, TenantNotify};
use crate::api::{SharedState, tenant_of};
use cairn_alerting::notify::am_time;

/// `GET /api/v2/status`
pub async fn status(State(st): State<SharedState>, req: Request) -> Result<Response, AmError> {
    let tenant = tenant_of(req.headers())?;
    let stored = TenantNotify::new(st.cluster.groups().meta(), tenant.as_str()).stored_config()?;
    let original = stored
        .map(|s| cairn_alerting::notify::config::redacted_source(&s.alertmanager_config))
        .unwrap_or_default();
    let me = st.cluster.node_id();
    let mut peers: Vec<(String, String)> = st
        .cluster
        .state()
        .nodes
        .iter()
        .map(|(id, n)| (peer_name(*id), n.http_addr.to_string()))
        .collect();
    peers.sort();
    let ready = st.cluster.groups().meta().leader().is_some();
    Ok(Json(json!({
        "cluster": {
            "name": peer_name(me),
            "status": if ready { "ready" } else { "settling" },
            "peers": peers
                .iter()
                .map(|(name, address)| json!({"name": name, "address": address}))
                .collect::<Vec<_>>(),
        },
        "config": {"original": original},
        "versionInfo": {
            "version": env!("CARGO_PKG_VERSION"),
            "revision": "",
            "branch": "",
            "buildUser": "",
            "buildDate": "",
            "goVersion": "",
        },
        "uptime": am_time::format_ms(st.started_at_ms),
    }))
    .into_response())
}

/// `GET /api/v2/receivers`: `[{"name": ...}]` of the tenant's configuration (none without
/// one).
pub async fn receivers(State(st): State<SharedState>, req: Request) -> Result<Response, AmError> {
    let tenant = tenant_of(req.headers())?;
    let names: Vec<serde_json::Value> =
        match TenantNotify::new(st.cluster.groups().meta(), tenant.as_str()).config()? {
            Some((_, config)) => config
                .receivers
                .iter()
                .map(|r| json!({ "name": r.name }))
                .collect(),
            None => Vec::new(),
        };
    Ok(Json(names).into_response())
}

fn peer_name(id: u64) -> String {
    format!("node-{id}")
}
