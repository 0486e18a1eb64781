//! Cluster endpoints: `GET /api/v1/cluster/status`, `DELETE /api/v1/cluster/nodes/{id}`
//! (drain a node and remove it: `cairn cluster remove`), and the test-only fault hook
//! `POST /api/v1/debug/faults?block=2,3` / `?unblock=all`, which exists only in builds with
//! the `test-faults` feature (the test suite's; release builds leave it out). It partitions
//! this node from the listed peers: every internal gRPC call to and from them is refused by
//! the transport's fault layer (`cairn_consensus::network::faults`).

#[cfg(feature = "test-faults")]
use axum::extract::Request;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
#[cfg(feature = "test-faults")]
use serde_json::json;

#[cfg(feature = "test-faults")]
use super::Params;
use super::{ApiError, SharedState, success};

/// `GET /api/v1/cluster/status`, with the retention policies (the defaults of this node's
/// configuration and every tenant's override) under `retention`, and this node's retention
/// and rollup work under `maintenance`.
pub async fn status(State(st): State<SharedState>) -> Response {
    let mut status = st.cluster.status();
    status["retention"] = super::tenants::cluster_retention_json(
        st.cluster.groups().meta(),
        &st.cfg.retention_defaults(),
    );
    status["maintenance"] = maintenance_json(&st);
    success(status)
}

/// `DELETE /api/v1/cluster/nodes/{id}`: starts draining node `id` (every replica on it moves
/// to another node; then it leaves the meta group and the cluster state) and answers 202 at
/// once. 404 for a node that is not a member, 409 with the reason (naming the shards) when
/// removing it would leave shards or the meta group without a quorum or below the
/// replication factor (`cairn_consensus::removal`). Asking again while it drains is a 202 too.
pub async fn remove_node(
    State(st): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    use cairn_consensus::MetaCommand;
    use cairn_consensus::removal::{Refusal, check_removal};
    let node: u64 = id
        .parse()
        .map_err(|_| ApiError::bad_data(format!("node id {id:?} is not a number")))?;
    let c = &st.cluster;
    let state = c.state();
    if !state.draining.contains(&node) {
        let voters = c.groups().meta().status().voters;
        check_removal(&state, node, c.replication_factor(), &voters, &c.up_nodes()).map_err(
            |r| match r {
                Refusal::NotMember { .. } => ApiError::not_found(r.to_string()),
                _ => ApiError::conflict(r.to_string()),
            },
        )?;
        c.propose_meta(MetaCommand::Drain { node }, "starting to drain the node")
            .await?;
    }
    let body = serde_json::json!({
        "status": "success",
        "data": {
            "node": node,
            "state": "draining",
            // Shards placed on it or moving from it: the drain is done at zero, and then the
            // node leaves the cluster state (`GET /api/v1/cluster/status` no longer lists it).
            "replicas": c.state().replicas_on(node),
        },
    });
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

/// What this node's maintenance job and shard replicas did: the job's last pass, the lag and
/// oldest watermark of each rollup tier over the shards it leads, and the work applied here.
fn maintenance_json(st: &SharedState) -> serde_json::Value {
    use std::sync::atomic::Ordering::Relaxed;
    let m = &st.metrics.maintenance;
    let e = st.engine.stats();
    let tier = |i: usize| {
        serde_json::json!({
            "lag_seconds": m.lag_ms[i].load(Relaxed) as f64 / 1000.0,
            "built_to_ms": m.watermark_ms[i].load(Relaxed),
        })
    };
    let last_run_ms = st
        .jobs
        .stats()
        .iter()
        .find(|j| j.name == "maintenance")
        .map(|j| j.last_run_ms.load(Relaxed));
    serde_json::json!({
        "enabled": st.cfg.maintenance.enabled,
        "last_run_ms": last_run_ms,
        "shards_led": m.shards_led.load(Relaxed),
        "commands": m.commands.load(Relaxed),
        "5m": tier(0),
        "1h": tier(1),
        "windows_rolled": e.maintenance_windows_rolled.load(Relaxed),
        "blocks_written": e.maintenance_blocks_written.load(Relaxed),
        "days_deleted": e.maintenance_days_deleted.load(Relaxed),
        "bytes_deleted": e.maintenance_bytes_deleted.load(Relaxed),
        "series_dropped": e.maintenance_series_dropped.load(Relaxed),
    })
}

/// `POST /api/v1/debug/faults?block=ID,ID&unblock=ID,ID|all&mode=refuse|drop` (`drop`: calls
/// with blocked peers hang, as in a network that loses every packet)
#[cfg(feature = "test-faults")]
pub async fn faults(State(st): State<SharedState>, req: Request) -> Result<Response, ApiError> {
    let params = Params::from_request_query(&req);
    let faults = st.cluster.groups().network().faults();
    let ids = |name: &str| -> Result<Vec<u64>, ApiError> {
        params
            .get(name)
            .filter(|v| !v.is_empty() && *v != "all")
            .map(|v| {
                v.split(',')
                    .map(|id| {
                        id.trim().parse::<u64>().map_err(|_| {
                            ApiError::bad_data(format!("{name}: {id:?} is not a node id"))
                        })
                    })
                    .collect()
            })
            .unwrap_or(Ok(Vec::new()))
    };
    match params.get("mode") {
        None => {}
        Some("refuse") => faults.set_dropping(false),
        Some("drop") => faults.set_dropping(true),
        Some(m) => {
            return Err(ApiError::bad_data(format!(
                "mode: {m:?} is neither refuse nor drop"
            )));
        }
    }
    if params.get("unblock") == Some("all") {
        faults.unblock_all();
    }
    for id in ids("unblock")? {
        faults.unblock(id);
    }
    for id in ids("block")? {
        faults.block(id);
    }
    Ok(success(
        json!({ "blocked": faults.blocked(), "dropping": faults.is_dropping() }),
    ))
}
