//! `RaftRegistry`: how the transport's server finds the local `Raft` of a group. The node's
//! registry of Raft groups implements it; the transport only reads it.

use std::sync::Arc;

use openraft::Raft;

use crate::type_config::TypeConfig;

/// The Raft groups that run on this node, by group id.
pub trait RaftRegistry: Send + Sync + 'static {
    /// The local member of `group`, or `None` if this node holds no replica of it (yet, or
    /// any more): the sender then sees `NOT_FOUND` and backs off.
    fn group(&self, group: u64) -> Option<Raft<TypeConfig>>;
}

impl<T: RaftRegistry> RaftRegistry for Arc<T> {
    fn group(&self, group: u64) -> Option<Raft<TypeConfig>> {
        (**self).group(group)
    }
}
