//! The rules job: each pass is [`RuleManager::sync`] — on the meta leader, one evaluation
//! task per rule group committed to the meta group (started, stopped and replaced as groups
//! change), none elsewhere; and the periodic flush of group status. It runs every 500 ms
//! (how soon a new meta leader starts evaluating) and at every change of the meta group's
//! key-value space (a rule group applied or deleted). The evaluations themselves run in the
//! manager's group tasks, on each group's own schedule.

use std::sync::Arc;
use std::time::Duration;

use super::{Job, RunOnce};
use crate::alerting::RuleManager;

pub struct RuleEvalJob {
    manager: Arc<RuleManager>,
}

impl RuleEvalJob {
    pub fn new(manager: Arc<RuleManager>) -> Self {
        RuleEvalJob { manager }
    }
}

impl Job for RuleEvalJob {
    fn name(&self) -> &'static str {
        "rules"
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(500)
    }

    /// Failures are usually a meta election under way: retry soon.
    fn max_backoff(&self) -> Duration {
        Duration::from_secs(4)
    }

    fn run_once(&self) -> RunOnce<'_> {
        Box::pin(self.manager.sync())
    }
}
