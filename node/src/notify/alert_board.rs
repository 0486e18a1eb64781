//! `AlertBoard`: the alerts the meta leader's rule groups produced at their last evaluation,
//! as the notification pipeline sees them (with annotations, which the meta group does not
//! store). The rule manager publishes a group's alerts after each evaluation and withdraws
//! them when the group's task stops; the notification driver and the leader's alert APIs
//! read them. It is empty on a node that does not evaluate rules.

use std::collections::BTreeMap;
use std::sync::Mutex;

use cairn_alerting::notify::NotifyAlert;

/// (tenant, rule group key) → the group's firing and recently resolved alerts.
#[derive(Default)]
pub struct AlertBoard {
    groups: Mutex<BTreeMap<(String, String), Vec<NotifyAlert>>>,
}

impl AlertBoard {
    pub fn publish(&self, tenant: &str, group_key: &str, alerts: Vec<NotifyAlert>) {
        self.lock()
            .insert((tenant.to_string(), group_key.to_string()), alerts);
    }

    pub fn withdraw(&self, tenant: &str, group_key: &str) {
        self.lock()
            .remove(&(tenant.to_string(), group_key.to_string()));
    }

    /// Every tenant with at least one published group.
    pub fn tenants(&self) -> Vec<String> {
        let mut t: Vec<String> = self.lock().keys().map(|(t, _)| t.clone()).collect();
        t.dedup();
        t
    }

    /// All of a tenant's published alerts.
    pub fn tenant_alerts(&self, tenant: &str) -> Vec<NotifyAlert> {
        self.lock()
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .flat_map(|(_, alerts)| alerts.iter().cloned())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Vec<NotifyAlert>>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }
}
