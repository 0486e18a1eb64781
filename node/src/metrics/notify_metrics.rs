//! `NotifyMetrics`: what the senders report in `/metrics`, parallel to Alertmanager's
//! `alertmanager_notifications_total` family (ours are `cairn_notifications_total`, ...), and
//! each integration's last outcome, which `GET /api/v2/receivers` can show.
//!
//! Receivers are per tenant (each tenant has its own `alertmanager.yml`, and two can both name
//! a receiver `ops`), so everything kept per receiver is keyed by (tenant, receiver).
//!
//! A notification is one `Senders::send_to` call; a request is one attempt of it (a retried
//! notification makes several requests). As in Alertmanager, a notification fails once, when
//! the senders give up, with the reason of the last attempt.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use super::Histogram;
use super::rule_metrics::escape;

/// Upper bounds (seconds) of `cairn_notification_latency_seconds`: Alertmanager's (1, 5, 10,
/// 15, 20) with three below a second, where a healthy webhook answers.
const LATENCY_BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 1.0, 5.0, 10.0, 15.0, 20.0];

/// One integration's last notification, for the API.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntegrationStatus {
    /// When the last notification started (Unix ms; 0: never).
    pub last_attempt_ms: i64,
    /// How long it took, retries included.
    pub last_attempt_duration_ms: i64,
    /// The error it ended with; `None` when it was delivered.
    pub last_error: Option<String>,
    /// When a notification last succeeded / failed (Unix ms; 0: never).
    pub last_success_ms: i64,
    pub last_failure_ms: i64,
}

#[derive(Default)]
struct Counters {
    /// (tenant, receiver, integration kind) → notifications.
    notifications: BTreeMap<(String, String, String), u64>,
    /// (tenant, receiver, integration kind, reason label) → failed notifications.
    failed: BTreeMap<(String, String, String, &'static str), u64>,
    /// integration kind → requests (attempts), failed requests, attempt latency.
    requests: BTreeMap<String, u64>,
    requests_failed: BTreeMap<String, u64>,
    latency: BTreeMap<String, Histogram>,
    /// (tenant, receiver, integration name such as `webhook[0]`) → last outcome.
    status: BTreeMap<(String, String, String), IntegrationStatus>,
}

#[derive(Default)]
pub struct NotifyMetrics {
    inner: Mutex<Counters>,
}

impl NotifyMetrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A notification for `tenant`'s `receiver`'s `integration` (its kind, `webhook`) starts.
    pub fn notification_started(&self, tenant: &str, receiver: &str, integration: &str) {
        *self
            .lock()
            .notifications
            .entry(key(tenant, receiver, integration))
            .or_default() += 1;
    }

    /// It failed for good; `reason` is `clientError`, `serverError` or `other`.
    pub fn notification_failed(
        &self,
        tenant: &str,
        receiver: &str,
        integration: &str,
        reason: &'static str,
    ) {
        let (t, r, i) = key(tenant, receiver, integration);
        *self.lock().failed.entry((t, r, i, reason)).or_default() += 1;
    }

    /// One attempt (request or SMTP session) of `integration` took `elapsed`.
    pub fn request(&self, integration: &str, elapsed: Duration, failed: bool) {
        let mut c = self.lock();
        *c.requests.entry(integration.to_string()).or_default() += 1;
        if failed {
            *c.requests_failed
                .entry(integration.to_string())
                .or_default() += 1;
        }
        c.latency
            .entry(integration.to_string())
            .or_insert_with(|| Histogram::with_bounds(LATENCY_BUCKETS))
            .observe(elapsed.as_secs_f64());
    }

    /// Records how the notification to `tenant`'s `receiver`'s `integration` (`webhook[0]`)
    /// that started at `started_ms` (Unix ms) and took `took` ended.
    pub fn record_outcome(
        &self,
        tenant: &str,
        receiver: &str,
        integration: &str,
        started_ms: i64,
        took: Duration,
        error: Option<&str>,
    ) {
        let mut c = self.lock();
        let s = c
            .status
            .entry(key(tenant, receiver, integration))
            .or_default();
        s.last_attempt_ms = started_ms;
        s.last_attempt_duration_ms = took.as_millis() as i64;
        s.last_error = error.map(str::to_string);
        let end_ms = started_ms + s.last_attempt_duration_ms;
        match error {
            None => s.last_success_ms = end_ms,
            Some(_) => s.last_failure_ms = end_ms,
        }
    }

    /// The last outcome of each of `tenant`'s `receiver`'s integrations that has notified, by
    /// integration name (`email[0]`, `webhook[1]`).
    pub fn receiver_status(
        &self,
        tenant: &str,
        receiver: &str,
    ) -> Vec<(String, IntegrationStatus)> {
        self.lock()
            .status
            .iter()
            .filter(|((t, r, _), _)| t == tenant && r == receiver)
            .map(|((_, _, i), s)| (i.clone(), s.clone()))
            .collect()
    }

    /// Forgets the status of `tenant`'s receivers not in `keep` (after a change of its
    /// configuration; `&[]` when it has none any more). Other tenants' are untouched. The
    /// counters stay: they only ever grow, as Prometheus expects of a counter.
    pub fn retain_receivers(&self, tenant: &str, keep: &[&str]) {
        self.lock()
            .status
            .retain(|(t, r, _), _| t != tenant || keep.contains(&r.as_str()));
    }

    pub fn notifications(&self, tenant: &str, receiver: &str, integration: &str) -> u64 {
        let key = key(tenant, receiver, integration);
        self.lock().notifications.get(&key).copied().unwrap_or(0)
    }

    pub fn notifications_failed(
        &self,
        tenant: &str,
        receiver: &str,
        integration: &str,
        reason: &str,
    ) -> u64 {
        self.lock()
            .failed
            .iter()
            .filter(|((t, r, i, why), _)| {
                t == tenant && r == receiver && i == integration && *why == reason
            })
            .map(|(_, n)| n)
            .sum()
    }

    /// (requests, failed requests, latency observations) of `integration`.
    pub fn requests(&self, integration: &str) -> (u64, u64, u64) {
        let c = self.lock();
        (
            c.requests.get(integration).copied().unwrap_or(0),
            c.requests_failed.get(integration).copied().unwrap_or(0),
            c.latency.get(integration).map_or(0, Histogram::count),
        )
    }

    /// Appends the families in the text exposition format.
    pub fn render(&self, o: &mut String) {
        let c = self.lock();
        let head = |o: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(
            o,
            "cairn_notifications_total",
            "counter",
            "The total number of attempted notifications.",
        );
        for ((t, r, i), n) in &c.notifications {
            let _ = writeln!(
                o,
                "cairn_notifications_total{{tenant=\"{}\",receiver=\"{}\",integration=\"{}\"}} {n}",
                escape(t),
                escape(r),
                escape(i)
            );
        }
        head(
            o,
            "cairn_notifications_failed_total",
            "counter",
            "The total number of failed notifications.",
        );
        for ((t, r, i, why), n) in &c.failed {
            let _ = writeln!(
                o,
                "cairn_notifications_failed_total{{tenant=\"{}\",receiver=\"{}\",integration=\"{}\",reason=\"{why}\"}} {n}",
                escape(t),
                escape(r),
                escape(i)
            );
        }
        for (name, help, map) in [
            (
                "cairn_notification_requests_total",
                "The total number of attempted notification requests.",
                &c.requests,
            ),
            (
                "cairn_notification_requests_failed_total",
                "The total number of failed notification requests.",
                &c.requests_failed,
            ),
        ] {
            head(o, name, "counter", help);
            for (i, n) in map {
                let _ = writeln!(o, "{name}{{integration=\"{}\"}} {n}", escape(i));
            }
        }
        let name = "cairn_notification_latency_seconds";
        head(
            o,
            name,
            "histogram",
            "The latency of notification requests in seconds.",
        );
        for (i, h) in &c.latency {
            h.render(o, name, &format!("integration=\"{}\"", escape(i)));
        }
    }
}

fn key(tenant: &str, receiver: &str, integration: &str) -> (String, String, String) {
    (
        tenant.to_string(),
        receiver.to_string(),
        integration.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_per_tenant_receiver_and_integration() {
        let m = NotifyMetrics::default();
        m.notification_started("acme", "ops \"a\"", "webhook");
        m.notification_started("acme", "ops \"a\"", "webhook");
        m.notification_failed("acme", "ops \"a\"", "webhook", "serverError");
        m.request("webhook", Duration::from_millis(200), true);
        m.request("webhook", Duration::from_millis(300), false);
        m.request("email", Duration::from_secs(7), false);
        let mut o = String::new();
        m.render(&mut o);
        let r = r#"tenant="acme",receiver="ops \"a\"",integration="webhook""#;
        for line in [
            format!("cairn_notifications_total{{{r}}} 2"),
            format!("cairn_notifications_failed_total{{{r},reason=\"serverError\"}} 1"),
            "cairn_notification_requests_total{integration=\"webhook\"} 2".to_string(),
            "cairn_notification_requests_failed_total{integration=\"webhook\"} 1".to_string(),
            "cairn_notification_latency_seconds_bucket{integration=\"webhook\",le=\"0.25\"} 1"
                .to_string(),
            "cairn_notification_latency_seconds_bucket{integration=\"email\",le=\"5\"} 0"
                .to_string(),
            "cairn_notification_latency_seconds_bucket{integration=\"email\",le=\"10\"} 1"
                .to_string(),
            "cairn_notification_latency_seconds_count{integration=\"webhook\"} 2".to_string(),
        ] {
            assert!(o.lines().any(|l| l == line), "{line} not in\n{o}");
        }
        assert_eq!(m.requests("webhook"), (2, 1, 2));
        assert_eq!(
            m.notifications_failed("acme", "ops \"a\"", "webhook", "serverError"),
            1
        );
    }

    #[test]
    fn two_tenants_receivers_of_one_name_are_counted_apart() {
        let m = NotifyMetrics::default();
        for _ in 0..3 {
            m.notification_started("acme", "ops", "webhook");
        }
        m.notification_started("globex", "ops", "webhook");
        m.notification_failed("globex", "ops", "webhook", "clientError");
        let mut o = String::new();
        m.render(&mut o);
        for line in [
            r#"cairn_notifications_total{tenant="acme",receiver="ops",integration="webhook"} 3"#,
            r#"cairn_notifications_total{tenant="globex",receiver="ops",integration="webhook"} 1"#,
            r#"cairn_notifications_failed_total{tenant="globex",receiver="ops",integration="webhook",reason="clientError"} 1"#,
        ] {
            assert!(o.lines().any(|l| l == line), "{line} not in\n{o}");
        }
        assert!(
            !o.contains(r#"cairn_notifications_failed_total{tenant="acme""#),
            "acme has no failure:\n{o}"
        );
        assert_eq!(m.notifications("acme", "ops", "webhook"), 3);
        assert_eq!(m.notifications("globex", "ops", "webhook"), 1);
        assert_eq!(
            m.notifications_failed("acme", "ops", "webhook", "clientError"),
            0
        );
    }

    #[test]
    fn the_status_keeps_the_last_outcome_of_each_integration() {
        let m = NotifyMetrics::default();
        let ms = Duration::from_millis;
        m.record_outcome("acme", "ops", "webhook[0]", 1_000, ms(50), None);
        m.record_outcome("acme", "ops", "webhook[0]", 2_000, ms(10), Some("boom"));
        m.record_outcome("acme", "ops", "email[0]", 3_000, ms(5), None);
        m.record_outcome("acme", "dev", "email[0]", 3_000, ms(5), None);
        // Another tenant's receiver of the same name: its own status.
        m.record_outcome("globex", "ops", "webhook[0]", 4_000, ms(5), None);
        let s = m.receiver_status("acme", "ops");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, "email[0]");
        let w = &s[1].1;
        assert_eq!(s[1].0, "webhook[0]");
        assert_eq!(w.last_error.as_deref(), Some("boom"));
        assert_eq!(
            (w.last_attempt_ms, w.last_success_ms, w.last_failure_ms),
            (2_000, 1_050, 2_010)
        );
        let g = m.receiver_status("globex", "ops");
        assert_eq!(g.len(), 1);
        assert_eq!(
            (g[0].1.last_attempt_ms, g[0].1.last_error.as_ref()),
            (4_000, None)
        );

        // Keeping acme's `dev` forgets acme's `ops`, not globex's.
        m.retain_receivers("acme", &["dev"]);
        assert!(m.receiver_status("acme", "ops").is_empty());
        assert_eq!(m.receiver_status("acme", "dev").len(), 1);
        assert_eq!(m.receiver_status("globex", "ops").len(), 1);
        m.retain_receivers("globex", &[]);
        assert!(m.receiver_status("globex", "ops").is_empty());
        assert_eq!(m.receiver_status("acme", "dev").len(), 1);
    }
}
