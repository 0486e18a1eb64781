//! `MetaStateMachine`: the state machine of the meta group (group 0), holding the
//! [`ClusterState`] and the key-value space [`MetaKv`]. After every apply it writes, in one
//! RocksDB write, its record (cluster state, applied log id, membership) to
//! `raft_state (0, state machine)` and the KV keys the entries changed to
//! `raft_state (0, kv entries) · key`; the KV (megabytes of alert state) is never rewritten
//! whole for a small command. Its snapshot is the record with the whole KV inside.
//!
//! ```text
//!  Command::Meta ──apply──► ClusterState ──► raft_state record ─┐ one write, unsynced
//!        │                      └─► watch<ClusterState>          │ (the log replays it)
//!        └─ MetaCommand::Kv ──► MetaKv ──► changed keys ─────────┘
//!                                 └─► Arc<RwLock>, read by MetaGroup; watch<u64> version
//! ```
//! Records written before the KV had keys of its own carry it inside; `open` moves it out.
//! The KV is shared, not sent through the cluster-state channel: reconcilers wake on every
//! `ClusterState` change, and alert state changes far more often than the cluster's shape.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use cairn_storage::log_store::LogStore;

use crate::log_store::StateKind;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    AnyError, EntryPayload, LogId, RaftSnapshotBuilder, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::cluster_state::{ClusterState, MetaCommand};
use crate::error::state_machine_error;
use crate::group_id::META_GROUP;
use crate::meta_kv::MetaKv;
use crate::snapshot_file::SnapshotFile;
use crate::type_config::{ApplyReport, Command, Node, NodeId, TypeConfig};

/// What the machine holds beside the KV.
#[derive(Clone, Debug, Default)]
struct Persisted {
    applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, Node>,
    state: ClusterState,
}

/// The stored record and the snapshot's bytes, as written: [`Persisted`], and the KV in a
/// snapshot only (the stored KV has keys of its own).
#[derive(Serialize)]
struct RecordOut<'a> {
    applied: &'a Option<LogId<NodeId>>,
    membership: &'a StoredMembership<NodeId, Node>,
    state: &'a ClusterState,
    #[serde(skip_serializing_if = "Option::is_none")]
    kv: Option<&'a MetaKv>,
}

/// The stored record and the snapshot's bytes, as read. A snapshot has `kv`; so has a record
/// written before the KV had keys of its own (and after it existed: older records have none).
#[derive(Deserialize)]
struct RecordIn {
    applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, Node>,
    state: ClusterState,
    #[serde(default)]
    kv: Option<MetaKv>,
}

impl RecordIn {
    fn split(self) -> (Persisted, Option<MetaKv>) {
        let RecordIn {
            applied,
            membership,
            state,
            kv,
        } = self;
        (
            Persisted {
                applied,
                membership,
                state,
            },
            kv,
        )
    }
}

/// A snapshot's meta and bytes, as the machine keeps its last one.
type SnapshotBytes = (SnapshotMeta<NodeId, Node>, Vec<u8>);

pub struct MetaStateMachine {
    store: LogStore,
    current: Persisted,
    /// Written only here (applies and installs); `MetaGroup` reads it.
    kv: Arc<RwLock<MetaKv>>,
    snapshot: Option<SnapshotBytes>,
    tx: watch::Sender<ClusterState>,
    /// The log index of the last applied `Kv` command (or installed snapshot).
    kv_tx: watch::Sender<u64>,
    /// Where its snapshot files go (the bytes are small; openraft wants a `SnapshotFile`).
    snapshot_dir: PathBuf,
}

impl MetaStateMachine {
    /// Loads the last stored state; `subscribe` follows every change from then on. A record
    /// with the KV inside (written by an older version) is rewritten without it and the KV
    /// stored per key, in one write, before anything else happens. Snapshot files go to
    /// `snapshot_dir`.
    pub fn open(store: LogStore, snapshot_dir: PathBuf) -> crate::Result<MetaStateMachine> {
        let (current, inline_kv) =
            match store.get_state(META_GROUP, StateKind::StateMachine.byte())? {
                Some(bytes) => serde_json::from_slice::<RecordIn>(&bytes)
                    .map_err(|e| crate::Error::CorruptState {
                        group: META_GROUP,
                        kind: StateKind::StateMachine.name(),
                        reason: e.to_string(),
                    })?
                    .split(),
                None => (Persisted::default(), None),
            };
        let (kv, migrate) = match inline_kv {
            Some(kv) => (kv, true),
            None => (load_kv(&store)?, false),
        };
        let (tx, _) = watch::channel(current.state.clone());
        let (kv_tx, _) = watch::channel(current.applied.map(|l| l.index).unwrap_or(0));
        let sm = MetaStateMachine {
            store,
            current,
            kv: Arc::new(RwLock::new(kv)),
            snapshot: None,
            tx,
            kv_tx,
            snapshot_dir,
        };
        if migrate {
            sm.save_whole()?;
        }
        Ok(sm)
    }

    pub fn subscribe(&self) -> watch::Receiver<ClusterState> {
        self.tx.subscribe()
    }

    /// The key-value space, shared read-only: only this machine writes it.
    pub fn kv(&self) -> Arc<RwLock<MetaKv>> {
        self.kv.clone()
    }

    /// A version of the KV that moves on every applied `Kv` command and installed snapshot.
    pub fn kv_subscribe(&self) -> watch::Receiver<u64> {
        self.kv_tx.subscribe()
    }

    fn kv_read(&self) -> RwLockReadGuard<'_, MetaKv> {
        // A reader cannot leave the map half-changed (it never writes), so a poisoned lock
        // still guards a whole map.
        self.kv.read().unwrap_or_else(|p| p.into_inner())
    }

    fn kv_write(&self) -> RwLockWriteGuard<'_, MetaKv> {
        self.kv.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The record's bytes; with `kv`, the snapshot's (the whole KV inside).
    fn encode(&self, kv: Option<&MetaKv>) -> crate::Result<Vec<u8>> {
        let record = RecordOut {
            applied: &self.current.applied,
            membership: &self.current.membership,
            state: &self.current.state,
            kv,
        };
        serde_json::to_vec(&record).map_err(|e| crate::Error::Encode {
            what: "the meta state machine's record",
            reason: e.to_string(),
        })
    }

    /// Stores the record and the `changed` KV keys as they are now (deleted if absent), in
    /// one unsynced write: the log replays whatever a crash loses.
    fn save(&self, changed: &BTreeSet<String>) -> crate::Result<()> {
        let record = self.encode(None)?;
        let kv = self.kv_read();
        let changes: Vec<_> = changed
            .iter()
            .map(|k| (k.as_bytes(), kv.get(k).map(str::as_bytes)))
            .collect();
        self.store.put_state_and_entries(
            META_GROUP,
            StateKind::StateMachine.byte(),
            &record,
            StateKind::KvEntries.byte(),
            &changes,
            false,
        )?;
        Ok(())
    }

    /// Stores the record and replaces every stored KV key with the KV in memory, in one
    /// write (a snapshot install, an upgrade): no stale key survives.
    fn save_whole(&self) -> crate::Result<()> {
        let record = self.encode(None)?;
        let kv = self.kv_read();
        let entries: Vec<_> = kv.iter().collect();
        self.store.replace_state_entries(
            META_GROUP,
            StateKind::StateMachine.byte(),
            &record,
            StateKind::KvEntries.byte(),
            &entries,
            false,
        )?;
        Ok(())
    }

    /// The snapshot of the state now: its meta and bytes (the record with the KV inside).
    fn snapshot_now(&self) -> crate::Result<SnapshotBytes> {
        let data = self.encode(Some(&self.kv_read()))?;
        let meta = SnapshotMeta {
            last_log_id: self.current.applied,
            last_membership: self.current.membership.clone(),
            snapshot_id: format!(
                "meta-{}",
                self.current.applied.map(|l| l.index).unwrap_or(0)
            ),
        };
        Ok((meta, data))
    }
}

/// A snapshot of `meta` with `data`, in a file of `dir`.
// openraft's own error type, which its traits return anyway.
#[allow(clippy::result_large_err)]
fn snapshot_in(
    dir: &std::path::Path,
    meta: &SnapshotMeta<NodeId, Node>,
    data: &[u8],
) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
    let file = SnapshotFile::from_bytes(dir, data)
        .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), AnyError::new(&e)))?;
    Ok(Snapshot {
        meta: meta.clone(),
        snapshot: Box::new(file),
    })
}

/// The KV as stored per key (none for a record that carries it, or for a new data dir).
fn load_kv(store: &LogStore) -> crate::Result<MetaKv> {
    let corrupt = |reason: String| crate::Error::CorruptState {
        group: META_GROUP,
        kind: StateKind::KvEntries.name(),
        reason,
    };
    store
        .state_entries(META_GROUP, StateKind::KvEntries.byte())?
        .into_iter()
        .map(|(k, v)| {
            let k = String::from_utf8(k).map_err(|e| corrupt(format!("a key: {e}")))?;
            let v =
                String::from_utf8(v).map_err(|e| corrupt(format!("the value of {k:?}: {e}")))?;
            Ok((k, v))
        })
        .collect()
}

pub struct MetaSnapshotBuilder {
    /// The snapshot taken when the builder was made, or why it could not be.
    snapshot: Option<Result<SnapshotBytes, String>>,
    snapshot_dir: PathBuf,
}

impl RaftSnapshotBuilder<TypeConfig> for MetaSnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        match self.snapshot.take() {
            Some(Ok((meta, data))) => snapshot_in(&self.snapshot_dir, &meta, &data),
            Some(Err(reason)) => {
                Err(StorageIOError::read_snapshot(None, AnyError::error(reason)).into())
            }
            None => Err(StorageIOError::read_snapshot(
                None,
                AnyError::error("snapshot already taken"),
            )
            .into()),
        }
    }
}

impl RaftStateMachine<TypeConfig> for MetaStateMachine {
    type SnapshotBuilder = MetaSnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, Node>), StorageError<NodeId>> {
        Ok((self.current.applied, self.current.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ApplyReport>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = openraft::Entry<TypeConfig>> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        let mut out = Vec::new();
        let mut changed = false;
        let mut kv_changed = None;
        // Every KV key these entries changed: only they are written, as they end up.
        let mut kv_keys = BTreeSet::new();
        for entry in entries {
            match &entry.payload {
                EntryPayload::Normal(Command::Meta(MetaCommand::Kv { ops })) => {
                    let applied = self.kv_write().apply_noting(ops, &mut kv_keys);
                    kv_changed = Some(entry.log_id.index);
                    self.current.applied = Some(entry.log_id);
                    out.push(ApplyReport {
                        refused: !applied,
                        ..ApplyReport::default()
                    });
                    continue;
                }
                EntryPayload::Normal(Command::Meta(cmd)) => {
                    self.current.state.apply(cmd);
                    changed = true;
                }
                EntryPayload::Membership(m) => {
                    self.current.membership = StoredMembership::new(Some(entry.log_id), m.clone());
                }
                // Writes and maintenance belong to shard groups.
                EntryPayload::Normal(Command::Write { .. } | Command::Maintain(_))
                | EntryPayload::Blank => {}
            }
            self.current.applied = Some(entry.log_id);
            out.push(ApplyReport::default());
        }
        self.save(&kv_keys).map_err(state_machine_error)?;
        if changed {
            self.tx.send_replace(self.current.state.clone());
        }
        if let Some(version) = kv_changed {
            self.kv_tx.send_replace(version);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        let snapshot = self.snapshot_now().map_err(|e| e.to_string());
        if let Ok(s) = &snapshot {
            self.snapshot = Some(s.clone());
        }
        MetaSnapshotBuilder {
            snapshot: Some(snapshot),
            snapshot_dir: self.snapshot_dir.clone(),
        }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<SnapshotFile>, StorageError<NodeId>> {
        SnapshotFile::create(&self.snapshot_dir)
            .map(Box::new)
            .map_err(|e| StorageIOError::write_snapshot(None, AnyError::new(&e)).into())
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, Node>,
        snapshot: Box<SnapshotFile>,
    ) -> Result<(), StorageError<NodeId>> {
        let read = |e: std::io::Error| {
            StorageError::from(StorageIOError::read_snapshot(
                Some(meta.signature()),
                AnyError::new(&e),
            ))
        };
        // A record of a few MiB at most: read whole.
        let data = snapshot.into_bytes().await.map_err(read)?;
        let (current, kv) = serde_json::from_slice::<RecordIn>(&data)
            .map_err(state_machine_error)?
            .split();
        self.current = current;
        self.current.applied = meta.last_log_id;
        self.current.membership = meta.last_membership.clone();
        // A snapshot without `kv` came from a version before the KV: an empty one.
        *self.kv_write() = kv.unwrap_or_default();
        // Replaces the stored keys wholesale: keys the snapshot lacks must not come back.
        self.save_whole().map_err(state_machine_error)?;
        self.snapshot = Some((meta.clone(), data));
        self.tx.send_replace(self.current.state.clone());
        self.kv_tx
            .send_replace(meta.last_log_id.map(|l| l.index).unwrap_or(0));
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        match &self.snapshot {
            Some((meta, data)) => snapshot_in(&self.snapshot_dir, meta, data).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod meta_state_machine_test;
