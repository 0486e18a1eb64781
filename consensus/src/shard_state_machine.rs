//! `ShardStateMachine`: openraft's state machine (storage-v2) for one shard group, over the
//! node's storage `Engine`.
//!
//! ```text
//!  committed entries ──► apply ──► Engine::apply(shard, index, batch)   (the only write path)
//!                              └─► Engine::maintain(shard, index, cmd, marker)  (rollups,
//!                                  retention: Command::Maintain)
//!                                     └─► ApplyObserver (e.g. the query cache) ─► ApplyReport
//!  get_snapshot_builder ──► Engine::checkpoint(shard, marker)    (then openraft purges the log)
//!  get_current_snapshot ──► Engine::dump_shard(shard, marker)    (sent to a lagging replica)
//!  install_snapshot     ──► Engine::install_shard(shard, dump, marker)
//!  applied_state        ◄── the marker of the last checkpoint: JSON {applied, membership}
//! ```
//! A checkpoint is this group's snapshot: it is built on the state machine's own task, between
//! two applies, so the marker names exactly the entries it holds. After a restart the engine is
//! at its last checkpoint and openraft re-applies the committed entries after it.

use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_storage::{ApplyOutcome, Engine};
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    AnyError, EntryPayload, LogId, RaftSnapshotBuilder, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership,
};
use serde::{Deserialize, Serialize};

use crate::error::state_machine_error;
use crate::type_config::{ApplyReport, Command, Node, NodeId, TypeConfig};

/// Told about every applied write batch, on every replica (after the engine applied it).
pub trait ApplyObserver: Send + Sync + 'static {
    fn applied(&self, shard: u32, batch: &[u8], outcome: &ApplyOutcome);
}

/// What a checkpoint records about the Raft side: stored as the engine's marker.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Marker {
    applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, Node>,
}

pub struct ShardStateMachine {
    engine: Arc<Engine>,
    shard: u32,
    applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, Node>,
    /// The last snapshot built or installed; `None` until one is (openraft then has none).
    snapshot: Option<SnapshotMeta<NodeId, Node>>,
    observer: Option<Arc<dyn ApplyObserver>>,
    snapshot_seq: Arc<AtomicU64>,
    /// The group log's entry cache, told what is applied so that it can let go.
    entry_cache: Option<crate::log_store::EntryCache>,
}

impl ShardStateMachine {
    /// The state machine of `shard`, at the engine's last checkpoint.
    pub fn new(
        engine: Arc<Engine>,
        shard: u32,
        observer: Option<Arc<dyn ApplyObserver>>,
    ) -> crate::Result<ShardStateMachine> {
        let marker: Marker = match engine.applied_marker(shard)? {
            Some(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| crate::Error::CorruptState {
                    group: crate::group_id::group_of_shard(shard),
                    kind: "checkpoint marker",
                    reason: e.to_string(),
                })?
            }
            None => Marker::default(),
        };
        Ok(ShardStateMachine {
            engine,
            shard,
            applied: marker.applied,
            membership: marker.membership,
            snapshot: None,
            observer,
            snapshot_seq: Arc::new(AtomicU64::new(0)),
            entry_cache: None,
        })
    }

    /// Reports applied entries to `cache` (the group log's), which drops them then.
    pub fn with_entry_cache(mut self, cache: crate::log_store::EntryCache) -> Self {
        self.entry_cache = Some(cache);
        self
    }

    // openraft's own error type, which its traits return anyway.
    #[allow(clippy::result_large_err)]
    fn marker(&self) -> Result<Vec<u8>, StorageError<NodeId>> {
        serde_json::to_vec(&Marker {
            applied: self.applied,
            membership: self.membership.clone(),
        })
        .map_err(state_machine_error)
    }

    fn meta(&self) -> SnapshotMeta<NodeId, Node> {
        let seq = self.snapshot_seq.fetch_add(1, Ordering::Relaxed);
        SnapshotMeta {
            last_log_id: self.applied,
            last_membership: self.membership.clone(),
            snapshot_id: format!(
                "shard{}-{}-{seq}",
                self.shard,
                self.applied.map(|l| l.index).unwrap_or(0)
            ),
        }
    }
}

/// Hands openraft the meta of a checkpoint already written (the data is the engine itself).
pub struct ShardSnapshotBuilder {
    meta: SnapshotMeta<NodeId, Node>,
    /// Why the checkpoint failed, if it did.
    failed: Option<String>,
}

impl RaftSnapshotBuilder<TypeConfig> for ShardSnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        // A checkpoint that did not reach disk must not become a snapshot: openraft would
        // purge the log up to it, and a restart would then lose the entries after the last
        // checkpoint that did. openraft stops the group on this error (as on any storage
        // failure); the other replicas go on, and a restart re-applies from the log.
        if let Some(reason) = &self.failed {
            return Err(StorageIOError::write_snapshot(
                Some(self.meta.signature()),
                AnyError::error(format!("checkpoint failed: {reason}")),
            )
            .into());
        }
        Ok(Snapshot {
            meta: self.meta.clone(),
            snapshot: Box::new(Cursor::new(Vec::new())),
        })
    }
}

impl RaftStateMachine<TypeConfig> for ShardStateMachine {
    type SnapshotBuilder = ShardSnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, Node>), StorageError<NodeId>> {
        Ok((self.applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ApplyReport>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = openraft::Entry<TypeConfig>> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        let mut out = Vec::new();
        for entry in entries {
            let index = entry.log_id.index;
            let report = match &entry.payload {
                EntryPayload::Normal(Command::Write { batch }) => {
                    let o = self
                        .engine
                        .apply(self.shard, index, Some(batch))
                        .map_err(state_machine_error)?;
                    if let Some(obs) = &self.observer {
                        obs.applied(self.shard, batch, &o);
                    }
                    ApplyReport::from(&o)
                }
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), m.clone());
                    self.engine
                        .apply(self.shard, index, None)
                        .map_err(state_machine_error)?;
                    ApplyReport::default()
                }
                EntryPayload::Normal(Command::Maintain(cmd)) => {
                    // The marker names the entry before this one: an expiry checkpoints
                    // first, and a replay after a crash starts again at this command.
                    let marker = self.marker()?;
                    // What it did is in the engine's stats (`maintenance_*`).
                    self.engine
                        .maintain(self.shard, index, cmd, Some(&marker))
                        .map_err(state_machine_error)?;
                    ApplyReport::default()
                }
                // Meta commands belong to group 0; a blank entry only moves the index.
                EntryPayload::Normal(Command::Meta(_)) | EntryPayload::Blank => {
                    self.engine
                        .apply(self.shard, index, None)
                        .map_err(state_machine_error)?;
                    ApplyReport::default()
                }
            };
            self.applied = Some(entry.log_id);
            out.push(report);
        }
        if let (Some(cache), Some(applied)) = (&self.entry_cache, self.applied) {
            cache.applied(applied.index);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        let meta = self.meta();
        let written = match self.marker() {
            Ok(m) => self
                .engine
                .checkpoint(self.shard, Some(&m))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let failed = match written {
            Ok(_) => {
                self.snapshot = Some(meta.clone());
                None
            }
            Err(reason) => {
                tracing::error!(shard = self.shard, error = %reason, "checkpoint failed");
                Some(reason)
            }
        };
        ShardSnapshotBuilder { meta, failed }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, Node>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        self.applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        let marker = self.marker()?;
        self.engine
            .install_shard(self.shard, snapshot.get_ref(), &marker)
            .map_err(|e| {
                StorageError::from(StorageIOError::write_snapshot(
                    Some(meta.signature()),
                    AnyError::new(&e),
                ))
            })?;
        self.snapshot = Some(meta.clone());
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        if self.snapshot.is_none() {
            return Ok(None);
        }
        // Dumped now, at the last applied entry: a replica that installs it needs no entry
        // before that (and the dump is exactly that state: no entry applies meanwhile).
        let marker = self.marker()?;
        let meta = self.meta();
        let dump = self.engine.dump_shard(self.shard, &marker).map_err(|e| {
            StorageError::from(StorageIOError::read_snapshot(
                Some(meta.signature()),
                AnyError::new(&e),
            ))
        })?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(dump)),
        }))
    }
}

impl From<&ApplyOutcome> for ApplyReport {
    fn from(o: &ApplyOutcome) -> Self {
        ApplyReport {
            written: o.written,
            duplicates: o.duplicates,
            rejected_too_old: o.rejected_too_old,
            rejected_conflict: o.rejected_conflict,
            refused: false,
        }
    }
}

#[cfg(test)]
mod shard_state_machine_test;
