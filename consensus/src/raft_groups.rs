//! `RaftGroups`: the registry of Raft groups running on this node — the meta group (group 0)
//! and one group per shard replica held here — and what the node asks of all of them at once:
//! bootstrap, reconciliation with the placement, due checkpoints, admin flush and an orderly
//! shutdown. It is the consensus layer's façade: the node holds a `RaftGroups` and the
//! `MetaGroup`/`ShardGroup` handles it gives out, never an openraft type.
//!
//! ```text
//!  RaftGroups ─┬─ meta: MetaGroup ─ Raft(group 0) ─ MetaStateMachine ─ watch<ClusterState>
//!              │                                                    └─ MetaKv, watch<u64>
//!              ├─ shard s: ShardGroup ─ Raft(group s+1) ─ ShardStateMachine(s) ─ Engine
//!              │     log: RocksRaftLog(group) ─ LogSyncer (one fsync for every group)
//!              │       (reset, vote kept, if the engine found the shard's install torn)
//!              │     network: GrpcRaftNetwork::for_group(group)
//!              │     snapshots: SnapshotFiles in <data_dir>/raft-snapshots (cleared at
//!              │       start), sent in 1 MiB chunks
//!              ├─ reconcile(rf): replicas placed here started, replicas moved away dropped;
//!              │                 meta leader: plan_placement; shard leaders: converge
//!              │                 membership to the placement, report moves settled
//!              └─ checkpoint_due(): snapshot the groups whose shard `needs_checkpoint`
//! ```
//! Periodic work is run by the node's job supervisor, which calls `reconcile` and
//! `checkpoint_due`; nothing here runs its own timer.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use cairn_storage::log_store::LogStore;
use cairn_storage::{Engine, FlushOutcome};
use openraft::{Raft, SnapshotPolicy};

use crate::cluster_state::{ClusterState, MetaCommand, plan_placement};
use crate::error::{Error, Result};
use crate::group_id::{META_GROUP, group_of_shard, shard_of_group};
use crate::log_store::{LogSyncer, RocksRaftLog};
use crate::member::{Node, NodeId};
use crate::membership::Step;
use crate::meta_group::MetaGroup;
use crate::meta_state_machine::MetaStateMachine;
use crate::network::{GrpcRaftNetwork, RaftRegistry};
use crate::shard_group::ShardGroup;
use crate::shard_state_machine::{ApplyObserver, ShardStateMachine};
use crate::snapshot_file::{clear_snapshot_dir, snapshot_dir};
use crate::type_config::TypeConfig;

/// Snapshots go in chunks of this size: the memory a send or a receive holds at a time, and
/// small beside `MAX_MESSAGE_BYTES`, so snapshot chunks share the peer's connection with the
/// groups' appends in small turns.
pub const SNAPSHOT_CHUNK_BYTES: u64 = 1 << 20;

/// Raft timing of every group on a node.
#[derive(Clone, Debug)]
pub struct RaftTimings {
    pub heartbeat_interval: Duration,
    pub election_timeout_min: Duration,
    pub election_timeout_max: Duration,
}

impl Default for RaftTimings {
    fn default() -> Self {
        RaftTimings {
            heartbeat_interval: Duration::from_millis(300),
            election_timeout_min: Duration::from_millis(1_200),
            election_timeout_max: Duration::from_millis(2_400),
        }
    }
}

/// How the node's groups run.
#[derive(Clone, Debug)]
pub struct GroupSettings {
    pub timings: RaftTimings,
    /// How long a round of write proposals may wait to be applied (the node's write timeout).
    pub write_timeout: Duration,
}

/// What one reconciliation pass did.
#[derive(Debug, Default)]
pub struct Reconciled {
    /// Shard replicas started on this node.
    pub started: Vec<u32>,
    /// Placements this node proposed as meta leader.
    pub placed: Vec<(u32, Vec<NodeId>)>,
    /// Membership steps taken by shard groups this node leads.
    pub steps: Vec<(u32, Step)>,
    /// Shards this node leads whose move is done: their committed voters are the placement
    /// (the node reports each to the meta group with `MetaCommand::FinishMove`).
    pub settled: Vec<(u32, Vec<NodeId>)>,
    /// Local replicas dropped: the shard was moved off this node.
    pub dropped: Vec<u32>,
    /// What failed (every step is retried by the next pass).
    pub errors: Vec<Error>,
}

pub struct RaftGroups {
    node_id: NodeId,
    engine: Arc<Engine>,
    store: LogStore,
    syncer: LogSyncer,
    network: GrpcRaftNetwork,
    config: Arc<openraft::Config>,
    settings: GroupSettings,
    observer: Option<Arc<dyn ApplyObserver>>,
    meta: MetaGroup,
    shards: RwLock<HashMap<u32, ShardGroup>>,
    creating: tokio::sync::Mutex<()>,
}

impl RaftGroups {
    /// Starts the meta group and every shard group this node holds a replica of (by the
    /// cluster state it last applied).
    pub async fn start(
        node_id: NodeId,
        engine: Arc<Engine>,
        network: GrpcRaftNetwork,
        settings: GroupSettings,
        observer: Option<Arc<dyn ApplyObserver>>,
    ) -> Result<Arc<RaftGroups>> {
        let t = &settings.timings;
        let config = openraft::Config {
            cluster_name: "cairn".into(),
            heartbeat_interval: t.heartbeat_interval.as_millis() as u64,
            election_timeout_min: t.election_timeout_min.as_millis() as u64,
            election_timeout_max: t.election_timeout_max.as_millis() as u64,
            install_snapshot_timeout: 30_000,
            snapshot_max_chunk_size: SNAPSHOT_CHUNK_BYTES,
            // Checkpoints are triggered by `checkpoint_due`, from the engine's view.
            snapshot_policy: SnapshotPolicy::Never,
            // A replica a few entries behind catches up from the log, not a whole snapshot.
            max_in_snapshot_log_to_keep: 64,
            purge_batch_size: 64,
            // Entries are whole write requests (up to megabytes): keep messages bounded.
            max_payload_entries: 32,
            ..Default::default()
        };
        let config = Arc::new(
            config
                .validate()
                .map_err(|e| Error::raft(META_GROUP, "validating the Raft config", e))?,
        );
        let store = engine.log_store()?;
        // Snapshot files are unlinked as they are made; names left by a crash (where the
        // kernel could not make unnamed files) are of no use now.
        let snapshots = snapshot_dir(&engine.config().data_dir);
        let stale = clear_snapshot_dir(&snapshots).map_err(|source| Error::SnapshotDir {
            path: snapshots.clone(),
            source,
        })?;
        if stale > 0 {
            tracing::info!(stale, dir = %snapshots.display(), "removed stale snapshot files");
        }
        let syncer = LogSyncer::start(store.clone()).map_err(|e| Error::Encode {
            what: "log syncer thread",
            reason: e.to_string(),
        })?;
        let meta_sm = MetaStateMachine::open(store.clone(), snapshots)?;
        let state = meta_sm.subscribe();
        let (kv, kv_version) = (meta_sm.kv(), meta_sm.kv_subscribe());
        let raft = Raft::new(
            node_id,
            config.clone(),
            network.for_group(META_GROUP),
            RocksRaftLog::with_syncer(store.clone(), META_GROUP, syncer.clone()),
            meta_sm,
        )
        .await
        .map_err(|e| Error::fatal(META_GROUP, e))?;
        let groups = Arc::new(RaftGroups {
            node_id,
            engine,
            store,
            syncer,
            network,
            config,
            settings,
            observer,
            meta: MetaGroup::new(node_id, raft, state, kv, kv_version),
            shards: RwLock::new(HashMap::new()),
            creating: tokio::sync::Mutex::new(()),
        });
        for shard in groups.meta.state().held_by(node_id) {
            groups.ensure_shard(shard).await?;
        }
        Ok(groups)
    }

    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn network(&self) -> &GrpcRaftNetwork {
        &self.network
    }

    pub fn meta(&self) -> &MetaGroup {
        &self.meta
    }

    /// The cluster state as this node last applied it.
    pub fn state(&self) -> ClusterState {
        self.meta.state()
    }

    /// The local replica of `shard`, if this node runs one.
    pub fn shard(&self, shard: u32) -> Option<ShardGroup> {
        self.shards
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&shard)
            .cloned()
    }

    /// Whether this node runs a replica of `shard`.
    pub fn has_shard(&self, shard: u32) -> bool {
        self.shards
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&shard)
    }

    /// Every local shard replica, by shard.
    pub fn local_shards(&self) -> Vec<ShardGroup> {
        let mut v: Vec<ShardGroup> = self
            .shards
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        v.sort_by_key(|g| g.shard());
        v
    }

    /// Starts the local replica of `shard` if it is not running (uninitialised if new: it
    /// learns its membership from the shard's leader, or from a bootstrap).
    pub async fn ensure_shard(&self, shard: u32) -> Result<ShardGroup> {
        if let Some(g) = self.shard(shard) {
            return Ok(g);
        }
        let _creating = self.creating.lock().await;
        if let Some(g) = self.shard(shard) {
            return Ok(g);
        }
        if shard >= self.engine.shard_count() {
            return Err(Error::NoSuchShard {
                shard,
                shards: self.engine.shard_count(),
            });
        }
        let group = group_of_shard(shard);
        let log = RocksRaftLog::with_syncer(self.store.clone(), group, self.syncer.clone());
        if self.engine.torn_install(shard) {
            // The engine emptied the shard at open (a snapshot install was cut off): it has
            // applied nothing, but the log still holds a committed index and maybe a purged
            // one. openraft's `get_initial_state` would re-apply from `last_applied + 1` (the
            // first entry) to `committed`, and fail on the purged entries; with an empty log
            // the group starts as a new replica and its leader sends a snapshot again. The
            // vote stays: forgetting it could let this node vote twice in a term.
            tracing::warn!(
                shard,
                group,
                "a torn snapshot install: resetting the group's log"
            );
            log.reset_keeping_vote()?;
            // Only now: a crash before this line finds the shard torn again at the next open.
            self.engine.clear_torn_install(shard)?;
        }
        let sm = ShardStateMachine::new(self.engine.clone(), shard, self.observer.clone())?
            .with_entry_cache(log.entry_cache());
        let raft = Raft::new(
            self.node_id,
            self.config.clone(),
            self.network.for_group(group),
            log,
            sm,
        )
        .await
        .map_err(|e| Error::fatal(group, e))?;
        let g = ShardGroup::new(shard, self.node_id, raft, self.settings.write_timeout);
        self.shards
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(shard, g.clone());
        Ok(g)
    }

    /// Bootstraps a new cluster of `shards` shards on this node alone: the meta group and
    /// every shard group are initialized with this node as their only member, and the initial
    /// cluster state is written before any other node can join (so there is no split brain).
    pub async fn bootstrap(&self, me: Node, shards: u32, shards_per_tenant: u32) -> Result<()> {
        let id = self.node_id;
        tracing::info!(node = id, shards, "bootstrapping a new cluster");
        self.meta
            .initialize(me.clone(), Duration::from_secs(30))
            .await?;
        let mut cmds = vec![
            MetaCommand::Init {
                shards,
                shards_per_tenant,
            },
            MetaCommand::AddNode {
                id,
                node: me.clone(),
            },
        ];
        cmds.extend((0..shards).map(|shard| MetaCommand::SetPlacement {
            shard,
            replicas: vec![id],
        }));
        for cmd in cmds {
            self.meta.propose(cmd).await?;
        }
        let members = BTreeMap::from([(id, me)]);
        for shard in 0..shards {
            self.ensure_shard(shard)
                .await?
                .initialize(members.clone())
                .await?;
        }
        Ok(())
    }

    /// One pass of reconciliation between the cluster state and the running groups; every
    /// step is idempotent, and a failed one is retried by the next pass:
    /// * start a local replica of every shard placed on this node (it then waits for its
    ///   leader to send the log or a snapshot);
    /// * drop every local replica the cluster state no longer gives this node (see
    ///   [`RaftGroups::drop_shard`]);
    /// * as meta leader, propose `plan_placement(state, rf)` (new nodes get replicas until
    ///   every shard has `min(rf, nodes)`);
    /// * as a shard's leader, move its membership towards its placement, and report a move
    ///   whose membership change is committed as settled.
    pub async fn reconcile(&self, rf: usize) -> Reconciled {
        let mut done = Reconciled::default();
        let state = self.state();
        for shard in state.held_by(self.node_id) {
            if self.shard(shard).is_none() {
                match self.ensure_shard(shard).await {
                    Ok(_) => done.started.push(shard),
                    Err(e) => done.errors.push(e),
                }
            }
        }
        // Only once this node has applied some placement: a node that has just joined has an
        // empty cluster state and nothing to drop yet.
        if !state.placement.is_empty() {
            for g in self.local_shards() {
                if !state.holds(g.shard(), self.node_id) {
                    match self.drop_shard(g.shard()).await {
                        Ok(()) => done.dropped.push(g.shard()),
                        Err(e) => done.errors.push(e),
                    }
                }
            }
        }
        if self.meta.is_leader() {
            for (shard, replicas) in plan_placement(&state, rf) {
                tracing::info!(shard, ?replicas, "placing shard");
                let cmd = MetaCommand::SetPlacement {
                    shard,
                    replicas: replicas.clone(),
                };
                match self.meta.propose(cmd).await {
                    Ok(()) => done.placed.push((shard, replicas)),
                    Err(e) => {
                        done.errors.push(e);
                        break;
                    }
                }
            }
        }
        for g in self.local_shards() {
            let Some(target) = state.placement.get(&g.shard()) else {
                continue;
            };
            match g.converge(target, &state.nodes).await {
                Ok(steps) => done.steps.extend(steps.into_iter().map(|s| (g.shard(), s))),
                Err(e) => {
                    done.errors.push(e);
                    continue;
                }
            }
            if state.moves.contains_key(&g.shard()) && g.is_leader() {
                let m = g.status();
                let placed: BTreeSet<NodeId> = target.iter().copied().collect();
                // Committed (applied on the leader), not merely appended: the replica that
                // leaves drops its data once the move is forgotten.
                if m.voters == placed && !m.joint && m.learners.is_empty() && m.membership_applied()
                {
                    done.settled.push((g.shard(), target.clone()));
                }
            }
        }
        done
    }

    /// Stops the local replica of `shard` and deletes what it held: the shard's data in the
    /// engine and the group's Raft log (its vote is kept, so that this node never votes twice
    /// in one term should the shard come back here). Called once the cluster state no longer
    /// gives the shard to this node: the move that took it away is committed, so the other
    /// replicas hold everything.
    pub async fn drop_shard(&self, shard: u32) -> Result<()> {
        let Some(g) = self.shard(shard) else {
            return Ok(());
        };
        let _creating = self.creating.lock().await;
        g.shutdown().await;
        self.shards
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&shard);
        let group = group_of_shard(shard);
        RocksRaftLog::new(self.store.clone(), group).reset_keeping_vote()?;
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || engine.clear_shard(shard))
            .await
            .map_err(|e| Error::raft(group, "dropping the shard's data", e))??;
        tracing::info!(
            shard,
            "dropped the local replica: the shard moved to other nodes"
        );
        Ok(())
    }

    /// Starts a checkpoint of every local shard that needs one (enough log applied since
    /// the last, or its interval passed); returns how many were started.
    pub async fn checkpoint_due(&self) -> Result<usize> {
        let mut started = 0;
        let mut first_error = None;
        for g in self.local_shards() {
            if !self.engine.needs_checkpoint(g.shard()) {
                continue;
            }
            match g.trigger_checkpoint().await {
                Ok(()) => started += 1,
                Err(e) => {
                    tracing::warn!(shard = g.shard(), error = %e, "triggering a checkpoint failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) if started == 0 => Err(e),
            _ => Ok(started),
        }
    }

    /// Admin flush on this node: seals every local shard's head chunks, checkpoints them,
    /// purges their logs up to the checkpoint and flushes RocksDB's memtables.
    pub async fn flush(&self) -> Result<FlushOutcome> {
        let stats = self.engine.stats();
        let written = || {
            (
                stats.chunks_written.load(Ordering::Relaxed),
                stats.chunk_samples_written.load(Ordering::Relaxed),
            )
        };
        let before = written();
        for g in self.local_shards() {
            self.engine.seal_all(g.shard())?;
            if let Some(index) = g.checkpoint_now().await? {
                g.purge_to(index).await?;
            }
        }
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || engine.flush_memtables())
            .await
            .map_err(|e| Error::raft(META_GROUP, "flushing memtables", e))??;
        let after = written();
        Ok(FlushOutcome {
            chunks: after.0 - before.0,
            samples: after.1 - before.1,
        })
    }

    /// Checkpoints every local shard (so a restart re-applies little), stops every group, then
    /// the log syncer (after which nothing of this node but the engine holds the database).
    pub async fn shutdown(&self) {
        let mut stopping = tokio::task::JoinSet::new();
        for g in self.local_shards() {
            stopping.spawn(async move {
                if let Err(e) = g.checkpoint_now().await {
                    tracing::warn!(shard = g.shard(), error = %e, "checkpoint at shutdown failed");
                }
                g.shutdown().await;
            });
        }
        stopping.join_all().await;
        self.meta.shutdown().await;
        self.shards
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let syncer = self.syncer.clone();
        let _ = tokio::task::spawn_blocking(move || syncer.stop()).await;
    }
}

impl RaftRegistry for RaftGroups {
    fn group(&self, group: u64) -> Option<Raft<TypeConfig>> {
        if group == META_GROUP {
            return Some(self.meta.raft().clone());
        }
        self.shard(shard_of_group(group)?).map(|g| g.raft().clone())
    }
}

#[cfg(test)]
mod raft_groups_test;
