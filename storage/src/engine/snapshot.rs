//! Shard snapshots for replicas: `dump_shard` writes every key of one shard into one buffer
//! right after a checkpoint, `install_shard` replaces a shard by such a buffer; the format is
//! `storage/docs/format/snapshot.md`. Also `snapshot`, a RocksDB checkpoint of the whole
//! database (a backup), which shares only the name. Sending the buffer is the Raft layer's job.
//!
//! ```text
//!  dump_shard(shard, marker) ──► checkpoint (write lock held) ──► 1 · (cf · key · value)*
//!  install_shard(shard, dump, marker) ──► delete the shard's ranges + put every record +
//!                                         the marker, one write ──► recover_shard
//! ```

use std::path::Path;
use std::sync::atomic::Ordering;

use super::checkpoint::checkpoint_locked;
use super::open::recover_shard;
use super::{Engine, bounded, cf};
use crate::error::{Error, Result};
use crate::keys::{
    CF_CHUNKS, CF_HEAD_INDEX, CF_POSTINGS, CF_ROLLUP_1H, CF_ROLLUP_5M, CF_SERIES, CF_SERIES_HASH,
    CF_SHARD_META, META_APPLIED_MARKER, shard_meta_key, shard_prefix,
};

/// First byte of a shard dump (`Engine::dump_shard`). 2 added the rollup column families
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

impl Engine {
    /// Checkpoints `shard` with `marker` and returns every key of it, as one buffer (a Raft
    /// snapshot). Holds the shard's write lock throughout, so the dump is exactly the state
    /// after the last applied entry. Format: `storage/docs/format/snapshot.md`.
    pub fn dump_shard(&self, shard: u32, marker: &[u8]) -> Result<Vec<u8>> {
        if !self.is_open() {
            return Err(Error::ShutDown);
        }
        let lock = self.shard(shard)?;
        let mut st = lock.write().unwrap_or_else(|p| p.into_inner());
        checkpoint_locked(&self.inner, shard, &mut st, Some(marker))?;
        let db = &self.inner.db;
        let prefix = shard_prefix(shard);
        let mut out = Vec::new();
        out.push(SNAPSHOT_FORMAT);
        for (code, name) in SHARD_CFS.iter().enumerate() {
            let mut it = db.raw_iterator_cf_opt(cf(db, name), bounded(&prefix));
            it.seek(prefix);
            while let (Some(k), Some(v)) = (it.key(), it.value()) {
                out.push(code as u8);
                out.extend_from_slice(&(k.len() as u32).to_be_bytes());
                out.extend_from_slice(k);
                out.extend_from_slice(&(v.len() as u32).to_be_bytes());
                out.extend_from_slice(v);
                it.next();
            }
            it.status()?;
        }
        self.inner
            .stats
            .snapshots_dumped
            .fetch_add(1, Ordering::Relaxed);
        Ok(out)
    }

    /// Replaces every key of `shard` by a dump from [`Engine::dump_shard`] (of another
    /// replica), stores `marker` and rebuilds the shard's head from it.
    pub fn install_shard(&self, shard: u32, dump: &[u8], marker: &[u8]) -> Result<()> {
        let lock = self.shard(shard)?;
        let corrupt = |reason: String| Error::CorruptRecord {
            what: "shard snapshot",
            shard,
            reason,
        };
        if !matches!(dump.first(), Some(&1) | Some(&SNAPSHOT_FORMAT)) {
            return Err(corrupt(format!("unknown format {:?}", dump.first())));
        }
        let db = &self.inner.db;
        let (start, end) = (shard_prefix(shard), shard_prefix(shard + 1));
        let mut wb = rocksdb::WriteBatch::default();
        for name in SHARD_CFS {
            wb.delete_range_cf(cf(db, name), start, end);
        }
        let mut rest = &dump[1..];
        let take = |rest: &mut &[u8], n: usize| -> Result<Vec<u8>> {
            if rest.len() < n {
                return Err(corrupt("truncated".into()));
            }
            let (a, b) = rest.split_at(n);
            *rest = b;
            Ok(a.to_vec())
        };
        while !rest.is_empty() {
            let code = take(&mut rest, 1)?[0] as usize;
            let name = SHARD_CFS
                .get(code)
                .ok_or_else(|| corrupt(format!("unknown column family code {code}")))?;
            let klen = u32::from_be_bytes(take(&mut rest, 4)?.try_into().unwrap_or([0; 4]));
            let k = take(&mut rest, klen as usize)?;
            let vlen = u32::from_be_bytes(take(&mut rest, 4)?.try_into().unwrap_or([0; 4]));
            let v = take(&mut rest, vlen as usize)?;
            if !k.starts_with(&start) {
                return Err(corrupt(format!("a key of another shard in {name}")));
            }
            wb.put_cf(cf(db, name), k, v);
        }
        wb.put_cf(
            cf(db, CF_SHARD_META),
            shard_meta_key(shard, META_APPLIED_MARKER),
            marker,
        );
        let mut st = lock.write().unwrap_or_else(|p| p.into_inner());
        db.write(wb)?;
        *st = recover_shard(db, shard, self.inner.limits, self.inner.clock.instant())?;
        self.inner
            .stats
            .snapshots_installed
            .fetch_add(1, Ordering::Relaxed);
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

#[cfg(test)]
#[path = "snapshot_test.rs"]
mod tests;
