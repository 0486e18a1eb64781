//! `POST /api/v1/alerts/external[?source=NAME]`: alerts from outside (a forwarding
//! Alertmanager, FlexMON), stored beside Cairn's own and notified through the same pipeline.
//!
//! ```text
//!  the tenant's config has no external_alerts ─► 404 (no config) / 403 (not enabled)
//!  peer address not in allowed_ips            ─► 403
//!  X-Cairn-Signature missing or not HMAC-SHA256(secret, raw body) ─► 401, nothing stored
//!  external_alerts::decode (either body shape) ─► 400 naming alert index and field
//!  every alert: Put extalerts/{tenant}/{fingerprint} ─► one Kv command ─► 200 {"alerts": n}
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use cairn_alerting::notify::external_alerts::{self, DEFAULT_SOURCE};
use cairn_alerting::notify::ip_allow_list::IpAllowList;
use cairn_alerting::notify::notify_keys;
use cairn_alerting::notify::signature::{self, SIGNATURE_HEADER};
use cairn_consensus::KvOp;
use serde_json::json;

use super::TenantNotify;
use super::am_config::{body_bytes, no_config};
use crate::api::{ApiError, Params, SharedState, success, tenant_of};

/// `POST /api/v1/alerts/external`
pub async fn post(State(st): State<SharedState>, req: Request) -> Result<Response, ApiError> {
    let tenant = tenant_of(req.headers())?;
    let params = Params::from_request_query(&req);
    let source = match params.get("source") {
        None => DEFAULT_SOURCE.to_string(),
        Some("") => return Err(ApiError::bad_data("invalid parameter \"source\": empty")),
        Some(s) => s.to_string(),
    };
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let signature_header = req
        .headers()
        .get(SIGNATURE_HEADER)
        .map(|v| v.to_str().unwrap_or_default().to_string());
    let notify = TenantNotify::new(st.cluster.groups().meta(), tenant.as_str());
    let (_, config) = notify.config()?.ok_or_else(|| no_config(tenant.as_str()))?;
    let Some(ext) = &config.external_alerts else {
        return Err(forbidden(format!(
            "tenant {:?}'s alerting configuration has no external_alerts section: alerts from \
             outside are not accepted",
            tenant.as_str()
        )));
    };
    let allowed = IpAllowList::parse(&ext.allowed_ips)
        .map_err(|e| ApiError::internal(format!("external_alerts.allowed_ips: {e}")))?;
    if !allowed.is_empty() {
        match peer {
            Some(ip) if allowed.allows(ip) => {}
            Some(ip) => {
                return Err(forbidden(format!(
                    "{ip} is not in external_alerts.allowed_ips"
                )));
            }
            None => {
                return Err(forbidden(
                    "the peer's address is unknown, and external_alerts.allowed_ips is set",
                ));
            }
        }
    }
    let body = body_bytes(&st, req).await?;
    match signature_header {
        None => {
            return Err(unauthorized(format!(
                "missing {SIGNATURE_HEADER} header (sha256=<hex of HMAC-SHA256(secret, body)>)"
            )));
        }
        Some(h) if !signature::verify(ext.secret.0.as_bytes(), &body, &h) => {
            return Err(unauthorized(format!(
                "{SIGNATURE_HEADER} does not match the body"
            )));
        }
        Some(_) => {}
    }
    let now = st.clock.now_ms();
    let alerts = external_alerts::decode(&body, now, config.global.resolve_timeout_ms, &source)
        .map_err(|e| ApiError::bad_data(e.to_string()))?;
    let mut puts = BTreeMap::new();
    for a in &alerts {
        let key = notify_keys::external_alert_key(tenant.as_str(), a.fingerprint());
        // A repeat in one request: the later one wins, merged with what is stored. One
        // look-up per alert, not a scan of the tenant's alerts: a request costs what it posts.
        let merged = external_alerts::merge(notify.external_alert(&key).as_ref(), a);
        let value = serde_json::to_string(&merged)
            .map_err(|e| ApiError::internal(format!("encoding an alert: {e}")))?;
        puts.insert(key, value);
    }
    let ops: Vec<KvOp> = puts
        .into_iter()
        .map(|(key, value)| KvOp::Put { key, value })
        .collect();
    if !ops.is_empty() {
        st.cluster.propose_kv(ops).await?;
    }
    Ok(success(json!({ "alerts": alerts.len() })))
}

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::FORBIDDEN,
        kind: "forbidden",
        message: message.into(),
    }
}

fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        kind: "unauthorized",
        message: message.into(),
    }
}
