//! Cairn's alerting: rule files (Prometheus' format plus simple rule kinds), evaluation
//! scheduling, the alert state machine, notification routing, deduplication and the
//! notification pipeline's pure stages (docs/design.md, "Alerting").
//!
//! What it must not do: own storage, consensus or I/O. It will reach data through
//! `cairn_query::Querier`, write recording rules through an appender trait and keep alert
//! state through a state-store trait, all implemented by the node; its state machines take
//! events and a `cairn_model::Clock` and return decisions, and the node's job supervisor runs
//! them. It depends on `cairn-model` and `cairn-query` only, so it compiles no RocksDB.
//!
//! Not built yet (the alerting issues come next). The crate exists so the workspace has its
//! final layout and dependency direction; it holds no code that pretends to work.
