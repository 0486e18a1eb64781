//! Cluster endpoints: `GET /api/v1/cluster/status`, and the test-only fault hook
//! `POST /api/v1/debug/faults?block=2,3` / `?unblock=all`, which exists only in builds with
//! the `test-faults` feature (the test suite's; release builds leave it out). It partitions
//! this node from the listed peers: every internal gRPC call to and from them is refused by
//! the transport's fault layer (`cairn_consensus::network::faults`).

#[cfg(feature = "test-faults")]
use axum::extract::Request;
use axum::extract::State;
use axum::response::Response;
#[cfg(feature = "test-faults")]
use serde_json::json;

#[cfg(feature = "test-faults")]
use super::{ApiError, Params};
use super::{SharedState, success};

/// `GET /api/v1/cluster/status`, with the retention policies (the defaults of this node's
/// configuration and every tenant's override) under `retention`.
pub async fn status(State(st): State<SharedState>) -> Response {
    let mut status = st.cluster.status();
    status["retention"] = super::tenants::cluster_retention_json(
        st.cluster.groups().meta(),
        &st.cfg.retention_defaults(),
    );
    success(status)
}

/// `POST /api/v1/debug/faults?block=ID,ID&unblock=ID,ID|all`
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
    if params.get("unblock") == Some("all") {
        faults.unblock_all();
    }
    for id in ids("unblock")? {
        faults.unblock(id);
    }
    for id in ids("block")? {
        faults.block(id);
    }
    Ok(success(json!({ "blocked": faults.blocked() })))
}
