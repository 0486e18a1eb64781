//! A shard snapshot between two real nodes over loopback gRPC (`127.0.0.1:0`): each node an
//! `Engine` on a temp dir, its shard group a `ShardStateMachine` and a `RocksRaftLog` on it.
//! The leader has purged its log, so the learner it adds can only catch up by a snapshot: the
//! dump streamed from a growing file, in chunks, at the node's snapshot rate.
//!
//! Every wait is on a condition with a deadline (openraft's `Wait`), never a fixed sleep.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_model::{MatchOp, Matcher, Sample, Tenant, WriteBatchBuilder};
use cairn_storage::{Engine, StorageConfig};
use openraft::{Config, Raft, SnapshotPolicy};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use super::{GrpcRaftNetwork, RaftRegistry};
use crate::group_id::group_of_shard;
use crate::log_store::RocksRaftLog;
use crate::shard_state_machine::ShardStateMachine;
use crate::type_config::{Command, Node, NodeId, TypeConfig};

const SHARD: u32 = 1;
/// Generous: two cores are shared with builds.
const DEADLINE: Duration = Duration::from_secs(60);
/// Small chunks, so that the snapshot takes many and the pacing shows.
const CHUNK: u64 = 16 << 10;
/// The leader's snapshot rate in the test: the dump (about 600 KB) takes about 2 s at it.
const RATE: u64 = 300_000;

#[derive(Default)]
struct OneGroup(Mutex<Option<Raft<TypeConfig>>>);

impl RaftRegistry for OneGroup {
    fn group(&self, group: u64) -> Option<Raft<TypeConfig>> {
        (group == group_of_shard(SHARD))
            .then(|| self.0.lock().unwrap().clone())
            .flatten()
    }
}

fn config() -> Arc<Config> {
    let config = Config {
        cluster_name: "cairn-snapshot-test".to_string(),
        heartbeat_interval: 100,
        election_timeout_min: 300,
        election_timeout_max: 600,
        install_snapshot_timeout: 5_000,
        snapshot_max_chunk_size: CHUNK,
        snapshot_policy: SnapshotPolicy::Never,
        max_in_snapshot_log_to_keep: 0,
        ..Default::default()
    };
    Arc::new(config.validate().unwrap())
}

struct ShardNode {
    addr: String,
    network: GrpcRaftNetwork,
    engine: Arc<Engine>,
    raft: Raft<TypeConfig>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    // Last: the data dir outlives the engine and the Raft that write to it.
    _dir: tempfile::TempDir,
}

impl ShardNode {
    async fn start(id: NodeId) -> ShardNode {
        let dir = tempfile::tempdir().unwrap();
        let engine = Arc::new(
            Engine::open(StorageConfig {
                data_dir: dir.path().to_path_buf(),
                shards: 2,
                block_cache_bytes: 1 << 20,
                ..Default::default()
            })
            .unwrap(),
        );
        let network = GrpcRaftNetwork::new(id);
        let registry = Arc::new(OneGroup::default());
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
        let group = group_of_shard(SHARD);
        let log = RocksRaftLog::new(engine.log_store().unwrap(), group);
        let sm = ShardStateMachine::new(engine.clone(), SHARD, None)
            .unwrap()
            .with_entry_cache(log.entry_cache());
        let raft = Raft::new(id, config(), network.for_group(group), log, sm)
            .await
            .unwrap();
        *registry.0.lock().unwrap() = Some(raft.clone());
        ShardNode {
            addr,
            network,
            engine,
            raft,
            shutdown: Some(shutdown),
            server: Some(server),
            _dir: dir,
        }
    }

    fn node(&self) -> Node {
        Node {
            http_addr: String::new(),
            grpc_addr: self.addr.clone(),
        }
    }

    /// Every series of the shard with its samples, read through the engine.
    fn held(&self) -> Vec<(String, Vec<Sample>)> {
        let all = [Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap()];
        let mut out = Vec::new();
        for s in self
            .engine
            .select("acme", &[SHARD], &all, i64::MIN, i64::MAX)
            .unwrap()
        {
            let mut samples = Vec::new();
            self.engine
                .read_samples(SHARD, s.sid, i64::MIN, i64::MAX, &mut samples)
                .unwrap();
            out.push((s.labels.to_string(), samples));
        }
        out
    }

    async fn stop(mut self) {
        self.raft.shutdown().await.unwrap();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
    }
}

/// One write of `series` series, each with a 1 KB label value (the bulk of the dump).
fn batch(from: usize, series: usize) -> bytes::Bytes {
    let mut b = WriteBatchBuilder::new(Tenant::new("acme").unwrap());
    for i in from..from + series {
        let host = format!("h{i}");
        let pad = format!("{i:01000}");
        b.begin_group([("host", host.as_str()), ("pad", pad.as_str())])
            .unwrap();
        b.add_series("cpu", [Sample::new(1_000, i as f64)]);
    }
    bytes::Bytes::from(b.finish().into_bytes())
}

/// The leader checkpoints and purges its whole log; a learner added then gets the shard by
/// a snapshot: whole (the same series and samples), installed through the engine, at no
/// more than the leader's snapshot rate (a lower bound on the time, which cannot flake), and
/// recorded as finished on both ends with every byte counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_snapshot_streams_between_nodes_at_the_snapshot_rate() {
    let leader = ShardNode::start(1).await;
    leader
        .raft
        .initialize(
            [(1, leader.node())]
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>(),
        )
        .await
        .unwrap();
    leader
        .raft
        .wait(Some(DEADLINE))
        .metrics(|m| m.current_leader == Some(1), "leader")
        .await
        .unwrap();
    let mut last = 0;
    for i in 0..3 {
        let resp = leader
            .raft
            .client_write(Command::Write {
                batch: batch(i * 100, 100),
            })
            .await
            .unwrap();
        last = resp.log_id.index;
    }
    leader.raft.trigger().snapshot().await.unwrap();
    leader
        .raft
        .wait(Some(DEADLINE))
        .metrics(|m| m.snapshot.is_some_and(|s| s.index >= last), "snapshot")
        .await
        .unwrap();
    leader.raft.trigger().purge_log(last).await.unwrap();
    leader
        .raft
        .wait(Some(DEADLINE))
        .metrics(|m| m.purged.is_some_and(|p| p.index >= last), "purged")
        .await
        .unwrap();

    let learner = ShardNode::start(2).await;
    leader.network.set_snapshot_rate(RATE);
    assert_eq!(leader.network.snapshot_rate(), RATE);
    let started = Instant::now();
    leader
        .raft
        .add_learner(2, learner.node(), false)
        .await
        .unwrap();
    learner
        .raft
        .wait(Some(DEADLINE))
        .applied_index_at_least(Some(last), "the learner caught up")
        .await
        .unwrap();
    let elapsed = started.elapsed();

    assert_eq!(learner.held().len(), 300);
    assert_eq!(learner.held(), leader.held(), "the shard arrived whole");
    let installed = learner.engine.stats();
    assert_eq!(
        installed
            .snapshots_installed
            .load(std::sync::atomic::Ordering::Relaxed),
        1,
        "caught up by a snapshot"
    );

    // The send's record: every byte, the total known, finished; and the receiver's.
    let group = group_of_shard(SHARD);
    let sends = leader.network.snapshot_sends();
    let send = sends
        .iter()
        .find(|s| (s.group, s.target) == (group, 2))
        .unwrap_or_else(|| panic!("no send recorded: {sends:?}"));
    let total = send.total.expect("the total is known once sent");
    assert!(send.finished && send.error.is_none(), "{send:?}");
    assert_eq!(send.bytes_sent, total);
    assert!(total > 20 * CHUNK, "many chunks: {total} bytes");
    let receives = learner.network.snapshot_receives();
    let received = receives
        .iter()
        .find(|r| (r.group, r.from) == (group, 1))
        .unwrap_or_else(|| panic!("no receive recorded: {receives:?}"));
    assert!(
        received.finished && received.error.is_none(),
        "{received:?}"
    );
    assert_eq!(received.bytes_received, total);

    // The rate: what went beyond the bucket's burst and the last chunk took at least its
    // time at the rate.
    let least = (total - leader.network.snapshot_burst_bytes() - CHUNK) as f64 / RATE as f64;
    println!("{total} bytes in {elapsed:?} (at least {least:.2} s at {RATE} bytes/s)");
    assert!(
        elapsed.as_secs_f64() >= least,
        "{total} bytes in {elapsed:?}, faster than {RATE} bytes/s allows ({least:.2} s)"
    );

    learner.stop().await;
    leader.stop().await;
}
