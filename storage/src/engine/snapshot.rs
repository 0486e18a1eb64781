//! Shard snapshots for replicas, streamed both ways in bounded memory: `begin_dump` checkpoints
//! a shard and pins a RocksDB snapshot of it, `ShardDump::write_to` streams every key of it
//! from that snapshot, and `install_shard_from` replaces a shard by such a stream, a batch at
//! a time; the format is `storage/docs/format/snapshot.md`. Also `snapshot`, a RocksDB
//! checkpoint of the whole database (a backup), which shares only the name. Moving the bytes
//! between nodes is the Raft layer's job; this file sees only `Write` and `Read`.
//!
//! ```text
//!  begin_dump(shard, marker) ─ shard write lock: checkpoint(marker) + RocksDB snapshot ─► dump
//!  ShardDump::write_to(out)  ─ no lock: 8 prefix scans of that snapshot ─► 2 · (cf · key · value)*
//!  install_shard_from(shard, input, marker):
//!     write 1        DeleteRange × 8 + installing marker (shard_meta kind 11); head emptied
//!     writes 2..n    the records, in batches of at most INSTALL_BATCH_BYTES
//!     last (synced)  the rest + applied marker (kind 5) − installing marker ─► recover_shard
//!  open: installing marker set ─► shard emptied, `torn_install(shard)` until the Raft layer
//!        has reset the group's log and calls `clear_torn_install(shard)`
//! ```
//!
//! Memory: a dump holds one `STREAM_BUFFER_BYTES` writer buffer and the RocksDB iterator's
//! current blocks (read past the block cache); an install one `STREAM_BUFFER_BYTES` reader
//! buffer, one write batch (`INSTALL_BATCH_BYTES` plus the record that crosses it) and one
//! record (each key and value at most `MAX_RECORD_PART_BYTES`). Neither holds the shard.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::atomic::Ordering;

use rocksdb::{DB, SnapshotWithThreadMode, WriteBatch, WriteOptions};

use super::checkpoint::checkpoint_locked;
use super::open::recover_shard;
use super::{Engine, bounded, cf};
use crate::error::{Error, Result};
use crate::keys::{
    CF_CHUNKS, CF_HEAD_INDEX, CF_POSTINGS, CF_ROLLUP_1H, CF_ROLLUP_5M, CF_SERIES, CF_SERIES_HASH,
    CF_SHARD_META, META_APPLIED_MARKER, META_INSTALLING, shard_meta_key, shard_prefix,
};

/// First byte of a shard dump (`ShardDump::write_to`). 2 added the rollup column families
/// (codes 6 and 7); a format-1 dump (none of them) still installs.
const SNAPSHOT_FORMAT: u8 = 2;

/// Column families holding a shard's data, every key starting with the shard (what a snapshot
/// carries). The code of each is its position here, which is on the wire: append only.
pub(super) const SHARD_CFS: &[&str] = &[
    CF_SERIES,
    CF_POSTINGS,
    CF_SERIES_HASH,
    CF_CHUNKS,
    CF_HEAD_INDEX,
    CF_SHARD_META,
    CF_ROLLUP_5M,
    CF_ROLLUP_1H,
];

/// An install writes its records in RocksDB write batches of about this size: the memory it
/// holds beside one record, whatever the size of the shard.
pub const INSTALL_BATCH_BYTES: usize = 4 << 20;

/// The buffer between a dump and its writer, and between an install and its reader.
const STREAM_BUFFER_BYTES: usize = 64 << 10;

/// The longest key or value a record may claim. The largest real ones are retention cut-offs
/// with many tenants (a few MiB); a longer length is a corrupt stream, refused before any of
/// it is read (a flipped bit must not make the installer reserve gigabytes).
const MAX_RECORD_PART_BYTES: u32 = 64 << 20;

/// A shard dump begun by [`Engine::begin_dump`]: its checkpoint is written and a RocksDB
/// snapshot pins the shard as that checkpoint left it. Writing it ([`ShardDump::write_to`])
/// holds no lock of the shard, so applies go on meanwhile and are not in the dump.
pub struct ShardDump<'e> {
    engine: &'e Engine,
    shard: u32,
    snapshot: SnapshotWithThreadMode<'e, DB>,
}

impl<'e> ShardDump<'e> {
    pub(super) fn new(
        engine: &'e Engine,
        shard: u32,
        snapshot: SnapshotWithThreadMode<'e, DB>,
    ) -> Self {
        ShardDump {
            engine,
            shard,
            snapshot,
        }
    }
}

impl Engine {
    /// Checkpoints `shard` with `marker` and pins a RocksDB snapshot of the result, under the
    /// shard's write lock (so the dump is exactly the state after the last applied entry);
    /// the lock is released when this returns. Format: `storage/docs/format/snapshot.md`.
    pub fn begin_dump(&self, shard: u32, marker: &[u8]) -> Result<ShardDump<'_>> {
        if !self.is_open() {
            return Err(Error::ShutDown);
        }
        let lock = self.shard(shard)?;
        let mut st = lock.write().unwrap_or_else(|p| p.into_inner());
        checkpoint_locked(&self.inner, shard, &mut st, Some(marker))?;
        // Taken before the lock goes: no apply, spill or checkpoint of this shard can come
        // between the checkpoint and the snapshot, and none after it is seen through it.
        let snapshot = self.inner.db.snapshot();
        drop(st);
        Ok(ShardDump::new(self, shard, snapshot))
    }

    /// [`Engine::begin_dump`] then [`ShardDump::write_to`]: the dump of `shard` into `out`;
    /// returns its length in bytes.
    pub fn dump_shard_to<W: Write>(&self, shard: u32, marker: &[u8], out: &mut W) -> Result<u64> {
        self.begin_dump(shard, marker)?.write_to(out)
    }

    /// Replaces every key of `shard` by a dump read from `input` (another replica's, from
    /// [`ShardDump::write_to`]), stores `marker` and rebuilds the shard's head from it;
    /// returns the bytes read. Streamed: see the module docs for its writes and memory.
    ///
    /// A stream that fails or turns out corrupt after the first write leaves the shard
    /// partly written with its installing marker set: an error here is for the caller to
    /// stop on, and the next open empties the shard (`torn_install`). Between the first write
    /// and the last, reads of the shard see it partly installed (and no head).
    pub fn install_shard_from<R: Read>(
        &self,
        shard: u32,
        input: &mut R,
        marker: &[u8],
    ) -> Result<u64> {
        if !self.is_open() {
            return Err(Error::ShutDown);
        }
        let lock = self.shard(shard)?;
        let mut r = BufReader::with_capacity(STREAM_BUFFER_BYTES, input);
        // The format is checked before anything is written: a stream that is not a dump at
        // all leaves the shard as it was.
        match read_byte(&mut r, shard)? {
            Some(1) | Some(SNAPSHOT_FORMAT) => {}
            other => return Err(corrupt(shard, format!("unknown format {other:?}"))),
        }
        let inner = &self.inner;
        let db = &inner.db;
        let start = shard_prefix(shard);
        let meta = cf(db, CF_SHARD_META);
        let installing = shard_meta_key(shard, META_INSTALLING);
        let mut first = WriteBatch::default();
        delete_shard(db, &mut first, shard);
        first.put_cf(meta, installing, marker);
        {
            let mut st = lock.write().unwrap_or_else(|p| p.into_inner());
            db.write(first)?;
            // The head follows the emptied shard: reads must not pair the old series ids of
            // the head with the new keys as they arrive.
            *st = recover_shard(db, shard, inner.limits, inner.clock.instant())?;
        }
        let mut writes = 1;
        let mut bytes = 1u64;
        let mut wb = WriteBatch::default();
        let (mut k, mut v) = (Vec::new(), Vec::new());
        while let Some(code) = read_record(&mut r, shard, &mut k, &mut v)? {
            let name = SHARD_CFS
                .get(code as usize)
                .ok_or_else(|| corrupt(shard, format!("unknown column family code {code}")))?;
            if !k.starts_with(&start) {
                return Err(corrupt(shard, format!("a key of another shard in {name}")));
            }
            wb.put_cf(cf(db, name), &k, &v);
            bytes += 9 + k.len() as u64 + v.len() as u64;
            if wb.size_in_bytes() >= INSTALL_BATCH_BYTES {
                db.write(std::mem::take(&mut wb))?;
                writes += 1;
            }
        }
        // The last write makes the shard whole: it names what the shard holds and lifts the
        // installing marker together, synced, so a crash never finds the marker gone and
        // records missing (RocksDB's WAL replays writes in order).
        wb.put_cf(meta, shard_meta_key(shard, META_APPLIED_MARKER), marker);
        wb.delete_cf(meta, installing);
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        {
            let mut st = lock.write().unwrap_or_else(|p| p.into_inner());
            db.write_opt(wb, &sync)?;
            *st = recover_shard(db, shard, inner.limits, inner.clock.instant())?;
        }
        writes += 1;
        inner
            .torn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&shard);
        inner
            .stats
            .snapshot_install_batches
            .fetch_add(writes, Ordering::Relaxed);
        inner
            .stats
            .snapshots_installed
            .fetch_add(1, Ordering::Relaxed);
        Ok(bytes)
    }

    /// Whether `shard` was found at open with a snapshot install cut off midway. Its keys are
    /// gone and it has applied nothing, but the group's Raft log still claims entries the
    /// shard lacks: the Raft layer resets that log, then calls
    /// [`Engine::clear_torn_install`]. Until then every open finds the shard torn again.
    pub fn torn_install(&self, shard: u32) -> bool {
        self.inner
            .torn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&shard)
    }

    /// Lifts the installing marker of a torn shard (synced) once its Raft log is reset.
    pub fn clear_torn_install(&self, shard: u32) -> Result<()> {
        self.shard(shard)?;
        let db = &self.inner.db;
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        db.delete_cf_opt(
            cf(db, CF_SHARD_META),
            shard_meta_key(shard, META_INSTALLING),
            &sync,
        )?;
        self.inner
            .torn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&shard);
        Ok(())
    }

    /// Writes a consistent RocksDB checkpoint (hard links where possible) to `dir`.
    pub fn snapshot(&self, dir: &Path) -> Result<()> {
        if dir.exists() {
            return Err(Error::CheckpointExists {
                path: dir.to_path_buf(),
            });
        }
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let cp = rocksdb::checkpoint::Checkpoint::new(&self.inner.db)?;
        cp.create_checkpoint(dir).map_err(|source| Error::Rocks {
            path: dir.to_path_buf(),
            source,
        })
    }
}

impl ShardDump<'_> {
    pub fn shard(&self) -> u32 {
        self.shard
    }

    /// Streams the dump into `out` (buffered here) from the pinned snapshot; returns its
    /// length in bytes. Stops with `ShutDown` if the engine shuts down meanwhile.
    pub fn write_to<W: Write>(self, out: &mut W) -> Result<u64> {
        let shard = self.shard;
        let engine = self.engine;
        let db = &engine.inner.db;
        let io = |source| Error::SnapshotStream { shard, source };
        let mut w = BufWriter::with_capacity(STREAM_BUFFER_BYTES, out);
        w.write_all(&[SNAPSHOT_FORMAT]).map_err(io)?;
        let mut bytes = 1u64;
        let prefix = shard_prefix(shard);
        for (code, name) in SHARD_CFS.iter().enumerate() {
            let mut ro = bounded(&prefix);
            // A dump reads every block of the shard once: caching them would evict the blocks
            // that reads and checkpoints come back to.
            ro.fill_cache(false);
            let mut it = self.snapshot.raw_iterator_cf_opt(cf(db, name), ro);
            it.seek(prefix);
            while let (Some(k), Some(v)) = (it.key(), it.value()) {
                if !engine.is_open() {
                    return Err(Error::ShutDown);
                }
                write_record(&mut w, code as u8, k, v).map_err(io)?;
                bytes += 9 + k.len() as u64 + v.len() as u64;
                it.next();
            }
            it.status()?;
        }
        w.flush().map_err(io)?;
        engine
            .inner
            .stats
            .snapshots_dumped
            .fetch_add(1, Ordering::Relaxed);
        Ok(bytes)
    }
}

/// Empties a shard found at open with its installing marker set, keeping the marker (so it is
/// still known torn if this node stops before the Raft layer has reset the group's log).
pub(super) fn empty_torn_shard(db: &DB, shard: u32, installing: &[u8]) -> Result<()> {
    let mut wb = WriteBatch::default();
    delete_shard(db, &mut wb, shard);
    wb.put_cf(
        cf(db, CF_SHARD_META),
        shard_meta_key(shard, META_INSTALLING),
        installing,
    );
    let mut sync = WriteOptions::default();
    sync.set_sync(true);
    db.write_opt(wb, &sync)?;
    Ok(())
}

/// Adds to `wb` the deletion of every key of `shard` in every shard column family.
pub(super) fn delete_shard(db: &DB, wb: &mut WriteBatch, shard: u32) {
    let (start, end) = (shard_prefix(shard), shard_prefix(shard + 1));
    for name in SHARD_CFS {
        wb.delete_range_cf(cf(db, name), start, end);
    }
}

fn write_record(w: &mut impl Write, code: u8, k: &[u8], v: &[u8]) -> std::io::Result<()> {
    w.write_all(&[code])?;
    w.write_all(&(k.len() as u32).to_be_bytes())?;
    w.write_all(k)?;
    w.write_all(&(v.len() as u32).to_be_bytes())?;
    w.write_all(v)
}

fn corrupt(shard: u32, reason: String) -> Error {
    Error::CorruptRecord {
        what: "shard snapshot",
        shard,
        reason,
    }
}

/// An I/O error of the input as the installer reports it: a stream that ends inside a record
/// is a truncated dump (corrupt), anything else the reader's failure.
fn input_error(shard: u32, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        corrupt(shard, "truncated: the stream ends inside a record".into())
    } else {
        Error::SnapshotStream { shard, source: e }
    }
}

/// The next byte, `None` at the end of the stream.
fn read_byte(r: &mut impl BufRead, shard: u32) -> Result<Option<u8>> {
    loop {
        match r.fill_buf() {
            Ok([]) => return Ok(None),
            Ok(buf) => {
                let b = buf[0];
                r.consume(1);
                return Ok(Some(b));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(input_error(shard, e)),
        }
    }
}

/// Reads one record into `k` and `v` and returns its column family code; `None` at the end
/// of the stream (which may only come between records).
fn read_record(
    r: &mut impl BufRead,
    shard: u32,
    k: &mut Vec<u8>,
    v: &mut Vec<u8>,
) -> Result<Option<u8>> {
    let Some(code) = read_byte(r, shard)? else {
        return Ok(None);
    };
    read_part(r, shard, k)?;
    read_part(r, shard, v)?;
    Ok(Some(code))
}

/// One `len u32be · bytes` part of a record into `buf`.
fn read_part(r: &mut impl BufRead, shard: u32, buf: &mut Vec<u8>) -> Result<()> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).map_err(|e| input_error(shard, e))?;
    let len = u32::from_be_bytes(len);
    if len > MAX_RECORD_PART_BYTES {
        return Err(corrupt(
            shard,
            format!("a record part of {len} bytes (at most {MAX_RECORD_PART_BYTES})"),
        ));
    }
    buf.clear();
    // Grown as bytes arrive, not reserved from the claimed length: a truncated stream costs
    // no more memory than it holds.
    (&mut *r)
        .take(u64::from(len))
        .read_to_end(buf)
        .map_err(|e| input_error(shard, e))?;
    if buf.len() < len as usize {
        return Err(corrupt(
            shard,
            format!(
                "truncated: a record part of {len} bytes ends after {}",
                buf.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "snapshot_test.rs"]
mod tests;
