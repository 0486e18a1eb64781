//! `Engine`: one node's storage, a RocksDB with every shard in it. It is the state machine
//! under every shard's Raft group: committed entries come in through `apply`, in log order,
//! and become storage writes there and only there. It knows nothing of Raft (the caller's
//! marker is opaque bytes), networks or runtimes, and it does not own the log: the `raft_log`
//! and `raft_state` column families belong to the Raft layer, which appends, syncs and purges
//! them through `log_store::LogStore`.
//!
//! ```text
//!                       ┌──────────────── Engine (this file: types, stats, shard lookup) ─┐
//!  open()            ──►│ open.rs        RocksDB options and column families, the shard   │
//!                       │                count, each shard back to its last checkpoint    │
//!  apply(shard, i, b)──►│ write.rs       head (series ids in apply order), new series'    │
//!                       │                records, spills of sealed chunks                 │
//!  checkpoint(shard) ──►│ checkpoint.rs  sealed + partial chunks, head index, flushed     │
//!                       │                index, marker: one write; window and day merges  │
//!  begin_dump/install──►│ snapshot.rs    every key of one shard, streamed, for a replica  │
//!  select/read_samples◄─│ read.rs        postings ∩, then disk chunks ⊕ head, merged      │
//!  read_buckets      ◄─│ buckets.rs     stored rollup blocks below the watermark, the    │
//!                       │                rest computed from the finer tier                │
//!  maintain(shard, i)──►│ maintain.rs    rollup windows, retention (checkpoint first),    │
//!                       │                watermarks, dirty windows, cut-offs, drops       │
//!                       └─────────────────────────────────────────────────────────────────┘
//! ```
//! After `open` each shard is at its last checkpoint; the Raft layer re-applies the committed
//! entries after it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use cairn_model::Clock;

use rocksdb::{DB, ReadOptions};

use crate::config::StorageConfig;
use crate::error::{Error, Result};
use crate::head::{Head, HeadLimits, SeriesId};
use crate::keys::{ALL_CFS, CF_CHUNKS, prefix_successor};
use crate::maintenance::TierCutoffs;
use crate::rollup_marks::RollupMarks;
use cairn_model::{Labels, Tier};

mod backup;
mod buckets;
mod checkpoint;
mod clear;
pub mod digest;
mod maintain;
mod open;
mod read;
mod snapshot;
mod write;

/// A series found by `select`.
#[derive(Debug, Clone)]
pub struct SeriesRef {
    pub shard: u32,
    pub sid: SeriesId,
    pub labels: Labels,
}

/// What a checkpoint (or an admin flush of every shard) wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushOutcome {
    pub chunks: u64,
    pub samples: u64,
}

/// Counters for `/metrics`; monotonic unless named otherwise.
#[derive(Debug, Default)]
pub struct EngineStats {
    pub samples_written: AtomicU64,
    pub samples_duplicate: AtomicU64,
    pub samples_rejected_too_old: AtomicU64,
    pub samples_rejected_conflict: AtomicU64,
    /// Samples written into the out-of-order buffer (older than their series' newest).
    pub samples_out_of_order: AtomicU64,
    pub series_created: AtomicU64,
    /// Entries applied (every kind) and the bytes of their write batches.
    pub applied_entries: AtomicU64,
    pub applied_bytes: AtomicU64,
    pub checkpoints: AtomicU64,
    pub chunks_written: AtomicU64,
    pub chunk_bytes_written: AtomicU64,
    /// Samples in the chunks checkpoints (and spills of sealed chunks) wrote.
    pub chunk_samples_written: AtomicU64,
    pub snapshots_dumped: AtomicU64,
    pub snapshots_installed: AtomicU64,
    /// Shards whose data was deleted because their replica moved off this node.
    pub shards_cleared: AtomicU64,
    /// RocksDB writes of snapshot installs: the installing marker's, one per batch of at most
    /// `INSTALL_BATCH_BYTES` of records, the last one (so an install of a big dump takes
    /// several, and its memory is bounded by one batch).
    pub snapshot_install_batches: AtomicU64,
    /// Shards found at open with a snapshot install cut off midway (and emptied).
    pub snapshots_torn: AtomicU64,
    /// What `maintain` did (`MaintenanceOutcome`, summed over shards and commands).
    pub maintenance_windows_rolled: AtomicU64,
    pub maintenance_blocks_written: AtomicU64,
    pub maintenance_blocks_deleted: AtomicU64,
    pub maintenance_days_deleted: AtomicU64,
    /// Estimated (RocksDB's approximate sizes of the deleted ranges).
    pub maintenance_bytes_deleted: AtomicU64,
    pub maintenance_series_dropped: AtomicU64,
}

/// One shard's state in memory, behind its lock: `apply` and checkpoints take it for writing,
/// reads of the head for reading.
struct ShardState {
    head: Head,
    /// The applied index the last checkpoint wrote (a restart comes back to it).
    flushed_index: u64,
    /// The next checkpoint's sequence number (out-of-order chunks are keyed with it).
    checkpoint_seq: u32,
    /// Write-batch bytes applied since the last checkpoint (`checkpoint_wal_bytes`).
    bytes_since_checkpoint: u64,
    last_checkpoint: Instant,
    /// The 5m and 1h tiers' watermarks and dirty windows (`RollupMarks`), written at every
    /// checkpoint.
    rollups: [RollupMarks; 2],
    /// The applied retention cut-offs of raw, 5m and 1h, written at every checkpoint.
    cutoffs: [TierCutoffs; 3],
}

impl ShardState {
    fn marks(&self, tier: Tier) -> &RollupMarks {
        &self.rollups[usize::from(tier == Tier::Rollup1h)]
    }

    fn marks_mut(&mut self, tier: Tier) -> &mut RollupMarks {
        &mut self.rollups[usize::from(tier == Tier::Rollup1h)]
    }
}

/// What every handle to the engine shares.
struct Inner {
    /// Shared with the log store (`log_store::LogStore`).
    db: Arc<DB>,
    cfg: StorageConfig,
    limits: HeadLimits,
    shards: Vec<RwLock<ShardState>>,
    stats: EngineStats,
    closed: AtomicBool,
    /// Where the checkpoint interval's time comes from (a `ManualClock` in tests).
    clock: Arc<dyn Clock>,
    /// Compactions of ranges retention deleted, running off the apply path.
    compactions: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Shards found at open with a torn snapshot install, until the Raft layer has reset
    /// their logs (`Engine::clear_torn_install`).
    torn: Mutex<BTreeSet<u32>>,
}

/// One node's storage engine; see the module docs.
pub struct Engine {
    inner: Arc<Inner>,
}

fn cf<'a>(db: &'a DB, name: &str) -> &'a rocksdb::ColumnFamily {
    db.cf_handle(name)
        .expect("every column family is created at open")
}

fn bounded(prefix: &[u8]) -> ReadOptions {
    let mut ro = ReadOptions::default();
    if let Some(end) = prefix_successor(prefix) {
        ro.set_iterate_upper_bound(end);
    }
    ro
}

impl Engine {
    /// False once `shutdown` has begun.
    pub fn is_open(&self) -> bool {
        !self.inner.closed.load(Ordering::Acquire)
    }

    pub fn config(&self) -> &StorageConfig {
        &self.inner.cfg
    }

    pub fn shard_count(&self) -> u32 {
        self.inner.cfg.shards
    }

    /// The per-group logs and records in the same RocksDB (the `raft_log` and `raft_state`
    /// column families), for the consensus layer's Raft logs.
    pub fn log_store(&self) -> Result<crate::log_store::LogStore> {
        crate::log_store::LogStore::new(self.inner.db.clone())
    }

    pub fn stats(&self) -> &EngineStats {
        &self.inner.stats
    }

    fn shard(&self, shard: u32) -> Result<&RwLock<ShardState>> {
        self.inner
            .shards
            .get(shard as usize)
            .ok_or_else(|| Error::Config {
                field: "shard",
                reason: format!("shard {shard} does not exist"),
            })
    }

    /// Refuses further applies and syncs RocksDB's WAL. The Raft layer checkpoints the shards
    /// (with its markers) before calling this; whatever it did not is re-applied from the log.
    pub fn shutdown(&self) {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        // A retention compaction holds the database open: let it finish, so that the data
        // dir can be opened again once the engine is dropped.
        self.wait_for_compactions();
        if let Err(e) = self.inner.db.flush_wal(true) {
            tracing::error!(error = %e, "syncing RocksDB's WAL at shutdown failed");
        }
    }

    /// Number of series with an open head chunk.
    pub fn active_series(&self) -> u64 {
        self.inner
            .shards
            .iter()
            .map(|s| {
                s.read()
                    .unwrap_or_else(|p| p.into_inner())
                    .head
                    .active_series() as u64
            })
            .sum()
    }

    /// Number of series known to the engine.
    pub fn series_count(&self) -> u64 {
        self.inner
            .shards
            .iter()
            .map(|s| {
                s.read()
                    .unwrap_or_else(|p| p.into_inner())
                    .head
                    .series_count() as u64
            })
            .sum()
    }

    /// Approximate heap memory of every head.
    pub fn head_bytes(&self) -> u64 {
        self.inner
            .shards
            .iter()
            .map(|s| {
                s.read()
                    .unwrap_or_else(|p| p.into_inner())
                    .head
                    .heap_bytes() as u64
            })
            .sum()
    }

    /// Total size of SST files (live data on disk) over every column family.
    pub fn sst_bytes(&self) -> u64 {
        let db = &self.inner.db;
        ALL_CFS
            .iter()
            .filter_map(|n| {
                db.property_int_value_cf(cf(db, n), "rocksdb.total-sst-files-size")
                    .ok()
                    .flatten()
            })
            .sum()
    }

    /// Bytes of compressed chunks in SST files, estimated by RocksDB for the `chunks` family.
    pub fn chunk_sst_bytes(&self) -> u64 {
        self.inner
            .db
            .property_int_value_cf(
                cf(&self.inner.db, CF_CHUNKS),
                "rocksdb.total-sst-files-size",
            )
            .ok()
            .flatten()
            .unwrap_or(0)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
#[path = "engine/engine_test.rs"]
mod tests;
