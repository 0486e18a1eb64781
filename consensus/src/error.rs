//! The consensus crate's error type. Each variant names the group (and shard or node) it is
//! about, keeps its cause as a source, and says whether trying again can help
//! ([`Error::is_retryable`]): a leader change or a missing quorum passes, a corrupt log does
//! not. The log store turns its own failures into openraft's `StorageError` (which stops the
//! group: a Raft log that cannot be read or written is not something to retry around).

use std::time::Duration;

use openraft::error::{
    ChangeMembershipError, CheckIsLeaderError, ClientWriteError, Fatal, InitializeError, RaftError,
};

use crate::member::NodeId;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A cause kept as a source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("corrupt raft log entry {index} of group {group}: {reason}")]
    CorruptEntry {
        group: u64,
        index: u64,
        reason: String,
    },

    #[error("corrupt raft state record {kind} of group {group}: {reason}")]
    CorruptState {
        group: u64,
        kind: &'static str,
        reason: String,
    },

    #[error("encoding {what}: {reason}")]
    Encode { what: &'static str, reason: String },

    #[error(transparent)]
    Storage(#[from] cairn_storage::Error),

    /// The node's snapshot directory (`<data_dir>/raft-snapshots`) could not be prepared.
    #[error("snapshot directory {}", .path.display())]
    SnapshotDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// This node does not lead the group; `leader` is the node that does, if one is known.
    #[error("{} is not the leader of raft group {group}{}", node_name(*.node), hint(*.leader))]
    NotLeader {
        group: u64,
        node: NodeId,
        leader: Option<NodeId>,
    },

    /// The leader could not reach a quorum of the group (to confirm its lease or commit).
    #[error("raft group {group} has no quorum")]
    NoQuorum { group: u64 },

    /// This node runs no replica of the shard (not placed here, or not started yet).
    #[error("this node holds no replica of shard {shard}")]
    NoReplica { shard: u32 },

    /// The shard does not exist in this node's data dir.
    #[error("shard {shard} does not exist on this node (its data dir has {shards} shards)")]
    NoSuchShard { shard: u32, shards: u32 },

    /// A wait ran out of time (no leader elected, an entry not applied in time).
    #[error("raft group {group}: {what} did not happen within {after:?}")]
    Timeout {
        group: u64,
        what: &'static str,
        after: Duration,
    },

    /// A membership change was refused for now (another change in progress, a learner not
    /// caught up): the next reconciliation tries again.
    #[error("changing the members of raft group {group}")]
    Membership {
        group: u64,
        #[source]
        source: BoxError,
    },

    /// The group has stopped (shut down, or its storage failed).
    #[error("raft group {group} has stopped")]
    Stopped {
        group: u64,
        #[source]
        source: Option<BoxError>,
    },

    /// Openraft failed in a way none of the above describes.
    #[error("raft group {group}: {what}")]
    Raft {
        group: u64,
        what: &'static str,
        #[source]
        source: BoxError,
    },
}

fn node_name(node: NodeId) -> String {
    format!("node {node}")
}

fn hint(leader: Option<NodeId>) -> String {
    match leader {
        Some(l) => format!(" (node {l} is)"),
        None => " (no leader is known)".to_string(),
    }
}

impl Error {
    /// Whether the same request may succeed later, as leadership or quorum come back. Writes
    /// are idempotent, so a retried one that had committed after all does no harm.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::NotLeader { .. }
                | Error::NoQuorum { .. }
                | Error::NoReplica { .. }
                | Error::Timeout { .. }
                | Error::Membership { .. }
        )
    }

    /// The node to ask instead, when this one is not the leader and knows who is.
    pub fn leader_hint(&self) -> Option<NodeId> {
        match self {
            Error::NotLeader { leader, .. } => *leader,
            _ => None,
        }
    }

    /// The group a `Fatal` openraft error stopped.
    pub(crate) fn fatal(group: u64, f: Fatal<NodeId>) -> Error {
        match f {
            Fatal::Stopped => Error::Stopped {
                group,
                source: None,
            },
            other => Error::Stopped {
                group,
                source: Some(Box::new(other)),
            },
        }
    }

    /// A client write's failure.
    pub(crate) fn client_write(
        group: u64,
        node: NodeId,
        e: RaftError<NodeId, ClientWriteError<NodeId, crate::member::Node>>,
    ) -> Error {
        match e {
            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => Error::NotLeader {
                group,
                node,
                leader: f.leader_id,
            },
            RaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => {
                Error::membership(group, c)
            }
            RaftError::Fatal(f) => Error::fatal(group, f),
        }
    }

    /// A read index request's failure.
    pub(crate) fn check_is_leader(
        group: u64,
        node: NodeId,
        e: RaftError<NodeId, CheckIsLeaderError<NodeId, crate::member::Node>>,
    ) -> Error {
        match e {
            RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => Error::NotLeader {
                group,
                node,
                leader: f.leader_id,
            },
            RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_)) => {
                Error::NoQuorum { group }
            }
            RaftError::Fatal(f) => Error::fatal(group, f),
        }
    }

    pub(crate) fn membership(group: u64, e: ChangeMembershipError<NodeId>) -> Error {
        Error::Membership {
            group,
            source: Box::new(e),
        }
    }

    pub(crate) fn initialize(
        group: u64,
        e: RaftError<NodeId, InitializeError<NodeId, crate::member::Node>>,
    ) -> Error {
        match e {
            RaftError::Fatal(f) => Error::fatal(group, f),
            other => Error::Raft {
                group,
                what: "initializing the group",
                source: Box::new(other),
            },
        }
    }

    /// A wait on a group's metrics that ended without the condition.
    pub(crate) fn wait(group: u64, what: &'static str, e: openraft::metrics::WaitError) -> Error {
        match e {
            openraft::metrics::WaitError::Timeout(after, _) => {
                Error::Timeout { group, what, after }
            }
            openraft::metrics::WaitError::ShuttingDown => Error::Stopped {
                group,
                source: None,
            },
        }
    }

    pub(crate) fn raft(group: u64, what: &'static str, e: impl Into<BoxError>) -> Error {
        Error::Raft {
            group,
            what,
            source: e.into(),
        }
    }
}

/// A state machine's failure as openraft's storage error (which stops the group).
pub(crate) fn state_machine_error(
    e: impl std::error::Error + 'static,
) -> openraft::StorageError<NodeId> {
    openraft::StorageIOError::write_state_machine(openraft::AnyError::new(&e)).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leadership_and_quorum_are_retryable_corruption_is_not() {
        let not_leader = Error::NotLeader {
            group: 3,
            node: 1,
            leader: Some(2),
        };
        assert!(not_leader.is_retryable());
        assert_eq!(not_leader.leader_hint(), Some(2));
        assert_eq!(
            not_leader.to_string(),
            "node 1 is not the leader of raft group 3 (node 2 is)"
        );
        assert!(Error::NoQuorum { group: 1 }.is_retryable());
        let corrupt = Error::CorruptEntry {
            group: 1,
            index: 9,
            reason: "x".into(),
        };
        assert!(!corrupt.is_retryable());
        assert_eq!(corrupt.leader_hint(), None);
        assert!(
            !Error::Stopped {
                group: 1,
                source: None
            }
            .is_retryable()
        );
    }
}
