//! The node's gRPC server: the Raft transport (from `cairn-consensus`) and the `Cluster`
//! service (join, forwarded writes and meta key-value changes, read index, remote reads) on
//! one listener.

use std::sync::Arc;
use std::time::Duration;

use cairn_consensus::Node;
use cairn_proto::cluster::cluster_server::{Cluster as ClusterRpc, ClusterServer};
use cairn_proto::cluster::{
    CampaignReply, CampaignRequest, JoinReply, JoinRequest, LabelsReply, LabelsRequest, PingReply,
    PingRequest, ProposeMetaReply, ProposeMetaRequest, ReadBucketsReply, ReadBucketsRequest,
    ReadIndexReply, ReadIndexRequest, ReadSamplesReply, ReadSamplesRequest, SelectReply,
    SelectRequest, TierBoundsReply, TierBoundsRequest, TransferLeaderReply, TransferLeaderRequest,
    WriteReply, WriteRequest,
};
use tonic::{Request, Response, Status};

use super::Cluster;

/// How long a forwarded write may wait on the leader (the sender gives up sooner anyway).
const FORWARDED_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves both services on `listener` until `shutdown` turns true.
pub fn serve(
    cluster: Arc<Cluster>,
    listener: tokio::net::TcpListener,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let raft = cluster.groups.network().service(cluster.groups.clone());
    // Test faults (in builds with them) refuse calls from blocked peers, for both services.
    let layer = cluster.groups.network().server_layer();
    let rpc = ClusterServer::new(ClusterService { cluster })
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|s| *s).await;
        };
        let served = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(Duration::from_secs(10)))
            .layer(layer)
            .add_service(raft)
            .add_service(rpc)
            .serve_with_incoming_shutdown(incoming, stop)
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the gRPC server failed");
        }
    });
}

struct ClusterService {
    cluster: Arc<Cluster>,
}

impl ClusterService {
    fn leader_hint(&self, shard: u32) -> u64 {
        let local = self.cluster.groups.shard(shard);
        self.cluster.leader_of(shard, local.as_ref()).unwrap_or(0)
    }
}

#[tonic::async_trait]
impl ClusterRpc for ClusterService {
    async fn join(&self, req: Request<JoinRequest>) -> Result<Response<JoinReply>, Status> {
        let r = req.into_inner();
        if r.node_id == 0 || r.grpc_addr.is_empty() {
            return Err(Status::invalid_argument(
                "a joining node needs a node id of at least 1 and a gRPC address",
            ));
        }
        let node = Node {
            http_addr: r.http_addr,
            grpc_addr: r.grpc_addr,
        };
        match self.cluster.groups.meta().admit(r.node_id, node).await {
            Ok(()) => {
                tracing::info!(node = r.node_id, "node joined the cluster");
                Ok(Response::new(JoinReply {
                    accepted: true,
                    ..Default::default()
                }))
            }
            Err(e) => match e.leader_hint() {
                Some(l) if l != self.cluster.node_id() => {
                    let addr = self
                        .cluster
                        .state()
                        .nodes
                        .get(&l)
                        .map(|n| n.grpc_addr.clone())
                        .unwrap_or_default();
                    Ok(Response::new(JoinReply {
                        accepted: false,
                        leader_hint: l,
                        leader_grpc_addr: addr,
                    }))
                }
                _ => Err(Status::unavailable(e.to_string())),
            },
        }
    }

    async fn write(&self, req: Request<WriteRequest>) -> Result<Response<WriteReply>, Status> {
        let r = req.into_inner();
        let Some(g) = self.cluster.groups.shard(r.shard) else {
            return Ok(Response::new(WriteReply {
                not_leader: true,
                leader_hint: self.leader_hint(r.shard),
                ..Default::default()
            }));
        };
        let proposed = tokio::time::timeout(FORWARDED_WRITE_TIMEOUT, g.propose(r.batch, r.min_t))
            .await
            .map_err(|_| Status::unavailable(format!("shard {}: no quorum", r.shard)))?;
        match proposed {
            Ok(report) => Ok(Response::new(WriteReply {
                not_leader: false,
                leader_hint: 0,
                written: report.written,
                duplicates: report.duplicates,
                rejected_too_old: report.rejected_too_old,
                rejected_conflict: report.rejected_conflict,
            })),
            Err(e @ cairn_consensus::Error::NotLeader { .. }) => Ok(Response::new(WriteReply {
                not_leader: true,
                leader_hint: e.leader_hint().unwrap_or_else(|| self.leader_hint(r.shard)),
                ..Default::default()
            })),
            Err(e) => Err(Status::unavailable(format!("shard {}: {e}", r.shard))),
        }
    }

    async fn select(&self, req: Request<SelectRequest>) -> Result<Response<SelectReply>, Status> {
        let r = req.into_inner();
        super::remote_read::serve_select(&self.cluster, r)
            .await
            .map(Response::new)
    }

    async fn read_samples(
        &self,
        req: Request<ReadSamplesRequest>,
    ) -> Result<Response<ReadSamplesReply>, Status> {
        let r = req.into_inner();
        super::remote_read::serve_read_samples(&self.cluster, r)
            .await
            .map(Response::new)
    }

    async fn read_buckets(
        &self,
        req: Request<ReadBucketsRequest>,
    ) -> Result<Response<ReadBucketsReply>, Status> {
        super::remote_buckets::serve_read_buckets(&self.cluster, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn tier_bounds(
        &self,
        req: Request<TierBoundsRequest>,
    ) -> Result<Response<TierBoundsReply>, Status> {
        super::remote_buckets::serve_tier_bounds(&self.cluster, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn labels(&self, req: Request<LabelsRequest>) -> Result<Response<LabelsReply>, Status> {
        let r = req.into_inner();
        super::remote_read::serve_labels(&self.cluster, r)
            .await
            .map(Response::new)
    }

    async fn ping(&self, req: Request<PingRequest>) -> Result<Response<PingReply>, Status> {
        let from = req.into_inner().from;
        // 0: a node that is not a member yet (asking for the shard count before joining).
        if from != 0 {
            self.cluster.groups.network().record_contact(from);
        }
        Ok(Response::new(PingReply {
            node_id: self.cluster.node_id(),
            shard_count: self.cluster.state().shards,
            leading: self
                .cluster
                .groups
                .local_shards()
                .iter()
                .filter(|g| g.is_leader())
                .map(|g| g.shard())
                .collect(),
        }))
    }

    async fn read_index(
        &self,
        req: Request<ReadIndexRequest>,
    ) -> Result<Response<ReadIndexReply>, Status> {
        let r = req.into_inner();
        let Some(g) = self.cluster.groups.shard(r.shard) else {
            return Ok(Response::new(ReadIndexReply {
                not_leader: true,
                leader_hint: self.leader_hint(r.shard),
                index: 0,
            }));
        };
        match g.read_index().await {
            Ok(index) => Ok(Response::new(ReadIndexReply {
                not_leader: false,
                leader_hint: 0,
                index,
            })),
            Err(e @ cairn_consensus::Error::NotLeader { .. }) => {
                Ok(Response::new(ReadIndexReply {
                    not_leader: true,
                    leader_hint: e.leader_hint().unwrap_or(0),
                    index: 0,
                }))
            }
            Err(e) => Err(Status::unavailable(format!("shard {}: {e}", r.shard))),
        }
    }

    async fn propose_meta(
        &self,
        req: Request<ProposeMetaRequest>,
    ) -> Result<Response<ProposeMetaReply>, Status> {
        use cairn_consensus::MetaCommand;
        let r = req.into_inner();
        let cmd: MetaCommand = serde_json::from_slice(&r.command)
            .map_err(|e| Status::invalid_argument(format!("meta command: {e}")))?;
        // Only what a node forwards on behalf of its clients or its shard leaders: the
        // cluster's shape and placement are the meta leader's own decisions.
        if !matches!(
            cmd,
            MetaCommand::Kv { .. } | MetaCommand::FinishMove { .. } | MetaCommand::Drain { .. }
        ) {
            return Err(Status::invalid_argument(
                "meta command: only Kv, FinishMove and Drain are forwarded",
            ));
        }
        let meta = self.cluster.groups.meta();
        let proposed = tokio::time::timeout(FORWARDED_WRITE_TIMEOUT, meta.propose(cmd))
            .await
            .map_err(|_| Status::unavailable("meta group: no quorum"))?;
        match proposed {
            Ok(()) => Ok(Response::new(ProposeMetaReply {
                not_leader: false,
                leader_hint: 0,
                applied: *meta.kv_watch().borrow(),
            })),
            Err(e @ cairn_consensus::Error::NotLeader { .. }) => {
                Ok(Response::new(ProposeMetaReply {
                    not_leader: true,
                    leader_hint: e.leader_hint().unwrap_or(0),
                    applied: 0,
                }))
            }
            Err(e) => Err(Status::unavailable(format!("meta group: {e}"))),
        }
    }

    async fn transfer_leader(
        &self,
        req: Request<TransferLeaderRequest>,
    ) -> Result<Response<TransferLeaderReply>, Status> {
        let r = req.into_inner();
        match self.cluster.transfer_leader(r.shard, r.to).await {
            Ok(leader) => Ok(Response::new(TransferLeaderReply { leader })),
            Err(e) => Err(Status::failed_precondition(e.naming_the_shard())),
        }
    }

    async fn campaign(
        &self,
        req: Request<CampaignRequest>,
    ) -> Result<Response<CampaignReply>, Status> {
        let shard = req.into_inner().shard;
        let g = self
            .cluster
            .groups
            .shard(shard)
            .ok_or_else(|| Status::not_found(format!("no replica of shard {shard} here")))?;
        g.campaign()
            .await
            .map_err(|e| Status::unavailable(format!("shard {shard}: {e}")))?;
        Ok(Response::new(CampaignReply {}))
    }
}
