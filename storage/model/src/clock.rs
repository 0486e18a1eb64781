//! `Clock`: where every part of Cairn reads the time, so that tests control it. Production
//! code is given a [`SystemClock`]; tests a [`ManualClock`] they move by hand. The clock tells
//! wall time (for samples, retention, alert timestamps) and monotonic time (for intervals and
//! deadlines); waiting is the caller's business (a runtime's timer in `cairn-node`).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of time.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch (wall time; may jump).
    fn now_ms(&self) -> i64;

    /// A monotonic instant (never goes back; for measuring intervals).
    fn instant(&self) -> Instant;
}

/// The operating system's clocks.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to: wall and monotonic time advance together by
/// [`ManualClock::advance`]. Clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

#[derive(Debug)]
struct ManualInner {
    start: Instant,
    wall_ms: AtomicI64,
    /// Milliseconds advanced since `start`.
    offset_ms: AtomicI64,
}

impl ManualClock {
    /// A clock reading `wall_ms` (milliseconds since the epoch).
    pub fn new(wall_ms: i64) -> ManualClock {
        ManualClock {
            inner: Arc::new(ManualInner {
                start: Instant::now(),
                wall_ms: AtomicI64::new(wall_ms),
                offset_ms: AtomicI64::new(0),
            }),
        }
    }

    /// Moves both clocks forward by `by` (whole milliseconds).
    pub fn advance(&self, by: Duration) {
        let ms = by.as_millis() as i64;
        self.inner.wall_ms.fetch_add(ms, Ordering::SeqCst);
        self.inner.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the wall clock (a jump, as NTP may make); the monotonic clock does not move.
    pub fn set_wall_ms(&self, wall_ms: i64) {
        self.inner.wall_ms.store(wall_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.inner.wall_ms.load(Ordering::SeqCst)
    }

    fn instant(&self) -> Instant {
        let off = self.inner.offset_ms.load(Ordering::SeqCst).max(0) as u64;
        self.inner.start + Duration::from_millis(off)
    }
}

/// The system clock shifted by an offset that only grows: a development clock, so that a
/// whole cluster of real processes can be moved days ahead (retention and rollups age data)
/// without waiting. Monotonic time moves with the offset too, as a [`ManualClock`]'s does.
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset_ms: AtomicI64,
}

impl OffsetClock {
    pub fn new() -> OffsetClock {
        OffsetClock::default()
    }

    /// Moves the clock forward by `ms` (negative values are ignored: time never goes back).
    pub fn advance_ms(&self, ms: i64) -> i64 {
        self.offset_ms.fetch_add(ms.max(0), Ordering::SeqCst) + ms.max(0)
    }

    /// How far ahead of the system clock this clock is, in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }
}

impl Clock for OffsetClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.offset_ms()
    }

    fn instant(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.offset_ms() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let c = ManualClock::new(1_700_000_000_000);
        let other = c.clone();
        let t0 = c.instant();
        assert_eq!(c.now_ms(), 1_700_000_000_000);
        other.advance(Duration::from_secs(90));
        assert_eq!(c.now_ms(), 1_700_000_090_000);
        assert_eq!(c.instant() - t0, Duration::from_secs(90));
        c.set_wall_ms(5);
        assert_eq!(other.now_ms(), 5);
        assert_eq!(c.instant() - t0, Duration::from_secs(90), "a wall jump");
    }

    #[test]
    fn an_offset_clock_runs_ahead_of_the_system_clock_and_never_back() {
        let c = OffsetClock::new();
        assert_eq!(c.advance_ms(86_400_000), 86_400_000);
        assert_eq!(c.advance_ms(-5), 86_400_000);
        let ahead = c.now_ms() - SystemClock.now_ms();
        assert!((86_399_000..=86_400_000).contains(&ahead), "{ahead}");
        assert!(c.instant() > Instant::now() + Duration::from_secs(86_000));
    }

    #[test]
    fn the_system_clock_is_near_the_os_time() {
        let ms = SystemClock.now_ms();
        assert!(ms > 1_600_000_000_000, "{ms}");
        let a = SystemClock.instant();
        assert!(SystemClock.instant() >= a);
    }
}
