//! Tenant settings: `GET /api/v1/tenants/{tenant}` and `PUT|DELETE
//! /api/v1/tenants/{tenant}/retention`, a tenant's retention per storage tier.
//!
//! ```text
//!  PUT  {"raw":"7d","rollup_5m":"30d","rollup_1h":"365d"}   (omitted fields: cluster default)
//!       ─► parse each field, RetentionOverride::apply_checked (400 naming the field)
//!       ─► one Put of the override at retention/{tenant} (meta KV) ─► 200 effective policy
//!  DELETE ─► the key removed: the cluster defaults again
//!  GET  ─► {"tenant", "retention": {tier: {"value", "ms", "source": default|tenant}}}
//! ```
//! The tenant is the path's, not `X-Scope-OrgID`: these are administration endpoints about a
//! tenant, not requests made as one.

use axum::extract::{Path, Request, State};
use axum::response::Response;
use cairn_consensus::{KvOp, MetaGroup};
use cairn_model::retention_policy::{self, EffectiveRetention, Tier};
use cairn_model::{RetentionOverride, RetentionPolicy, Tenant};
use serde::Deserialize;
use serde_json::{Value, json};

use super::notify::am_config::body_bytes;
use crate::api::{ApiError, SharedState, success};
use crate::cluster::tenant_retention::{self, overridden_tenants, retention_key};

/// A PUT's body: durations as people write them.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RetentionBody {
    raw: Option<String>,
    rollup_5m: Option<String>,
    rollup_1h: Option<String>,
}

/// `GET /api/v1/tenants/{tenant}`
pub async fn get(
    State(st): State<SharedState>,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = parse_tenant(&tenant)?;
    let meta = st.cluster.groups().meta();
    let effective = effective_retention(meta, &st.cfg.retention_defaults(), tenant.as_str())?;
    Ok(success(tenant_json(tenant.as_str(), &effective)))
}

/// `PUT /api/v1/tenants/{tenant}/retention`: replaces the tenant's override (fields left out
/// follow the cluster defaults).
pub async fn put_retention(
    State(st): State<SharedState>,
    Path(tenant): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let tenant = parse_tenant(&tenant)?;
    let bytes = body_bytes(&st, req).await?;
    let body: RetentionBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        RetentionBody::default()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_data(format!("the body is not a retention policy: {e}")))?
    };
    let parse = |tier: Tier, v: &Option<String>| -> Result<Option<i64>, ApiError> {
        v.as_deref()
            .map(|text| retention_policy::parse_tier(tier, text))
            .transpose()
            .map_err(|e| ApiError::bad_data(e.to_string()))
    };
    let set = RetentionOverride {
        raw_ms: parse(Tier::Raw, &body.raw)?,
        rollup_5m_ms: parse(Tier::Rollup5m, &body.rollup_5m)?,
        rollup_1h_ms: parse(Tier::Rollup1h, &body.rollup_1h)?,
    };
    let effective = set
        .apply_checked(&st.cfg.retention_defaults())
        .map_err(|e| ApiError::bad_data(e.to_string()))?;
    let value = serde_json::to_string(&set)
        .map_err(|e| ApiError::internal(format!("encoding the retention policy: {e}")))?;
    st.cluster
        .propose_kv(vec![KvOp::Put {
            key: retention_key(tenant.as_str()),
            value,
        }])
        .await?;
    Ok(success(tenant_json(tenant.as_str(), &effective)))
}

/// `DELETE /api/v1/tenants/{tenant}/retention`: the cluster defaults again (a success when
/// there was no override).
pub async fn delete_retention(
    State(st): State<SharedState>,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = parse_tenant(&tenant)?;
    st.cluster
        .propose_kv(vec![KvOp::Delete {
            key: retention_key(tenant.as_str()),
        }])
        .await?;
    let effective = RetentionOverride::default().resolve(&st.cfg.retention_defaults());
    Ok(success(tenant_json(tenant.as_str(), &effective)))
}

fn parse_tenant(name: &str) -> Result<Tenant, ApiError> {
    Tenant::new(name).map_err(|e| ApiError::bad_data(format!("tenant: {e}")))
}

/// `tenant`'s effective retention; an unreadable stored override is a 500.
pub fn effective_retention(
    meta: &MetaGroup,
    defaults: &RetentionPolicy,
    tenant: &str,
) -> Result<EffectiveRetention, ApiError> {
    tenant_retention::effective_retention(meta, defaults, tenant)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// `{tier: {"value": "7d", "ms": 604800000, "source": "default"}}`
pub fn retention_json(e: &EffectiveRetention) -> Value {
    let mut m = serde_json::Map::new();
    for tier in Tier::ALL {
        let ms = e.policy.get(tier);
        m.insert(
            tier.name().into(),
            json!({
                "value": retention_policy::show(ms),
                "ms": ms,
                "source": e.source(tier).name(),
            }),
        );
    }
    Value::Object(m)
}

fn tenant_json(tenant: &str, e: &EffectiveRetention) -> Value {
    json!({ "tenant": tenant, "retention": retention_json(e) })
}

/// The `retention` part of `GET /api/v1/cluster/status`: the defaults and every tenant with
/// an override.
pub fn cluster_retention_json(meta: &MetaGroup, defaults: &RetentionPolicy) -> Value {
    let defaults_json = retention_json(&RetentionOverride::default().resolve(defaults));
    let tenants: Vec<Value> = overridden_tenants(meta, defaults)
        .into_iter()
        .map(|(tenant, e)| match e {
            Ok(e) => tenant_json(&tenant, &e),
            Err(err) => json!({ "tenant": tenant, "error": err.to_string() }),
        })
        .collect();
    json!({ "defaults": defaults_json, "tenants": tenants })
}
