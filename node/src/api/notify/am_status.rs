//! `GET /api/v2/status` and `GET /api/v2/receivers`, in Alertmanager's shapes: the cluster is
//! Cairn's (its nodes are the peers; `ready` once the meta group has a leader), the
//! configuration is the tenant's stored `alertmanager.yml` with its secrets hidden. The
//! receivers carry Grafana's per-integration status too, from the meta leader's senders.

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use std::collections::BTreeMap;

use super::leader_forward::{Forward, forward_to_leader};
use super::{AmError, TenantNotify};
use crate::api::{SharedState, tenant_of};
use crate::metrics::notify_metrics::IntegrationStatus;
use cairn_alerting::notify::am_time;
use cairn_alerting::notify::receiver::Receiver;

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

/// `GET /api/v2/receivers`: Alertmanager's `[{"name": ...}]` of the tenant's configuration
/// (none without one), each with Grafana's receivers-status `integrations`: every integration
/// of the receiver with its last notification as the senders recorded it.
///
/// Why forward: only the meta leader sends, so only its senders' status says anything; a
/// follower's would show every integration as never tried.
pub async fn receivers(State(st): State<SharedState>, req: Request) -> Result<Response, AmError> {
    if let Some(forwarded) = forward_to_leader(&st, Forward::of(&req)).await? {
        return Ok(forwarded);
    }
    let tenant = tenant_of(req.headers())?;
    let listed: Vec<serde_json::Value> =
        match TenantNotify::new(st.cluster.groups().meta(), tenant.as_str()).config()? {
            Some((_, config)) => config
                .receivers
                .iter()
                .map(|r| {
                    let status = st.metrics.notify.receiver_status(tenant.as_str(), &r.name);
                    receiver_json(r, &status)
                })
                .collect(),
            None => Vec::new(),
        };
    Ok(Json(listed).into_response())
}

/// One receiver in the listing; `status` is its integrations' last outcomes by name
/// (`webhook[0]`), an integration without one has never notified.
fn receiver_json(r: &Receiver, status: &[(String, IntegrationStatus)]) -> serde_json::Value {
    // Named as the senders name them: the kind and the index within the kind.
    let mut per_kind: BTreeMap<&str, usize> = BTreeMap::new();
    let integrations: Vec<serde_json::Value> = r
        .integrations
        .iter()
        .map(|i| {
            let n = per_kind.entry(i.kind()).or_insert(0);
            let name = format!("{}[{n}]", i.kind());
            *n += 1;
            let last = status.iter().find(|(s, _)| *s == name).map(|(_, s)| s);
            json!({
                "name": name,
                "sendResolved": i.send_resolved(),
                "lastNotifyAttempt": am_time::format_ms(
                    last.map_or(am_time::GO_ZERO_TIME_MS, |s| s.last_attempt_ms)
                ),
                "lastNotifyAttemptDuration": am_time::format_duration_ms(
                    last.map_or(0, |s| s.last_attempt_duration_ms)
                ),
                "lastNotifyAttemptError": last.and_then(|s| s.last_error.as_deref()).unwrap_or(""),
            })
        })
        .collect();
    json!({ "name": r.name, "integrations": integrations })
}

fn peer_name(id: u64) -> String {
    format!("node-{id}")
}
