//! `EntryCache`: the newest entries of one group's log, kept in memory from `append` until
//! they are applied, so that applying them, and replicating them to followers that keep up,
//! reads nothing back from RocksDB.
//!
//! ```text
//!  append(entries) ──► RocksDB (durable) ──► cache.push: consecutive indexes, oldest first
//!  read(range) ──────► cache.get: the whole range cached? clones (a batch is `Bytes`) : None
//!  state machine ────► cache.applied(i): forget entries <= i, except the newest `KEEP` bytes
//!  truncate(i) / purge(i) ──► forget i.. / ..=i, as the log does
//! ```
//!
//! Reading an entry back from RocksDB meant a seek into every L0 file of the log (each holds
//! all groups' keys), a block read and a copy of the batch: ~5% of a leader's CPU under load.
//! Entries stay until applied, so memory is bounded by what is not yet applied (plus `KEEP`
//! for a follower a little behind), and never more than `MAX` bytes per group.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use openraft::{Entry, EntryPayload};

use crate::type_config::{Command, TypeConfig};

/// Applied entries still kept, newest first, for a follower whose replication lags the apply.
const KEEP: usize = 512 << 10;
/// Most bytes cached per group: beyond it the oldest entries are dropped, applied or not
/// (a reader then falls back to RocksDB).
const MAX: usize = 16 << 20;

/// Cheap to clone; clones share the cache (the log store and its readers hold one each).
#[derive(Clone, Default, Debug)]
pub struct EntryCache {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default, Debug)]
struct Inner {
    /// Consecutive indexes.
    entries: VecDeque<Entry<TypeConfig>>,
    bytes: usize,
    /// Entries up to this index are applied (may be dropped once over `KEEP`).
    applied: u64,
}

/// The bytes an entry holds, as far as the cache's bounds are concerned.
fn size(e: &Entry<TypeConfig>) -> usize {
    64 + match &e.payload {
        EntryPayload::Normal(Command::Write { batch }) => batch.len(),
        _ => 0,
    }
}

impl EntryCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds entries just written to the log (ascending, consecutive). An entry that does not
    /// follow the cached ones (after a truncation the cache did not see) restarts the cache.
    pub fn push(&self, entries: Vec<Entry<TypeConfig>>) {
        let mut c = self.lock();
        for e in entries {
            let follows = c
                .entries
                .back()
                .is_none_or(|last| last.log_id.index + 1 == e.log_id.index);
            if !follows {
                c.entries.clear();
                c.bytes = 0;
            }
            c.bytes += size(&e);
            c.entries.push_back(e);
        }
        c.trim();
    }

    /// Clones of the entries with indexes in `[start, end)`, if every one is cached.
    pub fn get(&self, start: u64, end: u64) -> Option<Vec<Entry<TypeConfig>>> {
        if start >= end {
            return Some(Vec::new());
        }
        let c = self.lock();
        let first = c.entries.front()?.log_id.index;
        let last = c.entries.back()?.log_id.index;
        if start < first || end - 1 > last {
            return None;
        }
        let from = (start - first) as usize;
        let to = (end - first) as usize;
        Some(c.entries.range(from..to).cloned().collect())
    }

    /// Entries up to `index` are applied: they may go.
    pub fn applied(&self, index: u64) {
        let mut c = self.lock();
        c.applied = c.applied.max(index);
        c.trim();
    }

    /// Forgets entries from `index` on (the log truncated them).
    pub fn truncate(&self, index: u64) {
        let mut c = self.lock();
        while c.entries.back().is_some_and(|e| e.log_id.index >= index) {
            let e = c.entries.pop_back().expect("checked");
            c.bytes -= size(&e);
        }
    }

    /// Forgets entries up to `index` (the log purged them).
    pub fn purge(&self, index: u64) {
        let mut c = self.lock();
        c.pop_front_while(|e, _| e.log_id.index <= index);
    }

    #[cfg(test)]
    pub(crate) fn cached(&self) -> Vec<u64> {
        self.lock().entries.iter().map(|e| e.log_id.index).collect()
    }
}

impl Inner {
    /// Drops applied entries beyond the newest `KEEP` bytes, and anything beyond `MAX`.
    fn trim(&mut self) {
        let applied = self.applied;
        self.pop_front_while(|e, bytes| bytes > MAX || (e.log_id.index <= applied && bytes > KEEP));
    }

    fn pop_front_while(&mut self, drop: impl Fn(&Entry<TypeConfig>, usize) -> bool) {
        while let Some(e) = self.entries.front() {
            if !drop(e, self.bytes) {
                break;
            }
            self.bytes -= size(e);
            self.entries.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, LogId};

    fn entry(index: u64, len: usize) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Command::Write {
                batch: vec![index as u8; len].into(),
            }),
        }
    }

    #[test]
    fn whole_ranges_are_served_and_partial_ones_are_not() {
        let c = EntryCache::default();
        c.push((5..10).map(|i| entry(i, 10)).collect());
        let got = c.get(6, 9).unwrap();
        assert_eq!(
            got.iter().map(|e| e.log_id.index).collect::<Vec<_>>(),
            [6, 7, 8]
        );
        assert_eq!(got[0], entry(6, 10));
        assert!(c.get(4, 7).is_none(), "index 4 is not cached");
        assert!(c.get(8, 11).is_none(), "index 10 is not cached");
        assert_eq!(c.get(9, 9).unwrap(), []);
    }

    #[test]
    fn applied_entries_go_beyond_the_kept_tail_and_the_size_is_capped() {
        let c = EntryCache::default();
        let big = KEEP / 4;
        c.push((1..=8).map(|i| entry(i, big)).collect());
        // Nothing applied: everything stays (under MAX).
        assert_eq!(c.cached(), (1..=8).collect::<Vec<_>>());
        // Applied up to 6: the oldest go while over KEEP. Eight entries of a quarter of KEEP
        // (plus 64 bytes each) are over it down to three.
        c.applied(6);
        assert_eq!(c.cached(), [6, 7, 8]);
        // Unapplied entries are only dropped beyond MAX: twenty entries of 1 MiB (plus 64
        // bytes each) keep the newest fifteen.
        let c = EntryCache::default();
        c.push((1..=20).map(|i| entry(i, 1 << 20)).collect());
        assert_eq!(c.cached(), (6..=20).collect::<Vec<_>>());
    }

    #[test]
    fn truncation_purge_and_gaps_keep_the_cache_consecutive() {
        let c = EntryCache::default();
        c.push((1..=6).map(|i| entry(i, 1)).collect());
        c.truncate(5);
        assert_eq!(c.cached(), [1, 2, 3, 4]);
        c.purge(2);
        assert_eq!(c.cached(), [3, 4]);
        // A new leader's entries from 5 on follow.
        c.push(vec![entry(5, 2)]);
        assert_eq!(c.get(3, 6).unwrap()[2], entry(5, 2));
        // An entry that leaves a gap restarts the cache.
        c.push(vec![entry(9, 1)]);
        assert_eq!(c.cached(), [9]);
        assert!(c.get(5, 6).is_none());
    }
}
