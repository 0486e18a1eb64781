//! Tenants' retention as the cluster stores it: each override at `retention/{tenant}` in the
//! meta group's key-value space (the layout is the node's, as `notify_keys` is alerting's; the
//! model only knows the policy). The tenant API writes them; the API, the status page and the
//! maintenance job read the effective policy from here.

use cairn_consensus::MetaGroup;
use cairn_model::retention_policy::EffectiveRetention;
use cairn_model::{RetentionOverride, RetentionPolicy};

/// Prefix of every tenant's retention override in the meta KV.
pub const RETENTION: &str = "retention/";

/// The meta key of `tenant`'s override (tenant names need no encoding: `[A-Za-z0-9_-]`).
pub fn retention_key(tenant: &str) -> String {
    format!("{RETENTION}{tenant}")
}

/// A stored override that this version cannot read (it was written by a PUT, so a bug or a
/// newer writer): the message names the tenant.
#[derive(Debug, Clone, thiserror::Error)]
#[error("tenant {tenant:?}: unreadable retention override: {reason}")]
pub struct UnreadableOverride {
    pub tenant: String,
    pub reason: String,
}

fn decode(tenant: &str, value: &str) -> Result<RetentionOverride, UnreadableOverride> {
    serde_json::from_str(value).map_err(|e| {
        tracing::error!(tenant, error = %e, "unreadable retention override in the meta group");
        UnreadableOverride {
            tenant: tenant.to_string(),
            reason: e.to_string(),
        }
    })
}

/// `tenant`'s effective retention, as this node last applied the meta group.
pub fn effective_retention(
    meta: &MetaGroup,
    defaults: &RetentionPolicy,
    tenant: &str,
) -> Result<EffectiveRetention, UnreadableOverride> {
    let set = match meta.kv_get(&retention_key(tenant)) {
        Some(v) => decode(tenant, &v)?,
        None => RetentionOverride::default(),
    };
    Ok(set.resolve(defaults))
}

/// Every tenant with an override and its effective retention, in tenant order.
pub fn overridden_tenants(
    meta: &MetaGroup,
    defaults: &RetentionPolicy,
) -> Vec<(String, Result<EffectiveRetention, UnreadableOverride>)> {
    meta.kv_scan(RETENTION)
        .into_iter()
        .map(|(key, value)| {
            let tenant = key[RETENTION.len()..].to_string();
            let effective = decode(&tenant, &value).map(|o| o.resolve(defaults));
            (tenant, effective)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meta_key_is_retention_slash_tenant() {
        assert_eq!(retention_key("acme"), "retention/acme");
        assert!(retention_key("acme").starts_with(RETENTION));
    }
}
