//! Alertmanager API v2's silences, per tenant (`X-Scope-OrgID`):
//!
//! ```text
//!  GET    /api/v2/silences[?filter=m...]  ─► silence_query::query (AM's filter and order)
//!  POST   /api/v2/silences                ─► silence_set::plan_set ─► one Kv command
//!                                            (new, updated in place, or expired + new)
//!  GET    /api/v2/silence/{id}
//!  DELETE /api/v2/silence/{id}            ─► silence_set::expire ─► one Kv command
//! ```
//! Two updates of one silence at the same moment: the later commit wins, as in a single
//! Alertmanager.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use cairn_alerting::notify::gettable_silence::{GettableSilence, PostableSilence};
use cairn_alerting::notify::notify_keys::{self, StoredSilence};
use cairn_alerting::notify::silence_set::{self, SilenceError};
use cairn_alerting::notify::{parse_matchers, silence_query};
use cairn_consensus::KvOp;
use serde_json::json;

use super::am_config::body_text;
use super::{AmError, TenantNotify};
use crate::api::{Params, SharedState, tenant_of};

/// `GET /api/v2/silences`
pub async fn list(State(st): State<SharedState>, req: Request) -> Result<Response, AmError> {
    let tenant = tenant_of(req.headers())?;
    let params = Params::from_request_query(&req);
    let filter = params
        .all("filter")
        .into_iter()
        .map(parse_matchers)
        .collect::<Result<Vec<_>, _>>()
        .map(|m| m.concat())
        .map_err(AmError::bad_request)?;
    let silences = TenantNotify::new(st.cluster.groups().meta(), tenant.as_str()).silences();
    Ok(Json(silence_query::query(&silences, &filter, st.clock.now_ms())).into_response())
}

/// `GET /api/v2/silence/{id}`
pub async fn get(
    State(st): State<SharedState>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, AmError> {
    let tenant = tenant_of(req.headers())?;
    let s = TenantNotify::new(st.cluster.groups().meta(), tenant.as_str())
        .silence(&id)
        .ok_or_else(|| AmError::not_found(SilenceError::NotFound.to_string()))?;
    Ok(Json(GettableSilence::from_stored(&s, st.clock.now_ms())).into_response())
}

/// `POST /api/v2/silences`: creates, or with an `id` updates, a silence; answers
/// `{"silenceID": ...}` (a new id when the update could not be made in place).
pub async fn post(State(st): State<SharedState>, req: Request) -> Result<Response, AmError> {
    let tenant = tenant_of(req.headers())?;
    let text = body_text(&st, req).await?;
    let posted: PostableSilence = serde_json::from_str(&text).map_err(|e| {
        AmError::bad_request(format!(
            "parsing silence body from \"\" failed, because {e}"
        ))
    })?;
    let (posted, posted_start) = posted.decode().map_err(AmError::bad_request)?;
    let now = st.clock.now_ms();
    let notify = TenantNotify::new(st.cluster.groups().meta(), tenant.as_str());
    let prev = if posted.id.is_empty() {
        None
    } else {
        notify.silence(&posted.id)
    };
    let set = silence_set::plan_set(
        prev.as_ref(),
        posted,
        posted_start,
        now,
        uuid::Uuid::new_v4().to_string(),
    )
    .map_err(|e| match e {
        SilenceError::NotFound => AmError::not_found(e.to_string()),
        SilenceError::Invalid(m) => AmError::bad_request(m),
    })?;
    let ops = set
        .puts
        .iter()
        .map(|s| put(tenant.as_str(), s))
        .collect::<Result<Vec<_>, _>>()?;
    st.cluster.propose_kv(ops).await?;
    Ok(Json(json!({ "silenceID": set.id })).into_response())
}

/// `DELETE /api/v2/silence/{id}`: expires it (already expired: nothing to do, still 200).
pub async fn delete(
    State(st): State<SharedState>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, AmError> {
    let tenant = tenant_of(req.headers())?;
    let s = TenantNotify::new(st.cluster.groups().meta(), tenant.as_str())
        .silence(&id)
        .ok_or_else(|| AmError::not_found(SilenceError::NotFound.to_string()))?;
    if let Some(expired) = silence_set::expire(&s, st.clock.now_ms()) {
        st.cluster
            .propose_kv(vec![put(tenant.as_str(), &expired)?])
            .await?;
    }
    Ok(axum::http::StatusCode::OK.into_response())
}

fn put(tenant: &str, s: &StoredSilence) -> Result<KvOp, AmError> {
    let value = serde_json::to_string(s).map_err(|e| AmError {
        status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("encoding the silence: {e}"),
    })?;
    Ok(KvOp::Put {
        key: notify_keys::silence_key(tenant, &s.id),
        value,
    })
}
