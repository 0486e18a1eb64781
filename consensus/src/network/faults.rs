//! `Faults`: the transport's fault hook for partition tests, after TiKV's `transport_simulate`
//! filters. It holds the set of peers this node is cut off from; the client side of the
//! transport fails RPCs to them at once (as `Unreachable`) and the server side refuses RPCs
//! from them (`Status::unavailable`), so blocking a peer on one node cuts both directions
//! between the two. Nothing else consults it: with no peer blocked it costs one read lock per
//! RPC. Only tests (and a node started with test faults enabled) ever block a peer.

use std::collections::BTreeSet;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::type_config::NodeId;

/// The peers this node may not talk to. Shared by the node's [`super::GrpcRaftNetwork`] and
/// its [`super::RaftTransportService`].
#[derive(Debug, Default)]
pub struct Faults {
    blocked: RwLock<BTreeSet<NodeId>>,
}

impl Faults {
    pub fn new() -> Faults {
        Faults::default()
    }

    /// Cuts this node off from `peer`, in both directions, for every Raft group.
    pub fn block(&self, peer: NodeId) {
        self.write().insert(peer);
    }

    /// Restores traffic with `peer`.
    pub fn unblock(&self, peer: NodeId) {
        self.write().remove(&peer);
    }

    /// Restores traffic with every peer.
    pub fn unblock_all(&self) {
        self.write().clear();
    }

    pub fn is_blocked(&self, peer: NodeId) -> bool {
        self.read().contains(&peer)
    }

    /// The blocked peers, in ascending order.
    pub fn blocked(&self) -> Vec<NodeId> {
        self.read().iter().copied().collect()
    }

    // A panic while holding the lock cannot leave a `BTreeSet` half-updated in a way that
    // matters here, so a poisoned lock is used as it is.
    fn read(&self) -> RwLockReadGuard<'_, BTreeSet<NodeId>> {
        self.blocked.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeSet<NodeId>> {
        self.blocked.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::Faults;

    #[test]
    fn block_and_unblock_peers() {
        let faults = Faults::new();
        assert!(!faults.is_blocked(3));
        faults.block(3);
        faults.block(2);
        assert!(faults.is_blocked(3));
        assert_eq!(faults.blocked(), vec![2, 3]);
        faults.unblock(3);
        assert!(!faults.is_blocked(3));
        assert!(faults.is_blocked(2));
        faults.unblock_all();
        assert!(faults.blocked().is_empty());
    }
}
