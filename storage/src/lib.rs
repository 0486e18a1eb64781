//! Cairn's storage layer: the data model, chunk codecs and the shard engine on RocksDB.
//!
//! It owns everything between "a batch of samples for a tenant" and bytes on disk, and knows
//! nothing of Raft, gRPC, HTTP or async runtimes (those live in `cairn-consensus` and
//! `cairn-node`).
//!
//! ```text
//!  committed Raft entry (WriteBatch) ──► Engine::apply (series ids in apply order)
//!                                     │   the log itself: raft_log CF via log_store::LogStore
//!                                     ▼
//!                       Head: one open Gorilla chunk per series ──seal──► chunk codec
//!                                     │  (120 samples or 2 h boundary)     (gorilla | decimal)
//!                                     ▼
//!   checkpoint batch (= the shard group's snapshot): chunks + head index + shard_meta
//!   (flushed index, Raft marker); dump_shard / install_shard carry a shard to a replica
//!                                     │
//!  Engine::select ◄── postings ∩ ──── ┴ ── chunks on disk ⊕ pending sealed ⊕ head ⊕ out-of-order
//! ```
//!
//! On-disk formats are written up in `storage/docs/format/`.

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
pub mod series_record;

pub use config::StorageConfig;
pub use engine::{Engine, EngineStats, FlushOutcome, SeriesRef};
pub use error::{Error, Result};
pub use head::ApplyOutcome;
