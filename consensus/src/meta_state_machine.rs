//! `MetaStateMachine`: the state machine of the meta group (group 0), holding the
//! [`ClusterState`]. It is small, so the whole of it (with the applied log id and membership)
//! is rewritten to `raft_state (0, state machine)` after every apply and is its own snapshot.
//!
//! ```text
//!  Command::Meta ──apply──► ClusterState ──► raft_state record (unsynced: the log replays it)
//!                                        └─► watch channel: the node's reconcilers react
//! ```

use std::io::Cursor;

use cairn_storage::log_store::LogStore;

use crate::log_store::StateKind;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    AnyError, EntryPayload, LogId, RaftSnapshotBuilder, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::cluster_state::ClusterState;
use crate::error::state_machine_error;
use crate::group_id::META_GROUP;
use crate::type_config::{ApplyReport, Command, Node, NodeId, TypeConfig};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Persisted {
    applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, Node>,
    state: ClusterState,
}

pub struct MetaStateMachine {
    store: LogStore,
    current: Persisted,
    snapshot: Option<(SnapshotMeta<NodeId, Node>, Vec<u8>)>,
    tx: watch::Sender<ClusterState>,
}

impl MetaStateMachine {
    /// Loads the last stored state; `subscribe` follows every change from then on.
    pub fn open(store: LogStore) -> crate::Result<MetaStateMachine> {
        let current: Persisted =
            match store.get_state(META_GROUP, StateKind::StateMachine.byte())? {
                Some(bytes) => {
                    serde_json::from_slice(&bytes).map_err(|e| crate::Error::CorruptState {
                        group: META_GROUP,
                        kind: "state machine",
                        reason: e.to_string(),
                    })?
                }
                None => Persisted::default(),
            };
        let (tx, _) = watch::channel(current.state.clone());
        Ok(MetaStateMachine {
            store,
            current,
            snapshot: None,
            tx,
        })
    }

    pub fn subscribe(&self) -> watch::Receiver<ClusterState> {
        self.tx.subscribe()
    }

    // openraft's own error type, which its traits return anyway.
    #[allow(clippy::result_large_err)]
    fn save(&self) -> Result<Vec<u8>, StorageError<NodeId>> {
        let bytes = serde_json::to_vec(&self.current).map_err(state_machine_error)?;
        self.store
            .put_state(META_GROUP, StateKind::StateMachine.byte(), &bytes, false)
            .map_err(state_machine_error)?;
        Ok(bytes)
    }

    // openraft's own error type, which its traits return anyway.
    #[allow(clippy::result_large_err)]
    fn snapshot_now(&self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let data = serde_json::to_vec(&self.current).map_err(state_machine_error)?;
        let meta = SnapshotMeta {
            last_log_id: self.current.applied,
            last_membership: self.current.membership.clone(),
            snapshot_id: format!(
                "meta-{}",
                self.current.applied.map(|l| l.index).unwrap_or(0)
            ),
        };
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

pub struct MetaSnapshotBuilder {
    snapshot: Option<Snapshot<TypeConfig>>,
}

impl RaftSnapshotBuilder<TypeConfig> for MetaSnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        self.snapshot.take().ok_or_else(|| {
            StorageIOError::read_snapshot(None, AnyError::error("snapshot already taken")).into()
        })
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
        for entry in entries {
            match &entry.payload {
                EntryPayload::Normal(Command::Meta(cmd)) => {
                    self.current.state.apply(cmd);
                    changed = true;
                }
                EntryPayload::Membership(m) => {
                    self.current.membership = StoredMembership::new(Some(entry.log_id), m.clone());
                }
                EntryPayload::Normal(Command::Write { .. }) | EntryPayload::Blank => {}
            }
            self.current.applied = Some(entry.log_id);
            out.push(ApplyReport::default());
        }
        self.save()?;
        if changed {
            self.tx.send_replace(self.current.state.clone());
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        let snapshot = self.snapshot_now().ok();
        if let Some(s) = &snapshot {
            self.snapshot = Some((s.meta.clone(), s.snapshot.get_ref().clone()));
        }
        MetaSnapshotBuilder { snapshot }
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
        let data = snapshot.into_inner();
        self.current = serde_json::from_slice(&data).map_err(state_machine_error)?;
        self.current.applied = meta.last_log_id;
        self.current.membership = meta.last_membership.clone();
        self.save()?;
        self.snapshot = Some((meta.clone(), data));
        self.tx.send_replace(self.current.state.clone());
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        Ok(self.snapshot.as_ref().map(|(meta, data)| Snapshot {
            meta: meta.clone(),
            snapshot: Box::new(Cursor::new(data.clone())),
        }))
    }
}

#[cfg(test)]
mod meta_state_machine_test;
