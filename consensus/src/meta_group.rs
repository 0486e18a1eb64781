//! `MetaGroup`: this node's member of the meta group (group 0), as the rest of the node sees
//! it: the cluster state it agrees on, proposals to change it, and admitting new nodes.
//!
//! ```text
//!  state() / watch() ◄── MetaStateMachine (ClusterState: nodes, shards, placement)
//!  kv_get / kv_scan / kv_watch ◄── MetaStateMachine (MetaKv, as applied here)
//!  propose(MetaCommand) / propose_kv(ops) ─► committed on a majority of the meta voters
//!  admit(id, node)      ─► plan_admission: learner, then voter while < 5 voters; AddNode
//!  remove_member(id) / promote(id) ─► a drained node leaves; a learner takes its vote
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use openraft::{ChangeMembers, Raft};
use tokio::sync::watch;

use crate::cluster_state::{ClusterState, MetaCommand};
use crate::error::{Error, Result};
use crate::group_id::META_GROUP;
use crate::group_status::GroupStatus;
use crate::member::{Node, NodeId};
use crate::membership::{Step, plan_admission};
use crate::meta_kv::{KvOp, MetaKv};
use crate::type_config::{Command, TypeConfig};

/// A handle on the local member of the meta group. Cheap to clone.
#[derive(Clone)]
pub struct MetaGroup {
    node: NodeId,
    raft: Raft<TypeConfig>,
    state: watch::Receiver<ClusterState>,
    kv: Arc<RwLock<MetaKv>>,
    kv_version: watch::Receiver<u64>,
}

impl MetaGroup {
    pub(crate) fn new(
        node: NodeId,
        raft: Raft<TypeConfig>,
        state: watch::Receiver<ClusterState>,
        kv: Arc<RwLock<MetaKv>>,
        kv_version: watch::Receiver<u64>,
    ) -> MetaGroup {
        MetaGroup {
            node,
            raft,
            state,
            kv,
            kv_version,
        }
    }

    /// The cluster state as this node last applied it.
    pub fn state(&self) -> ClusterState {
        self.state.borrow().clone()
    }

    /// The cluster state, with a signal on every change.
    pub fn watch(&self) -> watch::Receiver<ClusterState> {
        self.state.clone()
    }

    /// The value of `key` in the key-value space, as this node last applied it.
    pub fn kv_get(&self, key: &str) -> Option<String> {
        self.kv_read().get(key).map(str::to_owned)
    }

    /// Every key starting with `prefix` and its value, in key order, from one applied state
    /// (never half of a command).
    pub fn kv_scan(&self, prefix: &str) -> Vec<(String, String)> {
        self.kv_read().scan_prefix(prefix)
    }

    /// A version of the key-value space that changes on every applied `Kv` command (and
    /// installed snapshot): wait on it, then read again.
    pub fn kv_watch(&self) -> watch::Receiver<u64> {
        self.kv_version.clone()
    }

    fn kv_read(&self) -> std::sync::RwLockReadGuard<'_, MetaKv> {
        // Only the state machine writes, and `MetaKv::apply` cannot panic half-way through
        // a map operation, so a poisoned lock still guards a whole map.
        self.kv.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn leader(&self) -> Option<NodeId> {
        self.raft.metrics().borrow().current_leader
    }

    pub fn is_leader(&self) -> bool {
        self.leader() == Some(self.node)
    }

    pub fn status(&self) -> GroupStatus {
        GroupStatus::from_metrics(META_GROUP, &self.raft.metrics().borrow())
    }

    /// Whether this node's meta group has ever been initialized or joined (its data dir
    /// belongs to a cluster).
    pub async fn is_initialized(&self) -> Result<bool> {
        self.raft
            .is_initialized()
            .await
            .map_err(|e| Error::fatal(META_GROUP, e))
    }

    /// Proposes a change to the cluster state and waits until it is committed and applied
    /// here. `NotLeader` on a follower.
    pub async fn propose(&self, cmd: MetaCommand) -> Result<()> {
        self.raft
            .client_write(Command::Meta(cmd))
            .await
            .map(|_| ())
            .map_err(|e| Error::client_write(META_GROUP, self.node, e))
    }

    /// Proposes `ops` as one command: committed and applied together, in order, then
    /// visible here. Returns false if an `Expect` of it did not hold (then nothing of it
    /// applied). `NotLeader` on a follower.
    pub async fn propose_kv(&self, ops: Vec<KvOp>) -> Result<bool> {
        self.raft
            .client_write(Command::Meta(MetaCommand::Kv { ops }))
            .await
            .map(|r| !r.data.refused)
            .map_err(|e| Error::client_write(META_GROUP, self.node, e))
    }

    /// As the meta leader: adds node `id` to the meta group (a voter while the group has
    /// fewer than five, a learner after that) and to the cluster state. Placement follows
    /// from the next reconciliation. `NotLeader` on a follower.
    pub async fn admit(&self, id: NodeId, node: Node) -> Result<()> {
        if !self.is_leader() {
            return Err(Error::NotLeader {
                group: META_GROUP,
                node: self.node,
                leader: self.leader(),
            });
        }
        for step in plan_admission(&self.status().members(), id) {
            let result = match step {
                // Blocking: the learner has caught up when this returns, so making it a voter
                // next does not stall the group.
                Step::AddLearner(n) => self.raft.add_learner(n, node.clone(), true).await,
                Step::SetVoters(voters) => self.raft.change_membership(voters, false).await,
            };
            result.map_err(|e| Error::client_write(META_GROUP, self.node, e))?;
        }
        self.propose(MetaCommand::AddNode { id, node }).await
    }

    /// As the meta leader: takes node `id` out of the meta group, voter or learner (a drained
    /// node on its way out). Nothing if it is not a member. `NotLeader` on a follower.
    pub async fn remove_member(&self, id: NodeId) -> Result<()> {
        let members = self.status().members();
        let change = if members.voters.contains(&id) {
            ChangeMembers::RemoveVoters(BTreeSet::from([id]))
        } else if members.learners.contains(&id) {
            ChangeMembers::RemoveNodes(BTreeSet::from([id]))
        } else {
            return Ok(());
        };
        self.raft
            .change_membership(change, false)
            .await
            .map(|_| ())
            .map_err(|e| Error::client_write(META_GROUP, self.node, e))
    }

    /// As the meta leader: makes the learner `id` a voter (when a voter left and the group has
    /// fewer than five). `NotLeader` on a follower.
    pub async fn promote(&self, id: NodeId) -> Result<()> {
        self.raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map(|_| ())
            .map_err(|e| Error::client_write(META_GROUP, self.node, e))
    }

    /// Makes this node the meta group's only member (a new cluster's bootstrap) and waits
    /// until it leads.
    pub(crate) async fn initialize(&self, me: Node, wait: Duration) -> Result<()> {
        let members = BTreeMap::from([(self.node, me)]);
        self.raft
            .initialize(members)
            .await
            .map_err(|e| Error::initialize(META_GROUP, e))?;
        self.raft
            .wait(Some(wait))
            .current_leader(self.node, "bootstrap")
            .await
            .map_err(|e| Error::wait(META_GROUP, "becoming the meta leader", e))?;
        Ok(())
    }

    pub(crate) async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
    }

    pub(crate) fn raft(&self) -> &Raft<TypeConfig> {
        &self.raft
    }
}
