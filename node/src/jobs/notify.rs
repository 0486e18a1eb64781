//! The notify job: each pass is [`NotifyManager::sync`] — on the meta leader, every tenant's
//! dispatch planner steps, due groups flush and their sends start; nothing elsewhere. It runs
//! every second, at every change of the meta group's key-value space (an alert, silence or
//! configuration changed), and when the manager's earliest group falls due.

use std::sync::Arc;
use std::time::Duration;

use super::{Job, RunOnce};
use crate::notify::NotifyManager;

pub struct NotifyJob {
    manager: Arc<NotifyManager>,
}

impl NotifyJob {
    pub fn new(manager: Arc<NotifyManager>) -> Self {
        NotifyJob { manager }
    }
}

impl Job for NotifyJob {
    fn name(&self) -> &'static str {
        "notify"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(1)
    }

    /// Failures are usually a meta election under way: retry soon.
    fn max_backoff(&self) -> Duration {
        Duration::from_secs(4)
    }

    fn run_once(&self) -> RunOnce<'_> {
        Box::pin(self.manager.sync())
    }
}
