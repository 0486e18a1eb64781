//! The `cairn` node: configuration, the HTTP API, the write path from protocols to storage,
//! and the command-line tools. Engine logic lives in the library crates; this crate wires
//! them to sockets, signals and files.
//!
//! ```text
//!  HTTP (axum) ─► api::write ─► ingest::{influx, remote} ─► WriteBatch per shard ─► Engine
//!              ├► api::read ──► cairn_query::parse_selector ─► Engine::select / read_samples
//!              └► api::query ─► query::QueryService ─► cairn_query::QueryEngine ─► EngineQuerier
//! ```

pub mod api;
pub mod bench;
pub mod cli;
pub mod config;
pub mod ingest;
pub mod metrics;
pub mod query;
pub mod server;
pub mod timeparse;
