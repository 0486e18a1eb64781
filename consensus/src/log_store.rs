//! `RocksRaftLog`: openraft's log storage (storage-v2 `RaftLogStorage` + `RaftLogReader`) for
//! one Raft group, on the node's RocksDB through `cairn_storage::log_store::LogStore`.
//!
//! ```text
//!  openraft ──append(entries, callback)──► encode (entry_codec) ──► raft_log, one write, fsync
//!                                                                     └─► callback: durable
//!           ──save_vote──────────────────► raft_state (group, vote)       fsync
//!           ──save_committed─────────────► raft_state (group, committed)  no fsync (a hint)
//!           ──purge(id)──────────────────► delete ..=id + raft_state (group, purged), one write
//!           ──truncate(id)───────────────► delete id.., fsync
//!  RaftGroups ──reset_keeping_vote───────► delete every entry, committed, purged; fsync
//! ```
//! The callback of `append` fires only after the fsync, so a leader counts an entry towards a
//! quorum (and a client hears 204) only once it is on this node's disk. With a [`LogSyncer`]
//! (a node's groups share one) the write itself is unsynced and the syncer thread fsyncs many
//! groups' appends at once; without one, each append is its own synced write.

pub mod entry_cache;
pub mod entry_codec;
pub mod state_kind;
pub mod syncer;

use std::fmt::Debug;
use std::ops::RangeBounds;

use cairn_storage::log_store::{LogStore, index_bounds};
use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{
    AnyError, Entry, LogId, LogState, OptionalSend, RaftLogReader, StorageError, StorageIOError,
    Vote,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::type_config::{NodeId, TypeConfig};
pub use entry_cache::EntryCache;
use entry_codec::{decode_entry, decode_log_id, encode_entry};
pub use state_kind::StateKind;
pub use syncer::LogSyncer;

/// The Raft log, vote and committed/purged marks of one group. Cheap to clone: clones share
/// the same RocksDB and entry cache, and serve as openraft's log readers for replication.
#[derive(Clone, Debug)]
pub struct RocksRaftLog {
    store: LogStore,
    group: u64,
    syncer: Option<LogSyncer>,
    /// Entries from append until applied (see `EntryCache`); reads try it first.
    cache: EntryCache,
}

impl RocksRaftLog {
    /// A log whose appends are each fsynced before `append` returns.
    pub fn new(store: LogStore, group: u64) -> RocksRaftLog {
        RocksRaftLog {
            store,
            group,
            syncer: None,
            cache: EntryCache::default(),
        }
    }

    /// A log whose appends are fsynced by `syncer`, together with other groups' appends.
    pub fn with_syncer(store: LogStore, group: u64, syncer: LogSyncer) -> RocksRaftLog {
        RocksRaftLog {
            store,
            group,
            syncer: Some(syncer),
            cache: EntryCache::default(),
        }
    }

    /// The log's entry cache, for the group's state machine to report what it applied.
    pub fn entry_cache(&self) -> EntryCache {
        self.cache.clone()
    }

    pub fn group(&self) -> u64 {
        self.group
    }

    /// Deletes the group's entries and its committed and purged records, keeping its vote,
    /// in one fsynced write: for a group whose state machine lost what the log says it
    /// applied (a torn snapshot install), before the group starts.
    pub fn reset_keeping_vote(&self) -> Result<()> {
        self.cache.truncate(0);
        Ok(self.store.reset(
            self.group,
            &[StateKind::Committed.byte(), StateKind::Purged.byte()],
        )?)
    }

    fn put_json<T: Serialize>(&self, kind: StateKind, value: &T, sync: bool) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| Error::Encode {
            what: kind.name(),
            reason: e.to_string(),
        })?;
        Ok(self
            .store
            .put_state(self.group, kind.byte(), &bytes, sync)?)
    }

    fn get_json<T: DeserializeOwned>(&self, kind: StateKind) -> Result<Option<T>> {
        match self.store.get_state(self.group, kind.byte())? {
            None => Ok(None),
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| Error::CorruptState {
                        group: self.group,
                        kind: kind.name(),
                        reason: e.to_string(),
                    })
            }
        }
    }

    fn read_range(&self, range: impl RangeBounds<u64>) -> Result<Vec<Entry<TypeConfig>>> {
        if let Some((start, Some(end))) = index_bounds(&range)
            && let Some(entries) = self.cache.get(start, end)
        {
            return Ok(entries);
        }
        let rows = self.store.read(self.group, range)?;
        rows.iter()
            .map(|(index, bytes)| decode_entry(self.group, *index, bytes))
            .collect()
    }

    fn log_state(&self) -> Result<LogState<TypeConfig>> {
        let last_purged_log_id: Option<LogId<NodeId>> =
            match self.store.get_state(self.group, StateKind::Purged.byte())? {
                None => None,
                Some(bytes) => {
                    Some(
                        serde_json::from_slice(&bytes).map_err(|e| Error::CorruptState {
                            group: self.group,
                            kind: StateKind::Purged.name(),
                            reason: e.to_string(),
                        })?,
                    )
                }
            };
        let last_log_id = match self.store.last(self.group)? {
            Some((index, bytes)) => Some(decode_log_id(self.group, index, &bytes)?),
            // Everything purged (or nothing written): openraft wants the purged id here.
            None => last_purged_log_id,
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    fn append_entries(
        &self,
        entries: impl IntoIterator<Item = Entry<TypeConfig>>,
        sync: bool,
    ) -> Result<()> {
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let rows = entries
            .iter()
            .map(|e| Ok((e.log_id.index, encode_entry(e)?)))
            .collect::<Result<Vec<_>>>()?;
        if rows.is_empty() {
            return Ok(());
        }
        self.store.append(self.group, &rows, sync)?;
        // Cached once written, as RocksDB reads see it at once too (synced or not yet).
        self.cache.push(entries);
        Ok(())
    }
}

fn read_err(e: Error) -> StorageError<NodeId> {
    StorageIOError::read_logs(AnyError::new(&e)).into()
}

fn write_err(e: Error) -> StorageError<NodeId> {
    StorageIOError::write_logs(AnyError::new(&e)).into()
}

impl RaftLogReader<TypeConfig> for RocksRaftLog {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        self.read_range(range).map_err(read_err)
    }
}

impl RaftLogStorage<TypeConfig> for RocksRaftLog {
    type LogReader = RocksRaftLog;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        self.log_state().map_err(read_err)
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        // A vote must be on disk before this node acts on it (answers a vote request).
        self.put_json(StateKind::Vote, vote, true)
            .map_err(|e| StorageIOError::write_vote(AnyError::new(&e)).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        self.get_json(StateKind::Vote)
            .map_err(|e| StorageIOError::read_vote(AnyError::new(&e)).into())
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        // Not synced: losing it only means re-learning the commit index from the leader; the
        // next synced append persists it anyway (RocksDB's WAL is one file).
        self.put_json(StateKind::Committed, &committed, false)
            .map_err(write_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(self
            .get_json::<Option<LogId<NodeId>>>(StateKind::Committed)
            .map_err(read_err)?
            .flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        match self.append_entries(entries, self.syncer.is_none()) {
            // Only once the entries are on disk may openraft count them.
            Ok(()) => {
                match &self.syncer {
                    Some(s) => s.after_sync(callback),
                    None => callback.log_io_completed(Ok(())),
                }
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(write_err(e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.cache.truncate(log_id.index);
        self.store
            .truncate_from(self.group, log_id.index)
            .map_err(|e| write_err(e.into()))
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let record = serde_json::to_vec(&log_id).map_err(|e| {
            write_err(Error::Encode {
                what: "purged",
                reason: e.to_string(),
            })
        })?;
        self.cache.purge(log_id.index);
        self.store
            .purge_to(self.group, log_id.index, StateKind::Purged.byte(), &record)
            .map_err(|e| write_err(e.into()))
    }
}

#[cfg(test)]
mod log_store_test;
