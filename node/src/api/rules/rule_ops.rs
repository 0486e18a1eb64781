//! The meta KV changes behind the rules API's writes, as pure functions of the tenant's
//! current records ([`TenantRules`]) and the new groups: replacing one group, deleting one,
//! and replacing all of a tenant's groups. Each result is proposed as one `Kv` command, so
//! a change and the alert state it keeps or drops commit together.
//!
//! ```text
//!  replace: same group ─► nothing (as Prometheus keeps an unchanged group as it runs)
//!           changed    ─► put the group; alerts of rules that keep name and labels move to
//!                         the rule's new index (Prometheus' Group.CopyState), others deleted;
//!                         status keeps the group's last evaluation, drops the rules'
//!           new        ─► put the group (and clear anything left under its key)
//!  delete:  group, its alerts, its status
//! ```

use std::collections::{BTreeMap, VecDeque};

use cairn_alerting::state_keys::{self, GroupStatus};
use cairn_alerting::{Rule, RuleGroup};
use cairn_consensus::KvOp;
use serde::Serialize;

use super::tenant_rules::TenantRules;

/// What a write did to one group (the write endpoints' answer, what `cairn rules apply`
/// prints).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupChange {
    pub file: String,
    pub name: String,
    pub rules: usize,
    /// `created`, `updated`, `unchanged` or `deleted`.
    pub change: &'static str,
}

impl GroupChange {
    fn of(g: &RuleGroup, change: &'static str) -> GroupChange {
        GroupChange {
            file: g.file.clone(),
            name: g.name.clone(),
            rules: g.rules.len(),
            change,
        }
    }
}

/// The ops that make `new` the tenant's group of its key (`file;name`).
pub fn replace_group(current: &TenantRules, new: &RuleGroup) -> (Vec<KvOp>, GroupChange) {
    let tenant = current.tenant.as_str();
    let key = new.key();
    let Some(old) = current.group(&key) else {
        let ops = vec![
            // Nothing should be there; a leftover of an interrupted write must not become
            // the new group's state.
            KvOp::DeletePrefix {
                prefix: state_keys::group_alerts_prefix(tenant, new),
            },
            KvOp::Delete {
                key: state_keys::status_key(tenant, new),
            },
            put_group(tenant, new),
        ];
        return (ops, GroupChange::of(new, "created"));
    };
    if old == new {
        return (Vec::new(), GroupChange::of(new, "unchanged"));
    }
    let mut ops = vec![put_group(tenant, new)];
    let moves = carried_rules(old, new);
    for a in current.alerts_of(&key) {
        let target = moves.get(&a.rule_index).and_then(|&to| {
            let fp = a.key.rsplit('/').next()?;
            let fp = u64::from_str_radix(fp, 16).ok()?;
            Some(state_keys::alert_key(tenant, new, to, fp))
        });
        match target {
            Some(k) if k == a.key => {}
            // Moved as it is when the command applies: the copy read here may be older
            // than what the evaluating leader has committed since.
            Some(k) => ops.push(KvOp::Move {
                from: a.key.clone(),
                to: k,
            }),
            None => ops.push(KvOp::Delete { key: a.key.clone() }),
        }
    }
    if let Some(status) = current.status.get(&key) {
        // As Prometheus' CopyState: the group's last evaluation carries over, the rules
        // (new objects there) start unknown.
        let kept = GroupStatus {
            last_evaluation_ms: status.last_evaluation_ms,
            evaluation_seconds: status.evaluation_seconds,
            rules: Vec::new(),
        };
        if let Ok(value) = serde_json::to_string(&kept) {
            ops.push(KvOp::Put {
                key: state_keys::status_key(tenant, new),
                value,
            });
        }
    }
    (ops, GroupChange::of(new, "updated"))
}

/// The ops that delete `group` with its alerts and status.
pub fn delete_group(tenant: &str, group: &RuleGroup) -> (Vec<KvOp>, GroupChange) {
    let ops = vec![
        KvOp::Delete {
            key: state_keys::group_key(tenant, group),
        },
        KvOp::DeletePrefix {
            prefix: state_keys::group_alerts_prefix(tenant, group),
        },
        KvOp::Delete {
            key: state_keys::status_key(tenant, group),
        },
    ];
    (ops, GroupChange::of(group, "deleted"))
}

/// The ops that make `new` all of the tenant's groups: groups not in `new` are deleted,
/// the others replaced as [`replace_group`] does (alerts carried over by group key).
pub fn replace_all(current: &TenantRules, new: &[RuleGroup]) -> (Vec<KvOp>, Vec<GroupChange>) {
    let mut ops = Vec::new();
    let mut changes = Vec::new();
    for old in &current.groups {
        if !new.iter().any(|g| g.key() == old.key()) {
            let (o, c) = delete_group(&current.tenant, old);
            ops.extend(o);
            changes.push(c);
        }
    }
    for g in new {
        let (o, c) = replace_group(current, g);
        ops.extend(o);
        changes.push(c);
    }
    (ops, changes)
}

fn put_group(tenant: &str, group: &RuleGroup) -> KvOp {
    KvOp::Put {
        key: state_keys::group_key(tenant, group),
        // A RuleGroup is strings, numbers and maps of strings: encoding cannot fail.
        value: serde_json::to_string(group).unwrap_or_default(),
    }
}

/// Old rule index → new rule index, for the alerting rules whose alerts carry over: as
/// Prometheus' `CopyState`, the n-th new rule of a name and label set takes the state of
/// the n-th old rule of the same name and labels (of either kind; only alerting rules have
/// alerts to take).
fn carried_rules(old: &RuleGroup, new: &RuleGroup) -> BTreeMap<usize, usize> {
    let mut by_identity: BTreeMap<(&str, &BTreeMap<String, String>), VecDeque<usize>> =
        BTreeMap::new();
    for (i, r) in old.rules.iter().enumerate() {
        by_identity
            .entry((r.name(), r.labels()))
            .or_default()
            .push_back(i);
    }
    let mut moves = BTreeMap::new();
    for (i, r) in new.rules.iter().enumerate() {
        let Some(from) = by_identity
            .get_mut(&(r.name(), r.labels()))
            .and_then(VecDeque::pop_front)
        else {
            continue;
        };
        if matches!(r, Rule::Alerting(_)) && matches!(old.rules[from], Rule::Alerting(_)) {
            moves.insert(from, i);
        }
    }
    moves
}

#[cfg(test)]
mod rule_ops_test;
