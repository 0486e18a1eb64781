//! Where rules and alert state live in the meta group's key-value space, and the records
//! stored there. The node's HTTP API and its evaluation driver both read and write through
//! these functions, so the layout is written down once.
//!
//! ```text
//!  rules/{tenant}/{group key}                          → RuleGroup (JSON)
//!  alerts/{tenant}/{group key}/{rule index:05}/{fp:016x} → Alert (JSON)
//!  rulestatus/{tenant}/{group key}                     → GroupStatus (JSON)
//! ```
//! `{group key}` is Prometheus' `file;name` with `%` and `/` percent-encoded, so a key's
//! components never contain the separator and a group's prefix never matches another group.
//! Tenant names are `[A-Za-z0-9_-]` (cairn_model::Tenant), which need no encoding.

use serde::{Deserialize, Serialize};

use crate::rule::RuleGroup;

pub const RULES: &str = "rules/";
pub const ALERTS: &str = "alerts/";
pub const RULE_STATUS: &str = "rulestatus/";

fn encode(component: &str) -> String {
    component.replace('%', "%25").replace('/', "%2F")
}

/// Prefix of every rule group of `tenant`.
pub fn tenant_rules_prefix(tenant: &str) -> String {
    format!("{RULES}{tenant}/")
}

pub fn group_key(tenant: &str, group: &RuleGroup) -> String {
    format!("{RULES}{tenant}/{}", encode(&group.key()))
}

/// Prefix of every alert of `tenant` (all groups).
pub fn tenant_alerts_prefix(tenant: &str) -> String {
    format!("{ALERTS}{tenant}/")
}

/// Prefix of every alert of one group.
pub fn group_alerts_prefix(tenant: &str, group: &RuleGroup) -> String {
    format!("{ALERTS}{tenant}/{}/", encode(&group.key()))
}

pub fn alert_key(tenant: &str, group: &RuleGroup, rule_index: usize, fingerprint: u64) -> String {
    format!(
        "{}{rule_index:05}/{fingerprint:016x}",
        group_alerts_prefix(tenant, group)
    )
}

/// The rule index of an alert key under `group_alerts_prefix` (None if malformed).
pub fn rule_index_of(alert_key: &str, group_prefix: &str) -> Option<usize> {
    let rest = alert_key.strip_prefix(group_prefix)?;
    rest.split('/').next()?.parse().ok()
}

pub fn tenant_status_prefix(tenant: &str) -> String {
    format!("{RULE_STATUS}{tenant}/")
}

pub fn status_key(tenant: &str, group: &RuleGroup) -> String {
    format!("{RULE_STATUS}{tenant}/{}", encode(&group.key()))
}

/// The last evaluation of a group as the evaluating node reports it (Prometheus'
/// `health`, `lastError`, `lastEvaluation`, `evaluationTime` in `/api/v1/rules`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupStatus {
    /// ms since the epoch; 0: never evaluated.
    pub last_evaluation_ms: i64,
    /// Seconds the last evaluation took.
    pub evaluation_seconds: f64,
    /// One per rule, in the group's order.
    pub rules: Vec<RuleStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleStatus {
    /// `ok`, `err` or `unknown`.
    pub health: String,
    /// Empty when healthy.
    pub last_error: String,
    pub last_evaluation_ms: i64,
    pub evaluation_seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(file: &str, name: &str) -> RuleGroup {
        RuleGroup {
            file: file.into(),
            name: name.into(),
            interval_ms: None,
            query_offset_ms: None,
            limit: 0,
            rules: vec![],
            line: 0,
        }
    }

    #[test]
    fn a_group_prefix_matches_only_its_own_alerts() {
        let a = group("rules/a.yml", "g");
        let b = group("rules/a.yml", "g/00001");
        let key_b = alert_key("t1", &b, 0, 7);
        assert!(!key_b.starts_with(&group_alerts_prefix("t1", &a)));
        let key_a = alert_key("t1", &a, 3, 0xabc);
        assert!(key_a.starts_with(&group_alerts_prefix("t1", &a)));
        assert_eq!(
            rule_index_of(&key_a, &group_alerts_prefix("t1", &a)),
            Some(3)
        );
        assert!(!key_a.starts_with(&tenant_alerts_prefix("t")));
    }
}
