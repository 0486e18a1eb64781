//! Fault injection for partition tests, in one place: a layer on both ends of every internal
//! gRPC call (Raft transport and the node's `Cluster` service alike), after TiKV's
//! `transport_simulate` filters. Compiled only with the `faults` feature (which release
//! builds leave out) and in this crate's tests.
//!
//! ```text
//!  node 1                                               node 3
//!  ClusterClient / RaftTransportClient                  Server::builder().layer(FaultLayer)
//!     └─ FaultChannel(to 3) ── 3 blocked? ─► UNAVAILABLE       └─ x-cairn-from: 1 blocked?
//!            │ adds x-cairn-from: 1                                 ─► UNAVAILABLE
//!            └──────────────────────── HTTP/2 ──────────────────► services
//! ```
//! Blocking node 3 on nodes 1 and 2 therefore isolates it in both directions, for every
//! group and every RPC, with no check anywhere else in the code. Two kinds of partition:
//! *refuse* (calls fail at once, like a closed port) and *drop* (calls never answer, like a
//! network that loses every packet: the caller's own timeouts decide how long it waits).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::{Context, Poll};

use futures_util::future::{Either, Pending, Ready, pending, ready};
use tonic::body::Body;
use tonic::transport::Channel;

use crate::member::NodeId;

/// The metadata header naming the sender of an internal call.
pub const FROM_HEADER: &str = "x-cairn-from";

/// The peers this node may not talk to. Shared by the node's channels and its server layer.
#[derive(Debug, Default)]
pub struct Faults {
    blocked: RwLock<BTreeSet<NodeId>>,
    /// Calls with blocked peers hang instead of failing.
    dropping: AtomicBool,
}

impl Faults {
    pub fn new() -> Faults {
        Faults::default()
    }

    /// Cuts this node off from `peer`, in both directions, for every call.
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

    /// Whether calls with blocked peers hang (`true`) or fail at once (`false`, the default).
    pub fn set_dropping(&self, dropping: bool) {
        self.dropping.store(dropping, Ordering::Relaxed);
    }

    pub fn is_dropping(&self) -> bool {
        self.dropping.load(Ordering::Relaxed)
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

/// The client end: a channel to node `to` that fails calls at once while `to` is blocked and
/// names its sender on every call.
#[derive(Clone, Debug)]
pub struct FaultChannel {
    inner: Channel,
    faults: Arc<Faults>,
    from: NodeId,
    to: NodeId,
}

impl FaultChannel {
    pub(crate) fn new(inner: Channel, faults: Arc<Faults>, from: NodeId, to: NodeId) -> Self {
        FaultChannel {
            inner,
            faults,
            from,
            to,
        }
    }
}

impl tower_service::Service<http::Request<Body>> for FaultChannel {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = Either<
        Either<
            Ready<Result<http::Response<Body>, tonic::transport::Error>>,
            Pending<Result<http::Response<Body>, tonic::transport::Error>>,
        >,
        <Channel as tower_service::Service<http::Request<Body>>>::Future,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        if self.to != 0 && self.faults.is_blocked(self.to) {
            if self.faults.is_dropping() {
                return Either::Left(Either::Right(pending()));
            }
            let status = tonic::Status::unavailable(format!(
                "node {} is partitioned from this node by a test fault",
                self.to
            ));
            return Either::Left(Either::Left(ready(Ok(status.into_http()))));
        }
        req.headers_mut()
            .insert(FROM_HEADER, http::HeaderValue::from(self.from));
        Either::Right(self.inner.call(req))
    }
}

/// The server end: refuses calls whose sender (`x-cairn-from`) is blocked.
#[derive(Clone, Debug)]
pub struct FaultLayer {
    faults: Arc<Faults>,
}

impl FaultLayer {
    pub(crate) fn new(faults: Arc<Faults>) -> Self {
        FaultLayer { faults }
    }
}

impl<S> tower_layer::Layer<S> for FaultLayer {
    type Service = FaultServer<S>;

    fn layer(&self, inner: S) -> FaultServer<S> {
        FaultServer {
            inner,
            faults: self.faults.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct FaultServer<S> {
    inner: S,
    faults: Arc<Faults>,
}

impl<S, B, RB> tower_service::Service<http::Request<B>> for FaultServer<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<RB>>,
    RB: Default,
{
    type Response = http::Response<RB>;
    type Error = S::Error;
    type Future = Either<
        Either<
            Ready<Result<http::Response<RB>, S::Error>>,
            Pending<Result<http::Response<RB>, S::Error>>,
        >,
        S::Future,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let from = req
            .headers()
            .get(FROM_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<NodeId>().ok());
        if let Some(from) = from.filter(|&f| self.faults.is_blocked(f)) {
            if self.faults.is_dropping() {
                return Either::Left(Either::Right(pending()));
            }
            let status = tonic::Status::unavailable(format!(
                "a call from node {from} refused: node {from} is partitioned from this node by a test fault"
            ));
            return Either::Left(Either::Left(ready(Ok(status.into_http()))));
        }
        Either::Right(self.inner.call(req))
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
