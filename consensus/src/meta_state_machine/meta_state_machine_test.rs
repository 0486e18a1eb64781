//! `MetaStateMachine` over a node's RocksDB (the engine's `LogStore`), with the meta group's
//! `RocksRaftLog` beside it: openraft's storage suite in full, Cairn's state machine suite,
//! the watch channel the node's reconcilers follow, and the key-value space (`MetaKv`).

use std::path::Path;

use cairn_storage::{Engine, StorageConfig};
use openraft::storage::RaftStateMachine;

use openraft::{Entry, EntryPayload, RaftSnapshotBuilder, StoredMembership};

use super::MetaStateMachine;
use crate::cluster_state::{ClusterState, MetaCommand};
use crate::group_id::META_GROUP;
use crate::log_store::{RocksRaftLog, StateKind};
use crate::meta_kv::{KvOp, MetaKv};
use crate::state_machine_suite::{
    self as s, CurrentSnapshot, Held, Restart, Subject, state_machine_suite,
};
use crate::type_config::{Command, Node, NodeId, TypeConfig};

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
        let sm = MetaStateMachine::open(store.clone(), dir.join("raft-snapshots"))
            .expect("open the state machine");
        (RocksRaftLog::new(store, META_GROUP), sm)
    }

    /// The cluster state as a subscriber sees it, and the KV as `MetaGroup` reads it.
    fn held(sm: &MetaStateMachine) -> Held {
        Held {
            cluster: sm.subscribe().borrow().clone(),
            kv: sm.kv().read().unwrap().clone(),
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

// ---- the key-value space --------------------------------------------------------------------

fn kv_entry(index: u64, ops: Vec<KvOp>) -> Entry<TypeConfig> {
    Entry {
        log_id: s::log_id(1, index),
        payload: EntryPayload::Normal(Command::Meta(MetaCommand::Kv { ops })),
    }
}

fn put(key: &str, value: &str) -> KvOp {
    KvOp::Put {
        key: key.into(),
        value: value.into(),
    }
}

fn all(sm: &MetaStateMachine) -> Vec<(String, String)> {
    sm.kv().read().unwrap().scan_prefix("")
}

fn pairs(kv: &[(&str, &str)]) -> Vec<(String, String)> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `Kv` commands change the KV, all ops of one command in order, and move its version; the
/// cluster-state channel stays quiet (reconcilers watch it).
#[test]
fn kv_commands_apply_in_order_and_move_only_the_kv_version() {
    let dir = tempfile::tempdir().unwrap();
    s::run(async {
        let (_log, mut sm) = MetaSubject::open(dir.path());
        let (mut state_rx, mut kv_rx) = (sm.subscribe(), sm.kv_subscribe());
        let steps = s::leader_history();
        sm.apply(steps[..2].iter().map(|s| s.entry.clone()))
            .await
            .unwrap();
        assert!(!kv_rx.has_changed().unwrap(), "no Kv command yet");
        sm.apply([
            kv_entry(2, vec![put("a/1", "1"), put("a/2", "2"), put("b/1", "3")]),
            kv_entry(
                3,
                vec![
                    KvOp::DeletePrefix {
                        prefix: "a/".into(),
                    },
                    put("a/3", "4"),
                    KvOp::Delete { key: "b/1".into() },
                ],
            ),
        ])
        .await
        .unwrap();
        assert_eq!(all(&sm), pairs(&[("a/3", "4")]));
        assert!(kv_rx.has_changed().unwrap());
        assert_eq!(*kv_rx.borrow_and_update(), 3, "the last Kv command's index");
        assert!(
            !state_rx.has_changed().unwrap(),
            "the cluster state is not touched"
        );
        assert_eq!(*state_rx.borrow_and_update(), ClusterState::default());
        sm.apply([kv_entry(4, vec![put("c", "5")])]).await.unwrap();
        assert_eq!(*kv_rx.borrow_and_update(), 4);
    });
}

/// A `Kv` command whose `Expect` fails applies nothing and tells its proposer so.
#[test]
fn a_refused_kv_command_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    s::run(async {
        let (_log, mut sm) = MetaSubject::open(dir.path());
        let steps = s::leader_history();
        sm.apply(steps[..2].iter().map(|s| s.entry.clone()))
            .await
            .unwrap();
        let expect = |v: &str| KvOp::Expect {
            key: "rules/g".into(),
            value: Some(v.into()),
        };
        let reports = sm
            .apply([
                kv_entry(2, vec![put("rules/g", "v1")]),
                kv_entry(3, vec![expect("v0"), put("alerts/g/1", "stale")]),
                kv_entry(4, vec![expect("v1"), put("alerts/g/1", "fresh")]),
            ])
            .await
            .unwrap();
        let refused: Vec<bool> = reports.iter().map(|r| r.refused).collect();
        assert_eq!(refused, [false, true, false]);
        assert_eq!(
            all(&sm),
            pairs(&[("alerts/g/1", "fresh"), ("rules/g", "v1")])
        );
    });
}

/// The KV as stored per key under `raft_state (0, kv entries)`.
fn stored(sm: &MetaStateMachine) -> Vec<(String, String)> {
    sm.store
        .state_entries(META_GROUP, StateKind::KvEntries.byte())
        .unwrap()
        .into_iter()
        .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
        .collect()
}

/// The stored record, as JSON.
fn record(sm: &MetaStateMachine) -> serde_json::Value {
    let bytes = sm
        .store
        .get_state(META_GROUP, StateKind::StateMachine.byte())
        .unwrap()
        .expect("a record");
    serde_json::from_slice(&bytes).unwrap()
}

/// Every kind of op, over several applies (one with several commands), including a refused
/// command: the keys stored match the KV in memory (and a plain `MetaKv` given the same
/// commands) exactly, the record carries no KV, and a reopened machine has the same KV.
#[test]
fn kv_is_stored_per_key_and_reopens_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let commands: Vec<Vec<KvOp>> = vec![
        vec![
            put("a/1", "1"),
            put("a/2", "2"),
            put("a/3", "3"),
            put("b", "4"),
        ],
        vec![
            KvOp::DeletePrefix {
                prefix: "a/".into(),
            },
            put("a/2", "5"),
            KvOp::Move {
                from: "b".into(),
                to: "c".into(),
            },
        ],
        vec![
            KvOp::Expect {
                key: "c".into(),
                value: Some("wrong".into()),
            },
            put("refused", "1"),
            KvOp::Delete { key: "a/2".into() },
        ],
        vec![
            put("d", "6"),
            KvOp::Delete { key: "d".into() },
            KvOp::Delete {
                key: "never".into(),
            },
            put("e", r#"{"x":"y"}"#),
        ],
        vec![KvOp::Move {
            from: "c".into(),
            to: "a/9".into(),
        }],
    ];
    let mut expected = MetaKv::default();
    for ops in &commands {
        expected.apply(ops);
    }
    let want = expected.scan_prefix("");
    assert_eq!(
        want,
        pairs(&[("a/2", "5"), ("a/9", "4"), ("e", r#"{"x":"y"}"#)])
    );
    s::run(async {
        {
            let (_log, mut sm) = MetaSubject::open(dir.path());
            sm.apply([
                kv_entry(1, commands[0].clone()),
                kv_entry(2, commands[1].clone()),
            ])
            .await
            .unwrap();
            assert_eq!(stored(&sm), pairs(&[("a/2", "5"), ("c", "4")]));
            let reports = sm
                .apply([
                    kv_entry(3, commands[2].clone()),
                    kv_entry(4, commands[3].clone()),
                ])
                .await
                .unwrap();
            assert!(reports[0].refused && !reports[1].refused);
            sm.apply([kv_entry(5, commands[4].clone())]).await.unwrap();
            assert_eq!(all(&sm), want);
            assert_eq!(stored(&sm), want);
            let rec = record(&sm);
            assert!(
                rec.get("kv").is_none(),
                "the record leaves the KV out: {rec}"
            );
            assert_eq!(rec["applied"]["index"], 5);
        }
        let (_log, mut sm) = MetaSubject::open(dir.path());
        assert_eq!(all(&sm), want);
        assert_eq!(sm.applied_state().await.unwrap().0, Some(s::log_id(1, 5)));
    });
}

/// A refused command writes no KV key, and an apply writes only the keys it changed: a key
/// planted in the store behind the machine's back survives both (a whole rewrite would drop
/// it) and shows up on reopening.
#[test]
fn only_changed_keys_are_written() {
    let dir = tempfile::tempdir().unwrap();
    s::run(async {
        {
            let (_log, mut sm) = MetaSubject::open(dir.path());
            sm.apply([kv_entry(1, vec![put("k", "1")])]).await.unwrap();
            sm.store
                .put_state_and_entries(
                    META_GROUP,
                    StateKind::StateMachine.byte(),
                    &serde_json::to_vec(&record(&sm)).unwrap(),
                    StateKind::KvEntries.byte(),
                    &[(b"planted", Some(b"p")), (b"k", Some(b"planted over"))],
                    false,
                )
                .unwrap();
            let reports = sm
                .apply([kv_entry(
                    2,
                    vec![
                        KvOp::Expect {
                            key: "k".into(),
                            value: None,
                        },
                        put("k", "2"),
                        KvOp::DeletePrefix { prefix: "".into() },
                    ],
                )])
                .await
                .unwrap();
            assert!(reports[0].refused);
            assert_eq!(
                stored(&sm),
                pairs(&[("k", "planted over"), ("planted", "p")]),
                "a refused command writes no key"
            );
            assert_eq!(
                record(&sm)["applied"]["index"],
                2,
                "but moves the record on"
            );
            sm.apply([kv_entry(3, vec![put("other", "3")])])
                .await
                .unwrap();
            assert_eq!(
                stored(&sm),
                pairs(&[("k", "planted over"), ("other", "3"), ("planted", "p")])
            );
        }
        let (_log, sm) = MetaSubject::open(dir.path());
        assert_eq!(
            all(&sm),
            pairs(&[("k", "planted over"), ("other", "3"), ("planted", "p")])
        );
    });
}

/// A data dir written before the KV had keys of its own keeps it inside the record: opening
/// it shows that KV, stores it per key and rewrites the record without it (one write), and
/// it is still there on the next open.
#[test]
fn an_old_record_with_the_kv_inside_is_moved_out_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = ClusterState::default();
    state.apply(&MetaCommand::AddNode {
        id: 3,
        node: s::node(3),
    });
    let kv: MetaKv = pairs(&[("alerts/t/g/0/1", r#"{"s":"firing"}"#), ("rules/t/g", "{}")])
        .into_iter()
        .collect();
    let old = serde_json::json!({
        "applied": Some(s::log_id(1, 9)),
        "membership": StoredMembership::<NodeId, Node>::default(),
        "state": state,
        "kv": kv,
    });
    {
        let (_log, sm) = MetaSubject::open(dir.path());
        // A key left by a newer version run before (downgraded, then upgraded again): the
        // record's KV is the later one and replaces it.
        sm.store
            .put_state_and_entries(
                META_GROUP,
                StateKind::StateMachine.byte(),
                &serde_json::to_vec(&old).unwrap(),
                StateKind::KvEntries.byte(),
                &[(b"stale", Some(b"1"))],
                true,
            )
            .unwrap();
    }
    let want = kv.scan_prefix("");
    s::run(async {
        {
            let (_log, mut sm) = MetaSubject::open(dir.path());
            assert_eq!(all(&sm), want);
            assert_eq!(*sm.subscribe().borrow(), state);
            assert_eq!(sm.applied_state().await.unwrap().0, Some(s::log_id(1, 9)));
            assert_eq!(stored(&sm), want, "stored per key on open");
            assert!(record(&sm).get("kv").is_none(), "and gone from the record");
            assert_eq!(record(&sm)["applied"]["index"], 9);
        }
        {
            let (_log, mut sm) = MetaSubject::open(dir.path());
            assert_eq!(all(&sm), want);
            assert_eq!(*sm.subscribe().borrow(), state);
            sm.apply([kv_entry(
                10,
                vec![KvOp::Delete {
                    key: "rules/t/g".into(),
                }],
            )])
            .await
            .unwrap();
        }
        let (_log, sm) = MetaSubject::open(dir.path());
        assert_eq!(all(&sm), pairs(&[("alerts/t/g/0/1", r#"{"s":"firing"}"#)]));
    });
}

/// The KV is stored per key after every apply: a reopened machine has it.
#[test]
fn kv_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    s::run(async {
        {
            let (_log, mut sm) = MetaSubject::open(dir.path());
            sm.apply([
                kv_entry(1, vec![put("k1", r#"{"x":1}"#), put("k2", "[]")]),
                kv_entry(2, vec![KvOp::Delete { key: "k2".into() }]),
            ])
            .await
            .unwrap();
        }
        let (_log, mut sm) = MetaSubject::open(dir.path());
        assert_eq!(all(&sm), pairs(&[("k1", r#"{"x":1}"#)]));
        assert_eq!(
            *sm.kv_subscribe().borrow(),
            2,
            "starts at the applied index"
        );
        assert_eq!(sm.applied_state().await.unwrap().0, Some(s::log_id(1, 2)));
    });
}

/// A snapshot carries the KV: installed on a machine with a KV of its own, it replaces that
/// one whole (in memory and on disk) and moves the version.
#[test]
fn kv_travels_in_snapshots_and_replaces_the_receivers() {
    let (dir, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    s::run(async {
        let (_log, mut leader) = MetaSubject::open(dir.path());
        leader
            .apply([
                kv_entry(1, vec![put("rules/t/g", "{}"), put("alerts/t/g/1", "1")]),
                kv_entry(2, vec![put("rules/t/h", "{}")]),
            ])
            .await
            .unwrap();
        let snap = leader
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        {
            let (_other_log, mut follower) = MetaSubject::open(other.path());
            follower
                .apply([kv_entry(
                    1,
                    vec![put("stale", "1"), put("rules/t/g", "old")],
                )])
                .await
                .unwrap();
            let mut kv_rx = follower.kv_subscribe();
            kv_rx.borrow_and_update();
            follower
                .install_snapshot(&snap.meta, snap.snapshot)
                .await
                .unwrap();
            assert_eq!(all(&follower), all(&leader));
            assert_eq!(
                stored(&follower),
                all(&leader),
                "stale keys are gone from disk"
            );
            assert!(kv_rx.has_changed().unwrap());
            assert_eq!(*kv_rx.borrow(), 2);
        }
        let (_other_log, follower) = MetaSubject::open(other.path());
        assert_eq!(
            all(&follower),
            pairs(&[
                ("alerts/t/g/1", "1"),
                ("rules/t/g", "{}"),
                ("rules/t/h", "{}")
            ]),
            "the installed KV after a restart"
        );
    });
}

/// A record written before the KV existed (no `kv` field) loads: its cluster state as it
/// was, an empty KV.
#[test]
fn a_record_without_kv_loads() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = ClusterState::default();
    state.apply(&MetaCommand::AddNode {
        id: 3,
        node: s::node(3),
    });
    let old = serde_json::json!({
        "applied": Some(s::log_id(1, 7)),
        "membership": StoredMembership::<NodeId, Node>::default(),
        "state": state,
    });
    {
        let engine = Engine::open(StorageConfig {
            data_dir: dir.path().to_path_buf(),
            shards: 2,
            block_cache_bytes: 1 << 20,
            ..Default::default()
        })
        .unwrap();
        engine
            .log_store()
            .unwrap()
            .put_state(
                META_GROUP,
                StateKind::StateMachine.byte(),
                &serde_json::to_vec(&old).unwrap(),
                true,
            )
            .unwrap();
    }
    let (_log, mut sm) = MetaSubject::open(dir.path());
    assert_eq!(*sm.subscribe().borrow(), state);
    assert!(all(&sm).is_empty());
    s::run(async {
        assert_eq!(sm.applied_state().await.unwrap().0, Some(s::log_id(1, 7)));
    });
}
