//! Members of the cluster: a node's id and where it listens. Recorded in the meta group's
//! cluster state and in every group's membership entries (so their serde form is on disk).

use serde::{Deserialize, Serialize};

/// A Raft node's id: the `--node-id` a server was started with (at least 1; 0 means "not a
/// member yet" on the wire).
pub type NodeId = u64;

/// Where a member of the cluster listens; stored in every membership entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// HTTP API address (`host:port`), for redirecting clients and for status pages.
    pub http_addr: String,
    /// gRPC address (`host:port`) that carries Raft messages and forwarded writes.
    pub grpc_addr: String,
}
