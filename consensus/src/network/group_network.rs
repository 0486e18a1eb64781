//! The client side of the Raft transport for one group: `GroupNetworkFactory` (openraft's
//! `RaftNetworkFactory`, one per group) and `GroupNetwork` (its `RaftNetwork`, one per
//! target), which send over the node's shared channel to the target's `grpc_addr`.
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

use std::sync::Arc;

use cairn_proto::raft::RaftRequest;
use cairn_proto::raft::raft_transport_client::RaftTransportClient;
use openraft::AnyError;
use openraft::error::{
    Infallible, InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError,
    RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
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

    /// One chunk; openraft's default `full_snapshot` (the `Chunked` transport) slices the
    /// snapshot, calls this per chunk and retries failed chunks.
    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        let payload = self.encode(Rpc::InstallSnapshot, &rpc)?;
        self.call(Rpc::InstallSnapshot, payload, &option).await
    }
}
