use super::*;
use crate::notify::integrations::{EmailConfig, WebhookConfig};
use crate::notify::matcher::{MatchOp, Matcher};
use crate::notify::receiver::Integration;

const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
/// A far-away "now" so that times before it stay positive.
const T0: i64 = 1_000 * HOUR;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A firing alert that started at `starts_at_ms` (and would resolve far in the future).
fn firing(pairs: &[(&str, &str)], starts_at_ms: i64) -> NotifyAlert {
    NotifyAlert {
        labels: labels(pairs),
        annotations: BTreeMap::new(),
        starts_at_ms,
        ends_at_ms: starts_at_ms + 1000 * HOUR,
        generator_url: String::new(),
        updated_at_ms: starts_at_ms,
    }
}

fn resolved(mut a: NotifyAlert, at_ms: i64) -> NotifyAlert {
    a.ends_at_ms = at_ms;
    a.updated_at_ms = at_ms;
    a
}

/// A root route grouping by alertname to `team`: group_wait 30s, group_interval 5m,
/// repeat_interval 4h.
fn root() -> Route {
    Route {
        receiver: "team".into(),
        group_by: vec!["alertname".into()],
        group_by_all: false,
        matchers: vec![],
        continue_matching: false,
        group_wait_ms: 30 * SEC,
        group_interval_ms: 5 * MIN,
        repeat_interval_ms: 4 * HOUR,
        mute_time_intervals: vec![],
        active_time_intervals: vec![],
        routes: vec![],
        key: "{}".into(),
        id: "{}".into(),
    }
}

fn child(parent: &Route, receiver: &str, m: Matcher, cont: bool) -> Route {
    let key = format!("{}/{{{m}}}", parent.key);
    Route {
        receiver: receiver.into(),
        matchers: vec![m],
        continue_matching: cont,
        routes: vec![],
        id: key.clone(),
        key,
        ..parent.clone()
    }
}

fn webhook(send_resolved: bool) -> Integration {
    Integration::Webhook(WebhookConfig {
        send_resolved,
        ..Default::default()
    })
}

fn email() -> Integration {
    Integration::Email(EmailConfig::default())
}

fn receiver(name: &str, integrations: Vec<Integration>) -> Receiver {
    Receiver {
        name: name.into(),
        integrations,
    }
}

/// A tenant's configuration and what the driver would hold: the notification log it commits
/// and the alerts and silences it reads.
struct World {
    route: Route,
    inhibit_rules: Vec<InhibitRule>,
    time_intervals: BTreeMap<String, Vec<TimeInterval>>,
    receivers: Vec<Receiver>,
    alerts: Vec<NotifyAlert>,
    silences: Vec<Silence>,
    nflog: NotificationLog,
    state: DispatchState,
}

impl World {
    fn new(route: Route, receivers: Vec<Receiver>) -> World {
        World {
            route,
            inhibit_rules: vec![],
            time_intervals: BTreeMap::new(),
            receivers,
            alerts: vec![],
            silences: vec![],
            nflog: NotificationLog::default(),
            state: DispatchState::new("acme"),
        }
    }

    fn simple(send_resolved: bool) -> World {
        World::new(root(), vec![receiver("team", vec![webhook(send_resolved)])])
    }

    fn step(&mut self, now: i64) -> Vec<Flush> {
        let config = DispatchConfig {
            route: &self.route,
            inhibit_rules: &self.inhibit_rules,
            time_intervals: &self.time_intervals,
            receivers: &self.receivers,
        };
        let input = DispatchInput {
            alerts: &self.alerts,
            silences: &self.silences,
            nflog: &self.nflog,
        };
        self.state.step(config, input, now)
    }

    /// As the driver does on success: log every notification, then report the flush.
    fn deliver(&mut self, flushes: &[Flush], now: i64) {
        for f in flushes {
            for n in &f.notifications {
                self.nflog.insert(n.nflog_entry(now));
            }
            self.state.delivered(f, now);
        }
    }

    /// A step whose flushes are all delivered at once; the notifications it sent.
    fn run(&mut self, now: i64) -> Vec<Notification> {
        let flushes = self.step(now);
        self.deliver(&flushes, now);
        flushes.into_iter().flat_map(|f| f.notifications).collect()
    }

    fn set(&mut self, alert: NotifyAlert) {
        let fp = alert.fingerprint();
        self.alerts.retain(|a| a.fingerprint() != fp);
        self.alerts.push(alert);
    }
}

fn names(n: &Notification) -> Vec<String> {
    n.alerts
        .iter()
        .map(|a| {
            let status = if a.resolved_at(n.flushed_at_ms) {
                "-"
            } else {
                "+"
            };
            format!(
                "{status}{}",
                a.labels.get("instance").cloned().unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn first_notification_waits_group_wait_then_group_interval() {
    let mut w = World::simple(true);
    w.set(firing(&[("alertname", "Down"), ("instance", "a")], T0));
    assert!(w.run(T0).is_empty());
    assert_eq!(w.state.next_wakeup(), Some(T0 + 30 * SEC));
    // A second alert arriving during group_wait joins the first notification.
    w.set(firing(
        &[("alertname", "Down"), ("instance", "b")],
        T0 + 10 * SEC,
    ));
    assert!(w.run(T0 + 29 * SEC).is_empty());
    let sent = w.run(T0 + 30 * SEC);
    assert_eq!(sent.len(), 1);
    let n = &sent[0];
    assert_eq!(names(n), ["+a", "+b"]);
    assert_eq!(n.receiver, "team");
    assert_eq!(n.group_key, r#"{}:{alertname="Down"}"#);
    assert_eq!(n.group_labels, labels(&[("alertname", "Down")]));
    assert_eq!((n.kind.as_str(), n.idx, n.integration), ("webhook", 0, 0));
    assert!(n.send);
    assert_eq!(n.previous_ms, None);
    // The next flush is a group_interval later; a new alert waits for it.
    assert_eq!(w.state.next_wakeup(), Some(T0 + 30 * SEC + 5 * MIN));
    w.set(firing(
        &[("alertname", "Down"), ("instance", "c")],
        T0 + MIN,
    ));
    assert!(w.run(T0 + MIN).is_empty());
    assert!(w.run(T0 + 30 * SEC + 5 * MIN - 1).is_empty());
    let sent = w.run(T0 + 30 * SEC + 5 * MIN);
    assert_eq!(names(&sent[0]), ["+a", "+b", "+c"]);
    assert_eq!(sent[0].previous_ms, Some(T0 + 30 * SEC));
}

#[test]
fn an_alert_older_than_group_wait_flushes_at_once() {
    let mut w = World::simple(true);
    w.set(firing(
        &[("alertname", "Down"), ("instance", "a")],
        T0 - 31 * SEC,
    ));
    assert_eq!(w.run(T0).len(), 1);
    // Exactly group_wait old: Alertmanager's `Before` is strict, so it waits.
    let mut w = World::simple(true);
    w.set(firing(
        &[("alertname", "Down"), ("instance", "a")],
        T0 - 30 * SEC,
    ));
    assert!(w.run(T0).is_empty());
    assert_eq!(w.state.next_wakeup(), Some(T0 + 30 * SEC));
    // An old alert joining a new group before its first flush brings the flush forward.
    w.set(firing(
        &[("alertname", "Down"), ("instance", "b")],
        T0 - HOUR,
    ));
    assert_eq!(w.run(T0 + SEC).len(), 1);
    // After the first flush it does not.
    w.set(firing(
        &[("alertname", "Down"), ("instance", "c")],
        T0 - HOUR,
    ));
    assert!(w.run(T0 + 2 * SEC).is_empty());
    assert_eq!(w.state.next_wakeup(), Some(T0 + SEC + 5 * MIN));
}

#[test]
fn nothing_new_repeats_after_repeat_interval() {
    let mut w = World::simple(true);
    w.set(firing(
        &[("alertname", "Down"), ("instance", "a")],
        T0 - HOUR,
    ));
    assert_eq!(w.run(T0).len(), 1);
    // Flushes every 5 minutes send nothing until 4h have passed since the notification;
    // the first flush after that repeats it.
    let mut repeats = Vec::new();
    let mut t = T0;
    while t < T0 + 9 * HOUR {
        t += 5 * MIN;
        for n in w.run(t) {
            repeats.push((t - T0) / MIN);
            assert_eq!(names(&n), ["+a"]);
        }
    }
    // 4h is not "before now - 4h" at exactly 240 minutes; the flush after it repeats.
    assert_eq!(repeats, [245, 490]);
}

#[test]
fn resolved_alerts_are_sent_with_send_resolved_and_then_leave_the_group() {
    let mut w = World::simple(true);
    let a = firing(&[("alertname", "Down"), ("instance", "a")], T0 - HOUR);
    let b = firing(&[("alertname", "Down"), ("instance", "b")], T0 - HOUR);
    w.set(a.clone());
    w.set(b.clone());
    assert_eq!(names(&w.run(T0)[0]), ["+a", "+b"]);
    w.set(resolved(a.clone(), T0 + MIN));
    let sent = w.run(T0 + 5 * MIN);
    assert_eq!(names(&sent[0]), ["-a", "+b"]);
    assert_eq!(sent[0].firing, vec![b.fingerprint()]);
    assert_eq!(sent[0].resolved, vec![a.fingerprint()]);
    // Delivered: the resolved alert is gone from the group.
    let groups = w.state.groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].alerts.len(), 1);
    // The rule resends the same resolution: it does not come back.
    assert!(w.run(T0 + 6 * MIN).is_empty());
    assert_eq!(w.state.groups()[0].alerts.len(), 1);
    // All resolved: sent, and the group is gone.
    w.set(resolved(b.clone(), T0 + 7 * MIN));
    let sent = w.run(T0 + 10 * MIN);
    assert_eq!(names(&sent[0]), ["-b"]);
    assert!(w.state.groups().is_empty());
    assert_eq!(w.state.next_wakeup(), None);
    // Resent resolutions after that re-create nothing.
    assert!(w.run(T0 + 11 * MIN).is_empty());
    assert!(w.state.groups().is_empty());
}

#[test]
fn without_send_resolved_resolved_alerts_are_logged_not_sent() {
    let mut w = World::simple(false);
    let a = firing(&[("alertname", "Down"), ("instance", "a")], T0 - HOUR);
    let b = firing(&[("alertname", "Down"), ("instance", "b")], T0 - HOUR);
    w.set(a.clone());
    w.set(b.clone());
    assert_eq!(w.run(T0).len(), 1);
    // One resolves: the firing set shrank, which is no news without send_resolved.
    w.set(resolved(a.clone(), T0 + MIN));
    assert!(w.run(T0 + 5 * MIN).is_empty());
    // ... and the flush still counts as delivered: `a` left the group.
    assert_eq!(w.state.groups()[0].alerts.len(), 1);
    // All resolved: a notification that sends nothing but clears the log's firing set.
    w.set(resolved(b.clone(), T0 + 6 * MIN));
    let sent = w.run(T0 + 10 * MIN);
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].send);
    assert!(sent[0].alerts.is_empty());
    assert!(sent[0].firing.is_empty());
    assert_eq!(sent[0].resolved, vec![b.fingerprint()]);
    assert!(w.state.groups().is_empty());
    let e = w
        .nflog
        .get("team", "webhook", 0, r#"{}:{alertname="Down"}"#);
    assert!(e.unwrap().firing.is_empty());
}

#[test]
fn an_undelivered_flush_keeps_its_resolved_alerts() {
    let mut w = World::simple(true);
    let a = firing(&[("alertname", "Down"), ("instance", "a")], T0 - HOUR);
    w.set(a.clone());
    w.run(T0);
    w.set(resolved(a.clone(), T0 + MIN));
    // The send fails: the driver never reports the flush.
    let failed = w.step(T0 + 5 * MIN);
    assert_eq!(names(&failed[0].notifications[0]), ["-a"]);
    assert_eq!(w.state.groups().len(), 1);
    // The next flush tries again, with the same id (nothing was logged in between).
    let again = w.step(T0 + 10 * MIN);
    assert_eq!(
        again[0].notifications[0].notification_id,
        failed[0].notifications[0].notification_id
    );
    w.deliver(&again, T0 + 10 * MIN);
    assert!(w.state.groups().is_empty());
}

#[test]
fn an_alert_firing_again_during_the_flush_stays() {
    let mut w = World::simple(true);
    let a = firing(&[("alertname", "Down"), ("instance", "a")], T0 - HOUR);
    w.set(a.clone());
    w.run(T0);
    w.set(resolved(a.clone(), T0 + MIN));
    let flush = w.step(T0 + 5 * MIN);
    // While the resolution is being sent, the alert fires again.
    w.set(firing(
        &[("alertname", "Down"), ("instance", "a")],
        T0 + 5 * MIN + SEC,
    ));
    assert!(w.step(T0 + 5 * MIN + 2 * SEC).is_empty());
    w.deliver(&flush, T0 + 5 * MIN + 3 * SEC);
    let groups = w.state.groups();
    assert_eq!(groups[0].alerts.len(), 1);
    assert!(!groups[0].alerts[0].resolved_at(T0 + 6 * MIN));
    let sent = w.run(T0 + 10 * MIN);
    assert_eq!(names(&sent[0]), ["+a"]);
}

#[test]
fn silenced_and_inhibited_alerts_are_left_out() {
    let mut w = World::simple(true);
    w.inhibit_rules = vec![InhibitRule {
        source_matchers: vec![Matcher::new("severity", MatchOp::Equal, "critical").unwrap()],
        target_matchers: vec![Matcher::new("severity", MatchOp::Equal, "warning").unwrap()],
        equal: vec!["alertname".into()],
    }];
    w.silences = vec![Silence {
        id: "s1".into(),
        matchers: vec![Matcher::new("instance", MatchOp::Equal, "b").unwrap()],
        starts_at_ms: T0 - HOUR,
        ends_at_ms: T0 + 7 * MIN,
        updated_at_ms: T0 - HOUR,
        created_by: "me".into(),
        comment: String::new(),
    }];
    let crit = firing(
        &[
            ("alertname", "Down"),
            ("instance", "a"),
            ("severity", "critical"),
        ],
        T0 - HOUR,
    );
    w.set(crit.clone());
    w.set(firing(
        &[
            ("alertname", "Down"),
            ("instance", "b"),
            ("severity", "info"),
        ],
        T0 - HOUR,
    ));
    w.set(firing(
        &[
            ("alertname", "Down"),
            ("instance", "c"),
            ("severity", "warning"),
        ],
        T0 - HOUR,
    ));
    // `b` is silenced, `c` inhibited by `a` (same alertname).
    let sent = w.run(T0);
    assert_eq!(names(&sent[0]), ["+a"]);
    // The silence expires: `b` is news.
    let sent = w.run(T0 + 10 * MIN);
    assert_eq!(names(&sent[0]), ["+a", "+b"]);
    // The inhibiting alert resolves: `c` is news (and `a`'s resolution goes with it).
    w.set(resolved(crit, T0 + 11 * MIN));
    let sent = w.run(T0 + 15 * MIN);
    assert_eq!(names(&sent[0]), ["-a", "+b", "+c"]);
}

#[test]
fn a_group_muted_entirely_sends_nothing_and_drops_its_resolved_alerts() {
    let mut w = World::simple(true);
    w.silences = vec![Silence {
        id: "all".into(),
        matchers: vec![Matcher::new("alertname", MatchOp::Equal, "Down").unwrap()],
        starts_at_ms: T0 - HOUR,
        ends_at_ms: T0 + HOUR,
        updated_at_ms: T0 - HOUR,
        created_by: "me".into(),
        comment: String::new(),
    }];
    let a = firing(&[("alertname", "Down"), ("instance", "a")], T0 - HOUR);
    w.set(a.clone());
    assert!(w.run(T0).is_empty());
    assert_eq!(w.state.groups().len(), 1);
    w.set(resolved(a, T0 + MIN));
    assert!(w.run(T0 + 5 * MIN).is_empty());
    // As in Alertmanager, a muted flush is a delivered one.
    assert!(w.state.groups().is_empty());
}

#[test]
fn time_intervals_mute_the_route_s_groups() {
    // The first midnight (UTC) after T0.
    let day = T0 - T0.rem_euclid(24 * HOUR) + 24 * HOUR;
    let mut route = root();
    route.mute_time_intervals = vec!["night".into()];
    let mut w = World::new(route, vec![receiver("team", vec![webhook(true)])]);
    w.time_intervals = BTreeMap::from([(
        "night".to_string(),
        vec![TimeInterval {
            times: vec![(0, 6 * 60)],
            ..Default::default()
        }],
    )]);
    w.set(firing(
        &[("alertname", "Down"), ("instance", "a")],
        day - HOUR,
    ));
    // 01:00: muted; flushes go on every group_interval and send nothing.
    assert!(w.run(day + HOUR).is_empty());
    assert_eq!(w.state.next_wakeup(), Some(day + HOUR + 5 * MIN));
    assert!(w.run(day + HOUR + 5 * MIN).is_empty());
    // 06:00: the first flush outside the interval notifies.
    let mut t = day + HOUR + 5 * MIN;
    let mut first = None;
    while first.is_none() {
        t += 5 * MIN;
        if !w.run(t).is_empty() {
            first = Some(t);
        }
    }
    assert_eq!(first, Some(day + 6 * HOUR));

    // Active intervals: only during the office hours.
    let mut route = root();
    route.active_time_intervals = vec!["office".into()];
    let mut w = World::new(route, vec![receiver("team", vec![webhook(true)])]);
    w.time_intervals = BTreeMap::from([(
        "office".to_string(),
        vec![TimeInterval {
            times: vec![(9 * 60, 17 * 60)],
            ..Default::default()
        }],
    )]);
    w.set(firing(&[("alertname", "Down"), ("instance", "a")], day));
    assert!(w.run(day + 8 * HOUR).is_empty());
    assert_eq!(w.run(day + 9 * HOUR).len(), 1);
}

#[test]
fn a_new_leader_does_not_notify_again_at_once() {
    // The old leader notified at T0 and logged it.
    let mut old = World::simple(true);
    old.set(firing(
        &[("alertname", "Down"), ("instance", "a")],
        T0 - HOUR,
    ));
    assert_eq!(old.run(T0).len(), 1);
    // A new leader takes over 10s later with the same alerts and the log.
    let mut new = World::simple(true);
    new.alerts = old.alerts.clone();
    new.nflog = old.nflog.clone();
    assert!(new.run(T0 + 10 * SEC).is_empty());
    // Alertmanager would flush at once; Cairn waits for the group_interval since the log's
    // notification, and then dedup finds nothing new.
    assert_eq!(new.state.next_wakeup(), Some(T0 + 5 * MIN));
    assert!(new.run(T0 + 5 * MIN).is_empty());
    // A new alert in the group is sent at that flush, not earlier.
    new.set(firing(
        &[("alertname", "Down"), ("instance", "b")],
        T0 + 6 * MIN,
    ));
    assert!(new.run(T0 + 6 * MIN).is_empty());
    assert_eq!(names(&new.run(T0 + 10 * MIN)[0]), ["+a", "+b"]);

    // A log entry long past does not hold back a new group's group_wait either way.
    let mut w = World::simple(true);
    w.nflog = old.nflog.clone();
    w.set(firing(
        &[("alertname", "Down"), ("instance", "a")],
        T0 + 3 * HOUR,
    ));
    assert!(w.run(T0 + 3 * HOUR).is_empty());
    assert_eq!(w.state.next_wakeup(), Some(T0 + 3 * HOUR + 30 * SEC));
}

#[test]
fn a_resend_after_failover_has_the_same_notification_id() {
    // The old leader flushed and the receiver accepted, but it died before logging.
    let mut old = World::simple(true);
    old.set(firing(
        &[("alertname", "Down"), ("instance", "a")],
        T0 - HOUR,
    ));
    let lost = old.step(T0);
    let mut new = World::simple(true);
    new.alerts = old.alerts.clone();
    let resent = new.run(T0 + 20 * SEC);
    assert_eq!(
        resent[0].notification_id,
        lost[0].notifications[0].notification_id
    );
    // The next notification of the group has another id.
    new.set(firing(
        &[("alertname", "Down"), ("instance", "b")],
        T0 + MIN,
    ));
    let next = new.run(T0 + 20 * SEC + 5 * MIN);
    assert_ne!(next[0].notification_id, resent[0].notification_id);
}

#[test]
fn each_integration_is_deduplicated_on_its_own() {
    let mut w = World::new(
        root(),
        vec![receiver(
            "team",
            vec![webhook(true), email(), webhook(false)],
        )],
    );
    let a = firing(&[("alertname", "Down"), ("instance", "a")], T0 - HOUR);
    w.set(a.clone());
    let sent = w.run(T0);
    let who: Vec<(usize, &str, u32)> = sent
        .iter()
        .map(|n| (n.integration, n.kind.as_str(), n.idx))
        .collect();
    assert_eq!(who, [(0, "webhook", 0), (1, "email", 0), (2, "webhook", 1)]);
    // A resolution: only the webhook with send_resolved is told; the others are not, and
    // (all resolved) the email and the second webhook log it without sending.
    w.set(resolved(a, T0 + MIN));
    let sent = w.run(T0 + 5 * MIN);
    let sends: Vec<(usize, bool)> = sent.iter().map(|n| (n.integration, n.send)).collect();
    assert_eq!(sends, [(0, true), (1, false), (2, false)]);
    // The email integration alone had no log entry (e.g. it failed before): only it is told.
    let mut w = World::new(root(), vec![receiver("team", vec![webhook(true), email()])]);
    w.set(firing(
        &[("alertname", "Down"), ("instance", "a")],
        T0 - HOUR,
    ));
    let first = w.step(T0);
    let webhook_only = first[0].notifications[0].nflog_entry(T0);
    w.nflog.insert(webhook_only);
    let sent = w.run(T0 + 5 * MIN);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, "email");
}

#[test]
fn routes_with_continue_put_an_alert_in_several_groups() {
    let mut r = root();
    let db = child(
        &r,
        "db",
        Matcher::new("team", MatchOp::Equal, "db").unwrap(),
        true,
    );
    let mut ops = child(
        &r,
        "ops",
        Matcher::new("severity", MatchOp::Equal, "critical").unwrap(),
        false,
    );
    ops.group_by = vec!["cluster".into()];
    let never = child(
        &r,
        "never",
        Matcher::new("team", MatchOp::Regex, ".*").unwrap(),
        false,
    );
    r.routes = vec![db, ops, never];
    let mut w = World::new(
        r,
        vec![
            receiver("team", vec![webhook(true)]),
            receiver("db", vec![webhook(true)]),
            receiver("ops", vec![webhook(true)]),
            receiver("never", vec![webhook(true)]),
        ],
    );
    w.set(firing(
        &[
            ("alertname", "Slow"),
            ("team", "db"),
            ("severity", "critical"),
            ("cluster", "eu"),
        ],
        T0 - HOUR,
    ));
    w.set(firing(&[("alertname", "Full"), ("team", "web")], T0 - HOUR));
    let sent = w.run(T0);
    let mut got: Vec<(String, String)> = sent
        .iter()
        .map(|n| (n.receiver.clone(), n.group_key.clone()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                "db".to_string(),
                r#"{}/{team="db"}:{alertname="Slow"}"#.to_string()
            ),
            (
                "never".to_string(),
                r#"{}/{team=~".*"}:{alertname="Full"}"#.to_string()
            ),
            (
                "ops".to_string(),
                r#"{}/{severity="critical"}:{cluster="eu"}"#.to_string()
            ),
        ]
    );
    let view = w.state.groups();
    assert_eq!(view.len(), 3);
    // Sorted by labels as Prometheus' `LabelSet.Before` orders them: of two sets of one label,
    // the one without the first name in sorted order (`alertname`) comes first.
    assert_eq!(view[0].labels, labels(&[("cluster", "eu")]));
    assert_eq!(view[0].receiver, "ops");
    assert_eq!(view[1].labels, labels(&[("alertname", "Full")]));
}

#[test]
fn many_alerts_in_many_groups() {
    let mut w = World::simple(true);
    for g in 0..50 {
        for i in 0..200 {
            w.alerts.push(firing(
                &[
                    ("alertname", &format!("A{g:02}")),
                    ("instance", &format!("i{i:03}")),
                ],
                T0 - HOUR,
            ));
        }
    }
    let sent = w.run(T0);
    assert_eq!(sent.len(), 50);
    assert!(
        sent.iter()
            .all(|n| n.alerts.len() == 200 && n.firing.len() == 200)
    );
    let first = names(&sent[0]);
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(first, sorted);
    // Resolve half of one group: only that group notifies at the next flush.
    for a in w.alerts.iter_mut() {
        if a.labels["alertname"] == "A07" && a.labels["instance"].as_str() < "i100" {
            a.ends_at_ms = T0 + MIN;
        }
    }
    let sent = w.run(T0 + 5 * MIN);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].resolved.len(), 100);
    assert_eq!(sent[0].firing.len(), 100);
    let left: usize = w.state.groups().iter().map(|g| g.alerts.len()).sum();
    assert_eq!(left, 50 * 200 - 100);
}
