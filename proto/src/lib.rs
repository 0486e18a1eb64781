//! Cairn's protobuf messages, generated from `proto/` at build time. No logic lives here.
//!
//! * `prometheus`: the remote_write 1.0 `WriteRequest` (snappy-compressed on the wire).
//! * The internal gRPC services (Raft transport, forwarding) join with the cluster work.

/// Prometheus remote_write 1.0 messages.
pub mod prometheus {
    include!(concat!(env!("OUT_DIR"), "/prometheus.rs"));
}
