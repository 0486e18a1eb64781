//! Cairn's consensus layer: where shards live and (with the cluster work) the Raft groups that
//! replicate them.
//!
//! Today it owns shard placement for tenants, which the single-node write path already uses so
//! that data is laid out per shard exactly as the cluster will lay it out:
//!
//! ```text
//!  tenant ──rendezvous(tenant, shard) over S shards──► K shards (tenant_shards)
//!  series ──label_set_hash % K──────────────────────► one of them
//! ```
//! It also holds the Raft groups' building blocks (openraft 0.9, storage-v2): the shared
//! `TypeConfig` (`type_config.rs`) and each group's log store on the node's RocksDB
//! (`log_store.rs`, over `cairn_storage::raft_log`):
//!
//! ```text
//!  Raft<TypeConfig> per group ──► RocksRaftLog(group) ──► RaftLogStore ──► raft_log, raft_state
//! ```
//! State-machine adapters and the gRPC transport arrive with the rest of the cluster issue;
//! none of this may parse PromQL or HTTP.

pub mod error;
pub mod log_store;
pub mod placement;
pub mod type_config;

pub use error::{Error, Result};
pub use log_store::RocksRaftLog;
pub use placement::tenant_shards;
pub use type_config::{ApplyReport, Command, Node, NodeId, TypeConfig};
