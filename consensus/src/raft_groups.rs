//! `RaftGroups`: the registry of Raft groups running on this node — the meta group (group 0)
//! and one group per shard replica held here — and the jobs every group needs: checkpoints
//! (which are the shard groups' snapshots, after which openraft purges the log), admin flush
//! and an orderly shutdown.
//!
//! ```text
//!  RaftGroups ─┬─ meta: Raft(group 0) ── MetaStateMachine ── watch<ClusterState>
//!              ├─ shard s: Raft(group s+1) ── ShardStateMachine(s) ── Engine
//!              │     log: RocksRaftLog(group) ── LogSyncer (one fsync for every group)
//!              │     network: GrpcRaftNetwork::for_group(group)
//!              └─ checkpoint job: every second, snapshot the groups whose engine shard
//!                 `needs_checkpoint` (log bytes or age since the last one)
//! ```

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use cairn_storage::log_store::LogStore;
use cairn_storage::{Engine, FlushOutcome};
use openraft::{Raft, SnapshotPolicy};
use tokio::sync::watch;

use crate::cluster_state::ClusterState;
use crate::error::{Error, Result};
use crate::group_id::{META_GROUP, group_of_shard, shard_of_group};
use crate::log_store::{LogSyncer, RocksRaftLog};
use crate::meta_state_machine::MetaStateMachine;
use crate::network::{GrpcRaftNetwork, RaftRegistry};
use crate::shard_state_machine::{ApplyObserver, ShardStateMachine};
use crate::type_config::{NodeId, TypeConfig};

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

pub struct RaftGroups {
    node_id: NodeId,
    engine: Arc<Engine>,
    store: LogStore,
    syncer: LogSyncer,
    network: GrpcRaftNetwork,
    config: Arc<openraft::Config>,
    observer: Option<Arc<dyn ApplyObserver>>,
    meta: Raft<TypeConfig>,
    cluster: watch::Receiver<ClusterState>,
    shards: RwLock<HashMap<u32, Raft<TypeConfig>>>,
    creating: tokio::sync::Mutex<()>,
}

fn raft_err(group: u64, e: impl std::fmt::Display) -> Error {
    Error::Raft {
        group,
        reason: e.to_string(),
    }
}

impl RaftGroups {
    /// Starts the meta group and every shard group this node holds a replica of (by the
    /// cluster state it last applied), plus the checkpoint job.
    pub async fn start(
        node_id: NodeId,
        engine: Arc<Engine>,
        network: GrpcRaftNetwork,
        timings: RaftTimings,
        observer: Option<Arc<dyn ApplyObserver>>,
    ) -> Result<Arc<RaftGroups>> {
        let config = openraft::Config {
            cluster_name: "cairn".into(),
            heartbeat_interval: timings.heartbeat_interval.as_millis() as u64,
            election_timeout_min: timings.election_timeout_min.as_millis() as u64,
            election_timeout_max: timings.election_timeout_max.as_millis() as u64,
            install_snapshot_timeout: 30_000,
            // Checkpoints are triggered by the checkpoint job below, from the engine's view.
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
                .map_err(|e| raft_err(META_GROUP, format!("config: {e}")))?,
        );
        let store = engine.log_store()?;
        let syncer = LogSyncer::start(store.clone()).map_err(|e| Error::Encode {
            what: "log syncer thread",
            reason: e.to_string(),
        })?;
        let meta_sm = MetaStateMachine::open(store.clone())?;
        let cluster = meta_sm.subscribe();
        let meta = Raft::new(
            node_id,
            config.clone(),
            network.for_group(META_GROUP),
            RocksRaftLog::with_syncer(store.clone(), META_GROUP, syncer.clone()),
            meta_sm,
        )
        .await
        .map_err(|e| raft_err(META_GROUP, e))?;
        let groups = Arc::new(RaftGroups {
            node_id,
            engine,
            store,
            syncer,
            network,
            config,
            observer,
            meta,
            cluster,
            shards: RwLock::new(HashMap::new()),
            creating: tokio::sync::Mutex::new(()),
        });
        let mine = groups.cluster.borrow().shards_of(node_id);
        for shard in mine {
            groups.ensure_shard(shard).await?;
        }
        tokio::spawn(checkpoint_job(Arc::downgrade(&groups)));
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

    pub fn meta(&self) -> &Raft<TypeConfig> {
        &self.meta
    }

    /// The cluster state as this node last applied it; changes are signalled.
    pub fn cluster(&self) -> watch::Receiver<ClusterState> {
        self.cluster.clone()
    }

    /// The local replica of `shard`, if this node runs one.
    pub fn shard(&self, shard: u32) -> Option<Raft<TypeConfig>> {
        self.shards
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&shard)
            .cloned()
    }

    /// Every local shard replica, by shard.
    pub fn local_shards(&self) -> Vec<(u32, Raft<TypeConfig>)> {
        let mut v: Vec<_> = self
            .shards
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(s, r)| (*s, r.clone()))
            .collect();
        v.sort_by_key(|(s, _)| *s);
        v
    }

    /// Starts the local replica of `shard` if it is not running (uninitialised if new: it
    /// learns its membership from the shard's leader, or from `initialize`).
    pub async fn ensure_shard(&self, shard: u32) -> Result<Raft<TypeConfig>> {
        if let Some(r) = self.shard(shard) {
            return Ok(r);
        }
        let _creating = self.creating.lock().await;
        if let Some(r) = self.shard(shard) {
            return Ok(r);
        }
        if shard >= self.engine.shard_count() {
            return Err(raft_err(
                group_of_shard(shard),
                format!(
                    "shard {shard} does not exist on this node (its data dir has {} shards)",
                    self.engine.shard_count()
                ),
            ));
        }
        let group = group_of_shard(shard);
        let log = RocksRaftLog::with_syncer(self.store.clone(), group, self.syncer.clone());
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
        .map_err(|e| raft_err(group, e))?;
        self.shards
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(shard, raft.clone());
        Ok(raft)
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
        for (shard, raft) in self.local_shards() {
            let group = group_of_shard(shard);
            self.engine.seal_all(shard)?;
            let index = snapshot_now(&raft).await.map_err(|e| raft_err(group, e))?;
            if let Some(index) = index {
                raft.trigger()
                    .purge_log(index)
                    .await
                    .map_err(|e| raft_err(group, e))?;
                raft.wait(Some(Duration::from_secs(30)))
                    .metrics(
                        |m| m.purged.is_some_and(|p| p.index >= index),
                        "log purged after flush",
                    )
                    .await
                    .map_err(|e| raft_err(group, e))?;
            }
        }
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || engine.flush_memtables())
            .await
            .map_err(|e| raft_err(META_GROUP, e))??;
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
        for (shard, raft) in self.local_shards() {
            stopping.spawn(async move {
                if let Err(e) = snapshot_now(&raft).await {
                    tracing::warn!(shard, error = %e, "checkpoint at shutdown failed");
                }
                let _ = raft.shutdown().await;
            });
        }
        stopping.join_all().await;
        let _ = self.meta.shutdown().await;
        self.shards
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let syncer = self.syncer.clone();
        let _ = tokio::task::spawn_blocking(move || syncer.stop()).await;
    }
}

/// Triggers a snapshot (a checkpoint) of `raft` and waits until it covers what was applied
/// when called; returns the index it covers.
async fn snapshot_now(raft: &Raft<TypeConfig>) -> std::result::Result<Option<u64>, String> {
    let applied = raft.metrics().borrow().last_applied.map(|l| l.index);
    let Some(applied) = applied else {
        return Ok(None);
    };
    raft.trigger().snapshot().await.map_err(|e| e.to_string())?;
    raft.wait(Some(Duration::from_secs(30)))
        .metrics(
            |m| m.snapshot.is_some_and(|s| s.index >= applied),
            "checkpoint",
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some(applied))
}

impl RaftRegistry for RaftGroups {
    fn group(&self, group: u64) -> Option<Raft<TypeConfig>> {
        if group == META_GROUP {
            return Some(self.meta.clone());
        }
        self.shard(shard_of_group(group)?)
    }
}

async fn checkpoint_job(groups: std::sync::Weak<RaftGroups>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(g) = groups.upgrade() else {
            return;
        };
        for (shard, raft) in g.local_shards() {
            if g.engine.needs_checkpoint(shard)
                && let Err(e) = raft.trigger().snapshot().await
            {
                tracing::warn!(shard, error = %e, "triggering a checkpoint failed");
            }
        }
    }
}
