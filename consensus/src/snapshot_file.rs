//! `SnapshotFile`: the `SnapshotData` of every Raft group on a node. It is an unlinked temp
//! file under `<data_dir>/raft-snapshots/` (gone when the last handle drops, or at a crash),
//! so a snapshot costs disk, never memory in proportion to its size. It owns the file and
//! the hand-off between a producer and its readers, not what the bytes mean (a shard dump,
//! `storage/docs/format/snapshot.md`, or the meta group's record).
//!
//! ```text
//!  sender    dump thread ── SnapshotWriter (pwrite; publishes how far) ──► file
//!            file ── read_chunk(offset, max): waits for the producer ──► GroupNetwork
//!                                                                         ::full_snapshot
//!  receiver  openraft's chunks ── AsyncSeek + AsyncWrite (tokio File) ──► file
//!            file ── into_reader(): std Read (pread) ──► Engine::install_shard_from
//!  meta      from_bytes(record) / read_all()
//! ```
//!
//! A file being produced grows while it is sent: readers wait on the producer (a condvar for
//! the blocking reader, a `Notify` for the async one) and fail with the producer's error if
//! it fails. Positional reads and writes (`pread`/`pwrite`) never touch the file's offset, so
//! the producer, any number of readers and openraft's async cursor share one open file.
//! openraft's own chunked sender (which seeks to the end to learn the size) must not be used
//! on a file still being produced; `GroupNetwork::full_snapshot` replaces it.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::Notify;

/// The directory under a node's data dir that holds its snapshot files.
pub const SNAPSHOT_DIR: &str = "raft-snapshots";

/// Where the snapshot files of the node with this data dir go. Not `snapshots/`: that holds
/// the admin API's RocksDB checkpoints (backups), which must survive a restart.
pub fn snapshot_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(SNAPSHOT_DIR)
}

/// Creates `dir` and removes whatever is left in it: the files are unlinked at once, but
/// where the kernel cannot make an unnamed file, `tempfile` names it for a moment, and a
/// crash then leaves it behind. Returns how many were removed.
pub fn clear_snapshot_dir(dir: &Path) -> io::Result<usize> {
    std::fs::create_dir_all(dir).map_err(|e| in_dir(dir, e))?;
    let mut removed = 0;
    for entry in std::fs::read_dir(dir).map_err(|e| in_dir(dir, e))? {
        let path = entry.map_err(|e| in_dir(dir, e))?.path();
        let gone = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        gone.map_err(|e| in_dir(dir, e))?;
        removed += 1;
    }
    Ok(removed)
}

fn in_dir(dir: &Path, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("snapshot files in {}: {e}", dir.display()),
    )
}

/// How much of the file there is to read.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Fill {
    /// Written through the async side (a received snapshot) or whole from the start: its end
    /// is the file's length.
    Whole,
    /// A producer is writing it; this many bytes are in.
    Producing(u64),
    /// The producer finished: this is the whole length.
    Done(u64),
    /// The producer failed, for this reason.
    Failed(String),
}

/// What the file's handles share.
struct Shared {
    file: std::fs::File,
    fill: Mutex<Fill>,
    /// Wakes blocking readers when the producer moves on.
    grown: Condvar,
    /// Wakes async readers when the producer moves on.
    notify: Notify,
}

impl Shared {
    fn fill(&self) -> MutexGuard<'_, Fill> {
        // Each update is one assignment: a poisoned lock still guards a whole value.
        self.fill.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, fill: Fill) {
        *self.fill() = fill;
        self.grown.notify_all();
        self.notify.notify_waiters();
    }

    /// Where reading from `offset` may go now: `Some(end)` (with whether `end` is the
    /// file's end), `None` if the producer has not written past `offset` yet.
    fn readable(fill: &Fill, file: &std::fs::File, offset: u64) -> io::Result<Option<(u64, bool)>> {
        match fill {
            Fill::Whole => Ok(Some((file.metadata()?.len(), true))),
            Fill::Producing(written) if *written > offset => Ok(Some((*written, false))),
            Fill::Producing(_) => Ok(None),
            Fill::Done(len) => Ok(Some((*len, true))),
            Fill::Failed(reason) => Err(io::Error::other(format!(
                "producing the snapshot failed: {reason}"
            ))),
        }
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
}

/// A snapshot's bytes in an unlinked temp file; see the module docs.
pub struct SnapshotFile {
    /// openraft's cursor: the receiver seeks and writes chunks through it.
    io: tokio::fs::File,
    shared: Arc<Shared>,
    /// Held while any handle to the file lives: a producer stops once nobody can read.
    _readers: Arc<()>,
}

impl fmt::Debug for SnapshotFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotFile")
            .field("fill", &*self.shared.fill())
            .finish_non_exhaustive()
    }
}

/// Part of a snapshot read by [`SnapshotFile::read_chunk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub data: Vec<u8>,
    /// The snapshot's whole length, once its producer is done (or if it had none).
    pub total: Option<u64>,
}

impl SnapshotFile {
    fn new(dir: &Path, fill: Fill) -> io::Result<(SnapshotFile, Weak<()>)> {
        std::fs::create_dir_all(dir).map_err(|e| in_dir(dir, e))?;
        let file = tempfile::tempfile_in(dir).map_err(|e| in_dir(dir, e))?;
        let io = tokio::fs::File::from_std(file.try_clone().map_err(|e| in_dir(dir, e))?);
        let readers = Arc::new(());
        let weak = Arc::downgrade(&readers);
        let shared = Arc::new(Shared {
            file,
            fill: Mutex::new(fill),
            grown: Condvar::new(),
            notify: Notify::new(),
        });
        Ok((
            SnapshotFile {
                io,
                shared,
                _readers: readers,
            },
            weak,
        ))
    }

    /// An empty file in `dir` for openraft to write a received snapshot into.
    pub fn create(dir: &Path) -> io::Result<SnapshotFile> {
        Ok(SnapshotFile::new(dir, Fill::Whole)?.0)
    }

    /// A file in `dir` that the returned writer fills (on another thread) while this end is
    /// read: readers wait for its bytes, and see its end once it finishes.
    pub fn produce(dir: &Path) -> io::Result<(SnapshotFile, SnapshotWriter)> {
        let (file, readers) = SnapshotFile::new(dir, Fill::Producing(0))?;
        let writer = SnapshotWriter {
            shared: file.shared.clone(),
            readers,
            written: 0,
            closed: false,
        };
        Ok((file, writer))
    }

    /// A whole file in `dir` holding `bytes` (a small snapshot: the meta group's).
    pub fn from_bytes(dir: &Path, bytes: &[u8]) -> io::Result<SnapshotFile> {
        let (file, _) = SnapshotFile::new(dir, Fill::Done(bytes.len() as u64))?;
        file.shared.file.write_all_at(bytes, 0)?;
        Ok(file)
    }

    /// A blocking reader of the whole snapshot from its start, which waits for a producer.
    /// For a file written through the async side, use [`SnapshotFile::into_reader`], which
    /// first waits for those writes.
    pub fn reader(&self) -> SnapshotReader {
        SnapshotReader {
            shared: self.shared.clone(),
            offset: 0,
        }
    }

    /// Completes the writes made through the async side (openraft's), then a reader.
    pub async fn into_reader(mut self) -> io::Result<SnapshotReader> {
        self.io.flush().await?;
        Ok(self.reader())
    }

    /// Up to `max` bytes at `offset`: waits until a producer has written `max` bytes past
    /// `offset` or finished. Fewer than `max` only at the end (none past it); the error of
    /// a producer that failed.
    pub async fn read_chunk(&self, offset: u64, max: usize) -> io::Result<Chunk> {
        let want = offset.saturating_add(max as u64);
        let (end, is_end) = loop {
            let notified = self.shared.notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so a publish between the check and the wait is
            // not missed.
            notified.as_mut().enable();
            {
                let fill = self.shared.fill();
                if let Some((end, is_end)) = Shared::readable(&fill, &self.shared.file, offset)?
                    && (is_end || end >= want)
                {
                    break (end, is_end);
                }
            }
            notified.await;
        };
        let len = end.min(want).saturating_sub(offset) as usize;
        let shared = self.shared.clone();
        let data = tokio::task::spawn_blocking(move || {
            let mut data = vec![0; len];
            shared.read_exact_at(&mut data, offset).map(|()| data)
        })
        .await
        .map_err(io::Error::other)??;
        Ok(Chunk {
            data,
            total: is_end.then_some(end),
        })
    }

    /// [`SnapshotFile::into_reader`], read whole: for small snapshots (the meta group's).
    pub async fn into_bytes(mut self) -> io::Result<Vec<u8>> {
        self.io.flush().await?;
        self.read_all().await
    }

    /// The whole snapshot (waiting for a producer): for small snapshots and tests.
    pub async fn read_all(&self) -> io::Result<Vec<u8>> {
        let mut reader = self.reader();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            reader.read_to_end(&mut out).map(|_| out)
        })
        .await
        .map_err(io::Error::other)?
    }
}

impl AsyncRead for SnapshotFile {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for SnapshotFile {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl AsyncSeek for SnapshotFile {
    fn start_seek(mut self: Pin<&mut Self>, position: io::SeekFrom) -> io::Result<()> {
        Pin::new(&mut self.io).start_seek(position)
    }

    fn poll_complete(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Pin::new(&mut self.io).poll_complete(cx)
    }
}

/// The producer's end of [`SnapshotFile::produce`]: appends with `pwrite` and publishes how
/// far it got after every write. Dropped without [`SnapshotWriter::finish`], the snapshot
/// fails (readers get an error rather than wait forever or take a short file as whole).
pub struct SnapshotWriter {
    shared: Arc<Shared>,
    readers: Weak<()>,
    written: u64,
    closed: bool,
}

impl SnapshotWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// True once every `SnapshotFile` handle is gone: nobody will read what comes next.
    pub fn abandoned(&self) -> bool {
        self.readers.strong_count() == 0
    }

    /// The snapshot is complete: readers see its end. Returns its length.
    pub fn finish(mut self) -> u64 {
        self.closed = true;
        self.shared.publish(Fill::Done(self.written));
        self.written
    }

    /// The snapshot cannot be completed: readers get `reason`.
    pub fn fail(mut self, reason: impl fmt::Display) {
        self.closed = true;
        self.shared.publish(Fill::Failed(reason.to_string()));
    }
}

impl Write for SnapshotWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // A producer that outlives its readers (the send was cancelled) stops here instead of
        // writing the rest of a dump nobody reads.
        if self.abandoned() {
            return Err(io::Error::other("the snapshot is no longer read"));
        }
        self.shared.file.write_all_at(buf, self.written)?;
        self.written += buf.len() as u64;
        self.shared.publish(Fill::Producing(self.written));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Written bytes are readable at once (the page cache); nothing to sync: the file
        // does not outlive the process.
        Ok(())
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        if !self.closed {
            self.shared.publish(Fill::Failed(
                "the producer stopped before the end".to_string(),
            ));
        }
    }
}

/// A blocking reader of a [`SnapshotFile`] from its start (`pread`), which waits while a
/// producer has not written the next bytes yet.
pub struct SnapshotReader {
    shared: Arc<Shared>,
    offset: u64,
}

impl Read for SnapshotReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let end = {
            let mut fill = self.shared.fill();
            loop {
                match Shared::readable(&fill, &self.shared.file, self.offset)? {
                    Some((end, _)) => break end,
                    None => {
                        fill = self
                            .shared
                            .grown
                            .wait(fill)
                            .unwrap_or_else(|p| p.into_inner())
                    }
                }
            }
        };
        let n = (end.saturating_sub(self.offset)).min(buf.len() as u64) as usize;
        if n == 0 {
            return Ok(0);
        }
        let n = self.shared.file.read_at(&mut buf[..n], self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod snapshot_file_test;
