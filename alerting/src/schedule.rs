//! When a rule group is evaluated: Prometheus' slotting (rules/group.go, v3.0). Each group
//! runs at `offset + k * interval`, where the offset is a hash of the group's name and file
//! modulo the interval, so groups with the same interval spread out instead of all running
//! at the top of the minute. After an evaluation overran, the missed slots are counted and
//! skipped, never run late one after another. Pure: the node's timer asks it for times.
//!
//! ```text
//!   |-- offset --|----- interval -----|----- interval -----|
//!   0            slot                 slot                 slot   (ms since the epoch)
//! ```

use std::collections::BTreeMap;

use crate::alert::fingerprint;

/// The slots of one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupSchedule {
    pub interval_ms: i64,
    /// Where the group's slots sit within an interval, in [0, interval).
    pub offset_ms: i64,
}

/// The next evaluation after an earlier one, and how many slots were skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextEval {
    pub ts_ms: i64,
    /// Slots that passed while the previous evaluation ran (Prometheus'
    /// `rule_group_iterations_missed_total`).
    pub missed: u64,
}

impl GroupSchedule {
    /// The schedule of group `name` of `file`. `interval_ms` must be positive (rule files
    /// reject other intervals); anything less is taken as 1 ms.
    pub fn new(file: &str, name: &str, interval_ms: i64) -> GroupSchedule {
        let interval_ms = interval_ms.max(1);
        // Prometheus hashes the label set {file, name} and takes it modulo the interval in
        // nanoseconds; flooring that to ms gives the same millisecond timestamps.
        let h = fingerprint(&BTreeMap::from([
            ("file".to_string(), file.to_string()),
            ("name".to_string(), name.to_string()),
        ]));
        let interval_ns = interval_ms as u64 * 1_000_000;
        let offset_ms = ((h % interval_ns) / 1_000_000) as i64;
        GroupSchedule {
            interval_ms,
            offset_ms,
        }
    }

    /// The latest slot at or before `now_ms` (Prometheus' `Group.EvalTimestamp`).
    pub fn slot_at_or_before(&self, now_ms: i64) -> i64 {
        let adj = now_ms - self.offset_ms;
        adj - adj.rem_euclid(self.interval_ms) + self.offset_ms
    }

    /// The first evaluation of a group started at `now_ms`: the next slot after now, as
    /// Prometheus waits for it.
    pub fn first(&self, now_ms: i64) -> i64 {
        self.slot_at_or_before(now_ms) + self.interval_ms
    }

    /// The evaluation to run after the one at `last_ms`, when the timer fires at `now_ms`:
    /// the latest slot not after now (at least the next one), counting the slots skipped.
    pub fn after(&self, last_ms: i64, now_ms: i64) -> NextEval {
        let missed = ((now_ms - last_ms) / self.interval_ms - 1).max(0);
        NextEval {
            ts_ms: last_ms + (missed + 1) * self.interval_ms,
            missed: missed as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_is_the_group_hash_modulo_the_interval() {
        let s = GroupSchedule::new("rules.yml", "alerts", 60_000);
        assert!((0..60_000).contains(&s.offset_ms));
        let h = fingerprint(&BTreeMap::from([
            ("file".to_string(), "rules.yml".to_string()),
            ("name".to_string(), "alerts".to_string()),
        ]));
        assert_eq!(s.offset_ms as u64, (h % 60_000_000_000) / 1_000_000);
        // Another group gets another offset; the same group always the same.
        let t = GroupSchedule::new("rules.yml", "rules", 60_000);
        assert_ne!(s.offset_ms, t.offset_ms);
        assert_eq!(s, GroupSchedule::new("rules.yml", "alerts", 60_000));
    }

    #[test]
    fn slots_are_offset_plus_multiples_of_the_interval() {
        let s = GroupSchedule {
            interval_ms: 60_000,
            offset_ms: 12_345,
        };
        assert_eq!(s.slot_at_or_before(12_345), 12_345);
        assert_eq!(s.slot_at_or_before(12_344), 12_345 - 60_000);
        assert_eq!(s.slot_at_or_before(72_344), 12_345);
        assert_eq!(s.slot_at_or_before(72_345), 72_345);
        assert_eq!(s.first(72_345), 132_345);
        assert_eq!(s.first(100_000), 132_345);
        for now in [0, 1, 59_999, 1_700_000_000_123] {
            let slot = s.slot_at_or_before(now);
            assert!(slot <= now && now - slot < 60_000);
            assert_eq!((slot - 12_345).rem_euclid(60_000), 0);
        }
    }

    #[test]
    fn an_overrun_skips_slots_and_counts_them() {
        let s = GroupSchedule {
            interval_ms: 10_000,
            offset_ms: 0,
        };
        // On time (or a little late): the next slot, nothing missed.
        assert_eq!(
            s.after(100_000, 110_000),
            NextEval {
                ts_ms: 110_000,
                missed: 0
            }
        );
        assert_eq!(s.after(100_000, 119_999).missed, 0);
        // Two whole intervals late: one slot missed, the evaluation is at the latest slot.
        assert_eq!(
            s.after(100_000, 120_000),
            NextEval {
                ts_ms: 120_000,
                missed: 1
            }
        );
        assert_eq!(
            s.after(100_000, 155_000),
            NextEval {
                ts_ms: 150_000,
                missed: 4
            }
        );
        // A timer that fires early still moves one slot on.
        assert_eq!(s.after(100_000, 105_000).ts_ms, 110_000);
    }
}
