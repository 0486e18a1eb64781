//! Cairn's storage layer: chunk codecs, the in-memory head and the shard engine on RocksDB. The
//! data model (tenants, labels, samples, matchers, the write batch, the varint codec) is
//! `cairn-model`'s.
//!
//! It owns everything between "a committed write batch for a shard" and bytes on disk, and
//! knows nothing of Raft, gRPC, HTTP or async runtimes (those live in `cairn-consensus` and
//! `cairn-node`): the per-group logs it stores for the Raft layer are opaque bytes.
//!
//! ```text
//!  committed Raft entry (WriteBatch) ──► Engine::apply (series ids in apply order)
//!                                     │   the log itself: raft_log CF via log_store::LogStore
//!                                     ▼
//!   Head: per series one open HeadChunk ──seal (120 samples or a 2 h boundary)──► pending
//!         (a decimal stream, codec 3; Gorilla        sealed chunks (stream chunks as they
//!          from the first value that is not a         are, Gorilla re-encoded by
//!          short decimal) + out-of-order buffer       encode_chunk: decimal | gorilla)
//!                                     │
//!                                     ▼
//!   checkpoint (= the shard group's snapshot), one RocksDB write: chunks (windows and days
//!   merged by compaction into decimal | gorilla) + head index + shard_meta (flushed index,
//!   marker); dump_shard_to / install_shard_from stream a shard to a replica
//!                                     │
//!  Engine::select ◄── postings ∩ ──── ┴ ── chunks on disk ⊕ pending sealed ⊕ head ⊕ out-of-order
//!
//!  maintenance_plan (pure) ──► Maintenance (Raft log) ──► Engine::maintain: rollup blocks
//!  (rollup_block) in rollup_5m / rollup_1h, retention by day; Engine::read_buckets stitches
//!  stored blocks and buckets computed from the finer tier
//! ```
//!
//! On-disk formats are written up in `storage/docs/format/`: `keys.md` (column families and
//! keys), `chunks.md` (chunk codecs), `rollups.md` (rollup blocks), `wal.md` (the log,
//! checkpoints, recovery) and `snapshot.md` (the shard dump).

pub mod codec;
pub mod compaction;
pub mod config;
pub mod engine;
pub mod error;
pub mod head;
pub mod head_chunk;
pub mod index;
pub mod keys;
pub mod log_store;
pub mod maintenance;
pub mod maintenance_plan;
pub mod rollup_block;
pub mod rollup_marks;
pub mod series_record;

pub use config::StorageConfig;
pub use engine::digest::{RollupDigest, TierDigest};
pub use engine::{Engine, EngineStats, FlushOutcome, SeriesRef};
pub use error::{Error, Result};
pub use head::ApplyOutcome;
pub use maintenance::{Maintenance, MaintenanceOutcome, RollupState, TierCutoffs, TierProgress};
pub use maintenance_plan::{MaintenancePlanConfig, plan_maintenance, rollup_lag_ms};
