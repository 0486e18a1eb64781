//! Opening the engine: RocksDB's options and column families (tuned here, with the
//! measurements behind each setting), the data dir's fixed shard count, and each shard's
//! recovery to its last checkpoint. It writes nothing but the shard count of a new data dir
//! and the emptying of a shard whose snapshot install was cut off; replaying the log after
//! the checkpoint is the Raft layer's job (through `apply`).
//!
//! ```text
//!  open ──► open_db (options, column families) ──► shard count (stored, or stored now)
//!       ──► a shard with its installing marker set (a snapshot install cut off): emptied,
//!           reported by `torn_install` (snapshot.rs)
//!       ──► recover_shard × shards: series_hash → series ids, head_index → bounds and
//!           reopened partial chunks, shard_meta → flushed index = applied index, next
//!           series id, rollup watermarks and dirty windows, retention cut-offs
//! ```

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use cairn_model::{Clock, SystemClock};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DB, DBCompressionType, InfoLogger, LogLevel,
    Options,
};

use super::snapshot::empty_torn_shard;
use super::{Engine, EngineStats, Inner, ShardState, bounded, cf};
use crate::codec::decode_chunk;
use crate::config::StorageConfig;
use crate::error::{Error, Result};
use crate::head::{Head, HeadLimits};
use crate::keys::{
    ALL_CFS, CF_CHUNKS, CF_HEAD_INDEX, CF_POSTINGS, CF_RAFT_LOG, CF_SERIES_HASH, CF_SHARD_META,
    HeadIndexEntry, META_CHECKPOINT_SEQ, META_FLUSHED_INDEX, META_INSTALLING, META_NEXT_SID,
    chunk_key, decode_u64, meta_cutoffs_kind, meta_rollup_kind, parse_series_hash_key,
    shard_meta_key, shard_prefix,
};
use crate::maintenance::TierCutoffs;
use crate::rollup_marks::{RollupMarks, decode_cutoffs};
use cairn_model::Tier;

impl Engine {
    /// Opens (or creates) the data dir and recovers every shard to its last checkpoint.
    pub fn open(cfg: StorageConfig) -> Result<Engine> {
        Engine::open_with_clock(cfg, Arc::new(SystemClock))
    }

    /// [`Engine::open`] with the clock that times checkpoint intervals.
    pub fn open_with_clock(cfg: StorageConfig, clock: Arc<dyn Clock>) -> Result<Engine> {
        cfg.validate()?;
        let path = cfg.data_dir.join("db");
        std::fs::create_dir_all(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let db = open_db(&path, &cfg)?;
        let mut cfg = cfg;
        // The shard count is fixed when the data dir is made; a different flag later is ignored.
        let meta = cf(&db, CF_SHARD_META);
        let count_key = shard_meta_key(u16::MAX as u32, 0);
        match db.get_cf(meta, count_key)? {
            Some(v) => {
                let stored = decode_u64(&v, "shard count", 0)? as u32;
                if stored != cfg.shards {
                    tracing::warn!(
                        stored,
                        requested = cfg.shards,
                        "data dir was created with a different shard count; keeping it"
                    );
                    cfg.shards = stored;
                }
            }
            None => db.put_cf(meta, count_key, (cfg.shards as u64).to_be_bytes())?,
        }
        let limits = HeadLimits {
            chunk_max_samples: cfg.chunk_max_samples,
            chunk_span_ms: cfg.chunk_span_ms,
            ooo_window_ms: cfg.ooo_window_ms,
        };
        let mut shards = Vec::with_capacity(cfg.shards as usize);
        let mut torn = BTreeSet::new();
        for shard in 0..cfg.shards {
            if let Some(installing) = db.get_cf(meta, shard_meta_key(shard, META_INSTALLING))? {
                tracing::warn!(
                    shard,
                    "a snapshot install of this shard was cut off: emptying it, for its Raft \
                     group to reset its log and get the snapshot again"
                );
                empty_torn_shard(&db, shard, &installing)?;
                torn.insert(shard);
            }
            shards.push(RwLock::new(recover_shard(
                &db,
                shard,
                limits,
                clock.instant(),
            )?));
        }
        let stats = EngineStats::default();
        stats
            .snapshots_torn
            .store(torn.len() as u64, Ordering::Relaxed);
        let inner = Inner {
            db: Arc::new(db),
            cfg,
            limits,
            shards,
            stats,
            closed: AtomicBool::new(false),
            clock,
            compactions: Default::default(),
            torn: Mutex::new(torn),
        };
        Ok(Engine {
            inner: Arc::new(inner),
        })
    }
}

fn open_db(path: &Path, cfg: &StorageConfig) -> Result<DB> {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_max_background_jobs(2);
    // RocksDB's own info log goes to ours, warnings and errors only, instead of a LOG file in
    // the data dir: at every open it dumps each column family's options there (114 KB, 0.013
    // bytes per sample of the 8.64 M-sample benchmark, whose bytes on disk are a target).
    opts.set_log_level(LogLevel::Warn);
    opts.set_info_logger(InfoLogger::new_callback_logger(
        LogLevel::Warn,
        |level, msg| {
            let msg = msg.trim_end();
            match level {
                LogLevel::Error | LogLevel::Fatal => tracing::error!(target: "rocksdb", "{msg}"),
                LogLevel::Warn => tracing::warn!(target: "rocksdb", "{msg}"),
                _ => tracing::debug!(target: "rocksdb", "{msg}"),
            }
        },
    ));
    opts.set_bytes_per_sync(1 << 20);
    // RocksDB fallocates its MANIFEST 4 MiB at a time by default, and `du` counts those blocks
    // although the file holds a few KB: 0.49 bytes per sample of the 100-host × 1-day
    // benchmark, whose bytes on disk are a target. Each flush or compaction appends an edit of
    // a few hundred bytes (and fsyncs it), so 16 KiB still takes dozens of appends per
    // fallocate. After a small write and flush the data dir went from 4,192 to 112 KiB.
    opts.set_manifest_preallocation_size(16 << 10);
    opts.set_max_total_wal_size(512 << 20);
    // Memtables are most of the node's memory beyond the heads: cap them together, so that
    // memory per active series stays small (log entries are purged at checkpoints anyway).
    // 16 MiB rather than 64: 1,648 → 1,252 bytes per series above the idle base with 100,000
    // series (`compare.sh --memory`; 1,319 at 32 MiB), with no measurable change in ingest
    // CPU (the log is written once to its memtable either way, and flushed in smaller files).
    opts.set_db_write_buffer_size(16 << 20);
    let cache = Cache::new_lru_cache(cfg.block_cache_bytes as usize);
    let cf_opts = |name: &str| {
        let mut o = Options::default();
        let mut bb = BlockBasedOptions::default();
        bb.set_block_cache(&cache);
        bb.set_cache_index_and_filter_blocks(true);
        // Partitioned indexes: a whole-file index block of a big SST (megabytes with a million
        // series) is larger than a shard of the LRU cache (64 MiB over 64 shards), so it was
        // never kept and every new iterator read and unzstd'ed it again: 58% of a one-series
        // query's time at 1 M series (perf, issue 21). Partitions are 4 KiB blocks that stay
        // cached; the small top level is pinned.
        bb.set_index_type(rocksdb::BlockBasedIndexType::TwoLevelIndexSearch);
        bb.set_metadata_block_size(4096);
        bb.set_pin_top_level_index_and_filter(true);
        bb.set_cache_index_and_filter_blocks_with_high_priority(true);
        match name {
            CF_RAFT_LOG => {
                // Entries live until the next checkpoint and are then range-deleted: compressing
                // them on a memtable flush was ~7% of ingest CPU for data soon deleted.
                o.set_compression_type(DBCompressionType::None);
                o.set_write_buffer_size(8 << 20);
                // Compacting entries that the next checkpoint deletes is wasted work, and
                // every L0 file holds all groups' keys, so each L0 → L1 compaction rewrote all
                // of L1 (8% of a follower's CPU under load). Let L0 collect 16 files first:
                // by then most of what they hold has been range-deleted and is dropped.
                o.set_level_zero_file_num_compaction_trigger(16);
                o.set_level_zero_slowdown_writes_trigger(48);
                o.set_level_zero_stop_writes_trigger(64);
                o.set_max_bytes_for_level_base(1 << 30);
            }
            CF_CHUNKS => {
                // Reads seek to a series' chunks of a day and scan them in order. Merged chunks
                // are ~1-2 KiB at 10 s, so a 64 KiB block holds a few dozen: restart
                // points every 16 keys keep a seek's linear scan short (every 128 made
                // `DecodeEntry` a tenth of a short query) at no measurable cost on disk.
                bb.set_block_size(64 << 10);
                bb.set_block_restart_interval(16);
                o.set_compression_type(DBCompressionType::Zstd);
                o.set_bottommost_compression_type(DBCompressionType::Zstd);
                o.set_write_buffer_size(8 << 20);
            }
            _ => {
                // Postings are only ever scanned by prefix, where a whole-key bloom filter
                // cannot help (it was 15 KB of the benchmark's 109 KB of postings); the others
                // are read by key. These column families are written when a series is created
                // and at checkpoints, so zstd at every level costs little CPU, and their keys
                // and label text compress far better than with LZ4.
                if name != CF_POSTINGS {
                    bb.set_bloom_filter(10.0, false);
                }
                o.set_compression_type(DBCompressionType::Zstd);
                o.set_bottommost_compression_type(DBCompressionType::Zstd);
                o.set_write_buffer_size(16 << 20);
            }
        }
        o.set_block_based_table_factory(&bb);
        o
    };
    let cfs = ALL_CFS
        .iter()
        .map(|n| ColumnFamilyDescriptor::new(*n, cf_opts(n)));
    DB::open_cf_descriptors(&opts, path, cfs).map_err(|source| Error::Rocks {
        path: path.to_path_buf(),
        source,
    })
}

fn get_u64(db: &DB, shard: u32, kind: u8, what: &'static str) -> Result<u64> {
    match db.get_cf(cf(db, CF_SHARD_META), shard_meta_key(shard, kind))? {
        Some(v) => decode_u64(&v, what, shard),
        None => Ok(0),
    }
}

/// Rebuilds one shard's head from its last checkpoint: series ids and head index (reopening
/// partial chunks).
pub(super) fn recover_shard(
    db: &DB,
    shard: u32,
    limits: HeadLimits,
    now: Instant,
) -> Result<ShardState> {
    let mut head = Head::new(limits);
    let prefix = shard_prefix(shard);
    {
        let mut it = db.raw_iterator_cf_opt(cf(db, CF_SERIES_HASH), bounded(&prefix));
        it.seek(prefix);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let hash = parse_series_hash_key(k)?;
            head.restore_series(hash, decode_u64(v, "series_hash", shard)?);
            it.next();
        }
        it.status()?;
    }
    {
        let mut it = db.raw_iterator_cf_opt(cf(db, CF_HEAD_INDEX), bounded(&prefix));
        it.seek(prefix);
        let mut tmp = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if k.len() != 10 {
                return Err(Error::CorruptRecord {
                    what: "head index key",
                    shard,
                    reason: format!("length {}", k.len()),
                });
            }
            let sid = u64::from_be_bytes(k[2..10].try_into().unwrap_or([0; 8]));
            let e = HeadIndexEntry::decode(v, shard)?;
            let open = match e.open_chunk {
                Some(start) => {
                    let key = chunk_key(shard, sid, start, 0);
                    match db.get_cf(cf(db, CF_CHUNKS), key)? {
                        Some(chunk) => {
                            tmp.clear();
                            decode_chunk(&chunk, start, &mut tmp)?;
                            Some(tmp.clone())
                        }
                        None => None,
                    }
                }
                None => None,
            };
            head.restore_head(sid, &e, open);
            it.next();
        }
        it.status()?;
    }
    let flushed = get_u64(db, shard, META_FLUSHED_INDEX, "flushed index")?;
    let seq = get_u64(db, shard, META_CHECKPOINT_SEQ, "checkpoint seq")? as u32;
    // Retention drops series, so the ids in `series_hash` are no longer dense: the next id is
    // the one the last checkpoint recorded (never below the highest id + 1), so that an id
    // is never handed out twice.
    head.reserve_sids(get_u64(db, shard, META_NEXT_SID, "next series id")?);
    head.set_applied_index(flushed);
    let meta = cf(db, CF_SHARD_META);
    let mut rollups: [RollupMarks; 2] = Default::default();
    for (i, tier) in Tier::ROLLUPS.into_iter().enumerate() {
        if let Some(kind) = meta_rollup_kind(tier)
            && let Some(v) = db.get_cf(meta, shard_meta_key(shard, kind))?
        {
            rollups[i] = RollupMarks::decode(&v, shard)?;
        }
    }
    let mut cutoffs: [TierCutoffs; 3] = Default::default();
    for (i, tier) in Tier::ALL.into_iter().enumerate() {
        if let Some(v) = db.get_cf(meta, shard_meta_key(shard, meta_cutoffs_kind(tier)))? {
            cutoffs[i] = decode_cutoffs(&v, shard)?;
        }
    }
    Ok(ShardState {
        head,
        flushed_index: flushed,
        checkpoint_seq: seq.max(1),
        bytes_since_checkpoint: 0,
        last_checkpoint: now,
        rollups,
        cutoffs,
    })
}

#[cfg(test)]
#[path = "open_test.rs"]
mod tests;
