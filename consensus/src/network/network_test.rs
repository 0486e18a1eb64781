//! The Raft transport over real sockets (`127.0.0.1:0`) with real `RocksRaftLog`s on temp
//! dirs: three openraft nodes per group, two groups sharing the nodes' channels, a partition
//! through [`Faults`], and a follower that can only catch up by InstallSnapshot. Plus the
//! error mapping of single RPCs (blocked peer, closed port, unknown group, stopped group).
//!
//! Every wait is on a condition with a deadline (openraft's `Wait`), never a fixed sleep.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_proto::raft::RaftRequest;
use cairn_proto::raft::raft_transport_client::RaftTransportClient;
use cairn_storage::log_store::LogStore;
use openraft::error::{ClientWriteError, Fatal, RPCError, RaftError, RemoteError};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{AppendEntriesRequest, VoteRequest};
use openraft::{Config, Raft, RaftMetrics, ServerState, SnapshotPolicy, Vote};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::Code;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use super::{BadPeerAddress, Faults, GrpcRaftNetwork, RaftRegistry};
use crate::log_store::RocksRaftLog;
use crate::test_state_machine::MemStateMachine;
use crate::type_config::{Command, Node, NodeId, TypeConfig};

/// Generous: two cores are shared with builds, and a leader change costs a few election
/// timeouts plus openraft's 500 ms unreachable backoff.
const DEADLINE: Duration = Duration::from_secs(30);

// ---- a node: listener, transport server, one Raft per group, a registry ----------------------

#[derive(Default)]
struct Groups(Mutex<BTreeMap<u64, Raft<TypeConfig>>>);

impl RaftRegistry for Groups {
    fn group(&self, group: u64) -> Option<Raft<TypeConfig>> {
        self.0.lock().unwrap().get(&group).cloned()
    }
}

fn raft_config() -> Arc<Config> {
    let config = Config {
        cluster_name: "cairn-network-test".to_string(),
        heartbeat_interval: 100,
        election_timeout_min: 300,
        election_timeout_max: 600,
        // One chunk of a snapshot per RPC; tiny chunks so that a test snapshot takes several.
        install_snapshot_timeout: 1000,
        snapshot_max_chunk_size: 256,
        // Snapshots only when a test asks, and then keep no log behind them.
        snapshot_policy: SnapshotPolicy::Never,
        max_in_snapshot_log_to_keep: 0,
        ..Default::default()
    };
    Arc::new(config.validate().unwrap())
}

struct TestNode {
    id: NodeId,
    addr: String,
    network: GrpcRaftNetwork,
    registry: Arc<Groups>,
    groups: BTreeMap<u64, (Raft<TypeConfig>, MemStateMachine)>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    // Last: the RocksDB directory outlives the Rafts that write to it.
    _dir: tempfile::TempDir,
}

impl TestNode {
    async fn start(id: NodeId, groups: &[u64]) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open_standalone(dir.path()).unwrap();
        let network = GrpcRaftNetwork::new(id);
        let registry = Arc::new(Groups::default());

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (shutdown, stop) = oneshot::channel::<()>();
        let service = network.service(registry.clone());
        let layer = network.server_layer();
        let server = tokio::spawn(async move {
            Server::builder()
                .layer(layer)
                .add_service(service)
                .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                    let _ = stop.await;
                })
                .await
                .unwrap();
        });

        let mut node = TestNode {
            id,
            addr,
            network,
            registry,
            groups: BTreeMap::new(),
            shutdown: Some(shutdown),
            server: Some(server),
            _dir: dir,
        };
        for &group in groups {
            node.add_group(group, &store).await;
        }
        node
    }

    async fn add_group(&mut self, group: u64, store: &LogStore) {
        let recorder = MemStateMachine::default();
        let raft = Raft::new(
            self.id,
            raft_config(),
            self.network.for_group(group),
            RocksRaftLog::new(store.clone(), group),
            recorder.clone(),
        )
        .await
        .unwrap();
        self.registry.0.lock().unwrap().insert(group, raft.clone());
        self.groups.insert(group, (raft, recorder));
    }

    fn node(&self) -> Node {
        Node {
            http_addr: String::new(),
            grpc_addr: self.addr.clone(),
        }
    }

    fn raft(&self, group: u64) -> &Raft<TypeConfig> {
        &self.groups[&group].0
    }

    fn recorder(&self, group: u64) -> &MemStateMachine {
        &self.groups[&group].1
    }

    fn metrics(&self, group: u64) -> RaftMetrics<NodeId, Node> {
        self.raft(group).metrics().borrow().clone()
    }

    async fn stop(mut self) {
        for (raft, _) in self.groups.values() {
            raft.shutdown().await.unwrap();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
    }
}

// ---- a three-node cluster ---------------------------------------------------------------------

struct Cluster {
    nodes: Vec<TestNode>,
}

impl Cluster {
    /// Three nodes (ids 1, 2, 3), each running `groups`; node 1 initializes every group with
    /// all three as voters.
    async fn start(groups: &[u64]) -> Cluster {
        let mut nodes = Vec::new();
        for id in 1..=3 {
            nodes.push(TestNode::start(id, groups).await);
        }
        let cluster = Cluster { nodes };
        let members: BTreeMap<NodeId, Node> =
            cluster.nodes.iter().map(|n| (n.id, n.node())).collect();
        for &group in groups {
            cluster
                .node(1)
                .raft(group)
                .initialize(members.clone())
                .await
                .unwrap();
        }
        cluster
    }

    fn node(&self, id: NodeId) -> &TestNode {
        &self.nodes[(id - 1) as usize]
    }

    fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.nodes.iter().map(|n| n.id)
    }

    /// The leader of `group`, once some node knows itself as leader.
    async fn leader(&self, group: u64, among: &[NodeId]) -> NodeId {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            for &id in among {
                if self.node(id).metrics(group).state == ServerState::Leader {
                    return id;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no leader of group {group} among {among:?} within {DEADLINE:?}"
            );
            // Wait for any metrics change on the first candidate (a leader change shows up
            // there as a new current_leader), bounded so other nodes are rechecked.
            let _ = self
                .node(among[0])
                .raft(group)
                .wait(Some(Duration::from_millis(200)))
                .metrics(|m| m.state == ServerState::Leader, "leader")
                .await;
        }
    }

    /// Proposes `batch` to `group` through whichever of `among` leads; returns its log index.
    async fn write(&self, group: u64, among: &[NodeId], batch: Vec<u8>) -> u64 {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let leader = self.leader(group, among).await;
            let raft = self.node(leader).raft(group);
            match raft
                .client_write(Command::Write {
                    batch: batch.clone().into(),
                })
                .await
            {
                Ok(resp) => return resp.log_id.index,
                // Leadership moved before the entry was appended: safe to propose again.
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_)))
                    if tokio::time::Instant::now() < deadline => {}
                Err(e) => panic!("write to group {group} via node {leader}: {e}"),
            }
        }
    }

    async fn wait_applied(&self, group: u64, ids: &[NodeId], index: u64) {
        for &id in ids {
            self.node(id)
                .raft(group)
                .wait(Some(DEADLINE))
                .applied_index_at_least(Some(index), format!("node {id} group {group}"))
                .await
                .unwrap();
        }
    }

    /// Cuts `victim` off from every other node, for every group: the others block it and it
    /// blocks them.
    fn partition(&self, victim: NodeId) {
        for node in &self.nodes {
            if node.id == victim {
                for other in self.ids().filter(|&o| o != victim) {
                    node.network.faults().block(other);
                }
            } else {
                node.network.faults().block(victim);
            }
        }
    }

    fn heal(&self) {
        for node in &self.nodes {
            node.network.faults().unblock_all();
        }
    }

    async fn stop(self) {
        for node in self.nodes {
            node.stop().await;
        }
    }
}

fn batch(group: u64, i: u32) -> Vec<u8> {
    format!("group {group} batch {i}").into_bytes()
}

fn applied_index(node: &TestNode, group: u64) -> Option<u64> {
    node.metrics(group).last_applied.map(|l| l.index)
}

// ---- cluster tests ----------------------------------------------------------------------------

/// Groups 7 and 8 on the same three servers: every node applies exactly its group's batches
/// (routing by group id), over one channel per peer (shared by both groups).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_replicate_two_groups_over_shared_channels() {
    let cluster = Cluster::start(&[7, 8]).await;
    let all = [1, 2, 3];

    for group in [7, 8] {
        let mut last = 0;
        for i in 0..5 {
            last = cluster.write(group, &all, batch(group, i)).await;
        }
        cluster.wait_applied(group, &all, last).await;
    }

    for group in [7, 8] {
        let want: Vec<Vec<u8>> = (0..5).map(|i| batch(group, i)).collect();
        for id in all {
            assert_eq!(
                cluster.node(id).recorder(group).batches(),
                want,
                "node {id} group {group}"
            );
        }
    }
    // Node 1 initialized (so campaigned in) both groups: it has clients to both peers in
    // both groups, over one channel per peer. Followers that never campaigned have none.
    assert_eq!(cluster.node(1).network.channel_count(), 2);
    for node in &cluster.nodes {
        assert!(node.network.channel_count() <= 2, "node {}", node.id);
    }

    // A payload that is not bincode of the request is refused as INVALID_ARGUMENT.
    let channel = cluster
        .node(1)
        .network
        .channel(&cluster.node(2).addr)
        .unwrap();
    let status = RaftTransportClient::new(channel)
        .vote(RaftRequest {
            group: 7,
            from: 1,
            payload: vec![0xff; 3].into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status}");

    cluster.stop().await;
}

/// A follower cut off by `Faults` applies nothing while the other two keep committing, then
/// catches up (in both groups) once the partition heals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_follower_stalls_then_catches_up() {
    let cluster = Cluster::start(&[7, 8]).await;
    let all = [1, 2, 3];
    for group in [7, 8] {
        let index = cluster.write(group, &all, batch(group, 0)).await;
        cluster.wait_applied(group, &all, index).await;
    }

    // Cut off a follower of group 7 (node 3 unless it happens to lead).
    let leader = cluster.leader(7, &all).await;
    let victim = if leader == 3 { 2 } else { 3 };
    let majority: Vec<NodeId> = all.into_iter().filter(|&id| id != victim).collect();
    cluster.partition(victim);

    let mut written = BTreeMap::new();
    for group in [7, 8] {
        let before = applied_index(cluster.node(victim), group);
        let mut last = 0;
        for i in 1..=5 {
            last = cluster.write(group, &majority, batch(group, i)).await;
        }
        cluster.wait_applied(group, &majority, last).await;
        // Nothing reached the victim: every RPC to or from it fails at the fault hook.
        assert!(
            applied_index(cluster.node(victim), group) < Some(last),
            "group {group}: partitioned node {victim} applied {:?} (before {before:?}), \
             the majority {last}",
            applied_index(cluster.node(victim), group)
        );
        assert_eq!(
            cluster.node(victim).recorder(group).batches(),
            vec![batch(group, 0)]
        );
        written.insert(group, last);
    }

    cluster.heal();
    for group in [7, 8] {
        cluster
            .wait_applied(group, &[victim], written[&group])
            .await;
        let want: Vec<Vec<u8>> = (0..=5).map(|i| batch(group, i)).collect();
        for id in all {
            assert_eq!(
                cluster.node(id).recorder(group).batches(),
                want,
                "node {id} group {group} after healing"
            );
        }
    }

    cluster.stop().await;
}

/// The leader snapshots and purges its log while a follower is cut off; once healed, the
/// follower can only catch up by InstallSnapshot (several chunks) over gRPC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_follower_catches_up_by_install_snapshot() {
    let group = 7;
    let cluster = Cluster::start(&[group]).await;
    let all = [1, 2, 3];
    let mut last = 0;
    for i in 0..3 {
        last = cluster.write(group, &all, batch(group, i)).await;
    }
    cluster.wait_applied(group, &all, last).await;

    let leader = cluster.leader(group, &all).await;
    let victim = if leader == 3 { 2 } else { 3 };
    let majority: Vec<NodeId> = all.into_iter().filter(|&id| id != victim).collect();
    cluster.partition(victim);
    for i in 3..23 {
        last = cluster.write(group, &majority, batch(group, i)).await;
    }
    cluster.wait_applied(group, &majority, last).await;

    // Snapshot and purge on both nodes of the majority, so that whichever leads after the
    // partition heals has no log left to send the victim.
    for &id in &majority {
        let raft = cluster.node(id).raft(group);
        raft.trigger().snapshot().await.unwrap();
        raft.wait(Some(DEADLINE))
            .metrics(
                |m| m.snapshot.map(|s| s.index) >= Some(last),
                format!("node {id} snapshot"),
            )
            .await
            .unwrap();
        raft.trigger().purge_log(last).await.unwrap();
        raft.wait(Some(DEADLINE))
            .metrics(
                |m| m.purged.map(|p| p.index) >= Some(last),
                format!("node {id} purge"),
            )
            .await
            .unwrap();
    }
    let behind = applied_index(cluster.node(victim), group);
    assert!(behind < Some(last), "victim applied {behind:?}");

    cluster.heal();
    cluster.wait_applied(group, &[victim], last).await;

    let victim_node = cluster.node(victim);
    assert!(
        victim_node.recorder(group).snapshots_installed() >= 1,
        "node {victim} caught up without a snapshot"
    );
    assert!(victim_node.metrics(group).snapshot.map(|s| s.index) >= Some(last));
    let chunk = raft_config().snapshot_max_chunk_size as usize;
    assert!(
        victim_node.recorder(group).snapshot_len() > 2 * chunk,
        "the snapshot should have taken several InstallSnapshot chunks"
    );
    let want: Vec<Vec<u8>> = (0..23).map(|i| batch(group, i)).collect();
    for id in all {
        assert_eq!(
            cluster.node(id).recorder(group).batches(),
            want,
            "node {id} after the snapshot"
        );
    }

    cluster.stop().await;
}

// ---- single RPCs and their error mapping ------------------------------------------------------

fn vote_request() -> VoteRequest<NodeId> {
    VoteRequest::new(Vote::new(1, 1), None)
}

fn option() -> RPCOption {
    RPCOption::new(Duration::from_secs(5))
}

fn peer(addr: &str) -> Node {
    Node {
        http_addr: String::new(),
        grpc_addr: addr.to_string(),
    }
}

/// A vote to a live group round-trips; once that group's Raft has stopped, its `Fatal`
/// comes back as a `RemoteError`; a group the node does not have is NOT_FOUND, which the
/// client reports as `Unreachable`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_results_and_remote_errors_cross_the_wire() {
    let server = TestNode::start(2, &[5]).await;
    let client = GrpcRaftNetwork::new(1);

    let mut to_group_5 = client.for_group(5).new_client(2, &server.node()).await;
    assert_eq!(client.last_contact(2), None);
    let resp = to_group_5.vote(vote_request(), option()).await.unwrap();
    assert!(resp.vote_granted, "{resp:?}");
    // Both ends saw the other.
    assert!(client.last_contact(2).is_some());
    assert!(server.network.last_contact(1).is_some());

    let mut to_group_6 = client.for_group(6).new_client(2, &server.node()).await;
    let err = to_group_6.vote(vote_request(), option()).await.unwrap_err();
    assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");
    assert!(err.to_string().contains("raft group 6"), "{err}");

    server.raft(5).shutdown().await.unwrap();
    let err = to_group_5.vote(vote_request(), option()).await.unwrap_err();
    match err {
        RPCError::RemoteError(RemoteError {
            target: 2,
            source: RaftError::Fatal(Fatal::Stopped),
            ..
        }) => {}
        other => panic!("want RemoteError(Fatal::Stopped) from node 2, got {other:?}"),
    }

    server.stop().await;
}

/// AppendEntries of several groups to one peer go through that peer's batch queue: each
/// request gets its own answer (a group the peer does not have fails alone, as unreachable,
/// while the rest of its batch succeeds), and the counters account for every request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_entries_of_many_groups_share_the_peer_batch_queue() {
    let server = TestNode::start(2, &[5, 6, 7]).await;
    let client = GrpcRaftNetwork::new(1);
    let mut calls = Vec::new();
    for group in [5, 6, 7, 9] {
        for _ in 0..5 {
            let mut net = client.for_group(group).new_client(2, &server.node()).await;
            calls.push(async move {
                let heartbeat = AppendEntriesRequest {
                    vote: Vote::new_committed(1, 1),
                    prev_log_id: None,
                    entries: Vec::new(),
                    leader_commit: None,
                };
                (group, net.append_entries(heartbeat, option()).await)
            });
        }
    }
    for (group, result) in futures_util::future::join_all(calls).await {
        if group == 9 {
            let err = result.unwrap_err();
            assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");
            assert!(err.to_string().contains("raft group 9"), "{err}");
        } else {
            assert!(result.is_ok(), "group {group}: {result:?}");
        }
    }
    let counters = client.batch_counters();
    let calls = counters.calls.load(Ordering::Relaxed);
    assert_eq!(counters.requests.load(Ordering::Relaxed), 20);
    assert!((1..=20).contains(&calls), "{calls} calls");
    assert!(server.network.last_contact(1).is_some());

    server.stop().await;
}

/// With a peer blocked, RPCs to it fail at once as `Unreachable` and RPCs from it are
/// refused as UNAVAILABLE; unblocking restores both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_peer_is_unreachable_both_ways() {
    let server = TestNode::start(2, &[5]).await;
    let client = GrpcRaftNetwork::new(1);
    let mut net = client.for_group(5).new_client(2, &server.node()).await;

    client.faults().block(2);
    let err = net.vote(vote_request(), option()).await.unwrap_err();
    assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");
    assert!(err.to_string().contains("test fault"), "{err}");
    assert_eq!(client.channel_count(), 1);
    client.faults().unblock(2);

    server.network.faults().block(1);
    let err = net.vote(vote_request(), option()).await.unwrap_err();
    assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");
    let status = RaftTransportClient::new(client.channel(&server.addr).unwrap())
        .vote(RaftRequest {
            group: 5,
            from: 1,
            payload: Vec::new().into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");

    server.network.faults().unblock(1);
    net.vote(vote_request(), option()).await.unwrap();

    server.stop().await;
}

/// Nothing listening, or an address that does not parse: `Unreachable`, within the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_or_bad_address_is_unreachable() {
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let client = GrpcRaftNetwork::new(1);
    let mut net = client.for_group(5).new_client(2, &peer(&closed)).await;
    let err = net.vote(vote_request(), option()).await.unwrap_err();
    assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");

    let bad = "not a host:port";
    assert!(matches!(client.channel(bad), Err(BadPeerAddress { .. })));
    let mut net = client.for_group(5).new_client(2, &peer(bad)).await;
    let err = net.vote(vote_request(), option()).await.unwrap_err();
    assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");
    assert!(err.to_string().contains("invalid gRPC address"), "{err}");
}

#[test]
fn faults_are_shared_by_clones() {
    let network = GrpcRaftNetwork::new(1);
    let clone = network.clone();
    network.faults().block(3);
    assert!(clone.faults().is_blocked(3));
    let faults: &Faults = clone.faults();
    assert_eq!(faults.blocked(), vec![3]);
}
