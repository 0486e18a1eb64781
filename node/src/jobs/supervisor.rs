//! `Supervisor`: runs every [`Job`] of the node on one schedule policy.
//!
//! ```text
//!  spawn(job) ─► task: loop { run_once ─► stats ─► wait ─► }   until shutdown
//!     wait = interval ± 10% jitter after a success (jobs of many nodes do not line up),
//!            interval · 2^failures (≤ max_backoff) after failures,
//!            cut short by the job's Trigger (e.g. a cluster state change)
//!  render_metrics ─► cairn_job_runs_total, _errors_total, _last_run_timestamp_seconds,
//!                    _last_duration_seconds, _consecutive_errors per job
//! ```
//! The jitter comes from an RNG seeded by the job's name, so a schedule is reproducible; wall
//! time for the metrics comes from the node's [`Clock`]. Shutdown: the watch turns true, each
//! job finishes the pass it is in (passes are short) and its task ends.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_model::Clock;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::Job;

/// A successful pass's wait is the interval times a factor in `1 ± JITTER`.
const JITTER: f64 = 0.1;

/// What the supervisor knows of one job, for `/metrics`.
#[derive(Debug)]
pub struct JobStats {
    pub name: &'static str,
    pub runs: AtomicU64,
    pub errors: AtomicU64,
    /// Failed passes since the last success.
    pub consecutive_errors: AtomicU64,
    /// When the last pass started (ms since the epoch; 0 before the first).
    pub last_run_ms: AtomicI64,
    pub last_duration_us: AtomicU64,
}

/// A job's statistics and task (`None` once `stopped` has taken it to await).
type JobEntry = (Arc<JobStats>, Option<JoinHandle<()>>);

/// One metric family: name, type, help and how to read a job's value.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&JobStats) -> String,
);

/// Wakes a job before its interval is up.
#[derive(Clone)]
pub struct Trigger(Arc<Notify>);

impl Trigger {
    pub fn fire(&self) {
        self.0.notify_one();
    }
}

pub struct Supervisor {
    clock: Arc<dyn Clock>,
    shutdown: watch::Receiver<bool>,
    jobs: Mutex<Vec<JobEntry>>,
}

impl Supervisor {
    /// A supervisor whose jobs stop when `shutdown` turns true.
    pub fn new(clock: Arc<dyn Clock>, shutdown: watch::Receiver<bool>) -> Supervisor {
        Supervisor {
            clock,
            shutdown,
            jobs: Mutex::new(Vec::new()),
        }
    }

    /// Starts running `job` (its first pass at once). Must be called inside a Tokio runtime.
    pub fn spawn(&self, job: Arc<dyn Job>) -> Trigger {
        let stats = Arc::new(JobStats {
            name: job.name(),
            runs: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            consecutive_errors: AtomicU64::new(0),
            last_run_ms: AtomicI64::new(0),
            last_duration_us: AtomicU64::new(0),
        });
        let trigger = Trigger(Arc::new(Notify::new()));
        let task = tokio::spawn(run(
            job,
            stats.clone(),
            self.clock.clone(),
            trigger.clone(),
            self.shutdown.clone(),
        ));
        self.lock().push((stats, Some(task)));
        trigger
    }

    /// Waits until every job's task has ended (call after the shutdown watch turned true).
    pub async fn stopped(&self) {
        let tasks: Vec<JoinHandle<()>> = self
            .lock()
            .iter_mut()
            .filter_map(|(_, t)| t.take())
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    }

    /// The jobs' statistics, in the order they were spawned.
    pub fn stats(&self) -> Vec<Arc<JobStats>> {
        self.lock().iter().map(|(s, _)| s.clone()).collect()
    }

    /// Appends the jobs' metrics in the text exposition format.
    pub fn render_metrics(&self, o: &mut String) {
        let stats = self.stats();
        let families: [Family; 5] = [
            (
                "cairn_job_runs_total",
                "counter",
                "Passes of each background job.",
                |s| s.runs.load(Ordering::Relaxed).to_string(),
            ),
            (
                "cairn_job_errors_total",
                "counter",
                "Passes of each background job that failed.",
                |s| s.errors.load(Ordering::Relaxed).to_string(),
            ),
            (
                "cairn_job_consecutive_errors",
                "gauge",
                "Failed passes since each job's last success.",
                |s| s.consecutive_errors.load(Ordering::Relaxed).to_string(),
            ),
            (
                "cairn_job_last_run_timestamp_seconds",
                "gauge",
                "When each job's last pass started.",
                |s| (s.last_run_ms.load(Ordering::Relaxed) as f64 / 1e3).to_string(),
            ),
            (
                "cairn_job_last_duration_seconds",
                "gauge",
                "How long each job's last pass took.",
                |s| (s.last_duration_us.load(Ordering::Relaxed) as f64 / 1e6).to_string(),
            ),
        ];
        for (name, kind, help, value) in families {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for s in &stats {
                let _ = writeln!(o, "{name}{{job=\"{}\"}} {}", s.name, value(s));
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<JobEntry>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The wait before the next pass: the jittered interval after a success, the doubled interval
/// (capped) after `failures` consecutive failures.
fn next_wait(
    interval: Duration,
    max_backoff: Duration,
    failures: u32,
    rng: &mut StdRng,
) -> Duration {
    if failures == 0 {
        let factor = 1.0 + rng.gen_range(-JITTER..=JITTER);
        return interval.mul_f64(factor);
    }
    let doubled = interval.saturating_mul(1u32 << failures.min(16));
    doubled.min(max_backoff.max(interval))
}

async fn run(
    job: Arc<dyn Job>,
    stats: Arc<JobStats>,
    clock: Arc<dyn Clock>,
    trigger: Trigger,
    mut shutdown: watch::Receiver<bool>,
) {
    // Seeded by the name: reproducible, yet different jobs drift apart.
    let seed = job.name().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = StdRng::seed_from_u64(seed);
    let mut failures = 0u32;
    while !*shutdown.borrow() {
        stats.last_run_ms.store(clock.now_ms(), Ordering::Relaxed);
        let started = clock.instant();
        let result = job.run_once().await;
        let took = clock.instant().saturating_duration_since(started);
        stats
            .last_duration_us
            .store(took.as_micros() as u64, Ordering::Relaxed);
        stats.runs.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(()) => {
                failures = 0;
                stats.consecutive_errors.store(0, Ordering::Relaxed);
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                stats.errors.fetch_add(1, Ordering::Relaxed);
                stats.consecutive_errors.fetch_add(1, Ordering::Relaxed);
                // Retryable failures (an election) are routine; others are worth a warning.
                if e.is_retryable() {
                    tracing::debug!(job = job.name(), error = %e, "job pass failed");
                } else {
                    tracing::warn!(job = job.name(), error = %e, "job pass failed");
                }
            }
        }
        let wait = next_wait(job.interval(), job.max_backoff(), failures, &mut rng);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = trigger.0.notified() => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use cairn_model::ManualClock;

    use super::*;
    use crate::jobs::RunOnce;

    /// Fails its first `fail` passes, then succeeds; counts passes.
    struct Flaky {
        passes: AtomicUsize,
        fail: usize,
    }

    impl Job for Flaky {
        fn name(&self) -> &'static str {
            "flaky"
        }

        fn interval(&self) -> Duration {
            Duration::from_secs(1)
        }

        fn max_backoff(&self) -> Duration {
            Duration::from_secs(4)
        }

        fn run_once(&self) -> RunOnce<'_> {
            Box::pin(async move {
                let n = self.passes.fetch_add(1, Ordering::SeqCst);
                if n < self.fail {
                    Err(crate::Error::NoLeader { shard: 1 })
                } else {
                    Ok(())
                }
            })
        }
    }

    #[test]
    fn waits_are_jittered_after_success_and_doubled_up_to_the_cap_after_failures() {
        let mut rng = StdRng::seed_from_u64(7);
        let (i, cap) = (Duration::from_secs(1), Duration::from_secs(4));
        for _ in 0..100 {
            let w = next_wait(i, cap, 0, &mut rng);
            assert!(w >= i.mul_f64(0.9) && w <= i.mul_f64(1.1), "{w:?}");
        }
        let waits: Vec<Duration> = (1..=5).map(|f| next_wait(i, cap, f, &mut rng)).collect();
        let secs: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [2, 4, 4, 4, 4]);
    }

    /// Paused Tokio time: the supervisor's sleeps advance instantly and exactly.
    #[tokio::test(start_paused = true)]
    async fn a_job_runs_backs_off_recovers_is_woken_and_stops() {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let (stop, stop_rx) = watch::channel(false);
        let sup = Supervisor::new(clock.clone(), stop_rx);
        let job = Arc::new(Flaky {
            passes: AtomicUsize::new(0),
            fail: 2,
        });
        let trigger = sup.spawn(job.clone());
        let stats = sup.stats()[0].clone();
        // Pass 1 at 0 s fails, pass 2 after 2 s fails, pass 3 after 4 s more succeeds.
        tokio::time::sleep(Duration::from_millis(5_500)).await;
        assert_eq!(job.passes.load(Ordering::SeqCst), 2);
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        assert_eq!(job.passes.load(Ordering::SeqCst), 3);
        assert_eq!(stats.errors.load(Ordering::Relaxed), 2);
        assert_eq!(stats.consecutive_errors.load(Ordering::Relaxed), 0);
        assert_eq!(stats.last_run_ms.load(Ordering::Relaxed), 1_700_000_000_000);
        // A trigger runs it at once rather than after its interval.
        trigger.fire();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(job.passes.load(Ordering::SeqCst), 4);
        let mut metrics = String::new();
        sup.render_metrics(&mut metrics);
        assert!(
            metrics.contains("cairn_job_runs_total{job=\"flaky\"} 4"),
            "{metrics}"
        );
        assert!(
            metrics.contains("cairn_job_errors_total{job=\"flaky\"} 2"),
            "{metrics}"
        );
        stop.send(true).unwrap();
        sup.stopped().await;
        let passes = job.passes.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            job.passes.load(Ordering::SeqCst),
            passes,
            "no pass after shutdown"
        );
    }
}
