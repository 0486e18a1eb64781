//! The client side of the Raft transport for one group: `GroupNetworkFactory` (openraft's
//! `RaftNetworkFactory`, one per group) and `GroupNetwork` (its `RaftNetwork`, one per
//! target), which send over the node's shared channel to the target's `grpc_addr`.
//!
//! Snapshots: `full_snapshot` is our own chunked sender, in place of openraft's (which seeks
//! to the end of the data to learn its size, and so cannot send a file still being written).
//!
//! ```text
//!  SnapshotFile (growing) ─read_chunk(offset, chunk size): waits for the producer─┐
//!     SnapshotThrottle::acquire(len) (node-wide rate) ◄───────────────────────────┘
//!     ─► InstallSnapshot{offset, data, done = offset + len == total} ─► target's openraft
//!     ◄─ ok: offset += len, SendProgress.sent │ higher vote: stop │ mismatch: offset 0
//!        unreachable / network / timeout: same chunk again, 5 tries in a row at most
//! ```
//! Memory: one chunk (`snapshot_max_chunk_size`) in flight; the file is on disk. A producer
//! that fails is reported as a network error: openraft retries later with a fresh snapshot.
//!
//! Failures are sorted for openraft's replication loop:
//!
//! * `Unreachable` (openraft backs off, `RaftNetwork::backoff`): the connection is refused or
//!   times out, the peer answers UNAVAILABLE (also what a test fault answers) or NOT_FOUND
//!   (the group is not there yet), or `hard_ttl` passes without a reply.
//! * `Network` (retried on the next tick): a payload one side could not encode or decode.
//! * `RemoteError`: the remote `Raft` itself returned an error (e.g. `Fatal::Stopped`).
//! * `PayloadTooLarge` (openraft halves the batch and resends at once): an AppendEntries
//!   batch that encodes larger than [`MAX_MESSAGE_BYTES`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_proto::raft::RaftRequest;
use cairn_proto::raft::raft_transport_client::RaftTransportClient;
use openraft::AnyError;
use openraft::error::{
    Fatal, Infallible, InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError,
    RemoteError, ReplicationClosed, StreamingError, Unreachable,
};
use openraft::network::{Backoff, RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{OptionalSend, Snapshot, Vote};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::{Code, Status};

use super::{
    BadPeerAddress, GrpcRaftNetwork, MAX_MESSAGE_BYTES, PeerBatcher, PeerChannel, Rpc, codec,
};
use crate::type_config::{Node, NodeId, TypeConfig};

type Client = RaftTransportClient<PeerChannel>;
type RpcResult<T, E = Infallible> = Result<T, RPCError<NodeId, Node, RaftError<NodeId, E>>>;

/// Room left in a message for the protobuf and gRPC framing around the payload.
const FRAMING_HEADROOM: usize = 64 * 1024;

/// Failures of one snapshot chunk in a row before the send gives up (openraft's chunked
/// sender allows as many); any success starts the count again.
const SNAPSHOT_CHUNK_TRIES: u32 = 5;
/// The first retry of a chunk after a network error or timeout waits this long, doubling up
/// to `SNAPSHOT_RETRY_MAX` (an unreachable target waits `RaftNetwork::backoff` instead).
const SNAPSHOT_RETRY_BASE: Duration = Duration::from_millis(10);
const SNAPSHOT_RETRY_MAX: Duration = Duration::from_millis(200);
/// The chunk size when openraft gives none (it always does).
const DEFAULT_SNAPSHOT_CHUNK: usize = 1 << 20;
/// The last chunk's reply comes once the target has installed the whole snapshot, which
/// takes time in proportion to its size: its deadline is `install_snapshot_timeout` plus the
/// snapshot's size at this rate (a slow disk's), so that a big shard is not sent again and
/// again because its install outlasts a deadline made for one chunk.
const INSTALL_BYTES_PER_SEC: u64 = 16 << 20;

/// How a snapshot send ended, short of an error.
enum Sent {
    /// Every chunk went and the target installed it.
    Done(SnapshotResponse<NodeId>),
    /// The target has a higher vote: this leader is stale (openraft checks the vote).
    Superseded(SnapshotResponse<NodeId>),
}

/// openraft's network factory for one group: hands out [`GroupNetwork`]s that share the
/// node's channels. Made by [`GrpcRaftNetwork::for_group`].
#[derive(Clone)]
pub struct GroupNetworkFactory {
    network: GrpcRaftNetwork,
    group: u64,
}

impl GroupNetworkFactory {
    pub(super) fn new(network: GrpcRaftNetwork, group: u64) -> GroupNetworkFactory {
        GroupNetworkFactory { network, group }
    }

    pub fn group(&self) -> u64 {
        self.group
    }
}

impl RaftNetworkFactory<TypeConfig> for GroupNetworkFactory {
    type Network = GroupNetwork;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> GroupNetwork {
        let client = self
            .network
            .channel_to(target, &node.grpc_addr)
            .map(super::raft_client)
            .and_then(|client| Ok((client, self.network.batcher(target, &node.grpc_addr)?)))
            .map_err(Arc::new);
        GroupNetwork {
            group: self.group,
            target,
            node: node.clone(),
            client,
            network: self.network.clone(),
        }
    }
}

/// openraft's connection to one target of one group. Holds a clone of the shared channel, so
/// creating and dropping these (openraft does on every leadership change) costs nothing.
pub struct GroupNetwork {
    group: u64,
    target: NodeId,
    node: Node,
    /// The unary client (Vote, InstallSnapshot) and the peer's AppendEntries batch queue.
    /// `Err` if the target's `grpc_addr` does not parse: every RPC then fails as unreachable
    /// (the address comes from a membership entry, so only a membership change can fix it).
    client: Result<(Client, Arc<PeerBatcher>), Arc<BadPeerAddress>>,
    network: GrpcRaftNetwork,
}

impl GroupNetwork {
    /// Sends `payload` (already encoded) as `rpc` and decodes the `Result` the remote `Raft`
    /// returned, within `option.hard_ttl()`.
    async fn call<Resp, E>(
        &self,
        rpc: Rpc,
        payload: Vec<u8>,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let (mut client, batcher) = match &self.client {
            Ok((client, batcher)) => (client.clone(), batcher.clone()),
            Err(bad) => return Err(self.unreachable(rpc, AnyError::new(&**bad))),
        };

        let ttl = option.hard_ttl();
        let inner = RaftRequest {
            group: self.group,
            from: self.network.id(),
            payload: payload.into(),
        };
        let call = async move {
            if rpc == Rpc::AppendEntries {
                return batcher.call(inner, ttl).await;
            }
            let mut request = tonic::Request::new(inner);
            // Also tells the server, which drops the call when the sender has given up on it.
            request.set_timeout(ttl);
            let reply = match rpc {
                Rpc::Vote => client.vote(request).await,
                _ => client.install_snapshot(request).await,
            };
            reply.map(|r| r.into_inner().payload)
        };
        let reply = match tokio::time::timeout(ttl, call).await {
            Err(elapsed) => {
                let e = AnyError::new(&elapsed).add_context(|| format!("deadline {ttl:?}"));
                return Err(self.unreachable(rpc, e));
            }
            Ok(Err(status)) => return Err(self.status_error(rpc, &status)),
            Ok(Ok(payload)) => payload,
        };
        // Whatever the payload says, the peer is up and answering.
        self.network.record_contact(self.target);

        let result: Result<Resp, RaftError<NodeId, E>> = codec::decode(rpc.reply_name(), &reply)
            .map_err(|e| {
                RPCError::Network(NetworkError::from(
                    AnyError::new(&e).add_context(|| self.context(rpc)),
                ))
            })?;
        result.map_err(|raft_error| {
            RPCError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.node.clone(),
                raft_error,
            ))
        })
    }

    /// Encodes a request; a failure is a `NetworkError` (`?` makes it `RPCError::Network`).
    fn encode<T: Serialize>(&self, rpc: Rpc, request: &T) -> Result<Vec<u8>, NetworkError> {
        codec::encode(rpc.request_name(), request)
            .map_err(|e| NetworkError::from(AnyError::new(&e).add_context(|| self.context(rpc))))
    }

    /// A gRPC status as openraft should see it: "cannot reach it now, back off" for anything
    /// about connectivity or the group's presence, "bad bytes" for payload failures.
    fn status_error<E: std::error::Error>(
        &self,
        rpc: Rpc,
        status: &Status,
    ) -> RPCError<NodeId, Node, RaftError<NodeId, E>> {
        let e = AnyError::new(status).add_context(|| self.context(rpc));
        match status.code() {
            // The server could not decode our payload, or a message broke the size cap:
            // resending the same bytes soon will not help, but neither will backing off.
            Code::InvalidArgument | Code::OutOfRange | Code::DataLoss | Code::Internal => {
                RPCError::Network(NetworkError::from(e))
            }
            // UNAVAILABLE (connect refused/timeout, a blocked sender, GOAWAY), NOT_FOUND (the
            // group is not on that node yet), DEADLINE_EXCEEDED, CANCELLED, UNKNOWN (h2
            // errors), UNIMPLEMENTED (not a Cairn node).
            _ => RPCError::Unreachable(Unreachable::from(e)),
        }
    }

    fn unreachable<E: std::error::Error>(
        &self,
        rpc: Rpc,
        e: AnyError,
    ) -> RPCError<NodeId, Node, RaftError<NodeId, E>> {
        RPCError::Unreachable(Unreachable::from(e.add_context(|| self.context(rpc))))
    }

    /// Sends `snapshot` chunk by chunk as its file grows; see the module docs.
    async fn stream_snapshot<C>(
        &mut self,
        vote: Vote<NodeId>,
        snapshot: Snapshot<TypeConfig>,
        mut cancel: std::pin::Pin<&mut C>,
        option: &RPCOption,
        progress: &super::snapshot_progress::SendProgress,
    ) -> Result<Sent, StreamingError<TypeConfig, Fatal<NodeId>>>
    where
        C: Future<Output = ReplicationClosed>,
    {
        // No chunk larger than the throttle's burst (a quarter second at the rate): a slow
        // rate then paces many small chunks evenly instead of one large one in a single
        // burst, and progress shows as it goes.
        let burst = self.network.snapshot_burst_bytes();
        let chunk_size = option
            .snapshot_chunk_size()
            .unwrap_or(DEFAULT_SNAPSHOT_CHUNK)
            .min(if burst == 0 {
                usize::MAX
            } else {
                burst as usize
            })
            .max(4096);
        let file = &snapshot.snapshot;
        let mut offset = 0u64;
        let mut failures = 0u32;
        let mut unreachable_backoff: Option<Backoff> = None;
        loop {
            let chunk = tokio::select! {
                biased;
                closed = &mut cancel => return Err(closed.into()),
                chunk = file.read_chunk(offset, chunk_size) => chunk,
            };
            let chunk = chunk.map_err(|e| {
                NetworkError::new(
                    &AnyError::new(&e).add_context(|| self.context(Rpc::InstallSnapshot)),
                )
            })?;
            if let Some(total) = chunk.total {
                progress.total(total);
            }
            let len = chunk.data.len() as u64;
            let done = chunk.total == Some(offset + len);
            tokio::select! {
                biased;
                closed = &mut cancel => return Err(closed.into()),
                () = self.network.snapshot_throttle().acquire(len) => {}
            }
            let chunk_option = match chunk.total {
                Some(total) if done => RPCOption::new(
                    option.hard_ttl() + Duration::from_secs(total / INSTALL_BYTES_PER_SEC),
                ),
                _ => option.clone(),
            };
            let req = InstallSnapshotRequest {
                vote,
                meta: snapshot.meta.clone(),
                offset,
                data: chunk.data,
                done,
            };
            let sent = tokio::select! {
                biased;
                closed = &mut cancel => return Err(closed.into()),
                sent = self.install_snapshot(req, chunk_option) => sent,
            };
            let err = match sent {
                Ok(resp) => {
                    failures = 0;
                    unreachable_backoff = None;
                    if resp.vote > vote {
                        return Ok(Sent::Superseded(SnapshotResponse::new(resp.vote)));
                    }
                    progress.sent(offset + len);
                    if done {
                        return Ok(Sent::Done(SnapshotResponse::new(resp.vote)));
                    }
                    offset += len;
                    continue;
                }
                Err(RPCError::PayloadTooLarge(too_large)) => {
                    // The same chunk would be refused again: nothing to retry.
                    let e = AnyError::error(format!("a snapshot chunk is too large: {too_large}"));
                    return Err(NetworkError::new(&e).into());
                }
                Err(RPCError::RemoteError(RemoteError {
                    target,
                    target_node,
                    source: RaftError::Fatal(fatal),
                })) => {
                    return Err(RemoteError {
                        target,
                        target_node,
                        source: fatal,
                    }
                    .into());
                }
                Err(RPCError::RemoteError(RemoteError {
                    source: RaftError::APIError(InstallSnapshotError::SnapshotMismatch(mismatch)),
                    ..
                })) => {
                    // The target lost the stream (it restarted, or took another snapshot):
                    // start over; the file still holds every byte.
                    tracing::warn!(group = self.group, target = self.target, %mismatch, "snapshot mismatch, sending again from the start");
                    offset = 0;
                    failures = 0;
                    unreachable_backoff = None;
                    continue;
                }
                Err(
                    e @ (RPCError::Timeout(_) | RPCError::Network(_) | RPCError::Unreachable(_)),
                ) => e,
            };
            failures += 1;
            let delay = match &err {
                RPCError::Unreachable(_) => unreachable_backoff
                    .get_or_insert_with(|| self.backoff())
                    .next()
                    .unwrap_or(SNAPSHOT_RETRY_MAX),
                _ => (SNAPSHOT_RETRY_BASE * 2u32.pow(failures.min(5) - 1)).min(SNAPSHOT_RETRY_MAX),
            };
            if failures >= SNAPSHOT_CHUNK_TRIES {
                return Err(match err {
                    RPCError::Timeout(e) => e.into(),
                    RPCError::Unreachable(e) => e.into(),
                    RPCError::Network(e) => e.into(),
                    // Sorted out above.
                    other => NetworkError::new(&other).into(),
                });
            }
            tracing::debug!(group = self.group, target = self.target, offset, error = %err, "retrying a snapshot chunk");
            tokio::select! {
                biased;
                closed = &mut cancel => return Err(closed.into()),
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    fn context(&self, rpc: Rpc) -> String {
        format!(
            "{rpc} of raft group {} to node {} at {}",
            self.group, self.target, self.node.grpc_addr
        )
    }
}

impl RaftNetwork<TypeConfig> for GroupNetwork {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        let entries = rpc.entries.len();
        let payload = self.encode(Rpc::AppendEntries, &rpc)?;
        if payload.len() > MAX_MESSAGE_BYTES - FRAMING_HEADROOM && entries > 1 {
            // openraft resends with at most this many entries (one oversized entry is sent as
            // it is and fails on the size cap).
            let hint = (entries / 2).max(1) as u64;
            return Err(RPCError::PayloadTooLarge(
                PayloadTooLarge::new_entries_hint(hint),
            ));
        }
        self.call(Rpc::AppendEntries, payload, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>> {
        let payload = self.encode(Rpc::Vote, &rpc)?;
        self.call(Rpc::Vote, payload, &option).await
    }

    /// The whole snapshot, in chunks of `snapshot_max_chunk_size` through `install_snapshot`,
    /// read from its file as the producer writes it, paced by the node's snapshot rate and
    /// recorded in its snapshot progress; see the module docs.
    async fn full_snapshot(
        &mut self,
        vote: Vote<NodeId>,
        snapshot: Snapshot<TypeConfig>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<NodeId>, StreamingError<TypeConfig, Fatal<NodeId>>> {
        let progress = self
            .network
            .snapshot_progress()
            .begin_send(self.group, self.target);
        let started = Instant::now();
        let id = snapshot.meta.snapshot_id.clone();
        tracing::info!(group = self.group, target = self.target, snapshot = %id, "sending a snapshot");
        let cancel = std::pin::pin!(cancel);
        match self
            .stream_snapshot(vote, snapshot, cancel, &option, &progress)
            .await
        {
            Ok(Sent::Done(resp)) => {
                tracing::info!(group = self.group, target = self.target, snapshot = %id, elapsed = ?started.elapsed(), "snapshot sent and installed");
                progress.finish();
                Ok(resp)
            }
            Ok(Sent::Superseded(resp)) => {
                progress.fail(format!("the target has a higher vote: {}", resp.vote));
                Ok(resp)
            }
            Err(e) => {
                tracing::warn!(group = self.group, target = self.target, snapshot = %id, error = %e, "sending a snapshot failed");
                progress.fail(&e);
                Err(e)
            }
        }
    }

    /// One chunk, called by `full_snapshot` for each in turn (and retried there).
    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        let payload = self.encode(Rpc::InstallSnapshot, &rpc)?;
        self.call(Rpc::InstallSnapshot, payload, &option).await
    }
}
