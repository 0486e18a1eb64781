//! `PeerBatcher`: coalesces the AppendEntries that this node's groups send to one peer into
//! `AppendEntriesBatch` calls, so a peer gets one gRPC call per round instead of one per group
//! per message.
//!
//! ```text
//!  group 7 ─┐                       ┌─ call in flight (≤ MAX_IN_FLIGHT per peer) ──► peer
//!  group 8 ─┼─► queue ─► run loop ──┤
//!  group 9 ─┘   (unbounded)         └─ when a call slot frees: everything queued since,
//!                                      up to MAX_BATCH_BYTES, goes as the next batch
//! ```
//!
//! No timer: a message that finds a free call slot goes at once, alone; messages only wait
//! while both slots are busy, which is exactly when they can share a call. Under ingest every
//! shard group replicates to the same two peers, so their appends (and their followers' log
//! syncs, which group-commit anyway) travel together; an idle cluster's heartbeats of all
//! groups also go in few calls.
//!
//! Each message keeps its own deadline: its caller stops waiting at its own `hard_ttl`, the
//! batch call carries the latest deadline of its items, and an item whose caller has already
//! given up is dropped before sending. A failed batch call fails each item with its status;
//! an item the server could not deliver fails with the status the unary call would have had.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cairn_proto::raft::raft_transport_client::RaftTransportClient;
use cairn_proto::raft::{RaftBatchRequest, RaftRequest};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tonic::{Code, Status};

use super::PeerChannel;

/// Batch calls in flight to one peer at a time. Two keep a slow call (a follower's fsync)
/// from holding up every group, while still letting messages queue and share calls.
const MAX_IN_FLIGHT: usize = 2;
/// A batch stops growing at this many payload bytes (one larger message still goes alone),
/// well under the transport's message cap.
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

type Reply = Result<Bytes, Status>;

/// Batch calls made and requests they carried, over all peers (for `/metrics`).
#[derive(Debug, Default)]
pub struct BatchCounters {
    pub calls: AtomicU64,
    pub requests: AtomicU64,
}

/// One message waiting for a batch.
struct Pending {
    request: RaftRequest,
    deadline: Instant,
    reply: oneshot::Sender<Reply>,
}

/// The AppendEntries queue to one peer; see the module docs. Made by
/// `GrpcRaftNetwork::batcher`, one per peer address, shared by every group.
pub(crate) struct PeerBatcher {
    queue: mpsc::UnboundedSender<Pending>,
}

impl PeerBatcher {
    /// Starts the queue's task (it ends when the batcher is dropped). Needs a Tokio runtime.
    pub(crate) fn new(
        client: RaftTransportClient<PeerChannel>,
        counters: Arc<BatchCounters>,
    ) -> PeerBatcher {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(client, rx, counters));
        PeerBatcher { queue }
    }

    /// Sends one AppendEntries request with the next batch to this peer and returns the reply
    /// payload, or the status the item (or the whole batch call) failed with. The caller
    /// bounds the wait with its own timeout; `ttl` is how long the reply is still wanted.
    pub(crate) async fn call(&self, request: RaftRequest, ttl: Duration) -> Reply {
        let (reply, rx) = oneshot::channel();
        let pending = Pending {
            request,
            deadline: Instant::now() + ttl,
            reply,
        };
        self.queue
            .send(pending)
            .map_err(|_| Status::unavailable("the raft batch queue to this peer has stopped"))?;
        rx.await
            .map_err(|_| Status::cancelled("the raft batch call was dropped"))?
    }
}

async fn run(
    client: RaftTransportClient<PeerChannel>,
    mut rx: mpsc::UnboundedReceiver<Pending>,
    counters: Arc<BatchCounters>,
) {
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    // A message taken from the queue that did not fit the previous batch.
    let mut held: Option<Pending> = None;
    loop {
        let first = match held.take() {
            Some(p) => p,
            None => match rx.recv().await {
                Some(p) => p,
                None => return,
            },
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut bytes = first.request.payload.len();
        let mut batch = vec![first];
        while let Ok(next) = rx.try_recv() {
            let len = next.request.payload.len();
            if bytes + len > MAX_BATCH_BYTES {
                held = Some(next);
                break;
            }
            bytes += len;
            batch.push(next);
        }
        // Callers that gave up (deadline passed, or their task was dropped) get nothing.
        batch.retain(|p| !p.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        counters.calls.fetch_add(1, Ordering::Relaxed);
        counters
            .requests
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let client = client.clone();
        tokio::spawn(async move {
            send(client, batch).await;
            drop(slot);
        });
    }
}

/// One `AppendEntriesBatch` call; answers every item's caller.
async fn send(mut client: RaftTransportClient<PeerChannel>, batch: Vec<Pending>) {
    let now = Instant::now();
    let timeout = batch
        .iter()
        .map(|p| p.deadline.saturating_duration_since(now))
        .max()
        .unwrap_or_default();
    let (requests, waiting): (Vec<RaftRequest>, Vec<oneshot::Sender<Reply>>) =
        batch.into_iter().map(|p| (p.request, p.reply)).unzip();
    if timeout.is_zero() {
        for w in waiting {
            let _ = w.send(Err(Status::deadline_exceeded(
                "deadline passed while queued",
            )));
        }
        return;
    }
    let n = requests.len();
    let mut request = tonic::Request::new(RaftBatchRequest { requests });
    // Also tells the server, which drops the call when the sender has given up on it.
    request.set_timeout(timeout);
    let result = tokio::time::timeout(timeout, client.append_entries_batch(request)).await;
    let replies = match result {
        Err(_) => Err(Status::deadline_exceeded(format!(
            "no AppendEntriesBatch reply within {timeout:?}"
        ))),
        Ok(Err(status)) => Err(status),
        Ok(Ok(reply)) => {
            let replies = reply.into_inner().replies;
            if replies.len() == n {
                Ok(replies)
            } else {
                Err(Status::internal(format!(
                    "AppendEntriesBatch of {n} requests got {} replies",
                    replies.len()
                )))
            }
        }
    };
    match replies {
        Ok(replies) => {
            for (w, r) in waiting.into_iter().zip(replies) {
                let item = if r.code == 0 {
                    Ok(r.payload)
                } else {
                    Err(Status::new(Code::from_i32(r.code), r.message))
                };
                let _ = w.send(item);
            }
        }
        Err(status) => {
            for w in waiting {
                let _ = w.send(Err(Status::new(
                    status.code(),
                    status.message().to_string(),
                )));
            }
        }
    }
}
