//! `ShardGroup`: this node's replica of one shard's Raft group, as the rest of the node sees
//! it. The node routes writes and reads through it and never touches openraft itself.
//!
//! ```text
//!  propose(batch, order) ─► Proposer (rounds, oldest first) ─► committed on a majority,
//!                           applied here ─► ApplyReport            (Err(NotLeader) elsewhere)
//!  read_index()          ─► leader: lease confirmed by a quorum, applied here ─► index
//!  wait_applied(index)   ─► a follower catches up to the leader's read index
//!  converge(placement)   ─► plan_membership ─► add learner / set voters (leader only)
//!  prepare_handover(to) ─► proposals held, `to` caught up ─► (node) to.campaign() ─► to leads
//!  status()              ─► GroupStatus (leader, members, log, applied)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::Raft;

use crate::error::{Error, Result};
use crate::group_id::group_of_shard;
use crate::group_status::GroupStatus;
use crate::member::{Node, NodeId};
use crate::membership::{Step, plan_membership};
use crate::proposer::Proposer;
use crate::type_config::{ApplyReport, Command, TypeConfig};

/// Most membership steps one `converge` call takes (each re-planned from the last).
const MAX_STEPS_PER_CONVERGE: usize = 8;

/// A handle on the local replica of one shard group. Cheap to clone.
#[derive(Clone)]
pub struct ShardGroup {
    shard: u32,
    node: NodeId,
    raft: Raft<TypeConfig>,
    proposer: Proposer,
}

impl ShardGroup {
    pub(crate) fn new(
        shard: u32,
        node: NodeId,
        raft: Raft<TypeConfig>,
        round_timeout: Duration,
    ) -> ShardGroup {
        let proposer = Proposer::start(raft.clone(), group_of_shard(shard), node, round_timeout);
        ShardGroup {
            shard,
            node,
            raft,
            proposer,
        }
    }

    pub fn shard(&self) -> u32 {
        self.shard
    }

    pub fn group(&self) -> u64 {
        group_of_shard(self.shard)
    }

    /// The leader as this replica knows it.
    pub fn leader(&self) -> Option<NodeId> {
        self.raft.metrics().borrow().current_leader
    }

    pub fn is_leader(&self) -> bool {
        self.leader() == Some(self.node)
    }

    pub fn status(&self) -> GroupStatus {
        GroupStatus::from_metrics(self.group(), &self.raft.metrics().borrow())
    }

    /// Proposes a write batch (`order`: its oldest sample, which orders a round's proposals)
    /// and waits until it is committed on a majority and applied here. Fails with
    /// `NotLeader` (and the leader's id if known) on a follower.
    pub async fn propose(&self, batch: bytes::Bytes, order: i64) -> Result<ApplyReport> {
        self.proposer.propose(batch, order).await
    }

    /// Proposes a maintenance command (the node's downsampling and retention job) and waits
    /// until it is committed and applied here (what it did is in the engine's stats,
    /// `maintenance_*`, on every replica). Not through
    /// the write proposer's rounds: maintenance is rare and must keep its own order (pieces
    /// of a window, then the next). `NotLeader` on a follower.
    pub async fn propose_maintenance(
        &self,
        cmd: cairn_storage::Maintenance,
    ) -> Result<ApplyReport> {
        self.raft
            .client_write(Command::Maintain(cmd))
            .await
            .map(|r| r.data)
            .map_err(|e| Error::client_write(self.group(), self.node, e))
    }

    /// As the leader: confirms with a quorum that it still leads, waits until everything
    /// committed before the call is applied here, and returns that read index. A read on
    /// this replica then sees every write acknowledged before the call. `NotLeader` elsewhere.
    pub async fn read_index(&self) -> Result<u64> {
        match self.raft.ensure_linearizable().await {
            Ok(read) => Ok(read.map(|l| l.index).unwrap_or(0)),
            Err(e) => Err(Error::check_is_leader(self.group(), self.node, e)),
        }
    }

    /// Waits (at most `timeout`) until this replica has applied `index` (a leader's read
    /// index, on a follower).
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> Result<()> {
        self.raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(index), "read barrier")
            .await
            .map(|_| ())
            .map_err(|e| Error::wait(self.group(), "catching up to the read index", e))
    }

    /// As the leader: moves the group's voters towards `placement` (the meta group's
    /// decision), taking the steps `plan_membership` gives until it gives none. Returns the
    /// steps taken. Does nothing on a follower.
    pub async fn converge(
        &self,
        placement: &[NodeId],
        nodes: &BTreeMap<NodeId, Node>,
    ) -> Result<Vec<Step>> {
        if !self.is_leader() {
            return Ok(Vec::new());
        }
        let target: BTreeSet<NodeId> = placement.iter().copied().collect();
        let mut members = self.status().members();
        let mut taken = Vec::new();
        while taken.len() < MAX_STEPS_PER_CONVERGE {
            let Some(step) = plan_membership(&members, &target, |n| nodes.contains_key(&n)) else {
                break;
            };
            tracing::info!(shard = self.shard, ?step, "changing the shard's replicas");
            self.take(&step, nodes).await?;
            members = members.after(&step);
            taken.push(step);
        }
        Ok(taken)
    }

    async fn take(&self, step: &Step, nodes: &BTreeMap<NodeId, Node>) -> Result<()> {
        let group = self.group();
        let result = match step {
            Step::AddLearner(n) => {
                let Some(node) = nodes.get(n) else {
                    return Ok(());
                };
                self.raft.add_learner(*n, node.clone(), false).await
            }
            Step::SetVoters(voters) => self.raft.change_membership(voters.clone(), false).await,
        };
        result
            .map(|_| ())
            .map_err(|e| Error::client_write(group, self.node, e))
    }

    /// As the leader, before handing leadership to the voter `to`: stops starting new
    /// proposal rounds and waits (at most `wait`) until `to`'s log matches this one, so that
    /// `to` wins an election at once (this replica grants it its vote: its log is complete).
    /// Proposals resume when the returned guard is dropped (on a follower by then, they fail
    /// with `NotLeader` naming the new leader, and the write path retries there).
    pub async fn prepare_handover(&self, to: NodeId, wait: Duration) -> Result<HandoverGuard> {
        let group = self.group();
        if !self.is_leader() {
            return Err(Error::NotLeader {
                group,
                node: self.node,
                leader: self.leader(),
            });
        }
        if !self.status().voters.contains(&to) {
            return Err(Error::raft(
                group,
                "handing over leadership",
                format!("node {to} is not a voter of the group"),
            ));
        }
        self.proposer.hold(true);
        let guard = HandoverGuard {
            proposer: self.proposer.clone(),
        };
        self.raft
            .wait(Some(wait))
            .metrics(
                |m| {
                    let matched = m
                        .replication
                        .as_ref()
                        .and_then(|r| r.get(&to).copied().flatten())
                        .map(|l| l.index);
                    matched.is_some() && matched == m.last_log_index
                },
                "the successor's log is complete",
            )
            .await
            .map_err(|e| Error::wait(group, "the successor catching up", e))?;
        Ok(guard)
    }

    /// Stands for election now (asked by a leader handing over to this replica).
    pub async fn campaign(&self) -> Result<()> {
        self.raft
            .trigger()
            .elect()
            .await
            .map_err(|e| Error::fatal(self.group(), e))
    }

    /// Waits (at most `wait`) until the group's leader, as this replica sees it, is `to`.
    pub async fn wait_leader(&self, to: NodeId, wait: Duration) -> Result<()> {
        self.raft
            .wait(Some(wait))
            .current_leader(to, "the new leader")
            .await
            .map(|_| ())
            .map_err(|e| Error::wait(self.group(), "the new leader", e))
    }

    /// Makes this node the group's only member (a new cluster's bootstrap).
    pub(crate) async fn initialize(&self, members: BTreeMap<NodeId, Node>) -> Result<()> {
        self.raft
            .initialize(members)
            .await
            .map_err(|e| Error::initialize(self.group(), e))
    }

    /// Checkpoints the shard now (its Raft snapshot) and waits until the checkpoint covers
    /// what was applied when called; returns that index (`None`: nothing applied yet).
    pub async fn checkpoint_now(&self) -> Result<Option<u64>> {
        let group = self.group();
        let applied = self.raft.metrics().borrow().last_applied.map(|l| l.index);
        let Some(applied) = applied else {
            return Ok(None);
        };
        self.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| Error::fatal(group, e))?;
        self.raft
            .wait(Some(CHECKPOINT_WAIT))
            .metrics(
                |m| m.snapshot.is_some_and(|s| s.index >= applied),
                "checkpoint",
            )
            .await
            .map_err(|e| Error::wait(group, "the checkpoint", e))?;
        Ok(Some(applied))
    }

    /// Starts a checkpoint without waiting for it.
    pub(crate) async fn trigger_checkpoint(&self) -> Result<()> {
        self.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| Error::fatal(self.group(), e))
    }

    /// Purges the log up to `index` (covered by a checkpoint) and waits until it is done.
    pub(crate) async fn purge_to(&self, index: u64) -> Result<()> {
        let group = self.group();
        self.raft
            .trigger()
            .purge_log(index)
            .await
            .map_err(|e| Error::fatal(group, e))?;
        self.raft
            .wait(Some(CHECKPOINT_WAIT))
            .metrics(
                |m| m.purged.is_some_and(|p| p.index >= index),
                "log purged after flush",
            )
            .await
            .map_err(|e| Error::wait(group, "purging the log", e))?;
        Ok(())
    }

    pub(crate) async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
    }

    pub(crate) fn raft(&self) -> &Raft<TypeConfig> {
        &self.raft
    }
}

/// Holds a shard's proposals back while its leader hands over; dropping it lets them go.
pub struct HandoverGuard {
    proposer: Proposer,
}

impl Drop for HandoverGuard {
    fn drop(&mut self) {
        self.proposer.hold(false);
    }
}

/// How long a checkpoint or purge may take before the caller gives up on waiting.
const CHECKPOINT_WAIT: Duration = Duration::from_secs(30);
