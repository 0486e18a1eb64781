//! A small in-memory state machine for the consensus crate's tests: it records every applied
//! command, membership and the last applied log id; a snapshot is the JSON of all of it. It
//! stands in for the shard state machine where a test is about the log store or the transport.
//! It passes the state machine suite (`state_machine_suite.rs`) like the real ones, as
//! [`MemSubject`]: beside a `RocksRaftLog`, it keeps nothing across a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use cairn_model::{DecodedBatch, Labels, METRIC_NAME};
use cairn_storage::log_store::LogStore;
use openraft::storage::RaftStateMachine;
use openraft::{
    AnyError, Entry, EntryPayload, LogId, RaftSnapshotBuilder, Snapshot, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};

use crate::log_store::RocksRaftLog;
use crate::snapshot_file::SnapshotFile;
use crate::state_machine_suite::{CurrentSnapshot, Held, Restart, Subject, state_machine_suite};
use crate::type_config::{ApplyReport, Command, Node, NodeId, TypeConfig};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct MemState {
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, Node>,
    applied: Vec<Command>,
}

#[derive(Debug, Default)]
struct MemInner {
    state: MemState,
    snapshot: Option<(SnapshotMeta<NodeId, Node>, Vec<u8>)>,
    snapshots_built: u64,
    snapshots_installed: u64,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct MemStateMachine(Arc<Mutex<MemInner>>);

impl MemStateMachine {
    fn lock(&self) -> MutexGuard<'_, MemInner> {
        self.0.lock().unwrap()
    }

    /// The batches of the `Command::Write`s applied (or installed by a snapshot), in order.
    pub(crate) fn batches(&self) -> Vec<Vec<u8>> {
        self.lock()
            .state
            .applied
            .iter()
            .filter_map(|c| match c {
                Command::Write { batch } => Some(batch.to_vec()),
                Command::Meta(_) | Command::Maintain(_) => None,
            })
            .collect()
    }

    /// Every command applied (or installed by a snapshot), in order.
    pub(crate) fn commands(&self) -> Vec<Command> {
        self.lock().state.applied.clone()
    }

    pub(crate) fn snapshots_installed(&self) -> u64 {
        self.lock().snapshots_installed
    }

    /// Bytes of the last snapshot built or installed (0 without one).
    pub(crate) fn snapshot_len(&self) -> usize {
        self.lock()
            .snapshot
            .as_ref()
            .map_or(0, |(_, data)| data.len())
    }
}

/// Where the test machines' snapshot files go (unlinked at once: nothing piles up).
fn snapshot_dir() -> PathBuf {
    std::env::temp_dir().join("cairn-test-snapshots")
}

// openraft's own error type, which its traits return anyway.
#[allow(clippy::result_large_err)]
fn snapshot_file(bytes: &[u8]) -> Result<Box<SnapshotFile>, StorageError<NodeId>> {
    SnapshotFile::from_bytes(&snapshot_dir(), bytes)
        .map(Box::new)
        .map_err(|e| StorageIOError::read_snapshot(None, AnyError::new(&e)).into())
}

impl RaftSnapshotBuilder<TypeConfig> for MemStateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let mut inner = self.lock();
        let data = serde_json::to_vec(&inner.state)
            .map_err(|e| StorageIOError::read_state_machine(AnyError::new(&e)))?;
        inner.snapshots_built += 1;
        let meta = SnapshotMeta {
            last_log_id: inner.state.last_applied,
            last_membership: inner.state.membership.clone(),
            snapshot_id: format!("snap-{}", inner.snapshots_built),
        };
        inner.snapshot = Some((meta.clone(), data.clone()));
        Ok(Snapshot {
            meta,
            snapshot: snapshot_file(&data)?,
        })
    }
}

impl RaftStateMachine<TypeConfig> for MemStateMachine {
    type SnapshotBuilder = MemStateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, Node>), StorageError<NodeId>> {
        let inner = self.lock();
        Ok((inner.state.last_applied, inner.state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ApplyReport>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut inner = self.lock();
        let mut out = Vec::new();
        for e in entries {
            inner.state.last_applied = Some(e.log_id);
            let report = match e.payload {
                EntryPayload::Blank => ApplyReport::default(),
                EntryPayload::Membership(m) => {
                    inner.state.membership = StoredMembership::new(Some(e.log_id), m);
                    ApplyReport::default()
                }
                EntryPayload::Normal(cmd) => {
                    let written = match &cmd {
                        Command::Write { batch } => batch.len() as u64,
                        Command::Meta(_) | Command::Maintain(_) => 0,
                    };
                    inner.state.applied.push(cmd);
                    ApplyReport {
                        written,
                        ..Default::default()
                    }
                }
            };
            out.push(report);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<SnapshotFile>, StorageError<NodeId>> {
        SnapshotFile::create(&snapshot_dir())
            .map(Box::new)
            .map_err(|e| StorageIOError::write_snapshot(None, AnyError::new(&e)).into())
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, Node>,
        snapshot: Box<SnapshotFile>,
    ) -> Result<(), StorageError<NodeId>> {
        let data = snapshot
            .into_bytes()
            .await
            .map_err(|e| StorageIOError::read_snapshot(None, AnyError::new(&e)))?;
        let state: MemState = serde_json::from_slice(&data)
            .map_err(|e| StorageIOError::read_snapshot(None, AnyError::new(&e)))?;
        let mut inner = self.lock();
        inner.state = state;
        inner.snapshot = Some((meta.clone(), data));
        inner.snapshots_installed += 1;
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let current = self.lock().snapshot.clone();
        match current {
            Some((meta, data)) => Ok(Some(Snapshot {
                meta,
                snapshot: snapshot_file(&data)?,
            })),
            None => Ok(None),
        }
    }
}

/// The in-memory machine under the state machine suite, beside a `RocksRaftLog` on a RocksDB
/// of its own: a restart starts it empty, and openraft re-applies the whole log.
pub(crate) struct MemSubject;

impl Subject for MemSubject {
    type Sm = MemStateMachine;
    const KEEPS_WRITES: bool = true;
    const KEEPS_META: bool = true;
    const RESTART: Restart = Restart::Nothing;
    const CURRENT_SNAPSHOT: CurrentSnapshot = CurrentSnapshot::LastBuilt;

    fn open(dir: &Path) -> (RocksRaftLog, MemStateMachine) {
        let store = LogStore::open_standalone(dir).expect("open the log store");
        (RocksRaftLog::new(store, 7), MemStateMachine::default())
    }

    /// The batches it recorded, decoded; the meta commands it recorded, applied in order.
    fn held(sm: &MemStateMachine) -> Held {
        let mut held = Held::default();
        for cmd in sm.commands() {
            match cmd {
                Command::Write { batch } => {
                    let b = DecodedBatch::decode(&batch).expect("a batch the suite wrote");
                    for g in &b.groups {
                        let labels: Vec<(&str, &str)> = b
                            .labels_of(g)
                            .iter()
                            .map(|&(n, v)| (b.str(n), b.str(v)))
                            .collect();
                        for item in b.items_of(g) {
                            let series = Labels::from_pairs(
                                labels
                                    .iter()
                                    .copied()
                                    .chain([(METRIC_NAME, b.str(item.name))]),
                            )
                            .expect("valid labels");
                            held.add(b.tenant, &series, b.samples_of(item).iter().copied());
                        }
                    }
                }
                Command::Meta(m) => held.apply_meta(&m),
                Command::Maintain(_) => {}
            }
        }
        held
    }
}

state_machine_suite!(MemSubject);
