//! The rule driver's records in the meta group's key-value space, read and written through
//! `cairn_alerting::state_keys` (the layout lives there, once): rule groups in, alert state
//! and group status out. Pure functions over key/value pairs, so the driver's decisions are
//! tested without a cluster.
//!
//! ```text
//!  kv_scan("rules/")               ─► rule_groups   ─► {(tenant, file;name) → RuleGroup}
//!  kv_scan(group_alerts_prefix)    ─► restore_alerts ─► split_restorable ─► [(rule index, Alert)]
//!                                                       (+ stale keys of an older group version)
//!  report's changes                ─► alert_ops     ─► [Put alert JSON | Delete]
//! ```
//! A record that does not parse is skipped and named in the result (logged by the driver):
//! one bad record must not stop every other group's evaluation.

use std::collections::BTreeMap;

use cairn_alerting::state_keys::{self, GroupStatus};
use cairn_alerting::{Alert, Rule, RuleGroup};
use cairn_consensus::KvOp;
use cairn_model::Tenant;

/// A group's identity across the cluster: (tenant, Prometheus' group key `file;name`).
pub type GroupId = (String, String);

/// A record of the key-value space that could not be read, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRecord {
    pub key: String,
    pub reason: String,
}

/// Every tenant's rule groups from a scan of `state_keys::RULES`.
pub fn rule_groups(entries: &[(String, String)]) -> (BTreeMap<GroupId, RuleGroup>, Vec<BadRecord>) {
    let mut groups = BTreeMap::new();
    let mut bad = Vec::new();
    for (key, value) in entries {
        let parsed = (|| {
            let rest = key
                .strip_prefix(state_keys::RULES)
                .ok_or_else(|| "not a rules key".to_string())?;
            let tenant = rest
                .split_once('/')
                .map(|(t, _)| t)
                .ok_or_else(|| "no tenant in the key".to_string())?;
            Tenant::new(tenant).map_err(|e| e.to_string())?;
            let group: RuleGroup = serde_json::from_str(value).map_err(|e| e.to_string())?;
            // The key is derived from the group; a mismatch means a record written wrongly.
            if state_keys::group_key(tenant, &group) != *key {
                return Err(format!(
                    "holds group {:?}, whose key is {}",
                    group.key(),
                    state_keys::group_key(tenant, &group)
                ));
            }
            Ok(((tenant.to_string(), group.key()), group))
        })();
        match parsed {
            Ok((id, group)) => {
                groups.insert(id, group);
            }
            Err(reason) => bad.push(BadRecord {
                key: key.clone(),
                reason,
            }),
        }
    }
    (groups, bad)
}

/// One committed alert of a group, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlert {
    pub key: String,
    pub rule_index: usize,
    pub alert: Alert,
}

/// The committed alerts of one group (a scan of `state_keys::group_alerts_prefix`), with
/// the index of the rule each belongs to.
pub fn restore_alerts(
    group_prefix: &str,
    entries: &[(String, String)],
) -> (Vec<StoredAlert>, Vec<BadRecord>) {
    let mut alerts = Vec::new();
    let mut bad = Vec::new();
    for (key, value) in entries {
        let Some(rule_index) = state_keys::rule_index_of(key, group_prefix) else {
            bad.push(BadRecord {
                key: key.clone(),
                reason: "no rule index in the key".into(),
            });
            continue;
        };
        match serde_json::from_str::<Alert>(value) {
            Ok(alert) => alerts.push(StoredAlert {
                key: key.clone(),
                rule_index,
                alert,
            }),
            Err(e) => bad.push(BadRecord {
                key: key.clone(),
                reason: e.to_string(),
            }),
        }
    }
    (alerts, bad)
}

/// Splits restored alerts into those the group can take back, by rule index for
/// `GroupState::restore` (the rule at their index is an alerting rule of the same name), and
/// the keys of the others: state left by an earlier version of the group (rules reordered or
/// removed), to delete rather than resume.
pub fn split_restorable(
    group: &RuleGroup,
    alerts: Vec<StoredAlert>,
) -> (Vec<(usize, Alert)>, Vec<String>) {
    let mut keep = Vec::new();
    let mut stale = Vec::new();
    for a in alerts {
        let fits = match group.rules.get(a.rule_index) {
            Some(Rule::Alerting(r)) => a.alert.labels.get("alertname") == Some(&r.alert),
            _ => false,
        };
        if fits {
            keep.push((a.rule_index, a.alert));
        } else {
            stale.push(a.key);
        }
    }
    (keep, stale)
}

/// One alert whose durable state changed: (rule index, fingerprint, the alert now, or
/// `None` once it is gone).
pub type AlertUpdate<'a> = (usize, u64, Option<&'a Alert>);

/// The commands that make the key-value space hold the changed alerts: a Put of the alert's
/// JSON at its key, or a Delete.
pub fn alert_ops<'a>(
    tenant: &str,
    group: &RuleGroup,
    changes: impl IntoIterator<Item = AlertUpdate<'a>>,
) -> Result<Vec<KvOp>, serde_json::Error> {
    changes
        .into_iter()
        .map(|(index, fp, alert)| {
            let key = state_keys::alert_key(tenant, group, index, fp);
            Ok(match alert {
                Some(a) => KvOp::Put {
                    key,
                    value: serde_json::to_string(a)?,
                },
                None => KvOp::Delete { key },
            })
        })
        .collect()
}

/// The Put of a group's status.
pub fn status_op(
    tenant: &str,
    group: &RuleGroup,
    status: &GroupStatus,
) -> Result<KvOp, serde_json::Error> {
    Ok(KvOp::Put {
        key: state_keys::status_key(tenant, group),
        value: serde_json::to_string(status)?,
    })
}

/// The bytes of keys and values a command proposes (`cairn_alert_state_commit_bytes_total`).
pub fn ops_bytes(ops: &[KvOp]) -> u64 {
    ops.iter()
        .map(|op| match op {
            KvOp::Put { key, value } => key.len() + value.len(),
            KvOp::Delete { key } => key.len(),
            KvOp::DeletePrefix { prefix } => prefix.len(),
            KvOp::Move { from, to } => from.len() + to.len(),
            KvOp::Expect { key, value } => key.len() + value.as_ref().map_or(0, String::len),
        } as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use cairn_alerting::AlertState;

    use super::*;

    fn group(file: &str, name: &str) -> RuleGroup {
        RuleGroup {
            file: file.into(),
            name: name.into(),
            interval_ms: Some(1_000),
            query_offset_ms: None,
            limit: 0,
            rules: vec![],
            line: 1,
        }
    }

    fn alert(name: &str, state: AlertState) -> Alert {
        Alert {
            labels: BTreeMap::from([("alertname".to_string(), name.to_string())]),
            annotations: BTreeMap::new(),
            state,
            active_at_ms: 1_000,
            fired_at_ms: None,
            resolved_at_ms: None,
            keep_firing_since_ms: None,
            value: 1.0,
        }
    }

    #[test]
    fn rule_groups_are_read_by_tenant_and_bad_records_are_named_not_fatal() {
        let g = group("a/b.yml", "g1");
        let entries = vec![
            (
                state_keys::group_key("t1", &g),
                serde_json::to_string(&g).unwrap(),
            ),
            (
                state_keys::group_key("t2", &g),
                serde_json::to_string(&g).unwrap(),
            ),
            ("rules/t3/x".to_string(), "{not json".to_string()),
            // A group stored under another group's key.
            (
                state_keys::group_key("t1", &group("a/b.yml", "other")),
                serde_json::to_string(&g).unwrap(),
            ),
            (
                "rules/bad tenant/x".to_string(),
                serde_json::to_string(&g).unwrap(),
            ),
        ];
        let (groups, bad) = rule_groups(&entries);
        let ids: Vec<&GroupId> = groups.keys().collect();
        assert_eq!(
            ids,
            [
                &("t1".to_string(), "a/b.yml;g1".to_string()),
                &("t2".to_string(), "a/b.yml;g1".to_string())
            ]
        );
        assert_eq!(groups[&("t1".to_string(), "a/b.yml;g1".to_string())], g);
        let bad_keys: Vec<&str> = bad.iter().map(|b| b.key.as_str()).collect();
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert!(bad_keys.contains(&"rules/t3/x"));
        assert!(bad_keys.contains(&"rules/bad tenant/x"));
    }

    #[test]
    fn alerts_round_trip_through_their_ops_and_restore_by_rule_index() {
        let g = group("r.yml", "g");
        let firing = alert("A", AlertState::Firing);
        let pending = alert("B", AlertState::Pending);
        let ops = alert_ops(
            "t1",
            &g,
            [(0, 7, Some(&firing)), (2, 9, Some(&pending)), (2, 11, None)],
        )
        .unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(
            ops[2],
            KvOp::Delete {
                key: state_keys::alert_key("t1", &g, 2, 11)
            }
        );
        // What the KV holds after the Puts, scanned back.
        let entries: Vec<(String, String)> = ops
            .iter()
            .filter_map(|op| match op {
                KvOp::Put { key, value } => Some((key.clone(), value.clone())),
                _ => None,
            })
            .chain([(
                format!("{}junk", state_keys::group_alerts_prefix("t1", &g)),
                "{}".to_string(),
            )])
            .collect();
        let (alerts, bad) = restore_alerts(&state_keys::group_alerts_prefix("t1", &g), &entries);
        let got: Vec<(usize, &Alert)> = alerts.iter().map(|a| (a.rule_index, &a.alert)).collect();
        assert_eq!(got, vec![(0, &firing), (2, &pending)]);
        assert_eq!(bad.len(), 1);
        assert!(ops_bytes(&ops) > 0);
        // Rule 0 is an alerting rule named A; rule 2 does not exist (the group changed).
        let mut g2 = g.clone();
        g2.rules = vec![Rule::Alerting(cairn_alerting::AlertingRule {
            alert: "A".into(),
            expr: "up == 0".into(),
            kind: None,
            for_ms: 0,
            keep_firing_for_ms: 0,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            line: 2,
        })];
        let (keep, stale) = split_restorable(&g2, alerts);
        assert_eq!(keep, vec![(0, firing)]);
        assert_eq!(stale, vec![state_keys::alert_key("t1", &g, 2, 9)]);
        assert_eq!(
            ops_bytes(&[KvOp::Put {
                key: "ab".into(),
                value: "cde".into()
            }]),
            5
        );
    }
}
