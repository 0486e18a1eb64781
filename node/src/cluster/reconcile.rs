//! The cluster's background reconciler: turns the desired placement into running replicas.
//! One pass (`run_once`) every second and whenever the cluster state changes:
//!
//! ```text
//!  every node      start a local replica of every shard placed on it (it then waits for
//!                  its leader to send the log or a snapshot)
//!  meta leader     plan_placement(state, rf) ─► SetPlacement commands (new nodes get replicas
//!                  until every shard has min(rf, nodes))
//!  shard leaders   membership ─► placement: add missing nodes as learners, promote them to
//!                  voters once caught up (openraft's joint consensus does the rest)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use cairn_consensus::{Command, MetaCommand, Node, NodeId, TypeConfig, plan_placement};
use cairn_proto::cluster::PingRequest;
use cairn_proto::cluster::cluster_client::ClusterClient;
use openraft::Raft;

use super::Cluster;

/// A learner within this many entries of the leader's log is promoted to voter.
const CAUGHT_UP_ENTRIES: u64 = 64;

pub fn spawn(cluster: Arc<Cluster>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut changes = cluster.groups.cluster();
        loop {
            run_once(&cluster).await;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                r = changes.changed() => if r.is_err() { return },
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    });
}

/// One reconciliation pass; every step is idempotent, and a failed one is retried next pass.
pub async fn run_once(c: &Cluster) {
    let me = c.node_id();
    let state = c.state();
    ping_members(c, &state.nodes).await;
    for shard in state.shards_of(me) {
        if c.groups.shard(shard).is_none()
            && let Err(e) = c.groups.ensure_shard(shard).await
        {
            tracing::warn!(shard, error = %e, "starting a shard replica failed");
        }
    }
    let meta = c.groups.meta();
    c.counters
        .observe_leader(0, meta.metrics().borrow().current_leader);
    for (shard, raft) in c.groups.local_shards() {
        let leader = raft.metrics().borrow().current_leader;
        c.counters
            .observe_leader(cairn_consensus::group_of_shard(shard), leader);
    }
    if meta.metrics().borrow().current_leader == Some(me) {
        for (shard, replicas) in plan_placement(&state, c.rf) {
            tracing::info!(shard, ?replicas, "placing shard");
            let cmd = Command::Meta(MetaCommand::SetPlacement { shard, replicas });
            if let Err(e) = meta.client_write(cmd).await {
                tracing::warn!(shard, error = %e, "proposing a placement failed");
                break;
            }
        }
    }
    for (shard, raft) in c.groups.local_shards() {
        let Some(target) = state.placement.get(&shard) else {
            continue;
        };
        if raft.metrics().borrow().current_leader != Some(me) {
            continue;
        }
        if let Err(e) = converge_membership(&raft, target, &state.nodes).await {
            tracing::warn!(shard, error = %e, "changing the shard's replicas failed");
        }
    }
}

/// Probes every other member (concurrently, 500 ms each), so that the status page knows who
/// is up even between nodes that exchange no Raft traffic.
async fn ping_members(c: &Cluster, nodes: &BTreeMap<NodeId, Node>) {
    let me = c.node_id();
    let network = c.groups.network();
    let pings = nodes
        .iter()
        .filter(|(id, _)| **id != me)
        .map(|(&id, node)| async move {
            if network.faults().is_blocked(id) {
                return;
            }
            let Ok(channel) = network.channel(&node.grpc_addr) else {
                return;
            };
            let mut client = ClusterClient::new(channel);
            let call = client.ping(PingRequest { from: me });
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(500), call).await {
                network.record_contact(id);
            }
        });
    futures_util::future::join_all(pings).await;
}

/// Moves one shard group's membership one step towards `target` voters.
async fn converge_membership(
    raft: &Raft<TypeConfig>,
    target: &[NodeId],
    nodes: &BTreeMap<NodeId, Node>,
) -> Result<(), String> {
    let m = raft.metrics().borrow().clone();
    let membership = m.membership_config.membership();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let learners: BTreeSet<NodeId> = membership.learner_ids().collect();
    let target: BTreeSet<NodeId> = target.iter().copied().collect();
    if voters == target {
        return Ok(());
    }
    for n in target.difference(&voters) {
        if learners.contains(n) {
            continue;
        }
        let Some(node) = nodes.get(n) else {
            continue;
        };
        tracing::info!(node = n, "adding a replica as learner");
        raft.add_learner(*n, node.clone(), false)
            .await
            .map_err(|e| e.to_string())?;
    }
    let last = m.last_log_index.unwrap_or(0);
    let matched = |n: &NodeId| -> u64 {
        m.replication
            .as_ref()
            .and_then(|r| r.get(n).cloned().flatten())
            .map(|l| l.index)
            .unwrap_or(0)
    };
    let caught_up = target
        .iter()
        .all(|n| voters.contains(n) || matched(n) + CAUGHT_UP_ENTRIES >= last);
    if caught_up {
        tracing::info!(voters = ?target, "changing the shard's voters");
        raft.change_membership(target, false)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
