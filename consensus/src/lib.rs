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
//! Raft log storage, state-machine adapters and the gRPC transport arrive with the cluster
//! issue; they must not parse PromQL or HTTP.

pub mod placement;

pub use placement::tenant_shards;
