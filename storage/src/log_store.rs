//! `LogStore`: append-only logs of opaque entries, one per group id, and small records per
//! `(group, kind)`, in the node's RocksDB. It is the storage half of the Raft log store: what
//! an entry, a group or a record kind means is the consensus layer's business (storage must
//! not know Raft); the column families keep their historical names.
//!
//! ```text
//!  raft_log   group u64 · index u64 ──► entry bytes     append (one write, fsync if asked)
//!                                                        truncate_from(i): delete i..
//!                                                        purge_to(i, kind): delete ..=i and
//!                                                          put the caller's record, one write
//!                                                        reset(kinds): delete every entry
//!                                                          and those records, fsynced
//!  raft_state group u64 · kind u8   ──► record bytes    put_state / get_state
//!             group u64 · kind u8 · key bytes ──► value   put_state_and_entries (with a record,
//!                                                          one write), state_entries (scan),
//!                                                          replace_state_entries (range delete)
//! ```
//! Keyed entries let a caller persist a large map per key instead of inside one record. Their
//! kind must be one no record uses: a record's key is the 9-byte prefix of its entries' keys.
//! Layout: `storage/docs/format/keys.md` and the "Raft state" section of `wal.md`.

use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamily, DB, Direction, IteratorMode, Options, ReadOptions, WriteOptions};

use crate::error::{Error, Result};
use crate::keys::{CF_RAFT_LOG, CF_RAFT_STATE, log_key, parse_log_key};

/// `range` as a first index and an exclusive end, `None` for an end past `u64::MAX` (`..` or
/// `..=u64::MAX`); `None` altogether if it starts past `u64::MAX`.
pub fn index_bounds(range: &impl RangeBounds<u64>) -> Option<(u64, Option<u64>)> {
    let start = match range.start_bound() {
        Bound::Included(&i) => i,
        Bound::Excluded(&i) => i.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&i) => i.checked_add(1),
        Bound::Excluded(&e) => Some(e),
        Bound::Unbounded => None,
    };
    Some((start, end))
}

/// `raft_state` key: `group u64 · kind u8`, big-endian. The kinds are the caller's.
pub fn state_key(group: u64, kind: u8) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[..8].copy_from_slice(&group.to_be_bytes());
    k[8] = kind;
    k
}

/// `raft_state` key of one keyed entry: `state_key(group, kind)` followed by `key`.
pub fn state_entry_key(group: u64, kind: u8, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(9 + key.len());
    k.extend_from_slice(&state_key(group, kind));
    k.extend_from_slice(key);
    k
}

/// The first key past every key starting with `prefix`, `None` if no such key exists (the
/// prefix is all `0xff`).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The first `raft_log` key past every entry of `group`.
fn log_end(group: u64) -> Vec<u8> {
    match group.checked_add(1) {
        Some(g) => log_key(g, 0).to_vec(),
        // Group u64::MAX: the key after (MAX, MAX) is the 17-byte key below.
        None => {
            let mut e = log_key(group, u64::MAX).to_vec();
            e.push(0);
            e
        }
    }
}

/// A change to one keyed entry: `Some` puts the value, `None` deletes the key.
pub type EntryChange<'a> = (&'a [u8], Option<&'a [u8]>);

/// Log entries and state records of every Raft group on this node, over a shared RocksDB.
///
/// Cheap to clone (an `Arc`); every method is a direct RocksDB call, so callers serialise
/// their own writes per group as Raft requires (one log writer per group).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
}

impl std::fmt::Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore")
            .field("path", &self.db.path())
            .finish()
    }
}

impl LogStore {
    /// Wraps a DB that was opened with the `raft_log` and `raft_state` column families.
    pub fn new(db: Arc<DB>) -> Result<LogStore> {
        for name in [CF_RAFT_LOG, CF_RAFT_STATE] {
            if db.cf_handle(name).is_none() {
                return Err(Error::Config {
                    field: "column families",
                    reason: format!("the RocksDB at {} has no {name:?}", db.path().display()),
                });
            }
        }
        Ok(LogStore { db })
    }

    /// Opens (or creates) a RocksDB holding only the two Raft column families: for tests and
    /// tools; a node shares the engine's DB through [`LogStore::new`].
    pub fn open_standalone(path: &Path) -> Result<LogStore> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let db = DB::open_cf(&opts, path, [CF_RAFT_LOG, CF_RAFT_STATE]).map_err(|source| {
            Error::Rocks {
                path: path.to_path_buf(),
                source,
            }
        })?;
        LogStore::new(Arc::new(db))
    }

    fn cf(&self, name: &str) -> &ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("LogStore::new checked that both column families exist")
    }

    /// Writes `entries` of `group` in one RocksDB write; with `sync`, returns only after the
    /// write is fsynced (RocksDB's WAL is one file, so this also persists every earlier write).
    /// The caller keeps the log contiguous; an existing index is overwritten.
    pub fn append<B: AsRef<[u8]>>(
        &self,
        group: u64,
        entries: &[(u64, B)],
        sync: bool,
    ) -> Result<()> {
        debug_assert!(
            entries.windows(2).all(|w| w[1].0 == w[0].0 + 1),
            "log entries must be appended contiguously"
        );
        let cf = self.cf(CF_RAFT_LOG);
        let mut wb = rocksdb::WriteBatch::default();
        for (index, bytes) in entries {
            wb.put_cf(cf, log_key(group, *index), bytes.as_ref());
        }
        self.write(wb, sync)
    }

    /// Entries of `group` whose index lies in `range`, in index order. Missing indexes (purged
    /// or never written) are simply absent.
    pub fn read(&self, group: u64, range: impl RangeBounds<u64>) -> Result<Vec<(u64, Vec<u8>)>> {
        let Some((start, end)) = index_bounds(&range) else {
            return Ok(Vec::new());
        };
        // Exclusive end as (group, index) so that `..=u64::MAX` still has a bound.
        let end_key = match end {
            Some(e) => Some(log_key(group, e)),
            None => group.checked_add(1).map(|g| log_key(g, 0)),
        };
        let start_key = log_key(group, start);
        if end_key.is_some_and(|e| e <= start_key) {
            return Ok(Vec::new());
        }
        let mut ro = ReadOptions::default();
        if let Some(e) = end_key {
            ro.set_iterate_upper_bound(e.to_vec());
        }
        let it = self.db.iterator_cf_opt(
            self.cf(CF_RAFT_LOG),
            ro,
            IteratorMode::From(&start_key, Direction::Forward),
        );
        let mut out = Vec::new();
        for kv in it {
            let (k, v) = kv?;
            let (g, index) = parse_log_key(&k)?;
            // Only reachable without an upper bound, i.e. for group u64::MAX.
            if g != group {
                break;
            }
            out.push((index, v.into_vec()));
        }
        Ok(out)
    }

    /// The entry of `group` with the highest index, if any is left.
    pub fn last(&self, group: u64) -> Result<Option<(u64, Vec<u8>)>> {
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(log_key(group, 0).to_vec());
        let seek = log_key(group, u64::MAX);
        let mut it = self.db.iterator_cf_opt(
            self.cf(CF_RAFT_LOG),
            ro,
            IteratorMode::From(&seek, Direction::Reverse),
        );
        match it.next() {
            None => Ok(None),
            Some(kv) => {
                let (k, v) = kv?;
                let (g, index) = parse_log_key(&k)?;
                Ok((g == group).then(|| (index, v.into_vec())))
            }
        }
    }

    /// Deletes every entry of `group` from `index` on (a conflicting suffix), fsynced: a
    /// truncated entry must not come back after a crash once a later entry replaces it.
    pub fn truncate_from(&self, group: u64, index: u64) -> Result<()> {
        let mut wb = rocksdb::WriteBatch::default();
        wb.delete_range_cf(
            self.cf(CF_RAFT_LOG),
            log_key(group, index).to_vec(),
            log_end(group),
        );
        self.write(wb, true)
    }

    /// Deletes every entry of `group` and its records of the `kinds` given, in one fsynced
    /// write (a group whose state machine lost what the log claims it applied starts over
    /// with an empty log; the caller keeps what it must, e.g. its vote).
    pub fn reset(&self, group: u64, kinds: &[u8]) -> Result<()> {
        let mut wb = rocksdb::WriteBatch::default();
        wb.delete_range_cf(
            self.cf(CF_RAFT_LOG),
            log_key(group, 0).to_vec(),
            log_end(group),
        );
        for &kind in kinds {
            wb.delete_cf(self.cf(CF_RAFT_STATE), state_key(group, kind));
        }
        self.write(wb, true)
    }

    /// Deletes every entry of `group` up to and including `index` and, in the same RocksDB
    /// write, stores `record` under `kind` (the caller's record of the purged position), so
    /// the log and its purged mark never disagree after a crash. Not fsynced: purged entries
    /// that reappear after a crash are harmless, as the mark reappears with them.
    pub fn purge_to(&self, group: u64, index: u64, kind: u8, record: &[u8]) -> Result<()> {
        let end = match index.checked_add(1) {
            Some(e) => log_key(group, e).to_vec(),
            None => {
                let mut e = log_key(group, u64::MAX).to_vec();
                e.push(0);
                e
            }
        };
        let mut wb = rocksdb::WriteBatch::default();
        wb.delete_range_cf(self.cf(CF_RAFT_LOG), log_key(group, 0).to_vec(), end);
        wb.put_cf(self.cf(CF_RAFT_STATE), state_key(group, kind), record);
        self.write(wb, false)
    }

    /// Stores a state record of `group`; with `sync`, durable when this returns.
    pub fn put_state(&self, group: u64, kind: u8, bytes: &[u8], sync: bool) -> Result<()> {
        let mut wb = rocksdb::WriteBatch::default();
        wb.put_cf(self.cf(CF_RAFT_STATE), state_key(group, kind), bytes);
        self.write(wb, sync)
    }

    pub fn get_state(&self, group: u64, kind: u8) -> Result<Option<Vec<u8>>> {
        Ok(self
            .db
            .get_cf(self.cf(CF_RAFT_STATE), state_key(group, kind))?)
    }

    /// Stores a state record of `group` and applies `changes` to its keyed entries of
    /// `entries_kind`, in one RocksDB write: the record (which says how far the entries go,
    /// e.g. an applied log id) never disagrees with them after a crash.
    pub fn put_state_and_entries(
        &self,
        group: u64,
        kind: u8,
        record: &[u8],
        entries_kind: u8,
        changes: &[EntryChange<'_>],
        sync: bool,
    ) -> Result<()> {
        let cf = self.cf(CF_RAFT_STATE);
        let mut wb = rocksdb::WriteBatch::default();
        for (key, value) in changes {
            let k = state_entry_key(group, entries_kind, key);
            match value {
                Some(v) => wb.put_cf(cf, k, v),
                None => wb.delete_cf(cf, k),
            }
        }
        wb.put_cf(cf, state_key(group, kind), record);
        self.write(wb, sync)
    }

    /// Every keyed entry of `group` under `entries_kind`, as (key without the prefix, value),
    /// in key order.
    pub fn state_entries(&self, group: u64, entries_kind: u8) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let prefix = state_key(group, entries_kind);
        let mut ro = ReadOptions::default();
        if let Some(end) = prefix_end(&prefix) {
            ro.set_iterate_upper_bound(end);
        }
        let it = self.db.iterator_cf_opt(
            self.cf(CF_RAFT_STATE),
            ro,
            IteratorMode::From(&prefix, Direction::Forward),
        );
        let mut out = Vec::new();
        for kv in it {
            let (k, v) = kv?;
            // Only reachable without an upper bound (group u64::MAX, kind 0xff).
            if !k.starts_with(&prefix) {
                break;
            }
            out.push((k[prefix.len()..].to_vec(), v.into_vec()));
        }
        Ok(out)
    }

    /// Replaces every keyed entry of `group` under `entries_kind` with `entries` and stores
    /// the record, in one RocksDB write (a snapshot install: no stale key survives, and a
    /// crash leaves the old state or the new one).
    pub fn replace_state_entries<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        group: u64,
        kind: u8,
        record: &[u8],
        entries_kind: u8,
        entries: &[(K, V)],
        sync: bool,
    ) -> Result<()> {
        let cf = self.cf(CF_RAFT_STATE);
        let prefix = state_key(group, entries_kind);
        let mut wb = rocksdb::WriteBatch::default();
        match prefix_end(&prefix) {
            Some(end) => wb.delete_range_cf(cf, prefix.to_vec(), end),
            // The last prefix of all has no end key: delete what is there one by one.
            None => {
                for (key, _) in self.state_entries(group, entries_kind)? {
                    wb.delete_cf(cf, state_entry_key(group, entries_kind, &key));
                }
            }
        }
        for (key, value) in entries {
            wb.put_cf(
                cf,
                state_entry_key(group, entries_kind, key.as_ref()),
                value.as_ref(),
            );
        }
        wb.put_cf(cf, state_key(group, kind), record);
        self.write(wb, sync)
    }

    /// Fsyncs RocksDB's WAL: every write made before this call, synced or not, is durable
    /// when it returns. With unsynced appends (readable at once) this lets one writer thread
    /// make many groups' entries durable with a single fsync (group commit across groups).
    pub fn sync(&self) -> Result<()> {
        Ok(self.db.flush_wal(true)?)
    }

    fn write(&self, wb: rocksdb::WriteBatch, sync: bool) -> Result<()> {
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        self.db.write_opt(wb, &wo)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Record kinds of these tests (the consensus layer has its own).
    const VOTE: u8 = 1;
    const COMMITTED: u8 = 2;
    const PURGED: u8 = 3;
    const OTHER: u8 = 4;

    fn store() -> (tempfile::TempDir, LogStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = LogStore::open_standalone(dir.path()).unwrap();
        (dir, s)
    }

    fn entries(r: std::ops::RangeInclusive<u64>) -> Vec<(u64, Vec<u8>)> {
        r.map(|i| (i, format!("e{i}").into_bytes())).collect()
    }

    fn indexes(v: &[(u64, Vec<u8>)]) -> Vec<u64> {
        v.iter().map(|(i, _)| *i).collect()
    }

    #[test]
    fn raft_log_append_read_last_per_group() {
        let (_d, s) = store();
        assert_eq!(s.last(1).unwrap(), None);
        s.append(1, &entries(1..=5), true).unwrap();
        s.append(2, &entries(1..=3), false).unwrap();
        s.append(0, &entries(7..=7), true).unwrap();

        assert_eq!(s.read(1, ..).unwrap(), entries(1..=5));
        assert_eq!(indexes(&s.read(1, 2..4).unwrap()), [2, 3]);
        assert_eq!(indexes(&s.read(1, 2..=4).unwrap()), [2, 3, 4]);
        assert_eq!(indexes(&s.read(1, 4..).unwrap()), [4, 5]);
        assert_eq!(indexes(&s.read(1, 3..3).unwrap()), Vec::<u64>::new());
        assert_eq!(
            indexes(&s.read(1, (Bound::Included(9), Bound::Excluded(2))).unwrap()),
            Vec::<u64>::new()
        );
        assert_eq!(
            indexes(
                &s.read(1, (Bound::Excluded(1), Bound::Included(u64::MAX)))
                    .unwrap()
            ),
            [2, 3, 4, 5]
        );
        assert_eq!(s.read(2, ..).unwrap(), entries(1..=3));
        assert_eq!(s.last(1).unwrap(), Some((5, b"e5".to_vec())));
        assert_eq!(s.last(2).unwrap(), Some((3, b"e3".to_vec())));
        assert_eq!(s.last(0).unwrap(), Some((7, b"e7".to_vec())));
        assert_eq!(s.last(3).unwrap(), None);
    }

    #[test]
    fn raft_log_extreme_groups_and_indexes() {
        let (_d, s) = store();
        s.append(u64::MAX, &[(u64::MAX - 1, b"a"), (u64::MAX, b"b")], true)
            .unwrap();
        s.append(u64::MAX - 1, &[(1, b"x")], true).unwrap();
        assert_eq!(
            indexes(&s.read(u64::MAX, ..).unwrap()),
            [u64::MAX - 1, u64::MAX]
        );
        assert_eq!(
            indexes(&s.read(u64::MAX, ..=u64::MAX).unwrap()),
            [u64::MAX - 1, u64::MAX]
        );
        assert_eq!(s.last(u64::MAX).unwrap(), Some((u64::MAX, b"b".to_vec())));
        assert_eq!(s.last(u64::MAX - 1).unwrap(), Some((1, b"x".to_vec())));
        s.truncate_from(u64::MAX, u64::MAX).unwrap();
        assert_eq!(
            s.last(u64::MAX).unwrap(),
            Some((u64::MAX - 1, b"a".to_vec()))
        );
        s.purge_to(u64::MAX, u64::MAX, PURGED, b"p").unwrap();
        assert_eq!(s.last(u64::MAX).unwrap(), None);
        assert_eq!(s.last(u64::MAX - 1).unwrap(), Some((1, b"x".to_vec())));
    }

    #[test]
    fn raft_log_truncate_and_purge_touch_one_group() {
        let (_d, s) = store();
        s.append(1, &entries(1..=10), true).unwrap();
        s.append(2, &entries(1..=10), true).unwrap();

        s.truncate_from(1, 8).unwrap();
        assert_eq!(
            indexes(&s.read(1, ..).unwrap()),
            (1..=7).collect::<Vec<_>>()
        );
        s.append(1, &entries(8..=9), true).unwrap();
        assert_eq!(s.last(1).unwrap(), Some((9, b"e9".to_vec())));

        assert_eq!(s.get_state(1, PURGED).unwrap(), None);
        s.purge_to(1, 4, PURGED, b"upto-4").unwrap();
        assert_eq!(
            indexes(&s.read(1, ..).unwrap()),
            (5..=9).collect::<Vec<_>>()
        );
        assert_eq!(s.get_state(1, PURGED).unwrap(), Some(b"upto-4".to_vec()));
        // Purging past the last entry empties the log but keeps the mark.
        s.purge_to(1, 20, PURGED, b"upto-20").unwrap();
        assert_eq!(s.last(1).unwrap(), None);
        assert_eq!(s.get_state(1, PURGED).unwrap(), Some(b"upto-20".to_vec()));

        assert_eq!(s.read(2, ..).unwrap(), entries(1..=10));
        assert_eq!(s.get_state(2, PURGED).unwrap(), None);
    }

    #[test]
    fn raft_log_reset_empties_one_group_and_drops_the_kinds_named() {
        let (_d, s) = store();
        for g in [1, 2, u64::MAX] {
            s.append(g, &entries(1..=5), false).unwrap();
            s.put_state(g, VOTE, b"v", false).unwrap();
            s.put_state(g, COMMITTED, b"c", false).unwrap();
            s.purge_to(g, 2, PURGED, b"p").unwrap();
        }
        s.reset(1, &[COMMITTED, PURGED]).unwrap();
        s.reset(u64::MAX, &[PURGED]).unwrap();
        assert_eq!(s.last(1).unwrap(), None);
        assert_eq!(s.get_state(1, VOTE).unwrap(), Some(b"v".to_vec()));
        assert_eq!(s.get_state(1, COMMITTED).unwrap(), None);
        assert_eq!(s.get_state(1, PURGED).unwrap(), None);
        assert_eq!(s.last(u64::MAX).unwrap(), None);
        assert_eq!(
            s.get_state(u64::MAX, COMMITTED).unwrap(),
            Some(b"c".to_vec())
        );
        assert_eq!(
            indexes(&s.read(2, ..).unwrap()),
            [3, 4, 5],
            "other groups untouched"
        );
        assert_eq!(s.get_state(2, PURGED).unwrap(), Some(b"p".to_vec()));
    }

    #[test]
    fn raft_state_per_group_and_kind_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = LogStore::open_standalone(dir.path()).unwrap();
            s.put_state(1, VOTE, b"v1", true).unwrap();
            s.put_state(1, COMMITTED, b"c1", false).unwrap();
            s.put_state(2, VOTE, b"v2", true).unwrap();
            s.put_state(1, VOTE, b"v1b", true).unwrap();
            s.append(1, &entries(1..=3), false).unwrap();
            s.purge_to(1, 1, PURGED, b"p1").unwrap();
            s.sync().unwrap();
        }
        let s = LogStore::open_standalone(dir.path()).unwrap();
        assert_eq!(s.get_state(1, VOTE).unwrap(), Some(b"v1b".to_vec()));
        assert_eq!(s.get_state(1, COMMITTED).unwrap(), Some(b"c1".to_vec()));
        assert_eq!(s.get_state(2, VOTE).unwrap(), Some(b"v2".to_vec()));
        assert_eq!(s.get_state(2, COMMITTED).unwrap(), None);
        assert_eq!(s.get_state(1, OTHER).unwrap(), None);
        assert_eq!(s.get_state(1, PURGED).unwrap(), Some(b"p1".to_vec()));
        assert_eq!(indexes(&s.read(1, ..).unwrap()), [2, 3]);
    }

    #[test]
    fn raft_log_new_rejects_db_without_raft_families() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = Options::default();
        opts.create_if_missing(true);
        let db = DB::open(&opts, dir.path()).unwrap();
        assert!(matches!(
            LogStore::new(Arc::new(db)),
            Err(Error::Config { .. })
        ));
    }

    #[test]
    fn raft_state_entries_write_scan_and_replace_per_group_and_kind() {
        const ENTRIES: u8 = 6;
        let dir = tempfile::tempdir().unwrap();
        let entries_of = |s: &LogStore, g| -> Vec<(String, String)> {
            s.state_entries(g, ENTRIES)
                .unwrap()
                .into_iter()
                .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
                .collect()
        };
        let owned = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        {
            let s = LogStore::open_standalone(dir.path()).unwrap();
            // Neighbours that must not show up: a record of the same kind byte's
            // neighbours, the next group's entries, the same group's next kind.
            s.put_state(1, ENTRIES - 1, b"rec", false).unwrap();
            s.put_state(1, ENTRIES + 1, b"rec", false).unwrap();
            s.put_state_and_entries(2, OTHER, b"g2", ENTRIES, &[(b"a", Some(b"x"))], false)
                .unwrap();
            s.put_state_and_entries(
                1,
                OTHER,
                b"r1",
                ENTRIES,
                &[(b"b", Some(b"1")), (b"a", Some(b"2")), (b"", Some(b"e"))],
                false,
            )
            .unwrap();
            s.put_state_and_entries(1, OTHER, b"r2", ENTRIES, &[(b"b", None)], false)
                .unwrap();
            s.sync().unwrap();
        }
        let s = LogStore::open_standalone(dir.path()).unwrap();
        assert_eq!(entries_of(&s, 1), owned(&[("", "e"), ("a", "2")]));
        assert_eq!(s.get_state(1, OTHER).unwrap(), Some(b"r2".to_vec()));
        assert_eq!(s.get_state(1, ENTRIES - 1).unwrap(), Some(b"rec".to_vec()));
        assert_eq!(entries_of(&s, 2), owned(&[("a", "x")]));

        s.replace_state_entries(1, OTHER, b"r3", ENTRIES, &[("c", "3"), ("a", "4")], false)
            .unwrap();
        assert_eq!(entries_of(&s, 1), owned(&[("a", "4"), ("c", "3")]));
        assert_eq!(s.get_state(1, OTHER).unwrap(), Some(b"r3".to_vec()));
        assert_eq!(s.get_state(1, ENTRIES + 1).unwrap(), Some(b"rec".to_vec()));
        assert_eq!(
            entries_of(&s, 2),
            owned(&[("a", "x")]),
            "other groups untouched"
        );

        // The very last prefix has no end key: replaced key by key.
        s.put_state_and_entries(u64::MAX, 0xff, b"m", 0xff, &[(b"old", Some(b"1"))], false)
            .unwrap();
        s.replace_state_entries(u64::MAX, 0xfe, b"m", 0xff, &[("new", "2")], false)
            .unwrap();
        assert_eq!(
            s.state_entries(u64::MAX, 0xff).unwrap(),
            vec![(b"new".to_vec(), b"2".to_vec())]
        );
    }

    #[test]
    fn raft_state_prefix_end() {
        assert_eq!(prefix_end(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }

    #[test]
    fn raft_state_key_layout() {
        assert_eq!(state_key(0x0102, PURGED), [0, 0, 0, 0, 0, 0, 1, 2, 3]);
    }
}
