//! `Proposer`: submits the write batches bound for one shard group in rounds, oldest first.
//!
//! ```text
//!  write parts for shard S ──► queue S ──► one task per shard:
//!     round: take every pending part ─► sort by oldest sample ─► client_write_ff each, in
//!            that order ─► (another task) wait until the round is applied or times out ─►
//!            answer each part
//!     at most ROUNDS_IN_FLIGHT rounds unapplied; parts arriving meanwhile make up the next
//! ```
//! A client loading history with several concurrent requests sends consecutive time slices
//! that reach the leader in any order. Proposed as they come, a slice applied after a later one
//! lands in every series' out-of-order buffer, costing extra chunks on disk and merges at
//! read time; ordering each round by its oldest sample turns most of them into plain appends.
//! It is the single-node WAL's group commit again, now in front of Raft.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_consensus::{ApplyReport, Command, NodeId, RaftGroups};
use openraft::error::ClientWriteError;
use tokio::sync::{mpsc, oneshot};

/// Rounds of one shard submitted but not yet applied. One would leave the log idle while a
/// round is applied; two keep it busy, and parts arriving meanwhile still gather in order.
const ROUNDS_IN_FLIGHT: usize = 2;

/// What became of one proposed batch.
#[derive(Debug)]
pub enum Proposed {
    /// Committed on a majority and applied here.
    Applied(ApplyReport),
    /// This node does not lead the shard (Raft's hint of who does, if any).
    NotLeader(Option<NodeId>),
    /// Not applied within the round's time, or the group failed: safe to retry.
    Failed(String),
}

struct Pending {
    batch: Vec<u8>,
    min_t: i64,
    reply: oneshot::Sender<Proposed>,
}

/// One queue and task per shard group, started on the first write to it.
pub struct Proposer {
    groups: Arc<RaftGroups>,
    round_timeout: Duration,
    queues: Mutex<HashMap<u32, mpsc::UnboundedSender<Pending>>>,
}

impl Proposer {
    /// `round_timeout` bounds how long a round waits to be applied (a shard without quorum
    /// must not hold back later rounds forever).
    pub fn new(groups: Arc<RaftGroups>, round_timeout: Duration) -> Self {
        Proposer {
            groups,
            round_timeout,
            queues: Mutex::new(HashMap::new()),
        }
    }

    /// Proposes `batch` (whose oldest sample is at `min_t`) to the local replica of `shard`
    /// and waits until it is applied, refused or given up on.
    pub async fn propose(&self, shard: u32, batch: Vec<u8>, min_t: i64) -> Proposed {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            batch,
            min_t,
            reply,
        };
        {
            let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
            let tx = queues.entry(shard).or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(run(self.groups.clone(), shard, rx, self.round_timeout));
                tx
            });
            if let Err(mpsc::error::SendError(p)) = tx.send(pending) {
                drop(p);
                queues.remove(&shard);
                return Proposed::Failed("the shard's proposer stopped".into());
            }
        }
        answer
            .await
            .unwrap_or_else(|_| Proposed::Failed("not committed in time".into()))
    }
}

/// The shard's proposer task: one round at a time until every sender is gone.
async fn run(
    groups: Arc<RaftGroups>,
    shard: u32,
    mut rx: mpsc::UnboundedReceiver<Pending>,
    round_timeout: Duration,
) {
    let in_flight = Arc::new(tokio::sync::Semaphore::new(ROUNDS_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let mut round = vec![first];
        while let Ok(p) = rx.try_recv() {
            round.push(p);
        }
        // Stable: parts starting at the same time keep their arrival order.
        round.sort_by_key(|p| p.min_t);
        let Some(raft) = groups.shard(shard) else {
            for p in round {
                let _ = p.reply.send(Proposed::NotLeader(None));
            }
            continue;
        };
        let mut waiting = Vec::with_capacity(round.len());
        for p in round {
            // Its writer gave up (timed out) already: it answers the client with an error, so
            // the batch must not be applied behind its back.
            if p.reply.is_closed() {
                continue;
            }
            match raft
                .client_write_ff(Command::Write {
                    batch: p.batch.into(),
                })
                .await
            {
                Ok(applied) => waiting.push((applied, p.reply)),
                Err(fatal) => {
                    let _ = p.reply.send(Proposed::Failed(fatal.to_string()));
                }
            }
        }
        let answers = waiting.into_iter().map(|(applied, reply)| async move {
            let outcome = match applied.await {
                Ok(Ok(r)) => Proposed::Applied(r.data),
                Ok(Err(ClientWriteError::ForwardToLeader(f))) => Proposed::NotLeader(f.leader_id),
                Ok(Err(e)) => Proposed::Failed(e.to_string()),
                Err(_) => Proposed::Failed("the shard group stopped".into()),
            };
            let _ = reply.send(outcome);
        });
        // On timeout the remaining replies are dropped: their writers see "not committed in
        // time" and answer 503 (the batch may still commit later; a retry is idempotent).
        let answers: Vec<_> = answers.collect();
        tokio::spawn(async move {
            let _ =
                tokio::time::timeout(round_timeout, futures_util::future::join_all(answers)).await;
            drop(permit);
        });
    }
}
