//! `SnapshotThrottle`: the node's limit on snapshot bytes it sends, shared by every group (a
//! token bucket), so that moving shards does not starve the appends and heartbeats that share
//! the links. Settable at runtime; 0 is unlimited. It only paces: the sender asks before each
//! chunk and sleeps as told.
//!
//! ```text
//!  rate r bytes/s, bucket of r × BURST ──► acquire(n): bucket not in debt? take n (may go
//!  into debt by one chunk) : sleep until the refill pays the debt (at most MAX_SLEEP, then ask
//!  again, so a raised rate applies at once)
//! ```
//! Over any run of chunks, `bytes − bucket − one chunk ≤ r × elapsed`: the bound the
//! transport test checks.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How much sending the bucket saves up while idle: this long at the full rate.
pub const BURST: Duration = Duration::from_millis(250);

/// The longest one wait before the bucket is asked again (a changed rate applies then).
const MAX_SLEEP: Duration = Duration::from_millis(100);

struct Bucket {
    /// Bytes per second; 0 is unlimited.
    rate: u64,
    /// Bytes that may go now; negative is a debt to wait off.
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    fn capacity(&self) -> f64 {
        self.rate as f64 * BURST.as_secs_f64()
    }

    fn refill(&mut self, now: Instant) {
        let secs = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + secs * self.rate as f64).min(self.capacity());
        self.refilled = now;
    }
}

/// The token bucket; see the module docs.
pub struct SnapshotThrottle {
    bucket: Mutex<Bucket>,
}

impl Default for SnapshotThrottle {
    fn default() -> Self {
        SnapshotThrottle {
            bucket: Mutex::new(Bucket {
                rate: 0,
                tokens: 0.0,
                refilled: Instant::now(),
            }),
        }
    }
}

impl SnapshotThrottle {
    fn bucket(&self) -> std::sync::MutexGuard<'_, Bucket> {
        // Every update leaves a whole bucket: a poisoned lock still guards a usable one.
        self.bucket.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the rate in bytes per second (0: unlimited). The bucket starts full.
    pub fn set_rate(&self, bytes_per_s: u64) {
        let mut b = self.bucket();
        b.rate = bytes_per_s;
        b.tokens = b.capacity();
        b.refilled = Instant::now();
    }

    /// The rate in bytes per second (0: unlimited).
    pub fn rate(&self) -> u64 {
        self.bucket().rate
    }

    /// The bucket's size at the current rate: what may go at once after an idle spell.
    pub fn burst_bytes(&self) -> u64 {
        self.bucket().capacity() as u64
    }

    /// Waits until `bytes` may be sent, and counts them as sent.
    pub async fn acquire(&self, bytes: u64) {
        loop {
            let wait = {
                let mut b = self.bucket();
                if b.rate == 0 {
                    return;
                }
                b.refill(Instant::now());
                if b.tokens >= 0.0 {
                    b.tokens -= bytes as f64;
                    return;
                }
                Duration::from_secs_f64(-b.tokens / b.rate as f64)
            };
            tokio::time::sleep(wait.min(MAX_SLEEP)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Paused time: the sleeps are exact, so the pace is checked to the millisecond.
    #[tokio::test(start_paused = true)]
    async fn the_bucket_paces_bytes_to_the_rate_after_its_burst() {
        let t = SnapshotThrottle::default();
        let start = Instant::now();
        t.acquire(10 << 20).await;
        assert_eq!(start.elapsed(), Duration::ZERO, "unlimited by default");
        t.set_rate(1_000_000);
        assert_eq!(t.burst_bytes(), 250_000);
        let start = Instant::now();
        // The burst, then 40 chunks of 100 KB at 1 MB/s.
        for _ in 0..42 {
            t.acquire(100_000).await;
        }
        let elapsed = start.elapsed();
        // 4.2 MB sent: the last chunk went once the debt of 4.1 MB − 250 KB was paid.
        let least = Duration::from_secs_f64((4_200_000.0 - 250_000.0 - 100_000.0) / 1e6);
        assert!(elapsed >= least, "{elapsed:?} < {least:?}");
        assert!(elapsed < least + Duration::from_millis(200), "{elapsed:?}");
        // At 1 byte/s the bucket is deep in debt; lifted at runtime, a waiter goes within
        // one sleep instead of waiting the debt off.
        t.set_rate(1);
        t.acquire(1_000).await;
        let t = std::sync::Arc::new(t);
        let start = Instant::now();
        let blocked = tokio::spawn({
            let t = t.clone();
            async move { t.acquire(1).await }
        });
        // Let the waiter run into its wait (no time passes: the clock is paused).
        for _ in 0..16 {
            tokio::task::yield_now().await;
        }
        assert!(!blocked.is_finished());
        t.set_rate(0);
        blocked.await.unwrap();
        assert!(start.elapsed() <= MAX_SLEEP + Duration::from_millis(10));
    }
}
