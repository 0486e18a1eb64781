//! Backups of a shard (`cairn backup`) and restoring one into a new cluster (`cairn restore`),
//! in the shard dump format (`storage/docs/format/snapshot.md`).
//!
//! ```text
//!  (the node checkpoints the shard through Raft first, so its marker stays Raft's)
//!  begin_backup(shard) ──► a RocksDB snapshot under the shard's lock, no checkpoint ──► ShardDump
//!  restore_shard_from(shard, dump) ──► install_shard_from ──► the Raft state forgotten: no
//!                                       applied marker, flushed index 0 (a new cluster's
//!                                       groups start from index 0 over the data)
//! ```

use std::io::Read;

use rocksdb::{WriteBatch, WriteOptions};

use super::open::recover_shard;
use super::snapshot::ShardDump;
use super::{Engine, cf};
use crate::error::{Error, Result};
use crate::keys::{CF_SHARD_META, META_APPLIED_MARKER, META_FLUSHED_INDEX, shard_meta_key};

impl Engine {
    /// Pins a RocksDB snapshot of `shard` as its last checkpoint left it (and any chunk
    /// spilled since), under the shard's lock, without checkpointing: the checkpoint's marker
    /// is the Raft layer's, so the caller checkpoints through Raft first. What the dump holds
    /// is then everything applied up to that checkpoint.
    pub fn begin_backup(&self, shard: u32) -> Result<ShardDump<'_>> {
        if !self.is_open() {
            return Err(Error::ShutDown);
        }
        let lock = self.shard(shard)?;
        let st = lock.read().unwrap_or_else(|p| p.into_inner());
        let snapshot = self.inner.db.snapshot();
        drop(st);
        Ok(ShardDump::new(self, shard, snapshot))
    }

    /// Installs a backed-up dump of `shard` into this engine (a new cluster's first node,
    /// before it starts) and forgets the old cluster's Raft state: no applied marker, flushed
    /// index 0, so the new cluster's shard group starts from its first entry over the data.
    pub fn restore_shard_from<R: Read>(&self, shard: u32, input: &mut R) -> Result<u64> {
        let n = self.install_shard_from(shard, input, b"")?;
        let lock = self.shard(shard)?;
        let db = &self.inner.db;
        let meta = cf(db, CF_SHARD_META);
        let mut wb = WriteBatch::default();
        wb.delete_cf(meta, shard_meta_key(shard, META_APPLIED_MARKER));
        wb.put_cf(
            meta,
            shard_meta_key(shard, META_FLUSHED_INDEX),
            0u64.to_be_bytes(),
        );
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        let mut st = lock.write().unwrap_or_else(|p| p.into_inner());
        db.write_opt(wb, &sync)?;
        *st = recover_shard(db, shard, self.inner.limits, self.inner.clock.instant())?;
        Ok(n)
    }
}
