//! The node's side of the cluster: starting (bootstrap, join or rejoin), routing each shard's
//! part of a write to that shard's Raft leader, and the read barrier that gives read-your-
//! writes on any node.
//!
//! ```text
//!  HTTP write ─► split by shard ─► Cluster::write(shard, batch)
//!                  ├─ local replica leads: the shard's proposer (cluster/proposer.rs,
//!                  │  rounds oldest first) ─► committed on a majority, applied here ─► report
//!                  └─ else: gRPC Cluster.Write to the leader (hinted by Raft, re-tried
//!                     within write_timeout; then 503 naming the shard)
//!  HTTP read ─► Cluster::read_barrier(shards): per shard, the leader's read index (local
//!               ensure_linearizable, or gRPC Cluster.ReadIndex), then wait until the local
//!               replica has applied it; the read itself is local. Shards without a local
//!               replica are read on a node that has one (cluster/remote_read.rs).
//!  gRPC :7481 ─► RaftTransport (consensus) + Cluster (cluster/service.rs)
//!  background ─► cluster/reconcile.rs: placement (meta leader), replicas (shard leaders)
//! ```

pub mod proposer;
pub mod raft_metrics;
pub mod reconcile;
pub mod remote_read;
pub mod service;
pub mod status;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use cairn_consensus::{
    ApplyObserver, ApplyReport, ClusterState, Command, GrpcRaftNetwork, MetaCommand, Node, NodeId,
    RaftGroups, RaftTimings,
};
use cairn_proto::cluster::cluster_client::ClusterClient;
use cairn_proto::cluster::{JoinRequest, PingRequest, ReadIndexRequest, WriteRequest};
use cairn_storage::Engine;

use crate::config::NodeConfig;
use proposer::Proposed;

/// This node's membership in the cluster.
pub struct Cluster {
    groups: Arc<RaftGroups>,
    me: Node,
    write_timeout: Duration,
    rf: usize,
    shards_per_tenant: u32,
    counters: raft_metrics::RaftCounters,
    proposer: proposer::Proposer,
}

/// Why one shard's part of a write failed (the HTTP layer answers 503 naming the shard).
#[derive(Debug)]
pub struct ShardUnavailable {
    pub shard: u32,
    pub reason: String,
}

impl Cluster {
    /// Starts the node's Raft groups and gRPC server, then bootstraps a new cluster, joins the
    /// one at `cfg.join`, or (with a data dir that already belongs to a cluster) rejoins.
    pub async fn start(
        cfg: &NodeConfig,
        engine: Arc<Engine>,
        observer: Option<Arc<dyn ApplyObserver>>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<Arc<Cluster>> {
        let id = cfg.node_id;
        let listener = tokio::net::TcpListener::bind(cfg.grpc_addr)
            .await
            .with_context(|| format!("binding the gRPC address {}", cfg.grpc_addr))?;
        let grpc_addr = listener.local_addr()?;
        let me = Node {
            http_addr: cfg.http_addr.to_string(),
            grpc_addr: grpc_addr.to_string(),
        };
        let network = GrpcRaftNetwork::new(id);
        let timings = RaftTimings {
            heartbeat_interval: Duration::from_millis(cfg.cluster.heartbeat_interval_ms),
            election_timeout_min: Duration::from_millis(cfg.cluster.election_timeout_ms),
            election_timeout_max: Duration::from_millis(2 * cfg.cluster.election_timeout_ms),
        };
        let groups = RaftGroups::start(id, engine.clone(), network.clone(), timings, observer)
            .await
            .context("starting the Raft groups")?;
        let cluster = Arc::new(Cluster {
            groups: groups.clone(),
            me: me.clone(),
            write_timeout: Duration::from_millis(cfg.limits.write_timeout_ms),
            rf: cfg.cluster.replication_factor as usize,
            shards_per_tenant: cfg.tenancy.shards_per_tenant,
            counters: Default::default(),
            proposer: proposer::Proposer::new(
                groups.clone(),
                Duration::from_millis(cfg.limits.write_timeout_ms),
            ),
        });
        service::serve(cluster.clone(), listener, shutdown.clone());
        tracing::info!(node = id, "cairn gRPC listening on {grpc_addr}");
        let initialized = groups.meta().is_initialized().await?;
        if initialized {
            tracing::info!(node = id, "rejoining the cluster from the data dir");
        } else if let Some(seed) = &cfg.join {
            cluster.join(seed).await?;
        } else {
            cluster
                .bootstrap(engine.shard_count(), cfg.tenancy.shards_per_tenant)
                .await?;
        }
        reconcile::spawn(cluster.clone(), shutdown);
        Ok(cluster)
    }

    pub fn groups(&self) -> &Arc<RaftGroups> {
        &self.groups
    }

    pub fn node_id(&self) -> NodeId {
        self.groups.node_id()
    }

    pub fn state(&self) -> ClusterState {
        self.groups.cluster().borrow().clone()
    }

    /// The shards `tenant` owns (shuffle sharding over the cluster's shard count).
    pub fn tenant_shards(&self, tenant: &str) -> Vec<u32> {
        let st = self.groups.cluster();
        let st = st.borrow();
        let (shards, k) = if st.shards == 0 {
            (self.groups.engine().shard_count(), self.shards_per_tenant)
        } else {
            (st.shards, st.shards_per_tenant)
        };
        cairn_consensus::tenant_shards(tenant, shards, k)
    }

    async fn bootstrap(&self, shards: u32, shards_per_tenant: u32) -> anyhow::Result<()> {
        let id = self.node_id();
        tracing::info!(node = id, shards, "bootstrapping a new cluster");
        let members = BTreeMap::from([(id, self.me.clone())]);
        self.groups
            .meta()
            .initialize(members.clone())
            .await
            .context("initialising the meta group")?;
        self.groups
            .meta()
            .wait(Some(Duration::from_secs(30)))
            .current_leader(id, "bootstrap")
            .await
            .context("becoming the meta leader")?;
        let mut cmds = vec![
            MetaCommand::Init {
                shards,
                shards_per_tenant,
            },
            MetaCommand::AddNode {
                id,
                node: self.me.clone(),
            },
        ];
        cmds.extend((0..shards).map(|shard| MetaCommand::SetPlacement {
            shard,
            replicas: vec![id],
        }));
        for cmd in cmds {
            self.groups
                .meta()
                .client_write(Command::Meta(cmd))
                .await
                .context("writing the initial cluster state")?;
        }
        for shard in 0..shards {
            let raft = self.groups.ensure_shard(shard).await?;
            raft.initialize(members.clone())
                .await
                .with_context(|| format!("initialising shard {shard}"))?;
        }
        Ok(())
    }

    /// Asks the member at `seed` (and then whoever it names as meta leader) to add this node,
    /// retrying until it is accepted.
    async fn join(&self, seed: &str) -> anyhow::Result<()> {
        let id = self.node_id();
        let mut target = seed.to_string();
        let started = Instant::now();
        loop {
            let req = JoinRequest {
                node_id: id,
                http_addr: self.me.http_addr.clone(),
                grpc_addr: self.me.grpc_addr.clone(),
            };
            let attempt = async {
                let channel = self.groups.network().channel(&target)?;
                let reply = ClusterClient::new(channel).join(req).await?.into_inner();
                anyhow::Ok(reply)
            };
            match tokio::time::timeout(Duration::from_secs(60), attempt).await {
                Ok(Ok(r)) if r.accepted => break,
                Ok(Ok(r)) if !r.leader_grpc_addr.is_empty() => target = r.leader_grpc_addr,
                Ok(Ok(_)) => target = seed.to_string(),
                Ok(Err(e)) => {
                    tracing::warn!(seed = %target, error = %e, "joining failed; retrying");
                    target = seed.to_string();
                }
                Err(_) => tracing::warn!(seed = %target, "join timed out; retrying"),
            }
            if started.elapsed() > Duration::from_secs(600) {
                anyhow::bail!("could not join the cluster through {seed} within 10 minutes");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        tracing::info!(node = id, via = %target, "joined the cluster");
        Ok(())
    }

    /// Handles a join request on this node: as meta leader, adds the node to the meta group
    /// (a voter while it has fewer than 5) and to the cluster state; placement follows.
    pub async fn accept_join(&self, id: NodeId, node: Node) -> Result<(), String> {
        let meta = self.groups.meta();
        let m = meta.metrics().borrow().clone();
        if m.current_leader != Some(self.node_id()) {
            return Err("not the meta leader".into());
        }
        let voters: Vec<NodeId> = m.membership_config.membership().voter_ids().collect();
        if !voters.contains(&id) {
            meta.add_learner(id, node.clone(), true)
                .await
                .map_err(|e| format!("adding node {id} to the meta group: {e}"))?;
            if voters.len() < 5 {
                let mut ids: std::collections::BTreeSet<NodeId> = voters.into_iter().collect();
                ids.insert(id);
                meta.change_membership(ids, false)
                    .await
                    .map_err(|e| format!("making node {id} a meta voter: {e}"))?;
            }
        }
        meta.client_write(Command::Meta(MetaCommand::AddNode { id, node }))
            .await
            .map_err(|e| format!("recording node {id}: {e}"))?;
        tracing::info!(node = id, "node joined the cluster");
        Ok(())
    }

    /// The node that leads `shard`, as far as this node knows (its local replica's view, else
    /// the first node of the shard's placement).
    fn leader_of(&self, shard: u32) -> Option<NodeId> {
        if let Some(raft) = self.groups.shard(shard) {
            return raft.metrics().borrow().current_leader;
        }
        self.state()
            .placement
            .get(&shard)
            .and_then(|r| r.first().copied())
    }

    fn grpc_addr_of(&self, node: NodeId) -> Option<String> {
        self.state().nodes.get(&node).map(|n| n.grpc_addr.clone())
    }

    /// Commits one shard's write batch (oldest sample at `min_t`) through its Raft group and
    /// waits until it is applied on the leader; retries on leader changes until
    /// `write_timeout`.
    pub async fn write(
        &self,
        shard: u32,
        batch: bytes::Bytes,
        min_t: i64,
    ) -> Result<ApplyReport, ShardUnavailable> {
        let deadline = Instant::now() + self.write_timeout;
        let unavailable = |reason: String| ShardUnavailable { shard, reason };
        let mut hint: Option<NodeId> = None;
        let mut last_error = String::from("no leader known");
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(unavailable(format!(
                    "not committed within {:?} ({last_error})",
                    self.write_timeout
                )));
            }
            let leader = hint.take().or_else(|| self.leader_of(shard));
            let result = match leader {
                Some(l) if l == self.node_id() => match self.groups.shard(shard) {
                    Some(_) => {
                        let started = Instant::now();
                        self.counters.proposals.fetch_add(1, Ordering::Relaxed);
                        let r = self.propose_local(shard, &batch, min_t, left).await;
                        match &r {
                            Attempt::Done(_) => self.counters.committed(started.elapsed()),
                            _ => {
                                self.counters
                                    .proposals_failed
                                    .fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        r
                    }
                    None => Attempt::Retry("no local replica".into(), None),
                },
                Some(l) => {
                    self.counters.forwarded.fetch_add(1, Ordering::Relaxed);
                    self.forward(shard, l, &batch, min_t, left).await
                }
                None => Attempt::Retry("no leader elected".into(), None),
            };
            match result {
                Attempt::Done(r) => return Ok(r),
                Attempt::Fail(e) => return Err(unavailable(e)),
                Attempt::Retry(e, h) => {
                    last_error = e;
                    hint = h;
                    if hint.is_none() {
                        tokio::time::sleep(Duration::from_millis(50).min(left)).await;
                    }
                }
            }
        }
    }

    async fn forward(
        &self,
        shard: u32,
        leader: NodeId,
        batch: &bytes::Bytes,
        min_t: i64,
        left: Duration,
    ) -> Attempt {
        if self.groups.network().faults().is_blocked(leader) {
            return Attempt::Retry(format!("node {leader} is unreachable (test fault)"), None);
        }
        let Some(addr) = self.grpc_addr_of(leader) else {
            return Attempt::Retry(format!("node {leader} has no known address"), None);
        };
        let channel = match self.groups.network().channel(&addr) {
            Ok(c) => c,
            Err(e) => return Attempt::Fail(e.to_string()),
        };
        let req = WriteRequest {
            shard,
            batch: batch.clone(),
            from: self.node_id(),
            min_t,
        };
        let mut client = ClusterClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        let call = client.write(req);
        match tokio::time::timeout(left, call).await {
            Err(_) => Attempt::Retry(format!("node {leader} did not answer in time"), None),
            Ok(Err(status)) => Attempt::Retry(format!("node {leader}: {}", status.message()), None),
            Ok(Ok(reply)) => {
                let r = reply.into_inner();
                if r.not_leader {
                    let hint =
                        (r.leader_hint != 0 && r.leader_hint != leader).then_some(r.leader_hint);
                    Attempt::Retry(format!("node {leader} is not the leader"), hint)
                } else {
                    Attempt::Done(ApplyReport {
                        written: r.written,
                        duplicates: r.duplicates,
                        rejected_too_old: r.rejected_too_old,
                        rejected_conflict: r.rejected_conflict,
                    })
                }
            }
        }
    }

    /// Waits until every local replica of `shards` has applied its leader's read index, so a
    /// local read sees every write acknowledged (by any node) before this call.
    pub async fn read_barrier(&self, shards: &[u32]) -> Result<(), ShardUnavailable> {
        let waits = shards.iter().map(|&s| self.read_barrier_one(s));
        for r in futures_util::future::join_all(waits).await {
            r?;
        }
        Ok(())
    }

    async fn read_barrier_one(&self, shard: u32) -> Result<(), ShardUnavailable> {
        let unavailable = |reason: String| ShardUnavailable { shard, reason };
        let Some(raft) = self.groups.shard(shard) else {
            return Err(unavailable("this node holds no replica of it yet".into()));
        };
        let deadline = Instant::now() + self.write_timeout;
        let mut last_error = String::from("no leader known");
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(unavailable(format!(
                    "no read index within {:?} ({last_error})",
                    self.write_timeout
                )));
            }
            let leader = raft.metrics().borrow().current_leader;
            let index = match leader {
                Some(l) if l == self.node_id() => {
                    match tokio::time::timeout(left, raft.ensure_linearizable()).await {
                        Ok(Ok(_)) => return Ok(()),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("the leader could not confirm its lease in time".into()),
                    }
                }
                Some(l) => self.remote_read_index(shard, l, left).await,
                None => Err("no leader elected".into()),
            };
            match index {
                Ok(index) => {
                    return raft
                        .wait(Some(left))
                        .applied_index_at_least(Some(index), "read barrier")
                        .await
                        .map(|_| ())
                        .map_err(|e| unavailable(format!("catching up to index {index}: {e}")));
                }
                Err(e) => {
                    last_error = e;
                    tokio::time::sleep(Duration::from_millis(50).min(left)).await;
                }
            }
        }
    }

    async fn remote_read_index(
        &self,
        shard: u32,
        leader: NodeId,
        left: Duration,
    ) -> Result<u64, String> {
        if self.groups.network().faults().is_blocked(leader) {
            return Err(format!("node {leader} is unreachable (test fault)"));
        }
        let addr = self
            .grpc_addr_of(leader)
            .ok_or_else(|| format!("node {leader} has no known address"))?;
        let channel = self
            .groups
            .network()
            .channel(&addr)
            .map_err(|e| e.to_string())?;
        let mut client = ClusterClient::new(channel);
        let call = client.read_index(ReadIndexRequest {
            shard,
            from: self.node_id(),
        });
        match tokio::time::timeout(left, call).await {
            Err(_) => Err(format!("node {leader} did not answer in time")),
            Ok(Err(status)) => Err(format!("node {leader}: {}", status.message())),
            Ok(Ok(r)) => {
                let r = r.into_inner();
                if r.not_leader {
                    Err(format!("node {leader} is not the leader"))
                } else {
                    Ok(r.index)
                }
            }
        }
    }

    /// Proposes `batch` through this node's proposer for `shard` (this node leads it).
    async fn propose_local(
        &self,
        shard: u32,
        batch: &bytes::Bytes,
        min_t: i64,
        left: Duration,
    ) -> Attempt {
        let proposed = self.proposer.propose(shard, batch.to_vec(), min_t);
        match tokio::time::timeout(left, proposed).await {
            Err(_) => Attempt::Retry("no quorum: not committed in time".into(), None),
            Ok(Proposed::Applied(r)) => Attempt::Done(r),
            Ok(Proposed::NotLeader(hint)) => Attempt::Retry("leadership moved".into(), hint),
            Ok(Proposed::Failed(e)) => Attempt::Retry(e, None),
        }
    }

    /// Proposes a write forwarded by another node, if this node leads `shard`.
    pub(crate) async fn propose_forwarded(
        &self,
        shard: u32,
        batch: Vec<u8>,
        min_t: i64,
    ) -> Proposed {
        self.proposer.propose(shard, batch, min_t).await
    }

    /// Checkpoints and stops every Raft group of this node.
    pub async fn shutdown(&self) {
        self.groups.shutdown().await;
    }
}

/// The shard count of the cluster that `seed` (a member's gRPC address) belongs to, asked
/// before a joining node lays out its data dir; `None` if the seed did not answer within
/// `wait` or does not know it yet.
pub async fn cluster_shard_count(seed: &str, wait: Duration) -> Option<u32> {
    let started = Instant::now();
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{seed}")).ok()?;
    while started.elapsed() < wait {
        let ask = async {
            let channel = endpoint.connect().await.ok()?;
            let reply = ClusterClient::new(channel)
                .ping(PingRequest { from: 0 })
                .await
                .ok()?;
            Some(reply.into_inner().shard_count)
        };
        if let Ok(Some(n)) = tokio::time::timeout(Duration::from_secs(5), ask).await
            && n > 0
        {
            return Some(n);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    None
}

/// The outcome of one attempt to commit a write.
enum Attempt {
    Done(ApplyReport),
    /// Give up at once (a bug or a bad request, not a leadership or quorum problem).
    Fail(String),
    /// Try again, at the hinted leader if there is one.
    Retry(String, Option<NodeId>),
}
