//! The rebalance job: the meta leader's driver of replica moves (issue 19). The decisions are
//! `cairn_consensus::move_plan::plan_moves`'s (pure); this job feeds it what the node knows and
//! records each decision in the meta group, where every node sees it:
//!
//! ```text
//!  meta leader, every second (and at every cluster state change):
//!   moves whose new node died ─────────────────────────────► AbortMove (repaired next pass)
//!   plan_moves(placement, liveness + draining, in flight) ─► StartMove: placement = target
//!   drained nodes (no replica placed or moving) ───────────► leave the meta group, RemoveNode
//!   fewer than five meta voters and a learner up ──────────► the learner becomes a voter
//!   nothing moving, every node up and stable ──────────────► plan_leader_transfers: one
//!                                                             leader handed over per pass
//!  then, on the shard's leader (reconcile job): add learner ─► snapshot + log ─► voters
//!   changed in one joint step ─► FinishMove; the node left out drops its replica
//! ```
//! Everything it decides is in the meta log before anything moves, so a new meta leader (after
//! a crash or an election) carries on from the recorded moves, and a shard leader that dies
//! mid-move is replaced by one that converges to the same placement. The liveness it plans
//! with is this node's own: a new meta leader starts its clocks afresh, so a node it finds
//! unreachable is declared dead only `dead_after` later (never sooner than intended).

use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use cairn_consensus::membership::MAX_META_VOTERS;
use cairn_consensus::move_plan::NodeView;
use cairn_consensus::move_plan::{plan_leader_transfers, plan_moves};
use cairn_consensus::{ClusterState, MetaCommand, NodeId};

use super::{Job, RunOnce};
use crate::cluster::Cluster;
use crate::config::RebalanceConfig;
use crate::timeparse::wall_ms;

pub struct RebalanceJob {
    cluster: Arc<Cluster>,
    cfg: RebalanceConfig,
}

impl RebalanceJob {
    pub fn new(cluster: Arc<Cluster>, cfg: RebalanceConfig) -> Self {
        RebalanceJob { cluster, cfg }
    }

    async fn pass(&self) -> crate::Result<()> {
        let c = &self.cluster;
        let meta = c.groups().meta();
        if !self.cfg.enabled || !meta.is_leader() {
            return Ok(());
        }
        let state = c.state();
        let now = wall_ms();
        let views = c.node_views(now);
        let plan = self.cfg.plan_config(c.replication_factor());
        for (&shard, m) in &state.moves {
            if plan.is_dead(views.get(&m.add), now) {
                tracing::warn!(
                    shard,
                    node = m.add,
                    "abandoning a move: its new replica's node is dead"
                );
                meta.propose(MetaCommand::AbortMove { shard }).await?;
            }
        }
        let state = c.state();
        for m in plan_moves(&state.placement, &views, &state.in_flight(), now, &plan) {
            tracing::info!(
                shard = m.shard,
                add = m.add,
                remove = ?m.remove,
                reason = ?m.reason,
                "moving a shard replica"
            );
            meta.propose(MetaCommand::StartMove {
                shard: m.shard,
                add: m.add,
                remove: m.remove,
                reason: m.reason,
                started_ms: now,
            })
            .await?;
        }
        for &node in &state.draining {
            if state.replicas_on(node) == 0 {
                tracing::info!(node, "the node is drained: removing it from the cluster");
                meta.remove_member(node).await?;
                meta.propose(MetaCommand::RemoveNode { id: node }).await?;
            }
        }
        // The state as this pass left it: no leader moves while a replica move just started.
        self.spread_leaders(&c.state(), &views, now).await;
        let members = meta.status().members();
        if members.voters.len() < MAX_META_VOTERS && !members.joint {
            let candidate = members.learners.iter().copied().find(|n| {
                !state.draining.contains(n) && views.get(n).is_some_and(|v| v.up_since.is_some())
            });
            if let Some(n) = candidate {
                tracing::info!(node = n, "making a meta learner a voter");
                meta.promote(n).await?;
            }
        }
        Ok(())
    }
}

impl RebalanceJob {
    /// Once replicas are where they belong and every member is up and stable, hands one
    /// shard's leadership from the node leading most to one leading fewest (see
    /// `cluster/leader_transfer.rs`). One per pass: each costs the shard a short pause.
    async fn spread_leaders(
        &self,
        state: &ClusterState,
        views: &BTreeMap<NodeId, NodeView>,
        now: i64,
    ) {
        let c = &self.cluster;
        let stable = views.values().all(|v| {
            !v.draining
                && v.up_since
                    .is_some_and(|u| now - u >= self.cfg.stable_after_ms as i64)
        });
        if !state.moves.is_empty() || !stable {
            return;
        }
        let live = views.keys().copied().collect();
        let leaders = c.known_leaders(LEADERS_FRESH);
        if leaders.len() < state.shards as usize {
            // Some shard's leader is unknown (an election, or a node not asked yet).
            return;
        }
        let Some(&(shard, to)) = plan_leader_transfers(&state.placement, &leaders, &live).first()
        else {
            return;
        };
        let from = leaders[&shard];
        match c.ask_transfer(shard, from, to).await {
            Ok(_) => tracing::info!(shard, from, to, "spread shard leaders"),
            Err(e) => tracing::debug!(shard, from, to, error = %e, "leader transfer not done"),
        }
    }
}

/// Leaders are taken from ping answers at most this old (pings go out every second).
const LEADERS_FRESH: Duration = Duration::from_secs(3);

impl Job for RebalanceJob {
    fn name(&self) -> &'static str {
        "rebalance"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(1)
    }

    /// Failures are usually a meta election under way: retry soon.
    fn max_backoff(&self) -> Duration {
        Duration::from_secs(4)
    }

    fn run_once(&self) -> RunOnce<'_> {
        Box::pin(self.pass())
    }
}
