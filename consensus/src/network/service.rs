//! `RaftTransportService`: the server side of the Raft transport. One per node; it decodes a
//! `RaftRequest` (alone, or each one of an `AppendEntriesBatch`), routes it by group id
//! through the node's [`RaftRegistry`] and hands it to that group's `Raft`, then encodes
//! whatever the `Raft` returned (response or `RaftError`) into the `RaftReply`.

use std::future::Future;

use cairn_proto::raft::raft_transport_server::{RaftTransport, RaftTransportServer};
use cairn_proto::raft::{RaftBatchReply, RaftBatchRequest, RaftItemReply, RaftReply, RaftRequest};
use openraft::Raft;
use openraft::raft::InstallSnapshotRequest;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::{Request, Response, Status};

use super::codec;
use super::registry::RaftRegistry;
use super::{GrpcRaftNetwork, MAX_MESSAGE_BYTES, Rpc};
use crate::type_config::TypeConfig;

/// The tonic `RaftTransport` service over the node's Raft groups.
pub struct RaftTransportService<R: RaftRegistry> {
    registry: R,
    network: GrpcRaftNetwork,
}

impl<R: RaftRegistry> RaftTransportService<R> {
    /// Serves `registry`'s groups, and records incoming RPCs as contact with their sender
    /// (`GrpcRaftNetwork::last_contact`). Test faults are the server layer's business
    /// (`GrpcRaftNetwork::server_layer`).
    pub fn new(registry: R, network: GrpcRaftNetwork) -> RaftTransportService<R> {
        RaftTransportService { registry, network }
    }

    /// The tonic server for `Server::add_service`, accepting messages up to
    /// [`MAX_MESSAGE_BYTES`] (tonic's default of 4 MiB is below a full AppendEntries batch).
    pub fn into_server(self) -> RaftTransportServer<Self> {
        RaftTransportServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// Decode, route, call, encode: the same for the three rpcs and each batch item.
    async fn handle<Req, Resp, F, Fut>(
        &self,
        rpc: Rpc,
        request: RaftRequest,
        call: F,
    ) -> Result<RaftReply, Status>
    where
        Req: DeserializeOwned,
        Resp: Serialize,
        F: FnOnce(Raft<TypeConfig>, Req) -> Fut,
        Fut: Future<Output = Resp>,
    {
        let RaftRequest {
            group,
            from,
            payload,
        } = request;
        self.network.record_contact(from);
        let Some(raft) = self.registry.group(group) else {
            tracing::debug!(group, from, %rpc, "raft rpc for a group not on this node");
            return Err(Status::not_found(format!(
                "raft group {group} is not on this node ({rpc} from node {from})"
            )));
        };
        let req: Req = codec::decode(rpc.request_name(), &payload).map_err(|e| {
            Status::invalid_argument(format!("{rpc} for group {group} from node {from}: {e}"))
        })?;
        // The `Raft`'s answer, `Ok` or `Err(RaftError)`, is the reply: a remote Raft error is
        // data for the sender, not a transport failure.
        let result = call(raft, req).await;
        let payload = codec::encode(rpc.reply_name(), &result)
            .map_err(|e| Status::internal(format!("{rpc} for group {group}: {e}")))?;
        Ok(RaftReply {
            payload: payload.into(),
        })
    }
}

#[tonic::async_trait]
impl<R: RaftRegistry> RaftTransport for RaftTransportService<R> {
    async fn append_entries(
        &self,
        request: Request<RaftRequest>,
    ) -> Result<Response<RaftReply>, Status> {
        self.handle(Rpc::AppendEntries, request.into_inner(), append)
            .await
            .map(Response::new)
    }

    /// Several groups' AppendEntries from one peer (its `PeerBatcher`), handled concurrently:
    /// each gets its own reply, in order, whether it succeeded or not.
    async fn append_entries_batch(
        &self,
        request: Request<RaftBatchRequest>,
    ) -> Result<Response<RaftBatchReply>, Status> {
        let requests = request.into_inner().requests;
        let handled = futures_util::future::join_all(
            requests
                .into_iter()
                .map(|r| self.handle(Rpc::AppendEntries, r, append)),
        )
        .await;
        let replies = handled
            .into_iter()
            .map(|r| match r {
                Ok(reply) => RaftItemReply {
                    code: 0,
                    message: String::new(),
                    payload: reply.payload,
                },
                Err(status) => RaftItemReply {
                    code: status.code() as i32,
                    message: status.message().to_string(),
                    payload: Default::default(),
                },
            })
            .collect();
        Ok(Response::new(RaftBatchReply { replies }))
    }

    async fn vote(&self, request: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        self.handle(Rpc::Vote, request.into_inner(), |raft, req| async move {
            raft.vote(req).await
        })
        .await
        .map(Response::new)
    }

    /// One chunk of a snapshot (openraft's chunked transport); the `Raft` reassembles them
    /// into a file and installs it after the last. Each chunk is noted in the node's
    /// snapshot progress (`GrpcRaftNetwork::snapshot_receives`).
    async fn install_snapshot(
        &self,
        request: Request<RaftRequest>,
    ) -> Result<Response<RaftReply>, Status> {
        let request = request.into_inner();
        let (group, from) = (request.group, request.from);
        let progress = self.network.snapshot_progress().clone();
        self.handle(
            Rpc::InstallSnapshot,
            request,
            |raft, req: InstallSnapshotRequest<TypeConfig>| async move {
                let (offset, len, done) = (req.offset, req.data.len() as u64, req.done);
                let result = raft.install_snapshot(req).await;
                let error = result.as_ref().err().map(ToString::to_string);
                progress.received(group, from, offset, len, done, error);
                result
            },
        )
        .await
        .map(Response::new)
    }
}

/// The call behind AppendEntries, unary or batched.
async fn append(
    raft: Raft<TypeConfig>,
    req: openraft::raft::AppendEntriesRequest<TypeConfig>,
) -> Result<
    openraft::raft::AppendEntriesResponse<crate::type_config::NodeId>,
    openraft::error::RaftError<crate::type_config::NodeId>,
> {
    raft.append_entries(req).await
}
