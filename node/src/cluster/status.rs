//! `GET /api/v1/cluster/status`: the cluster as this node sees it — members and their
//! health, the meta leader, and every shard's Raft state from the local replica's metrics.

use std::collections::BTreeSet;
use std::time::Duration;

use cairn_consensus::NodeId;
use serde_json::{Value, json};

use super::Cluster;

/// A member not heard from for this long is reported `unreachable`.
const UNREACHABLE_AFTER: Duration = Duration::from_secs(5);

impl Cluster {
    /// The status document (see the module docs; `docs/cluster.md` describes every field).
    pub fn status(&self) -> Value {
        let me = self.node_id();
        let state = self.state();
        let network = self.groups.network();
        let meta = self.groups.meta().metrics().borrow().clone();
        let meta_voters: BTreeSet<NodeId> =
            meta.membership_config.membership().voter_ids().collect();
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
                json!({
                    "id": id,
                    "http_addr": n.http_addr,
                    "grpc_addr": n.grpc_addr,
                    "state": if up { "up" } else { "unreachable" },
                    "last_contact_ms": contact.map(|c| c.as_millis() as u64),
                    "meta_voter": meta_voters.contains(&id),
                    "self": id == me,
                })
            })
            .collect();
        let mut healthy = meta.current_leader.is_some() && nodes.iter().all(|n| n["state"] == "up");
        let mut shards = Vec::new();
        for shard in 0..state.shards {
            let placement = state.placement.get(&shard).cloned().unwrap_or_default();
            let Some(raft) = self.groups.shard(shard) else {
                shards.push(json!({
                    "id": shard,
                    "placement": placement,
                    "local": false,
                }));
                continue;
            };
            let m = raft.metrics().borrow().clone();
            let membership = m.membership_config.membership();
            let voters: Vec<NodeId> = membership.voter_ids().collect();
            let learners: Vec<NodeId> = membership.learner_ids().collect();
            let applied = m.last_applied.map(|l| l.index).unwrap_or(0);
            let first = m.purged.map(|l| l.index + 1).unwrap_or(1);
            let last = m.last_log_index.unwrap_or(0);
            let placed: BTreeSet<NodeId> = placement.iter().copied().collect();
            // Settled: the voters are the placement, the placement has every replica it should
            // (a node that just joined may not be placed yet), and no membership change is
            // half done (during joint consensus both the old and the new voters need a quorum).
            let settled = voters.iter().copied().collect::<BTreeSet<_>>() == placed
                && placed.len() == self.rf.min(state.nodes.len())
                && membership.get_joint_config().len() == 1;
            healthy &= m.current_leader.is_some() && settled;
            shards.push(json!({
                "id": shard,
                "group": cairn_consensus::group_of_shard(shard),
                "leader": m.current_leader,
                "term": m.current_term,
                "voters": voters,
                "learners": learners,
                "placement": placement,
                "local": true,
                "local_state": format!("{:?}", m.state),
                "last_applied": applied,
                "last_log_index": last,
                "log_entries": (last + 1).saturating_sub(first),
                "snapshot_index": m.snapshot.map(|l| l.index),
            }));
        }
        json!({
            "node_id": me,
            "meta_leader": meta.current_leader,
            "meta_term": meta.current_term,
            "shard_count": state.shards,
            "shards_per_tenant": state.shards_per_tenant,
            "replication_factor": self.rf,
            "healthy": healthy,
            "nodes": nodes,
            "shards": shards,
        })
    }
}
