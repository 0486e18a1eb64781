//! Cairn's consensus layer: where shards live and the Raft groups (openraft 0.9, storage-v2)
//! that replicate them. It owns Raft: the node sees only the façade (`RaftGroups`,
//! `MetaGroup`, `ShardGroup`, `GroupStatus`, typed `Error`s) and never an openraft type.
//! Placement and membership policy are pure planners here (`plan_placement`,
//! `plan_membership`, `plan_admission`). It must not parse PromQL or HTTP, and it runs no
//! timers of its own: the node's job supervisor calls `reconcile` and `checkpoint_due`.
//!
//! ```text
//!  tenant ──rendezvous(tenant, shard) over S shards──► K shards (tenant_shards)
//!  series ──label_set_hash % K──────────────────────► one of them
//!
//!  RaftGroups (one per node)
//!   ├─ MetaGroup (group 0): MetaStateMachine ─► ClusterState (nodes, placement)
//!   │                                        └─► MetaKv (rules, alert state: node-owned records)
//!   └─ ShardGroup (group s+1): Proposer ─► Raft ─► ShardStateMachine ─► cairn_storage::Engine
//!        log: RocksRaftLog ─► LogStore (raft_log, raft_state) ─ LogSyncer (shared fsync)
//!        transport: GrpcRaftNetwork ⇄ RaftTransportService (group id in every message)
//! ```

pub mod cluster_state;
pub mod error;
pub mod group_id;
pub mod group_status;
pub mod liveness;
pub mod log_store;
pub mod member;
pub mod membership;
pub mod meta_group;
pub mod meta_kv;
pub mod meta_state_machine;
pub mod move_plan;
pub mod network;
pub mod placement;
mod proposer;
pub mod raft_groups;
pub mod removal;
pub mod shard_group;
pub mod shard_state_machine;
pub mod snapshot_file;
#[cfg(test)]
mod state_machine_suite;
#[cfg(test)]
mod test_state_machine;
pub mod type_config;

pub use cluster_state::{ClusterState, InFlightMove, MetaCommand, plan_placement};
pub use error::{Error, Result};
pub use group_id::{META_GROUP, group_of_shard, shard_of_group};
pub use group_status::GroupStatus;
pub use log_store::RocksRaftLog;
pub use member::{Node, NodeId};
pub use membership::{Members, Step, plan_admission, plan_membership};
pub use meta_group::MetaGroup;
pub use meta_kv::{KvOp, MetaKv};
pub use network::{
    BatchCounters, GrpcRaftNetwork, RaftRegistry, RaftTransportService, SnapshotReceive,
    SnapshotSend,
};
pub use placement::tenant_shards;
pub use raft_groups::{GroupSettings, RaftGroups, RaftTimings, Reconciled};
pub use shard_group::ShardGroup;
pub use shard_state_machine::ApplyObserver;
pub use type_config::{ApplyReport, Command, TypeConfig};
