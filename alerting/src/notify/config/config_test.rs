//! `AlertmanagerConfig::parse`: defaults, inheritance, fallbacks to `global`, and errors that
//! name the key and the place, all of them at once.

use std::collections::BTreeMap;

use super::*;
use crate::notify::receiver::Integration;

fn parse(yaml: &str) -> AlertmanagerConfig {
    AlertmanagerConfig::parse(yaml, BTreeMap::new()).unwrap_or_else(|e| {
        panic!(
            "{}",
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

fn errors(yaml: &str) -> Vec<ConfigError> {
    match AlertmanagerConfig::parse(yaml, BTreeMap::new()) {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(e) => e,
    }
}

#[test]
fn defaults_are_alertmanagers_except_repeat_interval() {
    let c = parse("route:\n  receiver: r\nreceivers:\n- name: r\n");
    assert_eq!(c.global.resolve_timeout_ms, 300_000);
    assert_eq!(c.global.smtp_hello, "localhost");
    assert!(c.global.smtp_require_tls);
    assert_eq!(c.global.telegram_api_url, "https://api.telegram.org");
    assert_eq!(c.route.group_wait_ms, 30_000);
    assert_eq!(c.route.group_interval_ms, 300_000);
    assert_eq!(c.route.repeat_interval_ms, 900_000);
    assert_eq!(c.route.key, "{}");
    assert_eq!(c.route.id, "{}");
}

#[test]
fn children_inherit_and_override() {
    let c = parse(
        r#"
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  repeat_interval: 1h
  routes:
  - matchers: ['severity="critical"']
    receiver: pager
    group_interval: 1m
    routes:
    - match: {team: db}
      group_by: ['...']
  - match_re: {service: "api|web"}
    continue: true
receivers:
- name: default
- name: pager
"#,
    );
    let crit = &c.route.routes[0];
    assert_eq!(crit.receiver, "pager");
    assert_eq!(crit.group_by, vec!["alertname"]);
    assert_eq!(
        (
            crit.group_wait_ms,
            crit.group_interval_ms,
            crit.repeat_interval_ms
        ),
        (10_000, 60_000, 3_600_000)
    );
    assert_eq!(crit.key, r#"{}/{severity="critical"}"#);
    assert_eq!(crit.id, r#"{}/{severity="critical"}/0"#);
    let db = &crit.routes[0];
    assert_eq!(db.receiver, "pager");
    assert!(db.group_by_all);
    assert_eq!(db.group_interval_ms, 60_000);
    assert_eq!(db.key, r#"{}/{severity="critical"}/{team="db"}"#);
    assert_eq!(db.id, r#"{}/{severity="critical"}/0/{team="db"}/0"#);
    let api = &c.route.routes[1];
    assert_eq!(api.receiver, "default");
    assert!(api.continue_matching);
    // match_re is anchored, and printed anchored, as Alertmanager does.
    assert_eq!(api.key, r#"{}/{service=~"^(?:api|web)$"}"#);
    assert_eq!(api.id, r#"{}/{service=~"^(?:api|web)$"}/1"#);
}

#[test]
fn integrations_fall_back_to_global() {
    let c = parse(
        r#"
global:
  smtp_smarthost: mail.example.org:587
  smtp_from: am@example.org
  smtp_auth_username: am
  smtp_auth_password: pw
  smtp_require_tls: false
  slack_api_url: https://hooks.slack.com/services/X
  telegram_api_url: http://127.0.0.1:8081
  http_config:
    follow_redirects: false
route:
  receiver: r
receivers:
- name: r
  email_configs:
  - to: ops@example.org
    headers: {subject: Hi}
  slack_configs:
  - channel: '#ops'
  telegram_configs:
  - bot_token: t
    chat_id: -1001
  webhook_configs:
  - url: http://127.0.0.1:9000/hook
    signing_secret: k
"#,
    );
    let r = c.receiver("r").unwrap();
    let kinds: Vec<&str> = r.integrations.iter().map(|i| i.kind()).collect();
    assert_eq!(kinds, ["webhook", "email", "slack", "telegram"]);
    let Integration::Webhook(w) = &r.integrations[0] else {
        panic!()
    };
    assert!(!w.http_config.follow_redirects, "global http_config");
    assert_eq!(w.signing_secret, Some(Secret("k".into())));
    let Integration::Email(e) = &r.integrations[1] else {
        panic!()
    };
    assert_eq!(e.smarthost, "mail.example.org:587");
    assert_eq!(e.from, "am@example.org");
    assert_eq!(e.auth_username.as_deref(), Some("am"));
    assert_eq!(e.auth_password, Some(Secret("pw".into())));
    assert!(!e.require_tls);
    assert_eq!(e.hello, "localhost");
    assert_eq!(e.headers.get("Subject").map(String::as_str), Some("Hi"));
    assert_eq!(
        e.headers.get("To").map(String::as_str),
        Some("ops@example.org")
    );
    let Integration::Slack(s) = &r.integrations[2] else {
        panic!()
    };
    assert_eq!(
        s.api_url,
        Some(Secret("https://hooks.slack.com/services/X".into()))
    );
    assert_eq!(s.channel, "#ops");
    let Integration::Telegram(t) = &r.integrations[3] else {
        panic!()
    };
    assert_eq!(t.api_url, "http://127.0.0.1:8081");
    assert_eq!(t.chat_id, -1001);
    assert_eq!(t.parse_mode, "HTML");
}

#[test]
fn every_error_is_reported_with_its_key_and_place() {
    let errs = errors(
        "route:\n  receiver: nobody\n  group_wait: 1x\n  routes:\n  - receiver: r\n    bogus: 1\nreceivers:\n- name: r\n  pagerduty_configs:\n  - routing_key: k\n  slack_configs:\n  - channel: x\n",
    );
    let found: Vec<(String, usize, usize)> = errs
        .iter()
        .map(|e| (e.path.clone(), e.line, e.column))
        .collect();
    assert!(
        found.contains(&("route.group_wait".into(), 3, 15)),
        "{errs:?}"
    );
    assert!(
        found.contains(&("route.routes[0].bogus".into(), 6, 5)),
        "{errs:?}"
    );
    assert!(
        found.contains(&("receivers[0].pagerduty_configs".into(), 9, 3)),
        "{errs:?}"
    );
    assert!(
        found.contains(&("receivers[0].slack_configs[0].api_url".into(), 12, 5)),
        "{errs:?}"
    );
    assert!(
        found.contains(&("route.receiver".into(), 2, 13)),
        "{errs:?}"
    );
    let unsupported = errs
        .iter()
        .find(|e| e.path.ends_with("pagerduty_configs"))
        .unwrap();
    assert_eq!(
        unsupported.message,
        "pagerduty_configs is not supported by Cairn"
    );
    let unknown = errs.iter().find(|e| e.path.ends_with("bogus")).unwrap();
    assert!(
        unknown.message.contains("unknown key \"bogus\""),
        "{}",
        unknown.message
    );
}

#[test]
fn time_intervals_and_their_references() {
    let c = parse(
        r#"
route:
  receiver: r
  routes:
  - receiver: r
    mute_time_intervals: [offhours]
    active_time_intervals: [old]
time_intervals:
- name: offhours
  time_intervals:
  - times: [{start_time: '17:00', end_time: '24:00'}]
    weekdays: ['monday:friday']
    location: Europe/Berlin
mute_time_intervals:
- name: old
  time_intervals:
  - days_of_month: ['-1']
receivers:
- name: r
"#,
    );
    let off = &c.time_intervals["offhours"][0];
    assert_eq!(off.times, vec![(1020, 1440)]);
    assert_eq!(off.weekdays, vec![(1, 5)]);
    assert_eq!(off.location.as_deref(), Some("Europe/Berlin"));
    assert_eq!(c.time_intervals["old"][0].days_of_month, vec![(-1, -1)]);
    let errs = errors(
        "route:\n  receiver: r\n  routes:\n  - mute_time_intervals: [nope]\ntime_intervals:\n- name: t\n  time_intervals:\n  - location: Local\nreceivers:\n- name: r\n",
    );
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert!(
        paths.contains(&"route.routes[0].mute_time_intervals[0]"),
        "{errs:?}"
    );
    assert!(
        paths.contains(&"time_intervals[0].time_intervals[0].location"),
        "{errs:?}"
    );
}

#[test]
fn inhibit_rules_and_external_alerts() {
    let c = parse(
        r#"
route: {receiver: r}
receivers: [{name: r}]
inhibit_rules:
- source_matchers: [severity="critical"]
  target_match: {severity: warning}
  target_match_re: {alertname: 'Disk.*'}
  equal: [cluster]
external_alerts:
  secret: s
  allowed_ips: [10.0.0.0/8, 192.0.2.7, "::1"]
"#,
    );
    let rule = &c.inhibit_rules[0];
    assert_eq!(
        rule.source_matchers[0].to_string(),
        r#"severity="critical""#
    );
    assert_eq!(rule.target_matchers.len(), 2);
    assert_eq!(rule.equal, vec!["cluster"]);
    let ext = c.external_alerts.unwrap();
    assert_eq!(ext.secret, Secret("s".into()));
    assert_eq!(ext.allowed_ips.len(), 3);
    let errs = errors(
        "route: {receiver: r}\nreceivers: [{name: r}]\nexternal_alerts:\n  allowed_ips: [10.0.0.0/33]\n",
    );
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["external_alerts.secret", "external_alerts.allowed_ips[0]"]
    );
}

#[test]
fn template_files_are_kept_as_given() {
    let files = BTreeMap::from([(
        "my.tmpl".to_string(),
        "{{ define \"x\" }}y{{ end }}".to_string(),
    )]);
    let c = AlertmanagerConfig::parse(
        "route: {receiver: r}\nreceivers: [{name: r}]\ntemplates: ['*.tmpl']\n",
        files.clone(),
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(c.template_files, files);
}

#[test]
fn syntax_errors_are_placed() {
    let errs = errors("route:\n  receiver: [r\n");
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].line > 0 && errs[0].message.starts_with("YAML syntax error"),
        "{errs:?}"
    );
}

#[test]
fn a_webhook_timeout_reaches_its_request() {
    use crate::notify::Outgoing;
    use crate::notify::payload::{self, NotificationInput, Templates};
    let c = parse(
        "route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs:\n      - {url: 'http://h/x', timeout: 3s}\n      - {url: 'http://h/y'}\n",
    );
    let templates = Templates::new(&c).unwrap();
    let input = NotificationInput {
        receiver: "r".to_string(),
        group_key: "{}:{}".to_string(),
        group_labels: Default::default(),
        alerts: vec![crate::notify::NotifyAlert {
            labels: [("alertname".to_string(), "A".to_string())].into(),
            annotations: Default::default(),
            starts_at_ms: 0,
            ends_at_ms: 60_000,
            generator_url: String::new(),
            updated_at_ms: 0,
        }],
        now_ms: 1_000,
        external_url: String::new(),
        notification_id: "id".to_string(),
        resend_ends_at_ms: 0,
    };
    let no_files = |p: &str| Err(format!("no file {p}"));
    let timeouts: Vec<Option<i64>> = c.receivers[0]
        .integrations
        .iter()
        .map(
            |i| match payload::build(i, &input, &templates, &no_files).unwrap() {
                Outgoing::Http(reqs) => reqs[0].timeout_ms,
                Outgoing::Email(_) => panic!("a webhook built an e-mail"),
            },
        )
        .collect();
    assert_eq!(timeouts, vec![Some(3_000), None]);
}
