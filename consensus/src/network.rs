//! The gRPC Raft transport: how every Raft group on this node talks to the same groups on
//! the other nodes. It owns the node's connections to its peers (one tonic `Channel` per peer
//! address, shared by all groups and by the node's other internal RPCs), the client side that
//! openraft calls (`GrpcRaftNetwork` → `GroupNetworkFactory` → `GroupNetwork`), the server
//! side that routes incoming RPCs by group id (`RaftTransportService` over a
//! [`RaftRegistry`]), and the fault hook that partition tests use ([`Faults`]). It does not
//! start servers or own groups: the node binds the listener, serves
//! `GrpcRaftNetwork::service(registry)` and keeps the registry of groups.
//!
//! ```text
//!  node 1                                                   node 2
//!  Raft(g7) ─┐                                          ┌─► Raft(g7)
//!  Raft(g8) ─┼► GroupNetwork(g, to 2)                   ├─► Raft(g8)
//!  Raft(g0) ─┘    │ Faults: 2 blocked? → Unreachable    │   registry.group(g)
//!                 │ snapshots: chunks of the growing    │   (unknown → NOT_FOUND)
//!                 │   file, SnapshotThrottle (node-wide │   snapshot chunks noted in
//!                 │   rate), SnapshotProgress           │   SnapshotProgress
//!                 │ bincode(request)                    │
//!                 ▼                                     │
//!   GrpcRaftNetwork: one Channel per peer ══ HTTP/2 ══► RaftTransportService
//!     (lazy connect, 1 s timeout, keepalive,   RaftRequest{group, from, payload}
//!      tcp_nodelay; also `channel(addr)`       Faults: `from` blocked? → UNAVAILABLE
//!      for the node's other RPCs)          ◄══ RaftReply{bincode(Result<resp, RaftError>)}
//! ```
//!
//! Wire format (`cairn-proto`, `proto/cairn/raft.proto`, package `cairn.raft.v1`): service
//! `RaftTransport` with unary `AppendEntries`, `Vote` and `InstallSnapshot`, each taking
//! `RaftRequest { group, from, payload }` and returning `RaftReply { payload }`. The request
//! payload is bincode 2 (serde, standard config) of openraft's request; the reply payload is
//! bincode of `Result<response, RaftError<NodeId, E>>`, so a remote Raft error (a higher
//! vote, a stopped group) comes back as `RPCError::RemoteError` with the error openraft
//! expects. Snapshots go as openraft's chunked `InstallSnapshotRequest`s
//! (`Config::snapshot_max_chunk_size` each), one unary call per chunk: our own sender
//! (`GroupNetwork::full_snapshot`) reads the `SnapshotFile` as its producer writes it, paced
//! by the node's [`SnapshotThrottle`] and recorded in [`SnapshotProgress`]; the receiver is
//! openraft's own (`Raft::install_snapshot`, chunks into a file). Both ends must run the same
//! openraft version and `TypeConfig`: bincode is not self-describing.
//!
//! Batching: AppendEntries (appends and heartbeats) do not go as their unary rpc but through
//! the peer's [`PeerBatcher`] (`batcher.rs`): while calls to a peer are in flight, what the
//! groups send it queues, and goes as one `AppendEntriesBatch` call. Under ingest every shard's
//! appends to a follower share calls (one gRPC call's overhead instead of one per group), and
//! an idle cluster's heartbeats of many groups share calls too. Vote and InstallSnapshot stay
//! unary; the server still answers unary AppendEntries.
//!
//! Cost of many groups: every call is multiplexed on the peer's single HTTP/2 connection, so
//! an idle group costs one heartbeat AppendEntries (a few dozen bytes) per group per peer per
//! heartbeat interval, and no connection or task of its own.
//!
//! Faults (only with the `faults` feature and in tests): `faults.rs` wraps every channel
//! this network hands out ([`PeerChannel`]) and every server that uses
//! [`GrpcRaftNetwork::server_layer`]. Calls to a blocked peer fail at once with
//! `UNAVAILABLE` (openraft sees `Unreachable` and backs off); calls from a blocked peer are
//! refused likewise. Without the feature the channel is tonic's and the layer is the identity.
//!
//! Liveness: every reply from a peer and every accepted RPC from one is noted as contact
//! ([`GrpcRaftNetwork::last_contact`]), which the node's status page reports.
//!
//! Deadlines: each RPC is bounded by openraft's `RPCOption::hard_ttl()` (heartbeat interval
//! for AppendEntries, `install_snapshot_timeout` per snapshot chunk), enforced locally and
//! sent as `grpc-timeout` so the server drops calls the sender has given up on.

mod batcher;
mod codec;
#[cfg(any(test, feature = "faults"))]
pub mod faults;
mod group_network;
mod registry;
mod service;
mod snapshot_progress;
mod snapshot_throttle;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_proto::raft::raft_transport_client::RaftTransportClient;
use cairn_proto::raft::raft_transport_server::RaftTransportServer;
use tonic::transport::{Channel, Endpoint};

use crate::type_config::NodeId;

pub use batcher::BatchCounters;
use batcher::PeerBatcher;
pub use codec::PayloadError;
#[cfg(any(test, feature = "faults"))]
pub use faults::Faults;
pub use group_network::{GroupNetwork, GroupNetworkFactory};
pub use registry::RaftRegistry;
pub use service::RaftTransportService;
use snapshot_progress::SnapshotProgress;
pub use snapshot_progress::{SnapshotReceive, SnapshotSend};
use snapshot_throttle::SnapshotThrottle;

/// Largest gRPC message either side sends or accepts. openraft sends up to
/// `max_payload_entries` (300 by default) entries per AppendEntries, each one shard write
/// batch; a batch that encodes larger is split (`PayloadTooLarge`) before it is sent.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Connecting to a peer gives up after this; openraft then sees `Unreachable` and backs off.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// HTTP/2 pings on every connection, idle or not, so a dead peer (power loss, a dropped
/// route, where no RST ever arrives) is noticed within interval + timeout and reconnected.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A peer address that is not a valid gRPC endpoint (`host:port`, or a URI).
#[derive(Debug, thiserror::Error)]
#[error("invalid gRPC address {addr:?} of a peer: {source}")]
pub struct BadPeerAddress {
    pub addr: String,
    pub source: tonic::transport::Error,
}

/// A channel to a peer: tonic's, wrapped by the fault layer in builds with faults.
#[cfg(any(test, feature = "faults"))]
pub type PeerChannel = faults::FaultChannel;
/// A channel to a peer: tonic's, wrapped by the fault layer in builds with faults.
#[cfg(not(any(test, feature = "faults")))]
pub type PeerChannel = Channel;

/// The layer a node's gRPC server applies to its services: refuses calls from blocked peers
/// in builds with faults, does nothing otherwise.
#[cfg(any(test, feature = "faults"))]
pub type ServerLayer = faults::FaultLayer;
/// The layer a node's gRPC server applies to its services: refuses calls from blocked peers
/// in builds with faults, does nothing otherwise.
#[cfg(not(any(test, feature = "faults")))]
pub type ServerLayer = tower_layer::Identity;

/// The node's side of the Raft transport: its id, its channels to peers (and, in builds with
/// faults, its fault hook).
/// Cheap to clone (an `Arc`); make one per node and pass clones to every group.
#[derive(Clone)]
pub struct GrpcRaftNetwork {
    inner: Arc<Inner>,
}

struct Inner {
    id: NodeId,
    #[cfg(any(test, feature = "faults"))]
    faults: Arc<Faults>,
    /// One channel per peer address, made on first use and kept; a channel reconnects by
    /// itself, so an entry never goes stale. Keyed by address, not node id: an address is
    /// what a membership entry names, and a node that moves gets a new channel.
    channels: Mutex<HashMap<String, Channel>>,
    /// One AppendEntries queue per peer address, shared by every group (`batcher.rs`).
    batchers: Mutex<HashMap<String, Arc<PeerBatcher>>>,
    batch_counters: Arc<BatchCounters>,
    /// When each peer last answered an RPC of ours or sent us one (for status pages).
    contacts: Mutex<HashMap<NodeId, Instant>>,
    /// The pace of every snapshot this node sends, shared by all groups.
    throttle: SnapshotThrottle,
    /// Snapshots sent and received, per group and peer.
    snapshots: Arc<SnapshotProgress>,
}

impl GrpcRaftNetwork {
    /// The transport of node `id`: `id` is sent as `from` on every RPC.
    pub fn new(id: NodeId) -> GrpcRaftNetwork {
        GrpcRaftNetwork {
            inner: Arc::new(Inner {
                id,
                #[cfg(any(test, feature = "faults"))]
                faults: Arc::new(Faults::new()),
                channels: Mutex::new(HashMap::new()),
                batchers: Mutex::new(HashMap::new()),
                batch_counters: Arc::default(),
                contacts: Mutex::new(HashMap::new()),
                throttle: SnapshotThrottle::default(),
                snapshots: Arc::default(),
            }),
        }
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    /// The fault hook shared by this node's channels and server layer: block a peer to
    /// partition it.
    #[cfg(any(test, feature = "faults"))]
    pub fn faults(&self) -> &Arc<Faults> {
        &self.inner.faults
    }

    /// The layer for this node's gRPC server (`Server::builder().layer(...)`), which every
    /// service on it goes through.
    pub fn server_layer(&self) -> ServerLayer {
        #[cfg(any(test, feature = "faults"))]
        return faults::FaultLayer::new(self.inner.faults.clone());
        #[cfg(not(any(test, feature = "faults")))]
        return tower_layer::Identity::new();
    }

    /// openraft's network factory for `group`: pass it to `Raft::new` of that group.
    pub fn for_group(&self, group: u64) -> GroupNetworkFactory {
        GroupNetworkFactory::new(self.clone(), group)
    }

    /// The tonic service that delivers incoming Raft RPCs to this node's groups. Serve it with
    /// `tonic::transport::Server::builder().layer(self.server_layer()).add_service(...)`.
    pub fn service<R: RaftRegistry>(
        &self,
        registry: R,
    ) -> RaftTransportServer<RaftTransportService<R>> {
        RaftTransportService::new(registry, self.clone()).into_server()
    }

    /// When `peer` last answered one of this node's Raft RPCs or sent one that was accepted:
    /// `None` if never. With heartbeats every interval, a live peer that shares a group with
    /// this node is never more than a heartbeat interval old.
    pub fn last_contact(&self, peer: NodeId) -> Option<Instant> {
        lock(&self.inner.contacts).get(&peer).copied()
    }

    /// Notes that `peer` was just heard from (by the transport, or the node's own probes).
    pub fn record_contact(&self, peer: NodeId) {
        lock(&self.inner.contacts).insert(peer, Instant::now());
    }

    /// The shared channel to node `node` at `addr` (`host:port`, or a URI with a scheme),
    /// for every internal RPC: the same HTTP/2 connection the Raft traffic uses. It connects
    /// on first use. Must be called inside a Tokio runtime (a channel spawns its worker task).
    pub fn channel_to(&self, node: NodeId, addr: &str) -> Result<PeerChannel, BadPeerAddress> {
        let channel = self.shared_channel(addr)?;
        #[cfg(any(test, feature = "faults"))]
        let channel =
            faults::FaultChannel::new(channel, self.inner.faults.clone(), self.inner.id, node);
        #[cfg(not(any(test, feature = "faults")))]
        let _ = node;
        Ok(channel)
    }

    /// A channel to `addr` whose node id is not known (a seed asked before joining).
    pub fn channel(&self, addr: &str) -> Result<PeerChannel, BadPeerAddress> {
        self.channel_to(0, addr)
    }

    fn shared_channel(&self, addr: &str) -> Result<Channel, BadPeerAddress> {
        let mut channels = lock(&self.inner.channels);
        if let Some(channel) = channels.get(addr) {
            return Ok(channel.clone());
        }
        let channel = endpoint(addr)?.connect_lazy();
        channels.insert(addr.to_string(), channel.clone());
        Ok(channel)
    }

    /// The AppendEntries batch queue to node `node` at `addr`, made on first use over the
    /// shared channel. Must be called inside a Tokio runtime.
    fn batcher(&self, node: NodeId, addr: &str) -> Result<Arc<PeerBatcher>, BadPeerAddress> {
        if let Some(b) = lock(&self.inner.batchers).get(addr) {
            return Ok(b.clone());
        }
        let client = raft_client(self.channel_to(node, addr)?);
        let mut batchers = lock(&self.inner.batchers);
        let b = batchers.entry(addr.to_string()).or_insert_with(|| {
            Arc::new(PeerBatcher::new(client, self.inner.batch_counters.clone()))
        });
        Ok(b.clone())
    }

    /// AppendEntriesBatch calls this node made, and the AppendEntries they carried.
    pub fn batch_counters(&self) -> &BatchCounters {
        &self.inner.batch_counters
    }

    /// Limits the snapshot bytes this node sends, all groups together, to `bytes_per_s`
    /// (0: unlimited, the default). Takes effect for the next chunk of every send.
    pub fn set_snapshot_rate(&self, bytes_per_s: u64) {
        self.inner.throttle.set_rate(bytes_per_s);
    }

    /// The snapshot send rate limit in bytes per second (0: unlimited).
    pub fn snapshot_rate(&self) -> u64 {
        self.inner.throttle.rate()
    }

    /// What may go at once after an idle spell, at the current snapshot rate (the token
    /// bucket's size: a quarter second's worth).
    pub fn snapshot_burst_bytes(&self) -> u64 {
        self.inner.throttle.burst_bytes()
    }

    /// The snapshot sends of this node per (group, target): each one in flight, else the
    /// last one. By group, then target.
    pub fn snapshot_sends(&self) -> Vec<SnapshotSend> {
        self.inner.snapshots.sends()
    }

    /// The snapshots this node receives per (group, sender): each one in flight, else the
    /// last one.
    pub fn snapshot_receives(&self) -> Vec<SnapshotReceive> {
        self.inner.snapshots.receives()
    }

    fn snapshot_throttle(&self) -> &SnapshotThrottle {
        &self.inner.throttle
    }

    fn snapshot_progress(&self) -> &Arc<SnapshotProgress> {
        &self.inner.snapshots
    }

    /// How many peer channels exist (for tests of connection reuse).
    #[cfg(test)]
    pub(crate) fn channel_count(&self) -> usize {
        lock(&self.inner.channels).len()
    }
}

impl fmt::Debug for GrpcRaftNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcRaftNetwork")
            .field("id", &self.inner.id)
            .finish_non_exhaustive()
    }
}

/// The maps behind these locks stay consistent whatever panicked while one was held (each
/// update is a single insert), so a poisoned lock is used as it is.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A Raft transport client on `channel`, with the transport's message size cap.
fn raft_client(channel: PeerChannel) -> RaftTransportClient<PeerChannel> {
    RaftTransportClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

fn endpoint(addr: &str) -> Result<Endpoint, BadPeerAddress> {
    // Node addresses are `host:port`; plaintext until the node's TLS settings reach here.
    let uri = if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    };
    let endpoint = Endpoint::from_shared(uri).map_err(|source| BadPeerAddress {
        addr: addr.to_string(),
        source,
    })?;
    Ok(endpoint
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true)
        // Lets one connection carry large AppendEntries batches and snapshot chunks at full
        // speed alongside the small heartbeats of every other group.
        .http2_adaptive_window(true))
}

/// The three Raft RPCs, for dispatch and for naming them in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rpc {
    AppendEntries,
    Vote,
    InstallSnapshot,
}

impl Rpc {
    fn request_name(self) -> &'static str {
        match self {
            Rpc::AppendEntries => "AppendEntriesRequest",
            Rpc::Vote => "VoteRequest",
            Rpc::InstallSnapshot => "InstallSnapshotRequest",
        }
    }

    fn reply_name(self) -> &'static str {
        match self {
            Rpc::AppendEntries => "AppendEntries reply",
            Rpc::Vote => "Vote reply",
            Rpc::InstallSnapshot => "InstallSnapshot reply",
        }
    }
}

impl fmt::Display for Rpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rpc::AppendEntries => "AppendEntries",
            Rpc::Vote => "Vote",
            Rpc::InstallSnapshot => "InstallSnapshot",
        })
    }
}

#[cfg(test)]
mod network_test;
#[cfg(test)]
mod snapshot_test;
