//! Cairn's data model, shared by every layer: tenants, label sets, samples, matchers, human
//! units, series hashing, the write batch (the unit of ingest and of one Raft log entry) and
//! the clock. It owns the vocabulary, not the machinery: it must not depend on RocksDB, an
//! async runtime or the network, so `cairn-query` and `cairn-alerting` build on it without
//! compiling a line of C++.
//!
//! ```text
//!  ingest (line protocol, remote_write) ──► WriteBatchBuilder ──► WriteBatch bytes
//!                                                                   │ (Raft log entry)
//!  storage apply ◄── DecodedBatch ◄─────────────────────────────────┘
//!  query / alerting ──► Matcher, Labels, Sample (through their own Querier traits)
//! ```

pub mod clock;
pub mod decimal;
pub mod error;
pub mod labels;
pub mod matcher;
pub mod retention_policy;
pub mod rollup_bucket;
pub mod sample;
pub mod series_hash;
pub mod tenant;
pub mod tier;
pub mod units;
pub mod varint;
pub mod write_batch;

pub use clock::{Clock, ManualClock, OffsetClock, SystemClock};
pub use error::{Error, Result};
pub use labels::{Label, Labels, METRIC_NAME};
pub use matcher::{MatchOp, Matcher};
pub use retention_policy::{RetentionOverride, RetentionPolicy};
pub use rollup_bucket::{
    Bucket, bucket_end, buckets_of_samples, merge_buckets, tier_buckets_of_samples,
};
pub use sample::{STALE_NAN_BITS, Sample, is_stale_marker, merge_preferring_first};
pub use tenant::Tenant;
pub use tier::Tier;
pub use write_batch::{DecodedBatch, WriteBatch, WriteBatchBuilder};
