//! `Senders`: carries an `Outgoing` out (HTTP POST or SMTP), retrying with exponential backoff
//! until the receiver accepts it or the deadline passes. Each call is independent, so one
//! slow or failing receiver never delays another.
//!
//! ```text
//! send(target, Outgoing, deadline)
//!   ├─ Http(requests) ── for each request, in order: attempt ─┐
//!   └─ Email(message) ── attempt (one SMTP session) ──────────┤
//!                                                             ▼
//!              retry::Backoff / verdict: delivered │ wait, try again │ give up
//! ```
//!
//! The policy (what is retried, how long to wait, how long an attempt may take) is pure, in
//! `sender/retry.rs`; `sender/http_sender.rs` and `sender/smtp_sender.rs` make one attempt
//! each. Every attempt and every notification is counted in `NotifyMetrics`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cairn_alerting::notify::Outgoing;

use crate::metrics::NotifyMetrics;

pub mod http_sender;
pub mod retry;
pub mod smtp_sender;
pub mod tls_client;

use http_sender::HttpSender;
use retry::{Backoff, FailureReason, Verdict, attempt_timeout};
use smtp_sender::SmtpSender;

/// Per attempt, unless the request says otherwise (`HttpRequest.timeout_ms`).
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq)]
pub struct SendError {
    pub message: String,
    /// Whether another attempt could succeed (connection errors, 5xx, 429).
    pub retryable: bool,
}

/// Which integration a notification is for: the tenant whose configuration names the receiver
/// (receiver names are only unique within a tenant), the receiver's name, the integration's
/// kind (`webhook`, the metrics' `integration` label) and its index among the receiver's
/// integrations of that kind (Alertmanager's `webhook[1]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendTarget<'a> {
    pub tenant: &'a str,
    pub receiver: &'a str,
    pub integration: &'a str,
    pub index: usize,
}

/// One failed attempt: what went wrong, whether to try again, and the metrics' reason.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptError {
    pub message: String,
    pub verdict: Verdict,
    pub reason: FailureReason,
}

pub struct Senders {
    http: HttpSender,
    smtp: SmtpSender,
    backoff: Backoff,
    metrics: Arc<NotifyMetrics>,
}

impl Senders {
    /// Senders counting into `metrics` (the node's `Metrics::notify`).
    pub fn new(metrics: Arc<NotifyMetrics>) -> Senders {
        Senders::with_backoff(metrics, Backoff::default())
    }

    /// With another backoff (tests shorten it).
    pub fn with_backoff(metrics: Arc<NotifyMetrics>, backoff: Backoff) -> Senders {
        Senders {
            http: HttpSender::default(),
            smtp: SmtpSender::default(),
            backoff,
            metrics,
        }
    }

    pub fn metrics(&self) -> &Arc<NotifyMetrics> {
        &self.metrics
    }

    /// Sends `outgoing` for `tenant`'s `receiver`'s first `integration` of its kind (names for
    /// metrics and logs). Use `send_to` when a receiver has several of one kind.
    pub async fn send(
        &self,
        tenant: &str,
        receiver: &str,
        integration: &str,
        outgoing: &Outgoing,
        deadline: Instant,
    ) -> Result<(), SendError> {
        let target = SendTarget {
            tenant,
            receiver,
            integration,
            index: 0,
        };
        self.send_to(target, outgoing, deadline).await
    }

    /// Sends `outgoing`, retrying until delivered, refused for good, or out of time. Requests
    /// of an `Outgoing::Http` go in order; one that fails stops the rest, and a retry resends
    /// only the requests not yet delivered.
    pub async fn send_to(
        &self,
        target: SendTarget<'_>,
        outgoing: &Outgoing,
        deadline: Instant,
    ) -> Result<(), SendError> {
        let (tenant, receiver, kind) = (target.tenant, target.receiver, target.integration);
        let name = format!("{kind}[{}]", target.index);
        let started = Instant::now();
        let started_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        self.metrics.notification_started(tenant, receiver, kind);

        let result = match outgoing {
            Outgoing::Http(requests) => {
                let mut result = Ok(0);
                for (i, req) in requests.iter().enumerate() {
                    let client = match self.http.client(&req.http_config) {
                        Ok(c) => c,
                        Err(e) => {
                            result = Err((e, 0));
                            break;
                        }
                    };
                    let requested = req
                        .timeout_ms
                        .filter(|ms| *ms > 0)
                        .map(|ms| Duration::from_millis(ms as u64));
                    let r = self
                        .with_retries(kind, requested, deadline, |timeout| {
                            self.http.attempt(&client, req, timeout)
                        })
                        .await;
                    if let Err((mut e, n)) = r {
                        if requests.len() > 1 {
                            e.message =
                                format!("request {} of {}: {}", i + 1, requests.len(), e.message);
                        }
                        result = Err((e, n));
                        break;
                    }
                }
                result
            }
            Outgoing::Email(mail) => {
                self.with_retries(kind, None, deadline, |timeout| {
                    self.smtp.attempt(mail, timeout)
                })
                .await
            }
        };

        let took = started.elapsed();
        match result {
            Ok(_) => {
                self.metrics
                    .record_outcome(tenant, receiver, &name, started_ms, took, None);
                Ok(())
            }
            Err((e, attempts)) => {
                self.metrics
                    .notification_failed(tenant, receiver, kind, e.reason.label());
                let retryable = matches!(e.verdict, Verdict::Transient { .. });
                // Alertmanager's wording, so that logs read alike.
                let message = if attempts == 0 {
                    format!(
                        "{receiver}/{name}: notify retry canceled after 0 attempts: {}",
                        e.message
                    )
                } else if retryable {
                    format!(
                        "{receiver}/{name}: notify retry canceled after {attempts} attempts: {}",
                        e.message
                    )
                } else {
                    format!(
                        "{receiver}/{name}: notify retry canceled due to unrecoverable error \
                         after {attempts} attempts: {}",
                        e.message
                    )
                };
                self.metrics.record_outcome(
                    tenant,
                    receiver,
                    &name,
                    started_ms,
                    took,
                    Some(&message),
                );
                tracing::warn!(tenant, receiver, integration = %name, error = %message, "notification failed");
                Err(SendError { message, retryable })
            }
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the next try would start past
    /// `deadline`. Returns the number of attempts made, or the last error with it.
    async fn with_retries<F, Fut>(
        &self,
        kind: &str,
        requested_timeout: Option<Duration>,
        deadline: Instant,
        mut attempt: F,
    ) -> Result<u32, (AttemptError, u32)>
    where
        F: FnMut(Duration) -> Fut,
        Fut: std::future::Future<Output = Result<(), AttemptError>>,
    {
        let mut attempts = 0u32;
        loop {
            let now = Instant::now();
            let Some(timeout) =
                attempt_timeout(requested_timeout, DEFAULT_ATTEMPT_TIMEOUT, now, deadline)
            else {
                let e = AttemptError {
                    message: "the deadline passed before the notification could be sent".into(),
                    verdict: Verdict::Transient { retry_after: None },
                    reason: FailureReason::Other,
                };
                return Err((e, attempts));
            };
            attempts += 1;
            let r = attempt(timeout).await;
            let elapsed = now.elapsed();
            self.metrics.request(kind, elapsed, r.is_err());
            let e = match r {
                Ok(()) => return Ok(attempts),
                Err(e) => e,
            };
            let Verdict::Transient { retry_after } = e.verdict else {
                return Err((e, attempts));
            };
            let now = Instant::now();
            let jitter: f64 = rand::random();
            let Some(at) = self
                .backoff
                .next_attempt(attempts, retry_after, now, deadline, jitter)
            else {
                return Err((e, attempts));
            };
            tracing::debug!(kind, attempts, error = %e.message, "notification attempt failed; retrying");
            tokio::time::sleep_until(at.into()).await;
        }
    }
}
