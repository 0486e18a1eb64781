//! Checkpoints: one RocksDB write per shard with its sealed and partial chunks, head index,
//! flushed index and the caller's marker (a shard group's Raft snapshot), and the window and
//! day merges that `compaction` plans for it; also the admin flush. It runs under the shard's
//! write lock and decides nothing about when (the node's job does, from `needs_checkpoint`).
//!
//! ```text
//!  checkpoint(shard, marker) ──► Head::checkpoint ──► plan (chunks, head index, spilled)
//!        compaction::plan_merges(plan) ──► merge_complete_windows: read each window's or
//!             day's chunks on disk, merge_window, delete what the merged chunks replace
//!        ──► one WriteBatch: chunks + head_index + shard_meta (flushed index, next series
//!            id, checkpoint seq, rollup marks, retention cut-offs, marker)
//!  flush_unreplicated ──► seal_all + checkpoint, every shard ──► flush_memtables (RocksDB's
//!                         memtables flushed, purged log entries compacted away)
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use super::{Engine, FlushOutcome, Inner, ShardState, bounded, cf};
use crate::compaction;
use crate::error::{Error, Result};
use crate::head::{CheckpointPlan, SeriesId};
use crate::keys::{
    ALL_CFS, CF_CHUNKS, CF_HEAD_INDEX, CF_RAFT_LOG, CF_SHARD_META, META_APPLIED_MARKER,
    META_CHECKPOINT_SEQ, META_FLUSHED_INDEX, META_NEXT_SID, chunk_key, chunk_series_day_prefix,
    day_of, day_start, meta_cutoffs_kind, meta_rollup_kind, parse_chunk_key, series_key,
    shard_meta_key,
};
use crate::rollup_marks::encode_cutoffs;
use cairn_model::Tier;

impl Engine {
    /// Seals and checkpoints every shard (keeping each one's marker) and flushes the
    /// memtables: `apply_next`'s counterpart of the node's admin flush.
    pub fn flush_unreplicated(&self) -> Result<FlushOutcome> {
        let mut total = FlushOutcome::default();
        for shard in 0..self.shard_count() {
            self.seal_all(shard)?;
            let o = self.checkpoint(shard, None)?;
            total.chunks += o.chunks;
            total.samples += o.samples;
        }
        self.flush_memtables()?;
        Ok(total)
    }

    /// True when `shard` should checkpoint: enough applied since the last one
    /// (`checkpoint_wal_bytes`), or anything applied and `checkpoint_interval` passed.
    pub fn needs_checkpoint(&self, shard: u32) -> bool {
        let Ok(lock) = self.shard(shard) else {
            return false;
        };
        let st = lock.read().unwrap_or_else(|p| p.into_inner());
        st.bytes_since_checkpoint >= self.inner.cfg.checkpoint_wal_bytes
            || (self
                .inner
                .clock
                .instant()
                .saturating_duration_since(st.last_checkpoint)
                >= self.inner.cfg.checkpoint_interval()
                && st.head.applied_index() != st.flushed_index)
    }

    /// Writes `shard`'s checkpoint: sealed and partial chunks, head index and flushed index,
    /// with `marker` (the caller's record of what is applied; `None` keeps the stored one) in
    /// the same RocksDB write. After it, log entries up to the applied index are no longer
    /// needed by this replica.
    pub fn checkpoint(&self, shard: u32, marker: Option<&[u8]>) -> Result<FlushOutcome> {
        // After shutdown nothing is written: a checkpoint then would race RocksDB's close.
        if !self.is_open() {
            return Err(Error::ShutDown);
        }
        self.shard(shard)?;
        checkpoint_shard(&self.inner, shard, marker)
    }

    /// Seals every open head chunk of `shard` (admin flush), so that the next checkpoint leaves
    /// nothing partial.
    pub fn seal_all(&self, shard: u32) -> Result<()> {
        self.shard(shard)?
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .head
            .seal_all();
        Ok(())
    }

    /// The marker stored by the last checkpoint of `shard` (or installed snapshot).
    pub fn applied_marker(&self, shard: u32) -> Result<Option<Vec<u8>>> {
        self.shard(shard)?;
        let db = &self.inner.db;
        Ok(db.get_cf(
            cf(db, CF_SHARD_META),
            shard_meta_key(shard, META_APPLIED_MARKER),
        )?)
    }

    /// Flushes RocksDB's memtables and compacts away purged log entries (admin flush: bytes on
    /// disk are measured after it).
    pub fn flush_memtables(&self) -> Result<()> {
        let db = &self.inner.db;
        for name in ALL_CFS {
            db.flush_cf(cf(db, name))?;
        }
        db.compact_range_cf::<&[u8], &[u8]>(cf(db, CF_RAFT_LOG), None, None);
        Ok(())
    }
}

fn checkpoint_shard(inner: &Inner, shard: u32, marker: Option<&[u8]>) -> Result<FlushOutcome> {
    let mut st = inner.shards[shard as usize]
        .write()
        .unwrap_or_else(|p| p.into_inner());
    checkpoint_locked(inner, shard, &mut st, marker)
}

/// Writes one shard's checkpoint. The caller holds the shard's write lock throughout, so
/// readers never see data that has left memory but not yet reached RocksDB.
pub(super) fn checkpoint_locked(
    inner: &Inner,
    shard: u32,
    st: &mut ShardState,
    marker: Option<&[u8]>,
) -> Result<FlushOutcome> {
    let db = &inner.db;
    let seq = st.checkpoint_seq;
    let mut plan = st.head.checkpoint(seq)?;
    let applied = st.head.applied_index();
    let mut wb = rocksdb::WriteBatch::default();
    let chunks_cf = cf(db, CF_CHUNKS);
    merge_complete_windows(inner, shard, &mut plan, &mut wb)?;
    let mut bytes = 0u64;
    for (sid, start, seq, chunk) in &plan.chunks {
        bytes += chunk.len() as u64;
        wb.put_cf(chunks_cf, chunk_key(shard, *sid, *start, *seq), chunk);
    }
    let head_cf = cf(db, CF_HEAD_INDEX);
    for (sid, e) in &plan.head_index {
        wb.put_cf(head_cf, series_key(shard, *sid), e.encode());
    }
    let meta = cf(db, CF_SHARD_META);
    wb.put_cf(
        meta,
        shard_meta_key(shard, META_FLUSHED_INDEX),
        applied.to_be_bytes(),
    );
    wb.put_cf(
        meta,
        shard_meta_key(shard, META_NEXT_SID),
        st.head.next_sid().to_be_bytes(),
    );
    wb.put_cf(
        meta,
        shard_meta_key(shard, META_CHECKPOINT_SEQ),
        ((seq + 1) as u64).to_be_bytes(),
    );
    for (tier, marks) in Tier::ROLLUPS.into_iter().zip(&st.rollups) {
        if let Some(kind) = meta_rollup_kind(tier) {
            wb.put_cf(meta, shard_meta_key(shard, kind), marks.encode());
        }
    }
    for (tier, cut) in Tier::ALL.into_iter().zip(&st.cutoffs) {
        wb.put_cf(
            meta,
            shard_meta_key(shard, meta_cutoffs_kind(tier)),
            encode_cutoffs(cut),
        );
    }
    if let Some(m) = marker {
        wb.put_cf(meta, shard_meta_key(shard, META_APPLIED_MARKER), m);
    }
    db.write(wb)?;
    st.checkpoint_seq = seq + 1;
    st.flushed_index = applied;
    st.bytes_since_checkpoint = 0;
    st.last_checkpoint = inner.clock.instant();
    inner.stats.checkpoints.fetch_add(1, Ordering::Relaxed);
    inner
        .stats
        .chunks_written
        .fetch_add(plan.chunks.len() as u64, Ordering::Relaxed);
    inner
        .stats
        .chunk_bytes_written
        .fetch_add(bytes, Ordering::Relaxed);
    inner
        .stats
        .chunk_samples_written
        .fetch_add(plan.samples_in_chunks, Ordering::Relaxed);
    Ok(FlushOutcome {
        chunks: plan.chunks.len() as u64,
        samples: plan.samples_in_chunks,
    })
}

/// Rewrites the chunks of every window and day the plan completes (see `compaction`) as merged
/// chunks of at most 2,048 samples: reads its chunks already on disk, deletes those no merged
/// chunk overwrites in `wb`, and puts the merged chunks in the plan instead of its fresh ones.
fn merge_complete_windows(
    inner: &Inner,
    shard: u32,
    plan: &mut CheckpointPlan,
    wb: &mut rocksdb::WriteBatch,
) -> Result<()> {
    let span = inner.cfg.chunk_span_ms;
    let merges = compaction::plan_merges(&plan.chunks, &plan.spilled, &plan.head_index, span);
    if merges.is_empty() {
        return Ok(());
    }
    let db = &inner.db;
    let chunks_cf = cf(db, CF_CHUNKS);
    let mut replaced: HashSet<(SeriesId, i64, u32)> = HashSet::new();
    let mut merged = Vec::new();
    // The plan's chunks by series: scanning all of them for every merge was quadratic (a
    // flush of 1,000 series' day merges 12,000 windows against 70,000 chunks).
    let mut by_sid: HashMap<SeriesId, Vec<usize>> = HashMap::new();
    for (i, c) in plan.chunks.iter().enumerate() {
        by_sid.entry(c.0).or_default().push(i);
    }
    for m in merges {
        let (ws, we) = (m.window_start, m.end());
        let mut on_disk: Vec<(i64, u32, Vec<u8>)> = Vec::new();
        for day in day_of(ws)..=day_of(we - 1) {
            let prefix = chunk_series_day_prefix(shard, day, m.sid);
            let mut it = db.raw_iterator_cf_opt(chunks_cf, bounded(&prefix));
            it.seek(chunk_key(shard, m.sid, ws.max(day_start(day)), 0));
            while let (Some(k), Some(v)) = (it.key(), it.value()) {
                let (_, start, cseq) = parse_chunk_key(k)?;
                if start >= we {
                    break;
                }
                on_disk.push((start, cseq, v.to_vec()));
                it.next();
            }
            it.status()?;
        }
        let fresh: Vec<(i64, u32, &[u8])> = by_sid
            .get(&m.sid)
            .into_iter()
            .flatten()
            .map(|&i| &plan.chunks[i])
            .filter(|c| c.1 >= ws && c.1 < we)
            .map(|c| (c.1, c.2, &c.3[..]))
            .collect();
        let Some(pieces) = compaction::merge_window(&on_disk, &fresh)? else {
            continue;
        };
        for (s, q, _) in &on_disk {
            // A piece written under the same key replaces it.
            if *q != 0 || !pieces.iter().any(|p| p.0 == *s) {
                wb.delete_cf(chunks_cf, chunk_key(shard, m.sid, *s, *q));
            }
        }
        replaced.extend(fresh.iter().map(|(s, q, _)| (m.sid, *s, *q)));
        merged.extend(
            pieces
                .into_iter()
                .map(|(start, bytes)| (m.sid, start, 0, bytes)),
        );
    }
    plan.chunks.retain(|c| !replaced.contains(&(c.0, c.1, c.2)));
    plan.chunks.extend(merged);
    Ok(())
}

#[cfg(test)]
#[path = "checkpoint_test.rs"]
mod tests;
