//! The write path: `apply` turns a committed log entry into storage changes, in log order, and
//! is the only place that does. The head takes the samples in memory; this file writes what
//! must reach RocksDB at once: the records of new series (series, hash, postings) and, past
//! the memory budget, sealed chunks ("spills"). It writes no checkpoint and moves no flushed
//! index (`checkpoint.rs` does).
//!
//! ```text
//!  apply(shard, index, batch) ──► DecodedBatch ──► Head::apply_filtered (series ids in apply
//!        │                          order; retention cut-off; late samples ──► dirty windows)
//!        │                                            ├─► new series ──► series, series_hash,
//!        │                                            │                   postings (one write)
//!        └─► sealed chunks ≥ sealed_memory ──► spill_pending ──► chunks (seq 0, final keys)
//! ```

use std::sync::atomic::Ordering;

use rocksdb::DB;

use super::{Engine, Inner, ShardState, cf};
use crate::error::{Error, Result};
use crate::head::{ApplyFilter, ApplyOutcome, Head, NewSeries};
use crate::index;
use crate::keys::{
    CF_CHUNKS, CF_POSTINGS, CF_SERIES, CF_SERIES_HASH, chunk_key, postings_key, rollup_window_of,
    series_hash_key, series_key,
};
use crate::series_record::encode_series_record;
use cairn_model::DecodedBatch;
use cairn_model::Tier;

impl Engine {
    /// Applies the committed log entry `index` of `shard`: a write batch, or nothing (an entry
    /// the storage does not see, such as a membership change), which only advances the applied
    /// index. Entries must come in log order; this is the one place where committed writes
    /// become storage changes.
    pub fn apply(&self, shard: u32, index: u64, batch: Option<&[u8]>) -> Result<ApplyOutcome> {
        if !self.is_open() {
            return Err(Error::ShutDown);
        }
        let lock = self.shard(shard)?;
        let stats = &self.inner.stats;
        stats.applied_entries.fetch_add(1, Ordering::Relaxed);
        let Some(batch) = batch else {
            lock.write()
                .unwrap_or_else(|p| p.into_inner())
                .head
                .set_applied_index(index);
            return Ok(ApplyOutcome::default());
        };
        let mut new_series = Vec::new();
        let outcome = {
            let mut st = lock.write().unwrap_or_else(|p| p.into_inner());
            st.bytes_since_checkpoint += batch.len() as u64;
            let outcome = apply_write(&mut st, shard, index, batch, &mut new_series)?;
            if st.head.pending_bytes() as u64 >= self.inner.cfg.sealed_memory_bytes {
                spill_pending(&self.inner, shard, &mut st.head)?;
            }
            outcome
        };
        write_new_series(&self.inner.db, shard, &new_series)?;
        stats
            .applied_bytes
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        stats
            .samples_written
            .fetch_add(outcome.written, Ordering::Relaxed);
        stats
            .samples_duplicate
            .fetch_add(outcome.duplicates, Ordering::Relaxed);
        stats
            .samples_rejected_too_old
            .fetch_add(outcome.rejected_too_old, Ordering::Relaxed);
        stats
            .samples_rejected_conflict
            .fetch_add(outcome.rejected_conflict, Ordering::Relaxed);
        stats
            .series_created
            .fetch_add(outcome.new_series, Ordering::Relaxed);
        stats
            .samples_out_of_order
            .fetch_add(outcome.out_of_order, Ordering::Relaxed);
        Ok(outcome)
    }

    /// Applies `batch` at the next index of `shard`, for tools, tests and benchmarks that use
    /// the engine on its own (no Raft group, so nothing is logged: a restart goes back to the
    /// last checkpoint).
    pub fn apply_next(&self, shard: u32, batch: cairn_model::WriteBatch) -> Result<ApplyOutcome> {
        let next = self.applied_index(shard)? + 1;
        self.apply(shard, next, Some(batch.as_bytes()))
    }

    /// The index of the last entry `apply` took for `shard`.
    pub fn applied_index(&self, shard: u32) -> Result<u64> {
        Ok(self
            .shard(shard)?
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .head
            .applied_index())
    }
}

/// The one place where a committed write becomes a storage change (in memory; the engine then
/// writes the new series' records). Samples at or before the tenant's raw retention cut-off
/// are refused (a day retention deleted must not come back); samples landing in a 5-minute
/// window that is already rolled up mark that window dirty, for a later re-roll.
fn apply_write(
    st: &mut ShardState,
    shard: u32,
    index: u64,
    batch: &[u8],
    new_series: &mut Vec<NewSeries>,
) -> Result<ApplyOutcome> {
    let batch = DecodedBatch::decode(batch).map_err(|e| Error::CorruptRecord {
        what: "write batch",
        shard,
        reason: format!("log entry {index}: {e}"),
    })?;
    let cut = st.cutoffs[Tier::Raw.index()].of(batch.tenant);
    let filter = ApplyFilter {
        // Refusing the cut-off itself too (`<=`): a sample at a day start `c` would fall in
        // the 5-minute window `(c - 2 h, c]`, whose other samples retention deleted, and a
        // re-roll of that window would lose them.
        reject_at_or_before: if cut > 0 { cut } else { i64::MIN },
        late_at_or_before: st.marks(Tier::Rollup5m).watermark.unwrap_or(i64::MIN),
    };
    let mut late = Vec::new();
    let outcome = st
        .head
        .apply_filtered(index, &batch, new_series, filter, &mut late);
    if !late.is_empty() {
        let wm_1h = st.marks(Tier::Rollup1h).watermark.unwrap_or(i64::MIN);
        for t in late {
            let ws = rollup_window_of(Tier::Rollup5m, t);
            st.marks_mut(Tier::Rollup5m).dirty.insert(ws);
            // The day's hour buckets are stale now too, not only once the 5m window is
            // re-rolled: until then both are computed from the raw samples.
            if t <= wm_1h {
                let day = rollup_window_of(Tier::Rollup1h, t);
                st.marks_mut(Tier::Rollup1h).dirty.insert(day);
            }
        }
    }
    Ok(outcome)
}

/// Writes the head's sealed chunks to RocksDB and drops them from memory (the caller holds
/// the shard's write lock, so readers find them in one place or the other). Unlike a
/// checkpoint this writes no partial chunks and moves no flushed index: it costs only the
/// writes a checkpoint would make anyway, and keeps the head's memory bounded whatever the
/// ingest rate. The RocksDB write goes through its WAL like a checkpoint's, so a checkpoint
/// that survives a crash implies the chunks written before it survive too.
fn spill_pending(inner: &Inner, shard: u32, head: &mut Head) -> Result<()> {
    let db = &inner.db;
    let chunks_cf = cf(db, CF_CHUNKS);
    let mut wb = rocksdb::WriteBatch::default();
    let (mut chunks, mut bytes, mut samples) = (0u64, 0u64, 0u64);
    for (sid, start, chunk) in head.pending_chunks() {
        wb.put_cf(chunks_cf, chunk_key(shard, sid, start, 0), chunk);
        chunks += 1;
        bytes += chunk.len() as u64;
        samples += u64::from(crate::codec::chunk_header(chunk)?.count);
    }
    db.write(wb)?;
    head.spilled_pending();
    let stats = &inner.stats;
    stats.chunks_written.fetch_add(chunks, Ordering::Relaxed);
    stats
        .chunk_bytes_written
        .fetch_add(bytes, Ordering::Relaxed);
    stats
        .chunk_samples_written
        .fetch_add(samples, Ordering::Relaxed);
    Ok(())
}

fn write_new_series(db: &DB, shard: u32, new_series: &[NewSeries]) -> Result<()> {
    if new_series.is_empty() {
        return Ok(());
    }
    let mut wb = rocksdb::WriteBatch::default();
    let (series_cf, hash_cf, postings_cf) = (
        cf(db, CF_SERIES),
        cf(db, CF_SERIES_HASH),
        cf(db, CF_POSTINGS),
    );
    for s in new_series {
        let rec = encode_series_record(
            &s.tenant,
            s.labels.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        );
        wb.put_cf(series_cf, series_key(shard, s.sid), rec);
        wb.put_cf(hash_cf, series_hash_key(shard, s.hash), s.sid.to_be_bytes());
        wb.put_cf(
            postings_cf,
            postings_key(shard, &s.tenant, index::ALL_POSTINGS_NAME, "", s.sid),
            [],
        );
        for (n, v) in &s.labels {
            wb.put_cf(postings_cf, postings_key(shard, &s.tenant, n, v, s.sid), []);
        }
    }
    // Not synced: the log entries that created these series are, and replay rewrites them.
    db.write(wb)?;
    Ok(())
}
