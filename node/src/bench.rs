//! Load tools the `cairn` binary runs against a server: `cairn bench ingest`, a TSBS
//! cpu-only generator and HTTP loader that reports samples/s and, from the server's
//! `/metrics`, its CPU-seconds per million samples and RSS. They work against any server that
//! takes InfluxDB line protocol on `/write` (VictoriaMetrics too: `benches/compare.sh`).
//! They hold no engine logic and never touch a data directory.
//!
//! ```text
//!  tsbs::CpuGenerator ─► line protocol ─┬─► --out FILE
//!  --input FILE ────────────────────────┴─► ingest: C POSTs in flight ─► server /write
//! ```

pub mod ingest;
pub mod tsbs;

pub use ingest::{IngestArgs, ingest};
