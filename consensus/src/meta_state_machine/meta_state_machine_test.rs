//! `MetaStateMachine` over a node's RocksDB (the engine's `LogStore`), with the meta group's
//! `RocksRaftLog` beside it: openraft's storage suite in full, Cairn's state machine suite,
//! and the watch channel the node's reconcilers follow.

use std::path::Path;

use cairn_storage::{Engine, StorageConfig};
use openraft::storage::RaftStateMachine;

use super::MetaStateMachine;
use crate::group_id::META_GROUP;
use crate::log_store::RocksRaftLog;
use crate::state_machine_suite::{
    self as s, CurrentSnapshot, Held, Restart, Subject, state_machine_suite,
};

struct MetaSubject;

impl Subject for MetaSubject {
    type Sm = MetaStateMachine;
    const KEEPS_WRITES: bool = false;
    const KEEPS_META: bool = true;
    const RESTART: Restart = Restart::EveryApply;
    const CURRENT_SNAPSHOT: CurrentSnapshot = CurrentSnapshot::LastBuilt;

    /// As `RaftGroups` starts the meta group: machine and log on the engine's RocksDB. The
    /// engine itself can go; the log store keeps the database open.
    fn open(dir: &Path) -> (RocksRaftLog, MetaStateMachine) {
        let engine = Engine::open(StorageConfig {
            data_dir: dir.to_path_buf(),
            shards: 2,
            block_cache_bytes: 1 << 20,
            ..Default::default()
        })
        .expect("open the engine");
        let store = engine.log_store().expect("the log store");
        let sm = MetaStateMachine::open(store.clone()).expect("open the state machine");
        (RocksRaftLog::new(store, META_GROUP), sm)
    }

    /// The cluster state as a subscriber sees it.
    fn held(sm: &MetaStateMachine) -> Held {
        Held {
            cluster: sm.subscribe().borrow().clone(),
            ..Held::default()
        }
    }
}

state_machine_suite!(MetaSubject);

/// openraft's suite in full: the meta machine's snapshot is built once and kept, so
/// `transfer_snapshot` holds as openraft states it.
#[test]
fn openraft_suite() {
    s::run_openraft_suite::<MetaSubject>(&[]);
}

/// A subscriber hears of meta commands applied and of installed snapshots, and of nothing
/// else (a membership or blank entry leaves the cluster state alone).
#[test]
fn subscribers_hear_of_every_change_to_the_cluster_state() {
    let (dir, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let steps = s::leader_history();
    let entries = |range: std::ops::Range<usize>| -> Vec<_> {
        steps[range].iter().map(|e| e.entry.clone()).collect()
    };
    s::run(async {
        let (_log, mut sm) = MetaSubject::open(dir.path());
        let mut rx = sm.subscribe();
        sm.apply(entries(0..4)).await.unwrap();
        assert!(
            !rx.has_changed().unwrap(),
            "membership, blank and write entries"
        );
        sm.apply(entries(4..6)).await.unwrap();
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().nodes.len(), 1);
        sm.apply(entries(6..9)).await.unwrap();
        sm.get_snapshot_builder().await;
        let snap = sm.get_current_snapshot().await.unwrap().unwrap();

        let (_other_log, mut fresh) = MetaSubject::open(other.path());
        let mut rx = fresh.subscribe();
        fresh
            .install_snapshot(&snap.meta, snap.snapshot)
            .await
            .unwrap();
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().placement.get(&0), Some(&vec![1]));
    });
}
