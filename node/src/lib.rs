//! The `cairn` node: configuration, the HTTP API, the write path from protocols to storage,
//! and the command-line tools. Engine logic lives in the library crates; this crate wires
//! them to sockets, signals and files.
//!
//! ```text
//!  HTTP (axum) ─► api::write ─► cairn_ingest::{influx, remote} ─► WriteBatch per shard
//!              │                ─► cluster::Cluster::write ─► shard leader's Raft ─► Engine
//!              ├► api::read ──► read barrier ─► Engine::select / read_samples (local replica)
//!              └► api::query ─► read barrier ─► query::QueryService ─► cairn_query ─► Engine
//!  gRPC ──────► cluster::service: Raft transport, Join, forwarded Write, ReadIndex
//! ```

pub mod api;
pub mod bench;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod error;
pub mod jobs;
pub mod metrics;
pub mod query;
pub mod server;
pub mod timeparse;

pub use error::{Error, Result};
