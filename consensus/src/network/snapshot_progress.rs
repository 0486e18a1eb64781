//! `SnapshotProgress`: what this node's transport knows of the snapshots it sends and
//! receives, per (group, peer): the one in flight, else the last one, with its bytes so far,
//! its total once known, when it started and how it ended. For status pages and the
//! rebalancer's view of a move; nothing here decides anything.
//!
//! ```text
//!  GroupNetwork::full_snapshot ──begin_send──► SendProgress ─sent/total/finish/fail─► sends
//!  RaftTransportService::install_snapshot ──received(chunk, result)──────────────► receives
//!  GrpcRaftNetwork::snapshot_sends() / snapshot_receives() ◄── copies, by group then peer
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::type_config::NodeId;

/// One snapshot this node sends (or sent) to `target` for `group`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotSend {
    pub group: u64,
    pub target: NodeId,
    /// Bytes the target acknowledged.
    pub bytes_sent: u64,
    /// The snapshot's length, once its producer is done.
    pub total: Option<u64>,
    /// Wall-clock start, milliseconds since the Unix epoch.
    pub started_ms: u64,
    /// Every byte sent and the target's last reply received.
    pub finished: bool,
    /// Why it stopped early (`finished` is then false).
    pub error: Option<String>,
}

/// One snapshot this node receives (or received) from `from` for `group`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotReceive {
    pub group: u64,
    pub from: NodeId,
    /// Bytes received, up to the end of the last chunk accepted.
    pub bytes_received: u64,
    /// Wall-clock start, milliseconds since the Unix epoch.
    pub started_ms: u64,
    /// The last chunk arrived and the snapshot was installed.
    pub finished: bool,
    /// Why the last chunk was refused, if it was.
    pub error: Option<String>,
}

/// The records of one node's transport; see the module docs.
#[derive(Default)]
pub struct SnapshotProgress {
    /// By (group, target): a sequence number (so a send that ends late does not touch its
    /// successor's record) and the record.
    sends: Mutex<BTreeMap<(u64, NodeId), (u64, SnapshotSend)>>,
    receives: Mutex<BTreeMap<(u64, NodeId), SnapshotReceive>>,
    next_send: Mutex<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each update is a single insert or field change: a poisoned map is still whole.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl SnapshotProgress {
    /// Starts the record of a send (replacing the last one to the same target of `group`).
    pub fn begin_send(self: &Arc<Self>, group: u64, target: NodeId) -> SendProgress {
        let seq = {
            let mut n = lock(&self.next_send);
            *n += 1;
            *n
        };
        let record = SnapshotSend {
            group,
            target,
            bytes_sent: 0,
            total: None,
            started_ms: now_ms(),
            finished: false,
            error: None,
        };
        lock(&self.sends).insert((group, target), (seq, record));
        SendProgress {
            progress: self.clone(),
            key: (group, target),
            seq,
            ended: false,
        }
    }

    /// Notes a chunk of a snapshot received from `from` for `group`: `offset` and `len` as
    /// the chunk had them, `done` if it was the last, `error` if the group refused it. A chunk
    /// at offset 0 starts a new record.
    pub fn received(
        &self,
        group: u64,
        from: NodeId,
        offset: u64,
        len: u64,
        done: bool,
        error: Option<String>,
    ) {
        let mut receives = lock(&self.receives);
        let record = receives
            .entry((group, from))
            .or_insert_with(|| SnapshotReceive {
                group,
                from,
                bytes_received: 0,
                started_ms: now_ms(),
                finished: false,
                error: None,
            });
        if offset == 0 {
            record.started_ms = now_ms();
        }
        if error.is_none() {
            record.bytes_received = offset + len;
        }
        record.finished = done && error.is_none();
        record.error = error;
    }

    pub fn sends(&self) -> Vec<SnapshotSend> {
        lock(&self.sends).values().map(|(_, s)| s.clone()).collect()
    }

    pub fn receives(&self) -> Vec<SnapshotReceive> {
        lock(&self.receives).values().cloned().collect()
    }
}

/// The sender's handle on its record. Dropped before `finish` or `fail` (the send was
/// cancelled), the record says so.
pub struct SendProgress {
    progress: Arc<SnapshotProgress>,
    key: (u64, NodeId),
    seq: u64,
    ended: bool,
}

impl SendProgress {
    fn update(&self, f: impl FnOnce(&mut SnapshotSend)) {
        if let Some((seq, record)) = lock(&self.progress.sends).get_mut(&self.key)
            && *seq == self.seq
        {
            f(record);
        }
    }

    /// `bytes` are acknowledged by the target.
    pub fn sent(&self, bytes: u64) {
        self.update(|r| r.bytes_sent = bytes);
    }

    /// The snapshot's length is known.
    pub fn total(&self, total: u64) {
        self.update(|r| r.total = Some(total));
    }

    pub fn finish(mut self) {
        self.ended = true;
        self.update(|r| r.finished = true);
    }

    pub fn fail(mut self, error: impl std::fmt::Display) {
        self.ended = true;
        let error = error.to_string();
        self.update(|r| r.error = Some(error));
    }
}

impl Drop for SendProgress {
    fn drop(&mut self) {
        if !self.ended {
            self.update(|r| r.error = Some("cancelled".to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_is_recorded_until_the_next_to_the_same_target() {
        let p = Arc::new(SnapshotProgress::default());
        let first = p.begin_send(3, 2);
        first.sent(10);
        first.total(20);
        let other = p.begin_send(3, 4);
        other.fail("unreachable");
        first.sent(20);
        first.finish();
        let sends = p.sends();
        assert_eq!(sends.len(), 2);
        assert_eq!(
            (sends[0].bytes_sent, sends[0].total, sends[0].finished),
            (20, Some(20), true)
        );
        assert_eq!(sends[1].error.as_deref(), Some("unreachable"));
        // A new send replaces the record; the old handle, ending late, leaves it alone.
        let stale = p.begin_send(3, 4);
        let fresh = p.begin_send(3, 4);
        drop(stale);
        fresh.sent(5);
        let r = &p.sends()[1];
        assert_eq!((r.bytes_sent, r.error.as_deref()), (5, None));
        drop(fresh);
        assert_eq!(p.sends()[1].error.as_deref(), Some("cancelled"));
    }

    #[test]
    fn receives_follow_the_chunks_and_restart_at_offset_zero() {
        let p = SnapshotProgress::default();
        p.received(3, 1, 0, 100, false, None);
        p.received(3, 1, 100, 50, false, Some("stopped".into()));
        let r = &p.receives()[0];
        assert_eq!((r.bytes_received, r.finished), (100, false));
        assert_eq!(r.error.as_deref(), Some("stopped"));
        p.received(3, 1, 0, 100, false, None);
        p.received(3, 1, 100, 50, true, None);
        let r = &p.receives()[0];
        assert_eq!(
            (r.bytes_received, r.finished, r.error.as_deref()),
            (150, true, None)
        );
    }
}
