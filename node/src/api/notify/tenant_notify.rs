//! `TenantNotify`: one tenant's notification records as this node has applied them — its
//! stored configuration, silences and external alerts. A record that does not parse is left
//! out and logged (one bad record must not hide the others), except the configuration, whose
//! loss would silently change routing: that is an error.

use cairn_alerting::notify::AlertmanagerConfig;
use cairn_alerting::notify::notify_keys::{self, StoredAlert, StoredConfig, StoredSilence};
use cairn_consensus::MetaGroup;

use crate::api::ApiError;

pub struct TenantNotify<'a> {
    meta: &'a MetaGroup,
    tenant: &'a str,
}

impl<'a> TenantNotify<'a> {
    pub fn new(meta: &'a MetaGroup, tenant: &'a str) -> TenantNotify<'a> {
        TenantNotify { meta, tenant }
    }

    /// The stored configuration, if the tenant has one.
    pub fn stored_config(&self) -> Result<Option<StoredConfig>, ApiError> {
        let key = notify_keys::config_key(self.tenant);
        let Some(text) = self.meta.kv_get(&key) else {
            return Ok(None);
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            tracing::error!(key, error = %e, "a stored alerting configuration does not parse");
            ApiError::internal(format!(
                "the stored configuration of tenant {:?} is unreadable: {e}",
                self.tenant
            ))
        })
    }

    /// The stored configuration, parsed. A stored one that no longer validates is a 500 (it
    /// was validated when applied).
    pub fn config(&self) -> Result<Option<(StoredConfig, AlertmanagerConfig)>, ApiError> {
        let Some(stored) = self.stored_config()? else {
            return Ok(None);
        };
        let parsed = AlertmanagerConfig::parse(
            &stored.alertmanager_config,
            stored.template_files.clone(),
        )
        .map_err(|errors| {
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            tracing::error!(tenant = self.tenant, errors = %text.join("; "), "a stored alerting configuration no longer validates");
            ApiError::internal(format!(
                "the stored configuration of tenant {:?} no longer validates: {}",
                self.tenant,
                text.join("; ")
            ))
        })?;
        Ok(Some((stored, parsed)))
    }

    pub fn silences(&self) -> Vec<StoredSilence> {
        self.scan(&notify_keys::tenant_silences_prefix(self.tenant))
            .into_iter()
            .map(|(_, s)| s)
            .collect()
    }

    pub fn silence(&self, id: &str) -> Option<StoredSilence> {
        let key = notify_keys::silence_key(self.tenant, id);
        parse(&key, &self.meta.kv_get(&key)?)
    }

    /// One external alert by its key (`notify_keys::external_alert_key`).
    pub fn external_alert(&self, key: &str) -> Option<StoredAlert> {
        parse(key, &self.meta.kv_get(key)?)
    }

    /// External alerts with their keys, in key (fingerprint) order.
    pub fn external_alerts(&self) -> Vec<(String, StoredAlert)> {
        self.scan(&notify_keys::tenant_external_alerts_prefix(self.tenant))
    }

    fn scan<T: serde::de::DeserializeOwned>(&self, prefix: &str) -> Vec<(String, T)> {
        self.meta
            .kv_scan(prefix)
            .into_iter()
            .filter_map(|(k, v)| {
                let t = parse(&k, &v)?;
                Some((k, t))
            })
            .collect()
    }
}

fn parse<T: serde::de::DeserializeOwned>(key: &str, value: &str) -> Option<T> {
    serde_json::from_str(value)
        .inspect_err(
            |e| tracing::warn!(key, error = %e, "skipping a meta record that does not parse"),
        )
        .ok()
}
