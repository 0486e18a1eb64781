//! `GroupStatus`: what a Raft group looks like from this node, as plain data (for status
//! pages, `/metrics` and the membership planner), read from openraft's metrics.

use std::collections::{BTreeMap, BTreeSet};

use openraft::RaftMetrics;

use crate::member::{Node, NodeId};
use crate::membership::Members;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupStatus {
    pub group: u64,
    /// The leader as this node knows it.
    pub leader: Option<NodeId>,
    pub term: u64,
    /// This replica's role: `Leader`, `Follower`, `Candidate`, `Learner` or `Shutdown`.
    pub role: String,
    pub voters: BTreeSet<NodeId>,
    pub learners: BTreeSet<NodeId>,
    /// A joint configuration (a membership change) is in effect.
    pub joint: bool,
    /// The log index of the membership in effect (`None`: the initial one, never logged).
    pub membership_index: Option<u64>,
    pub last_applied: u64,
    pub last_log_index: u64,
    /// The first index still in the log (one past the last purged).
    pub first_log_index: u64,
    /// The index the last snapshot (a shard's checkpoint) covers.
    pub snapshot_index: Option<u64>,
    /// On the leader: how far each follower's log matches its own.
    pub matched: BTreeMap<NodeId, u64>,
}

impl GroupStatus {
    pub(crate) fn from_metrics(group: u64, m: &RaftMetrics<NodeId, Node>) -> GroupStatus {
        let membership = m.membership_config.membership();
        GroupStatus {
            group,
            leader: m.current_leader,
            term: m.current_term,
            role: format!("{:?}", m.state),
            voters: membership.voter_ids().collect(),
            learners: membership.learner_ids().collect(),
            joint: membership.get_joint_config().len() > 1,
            membership_index: m.membership_config.log_id().map(|l| l.index),
            last_applied: m.last_applied.map(|l| l.index).unwrap_or(0),
            last_log_index: m.last_log_index.unwrap_or(0),
            first_log_index: m.purged.map(|l| l.index + 1).unwrap_or(1),
            snapshot_index: m.snapshot.map(|l| l.index),
            matched: m
                .replication
                .as_ref()
                .map(|r| {
                    r.iter()
                        .filter_map(|(n, l)| l.map(|l| (*n, l.index)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Entries in the log (not yet purged).
    pub fn log_entries(&self) -> u64 {
        (self.last_log_index + 1).saturating_sub(self.first_log_index)
    }

    /// Entries this replica has but has not applied.
    pub fn apply_lag(&self) -> u64 {
        self.last_log_index.saturating_sub(self.last_applied)
    }

    /// Whether this replica has applied the membership in effect: on the leader, that it is
    /// committed (a follower may apply it later than the leader).
    pub fn membership_applied(&self) -> bool {
        self.membership_index.is_none_or(|i| self.last_applied >= i)
    }

    /// The members as the membership planner needs them.
    pub fn members(&self) -> Members {
        Members {
            voters: self.voters.clone(),
            learners: self.learners.clone(),
            joint: self.joint,
            last_log_index: self.last_log_index,
            matched: self.matched.clone(),
        }
    }
}
