//! `RaftGroups` on a real engine (a cluster of one node, no peers): what it does at start
//! with a shard whose snapshot install was cut off.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use cairn_model::{Sample, Tenant, WriteBatchBuilder};
use cairn_storage::{Engine, StorageConfig};

use super::*;
use crate::log_store::StateKind;

fn open_engine(dir: &std::path::Path) -> Arc<Engine> {
    Arc::new(
        Engine::open(StorageConfig {
            data_dir: dir.to_path_buf(),
            shards: 2,
            block_cache_bytes: 1 << 20,
            ..Default::default()
        })
        .expect("open the engine"),
    )
}

/// A node's life: a runtime of its own, dropped at the end with every task still holding
/// the database (a restart).
fn run_node<F: std::future::Future>(life: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(life)
}

fn settings() -> GroupSettings {
    GroupSettings {
        timings: RaftTimings {
            heartbeat_interval: Duration::from_millis(50),
            election_timeout_min: Duration::from_millis(150),
            election_timeout_max: Duration::from_millis(300),
        },
        write_timeout: Duration::from_secs(20),
    }
}

/// A dump's format byte, then a broken connection.
struct CutAfterFormat(bool);

impl Read for CutAfterFormat {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if std::mem::replace(&mut self.0, true) {
            return Err(std::io::Error::other("the sender went away"));
        }
        buf[0] = 2;
        Ok(1)
    }
}

/// A shard found torn at open has applied nothing, but its group's log still names a
/// committed index with purged entries before it: `ensure_shard` resets that log (entries,
/// committed, purged; the vote kept) before openraft reads it, and only then lifts the
/// engine's marker. Without the reset the group would not start (openraft re-applies from
/// the first entry, which is purged).
#[test]
fn a_torn_install_resets_the_shard_groups_log_and_keeps_its_vote() {
    let dir = tempfile::tempdir().unwrap();
    let group = group_of_shard(1);
    run_node(async {
        let engine = open_engine(dir.path());
        let groups =
            RaftGroups::start(1, engine.clone(), GrpcRaftNetwork::new(1), settings(), None)
                .await
                .unwrap();
        let me = Node {
            http_addr: "127.0.0.1:1".to_string(),
            grpc_addr: "127.0.0.1:2".to_string(),
        };
        groups.bootstrap(me, 2, 2).await.unwrap();
        // A write to each shard, applied (so that the flush below checkpoints and purges
        // both logs).
        for n in [0, 1] {
            let mut b = WriteBatchBuilder::new(Tenant::new("acme").unwrap());
            b.begin_group([("host", "a")]).unwrap();
            b.add_series("cpu", [Sample::new(1_000, 1.0)]);
            let shard = groups.shard(n).expect("both shards run here");
            shard
                .propose(bytes::Bytes::from(b.finish().into_bytes()), 1_000)
                .await
                .unwrap();
        }
        // Checkpoints and purges the log up to it.
        groups.flush().await.unwrap();
        groups.shutdown().await;
        // The replica then gets a snapshot, cut off after the install's first write.
        let err = engine
            .install_shard_from(1, &mut CutAfterFormat(false), b"{}")
            .unwrap_err();
        assert!(err.to_string().contains("went away"), "{err}");
    });
    run_node(async {
        let engine = open_engine(dir.path());
        assert!(engine.torn_install(1) && !engine.torn_install(0));
        let store = engine.log_store().unwrap();
        let record = |kind: StateKind| store.get_state(group, kind.byte()).unwrap();
        let vote = record(StateKind::Vote);
        assert!(vote.is_some());
        assert!(record(StateKind::Committed).is_some(), "a committed index");
        assert!(record(StateKind::Purged).is_some(), "purged entries");
        let purged_0 = || {
            store
                .get_state(group_of_shard(0), StateKind::Purged.byte())
                .unwrap()
        };
        let shard_0 = purged_0();
        assert!(shard_0.is_some());

        let groups =
            RaftGroups::start(1, engine.clone(), GrpcRaftNetwork::new(1), settings(), None)
                .await
                .expect("the torn shard's group starts");
        assert!(groups.has_shard(1) && groups.has_shard(0));
        assert!(!engine.torn_install(1), "cleared once the log is reset");
        assert_eq!(store.last(group).unwrap(), None, "no entries");
        assert_eq!(record(StateKind::Committed), None);
        assert_eq!(record(StateKind::Purged), None);
        assert_eq!(record(StateKind::Vote), vote, "the vote is kept");
        assert_eq!(engine.applied_index(1).unwrap(), 0);
        // Shard 0 was not torn: its log is as it was.
        assert_eq!(purged_0(), shard_0);
        groups.shutdown().await;
    });
    run_node(async {
        assert!(
            !open_engine(dir.path()).torn_install(1),
            "and stays cleared"
        );
    });
}
