//! Route matching (Alertmanager's `dispatch/route_test.go` cases in spirit), group labels and
//! group keys.

use std::collections::BTreeMap;

use crate::notify::config::AlertmanagerConfig;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn tree() -> AlertmanagerConfig {
    AlertmanagerConfig::parse(
        r#"
route:
  receiver: default
  group_by: [alertname]
  routes:
  - matchers: [owner="team-A"]
    receiver: team-A
    routes:
    - matchers: [env="testing"]
      receiver: team-A-testing
  - matchers: [owner="team-B"]
    receiver: team-B
    continue: true
  - matchers: ['owner=~"team-[BC]"']
    receiver: team-BC
    group_by: ['...']
  - matchers: [owner="team-B"]
    receiver: never-reached
receivers:
- name: default
- name: team-A
- name: team-A-testing
- name: team-B
- name: team-BC
- name: never-reached
"#,
        BTreeMap::new(),
    )
    .unwrap_or_else(|e| panic!("{e:?}"))
}

fn receivers(c: &AlertmanagerConfig, l: &[(&str, &str)]) -> Vec<String> {
    c.route
        .match_alert(&labels(l))
        .iter()
        .map(|r| r.receiver.clone())
        .collect()
}

#[test]
fn the_deepest_matching_route_wins_and_the_parent_is_the_fallback() {
    let c = tree();
    assert_eq!(receivers(&c, &[("owner", "team-A")]), ["team-A"]);
    assert_eq!(
        receivers(&c, &[("owner", "team-A"), ("env", "testing")]),
        ["team-A-testing"]
    );
    assert_eq!(receivers(&c, &[("owner", "nobody")]), ["default"]);
    assert_eq!(receivers(&c, &[]), ["default"]);
}

#[test]
fn continue_goes_on_to_the_siblings_and_a_match_without_it_stops() {
    let c = tree();
    assert_eq!(receivers(&c, &[("owner", "team-B")]), ["team-B", "team-BC"]);
    assert_eq!(receivers(&c, &[("owner", "team-C")]), ["team-BC"]);
}

#[test]
fn group_labels_and_keys_as_alertmanager_prints_them() {
    let c = tree();
    let alert = labels(&[
        ("alertname", "Down"),
        ("owner", "team-A"),
        ("instance", "a:9100"),
    ]);
    let route = c.route.match_alert(&alert)[0];
    let group = route.group_labels(&alert);
    assert_eq!(group, labels(&[("alertname", "Down")]));
    assert_eq!(
        route.group_key(&group),
        r#"{}/{owner="team-A"}:{alertname="Down"}"#
    );

    let alert = labels(&[("alertname", "Down"), ("owner", "team-C"), ("a1", "x\ty")]);
    let route = c.route.match_alert(&alert)[0];
    assert!(route.group_by_all);
    let group = route.group_labels(&alert);
    assert_eq!(group.len(), 3);
    // Sorted as `name="value"` strings (`a1=` before `alertname=`), values in Go's %q.
    assert_eq!(
        route.group_key(&group),
        r#"{}/{owner=~"team-[BC]"}:{a1="x\ty", alertname="Down", owner="team-C"}"#
    );
    // A label named in group_by that the alert lacks is not in the group.
    let root_group = c.route.group_labels(&labels(&[("owner", "x")]));
    assert!(root_group.is_empty());
    assert_eq!(c.route.group_key(&root_group), "{}:{}");
}

#[test]
fn ids_are_unique_where_keys_are_not() {
    let c = tree();
    let b1 = &c.route.routes[1];
    let b2 = &c.route.routes[3];
    assert_eq!(b1.key, b2.key);
    assert_eq!(b1.id, r#"{}/{owner="team-B"}/1"#);
    assert_eq!(b2.id, r#"{}/{owner="team-B"}/3"#);
    assert_eq!(c.route.walk().len(), 6);
}
