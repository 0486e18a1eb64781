//! Cairn's protobuf messages and gRPC services, generated from `proto/` at build time. No
//! logic lives here.
//!
//! * `prometheus`: the remote_write 1.0 `WriteRequest` (snappy-compressed on the wire).
//! * `raft`: the `RaftTransport` service (`cairn.raft.v1`) that carries openraft's
//!   AppendEntries / Vote / InstallSnapshot between nodes, routed by group id; the payloads
//!   are opaque bincode, see `proto/cairn/raft.proto` and `cairn_consensus::network`.
//! * `cluster`: the `Cluster` service (`cairn.cluster.v1`): join, write forwarding to a shard
//!   leader, read index.

/// Prometheus remote_write 1.0 messages.
pub mod prometheus {
    include!(concat!(env!("OUT_DIR"), "/prometheus.rs"));
}

/// The Raft transport (`cairn.raft.v1`): `RaftRequest`, `RaftReply`, and the tonic
/// `raft_transport_client` / `raft_transport_server` modules.
pub mod raft {
    include!(concat!(env!("OUT_DIR"), "/cairn.raft.v1.rs"));
}

/// Node-to-node cluster operations (`cairn.cluster.v1`): join, forwarded writes, read index.
pub mod cluster {
    include!(concat!(env!("OUT_DIR"), "/cairn.cluster.v1.rs"));
}
