//! Cairn's consensus layer: where shards live and the Raft groups (openraft 0.9, storage-v2)
//! that replicate them. Every write goes through a shard group; none of this parses PromQL or
//! HTTP.
//!
//! ```text
//!  tenant ──rendezvous(tenant, shard) over S shards──► K shards (tenant_shards)
//!  series ──label_set_hash % K──────────────────────► one of them
//!
//!  RaftGroups (one per node)
//!   ├─ meta group 0: MetaStateMachine ─► ClusterState (nodes, placement: plan_placement)
//!   └─ shard group s+1: ShardStateMachine ─► cairn_storage::Engine (apply, checkpoint, dump)
//!        log: RocksRaftLog ─► LogStore (raft_log, raft_state) ─ LogSyncer (shared fsync)
//!        transport: GrpcRaftNetwork ⇄ RaftTransportService (group id in every message)
//! ```

pub mod cluster_state;
pub mod error;
pub mod group_id;
pub mod log_store;
pub mod meta_state_machine;
pub mod network;
pub mod placement;
pub mod raft_groups;
pub mod shard_state_machine;
#[cfg(test)]
mod test_state_machine;
pub mod type_config;

pub use cluster_state::{ClusterState, MetaCommand, plan_placement};
pub use error::{Error, Result};
pub use group_id::{META_GROUP, group_of_shard, shard_of_group};
pub use log_store::RocksRaftLog;
pub use network::{BatchCounters, Faults, GrpcRaftNetwork, RaftRegistry, RaftTransportService};
pub use placement::tenant_shards;
pub use raft_groups::{RaftGroups, RaftTimings};
pub use shard_state_machine::ApplyObserver;
pub use type_config::{ApplyReport, Command, Node, NodeId, TypeConfig};
