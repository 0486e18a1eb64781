//! Cluster endpoints: `GET /api/v1/cluster/status`, and the test-only fault hook
//! `POST /api/v1/debug/faults?block=2,3` / `?unblock=all`, served only when the node was
//! started with `CAIRN_TEST_FAULTS=1` (it partitions this node from the listed peers: Raft
//! messages and forwarded writes to and from them are dropped).

use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::json;

use super::{ApiError, Params, SharedState, success};

/// `GET /api/v1/cluster/status`
pub async fn status(State(st): State<SharedState>) -> Response {
    success(st.cluster.status())
}

/// Whether the test fault hook is on (`CAIRN_TEST_FAULTS=1`).
fn faults_enabled() -> bool {
    std::env::var("CAIRN_TEST_FAULTS").is_ok_and(|v| v == "1")
}

/// `POST /api/v1/debug/faults?block=ID,ID&unblock=ID,ID|all`
pub async fn faults(State(st): State<SharedState>, req: Request) -> Result<Response, ApiError> {
    if !faults_enabled() {
        return Err(ApiError {
            status: axum::http::StatusCode::NOT_FOUND,
            kind: "not_found",
            message: "fault injection is off (start the node with CAIRN_TEST_FAULTS=1)".into(),
        });
    }
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
