//! The conformance suite of Cairn's Raft state machines: one set of cases run against every
//! `RaftStateMachine<TypeConfig>` — the in-memory test machine, `ShardStateMachine` over a
//! storage `Engine` and `MetaStateMachine` — each on a real RocksDB in a temp dir, beside its
//! group's `RocksRaftLog` in the same RocksDB.
//!
//! ```text
//!  run_openraft_suite::<S>()     openraft 0.9.25's own storage `Suite`, case by case
//!  state_machine_suite!(S)       Cairn's cases: normal entries, restart, snapshot transfer
//!        └─ S: Subject           how to open S on a dir, what it holds, what it keeps
//! ```
//! The machines differ on purpose in what a restart keeps and in what their current snapshot
//! is. A [`Subject`] states its answer ([`Restart`], [`CurrentSnapshot`]) and every case checks
//! it against that, instead of leaving the machine out.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::path::Path;

use cairn_model::{Labels, Sample, Tenant, WriteBatchBuilder};
use futures_util::FutureExt;
use futures_util::future::{LocalBoxFuture, join_all};
use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftStateMachine, StorageHelper};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{
    CommittedLeaderId, Entry, EntryPayload, LogId, Membership, RaftSnapshotBuilder, Snapshot,
    SnapshotMeta, StorageError, StoredMembership, Vote,
};

use crate::cluster_state::{ClusterState, MetaCommand};
use crate::log_store::RocksRaftLog;
use crate::meta_kv::{KvOp, MetaKv};
use crate::type_config::{ApplyReport, Command, Node, NodeId, TypeConfig};

/// The tenant of every write in the suite.
pub(crate) const TENANT: &str = "acme";

/// The node that leads every term of the suite's histories.
const LEADER: NodeId = 1;

// ---- what a subject is ---------------------------------------------------------------------

/// What dropping a state machine and opening it again on the same dir (a restart) keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Restart {
    /// Nothing: openraft re-applies the whole log (the in-memory machine).
    Nothing,
    /// The last snapshot built, installed or dumped: a shard's last checkpoint, whose marker
    /// is its applied state; openraft re-applies the committed entries after it.
    LastSnapshot,
    /// Every apply: the meta machine rewrites its record after each one.
    EveryApply,
}

/// What `get_current_snapshot` returns once a snapshot exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CurrentSnapshot {
    /// The last one built or installed, as it was then.
    LastBuilt,
    /// A dump made when asked, at the last applied entry (a shard: never stale).
    AtLastApplied,
}

/// A state machine under the suite.
pub(crate) trait Subject: 'static {
    type Sm: RaftStateMachine<TypeConfig>;
    /// Whether `Command::Write` batches become state (samples) in this machine.
    const KEEPS_WRITES: bool;
    /// Whether `Command::Meta` commands become state (the cluster state and the key-value
    /// space) in this machine.
    const KEEPS_META: bool;
    const RESTART: Restart;
    const CURRENT_SNAPSHOT: CurrentSnapshot;

    /// The state machine and its group's log on `dir`: made on the first call, and opened
    /// again from what is on disk (a restart) once the previous pair is dropped.
    fn open(dir: &Path) -> (RocksRaftLog, Self::Sm);

    /// What the machine holds now, read through its own means (a shard: the engine's read
    /// path; the meta machine: its watch channel).
    fn held(sm: &Self::Sm) -> Held;
}

/// A state machine's contents in the suite's terms.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Held {
    /// Every series, as `tenant/labels`, with its samples as (timestamp, value bits).
    pub(crate) series: BTreeMap<String, Vec<(i64, u64)>>,
    pub(crate) cluster: ClusterState,
    pub(crate) kv: MetaKv,
}

impl Held {
    /// Applies a meta command as the meta state machine does.
    pub(crate) fn apply_meta(&mut self, cmd: &MetaCommand) {
        match cmd {
            MetaCommand::Kv { ops } => {
                self.kv.apply(ops);
            }
            other => self.cluster.apply(other),
        }
    }

    pub(crate) fn add(
        &mut self,
        tenant: &str,
        labels: &Labels,
        samples: impl IntoIterator<Item = Sample>,
    ) {
        let s = self.series.entry(format!("{tenant}/{labels}")).or_default();
        s.extend(samples.into_iter().map(|x| (x.t, x.v.to_bits())));
        // Sorted but not de-duplicated: a sample held twice is a failure to see.
        s.sort_unstable();
    }
}

// ---- histories -------------------------------------------------------------------------------

/// One entry of a history, with the series and samples it writes (for the expected state).
#[derive(Clone)]
pub(crate) struct Step {
    pub(crate) entry: Entry<TypeConfig>,
    writes: Vec<(Labels, Vec<Sample>)>,
}

impl Step {
    /// The write batch of a write entry.
    pub(crate) fn batch(&self) -> Option<&[u8]> {
        match &self.entry.payload {
            EntryPayload::Normal(Command::Write { batch }) => Some(batch),
            _ => None,
        }
    }
}

pub(crate) fn log_id(term: u64, index: u64) -> LogId<NodeId> {
    LogId::new(CommittedLeaderId::new(term, LEADER), index)
}

pub(crate) fn node(id: NodeId) -> Node {
    Node {
        http_addr: format!("127.0.0.1:{}", 7470 + id * 10),
        grpc_addr: format!("127.0.0.1:{}", 7471 + id * 10),
    }
}

fn step(term: u64, index: u64, payload: EntryPayload<TypeConfig>) -> Step {
    Step {
        entry: Entry {
            log_id: log_id(term, index),
            payload,
        },
        writes: Vec::new(),
    }
}

fn blank(term: u64, index: u64) -> Step {
    step(term, index, EntryPayload::Blank)
}

fn members(term: u64, index: u64, voters: &[NodeId]) -> Step {
    let set: BTreeSet<NodeId> = voters.iter().copied().collect();
    let nodes: BTreeMap<NodeId, Node> = voters.iter().map(|&n| (n, node(n))).collect();
    step(
        term,
        index,
        EntryPayload::Membership(Membership::new(vec![set], nodes)),
    )
}

fn meta(term: u64, index: u64, cmd: MetaCommand) -> Step {
    step(term, index, EntryPayload::Normal(Command::Meta(cmd)))
}

/// One series of a write: `(host, metric, [(timestamp, value)])`.
pub(crate) type SeriesSamples<'a> = (&'a str, &'a str, &'a [(i64, f64)]);

/// A write entry: one batch of `series`, built as the node builds them.
pub(crate) fn write(term: u64, index: u64, series: &[SeriesSamples]) -> Step {
    let tenant = Tenant::new(TENANT).expect("a valid tenant");
    let mut b = WriteBatchBuilder::new(tenant);
    let mut writes = Vec::new();
    for &(host, metric, samples) in series {
        let samples: Vec<Sample> = samples.iter().map(|&(t, v)| Sample::new(t, v)).collect();
        b.begin_group([("host", host), ("dc", "eu")])
            .expect("valid labels");
        b.add_series(metric, samples.iter().copied());
        let labels = Labels::from_pairs([("__name__", metric), ("host", host), ("dc", "eu")])
            .expect("valid labels");
        writes.push((labels, samples));
    }
    let batch = bytes::Bytes::from(b.finish().into_bytes());
    Step {
        writes,
        ..step(term, index, EntryPayload::Normal(Command::Write { batch }))
    }
}

/// The leader's history: every kind of entry, a term change, and a series written twice.
/// Step `i` is log index `i`; index 0 is the membership `Raft::initialize` writes.
pub(crate) fn leader_history() -> Vec<Step> {
    vec![
        members(0, 0, &[LEADER]),
        blank(1, 1),
        members(1, 2, &[1, 2, 3]),
        write(
            1,
            3,
            &[
                ("a", "cpu", &[(1_000, 0.5), (2_000, 1.5)]),
                ("a", "mem", &[(1_000, 64.0)]),
            ],
        ),
        meta(
            1,
            4,
            MetaCommand::Init {
                shards: 4,
                shards_per_tenant: 2,
            },
        ),
        meta(
            1,
            5,
            MetaCommand::AddNode {
                id: 1,
                node: node(1),
            },
        ),
        write(
            1,
            6,
            &[
                ("a", "cpu", &[(3_000, 2.5)]),
                ("b", "cpu", &[(3_000, -1.0), (4_000, 0.0)]),
            ],
        ),
        blank(2, 7),
        meta(
            2,
            8,
            MetaCommand::SetPlacement {
                shard: 0,
                replicas: vec![1],
            },
        ),
        meta(
            2,
            9,
            MetaCommand::Kv {
                ops: vec![
                    kv_put("rules/acme/a", "{}"),
                    kv_put("alerts/acme/a/00000/1", "1"),
                    kv_put("alerts/acme/a/00000/2", "2"),
                    KvOp::DeletePrefix {
                        prefix: "alerts/acme/a/".into(),
                    },
                    kv_put("alerts/acme/a/00001/3", "3"),
                ],
            },
        ),
    ]
}

fn kv_put(key: &str, value: &str) -> KvOp {
    KvOp::Put {
        key: key.into(),
        value: value.into(),
    }
}

/// Entry 10, after the leader's history: a new series and more of an old one.
fn next_step() -> Step {
    write(
        2,
        10,
        &[
            ("c", "disk", &[(4_000, 7.0)]),
            ("a", "cpu", &[(4_000, 3.5)]),
        ],
    )
}

/// A stale replica's own state (indexes 0..=5): other members, another node, a series the
/// leader never wrote, a different value at one of the leader's timestamps and keys of its
/// own in the KV. An installed snapshot must replace all of it.
fn stale_history() -> Vec<Step> {
    vec![
        members(0, 0, &[9]),
        blank(1, 1),
        write(1, 2, &[("z", "cpu", &[(500, 9.0)])]),
        meta(
            1,
            3,
            MetaCommand::AddNode {
                id: 9,
                node: node(9),
            },
        ),
        write(1, 4, &[("a", "cpu", &[(1_000, 99.0)])]),
        meta(
            1,
            5,
            MetaCommand::Kv {
                ops: vec![kv_put("rules/acme/a", "stale"), kv_put("stale/key", "1")],
            },
        ),
    ]
}

/// What `S` holds after applying `steps`.
fn expected<S: Subject>(steps: &[Step]) -> Held {
    let mut held = Held::default();
    for s in steps {
        match &s.entry.payload {
            EntryPayload::Normal(Command::Write { .. }) if S::KEEPS_WRITES => {
                for (labels, samples) in &s.writes {
                    held.add(TENANT, labels, samples.iter().copied());
                }
            }
            EntryPayload::Normal(Command::Meta(cmd)) if S::KEEPS_META => held.apply_meta(cmd),
            _ => {}
        }
    }
    held
}

type AppliedState = (Option<LogId<NodeId>>, StoredMembership<NodeId, Node>);

/// The applied state after `steps`: the last log id and the last membership entry.
fn applied_after(steps: &[Step]) -> AppliedState {
    let membership = steps
        .iter()
        .rev()
        .find_map(|s| match &s.entry.payload {
            EntryPayload::Membership(m) => {
                Some(StoredMembership::new(Some(s.entry.log_id), m.clone()))
            }
            _ => None,
        })
        .unwrap_or_default();
    (steps.last().map(|s| s.entry.log_id), membership)
}

/// The applied state a snapshot claims to hold.
fn point(meta: &SnapshotMeta<NodeId, Node>) -> AppliedState {
    (meta.last_log_id, meta.last_membership.clone())
}

/// How many of the `applied` first steps a restart keeps, the last snapshot holding the
/// `snapshot` first ones.
fn kept_by_restart<S: Subject>(snapshot: usize, applied: usize) -> usize {
    match S::RESTART {
        Restart::Nothing => 0,
        Restart::LastSnapshot => snapshot,
        Restart::EveryApply => applied,
    }
}

// ---- helpers ---------------------------------------------------------------------------------

async fn apply<S: Subject>(sm: &mut S::Sm, steps: &[Step]) -> Vec<ApplyReport> {
    let entries: Vec<Entry<TypeConfig>> = steps.iter().map(|s| s.entry.clone()).collect();
    sm.apply(entries).await.expect("apply")
}

async fn build_snapshot<S: Subject>(sm: &mut S::Sm) -> Snapshot<TypeConfig> {
    sm.get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .expect("build a snapshot")
}

async fn current_snapshot<S: Subject>(sm: &mut S::Sm) -> Option<Snapshot<TypeConfig>> {
    sm.get_current_snapshot().await.expect("current snapshot")
}

/// Installs `snap` as openraft does on a follower: its bytes into the file
/// `begin_receiving_snapshot` gives, then `install_snapshot` with the leader's meta.
async fn install<S: Subject>(sm: &mut S::Sm, snap: &Snapshot<TypeConfig>) {
    use tokio::io::AsyncWriteExt as _;
    let bytes = snap
        .snapshot
        .read_all()
        .await
        .expect("the snapshot's bytes");
    let mut rx = sm
        .begin_receiving_snapshot()
        .await
        .expect("begin receiving");
    rx.write_all(&bytes).await.expect("write into the file");
    sm.install_snapshot(&snap.meta, rx).await.expect("install");
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temp dir")
}

/// Runs one case on a runtime of its own.
pub(crate) fn run(case: impl Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(case)
}

// ---- Cairn's cases ---------------------------------------------------------------------------

/// A new machine has applied nothing, has no snapshot and holds nothing.
pub(crate) async fn initial_state<S: Subject>() {
    let dir = temp_dir();
    let (_log, mut sm) = S::open(dir.path());
    assert_eq!(sm.applied_state().await.unwrap(), applied_after(&[]));
    assert!(current_snapshot::<S>(&mut sm).await.is_none());
    assert_eq!(S::held(&sm), Held::default());
}

/// Blank, membership, write and meta entries, alone and several at once: one report per
/// entry, the applied state moves to the last, and the writes (read back) and meta commands
/// are the machine's state.
pub(crate) async fn apply_moves_the_applied_state_and_keeps_the_commands<S: Subject>() {
    let mut steps = leader_history();
    steps.push(next_step());
    let dir = temp_dir();
    let (_log, mut sm) = S::open(dir.path());
    for (from, to) in [(0, 2), (2, 4), (4, 10), (10, 11)] {
        let reports = apply::<S>(&mut sm, &steps[from..to]).await;
        assert_eq!(reports.len(), to - from, "one report per entry");
        assert_eq!(
            sm.applied_state().await.unwrap(),
            applied_after(&steps[..to])
        );
        assert_eq!(S::held(&sm), expected::<S>(&steps[..to]), "after {to}");
    }
}

/// A restart keeps what the subject says it keeps (`Restart`), and openraft's start-up
/// (`StorageHelper::get_initial_state`) re-applies the committed rest from the log — with the
/// log purged up to the snapshot, as openraft purges it, where the machine keeps anything.
pub(crate) async fn reopen_resumes_from_what_was_kept<S: Subject>() {
    let steps = leader_history();
    let dir = temp_dir();
    {
        let (mut log, mut sm) = S::open(dir.path());
        log.blocking_append(steps.iter().map(|s| s.entry.clone()))
            .await
            .unwrap();
        log.save_vote(&Vote::new_committed(2, LEADER))
            .await
            .unwrap();
        log.save_committed(Some(log_id(2, 9))).await.unwrap();
        apply::<S>(&mut sm, &steps[..=4]).await;
        let snap = build_snapshot::<S>(&mut sm).await;
        assert_eq!(point(&snap.meta), applied_after(&steps[..=4]));
        if S::RESTART != Restart::Nothing {
            log.purge(log_id(1, 4)).await.unwrap();
        }
        apply::<S>(&mut sm, &steps[5..]).await;
    }
    let (mut log, mut sm) = S::open(dir.path());
    let kept = kept_by_restart::<S>(5, 10);
    assert_eq!(
        sm.applied_state().await.unwrap(),
        applied_after(&steps[..kept]),
        "applied state after a restart"
    );
    assert_eq!(
        S::held(&sm),
        expected::<S>(&steps[..kept]),
        "what a restart keeps"
    );
    let initial = StorageHelper::new(&mut log, &mut sm)
        .get_initial_state()
        .await
        .unwrap();
    assert_eq!(initial.committed, Some(log_id(2, 9)));
    assert_eq!(sm.applied_state().await.unwrap(), applied_after(&steps));
    assert_eq!(S::held(&sm), expected::<S>(&steps), "after re-applying");
    if S::RESTART != Restart::Nothing {
        // The purged log has no entries for a lagging follower: openraft's start-up asked the
        // machine for a snapshot instead.
        assert!(initial.snapshot_meta.last_log_id >= Some(log_id(1, 4)));
    }
}

/// No current snapshot until one is built; then the built one, or for a subject that dumps
/// on demand one at the last applied entry. Its data is the state its meta names.
pub(crate) async fn current_snapshot_before_and_after_one_exists<S: Subject>() {
    let steps = leader_history();
    let dir = temp_dir();
    let (_log, mut sm) = S::open(dir.path());
    assert!(current_snapshot::<S>(&mut sm).await.is_none());
    apply::<S>(&mut sm, &steps[..=4]).await;
    assert!(
        current_snapshot::<S>(&mut sm).await.is_none(),
        "none until one is built"
    );
    let built = build_snapshot::<S>(&mut sm).await;
    assert_eq!(point(&built.meta), applied_after(&steps[..=4]));
    let current = current_snapshot::<S>(&mut sm).await.expect("built");
    // Compared without `snapshot_id`: a shard names every dump apart (its bytes differ from
    // one dump to the next, as checkpoints merge chunks), so a follower never splices chunks
    // of two dumps together.
    assert_eq!(point(&current.meta), point(&built.meta));
    apply::<S>(&mut sm, &steps[5..]).await;
    let at = match S::CURRENT_SNAPSHOT {
        CurrentSnapshot::LastBuilt => 5,
        CurrentSnapshot::AtLastApplied => 10,
    };
    let current = current_snapshot::<S>(&mut sm).await.expect("built");
    assert_eq!(point(&current.meta), applied_after(&steps[..at]));
    let other = temp_dir();
    let (_other_log, mut fresh) = S::open(other.path());
    install::<S>(&mut fresh, &current).await;
    assert_eq!(S::held(&fresh), expected::<S>(&steps[..at]));
}

/// A snapshot sent to a fresh machine makes it the leader's equal: applied state, contents
/// (a shard: the engine's series and samples), current snapshot; both then apply the next
/// entry alike, and the installed state survives a restart as the subject keeps things.
pub(crate) async fn snapshot_installs_into_a_fresh_state_machine<S: Subject>() {
    let steps = leader_history();
    let next = [next_step()];
    let (leader_dir, follower_dir) = (temp_dir(), temp_dir());
    let (_leader_log, mut leader) = S::open(leader_dir.path());
    apply::<S>(&mut leader, &steps).await;
    build_snapshot::<S>(&mut leader).await;
    let snap = current_snapshot::<S>(&mut leader).await.expect("built");
    {
        let (_log, mut follower) = S::open(follower_dir.path());
        install::<S>(&mut follower, &snap).await;
        assert_eq!(
            follower.applied_state().await.unwrap(),
            applied_after(&steps)
        );
        assert_eq!(S::held(&follower), expected::<S>(&steps));
        let current = current_snapshot::<S>(&mut follower)
            .await
            .expect("an installed snapshot is current");
        assert_eq!(point(&current.meta), point(&snap.meta));
        apply::<S>(&mut leader, &next).await;
        apply::<S>(&mut follower, &next).await;
        assert_eq!(S::held(&follower), S::held(&leader), "the same next state");
    }
    let (_log, mut follower) = S::open(follower_dir.path());
    let all: Vec<Step> = steps.iter().chain(&next).cloned().collect();
    let kept = kept_by_restart::<S>(10, 11);
    assert_eq!(
        follower.applied_state().await.unwrap(),
        applied_after(&all[..kept])
    );
    assert_eq!(S::held(&follower), expected::<S>(&all[..kept]));
}

/// Installing over a machine that holds other data (and a snapshot of its own) replaces all
/// of it: nothing of the stale state is left, in memory or after a restart.
pub(crate) async fn snapshot_installs_over_existing_data<S: Subject>() {
    let steps = leader_history();
    let stale = stale_history();
    let (leader_dir, follower_dir) = (temp_dir(), temp_dir());
    let (_leader_log, mut leader) = S::open(leader_dir.path());
    apply::<S>(&mut leader, &steps).await;
    build_snapshot::<S>(&mut leader).await;
    let snap = current_snapshot::<S>(&mut leader).await.expect("built");
    {
        let (_log, mut follower) = S::open(follower_dir.path());
        apply::<S>(&mut follower, &stale).await;
        build_snapshot::<S>(&mut follower).await;
        assert_eq!(S::held(&follower), expected::<S>(&stale));
        install::<S>(&mut follower, &snap).await;
        assert_eq!(
            follower.applied_state().await.unwrap(),
            applied_after(&steps)
        );
        assert_eq!(
            S::held(&follower),
            expected::<S>(&steps),
            "the stale state is gone"
        );
        let current = current_snapshot::<S>(&mut follower)
            .await
            .expect("installed");
        assert_eq!(point(&current.meta), point(&snap.meta));
    }
    if S::RESTART != Restart::Nothing {
        let (_log, mut follower) = S::open(follower_dir.path());
        assert_eq!(
            follower.applied_state().await.unwrap(),
            applied_after(&steps)
        );
        assert_eq!(S::held(&follower), expected::<S>(&steps), "after a restart");
    }
}

/// One `#[test]` per case of the suite above, run against `$subject` (a [`Subject`]), in a
/// module `suite` of the invoking module.
macro_rules! state_machine_suite {
    ($subject:ty) => {
        /// The state machine conformance suite (`state_machine_suite.rs`) on this subject.
        mod suite {
            use super::*;
            use $crate::state_machine_suite as s;

            #[test]
            fn initial_state() {
                s::run(s::initial_state::<$subject>());
            }

            #[test]
            fn apply_moves_the_applied_state_and_keeps_the_commands() {
                s::run(s::apply_moves_the_applied_state_and_keeps_the_commands::<
                    $subject,
                >());
            }

            #[test]
            fn reopen_resumes_from_what_was_kept() {
                s::run(s::reopen_resumes_from_what_was_kept::<$subject>());
            }

            #[test]
            fn current_snapshot_before_and_after_one_exists() {
                s::run(s::current_snapshot_before_and_after_one_exists::<$subject>());
            }

            #[test]
            fn snapshot_installs_into_a_fresh_state_machine() {
                s::run(s::snapshot_installs_into_a_fresh_state_machine::<$subject>());
            }

            #[test]
            fn snapshot_installs_over_existing_data() {
                s::run(s::snapshot_installs_over_existing_data::<$subject>());
            }
        }
    };
}
pub(crate) use state_machine_suite;

// ---- openraft's suite --------------------------------------------------------------------

/// Stores for openraft's cases: a fresh temp dir with `S` and its log in it.
struct SubjectStores<S>(PhantomData<fn() -> S>);

impl<S: Subject> StoreBuilder<TypeConfig, RocksRaftLog, S::Sm, tempfile::TempDir>
    for SubjectStores<S>
{
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, RocksRaftLog, S::Sm), StorageError<NodeId>> {
        let dir = temp_dir();
        let (log, sm) = S::open(dir.path());
        Ok((dir, log, sm))
    }
}

type CaseFuture<'a> = LocalBoxFuture<'a, Result<(), StorageError<NodeId>>>;

/// Runs openraft's storage `Suite` on `S`: every case of `Suite::test_store` (openraft
/// 0.9.25, in its order) but those named in `replaced`, each on fresh stores. `test_all`
/// runs all or nothing, so the cases are called one by one, all at once: several wait a
/// second for a background purge, and in turn they would take ~8 s. Fails naming every case
/// that failed.
pub(crate) fn run_openraft_suite<S: Subject>(replaced: &[&str]) {
    let stores = SubjectStores::<S>(PhantomData);
    let stores = &stores;
    macro_rules! on_fresh_stores {
        ($($case:ident),+ $(,)?) => {
            vec![$((
                stringify!($case),
                async move {
                    let (_dir, log, sm) = stores.build().await?;
                    Suite::<TypeConfig, RocksRaftLog, S::Sm, SubjectStores<S>, tempfile::TempDir>
                        ::$case(log, sm).await
                }
                .boxed_local() as CaseFuture<'_>,
            )),+]
        };
    }
    let mut cases = on_fresh_stores!(
        last_membership_in_log_initial,
        last_membership_in_log,
        last_membership_in_log_multi_step,
        get_membership_initial,
        get_membership_from_log_and_empty_sm,
        get_membership_from_empty_log_and_sm,
        get_membership_from_log_le_sm_last_applied,
        get_membership_from_log_gt_sm_last_applied_1,
        get_membership_from_log_gt_sm_last_applied_2,
        get_initial_state_without_init,
        get_initial_state_membership_from_log_and_sm,
        get_initial_state_with_state,
        get_initial_state_last_log_gt_sm,
        get_initial_state_last_log_lt_sm,
        get_initial_state_log_ids,
        get_initial_state_re_apply_committed,
        save_vote,
        get_log_entries,
        limited_get_log_entries,
        try_get_log_entry,
        initial_logs,
        get_log_state,
        get_log_id,
        last_id_in_log,
        last_applied_state,
        purge_logs_upto_0,
        purge_logs_upto_5,
        purge_logs_upto_20,
        delete_logs_since_11,
        delete_logs_since_0,
        append_to_log,
        snapshot_meta,
        apply_single,
        apply_multiple,
    );
    cases.push((
        "transfer_snapshot",
        Suite::<TypeConfig, RocksRaftLog, S::Sm, SubjectStores<S>, tempfile::TempDir>::transfer_snapshot(
            stores,
        )
        .boxed_local(),
    ));
    for name in replaced {
        assert!(
            cases.iter().any(|(case, _)| case == name),
            "openraft's suite has no case {name}"
        );
    }
    cases.retain(|(case, _)| !replaced.contains(case));
    let failed: Vec<String> = run_all(cases);
    assert!(
        failed.is_empty(),
        "openraft suite cases failed:\n{}",
        failed.join("\n")
    );
}

/// Polls every case to its end on one thread, catching panics: the names and errors of
/// those that failed.
fn run_all(cases: Vec<(&'static str, CaseFuture<'_>)>) -> Vec<String> {
    let mut failed = Vec::new();
    run(async {
        let results = join_all(cases.into_iter().map(|(name, case)| async move {
            (name, AssertUnwindSafe(case).catch_unwind().await)
        }))
        .await;
        for (name, result) in results {
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failed.push(format!("{name}: {e}")),
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("a panic");
                    failed.push(format!("{name}: {what}"));
                }
            }
        }
    });
    failed
}
