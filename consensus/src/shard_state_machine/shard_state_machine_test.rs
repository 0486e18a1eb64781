//! `ShardStateMachine` on a real storage `Engine` (RocksDB in a temp dir), with its group's
//! `RocksRaftLog` in the same RocksDB: openraft's storage suite, Cairn's state machine suite,
//! and what only a shard does (apply reports, other shards left alone, checkpoint as snapshot).

use std::path::Path;
use std::sync::{Arc, Mutex};

use cairn_model::{MatchOp, Matcher};
use cairn_storage::{ApplyOutcome, Engine, StorageConfig};
use openraft::RaftSnapshotBuilder;
use openraft::storage::RaftStateMachine;

use super::{ApplyObserver, ShardStateMachine};
use crate::group_id::group_of_shard;
use crate::log_store::RocksRaftLog;
use crate::state_machine_suite::{
    self as s, CurrentSnapshot, Held, Restart, Subject, TENANT, state_machine_suite,
};
use crate::type_config::ApplyReport;

/// The shard under test, and the shards beside it in the same engine.
const SHARD: u32 = 1;
const NEIGHBOURS: [u32; 2] = [0, 2];

fn open_engine(dir: &Path) -> Arc<Engine> {
    let cfg = StorageConfig {
        data_dir: dir.to_path_buf(),
        shards: 4,
        block_cache_bytes: 1 << 20,
        ..Default::default()
    };
    Arc::new(Engine::open(cfg).expect("open the engine"))
}

/// Everything `shard` of `engine` holds for the suite's tenant, read through the engine.
fn held_in(engine: &Engine, shard: u32) -> Held {
    let all = [Matcher::new(MatchOp::RegexMatch, "__name__", ".+").expect("a valid matcher")];
    let mut held = Held::default();
    for series in engine
        .select(TENANT, &[shard], &all, i64::MIN, i64::MAX)
        .expect("select")
    {
        let mut samples = Vec::new();
        engine
            .read_samples(shard, series.sid, i64::MIN, i64::MAX, &mut samples)
            .expect("read samples");
        held.add(TENANT, &series.labels, samples);
    }
    held
}

/// The neighbours' own data, written (and checkpointed) when the engine is made.
fn fill_neighbours(engine: &Engine) {
    for n in NEIGHBOURS {
        if engine.applied_index(n).expect("a shard") == 0 {
            let step = s::write(1, 1, &[("n", "cpu", &[(1_000, f64::from(n))])]);
            engine.apply(n, 1, step.batch()).expect("apply");
            engine.checkpoint(n, None).expect("checkpoint");
        }
    }
}

fn neighbours(engine: &Engine) -> Vec<Held> {
    NEIGHBOURS.iter().map(|&n| held_in(engine, n)).collect()
}

struct ShardSubject;

impl Subject for ShardSubject {
    type Sm = ShardStateMachine;
    const KEEPS_WRITES: bool = true;
    const KEEPS_META: bool = false;
    const RESTART: Restart = Restart::LastSnapshot;
    const CURRENT_SNAPSHOT: CurrentSnapshot = CurrentSnapshot::AtLastApplied;

    /// As `RaftGroups` starts a shard group: the log on the engine's RocksDB, the machine
    /// reporting applies to the log's entry cache.
    fn open(dir: &Path) -> (RocksRaftLog, ShardStateMachine) {
        let engine = open_engine(dir);
        fill_neighbours(&engine);
        let log = RocksRaftLog::new(
            engine.log_store().expect("the log store"),
            group_of_shard(SHARD),
        );
        let sm = ShardStateMachine::new(engine, SHARD, None)
            .expect("open the state machine")
            .with_entry_cache(log.entry_cache());
        (log, sm)
    }

    fn held(sm: &ShardStateMachine) -> Held {
        held_in(&sm.engine, SHARD)
    }
}

state_machine_suite!(ShardSubject);

/// Every case of openraft's suite but `transfer_snapshot`, which asserts that
/// `get_current_snapshot` returns the very meta `build_snapshot` did, `snapshot_id`
/// included. A shard dumps itself when asked, under a new id each time (the bytes of two
/// dumps differ, as checkpoints merge chunks, so a follower must not splice their chunks),
/// and its built snapshot carries no data (the checkpoint is in the engine). The suite's
/// `snapshot_installs_into_a_fresh_state_machine` checks the same transfer on what a snapshot
/// means: applied state, membership and contents, and then the current snapshot.
#[test]
fn openraft_suite() {
    s::run_openraft_suite::<ShardSubject>(&["transfer_snapshot"]);
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(u32, ApplyReport)>>);

impl ApplyObserver for Recorder {
    fn applied(&self, shard: u32, _batch: &[u8], outcome: &ApplyOutcome) {
        self.0
            .lock()
            .unwrap()
            .push((shard, ApplyReport::from(outcome)));
    }
}

/// A write's report is the engine's outcome (written, repeated, conflicting samples), and
/// the observer hears the same; other entries report nothing.
#[test]
fn apply_reports_what_the_engine_did() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Arc::new(Recorder::default());
    let mut sm =
        ShardStateMachine::new(open_engine(dir.path()), SHARD, Some(recorder.clone())).unwrap();
    let samples: &[(i64, f64)] = &[(1_000, 1.0), (2_000, 2.0), (3_000, 3.0)];
    let entries = [
        s::write(1, 1, &[("a", "cpu", samples)]),
        // A retried request: the newest sample again. (Only the newest: the head knows a
        // repeat at a series' newest timestamp or in its out-of-order buffer, and counts an
        // older one as an out-of-order write, which reads then de-duplicate.)
        s::write(1, 2, &[("a", "cpu", &samples[2..])]),
        // Another value at a stored timestamp, and one new sample.
        s::write(1, 3, &[("a", "cpu", &[(3_000, 9.0), (4_000, 4.0)])]),
    ];
    s::run(async {
        let reports = sm
            .apply(entries.iter().map(|e| e.entry.clone()).collect::<Vec<_>>())
            .await
            .unwrap();
        let want = [
            ApplyReport {
                written: 3,
                ..Default::default()
            },
            ApplyReport {
                duplicates: 1,
                ..Default::default()
            },
            ApplyReport {
                written: 1,
                rejected_conflict: 1,
                ..Default::default()
            },
        ];
        assert_eq!(reports, want);
        let heard: Vec<_> = recorder.0.lock().unwrap().clone();
        assert_eq!(heard, want.map(|r| (SHARD, r)));
    });
    assert_eq!(sm.engine.applied_index(SHARD).unwrap(), 3);
}

/// A shard's snapshot is its checkpoint: building one writes the checkpoint (its marker is
/// the applied state a restart finds) and carries no data; the data sent to a replica is a
/// dump made by `get_current_snapshot`.
#[test]
fn a_built_snapshot_is_a_checkpoint_and_the_current_one_a_dump() {
    let dir = tempfile::tempdir().unwrap();
    let steps = s::leader_history();
    s::run(async {
        let (_log, mut sm) = ShardSubject::open(dir.path());
        sm.apply(steps.iter().map(|e| e.entry.clone()).collect::<Vec<_>>())
            .await
            .unwrap();
        let marker_before = sm.engine.applied_marker(SHARD).unwrap();
        let built = sm
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        assert!(built.snapshot.read_all().await.unwrap().is_empty());
        let marker = sm.engine.applied_marker(SHARD).unwrap();
        assert_ne!(marker, marker_before, "the checkpoint wrote the marker");
        let marker: super::Marker = serde_json::from_slice(&marker.unwrap()).unwrap();
        assert_eq!(marker.applied, built.meta.last_log_id);
        assert_eq!(marker.membership, built.meta.last_membership);
        let current = sm.get_current_snapshot().await.unwrap().unwrap();
        let dump = current.snapshot.read_all().await.unwrap();
        assert_eq!(dump.first(), Some(&2), "a shard dump");
    });
}

/// A checkpoint that fails (here: the engine is shut down) is not a snapshot: building it is
/// an error, which stops the group rather than let openraft purge the log past what is on
/// disk, and no current snapshot appears.
#[test]
fn a_failed_checkpoint_is_not_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let steps = s::leader_history();
    s::run(async {
        let (_log, mut sm) = ShardSubject::open(dir.path());
        sm.apply(steps.iter().map(|e| e.entry.clone()).collect::<Vec<_>>())
            .await
            .unwrap();
        let marker_before = sm.engine.applied_marker(SHARD).unwrap();
        sm.engine.shutdown();
        let built = sm.get_snapshot_builder().await.build_snapshot().await;
        let err = built.expect_err("a failed checkpoint must not build");
        assert!(err.to_string().contains("checkpoint failed"), "{err}");
        assert!(sm.get_current_snapshot().await.unwrap().is_none());
        assert_eq!(sm.engine.applied_marker(SHARD).unwrap(), marker_before);
    });
}

/// Applying, installing a snapshot over the shard and restarting touch no other shard of the
/// engine: a dump holds only its shard's keys, and an install replaces only those.
#[test]
fn other_shards_are_left_alone() {
    let (leader_dir, follower_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let steps = s::leader_history();
    s::run(async {
        let (_log, mut leader) = ShardSubject::open(leader_dir.path());
        leader
            .apply(steps.iter().map(|e| e.entry.clone()).collect::<Vec<_>>())
            .await
            .unwrap();
        leader
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        let snap = leader.get_current_snapshot().await.unwrap().unwrap();
        let before = {
            let (_log, follower) = ShardSubject::open(follower_dir.path());
            // Something only the follower's neighbour holds.
            let step = s::write(1, 2, &[("only-here", "cpu", &[(5_000, 5.0)])]);
            follower
                .engine
                .apply(NEIGHBOURS[0], 2, step.batch())
                .unwrap();
            follower.engine.checkpoint(NEIGHBOURS[0], None).unwrap();
            neighbours(&follower.engine)
        };
        let (_log, mut follower) = ShardSubject::open(follower_dir.path());
        assert_eq!(neighbours(&follower.engine), before);
        follower
            .install_snapshot(&snap.meta, snap.snapshot)
            .await
            .unwrap();
        assert_eq!(neighbours(&follower.engine), before);
        assert_ne!(neighbours(&follower.engine), neighbours(&leader.engine));
        drop((_log, follower));
        let (_log, follower) = ShardSubject::open(follower_dir.path());
        assert_eq!(neighbours(&follower.engine), before);
        assert_eq!(
            held_in(&follower.engine, SHARD),
            held_in(&leader.engine, SHARD)
        );
    });
}

/// `Command::Maintain` goes through `Engine::maintain`: a rollup writes its block and moves
/// the watermark, an expiry checkpoints first (with the marker of the entry before it) and
/// reports what it deleted.
#[test]
fn maintenance_commands_apply_through_the_engine() {
    use crate::type_config::Command;
    use cairn_model::Tier;
    use cairn_storage::Maintenance;
    use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId};
    use std::sync::atomic::Ordering;

    const DAY: i64 = 86_400_000;
    let dir = tempfile::tempdir().unwrap();
    let entry = |index: u64, cmd: Maintenance| Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(Command::Maintain(cmd)),
    };
    s::run(async {
        let (_log, mut sm) = ShardSubject::open(dir.path());
        let w = s::write(1, 1, &[("a", "cpu", &[(1_000, 1.0), (2_000, 2.0)])]);
        let roll = entry(
            2,
            Maintenance::Rollup {
                tier: Tier::Rollup5m,
                window_start: 0,
                sid_from: 0,
                sid_to: None,
                last: true,
            },
        );
        let expire = entry(
            3,
            Maintenance::Expire {
                tier: Tier::Raw,
                default_before: 0,
                tenants: vec![(TENANT.to_string(), DAY)],
            },
        );
        let reports = sm.apply(vec![w.entry.clone(), roll, expire]).await.unwrap();
        assert_eq!(reports.len(), 3);
        // What maintenance did is counted in the engine's stats.
        let stats = sm.engine.stats();
        assert_eq!(stats.maintenance_blocks_written.load(Ordering::Relaxed), 1);
        assert_eq!(stats.maintenance_windows_rolled.load(Ordering::Relaxed), 1);
        assert_eq!(stats.maintenance_days_deleted.load(Ordering::Relaxed), 1);
        let marker = sm.engine.applied_marker(SHARD).unwrap().unwrap();
        let marker: super::Marker = serde_json::from_slice(&marker).unwrap();
        assert_eq!(marker.applied.map(|l| l.index), Some(2));
        let state = sm.engine.rollup_state(SHARD).unwrap();
        assert_eq!(state.rollup_5m.watermark, Some(7_200_000));
        assert_eq!(sm.engine.tier_bounds(TENANT, &[SHARD])[0], DAY);
        assert_eq!(sm.engine.applied_index(SHARD).unwrap(), 3);
        // The raw samples are gone; the 5-minute bucket is not.
        let mut samples = Vec::new();
        sm.engine
            .read_samples(SHARD, 0, i64::MIN, i64::MAX, &mut samples)
            .unwrap();
        assert!(samples.is_empty());
        let mut buckets = Vec::new();
        sm.engine
            .read_buckets(SHARD, 0, Tier::Rollup5m, i64::MIN, i64::MAX, &mut buckets)
            .unwrap();
        assert_eq!((buckets.len(), buckets[0].count), (1, 2));
    });
}

/// The current snapshot is handed over as soon as its dump has begun: the machine applies
/// the next entry while the file may still be written, and the dump is still the state at
/// its meta (a follower that installs it holds the entries before, not the one after).
#[test]
fn the_machine_applies_on_while_its_dump_is_written() {
    let (leader_dir, follower_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let steps = s::leader_history();
    let next = s::write(2, 11, &[("after", "cpu", &[(9_000, 9.0)])]);
    s::run(async {
        let (_log, mut leader) = ShardSubject::open(leader_dir.path());
        leader
            .apply(steps.iter().map(|e| e.entry.clone()).collect::<Vec<_>>())
            .await
            .unwrap();
        let before = held_in(&leader.engine, SHARD);
        leader
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        let snap = leader.get_current_snapshot().await.unwrap().unwrap();
        leader.apply(vec![next.entry.clone()]).await.unwrap();
        assert_ne!(
            held_in(&leader.engine, SHARD),
            before,
            "the leader moved on"
        );
        let (_log, mut follower) = ShardSubject::open(follower_dir.path());
        follower
            .install_snapshot(&snap.meta, snap.snapshot)
            .await
            .unwrap();
        assert_eq!(held_in(&follower.engine, SHARD), before);
        assert_eq!(
            follower.applied_state().await.unwrap().0,
            snap.meta.last_log_id
        );
    });
}
