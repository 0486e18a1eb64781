//! `GET /api/v1/cluster/status`: the cluster as this node sees it — members and their
//! health, the meta leader, and every shard's Raft state from the local replica's metrics.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cairn_consensus::NodeId;
use cairn_consensus::move_plan::NodeView;
use serde_json::{Value, json};

use super::Cluster;

/// How many dropped replicas the status page lists.
const DROPPED_KEPT: usize = 64;

/// A member not heard from for this long is reported `unreachable`.
const UNREACHABLE_AFTER: Duration = Duration::from_secs(5);

impl Cluster {
    /// Whether `id` was heard from within `UNREACHABLE_AFTER` (this node always is).
    fn reachable(&self, id: NodeId) -> bool {
        id == self.node_id()
            || self
                .groups
                .network()
                .last_contact(id)
                .is_some_and(|t| t.elapsed() < UNREACHABLE_AFTER)
    }

    /// Feeds the liveness record one observation of every member (the reconcile job calls
    /// this after its probes), at `now_ms` of the wall clock.
    pub fn observe_liveness(&self, now_ms: i64) {
        let state = self.state();
        let mut l = self.liveness.lock().unwrap_or_else(|p| p.into_inner());
        for &id in state.nodes.keys() {
            l.observe(id, self.reachable(id), now_ms);
        }
        l.retain(|n| state.nodes.contains_key(&n));
    }

    /// What the move planner knows of every member at `now_ms`: this node's liveness record
    /// (a member not probed yet counts as up since now, so it is no target until
    /// `stable_after`), and whether it is draining.
    pub fn node_views(&self, now_ms: i64) -> BTreeMap<NodeId, NodeView> {
        let state = self.state();
        let l = self.liveness.lock().unwrap_or_else(|p| p.into_inner());
        state
            .nodes
            .keys()
            .map(|&id| {
                let mut v = l.view(id).unwrap_or(NodeView::up(now_ms));
                v.draining = state.draining.contains(&id);
                (id, v)
            })
            .collect()
    }

    /// The members heard from within `UNREACHABLE_AFTER` (this node included).
    pub fn up_nodes(&self) -> BTreeSet<NodeId> {
        self.state()
            .nodes
            .keys()
            .copied()
            .filter(|&id| self.reachable(id))
            .collect()
    }

    /// Notes local replicas dropped at `now_ms` (the last `DROPPED_KEPT` are shown).
    pub fn record_dropped(&self, shards: &[u32], now_ms: i64) {
        let mut d = self.dropped.lock().unwrap_or_else(|p| p.into_inner());
        for &s in shards {
            d.push_back((s, now_ms));
            if d.len() > DROPPED_KEPT {
                d.pop_front();
            }
        }
    }

    /// The status document (see the module docs; `docs/cluster.md` describes every field).
    pub fn status(&self) -> Value {
        let me = self.node_id();
        let state = self.state();
        let network = self.groups.network();
        let meta = self.groups.meta().status();
        let meta_voters = &meta.voters;
        let nodes: Vec<Value> = state
            .nodes
            .iter()
            .map(|(&id, n)| {
                let contact = if id == me {
                    Some(Duration::ZERO)
                } else {
                    network.last_contact(id).map(|t| t.elapsed())
                };
                let up = contact.is_some_and(|c| c < UNREACHABLE_AFTER);
                let since = self
                    .liveness
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .view(id);
                json!({
                    "id": id,
                    "http_addr": n.http_addr,
                    "grpc_addr": n.grpc_addr,
                    "state": if up { "up" } else { "unreachable" },
                    "last_contact_ms": contact.map(|c| c.as_millis() as u64),
                    // Since when (ms since the epoch) the node has been up, or unreachable,
                    // without a break, as this node's probes saw it.
                    "up_since_ms": since.and_then(|v| v.up_since),
                    "down_since_ms": since.and_then(|v| v.down_since),
                    "meta_voter": meta_voters.contains(&id),
                    "meta_learner": meta.learners.contains(&id),
                    // Being removed: its replicas move off; it leaves once none is left.
                    "draining": state.draining.contains(&id),
                    // Shards placed here, and moves under way to or from here.
                    "replicas": state.shards_of(id).len(),
                    "self": id == me,
                })
            })
            .collect();
        let mut healthy = meta.leader.is_some()
            && nodes.iter().all(|n| n["state"] == "up")
            && state.moves.is_empty();
        let moves: Vec<Value> = state
            .moves
            .iter()
            .map(|(&shard, m)| {
                json!({
                    "shard": shard,
                    "add": m.add,
                    "remove": m.remove,
                    "reason": m.reason,
                    "started_ms": m.started_ms,
                })
            })
            .collect();
        let sends: Vec<Value> = network
            .snapshot_sends()
            .into_iter()
            .filter_map(|s| {
                Some(json!({
                    "shard": cairn_consensus::shard_of_group(s.group)?,
                    "target": s.target,
                    "bytes_sent": s.bytes_sent,
                    "total": s.total,
                    "started_ms": s.started_ms,
                    "finished": s.finished,
                    "error": s.error,
                }))
            })
            .collect();
        let receives: Vec<Value> = network
            .snapshot_receives()
            .into_iter()
            .filter_map(|s| {
                Some(json!({
                    "shard": cairn_consensus::shard_of_group(s.group)?,
                    "from": s.from,
                    "bytes_received": s.bytes_received,
                    "started_ms": s.started_ms,
                    "finished": s.finished,
                    "error": s.error,
                }))
            })
            .collect();
        let dropped: Vec<Value> = self
            .dropped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|&(shard, at)| json!({ "shard": shard, "at_ms": at }))
            .collect();
        let mut shards = Vec::new();
        for shard in 0..state.shards {
            let placement = state.placement.get(&shard).cloned().unwrap_or_default();
            let Some(g) = self.groups.shard(shard) else {
                shards.push(json!({
                    "id": shard,
                    "placement": placement,
                    "local": false,
                }));
                continue;
            };
            let m = g.status();
            let placed: BTreeSet<NodeId> = placement.iter().copied().collect();
            // Settled: the voters are the placement, the placement has every replica it should
            // (a node that just joined may not be placed yet), and no membership change is
            // half done (during joint consensus both the old and the new voters need a quorum).
            let settled =
                m.voters == placed && placed.len() == self.rf.min(state.nodes.len()) && !m.joint;
            healthy &= m.leader.is_some() && settled;
            let rollup = match self.groups.engine().rollup_progress(shard) {
                Ok((m5, h1, series)) => json!({
                    "series": series,
                    "5m": { "built_to_ms": m5.watermark, "dirty": m5.dirty.len() },
                    "1h": { "built_to_ms": h1.watermark, "dirty": h1.dirty.len() },
                }),
                Err(e) => json!({ "error": e.to_string() }),
            };
            shards.push(json!({
                "id": shard,
                "group": m.group,
                "leader": m.leader,
                "term": m.term,
                "voters": m.voters,
                "learners": m.learners,
                "placement": placement,
                "local": true,
                "local_state": m.role,
                "last_applied": m.last_applied,
                "last_log_index": m.last_log_index,
                "log_entries": m.log_entries(),
                "snapshot_index": m.snapshot_index,
                // This replica's rollup progress: every window ending at or before
                // `built_to_ms` is built (unless dirty: changed by late samples since).
                "rollup": rollup,
            }));
        }
        json!({
            "node_id": me,
            "meta_leader": meta.leader,
            "meta_term": meta.term,
            // The meta group's Raft indexes, as the shards' below: a benchmark reads them
            // before and after to count the entries a workload wrote (`cairn bench notify`).
            "meta_last_applied": meta.last_applied,
            "meta_last_log_index": meta.last_log_index,
            "shard_count": state.shards,
            "shards_per_tenant": state.shards_per_tenant,
            "replication_factor": self.rf,
            "healthy": healthy,
            "nodes": nodes,
            // Replica moves under way (the meta group's record; `cairn cluster status` adds
            // the snapshot bytes each shard's leader has sent).
            "moves": moves,
            // Replicas this node dropped because their shard moved to other nodes (a node
            // that comes back after being declared dead drops its stale replicas).
            "dropped_replicas": dropped,
            // Shard snapshots this node is sending or has sent (a move's new replica catching
            // up), and receiving: bytes so far, the total once known.
            "snapshot_sends": sends,
            "snapshot_receives": receives,
            "shards": shards,
        })
    }
}
