//! The senders' retry policy, pure: how an attempt's answer is classed (delivered, worth another
//! try, or final), how long to wait before the next attempt (exponential backoff with jitter,
//! or the server's `Retry-After`), and how long one attempt may take. No clock and no
//! randomness of its own: `now`, the deadline and the jitter come in as arguments, so the
//! tests pin every case.
//!
//! ```text
//! attempt 1 ──fail──▶ wait ~1s ──▶ attempt 2 ──fail──▶ wait ~2s ──▶ ... waits double up to 1 min,
//!                                                      and never reach past the deadline
//! ```

use std::time::{Duration, Instant, SystemTime};

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Delivered,
    /// Another attempt may succeed: a connection error, a timeout, a 5xx, a 429, an SMTP 4xx.
    Transient {
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// Trying again would get the same answer: another 4xx, an SMTP 5xx, a bad configuration.
    Permanent,
}

/// Why a notification failed, as Alertmanager's `reason` label of
/// `alertmanager_notifications_failed_total` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureReason {
    ClientError,
    ServerError,
    Other,
}

impl FailureReason {
    pub fn label(self) -> &'static str {
        match self {
            FailureReason::ClientError => "clientError",
            FailureReason::ServerError => "serverError",
            FailureReason::Other => "other",
        }
    }

    /// From an HTTP status (`None`: no answer, e.g. a connection error).
    pub fn of_status(status: Option<u16>) -> FailureReason {
        match status {
            Some(400..=499) => FailureReason::ClientError,
            Some(500..=599) => FailureReason::ServerError,
            _ => FailureReason::Other,
        }
    }
}

/// An HTTP answer's verdict. Only 5xx and 429 are retried: another 4xx means the request
/// itself is wrong (Alertmanager does not retry them either). 1xx and 3xx that reach here
/// (redirects not followed) are final too.
pub fn http_verdict(status: u16, retry_after: Option<Duration>) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        429 | 500..=599 => Verdict::Transient { retry_after },
        _ => Verdict::Permanent,
    }
}

/// An SMTP reply code's verdict: 4xx is "try again later" (RFC 5321 §4.2.1), 5xx is final.
pub fn smtp_verdict(code: u16) -> Verdict {
    match code {
        200..=399 => Verdict::Delivered,
        400..=499 => Verdict::Transient { retry_after: None },
        _ => Verdict::Permanent,
    }
}

/// `Retry-After`: either delay-seconds or an HTTP-date (RFC 9110 §10.2.3), read against `now`.
/// A date in the past means "now"; anything unreadable is ignored (`None`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Exponential backoff: `initial`, doubling per failed attempt, capped at `max`, each wait
/// spread by jitter so that many notifications failing together do not retry in step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait after failed attempt number `attempt` (1-based). `jitter` in [0, 1) scales the
    /// nominal wait into [0.5, 1.5) of itself (Alertmanager's randomization factor 0.5); the
    /// result never exceeds `max`.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let nominal = self.initial.saturating_mul(1u32 << doublings).min(self.max);
        let factor = 0.5 + jitter.clamp(0.0, 1.0);
        nominal.mul_f64(factor).min(self.max)
    }

    /// When to try again after failed attempt number `attempt`, or `None` to give up because
    /// the next attempt would start at or past `deadline`. A server's `Retry-After` replaces
    /// the backoff wait (it knows when it will accept again).
    pub fn next_attempt(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        now: Instant,
        deadline: Instant,
        jitter: f64,
    ) -> Option<Instant> {
        let wait = retry_after.unwrap_or_else(|| self.delay(attempt, jitter));
        let at = now.checked_add(wait)?;
        (at < deadline).then_some(at)
    }
}

/// How long one attempt may take: the request's own timeout (or `default`), cut short by the
/// deadline. `None` when the deadline has passed: no attempt should start.
pub fn attempt_timeout(
    requested: Option<Duration>,
    default: Duration,
    now: Instant,
    deadline: Instant,
) -> Option<Duration> {
    let left = deadline
        .checked_duration_since(now)
        .filter(|d| !d.is_zero())?;
    Some(requested.unwrap_or(default).min(left))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn http_statuses_are_classed_as_alertmanager_classes_them() {
        assert_eq!(http_verdict(200, None), Verdict::Delivered);
        assert_eq!(http_verdict(204, None), Verdict::Delivered);
        for s in [500, 502, 503, 504, 599] {
            assert_eq!(
                http_verdict(s, None),
                Verdict::Transient { retry_after: None }
            );
        }
        assert_eq!(
            http_verdict(429, Some(S)),
            Verdict::Transient {
                retry_after: Some(S)
            }
        );
        for s in [400, 401, 403, 404, 413, 301, 302, 101] {
            assert_eq!(http_verdict(s, None), Verdict::Permanent, "{s}");
        }
        assert_eq!(FailureReason::of_status(Some(404)).label(), "clientError");
        assert_eq!(FailureReason::of_status(Some(503)).label(), "serverError");
        assert_eq!(FailureReason::of_status(None).label(), "other");
        assert_eq!(FailureReason::of_status(Some(302)).label(), "other");
    }

    #[test]
    fn smtp_codes_4xx_retry_and_5xx_are_final() {
        assert_eq!(smtp_verdict(250), Verdict::Delivered);
        assert_eq!(smtp_verdict(421), Verdict::Transient { retry_after: None });
        assert_eq!(smtp_verdict(451), Verdict::Transient { retry_after: None });
        assert_eq!(smtp_verdict(535), Verdict::Permanent);
        assert_eq!(smtp_verdict(554), Verdict::Permanent);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(parse_retry_after("120", now), Some(120 * S));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(30 * S)
        );
        // A date already past: retry now.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn backoff_doubles_from_one_second_to_a_minute() {
        let b = Backoff::default();
        // jitter 0.5 gives the nominal wait.
        let nominal: Vec<u64> = (1..=9).map(|a| b.delay(a, 0.5).as_secs()).collect();
        assert_eq!(nominal, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(500));
        assert_eq!(b.delay(3, 0.0), 2 * S);
        assert!(b.delay(3, 0.999) < 6 * S && b.delay(3, 0.999) > 5 * S);
        // The cap holds with jitter and for absurd attempt counts.
        assert_eq!(b.delay(7, 0.999), 60 * S);
        assert_eq!(b.delay(u32::MAX, 0.999), 60 * S);
    }

    #[test]
    fn no_attempt_is_planned_at_or_past_the_deadline() {
        let b = Backoff::default();
        let now = Instant::now();
        assert_eq!(
            b.next_attempt(1, None, now, now + 10 * S, 0.5),
            Some(now + S)
        );
        assert_eq!(b.next_attempt(1, None, now, now + S, 0.5), None);
        assert_eq!(b.next_attempt(4, None, now, now + 7 * S, 0.5), None);
        // Retry-After replaces the backoff, longer or shorter.
        assert_eq!(
            b.next_attempt(1, Some(3 * S), now, now + 10 * S, 0.5),
            Some(now + 3 * S)
        );
        assert_eq!(
            b.next_attempt(6, Some(Duration::ZERO), now, now + 10 * S, 0.5),
            Some(now)
        );
        assert_eq!(
            b.next_attempt(1, Some(30 * S), now, now + 10 * S, 0.5),
            None
        );
    }

    #[test]
    fn an_attempt_never_outlasts_the_deadline() {
        let now = Instant::now();
        let ten = 10 * S;
        assert_eq!(attempt_timeout(None, ten, now, now + 60 * S), Some(ten));
        assert_eq!(
            attempt_timeout(Some(2 * S), ten, now, now + 60 * S),
            Some(2 * S)
        );
        assert_eq!(attempt_timeout(None, ten, now, now + 3 * S), Some(3 * S));
        assert_eq!(
            attempt_timeout(Some(30 * S), ten, now, now + 3 * S),
            Some(3 * S)
        );
        assert_eq!(attempt_timeout(None, ten, now, now), None);
        assert_eq!(attempt_timeout(None, ten, now + S, now), None);
    }
}
