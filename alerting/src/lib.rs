//! Cairn's alerting: rule files (Prometheus' format plus simple rule kinds), Go templates for
//! labels and annotations, the alert state machine, rule-group evaluation and promtool's rule
//! unit tests (docs/design.md, "Alerting").
//!
//! ```text
//!  rule file (YAML) ──rule_file::parse──► RuleGroup { Rule::Alerting | Rule::Recording }
//!                                              │   (simple kinds compiled to PromQL)
//!  scheduler (node) ──ts──► group_eval ────────┤── QueryEngine over RuleStore::querier()
//!                                              ├── recording samples, ALERTS ──► RuleStore::append
//!                                              └── alert_state::step ──► AlertChange (to Raft)
//!  unittest: input_series ──► MemRuleStore ──► group_eval at every evaluation_interval
//! ```
//!
//! What it must not do: own storage, consensus or I/O. It reaches data through
//! `cairn_query::Querier`, writes through [`RuleStore::append`], and returns alert-state
//! changes for the node to commit to the meta group; its state machines take the evaluation
//! time as an argument. It depends on `cairn-model` and `cairn-query` only (no RocksDB, no
//! tokio).

pub mod alert;
pub mod alert_state;
pub mod error;
pub mod group_eval;
pub mod mem_rule_store;
pub mod notify;
pub mod rule;
pub mod rule_file;
pub mod rule_store;
pub mod schedule;
pub mod simple_kind;
pub mod state_keys;
pub mod template;
pub mod unittest;
pub(crate) mod yaml;

pub use alert::{Alert, AlertState, fingerprint};
pub use error::{Error, Result};
pub use rule::{AlertingRule, RecordingRule, Rule, RuleGroup};
pub use rule_store::RuleStore;
