//! `ShardStateMachine`: openraft's state machine (storage-v2) for one shard group, over the
//! node's storage `Engine`.
//!
//! ```text
//!  committed entries ──► apply ──► Engine::apply(shard, index, batch)   (the only write path)
//!                              └─► Engine::maintain(shard, index, cmd, marker)  (rollups,
//!                                  retention: Command::Maintain)
//!                                     └─► ApplyObserver (e.g. the query cache) ─► ApplyReport
//!  get_snapshot_builder ──► Engine::checkpoint(shard, marker)    (then openraft purges the log)
//!  get_current_snapshot ──► dump thread: Engine::begin_dump(shard, marker)  ◄─ the task waits
//!                                        ShardDump::write_to(SnapshotWriter) ─► SnapshotFile,
//!                           returned at once, growing ─► GroupNetwork::full_snapshot sends it
//!  begin_receiving_snapshot ──► SnapshotFile::create (openraft writes the chunks into it)
//!  install_snapshot     ──► blocking pool: Engine::install_shard_from(shard, file, marker)
//!  applied_state        ◄── the marker of the last checkpoint: JSON {applied, membership}
//! ```
//! A checkpoint is this group's snapshot: it is built on the state machine's own task, between
//! two applies, so the marker names exactly the entries it holds. After a restart the engine is
//! at its last checkpoint and openraft re-applies the committed entries after it.
//!
//! A dump for a replica is written by a thread of its own: openraft's state machine task waits
//! only for its checkpoint and RocksDB snapshot (the shard's write lock), then goes on
//! applying while the thread scans the snapshot into a file that the network sends as it
//! grows. Memory: the sender holds one chunk (`snapshot_max_chunk_size`) and the dump's
//! 64 KiB buffer, the receiver one chunk and the install's batch (4 MiB); the shard itself is
//! on disk at both ends (`storage/docs/format/snapshot.md`, "Memory").

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use cairn_storage::{ApplyOutcome, Engine};
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    AnyError, EntryPayload, LogId, RaftSnapshotBuilder, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership,
};
use serde::{Deserialize, Serialize};

use crate::error::state_machine_error;
use crate::snapshot_file::{SnapshotFile, SnapshotWriter, snapshot_dir};
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
    /// Where its snapshot files go: `<data_dir>/raft-snapshots`.
    snapshot_dir: PathBuf,
    /// Dump threads that may still be writing; stopped and joined when the machine goes.
    dumps: Vec<DumpThread>,
}

/// A dump thread and the flag that stops it at its next write.
struct DumpThread {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<()>,
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
            shard,
            applied: marker.applied,
            membership: marker.membership,
            snapshot: None,
            observer,
            snapshot_seq: Arc::new(AtomicU64::new(0)),
            entry_cache: None,
            snapshot_dir: snapshot_dir(&engine.config().data_dir),
            dumps: Vec::new(),
            engine,
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
        encode_marker(self.applied, &self.membership)
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

/// The engine's marker for `applied` and `membership` (JSON, see [`Marker`]).
// openraft's own error type, which its traits return anyway.
#[allow(clippy::result_large_err)]
fn encode_marker(
    applied: Option<LogId<NodeId>>,
    membership: &StoredMembership<NodeId, Node>,
) -> Result<Vec<u8>, StorageError<NodeId>> {
    serde_json::to_vec(&Marker {
        applied,
        membership: membership.clone(),
    })
    .map_err(state_machine_error)
}

/// Hands openraft the meta of a checkpoint already written (the data is the engine itself).
pub struct ShardSnapshotBuilder {
    meta: SnapshotMeta<NodeId, Node>,
    /// Why the checkpoint failed, if it did.
    failed: Option<String>,
    snapshot_dir: PathBuf,
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
        // openraft keeps only the meta of a built snapshot; its data is never read.
        let empty = SnapshotFile::from_bytes(&self.snapshot_dir, &[]).map_err(|e| {
            StorageIOError::write_snapshot(Some(self.meta.signature()), AnyError::new(&e))
        })?;
        Ok(Snapshot {
            meta: self.meta.clone(),
            snapshot: Box::new(empty),
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
        ShardSnapshotBuilder {
            meta,
            failed,
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
        let write_err = |e: &(dyn std::error::Error + 'static)| {
            StorageError::from(StorageIOError::write_snapshot(
                Some(meta.signature()),
                AnyError::from_dyn(e, None),
            ))
        };
        let marker = encode_marker(meta.last_log_id, &meta.last_membership)?;
        let mut reader = snapshot.into_reader().await.map_err(|e| write_err(&e))?;
        let (engine, shard) = (self.engine.clone(), self.shard);
        // Blocking (disk reads and RocksDB writes, a batch at a time): off the runtime's
        // workers. This task waits, as openraft expects: nothing applies meanwhile.
        let installed = tokio::task::spawn_blocking(move || {
            engine.install_shard_from(shard, &mut reader, &marker)
        })
        .await
        .map_err(|e| write_err(&e))?;
        let bytes = installed.map_err(|e| write_err(&e))?;
        tracing::info!(shard, bytes, snapshot = %meta.snapshot_id, "installed a shard snapshot");
        self.applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
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
        // before that (and the dump is exactly that state: this task waits for the dump's
        // checkpoint and RocksDB snapshot, so no entry applies in between).
        let marker = self.marker()?;
        let meta = self.meta();
        let read_err = |e: &(dyn std::error::Error + 'static)| {
            StorageError::from(StorageIOError::read_snapshot(
                Some(meta.signature()),
                AnyError::from_dyn(e, None),
            ))
        };
        let (file, writer) = SnapshotFile::produce(&self.snapshot_dir).map_err(|e| read_err(&e))?;
        let (begun_tx, begun) = tokio::sync::oneshot::channel();
        let (engine, shard) = (self.engine.clone(), self.shard);
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name(format!("dump-shard-{shard}"))
            .spawn(move || dump(&engine, shard, &marker, writer, &stop_flag, begun_tx))
            .map_err(|e| read_err(&e))?;
        self.dumps.retain(|d| !d.handle.is_finished());
        self.dumps.push(DumpThread { stop, handle });
        match begun.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(read_err(&e)),
            Err(e) => return Err(read_err(&e)),
        }
        // The file grows while it is sent; the network waits for its bytes.
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(file),
        }))
    }
}

impl Drop for ShardStateMachine {
    /// Stops the dump threads still writing and waits for them: each stops at its next
    /// write (every 64 KiB), and none may keep the engine's database open past its group.
    fn drop(&mut self) {
        for d in &self.dumps {
            d.stop.store(true, Ordering::Release);
        }
        for d in self.dumps.drain(..) {
            let _ = d.handle.join();
        }
    }
}

/// The snapshot writer of a dump thread, which fails once the machine asks it to stop.
struct Stoppable<'a> {
    writer: &'a mut SnapshotWriter,
    stop: &'a AtomicBool,
}

impl Write for Stoppable<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.stop.load(Ordering::Acquire) {
            return Err(std::io::Error::other("the group stopped"));
        }
        self.writer.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

/// The dump thread: begins the dump (telling the state machine task, which waits for that),
/// then writes it into the snapshot file without the shard's lock.
fn dump(
    engine: &Engine,
    shard: u32,
    marker: &[u8],
    mut writer: SnapshotWriter,
    stop: &AtomicBool,
    begun: tokio::sync::oneshot::Sender<cairn_storage::Result<()>>,
) {
    let started = match engine.begin_dump(shard, marker) {
        Ok(d) => d,
        Err(e) => {
            writer.fail(&e);
            let _ = begun.send(Err(e));
            return;
        }
    };
    let _ = begun.send(Ok(()));
    let written = started.write_to(&mut Stoppable {
        writer: &mut writer,
        stop,
    });
    match written {
        Ok(bytes) => {
            writer.finish();
            tracing::debug!(shard, bytes, "dumped a shard for a replica");
        }
        // The send was cancelled (a leader change, the replica gone) or the group stopped:
        // nothing is wrong.
        Err(_) if writer.abandoned() || stop.load(Ordering::Acquire) => {
            writer.fail("the snapshot is no longer read")
        }
        Err(e) => {
            tracing::warn!(shard, error = %e, "dumping a shard for a replica failed");
            writer.fail(&e);
        }
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
