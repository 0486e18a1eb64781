//! Background jobs: every periodic piece of work a node does is a [`Job`] — a name and one
//! pass of work (`run_once`) — run by one [`Supervisor`], which owns intervals, jitter,
//! backoff after failures, early wake-ups, shutdown and the jobs' `/metrics`. A job's logic
//! lives in the library crates as pure planners (placement, membership, checkpoint
//! thresholds); the job itself is the thin driver that carries one pass out.
//!
//! ```text
//!  Supervisor ─┬─ checkpoint (1 s): RaftGroups::checkpoint_due — shards past their log or
//!              │                    age threshold become Raft snapshots, logs purged after
//!              ├─ reconcile (1 s, and on every cluster state change): ping members,
//!              │                    RaftGroups::reconcile — replicas, placement, membership
//!              ├─ rules (500 ms, and on every meta KV change): RuleManager::sync — one
//!              │                    evaluation task per rule group while leading the meta group
//!              ├─ notify (1 s, on every meta KV change, and when a group is due):
//!              │                    NotifyManager::sync — notifications while leading
//!              ├─ maintenance (10 s, at once again while work is left): on each shard led
//!              │                    here, plan_maintenance — rollups and retention as Raft
//!              │                    commands, at most [maintenance] cpu_share of a core
//!              └─ rebalance (1 s, and on every cluster state change): on the meta leader,
//!                                   plan_moves — replica moves for joins, drains and dead
//!                                   nodes, recorded in the meta group
//! ```

pub mod checkpoint;
pub mod maintenance;
pub mod notify;
pub mod rebalance;
pub mod reconcile;
pub mod rule_eval;
pub mod supervisor;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use checkpoint::CheckpointJob;
pub use maintenance::MaintenanceJob;
pub use notify::NotifyJob;
pub use rebalance::RebalanceJob;
pub use reconcile::ReconcileJob;
pub use rule_eval::RuleEvalJob;
pub use supervisor::{JobStats, Supervisor, Trigger};

/// One pass of a job's work.
pub type RunOnce<'a> = Pin<Box<dyn Future<Output = crate::Result<()>> + Send + 'a>>;

/// A periodic task under the [`Supervisor`].
pub trait Job: Send + Sync + 'static {
    /// Names the job in logs and `/metrics` (`cairn_job_*{job="..."}`).
    fn name(&self) -> &'static str;

    /// How long after a successful pass the next one starts (jittered by the supervisor).
    fn interval(&self) -> Duration;

    /// The longest wait after failed passes (the wait doubles from `interval` up to this).
    fn max_backoff(&self) -> Duration {
        self.interval() * 8
    }

    /// Does one pass. An error is logged and counted, and the next pass comes later
    /// (backoff); a job never ends by itself.
    fn run_once(&self) -> RunOnce<'_>;
}
