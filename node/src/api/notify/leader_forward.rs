//! `Forward` and `forward_to_leader`: hands a read the meta leader alone can answer (its alert
//! board, its aggregation groups, its senders' status) to that leader, and passes the answer
//! back unchanged.
//!
//! ```text
//!  follower: Forward::of(req) ─► GET http://{leader}{path?query} (X-Scope-OrgID, forwarded: 1)
//!            ◄── status, content type and body as the leader answered
//!  leader:   None: the handler answers itself
//! ```

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

use super::AmError;
use crate::api::SharedState;

/// Set on a forwarded request: a node that receives one and does not lead answers 503
/// instead of forwarding again (leadership moved while the request travelled).
const FORWARDED: &str = "x-cairn-forwarded";

/// What forwarding needs of the request (taken before any await: a request is not `Sync`).
pub struct Forward {
    path_and_query: String,
    tenant: Option<HeaderValue>,
    already_forwarded: bool,
}

impl Forward {
    pub fn of(req: &Request) -> Forward {
        Forward {
            path_and_query: req
                .uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            tenant: req.headers().get("x-scope-orgid").cloned(),
            already_forwarded: req.headers().contains_key(FORWARDED),
        }
    }
}

/// On a node that does not lead the meta group: the leader's answer to the same request.
/// None on the leader itself.
pub async fn forward_to_leader(
    st: &SharedState,
    req: Forward,
) -> Result<Option<Response>, AmError> {
    let meta = st.cluster.groups().meta();
    if meta.is_leader() {
        return Ok(None);
    }
    let unavailable = |m: String| AmError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: m,
    };
    if req.already_forwarded {
        return Err(unavailable(
            "the meta leader moved while this request was forwarded; try again".to_string(),
        ));
    }
    let leader = meta.leader().ok_or_else(|| {
        unavailable("no meta leader: this request is answered by the meta leader".to_string())
    })?;
    let addr = st
        .cluster
        .state()
        .nodes
        .get(&leader)
        .map(|n| n.http_addr.to_string())
        .ok_or_else(|| {
            unavailable(format!(
                "the meta leader (node {leader}) has no known address"
            ))
        })?;
    let mut fwd = reqwest::Client::new()
        .get(format!("http://{addr}{}", req.path_and_query))
        .header(FORWARDED, "1")
        .timeout(std::time::Duration::from_secs(10));
    if let Some(t) = &req.tenant {
        fwd = fwd.header("x-scope-orgid", t.as_bytes());
    }
    let resp = fwd.send().await.map_err(|e| {
        unavailable(format!(
            "forwarding to the meta leader (node {leader}): {e}"
        ))
    })?;
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = resp.headers().get(reqwest::header::CONTENT_TYPE).cloned();
    let body = resp
        .bytes()
        .await
        .map_err(|e| unavailable(format!("reading the meta leader's answer: {e}")))?;
    let mut out = Response::new(Body::from(body));
    *out.status_mut() = status;
    if let Some(ct) = content_type.and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok()) {
        out.headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, ct);
    }
    Ok(Some(out))
}
