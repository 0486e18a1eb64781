//! The checkpoint job: every second, each local shard whose engine says it needs a
//! checkpoint (enough log applied since the last one, or its interval passed) gets one: a
//! Raft snapshot, after which openraft purges the log behind it. The thresholds are the
//! storage engine's (`Engine::needs_checkpoint`); this only asks.

use std::sync::Arc;
use std::time::Duration;

use cairn_consensus::RaftGroups;

use super::{Job, RunOnce};

pub struct CheckpointJob {
    groups: Arc<RaftGroups>,
}

impl CheckpointJob {
    pub fn new(groups: Arc<RaftGroups>) -> Self {
        CheckpointJob { groups }
    }
}

impl Job for CheckpointJob {
    fn name(&self) -> &'static str {
        "checkpoint"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn run_once(&self) -> RunOnce<'_> {
        Box::pin(async move {
            self.groups.checkpoint_due().await?;
            Ok(())
        })
    }
}
