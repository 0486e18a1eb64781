//! The reconcile job: turns the cluster state into running replicas. Each pass pings every
//! other member (so the status page knows who is up even between nodes that share no Raft
//! group), notes each group's leader for `/metrics`, then runs `RaftGroups::reconcile`:
//!
//! ```text
//!  every node      start a local replica of every shard placed on it
//!  meta leader     plan_placement(state, rf) ─► SetPlacement proposals
//!  shard leaders   plan_membership(members, placement) ─► add learners, then set voters;
//!                  a move whose voters are committed ─► FinishMove (forwarded to the meta leader)
//!  every node      replicas the cluster state no longer gives this node ─► dropped
//! ```
//! It runs every second and, woken by the supervisor's trigger, at every cluster state change.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cairn_consensus::{MetaCommand, Node, NodeId};
use cairn_proto::cluster::PingRequest;
use cairn_proto::cluster::cluster_client::ClusterClient;

use super::{Job, RunOnce};
use crate::cluster::Cluster;
use crate::timeparse::wall_ms;

/// How long a member may take to answer a ping.
const PING_TIMEOUT: Duration = Duration::from_millis(500);

pub struct ReconcileJob {
    cluster: Arc<Cluster>,
}

impl ReconcileJob {
    pub fn new(cluster: Arc<Cluster>) -> Self {
        ReconcileJob { cluster }
    }

    /// Probes every other member concurrently; an answer counts as contact.
    async fn ping_members(&self, nodes: &BTreeMap<NodeId, Node>) {
        let c = &self.cluster;
        let me = c.node_id();
        let network = c.groups().network();
        let pings = nodes
            .iter()
            .filter(|(id, _)| **id != me)
            .map(|(&id, node)| async move {
                let Ok(channel) = network.channel_to(id, &node.grpc_addr) else {
                    return;
                };
                let mut client = ClusterClient::new(channel);
                let call = client.ping(PingRequest { from: me });
                if let Ok(Ok(reply)) = tokio::time::timeout(PING_TIMEOUT, call).await {
                    network.record_contact(id);
                    c.record_leading(id, reply.into_inner().leading);
                }
            });
        futures_util::future::join_all(pings).await;
    }
}

impl Job for ReconcileJob {
    fn name(&self) -> &'static str {
        "reconcile"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(1)
    }

    /// Failures here are usually an election under way: retry soon.
    fn max_backoff(&self) -> Duration {
        Duration::from_secs(4)
    }

    fn run_once(&self) -> RunOnce<'_> {
        Box::pin(async move {
            let c = &self.cluster;
            let groups = c.groups();
            self.ping_members(&c.state().nodes).await;
            c.observe_liveness(wall_ms());
            c.observe_leaders();
            let done = groups.reconcile(c.replication_factor()).await;
            for shard in &done.started {
                tracing::info!(shard, "started a replica of the shard");
            }
            c.record_dropped(&done.dropped, wall_ms());
            let mut errors: Vec<crate::Error> = done.errors.into_iter().map(Into::into).collect();
            for (shard, replicas) in done.settled {
                tracing::info!(shard, ?replicas, "the shard's move is done");
                let cmd = MetaCommand::FinishMove { shard, replicas };
                if let Err(e) = c.propose_meta(cmd, "recording a finished move").await {
                    errors.push(e);
                }
            }
            let mut errors = errors.into_iter();
            match errors.next() {
                None => Ok(()),
                Some(first) => {
                    for e in errors {
                        tracing::debug!(error = %e, "reconciliation step failed");
                    }
                    Err(first)
                }
            }
        })
    }
}
