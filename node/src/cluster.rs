//! The node's side of the cluster: starting (bootstrap, join or rejoin), routing each shard's
//! part of a write to that shard's Raft leader, and the read barrier that gives read-your-
//! writes on any node.
//!
//! ```text
//!  HTTP write ─► split by shard ─► Cluster::write(shard, batch)
//!                  ├─ local replica leads: ShardGroup::propose (consensus' proposer,
//!                  │  rounds oldest first) ─► committed on a majority, applied here ─► report
//!                  └─ else: gRPC Cluster.Write to the leader (hinted by Raft, re-tried
//!                     within write_timeout; then 503 naming the shard)
//!  HTTP read ─► Cluster::read_barrier(shards): per shard, the leader's read index (local
//!               ShardGroup::read_index, or gRPC Cluster.ReadIndex), then wait until the local
//!               replica has applied it; the read itself is local. Shards without a local
//!               replica are read on a node that has one (cluster/remote_read.rs).
//!  rules API ─► Cluster::propose_kv(ops) = propose_meta(Kv): the meta leader proposes it;
//!               elsewhere gRPC Cluster.ProposeMeta to it, then wait until applied here too
//!               (also a finished move, a node to drain: Cluster::propose_meta)
//!  gRPC :7481 ─► RaftTransport (consensus) + Cluster (cluster/service.rs)
//!  background ─► jobs: reconcile (placement, replicas, pings), checkpoints (the supervisor)
//! ```

pub mod leader_transfer;
pub mod raft_metrics;
pub mod remote_buckets;
pub mod remote_read;
pub mod restore_seed;
pub mod service;
pub mod status;
pub mod tenant_retention;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use cairn_consensus::network::PeerChannel;
use cairn_consensus::{
    ApplyObserver, ApplyReport, ClusterState, GroupSettings, GrpcRaftNetwork, KvOp, META_GROUP,
    MetaCommand, Node, NodeId, RaftGroups, RaftTimings, ShardGroup,
};
use cairn_proto::cluster::cluster_client::ClusterClient;
use cairn_proto::cluster::{
    JoinRequest, PingRequest, ProposeMetaRequest, ReadIndexRequest, WriteRequest,
};
use cairn_storage::Engine;

use crate::config::NodeConfig;
use crate::error::{Error, Result};

/// After a failed attempt without a leader hint, the write and read paths wait this long
/// before asking again (an election takes a few hundred milliseconds at least).
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// A leader not heard from for this long is suspected of being cut off: writes are not
/// forwarded to it, and a forwarded write waiting on it gives up and looks for the new leader.
/// Above the reconcile job's ping period (1 s, plus its 0.5 s timeout), so that a node holding
/// no replica (heard from only by pings) is never suspected while up; about one election
/// timeout, so the write path gives up when the others are electing a new leader anyway.
const SUSPECT_AFTER: Duration = Duration::from_secs(2);

/// How often a forwarded write in flight checks that its leader is still heard from.
const SUSPECT_CHECK: Duration = Duration::from_millis(200);

/// This node's membership in the cluster.
pub struct Cluster {
    groups: Arc<RaftGroups>,
    me: Node,
    write_timeout: Duration,
    rf: usize,
    shards_per_tenant: u32,
    counters: raft_metrics::RaftCounters,
    /// Since when each member has been reachable or not, from this node's probes.
    liveness: std::sync::Mutex<cairn_consensus::liveness::Liveness>,
    /// Local replicas dropped because their shard moved away: (shard, when, ms), the last
    /// few, for the status page.
    dropped: std::sync::Mutex<std::collections::VecDeque<(u32, i64)>>,
    /// The shards each member said it leads in its last answer to a ping, and when.
    leading: std::sync::Mutex<std::collections::BTreeMap<NodeId, (Vec<u32>, Instant)>>,
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
            http_addr: cfg
                .advertise_http_addr
                .clone()
                .unwrap_or_else(|| cfg.http_addr.to_string()),
            grpc_addr: cfg
                .advertise_grpc_addr
                .clone()
                .unwrap_or_else(|| grpc_addr.to_string()),
        };
        let network = GrpcRaftNetwork::new(id);
        network.set_snapshot_rate(cfg.rebalance.snapshot_rate);
        let write_timeout = Duration::from_millis(cfg.limits.write_timeout_ms);
        let settings = GroupSettings {
            timings: RaftTimings {
                heartbeat_interval: Duration::from_millis(cfg.cluster.heartbeat_interval_ms),
                election_timeout_min: Duration::from_millis(cfg.cluster.election_timeout_ms),
                election_timeout_max: Duration::from_millis(2 * cfg.cluster.election_timeout_ms),
            },
            write_timeout,
        };
        let groups = RaftGroups::start(id, engine.clone(), network, settings, observer)
            .await
            .context("starting the Raft groups")?;
        let cluster = Arc::new(Cluster {
            groups: groups.clone(),
            me: me.clone(),
            write_timeout,
            rf: cfg.cluster.replication_factor as usize,
            shards_per_tenant: cfg.tenancy.shards_per_tenant,
            counters: Default::default(),
            liveness: Default::default(),
            dropped: Default::default(),
            leading: Default::default(),
        });
        service::serve(cluster.clone(), listener, shutdown);
        tracing::info!(node = id, "cairn gRPC listening on {grpc_addr}");
        let restored = restore_seed::RestoreSeed::read(&cfg.data_dir)?;
        if groups.meta().is_initialized().await? {
            tracing::info!(node = id, "rejoining the cluster from the data dir");
        } else if let Some(seed) = &cfg.join {
            if restored.is_some() {
                anyhow::bail!(
                    "{} holds a restored backup, which starts a new cluster: start this node \
                     without --join, and join the others to it",
                    cfg.data_dir.display()
                );
            }
            cluster.join(seed).await?;
        } else {
            let per_tenant = restored
                .as_ref()
                .map_or(cfg.tenancy.shards_per_tenant, |r| r.shards_per_tenant);
            groups
                .bootstrap(me, engine.shard_count(), per_tenant)
                .await
                .context("bootstrapping a new cluster")?;
        }
        // Also after a restart: a seed still here was not (wholly) put back yet.
        if let Some(seed) = &restored {
            cluster
                .apply_restore_seed(seed, &cfg.data_dir)
                .await
                .context("restoring the backup's meta key-value space")?;
        }
        Ok(cluster)
    }

    pub fn groups(&self) -> &Arc<RaftGroups> {
        &self.groups
    }

    pub fn node_id(&self) -> NodeId {
        self.groups.node_id()
    }

    /// The replication factor the meta leader places shards with.
    pub fn replication_factor(&self) -> usize {
        self.rf
    }

    pub fn state(&self) -> ClusterState {
        self.groups.state()
    }

    /// The shards `tenant` owns (shuffle sharding over the cluster's shard count).
    pub fn tenant_shards(&self, tenant: &str) -> Vec<u32> {
        let st = self.groups.state();
        let (shards, k) = if st.shards == 0 {
            (self.groups.engine().shard_count(), self.shards_per_tenant)
        } else {
            (st.shards, st.shards_per_tenant)
        };
        cairn_consensus::tenant_shards(tenant, shards, k)
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

    /// The node that leads `shard`, as far as this node knows: its local replica's view
    /// (`local`), else the first node of the shard's placement.
    fn leader_of(&self, shard: u32, local: Option<&ShardGroup>) -> Option<NodeId> {
        if let Some(g) = local {
            return g.leader();
        }
        self.state()
            .placement
            .get(&shard)
            .and_then(|r| r.first().copied())
    }

    fn grpc_addr_of(&self, node: NodeId) -> Result<String> {
        self.state()
            .nodes
            .get(&node)
            .map(|n| n.grpc_addr.clone())
            .ok_or(Error::NoAddress { node })
    }

    /// A client of the `Cluster` service of `node`, over the shared channel.
    fn client_of(&self, node: NodeId) -> Result<ClusterClient<PeerChannel>> {
        let addr = self.grpc_addr_of(node)?;
        let channel = self.groups.network().channel_to(node, &addr)?;
        Ok(ClusterClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX))
    }

    /// Commits one shard's write batch (oldest sample at `min_t`) through its Raft group and
    /// waits until it is applied on the leader; retries retryable failures (a leader change,
    /// no quorum yet), at the hinted leader when there is one, until `write_timeout`.
    pub async fn write(&self, shard: u32, batch: bytes::Bytes, min_t: i64) -> Result<ApplyReport> {
        self.retry(shard, "committing the write", |left, hint| {
            self.write_once(shard, &batch, min_t, left, hint)
        })
        .await
    }

    /// One attempt at a write: proposed here if this node leads the shard (or is hinted to),
    /// else forwarded to the leader.
    async fn write_once(
        &self,
        shard: u32,
        batch: &bytes::Bytes,
        min_t: i64,
        left: Duration,
        hint: Option<NodeId>,
    ) -> Result<ApplyReport> {
        let local = self.groups.shard(shard);
        match hint.or_else(|| self.leader_of(shard, local.as_ref())) {
            Some(l) if l == self.node_id() => match local {
                Some(g) => self.propose_local(&g, batch, min_t, left).await,
                None => Err(cairn_consensus::Error::NoReplica { shard }.into()),
            },
            Some(l) => {
                self.counters.forwarded.fetch_add(1, Ordering::Relaxed);
                self.forward(shard, l, batch, min_t, left).await
            }
            None => Err(Error::NoLeader { shard }),
        }
    }

    /// Runs `attempt` (given the time left and the last leader hint) until it succeeds, fails
    /// for good, or `write_timeout` passes; then the last failure names the shard.
    async fn retry<T, F, Fut>(&self, shard: u32, what: &'static str, mut attempt: F) -> Result<T>
    where
        F: FnMut(Duration, Option<NodeId>) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let deadline = Instant::now() + self.write_timeout;
        let mut hint = None;
        let mut last = Error::NoLeader { shard };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::ShardTimeout {
                    shard,
                    what,
                    after: self.write_timeout,
                    last: Box::new(last),
                });
            }
            match attempt(left, hint.take()).await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() => {
                    hint = e.leader_hint().filter(|&h| Some(h) != e_node(&e));
                    last = e;
                    if hint.is_none() {
                        tokio::time::sleep(RETRY_PAUSE.min(left)).await;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Proposes `batch` to this node's replica `g` of its shard, which this node leads.
    async fn propose_local(
        &self,
        g: &ShardGroup,
        batch: &bytes::Bytes,
        min_t: i64,
        left: Duration,
    ) -> Result<ApplyReport> {
        let started = Instant::now();
        self.counters.proposals.fetch_add(1, Ordering::Relaxed);
        let r = match tokio::time::timeout(left, g.propose(batch.clone(), min_t)).await {
            Ok(r) => r.map_err(Error::from),
            Err(_) => Err(cairn_consensus::Error::Timeout {
                group: g.group(),
                what: "applying the write",
                after: left,
            }
            .into()),
        };
        match &r {
            Ok(_) => self.counters.committed(started.elapsed()),
            Err(_) => {
                self.counters
                    .proposals_failed
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        r
    }

    /// `Err(LeaderUnreachable)` when `leader` has been silent for `SUSPECT_AFTER` (never
    /// before this node first heard from it: that is a node just started).
    fn check_heard_from(&self, shard: u32, leader: NodeId) -> Result<()> {
        match self.groups.network().last_contact(leader) {
            Some(t) if t.elapsed() > SUSPECT_AFTER => Err(Error::LeaderUnreachable {
                shard,
                leader,
                silent: t.elapsed(),
            }),
            _ => Ok(()),
        }
    }

    /// Sends `batch` to `leader` (`Cluster.Write`), which proposes it there. Not to a leader
    /// gone silent, and not waiting on one that goes silent meanwhile (`check_heard_from`).
    async fn forward(
        &self,
        shard: u32,
        leader: NodeId,
        batch: &bytes::Bytes,
        min_t: i64,
        left: Duration,
    ) -> Result<ApplyReport> {
        self.check_heard_from(shard, leader)?;
        let mut client = self.client_of(leader)?;
        let req = WriteRequest {
            shard,
            batch: batch.clone(),
            from: self.node_id(),
            min_t,
        };
        let reply = call(leader, left, client.write(req));
        tokio::pin!(reply);
        let r = loop {
            tokio::select! {
                r = &mut reply => break r?,
                _ = tokio::time::sleep(SUSPECT_CHECK) => self.check_heard_from(shard, leader)?,
            }
        };
        not_leader(shard, leader, r.not_leader, r.leader_hint)?;
        Ok(ApplyReport {
            written: r.written,
            duplicates: r.duplicates,
            rejected_too_old: r.rejected_too_old,
            rejected_conflict: r.rejected_conflict,
            refused: false,
        })
    }

    /// Waits until every local replica of `shards` has applied its leader's read index, so a
    /// local read sees every write acknowledged (by any node) before this call.
    pub async fn read_barrier(&self, shards: &[u32]) -> Result<()> {
        let waits = shards.iter().map(|&s| self.read_barrier_one(s));
        for r in futures_util::future::join_all(waits).await {
            r?;
        }
        Ok(())
    }

    async fn read_barrier_one(&self, shard: u32) -> Result<()> {
        let Some(g) = self.groups.shard(shard) else {
            return Err(cairn_consensus::Error::NoReplica { shard }.into());
        };
        self.retry(shard, "reaching the read index", |left, _hint| {
            self.read_barrier_once(&g, left)
        })
        .await
    }

    /// One attempt at the read barrier of `g`'s shard.
    async fn read_barrier_once(&self, g: &ShardGroup, left: Duration) -> Result<()> {
        let shard = g.shard();
        match g.leader() {
            // The leader's read index is applied here when it returns.
            Some(l) if l == self.node_id() => {
                match tokio::time::timeout(left, g.read_index()).await {
                    Ok(r) => r.map(|_| ()).map_err(Error::from),
                    Err(_) => Err(cairn_consensus::Error::NoQuorum { group: g.group() }.into()),
                }
            }
            Some(l) => {
                let index = self.remote_read_index(shard, l, left).await?;
                Ok(g.wait_applied(index, left).await?)
            }
            None => Err(Error::NoLeader { shard }),
        }
    }

    /// The read index of `shard` from its leader `leader` (`Cluster.ReadIndex`).
    async fn remote_read_index(&self, shard: u32, leader: NodeId, left: Duration) -> Result<u64> {
        let mut client = self.client_of(leader)?;
        let req = ReadIndexRequest {
            shard,
            from: self.node_id(),
        };
        let r = call(leader, left, client.read_index(req)).await?;
        not_leader(shard, leader, r.not_leader, r.leader_hint)?;
        Ok(r.index)
    }

    /// Commits `ops` to the meta group's key-value space as one command (see
    /// [`Cluster::propose_meta`]). The ops are absolute (puts and deletes), so one applied
    /// twice by a retry after a lost reply leaves the same state.
    pub async fn propose_kv(&self, ops: Vec<KvOp>) -> Result<()> {
        self.propose_meta(MetaCommand::Kv { ops }, "committing rules or alert state")
            .await
    }

    /// Commits `cmd` to the meta group: proposed here on the meta leader, else forwarded to
    /// it (`Cluster.ProposeMeta`); retried at the hinted leader until `write_timeout`. When it
    /// returns `Ok` after a `Kv` command, this node has applied it too, so a read here right
    /// after sees it. Every command forwarded is idempotent (a `Kv` command of absolute ops,
    /// `FinishMove`, `Drain`), so a retry after a lost reply does no harm.
    pub async fn propose_meta(&self, cmd: MetaCommand, what: &'static str) -> Result<()> {
        let deadline = Instant::now() + self.write_timeout;
        let meta = self.groups.meta();
        let mut hint: Option<NodeId> = None;
        let mut last = Error::NoMetaLeader;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::MetaTimeout {
                    what,
                    after: self.write_timeout,
                    last: Box::new(last),
                });
            }
            let attempt = match hint.take().or_else(|| meta.leader()) {
                Some(l) if l == self.node_id() => {
                    // Nothing proposed here carries an `Expect`, so nothing is refused.
                    match tokio::time::timeout(left, meta.propose(cmd.clone())).await {
                        Ok(r) => r.map_err(Error::from),
                        Err(_) => Err(cairn_consensus::Error::Timeout {
                            group: META_GROUP,
                            what,
                            after: left,
                        }
                        .into()),
                    }
                }
                Some(l) => self.forward_meta(l, &cmd, left).await,
                None => Err(Error::NoMetaLeader),
            };
            match attempt {
                Ok(()) => return Ok(()),
                Err(e) if e.is_retryable() => {
                    hint = e.leader_hint().filter(|&h| Some(h) != e_node(&e));
                    last = e;
                    if hint.is_none() {
                        tokio::time::sleep(RETRY_PAUSE.min(left)).await;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends `cmd` to `leader` (`Cluster.ProposeMeta`), then waits (within `left`) until this
    /// node has applied as far as the leader had once it was applied there.
    async fn forward_meta(&self, leader: NodeId, cmd: &MetaCommand, left: Duration) -> Result<()> {
        let started = Instant::now();
        let mut client = self.client_of(leader)?;
        let req = ProposeMetaRequest {
            command: serde_json::to_vec(cmd).map_err(|e| Error::Encode {
                what: "meta command",
                reason: e.to_string(),
            })?,
            from: self.node_id(),
        };
        let r = call(leader, left, client.propose_meta(req)).await?;
        if r.not_leader {
            return Err(cairn_consensus::Error::NotLeader {
                group: META_GROUP,
                node: leader,
                leader: (r.leader_hint != 0).then_some(r.leader_hint),
            }
            .into());
        }
        let mut applied = self.groups.meta().kv_watch();
        let wait = left.saturating_sub(started.elapsed());
        // Committed already: not catching up in time only means a read here may lag.
        if tokio::time::timeout(wait, applied.wait_for(|v| *v >= r.applied))
            .await
            .is_err()
        {
            tracing::debug!(
                version = r.applied,
                "the meta change is committed but not yet applied here"
            );
        }
        Ok(())
    }

    /// Checkpoints and stops every Raft group of this node.
    pub async fn shutdown(&self) {
        self.groups.shutdown().await;
    }
}

/// The node a `NotLeader` error came from, so a hint pointing back at it is not followed in
/// a loop.
fn e_node(e: &Error) -> Option<NodeId> {
    match e {
        Error::NotLeader { node, .. }
        | Error::Consensus(cairn_consensus::Error::NotLeader { node, .. }) => Some(*node),
        _ => None,
    }
}

/// A reply's "not the leader" flag and leader hint (0: none) as an error.
fn not_leader(shard: u32, node: NodeId, not_leader: bool, hint: u64) -> Result<()> {
    if not_leader {
        return Err(Error::NotLeader {
            shard,
            node,
            hint: (hint != 0).then_some(hint),
        });
    }
    Ok(())
}

/// Awaits a gRPC call to `node` for at most `left`.
async fn call<T>(
    node: NodeId,
    left: Duration,
    call: impl std::future::Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T> {
    match tokio::time::timeout(left, call).await {
        Err(_) => Err(Error::PeerTimeout { node, after: left }),
        Ok(Err(status)) => Err(Error::Peer { node, status }),
        Ok(Ok(reply)) => Ok(reply.into_inner()),
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
