//! Load tools the `cairn` binary runs against a server: `cairn bench ingest`, a TSBS
//! cpu-only generator and HTTP loader that reports samples/s and, from the server's
//! `/metrics`, its CPU-seconds per million samples and RSS. They work against any server that
//! takes InfluxDB line protocol on `/write` (VictoriaMetrics too: `benches/compare.sh`), or
//! Prometheus remote_write (`--protocol remote-write`: Prometheus itself). They hold no engine
//! logic and never touch a data directory. `cairn bench notify` measures notifications
//! (Cairn's or Alertmanager's) at a webhook sink it runs itself.
//!
//! ```text
//!  cairn_tsbs::CpuGenerator ─► line protocol ─┬─► --out FILE
//!  --input FILE ────────────────────────┴─► ingest: C POSTs in flight ─► server /write
//!                                           └─ remote_write: lines ─► WriteRequest ─► /api/v1/write
//! ```

pub mod ingest;
pub mod notify;
pub mod remote_write;

pub use ingest::{IngestArgs, Protocol, ingest};
pub use notify::{NotifyArgs, notify};
