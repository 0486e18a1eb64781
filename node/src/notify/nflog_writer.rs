//! `NflogWriter`: commits notification log entries to the meta group as soon as a receiver
//! accepted the notification, batching the entries that arrive within a few milliseconds of
//! each other into one command (a flush notifies many integrations at once; each entry its
//! own Raft command would multiply the meta group's log for nothing).
//!
//! ```text
//!  send task ─commit(tenant, entry)─► channel ─► writer task: first entry, then all that
//!     arrive within `window` (at most MAX_BATCH) ─► nflog_ops ─► Cluster::propose_kv
//!     ◄── every waiter gets the command's result
//! ```
//! Proposals go through `Cluster::propose_kv`, forwarded to the meta leader if this node
//! lost leadership in the meantime: a notification that was delivered is worth logging
//! wherever the log now lives, so the new leader does not send it again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cairn_alerting::notify::nflog::NflogEntry;
use cairn_alerting::notify::notify_keys;
use cairn_consensus::KvOp;
use tokio::sync::{mpsc, oneshot};

use crate::cluster::Cluster;

/// At most this many entries per command.
const MAX_BATCH: usize = 256;

struct Request {
    tenant: String,
    entry: NflogEntry,
    done: oneshot::Sender<Result<(), String>>,
}

#[derive(Clone)]
pub struct NflogWriter {
    tx: mpsc::UnboundedSender<Request>,
}

impl NflogWriter {
    /// Starts the writer task (it ends when every clone of the writer is dropped). Call
    /// inside the runtime.
    pub fn start(cluster: Arc<Cluster>, window: Duration) -> NflogWriter {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(cluster, rx, window));
        NflogWriter { tx }
    }

    /// Commits `entry` for `tenant`; Ok once the meta group applied it.
    pub async fn commit(&self, tenant: &str, entry: NflogEntry) -> Result<(), String> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Request {
                tenant: tenant.to_string(),
                entry,
                done,
            })
            .map_err(|_| "the notification log writer has stopped".to_string())?;
        wait.await
            .map_err(|_| "the notification log writer has stopped".to_string())?
    }
}

async fn run(cluster: Arc<Cluster>, mut rx: mpsc::UnboundedReceiver<Request>, window: Duration) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + window;
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(r)) => batch.push(r),
                Ok(None) | Err(_) => break,
            }
        }
        let ops = nflog_ops(batch.iter().map(|r| (r.tenant.as_str(), &r.entry)));
        let result = match ops {
            Ok(ops) => cluster
                .propose_kv(ops)
                .await
                .map_err(|e| format!("committing the notification log: {e}")),
            Err(e) => Err(e),
        };
        for r in batch {
            let _ = r.done.send(result.clone());
        }
    }
}

/// One `Put` per notification log key; of two entries for the same key the newer wins.
pub fn nflog_ops<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a NflogEntry)>,
) -> Result<Vec<KvOp>, String> {
    let mut by_key: BTreeMap<String, &NflogEntry> = BTreeMap::new();
    for (tenant, e) in entries {
        let key = notify_keys::nflog_key(tenant, e);
        match by_key.get(&key) {
            Some(old) if old.timestamp_ms > e.timestamp_ms => {}
            _ => {
                by_key.insert(key, e);
            }
        }
    }
    by_key
        .into_iter()
        .map(|(key, e)| {
            serde_json::to_string(e)
                .map(|value| KvOp::Put { key, value })
                .map_err(|err| format!("serializing a notification log entry: {err}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(receiver: &str, idx: u32, ts: i64) -> NflogEntry {
        NflogEntry {
            group_key: "{}:{}".into(),
            receiver: receiver.into(),
            integration: "webhook".into(),
            idx,
            timestamp_ms: ts,
            firing: vec![7],
            resolved: vec![],
        }
    }

    #[test]
    fn one_put_per_key_and_the_newest_entry_wins() {
        let (a, a_newer, b) = (entry("r/x", 0, 10), entry("r/x", 0, 20), entry("r/x", 1, 5));
        let ops = nflog_ops([("t", &a_newer), ("t", &a), ("t", &b), ("u", &a)]).unwrap();
        assert_eq!(ops.len(), 3);
        let puts: Vec<(String, NflogEntry)> = ops
            .into_iter()
            .map(|op| match op {
                KvOp::Put { key, value } => (key, serde_json::from_str(&value).unwrap()),
                other => panic!("not a put: {other:?}"),
            })
            .collect();
        let key = notify_keys::nflog_key("t", &a);
        assert!(key.starts_with("nflog/t/r%2Fx/webhook/0/"));
        let got = puts.iter().find(|(k, _)| *k == key).unwrap();
        assert_eq!(got.1.timestamp_ms, 20);
        assert!(puts.iter().any(|(k, _)| k.starts_with("nflog/u/")));
    }
}
