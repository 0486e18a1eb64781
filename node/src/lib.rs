//! The `cairn` node: configuration, the HTTP API, write routing and the read barrier, the
//! distributed querier, the background jobs and their supervisor, and the command-line tools.
//! It wires the library crates to sockets, signals, timers and files, and must not hold
//! engine logic: parsing lives in `cairn-ingest`, storage in `cairn-storage`, Raft in
//! `cairn-consensus` (the node sees only its façade, never an openraft type), PromQL and the
//! result cache in `cairn-query`.
//!
//! ```text
//!  HTTP (axum) ─► api::write ─► cairn_ingest::{influx, remote} ─► WriteBatch per shard
//!              │                ─► cluster::Cluster::write ─► ShardGroup::propose (leader) or
//!              │                   Cluster.Write over gRPC to the leader ─► Engine (applied)
//!              ├► api::read ──► Cluster::read_barrier ─► TenantShards: local engine / remote
//!              └► api::query ─► read barrier ─► query::QueryService ─► cairn_query ─► Engine
//!  gRPC ──────► cluster::service: Raft transport, Join, forwarded Write, ReadIndex, reads
//!  jobs ──────► Supervisor: checkpoint, reconcile, rule sync (later: retention, rebalancing)
//!  alerting ──► RuleManager (meta leader): one task per rule group ─► write_path, meta KV
//! ```

pub mod alerting;
pub mod api;
pub mod bench;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod error;
pub mod jobs;
pub mod metrics;
pub mod notify;
pub mod query;
pub mod server;
pub mod timeparse;
pub mod write_path;

pub use error::{Error, Result};
