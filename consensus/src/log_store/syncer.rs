//! `LogSyncer`: group commit across every Raft group of a node.
//!
//! ```text
//!  group A append ─► RocksDB write (no fsync) ─┐
//!  group B append ─► RocksDB write (no fsync) ─┼─► syncer thread: one fsync of RocksDB's WAL
//!  group C append ─► RocksDB write (no fsync) ─┘       └─► every waiting LogFlushed callback
//! ```
//! Entries are readable as soon as they are written (replication may read them at once); only
//! the callback, which lets openraft count them towards a quorum and answer the client, waits
//! for the fsync. RocksDB's WAL is one file, so one fsync covers every group's writes before it.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use cairn_storage::log_store::LogStore;
use openraft::storage::LogFlushed;

use crate::type_config::TypeConfig;

/// Hands appended entries' callbacks to the node's syncer thread. Cheap to clone.
#[derive(Clone)]
pub struct LogSyncer {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` once stopped.
    tx: Mutex<Option<Sender<LogFlushed<TypeConfig>>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for LogSyncer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogSyncer")
    }
}

impl LogSyncer {
    /// Starts the syncer thread; it runs until [`LogSyncer::stop`].
    pub fn start(store: LogStore) -> std::io::Result<LogSyncer> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("cairn-log-sync".into())
            .spawn(move || run(store, rx))?;
        Ok(LogSyncer {
            inner: Arc::new(Inner {
                tx: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// Calls `callback` once everything written before this call is on disk.
    pub fn after_sync(&self, callback: LogFlushed<TypeConfig>) {
        let tx = self.inner.tx.lock().unwrap_or_else(|p| p.into_inner());
        let unsent = match tx.as_ref() {
            Some(tx) => tx.send(callback).err().map(|mpsc::SendError(cb)| cb),
            None => Some(callback),
        };
        if let Some(cb) = unsent {
            cb.log_io_completed(Err(std::io::Error::other("the log syncer stopped")));
        }
    }

    /// Syncs what is pending, answers its callbacks and ends the thread, which releases its
    /// handle on the database; later appends fail. Idempotent.
    pub fn stop(&self) {
        drop(
            self.inner
                .tx
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
        let thread = self
            .inner
            .thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(t) = thread
            && t.join().is_err()
        {
            tracing::error!("the log syncer thread panicked");
        }
    }
}

fn run(store: LogStore, rx: Receiver<LogFlushed<TypeConfig>>) {
    while let Ok(first) = rx.recv() {
        let mut waiting = vec![first];
        waiting.extend(rx.try_iter());
        let result = store.sync();
        if let Err(e) = &result {
            tracing::error!(error = %e, "syncing the Raft log failed");
        }
        for cb in waiting {
            cb.log_io_completed(
                result
                    .as_ref()
                    .map(|_| ())
                    .map_err(|e| std::io::Error::other(e.to_string())),
            );
        }
    }
}
