//! Rule evaluation on the node: the thin driver around `cairn-alerting`'s pure parts. The
//! meta leader evaluates every tenant's rule groups, writes their output through the
//! replicated write path, and commits alert state and group status to the meta group, so a
//! new leader resumes where the old one stopped.
//!
//! ```text
//!  meta KV rules/… ──kv_watch──► RuleManager (meta leader only): one task per (tenant, group)
//!     task: sleep to the group's next evaluation ─► spawn_blocking: GroupEvaluator::eval
//!              over ClusterRuleStore (read barrier; writes via write_path, then barrier)
//!           ─► report.changes ─► propose_kv: alerts/… Put/Delete (one command)
//!     status: rulestatus/… at once on a health/error change, else every status_interval
//! ```

pub mod cluster_rule_store;
pub mod rule_kv;
pub mod rule_manager;
pub mod status_board;

pub use cluster_rule_store::ClusterRuleStore;
pub use rule_manager::{RuleManager, RuleManagerSettings};
pub use status_board::StatusBoard;
