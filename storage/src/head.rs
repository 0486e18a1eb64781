//! The head of one shard: every series' open chunk, its sealed chunks not yet written, and its
//! out-of-order samples, plus the series-id lookup. Pure in-memory state: it takes decoded
//! write batches and returns what the engine must write (new series, checkpoint records); it
//! never touches RocksDB itself.
//!
//! ```text
//!  sample ──► t > max_t ─────────► open HeadChunk ──(120 samples | 2 h boundary)──► pending
//!        ├──► t == max_t ────────► duplicate: same value is idempotent, else rejected
//!        ├──► max_t-ooo ≤ t < max_t ► out-of-order buffer (sorted) ──checkpoint──► OOO chunk
//!        └──► older ─────────────► rejected (counted)
//! ```
//! Each series' state and the paged table of them are in `head/series.rs`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::codec::{ChunkHeader, decode_chunk, encode_chunk};
use crate::error::Result;
use crate::head_chunk::{ChunkHint, HeadChunk};
use crate::keys::HeadIndexEntry;
use cairn_model::DecodedBatch;
use cairn_model::Sample;
use cairn_model::series_hash::{group_hash, series_hash_in_group, with_metric_name};

mod series;

use series::{DIRTY, SeriesTable};
pub use series::{HeadSeries, PendingChunk};

/// Series id within a shard, assigned densely in apply order.
pub type SeriesId = u64;

/// The limits the head applies to every series.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    pub chunk_max_samples: usize,
    pub chunk_span_ms: i64,
    pub ooo_window_ms: i64,
}

/// A series created by apply, for the engine to index on disk.
#[derive(Debug)]
pub struct NewSeries {
    pub sid: SeriesId,
    pub hash: u128,
    pub tenant: String,
    /// All labels including `__name__`, sorted by name.
    pub labels: Vec<(String, String)>,
}

/// What applying one batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub written: u64,
    /// Identical repeats of an existing sample (idempotent retries): neither written nor an error.
    pub duplicates: u64,
    /// Older than the out-of-order window.
    pub rejected_too_old: u64,
    /// Same timestamp as the newest sample but a different value.
    pub rejected_conflict: u64,
    pub new_series: u64,
    /// Of `written`, the samples older than their series' newest (kept in the out-of-order
    /// buffer and merged at read time).
    pub out_of_order: u64,
    /// The oldest timestamp written (`None` if nothing was): what caches of past results
    /// must forget.
    pub oldest_written: Option<i64>,
}

impl ApplyOutcome {
    pub fn rejected(&self) -> u64 {
        self.rejected_too_old + self.rejected_conflict
    }

    pub fn add(&mut self, o: &ApplyOutcome) {
        self.written += o.written;
        self.duplicates += o.duplicates;
        self.rejected_too_old += o.rejected_too_old;
        self.rejected_conflict += o.rejected_conflict;
        self.new_series += o.new_series;
        self.out_of_order += o.out_of_order;
        self.oldest_written = match (self.oldest_written, o.oldest_written) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// What `Engine::apply` asks of one batch beyond the head's own limits: the tenant's raw
/// retention cut-off and the 5-minute rollup watermark.
#[derive(Debug, Clone, Copy)]
pub struct ApplyFilter {
    /// Samples at or before this are refused (counted as too old) and create no series;
    /// `i64::MIN`: none.
    pub reject_at_or_before: i64,
    /// The times of written samples at or before this are reported (their rollup windows
    /// are stored already); `i64::MIN`: none.
    pub late_at_or_before: i64,
}

impl Default for ApplyFilter {
    fn default() -> Self {
        ApplyFilter {
            reject_at_or_before: i64::MIN,
            late_at_or_before: i64::MIN,
        }
    }
}

/// The records a checkpoint writes, produced by `Head::checkpoint`.
#[derive(Debug, Default)]
pub struct CheckpointPlan {
    /// (sid, chunk start, seq, chunk bytes)
    pub chunks: Vec<(SeriesId, i64, u32, Vec<u8>)>,
    pub head_index: Vec<(SeriesId, HeadIndexEntry)>,
    pub samples_in_chunks: u64,
    /// In-order chunks written since the last checkpoint (series, chunk start), already on
    /// disk; their windows are merged like those of `chunks`.
    pub spilled: Vec<(SeriesId, i64)>,
}

/// What a read gets from memory for one series.
#[derive(Debug, Default)]
pub struct MemSamples {
    pub samples: Vec<Sample>,
    pub ooo: Vec<Sample>,
    /// Start of the open in-order chunk: a partial copy on disk under this key is stale.
    pub open_start: Option<i64>,
}

/// The keys of `Head::by_hash` are already uniform 128-bit hashes: hashing them again (SipHash)
/// was a visible share of apply time, so the map uses their low 64 bits as they are.
#[derive(Default)]
struct PrehashedU128(u64);

impl Hasher for PrehashedU128 {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u128` keys reach this map; fold any other input anyway, to stay correct.
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(29) ^ u64::from_le_bytes(b);
        }
    }

    fn write_u128(&mut self, i: u128) {
        self.0 ^= i as u64;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// `Head::append`'s block end before it is known.
const UNKNOWN_BLOCK_END: i128 = i128::MIN;

pub struct Head {
    limits: HeadLimits,
    by_hash: HashMap<u128, SeriesId, BuildHasherDefault<PrehashedU128>>,
    series: SeriesTable,
    dirty: Vec<SeriesId>,
    /// Bytes of the sealed chunks in memory (the engine writes them out when they grow too
    /// large: `spilled_pending`).
    pending_bytes: usize,
    /// In-order chunks written out before the next checkpoint (series, chunk start): that
    /// checkpoint must still consider merging their windows.
    spilled: Vec<(SeriesId, i64)>,
    applied_index: u64,
    hash_buf: Vec<u8>,
}

enum Append {
    Written,
    OutOfOrder,
    Duplicate,
    TooOld,
    Conflict,
}

impl Head {
    pub fn new(limits: HeadLimits) -> Self {
        Head {
            limits,
            by_hash: HashMap::default(),
            series: SeriesTable::default(),
            dirty: Vec::new(),
            pending_bytes: 0,
            spilled: Vec::new(),
            applied_index: 0,
            hash_buf: Vec::with_capacity(256),
        }
    }

    pub fn applied_index(&self) -> u64 {
        self.applied_index
    }

    pub fn set_applied_index(&mut self, index: u64) {
        self.applied_index = index;
    }

    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    pub fn next_sid(&self) -> SeriesId {
        self.series.len() as SeriesId
    }

    /// Series that have an open chunk, i.e. received samples recently.
    pub fn active_series(&self) -> usize {
        self.series.iter().filter(|s| s.open.is_some()).count()
    }

    /// Bytes of sealed chunks waiting in memory.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// Every sealed chunk in memory: (series, chunk start, bytes), for the engine to write
    /// out before [`spilled_pending`](Self::spilled_pending) drops them.
    pub fn pending_chunks(&self) -> impl Iterator<Item = (SeriesId, i64, &[u8])> {
        // Sealed chunks only exist in dirty series.
        self.dirty.iter().flat_map(|&sid| {
            self.series[sid as usize]
                .pending
                .iter()
                .map(move |p| (sid, p.start, &p.bytes[..]))
        })
    }

    /// Drops the sealed chunks from memory once the engine has written them (under their
    /// final keys: a sealed in-order chunk's key depends only on its series and start, so a
    /// replay after a crash writes the same chunk again under the same key). The series stay
    /// dirty, and the next checkpoint merges their windows as if the chunks were its own.
    pub fn spilled_pending(&mut self) {
        for &sid in &self.dirty {
            let s = &mut self.series[sid as usize];
            for p in std::mem::take(&mut s.pending).into_vec() {
                self.spilled.push((sid, p.start));
            }
        }
        self.pending_bytes = 0;
    }

    pub fn heap_bytes(&self) -> usize {
        self.series
            .iter()
            .map(HeadSeries::heap_bytes)
            .sum::<usize>()
            + self.series.allocated_bytes()
            + self.by_hash.capacity() * 32
    }

    /// Registers a series known from disk at startup, keeping ids dense.
    pub fn restore_series(&mut self, hash: u128, sid: SeriesId) {
        while self.series.len() <= sid as usize {
            self.series.push(HeadSeries::new());
        }
        self.by_hash.insert(hash, sid);
    }

    /// Restores a series' bounds and reopens its partial chunk (decoded from disk) at startup.
    pub fn restore_head(&mut self, sid: SeriesId, e: &HeadIndexEntry, open: Option<Vec<Sample>>) {
        let Some(s) = self.series.get_mut(sid as usize) else {
            return;
        };
        s.min_t = e.min_t;
        s.max_t = e.max_t;
        if let Some(samples) = open.filter(|v| !v.is_empty()) {
            let mut c = HeadChunk::new(samples[0]);
            for x in &samples[1..] {
                c.push(*x);
            }
            if let Some(x) = samples.last() {
                s.set_last_v(x.v);
            }
            s.open = Some(c);
        }
    }

    /// Applies one decoded batch at log `index`. New series are appended to `new_series`.
    pub fn apply(
        &mut self,
        index: u64,
        batch: &DecodedBatch<'_>,
        new_series: &mut Vec<NewSeries>,
    ) -> ApplyOutcome {
        self.apply_filtered(
            index,
            batch,
            new_series,
            ApplyFilter::default(),
            &mut Vec::new(),
        )
    }

    /// [`Head::apply`] with `filter`: refused samples are counted as too old, and the times
    /// of written samples at or before `filter.late_at_or_before` are appended to `late`.
    pub fn apply_filtered(
        &mut self,
        index: u64,
        batch: &DecodedBatch<'_>,
        new_series: &mut Vec<NewSeries>,
        filter: ApplyFilter,
        late: &mut Vec<i64>,
    ) -> ApplyOutcome {
        let mut out = ApplyOutcome::default();
        let cut = filter.reject_at_or_before;
        let mut labels: Vec<(&str, &str)> = Vec::new();
        for g in &batch.groups {
            labels.clear();
            labels.extend(
                batch
                    .labels_of(g)
                    .iter()
                    .map(|&(n, v)| (batch.str(n), batch.str(v))),
            );
            let group = group_hash(&mut self.hash_buf, batch.tenant, labels.iter().copied());
            for item in batch.items_of(g) {
                if cut != i64::MIN {
                    let refused = batch.samples_of(item).iter().filter(|s| s.t <= cut).count();
                    // Nothing to keep: no series is created for samples retention refuses.
                    if refused == batch.samples_of(item).len() {
                        out.rejected_too_old += refused as u64;
                        continue;
                    }
                }
                let name = batch.str(item.name);
                let hash = series_hash_in_group(&mut self.hash_buf, group, name);
                let sid = match self.by_hash.get(&hash) {
                    Some(&sid) => sid,
                    None => {
                        let sid = self.series.len() as SeriesId;
                        self.series.push(HeadSeries::new());
                        self.by_hash.insert(hash, sid);
                        new_series.push(NewSeries {
                            sid,
                            hash,
                            tenant: batch.tenant.to_string(),
                            labels: with_metric_name(&labels, name)
                                .into_iter()
                                .map(|(n, v)| (n.to_string(), v.to_string()))
                                .collect(),
                        });
                        out.new_series += 1;
                        sid
                    }
                };
                let mut oldest = i64::MAX;
                // The end of the open chunk's time block, worked out once per chunk rather
                // than with two divisions per sample (a fifth of apply's time).
                let mut block_end = UNKNOWN_BLOCK_END;
                for (s, &m) in batch.samples_of(item).iter().zip(batch.mantissas_of(item)) {
                    if s.t <= cut {
                        out.rejected_too_old += 1;
                        continue;
                    }
                    let decimal = item.scale.map(|scale| (m, scale));
                    match self.append(sid, *s, decimal, &mut block_end) {
                        Append::Written => {
                            out.written += 1;
                            oldest = oldest.min(s.t);
                            if s.t <= filter.late_at_or_before {
                                late.push(s.t);
                            }
                        }
                        Append::OutOfOrder => {
                            out.written += 1;
                            out.out_of_order += 1;
                            oldest = oldest.min(s.t);
                            if s.t <= filter.late_at_or_before {
                                late.push(s.t);
                            }
                        }
                        Append::Duplicate => out.duplicates += 1,
                        Append::TooOld => out.rejected_too_old += 1,
                        Append::Conflict => out.rejected_conflict += 1,
                    }
                }
                if oldest != i64::MAX {
                    out.oldest_written = Some(out.oldest_written.map_or(oldest, |o| o.min(oldest)));
                }
            }
        }
        self.applied_index = index;
        out
    }

    /// Appends one sample of series `sid`. `block_end` caches where the open chunk's time
    /// block ends (exclusive; [`UNKNOWN_BLOCK_END`] until computed) for the samples of one
    /// item; it is reset whenever the open chunk changes.
    ///
    /// `decimal` is `(m, scale)` when the value is known to be exactly `m / 10^scale`.
    fn append(
        &mut self,
        sid: SeriesId,
        x: Sample,
        decimal: Option<(i64, u8)>,
        block_end: &mut i128,
    ) -> Append {
        let limits = self.limits;
        let s = &mut self.series[sid as usize];
        if s.mark_dirty() {
            self.dirty.push(sid);
        }
        if s.max_t == i64::MIN || x.t > s.max_t {
            // A full chunk's size: the next one most likely needs as much.
            let mut hint = ChunkHint::default();
            if let Some(open) = &s.open {
                if *block_end == UNKNOWN_BLOCK_END {
                    let span = i128::from(limits.chunk_span_ms);
                    *block_end =
                        (i128::from(open.first_t().div_euclid(limits.chunk_span_ms)) + 1) * span;
                }
                // x.t is after the chunk's first sample, so it is in the chunk's block
                // exactly when it is before the block's end.
                let same_block = i128::from(x.t) < *block_end;
                if open.len() >= limits.chunk_max_samples || !same_block {
                    *block_end = UNKNOWN_BLOCK_END;
                    hint = open.hint();
                    if open.len() < limits.chunk_max_samples {
                        hint.bytes = 0;
                    }
                    self.pending_bytes += Self::seal(s);
                }
            }
            match (&mut s.open, decimal) {
                (Some(c), Some((m, scale))) => c.push_decimal(x, m, scale),
                (Some(c), None) => c.push(x),
                (None, _) => s.open = Some(HeadChunk::with_hint(x, hint)),
            }
            s.max_t = x.t;
            s.min_t = s.min_t.min(x.t);
            s.set_last_v(x.v);
            return Append::Written;
        }
        if x.t == s.max_t {
            return match s.last_v() {
                Some(v) if v.to_bits() != x.v.to_bits() => Append::Conflict,
                _ => Append::Duplicate,
            };
        }
        if x.t < s.max_t.saturating_sub(limits.ooo_window_ms) {
            return Append::TooOld;
        }
        let ooo = s.ooo.get_or_insert_with(|| Box::new(Vec::new()));
        // A late batch brings a series' samples in ascending order, usually after the late
        // ones before it: appending is the common case (a search and an insert into a
        // thousand-sample buffer were 10% of ingest CPU under concurrent writers).
        if ooo.last().is_none_or(|p| p.t < x.t) {
            ooo.push(x);
            s.min_t = s.min_t.min(x.t);
            return Append::OutOfOrder;
        }
        match ooo.binary_search_by(|p| p.t.cmp(&x.t)) {
            Ok(i) if ooo[i].v.to_bits() == x.v.to_bits() => return Append::Duplicate,
            // A later out-of-order write of the same timestamp replaces the earlier one.
            Ok(i) => ooo[i] = x,
            Err(i) => ooo.insert(i, x),
        }
        s.min_t = s.min_t.min(x.t);
        Append::OutOfOrder
    }

    /// Seals `s`'s open chunk into its pending list; returns the sealed chunk's size.
    fn seal(s: &mut HeadSeries) -> usize {
        let Some(open) = s.open.take() else {
            return 0;
        };
        let start = open.first_t();
        let mut bytes = Vec::new();
        match open.seal(&mut bytes) {
            Ok(_) => {
                let len = bytes.len();
                s.push_pending(PendingChunk {
                    start,
                    bytes: bytes.into_boxed_slice(),
                });
                len
            }
            // Only a codec bug gets here (the chunk's own bytes do not decode).
            Err(e) => {
                tracing::error!(error = %e, "sealing a head chunk failed");
                0
            }
        }
    }

    /// Seals every open chunk (admin flush), so that a checkpoint leaves nothing partial.
    pub fn seal_all(&mut self) {
        for sid in 0..self.series.len() {
            let s = &mut self.series[sid];
            if s.open.is_some() {
                self.pending_bytes += Self::seal(s);
                if s.mark_dirty() {
                    self.dirty.push(sid as SeriesId);
                }
            }
        }
    }

    /// Moves everything the dirty series hold into a plan of records to write: sealed chunks,
    /// a copy of each open chunk (rewritten in place later), out-of-order samples as chunks
    /// keyed with `seq`, and each series' head index entry. The caller must write the plan
    /// before readers can miss the data (it holds the head's write lock while writing).
    pub fn checkpoint(&mut self, seq: u32) -> Result<CheckpointPlan> {
        let mut plan = CheckpointPlan::default();
        let span = self.limits.chunk_span_ms;
        // Every pending chunk belongs to a dirty series.
        self.pending_bytes = 0;
        plan.spilled = std::mem::take(&mut self.spilled);
        for sid in std::mem::take(&mut self.dirty) {
            let s = &mut self.series[sid as usize];
            s.flags &= !DIRTY;
            for p in std::mem::take(&mut s.pending).into_vec() {
                let h = crate::codec::chunk_header(&p.bytes)?;
                plan.samples_in_chunks += h.count as u64;
                plan.chunks.push((sid, p.start, 0, p.bytes.into_vec()));
            }
            if let Some(open) = &s.open {
                let mut bytes = Vec::new();
                let h = open.encode(&mut bytes)?;
                plan.samples_in_chunks += u64::from(h.count);
                plan.chunks.push((sid, open.first_t(), 0, bytes));
            }
            if let Some(ooo) = s.ooo.take() {
                for block in ooo.chunk_by(|a, b| a.t.div_euclid(span) == b.t.div_euclid(span)) {
                    for part in block.chunks(self.limits.chunk_max_samples.max(1)) {
                        let mut bytes = Vec::new();
                        encode_chunk(part, &mut bytes)?;
                        plan.samples_in_chunks += part.len() as u64;
                        plan.chunks.push((sid, part[0].t, seq, bytes));
                    }
                }
            }
            plan.head_index.push((
                sid,
                HeadIndexEntry {
                    min_t: s.min_t,
                    max_t: s.max_t,
                    open_chunk: s.open.as_ref().map(|c| c.first_t()),
                },
            ));
        }
        Ok(plan)
    }

    /// Copies what memory holds of series `sid` within `[mint, maxt]`.
    pub fn read(&self, sid: SeriesId, mint: i64, maxt: i64, out: &mut MemSamples) -> Result<()> {
        out.samples.clear();
        out.ooo.clear();
        out.open_start = None;
        let Some(s) = self.series.get(sid as usize) else {
            return Ok(());
        };
        if s.max_t < mint || s.min_t > maxt {
            return Ok(());
        }
        let mut tmp = Vec::new();
        for p in &s.pending {
            let h: ChunkHeader = crate::codec::chunk_header(&p.bytes)?;
            if p.start > maxt || p.start.saturating_add(h.span as i64) < mint {
                continue;
            }
            tmp.clear();
            decode_chunk(&p.bytes, p.start, &mut tmp)?;
            out.samples
                .extend(tmp.iter().filter(|x| x.t >= mint && x.t <= maxt));
        }
        if let Some(open) = &s.open {
            out.open_start = Some(open.first_t());
            if open.first_t() <= maxt && open.last_t() >= mint {
                tmp.clear();
                open.samples(&mut tmp)?;
                out.samples
                    .extend(tmp.iter().filter(|x| x.t >= mint && x.t <= maxt));
            }
        }
        if let Some(ooo) = &s.ooo {
            out.ooo
                .extend(ooo.iter().filter(|x| x.t >= mint && x.t <= maxt));
        }
        Ok(())
    }

    /// Makes sure ids below `next` are taken (recovery: ids of dropped series are never
    /// handed out again).
    pub fn reserve_sids(&mut self, next: SeriesId) {
        while (self.series.len() as SeriesId) < next {
            self.series.push(HeadSeries::new());
        }
    }

    /// Forgets series `sids` (retention dropped them): their hashes leave the lookup (and are
    /// returned, for the engine to delete their keys) and their slots are emptied. The ids
    /// stay taken. Call right after a checkpoint, when nothing of theirs waits in memory.
    pub fn drop_series(&mut self, sids: &std::collections::HashSet<SeriesId>) -> Vec<u128> {
        let mut hashes = Vec::with_capacity(sids.len());
        self.by_hash.retain(|h, sid| {
            let drop = sids.contains(sid);
            if drop {
                hashes.push(*h);
            }
            !drop
        });
        for &sid in sids {
            if let Some(s) = self.series.get_mut(sid as usize) {
                for p in s.pending.iter() {
                    self.pending_bytes = self.pending_bytes.saturating_sub(p.bytes.len());
                }
                *s = HeadSeries::new();
            }
        }
        self.dirty.retain(|sid| !sids.contains(sid));
        self.spilled.retain(|(sid, _)| !sids.contains(sid));
        hashes
    }

    /// Drops the open chunk of `sid` if it starts before `cut` (a day start, so a chunk,
    /// which never crosses a 2-hour boundary, is either wholly before it or not at all):
    /// retention deleted its copy on disk. Sealed and out-of-order samples are on disk after
    /// the checkpoint an expiry starts with. The bounds stay (for out-of-order decisions).
    pub fn drop_open_before(&mut self, sid: SeriesId, cut: i64) {
        if let Some(s) = self.series.get_mut(sid as usize)
            && s.open.as_ref().is_some_and(|c| c.first_t() < cut)
        {
            s.open = None;
        }
    }

    /// Every series with samples: (id, min_t, max_t).
    pub fn all_bounds(&self) -> impl Iterator<Item = (SeriesId, i64, i64)> + '_ {
        self.series
            .iter()
            .enumerate()
            .filter(|(_, s)| s.max_t != i64::MIN)
            .map(|(i, s)| (i as SeriesId, s.min_t, s.max_t))
    }

    /// The time bounds of a series (min, max), if it has any sample.
    pub fn bounds(&self, sid: SeriesId) -> Option<(i64, i64)> {
        self.series
            .get(sid as usize)
            .filter(|s| s.max_t != i64::MIN)
            .map(|s| (s.min_t, s.max_t))
    }
}

#[cfg(test)]
mod head_test;
