//! The rules API's KV changes, applied to a real `MetaKv` and read back as the API reads.

use std::collections::BTreeMap;

use cairn_alerting::rule_file::parse_group;
use cairn_alerting::state_keys::{self, GroupStatus, RuleStatus};
use cairn_alerting::{Alert, AlertState, RuleGroup, fingerprint};
use cairn_consensus::{KvOp, MetaKv};

use super::*;

const T: &str = "acme";

fn group(file: &str, yaml: &str) -> RuleGroup {
    parse_group(file, yaml).unwrap_or_else(|e| panic!("{e}"))
}

fn alert(name: &str, instance: &str) -> Alert {
    Alert {
        labels: BTreeMap::from([
            ("alertname".to_string(), name.to_string()),
            ("instance".to_string(), instance.to_string()),
        ]),
        annotations: BTreeMap::new(),
        state: AlertState::Firing,
        active_at_ms: 1_000,
        fired_at_ms: Some(2_000),
        resolved_at_ms: None,
        keep_firing_since_ms: None,
        value: 1.0,
    }
}

/// A KV holding `groups`, each with `alerts` (rule index, alert) and a status record.
fn kv_with(groups: &[(&RuleGroup, Vec<(usize, Alert)>)]) -> MetaKv {
    let mut kv = MetaKv::default();
    for (g, alerts) in groups {
        let mut ops = vec![put(&state_keys::group_key(T, g), g)];
        for (i, a) in alerts {
            ops.push(put(
                &state_keys::alert_key(T, g, *i, fingerprint(&a.labels)),
                a,
            ));
        }
        let status = GroupStatus {
            last_evaluation_ms: 5_000,
            evaluation_seconds: 0.5,
            rules: vec![RuleStatus {
                health: "ok".into(),
                ..Default::default()
            }],
        };
        ops.push(put(&state_keys::status_key(T, g), &status));
        kv.apply(&ops);
    }
    kv
}

fn put<V: serde::Serialize>(key: &str, v: &V) -> KvOp {
    KvOp::Put {
        key: key.to_string(),
        value: serde_json::to_string(v).unwrap(),
    }
}

fn read(kv: &MetaKv) -> TenantRules {
    TenantRules::from_entries(
        T,
        &kv.scan_prefix(&state_keys::tenant_rules_prefix(T)),
        &kv.scan_prefix(&state_keys::tenant_alerts_prefix(T)),
        &kv.scan_prefix(&state_keys::tenant_status_prefix(T)),
    )
}

/// (rule index, alertname, instance) of a group's committed alerts.
fn alerts_of(t: &TenantRules, g: &RuleGroup) -> Vec<(usize, String, String)> {
    t.alerts_of(&g.key())
        .iter()
        .map(|s| {
            (
                s.rule_index,
                s.alert.labels["alertname"].clone(),
                s.alert.labels["instance"].clone(),
            )
        })
        .collect()
}

const OLD: &str = r#"
name: g
rules:
  - alert: A
    expr: up == 0
    labels: {severity: page}
  - alert: B
    expr: up == 2
  - record: r
    expr: sum(up)
  - alert: C
    expr: up == 3
"#;

/// Rules that keep name and labels keep their alerts at their new index; a rule whose
/// labels changed, or that is gone, loses them; the status keeps the group's times only.
#[test]
fn a_changed_group_carries_alerts_to_the_rules_new_index() {
    let old = group("api", OLD);
    let other = group("other.yml", "name: g\nrules:\n  - alert: A\n    expr: up\n");
    let mut kv = kv_with(&[
        (
            &old,
            vec![
                (0, alert("A", "x")),
                (1, alert("B", "y")),
                (3, alert("C", "z")),
            ],
        ),
        (&other, vec![(0, alert("A", "o"))]),
    ]);
    let new = group(
        "api",
        r#"
name: g
rules:
  - alert: B
    expr: up == 2
  - alert: A
    expr: up == 0 and on() vector(1)
    labels: {severity: page}
  - alert: C
    expr: up == 3
    labels: {severity: ticket}
"#,
    );
    let (ops, change) = replace_group(&read(&kv), &new);
    assert_eq!(change.change, "updated");
    assert_eq!(change.rules, 3);
    kv.apply(&ops);
    let t = read(&kv);
    assert_eq!(t.group(&new.key()), Some(&new));
    assert_eq!(
        alerts_of(&t, &new),
        [(0, "B".into(), "y".into()), (1, "A".into(), "x".into())],
        "A and B swapped places with their alerts; C's labels changed: its alert is gone"
    );
    assert_eq!(
        alerts_of(&t, &other),
        [(0, "A".into(), "o".into())],
        "another file's group of the same name is untouched"
    );
    let status = &t.status[&new.key()];
    assert_eq!(
        (status.last_evaluation_ms, status.rules.len()),
        (5_000, 0),
        "the group's last evaluation kept, the rules' dropped"
    );
}

#[test]
fn an_unchanged_group_needs_no_command_and_a_new_one_starts_clean() {
    let old = group("api", OLD);
    let kv = kv_with(&[(&old, vec![(0, alert("A", "x"))])]);
    let (ops, change) = replace_group(&read(&kv), &old);
    assert!(ops.is_empty(), "{ops:?}");
    assert_eq!(change.change, "unchanged");

    let fresh = group("api", "name: h\nrules:\n  - record: x\n    expr: up\n");
    // Leftovers under the new group's key (an interrupted earlier write).
    let mut kv = kv_with(&[(&fresh, vec![(0, alert("x", "left"))])]);
    kv.apply(&[KvOp::Delete {
        key: state_keys::group_key(T, &fresh),
    }]);
    let (ops, change) = replace_group(&read(&kv), &fresh);
    assert_eq!(change.change, "created");
    kv.apply(&ops);
    let t = read(&kv);
    assert_eq!(t.groups, std::slice::from_ref(&fresh));
    assert!(alerts_of(&t, &fresh).is_empty());
    assert!(t.status.is_empty());
}

/// A group's delete removes its alerts and status, not those of a group whose name starts
/// with the same text.
#[test]
fn delete_takes_the_group_its_alerts_and_status() {
    let g = group("api", OLD);
    let g2 = group("api", "name: g/00000\nrules:\n  - alert: A\n    expr: up\n");
    let mut kv = kv_with(&[
        (&g, vec![(0, alert("A", "x"))]),
        (&g2, vec![(0, alert("A", "y"))]),
    ]);
    let (ops, change) = delete_group(T, &g);
    assert_eq!(change.change, "deleted");
    kv.apply(&ops);
    let t = read(&kv);
    assert_eq!(t.groups, std::slice::from_ref(&g2));
    assert_eq!(alerts_of(&t, &g2), [(0, "A".into(), "y".into())]);
    assert!(!t.status.contains_key(&g.key()));
    assert!(t.status.contains_key(&g2.key()));
    assert!(
        kv.scan_prefix(&state_keys::group_alerts_prefix(T, &g))
            .is_empty(),
        "no alert of the deleted group is left"
    );
}

#[test]
fn replace_all_deletes_groups_not_given_and_carries_the_rest() {
    let a = group("a.yml", OLD);
    let b = group("b.yml", "name: b\nrules:\n  - alert: A\n    expr: up\n");
    let mut kv = kv_with(&[
        (&a, vec![(1, alert("B", "y"))]),
        (&b, vec![(0, alert("A", "o"))]),
    ]);
    let a2 = group(
        "a.yml",
        "name: g\nrules:\n  - alert: B\n    expr: up == 2\n",
    );
    let c = group("c.yml", "name: c\nrules:\n  - record: x\n    expr: up\n");
    let (ops, changes) = replace_all(&read(&kv), &[a2.clone(), c.clone()]);
    let summary: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| (c.name.as_str(), c.change))
        .collect();
    assert_eq!(
        summary,
        [("b", "deleted"), ("g", "updated"), ("c", "created")]
    );
    kv.apply(&ops);
    let t = read(&kv);
    assert_eq!(t.groups, [a2.clone(), c]);
    assert_eq!(alerts_of(&t, &a2), [(0, "B".into(), "y".into())]);
    assert!(
        kv.scan_prefix(&state_keys::group_alerts_prefix(T, &b))
            .is_empty()
    );
    let (ops, changes) = replace_all(&read(&kv), &[]);
    kv.apply(&ops);
    assert_eq!(changes.len(), 2);
    assert!(
        kv.is_empty(),
        "no group, alert or status left: {:?}",
        kv.scan_prefix("")
    );
}
