//! `Engine::clear_shard`: forgets one shard's data, when its replica has moved to other
//! nodes. The shard is then as a new one: no series, no chunks, no rollups, no marker (so its
//! Raft group, if it ever comes back here, starts from a snapshot).
//!
//! ```text
//!  clear_shard(shard) ──► delete the shard's ranges in every shard CF, one write
//!                     ──► compact those ranges on a tracked thread (frees the disk)
//!                     ──► the shard's head rebuilt from nothing
//! ```

use std::sync::atomic::Ordering;

use super::Engine;
use super::open::recover_shard;
use super::snapshot::{SHARD_CFS, delete_shard};
use crate::error::{Error, Result};
use crate::keys::shard_prefix;

impl Engine {
    /// Deletes every key of `shard` and empties its in-memory state. The caller has stopped
    /// whatever applied to the shard (its Raft group).
    pub fn clear_shard(&self, shard: u32) -> Result<()> {
        if !self.is_open() {
            return Err(Error::ShutDown);
        }
        let lock = self.shard(shard)?;
        let db = &self.inner.db;
        let (start, end) = (shard_prefix(shard), shard_prefix(shard + 1));
        let mut wb = rocksdb::WriteBatch::default();
        delete_shard(db, &mut wb, shard);
        let mut st = lock.write().unwrap_or_else(|p| p.into_inner());
        db.write(wb)?;
        *st = recover_shard(db, shard, self.inner.limits, self.inner.clock.instant())?;
        drop(st);
        self.inner
            .stats
            .shards_cleared
            .fetch_add(1, Ordering::Relaxed);
        // Range deletions free no disk until compacted.
        self.compact_later(
            SHARD_CFS
                .iter()
                .map(|&name| (name, start.to_vec(), end.to_vec()))
                .collect(),
        );
        Ok(())
    }
}
