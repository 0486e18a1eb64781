//! `Proposer`: submits the write batches bound for one shard group in rounds, oldest first.
//!
//! ```text
//!  propose(batch, order) ──► queue ──► the group's proposer task:
//!     round: take every pending batch ─► sort by `order` (its oldest sample) ─► client_write_ff
//!            each, in that order ─► (another task) wait until the round is applied or times
//!            out ─► answer each batch
//!     at most ROUNDS_IN_FLIGHT rounds unapplied; batches arriving meanwhile make up the next
//! ```
//! A client loading history with several concurrent requests sends consecutive time slices
//! that reach the leader in any order. Proposed as they come, a slice applied after a later one
//! lands in every series' out-of-order buffer, costing extra chunks on disk and merges at
//! read time; ordering each round by its oldest sample turns most of them into plain appends.
//! It is the single-node WAL's group commit again, now in front of Raft.

use std::time::Duration;

use openraft::Raft;
use openraft::error::ClientWriteError;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::member::NodeId;
use crate::type_config::{ApplyReport, Command, TypeConfig};

/// Rounds of one shard submitted but not yet applied. One would leave the log idle while a
/// round is applied; two keep it busy, and batches arriving meanwhile still gather in order.
const ROUNDS_IN_FLIGHT: usize = 2;

struct Pending {
    batch: bytes::Bytes,
    order: i64,
    reply: oneshot::Sender<Result<ApplyReport>>,
}

/// The proposal queue of one group; its task runs while a clone of this exists.
#[derive(Clone)]
pub(crate) struct Proposer {
    group: u64,
    round_timeout: Duration,
    tx: mpsc::UnboundedSender<Pending>,
    /// While true, no new round starts (batches queue): a leader handing over its leadership
    /// keeps its log still so that its successor's is complete.
    hold: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl Proposer {
    /// Starts the proposer task of `raft` (group `group` on node `node`). `round_timeout`
    /// bounds how long a round waits to be applied: a group without quorum must not hold back
    /// later rounds forever. Must be called inside a Tokio runtime.
    pub(crate) fn start(
        raft: Raft<TypeConfig>,
        group: u64,
        node: NodeId,
        round_timeout: Duration,
    ) -> Proposer {
        let (tx, rx) = mpsc::unbounded_channel();
        let (hold, held) = tokio::sync::watch::channel(false);
        tokio::spawn(run(raft, group, node, rx, held, round_timeout));
        Proposer {
            group,
            round_timeout,
            tx,
            hold: std::sync::Arc::new(hold),
        }
    }

    /// Holds new rounds back (`true`) or lets them go again.
    pub(crate) fn hold(&self, hold: bool) {
        self.hold.send_replace(hold);
    }

    /// Proposes `batch` (ordered in its round by `order`, its oldest sample) and waits until
    /// it is applied on this node, refused, or given up on.
    pub(crate) async fn propose(&self, batch: bytes::Bytes, order: i64) -> Result<ApplyReport> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            batch,
            order,
            reply,
        };
        if self.tx.send(pending).is_err() {
            return Err(Error::Stopped {
                group: self.group,
                source: None,
            });
        }
        // A dropped reply: the round timed out (or the group stopped). The batch may still
        // commit later; a retry is idempotent.
        answer.await.unwrap_or(Err(Error::Timeout {
            group: self.group,
            what: "applying the write",
            after: self.round_timeout,
        }))
    }
}

/// The proposer task: one round at a time until every sender is gone.
async fn run(
    raft: Raft<TypeConfig>,
    group: u64,
    node: NodeId,
    mut rx: mpsc::UnboundedReceiver<Pending>,
    mut held: tokio::sync::watch::Receiver<bool>,
    round_timeout: Duration,
) {
    let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(ROUNDS_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        if held.wait_for(|h| !*h).await.is_err() {
            return;
        }
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let mut round = vec![first];
        while let Ok(p) = rx.try_recv() {
            round.push(p);
        }
        // Stable: batches starting at the same time keep their arrival order.
        round.sort_by_key(|p| p.order);
        let mut waiting = Vec::with_capacity(round.len());
        for p in round {
            // Its writer gave up (timed out) already: it answers the client with an error, so
            // the batch must not be applied behind its back.
            if p.reply.is_closed() {
                continue;
            }
            match raft
                .client_write_ff(Command::Write { batch: p.batch })
                .await
            {
                Ok(applied) => waiting.push((applied, p.reply)),
                Err(fatal) => {
                    let _ = p.reply.send(Err(Error::fatal(group, fatal)));
                }
            }
        }
        let answers = waiting.into_iter().map(|(applied, reply)| async move {
            let outcome = match applied.await {
                Ok(Ok(r)) => Ok(r.data),
                Ok(Err(ClientWriteError::ForwardToLeader(f))) => Err(Error::NotLeader {
                    group,
                    node,
                    leader: f.leader_id,
                }),
                Ok(Err(ClientWriteError::ChangeMembershipError(e))) => {
                    Err(Error::membership(group, e))
                }
                Err(_) => Err(Error::Stopped {
                    group,
                    source: None,
                }),
            };
            let _ = reply.send(outcome);
        });
        // On timeout the remaining replies are dropped: their writers see a timeout and answer
        // 503 (the batch may still commit later; a retry is idempotent).
        let answers: Vec<_> = answers.collect();
        tokio::spawn(async move {
            let _ =
                tokio::time::timeout(round_timeout, futures_util::future::join_all(answers)).await;
            drop(permit);
        });
    }
}
