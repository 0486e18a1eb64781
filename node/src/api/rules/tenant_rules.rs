//! `TenantRules`: one tenant's rule groups, committed alerts and evaluation status, read from
//! the meta group's key-value space (layout: `cairn_alerting::state_keys`). Every rules and
//! alerts endpoint reads through it, so each node answers from what it has applied.
//!
//! ```text
//!  kv_scan rules/{t}/      ─► groups (sorted by file, then name)
//!  kv_scan alerts/{t}/     ─► alerts by group key: (kv key, rule index, Alert)
//!  kv_scan rulestatus/{t}/ ─► status by group key
//! ```
//! A record that does not parse is left out and logged: one bad record must not hide the
//! tenant's other rules.

use std::collections::BTreeMap;

use cairn_alerting::state_keys::{self, GroupStatus};
use cairn_alerting::{Alert, RuleGroup};
use cairn_consensus::MetaGroup;

/// One committed alert of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlert {
    /// Its key in the KV.
    pub key: String,
    pub rule_index: usize,
    pub alert: Alert,
}

/// One tenant's rules and their state, as applied on this node.
#[derive(Debug, Clone, Default)]
pub struct TenantRules {
    pub tenant: String,
    /// Sorted by file, then name.
    pub groups: Vec<RuleGroup>,
    /// By group key (`file;name`), in key order (rule index, then fingerprint).
    pub alerts: BTreeMap<String, Vec<StoredAlert>>,
    /// By group key.
    pub status: BTreeMap<String, GroupStatus>,
}

impl TenantRules {
    /// Reads `tenant`'s records from the local meta KV.
    pub fn read(meta: &MetaGroup, tenant: &str) -> TenantRules {
        TenantRules::from_entries(
            tenant,
            &meta.kv_scan(&state_keys::tenant_rules_prefix(tenant)),
            &meta.kv_scan(&state_keys::tenant_alerts_prefix(tenant)),
            &meta.kv_scan(&state_keys::tenant_status_prefix(tenant)),
        )
    }

    /// Builds the view from scans of the tenant's three prefixes.
    pub fn from_entries(
        tenant: &str,
        rules: &[(String, String)],
        alerts: &[(String, String)],
        status: &[(String, String)],
    ) -> TenantRules {
        let mut groups: Vec<RuleGroup> = rules
            .iter()
            .filter_map(|(k, v)| {
                let g = parse::<RuleGroup>(k, v)?;
                // A group under another group's key was written wrongly: skip it.
                if state_keys::group_key(tenant, &g) != *k {
                    tracing::warn!(key = %k, group = %g.key(), "a rule group under another key");
                    return None;
                }
                Some(g)
            })
            .collect();
        groups.sort_by(|a, b| (&a.file, &a.name).cmp(&(&b.file, &b.name)));
        let statuses: BTreeMap<&str, &str> = status
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut by_group = BTreeMap::new();
        let mut by_status = BTreeMap::new();
        for g in &groups {
            let prefix = state_keys::group_alerts_prefix(tenant, g);
            let mine: Vec<StoredAlert> = alerts
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .filter_map(|(k, v)| {
                    let rule_index = state_keys::rule_index_of(k, &prefix)?;
                    let alert = parse::<Alert>(k, v)?;
                    Some(StoredAlert {
                        key: k.clone(),
                        rule_index,
                        alert,
                    })
                })
                .collect();
            by_group.insert(g.key(), mine);
            let status_key = state_keys::status_key(tenant, g);
            if let Some(s) = statuses
                .get(status_key.as_str())
                .and_then(|v| parse::<GroupStatus>(&status_key, v))
            {
                by_status.insert(g.key(), s);
            }
        }
        TenantRules {
            tenant: tenant.to_string(),
            groups,
            alerts: by_group,
            status: by_status,
        }
    }

    /// The group of key `file;name`.
    pub fn group(&self, key: &str) -> Option<&RuleGroup> {
        self.groups.iter().find(|g| g.key() == key)
    }

    /// The committed alerts of the group of key `key`.
    pub fn alerts_of(&self, key: &str) -> &[StoredAlert] {
        self.alerts.get(key).map(Vec::as_slice).unwrap_or_default()
    }
}

fn parse<T: serde::de::DeserializeOwned>(key: &str, value: &str) -> Option<T> {
    match serde_json::from_str(value) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(key, error = %e, "skipping a meta record that does not parse");
            None
        }
    }
}
