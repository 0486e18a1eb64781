//! The node's error type: what failed on the way between a request and the Raft groups or
//! peers that serve it. Variants keep their cause as a source and carry typed context (the
//! shard, the node asked, the leader it pointed to), and [`Error::is_retryable`] tells the
//! write and read paths whether asking again (elsewhere) can help. The HTTP layer turns an
//! error into a status: retryable ones are 503 naming the shard.

use std::time::Duration;

use cairn_consensus::NodeId;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Consensus(#[from] cairn_consensus::Error),

    #[error(transparent)]
    Storage(#[from] cairn_storage::Error),

    /// A label set or matcher the data model refuses.
    #[error(transparent)]
    Model(#[from] cairn_model::Error),

    /// A peer's reply does not make sense (a bug or version skew between nodes).
    #[error("shard {shard}: a malformed reply from another node: {reason}")]
    BadReply { shard: u32, reason: &'static str },

    /// A peer answered a call with an error status.
    #[error("node {node}: {}", .status.message())]
    Peer {
        node: NodeId,
        #[source]
        status: tonic::Status,
    },

    /// A peer did not answer in time.
    #[error("node {node} did not answer within {after:?}")]
    PeerTimeout { node: NodeId, after: Duration },

    /// The cluster state has no address for a node (yet).
    #[error("node {node} has no known address")]
    NoAddress { node: NodeId },

    /// A member's address does not parse (only a membership change can fix it).
    #[error(transparent)]
    BadAddress(#[from] cairn_consensus::network::BadPeerAddress),

    /// No leader of the shard is known to this node (an election is under way).
    #[error("no leader of shard {shard} is known")]
    NoLeader { shard: u32 },

    /// The shard's leader (as this node knows it) has not been heard from lately: a write is
    /// not sent to it, or no longer waited on (a partition that loses packets would hold it
    /// until the write timeout, while the others elect a new leader).
    #[error("the leader of shard {shard}, node {leader}, has not been heard from for {silent:?}")]
    LeaderUnreachable {
        shard: u32,
        leader: NodeId,
        silent: std::time::Duration,
    },

    /// A leader asked to hand over has not led long enough for its vote to go to another
    /// (openraft's leader lease); asked again later, it will.
    #[error("shard {shard}: its leader has led for only {led:?}, too short to hand over")]
    TooNewLeader {
        shard: u32,
        led: std::time::Duration,
    },

    /// The node a request was forwarded to does not lead the shard.
    #[error("node {node} is not the leader of shard {shard}")]
    NotLeader {
        shard: u32,
        node: NodeId,
        hint: Option<NodeId>,
    },

    /// Every node holding a replica of the shard was asked and none answered.
    #[error("no node holding shard {shard} could serve it ({last})")]
    NoHolder {
        shard: u32,
        #[source]
        last: Box<Error>,
    },

    /// Something could not be encoded for another node (a bug).
    #[error("encoding {what}: {reason}")]
    Encode { what: &'static str, reason: String },

    /// No leader of the meta group is known to this node (an election is under way).
    #[error("no leader of the meta group is known")]
    NoMetaLeader,

    /// A change to the meta group's key-value space was retried until its deadline; `last`
    /// is why the last attempt failed.
    #[error("meta group: {what} did not succeed within {after:?} ({last})")]
    MetaTimeout {
        what: &'static str,
        after: Duration,
        #[source]
        last: Box<Error>,
    },

    /// A shard's part of a request was retried until its deadline; `last` is why the last
    /// attempt failed.
    #[error("shard {shard}: {what} did not succeed within {after:?} ({last})")]
    ShardTimeout {
        shard: u32,
        what: &'static str,
        after: Duration,
        #[source]
        last: Box<Error>,
    },
}

impl Error {
    /// Whether asking again (after a leader change, at the hinted leader, on another replica)
    /// can succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Consensus(e) => e.is_retryable(),
            Error::Storage(cairn_storage::Error::ShutDown) => true,
            Error::Storage(_)
            | Error::Model(_)
            | Error::BadAddress(_)
            | Error::BadReply { .. }
            | Error::Encode { .. } => false,
            Error::Peer { status, .. } => !matches!(
                status.code(),
                tonic::Code::InvalidArgument | tonic::Code::Internal | tonic::Code::DataLoss
            ),
            Error::PeerTimeout { .. }
            | Error::NoAddress { .. }
            | Error::NoLeader { .. }
            | Error::LeaderUnreachable { .. }
            | Error::TooNewLeader { .. }
            | Error::NotLeader { .. }
            | Error::NoHolder { .. }
            | Error::ShardTimeout { .. }
            | Error::NoMetaLeader
            | Error::MetaTimeout { .. } => true,
        }
    }

    /// Who to ask instead, when the node asked knew the leader.
    pub fn leader_hint(&self) -> Option<NodeId> {
        match self {
            Error::Consensus(e) => e.leader_hint(),
            Error::NotLeader { hint, .. } => *hint,
            _ => None,
        }
    }

    /// The message, starting with the shard it is about when it is about one (an HTTP 503
    /// names the shards that failed).
    pub fn naming_the_shard(&self) -> String {
        match (self, self.shard()) {
            // Their messages start with the shard already.
            (Error::ShardTimeout { .. } | Error::BadReply { .. }, _) | (_, None) => {
                self.to_string()
            }
            (_, Some(shard)) => format!("shard {shard}: {self}"),
        }
    }

    /// The shard this error is about, when it is about one.
    pub fn shard(&self) -> Option<u32> {
        match self {
            Error::NoLeader { shard }
            | Error::LeaderUnreachable { shard, .. }
            | Error::TooNewLeader { shard, .. }
            | Error::NotLeader { shard, .. }
            | Error::NoHolder { shard, .. }
            | Error::ShardTimeout { shard, .. }
            | Error::BadReply { shard, .. } => Some(*shard),
            Error::Consensus(cairn_consensus::Error::NoReplica { shard }) => Some(*shard),
            Error::Consensus(
                cairn_consensus::Error::NotLeader { group, .. }
                | cairn_consensus::Error::NoQuorum { group }
                | cairn_consensus::Error::Timeout { group, .. }
                | cairn_consensus::Error::Membership { group, .. }
                | cairn_consensus::Error::Stopped { group, .. },
            ) => cairn_consensus::shard_of_group(*group),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_loop_reads_types_not_strings() {
        let not_leader = Error::NotLeader {
            shard: 3,
            node: 2,
            hint: Some(1),
        };
        assert!(not_leader.is_retryable());
        assert_eq!(not_leader.leader_hint(), Some(1));
        let local = Error::Consensus(cairn_consensus::Error::NotLeader {
            group: cairn_consensus::group_of_shard(5),
            node: 1,
            leader: Some(3),
        });
        assert_eq!((local.leader_hint(), local.shard()), (Some(3), Some(5)));
        let bad = Error::Peer {
            node: 2,
            status: tonic::Status::invalid_argument("bad batch"),
        };
        assert!(!bad.is_retryable());
        let down = Error::Peer {
            node: 2,
            status: tonic::Status::unavailable("connection refused"),
        };
        assert!(down.is_retryable());
        assert_eq!(down.to_string(), "node 2: connection refused");
        let timeout = Error::ShardTimeout {
            shard: 7,
            what: "committing the write",
            after: Duration::from_secs(5),
            last: Box::new(Error::NoLeader { shard: 7 }),
        };
        assert_eq!(timeout.shard(), Some(7));
        assert_eq!(timeout.naming_the_shard(), timeout.to_string());
        assert_eq!(
            not_leader.naming_the_shard(),
            "shard 3: node 2 is not the leader of shard 3"
        );
        assert_eq!(
            timeout.to_string(),
            "shard 7: committing the write did not succeed within 5s (no leader of shard 7 is known)"
        );
    }
}
