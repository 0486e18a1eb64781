//! Applying maintenance commands (`maintenance::Maintenance`), in log order on every replica:
//! rolling up a window of series into blocks, and retention (deleting days, dropping series
//! with nothing left). Also what the planner and the query layer read of it: `rollup_state`
//! and `tier_bounds`. It decides nothing about what to roll or expire (`maintenance_plan`
//! does, from `rollup_state`); it carries out commands, deterministically.
//!
//! ```text
//!  Rollup 5m ──► read_samples (chunks ⊕ head) ─► buckets_of_samples ─► encode_block ─► rollup_5m
//!  Rollup 1h ──► 5m buckets of the day (stitched) ─► merge_buckets ─► encode_block ─► rollup_1h
//!            └─► last piece: dirty mark cleared, watermark advanced; a 5m re-roll below the
//!                1h watermark marks its day dirty for 1h
//!  Expire ──► checkpoint first ─► cut-offs (never lowered) ─► delete_range of whole days
//!             (all tenants past them) + per-key deletes of one tenant's later days
//!             ─► series with nothing left dropped ─► compaction of the ranges (own thread)
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use cairn_model::{Bucket, Tier, buckets_of_samples, merge_buckets};
use rocksdb::WriteBatch;

use super::checkpoint::checkpoint_locked;
use super::{Engine, bounded, cf};
use crate::error::{Error, Result};
use crate::head::SeriesId;
use crate::index;
use crate::keys::{
    CF_HEAD_INDEX, CF_POSTINGS, CF_SERIES, CF_SERIES_HASH, chunk_series_day_prefix, day_of,
    postings_key, rollup_cf, rollup_key, rollup_window_ms, rollup_window_of, series_hash_key,
    series_key, shard_day_key, tier_cf,
};
use crate::maintenance::{Maintenance, MaintenanceOutcome, RollupState, TierCutoffs, TierProgress};
use crate::rollup_block::encode_block;
use crate::series_record::decode_series_record;

/// A key range of one column family to compact once retention deleted it.
pub(super) type CompactRange = (&'static str, Vec<u8>, Vec<u8>);

impl Engine {
    /// Applies the maintenance command at log `index` of `shard` (see `Maintenance`). Like
    /// `apply`, in log order, on every replica; `marker` is what an `Expire`'s checkpoint
    /// stores (the Raft layer's record of the entries before this one).
    pub fn maintain(
        &self,
        shard: u32,
        index: u64,
        cmd: &Maintenance,
        marker: Option<&[u8]>,
    ) -> Result<MaintenanceOutcome> {
        if !self.is_open() {
            return Err(Error::ShutDown);
        }
        let lock = self.shard(shard)?;
        self.inner
            .stats
            .applied_entries
            .fetch_add(1, Ordering::Relaxed);
        let out = match cmd {
            Maintenance::Rollup {
                tier,
                window_start,
                sid_from,
                sid_to,
                last,
            } => self.roll(shard, *tier, *window_start, *sid_from, *sid_to, *last)?,
            Maintenance::Expire {
                tier,
                default_before,
                tenants,
            } => self.expire(shard, *tier, *default_before, tenants, marker)?,
        };
        lock.write()
            .unwrap_or_else(|p| p.into_inner())
            .head
            .set_applied_index(index);
        let s = &self.inner.stats;
        for (counter, n) in [
            (&s.maintenance_windows_rolled, out.windows_rolled),
            (&s.maintenance_blocks_written, out.blocks_written),
            (&s.maintenance_blocks_deleted, out.blocks_deleted),
            (&s.maintenance_days_deleted, out.days_deleted),
            (&s.maintenance_bytes_deleted, out.bytes_deleted),
            (&s.maintenance_series_dropped, out.series_dropped),
        ] {
            counter.fetch_add(n, Ordering::Relaxed);
        }
        Ok(out)
    }

    /// What the maintenance planner needs of `shard`.
    pub fn rollup_state(&self, shard: u32) -> Result<RollupState> {
        let lock = self.shard(shard)?;
        let mut state = {
            let st = lock.read().unwrap_or_else(|p| p.into_inner());
            let (mut oldest, mut newest) = (None::<i64>, None::<i64>);
            for (_, lo, hi) in st.head.all_bounds() {
                oldest = Some(oldest.map_or(lo, |o| o.min(lo)));
                newest = Some(newest.map_or(hi, |n| n.max(hi)));
            }
            RollupState {
                shard,
                rollup_5m: st.marks(Tier::Rollup5m).progress(),
                rollup_1h: st.marks(Tier::Rollup1h).progress(),
                oldest,
                newest,
                tenants: Vec::new(),
                cutoffs: st.cutoffs.clone(),
                next_sid: st.head.next_sid(),
            }
        };
        state.tenants = index::tenants(&self.inner.db, shard)?;
        Ok(state)
    }

    /// The rollup watermarks and dirty windows of `shard` and how many series it holds,
    /// cheaply (no walk over the series, no index read): for status pages.
    pub fn rollup_progress(&self, shard: u32) -> Result<(TierProgress, TierProgress, u64)> {
        let st = self.shard(shard)?.read().unwrap_or_else(|p| p.into_inner());
        Ok((
            st.marks(Tier::Rollup5m).progress(),
            st.marks(Tier::Rollup1h).progress(),
            st.head.series_count() as u64,
        ))
    }

    /// For the query layer: per tier (raw, 5m, 1h) the greatest retention cut-off applied to
    /// `tenant` over `shards` (data before it is gone), `i64::MIN` where none applied.
    pub fn tier_bounds(&self, tenant: &str, shards: &[u32]) -> [i64; 3] {
        let mut out = [i64::MIN; 3];
        for &shard in shards {
            let Some(lock) = self.inner.shards.get(shard as usize) else {
                continue;
            };
            let st = lock.read().unwrap_or_else(|p| p.into_inner());
            for (o, c) in out.iter_mut().zip(&st.cutoffs) {
                let c = c.of(tenant);
                if c > 0 {
                    *o = (*o).max(c);
                }
            }
        }
        out
    }

    /// Waits for the compactions of deleted ranges started so far (tests, and shutdown).
    pub fn wait_for_compactions(&self) {
        let handles = std::mem::take(
            &mut *self
                .inner
                .compactions
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        for h in handles {
            if h.join().is_err() {
                tracing::error!("a retention compaction panicked");
            }
        }
    }

    fn roll(
        &self,
        shard: u32,
        tier: Tier,
        ws: i64,
        sid_from: u64,
        sid_to: Option<u64>,
        last: bool,
    ) -> Result<MaintenanceOutcome> {
        let mut out = MaintenanceOutcome::default();
        let (w, win) = (tier.bucket_ms(), rollup_window_ms(tier));
        let Some(cf_name) = rollup_cf(tier).filter(|_| ws.rem_euclid(win) == 0) else {
            // A command the planner cannot make; applying nothing keeps the replicas equal
            // (an error would stop the group on an entry it can never get past).
            tracing::warn!(shard, %tier, ws, "rollup of a raw tier or an unaligned window ignored");
            return Ok(out);
        };
        let lock = self.shard(shard)?;
        let (candidates, marks) = {
            let st = lock.read().unwrap_or_else(|p| p.into_inner());
            let to = sid_to.unwrap_or(u64::MAX);
            let c: Vec<(SeriesId, (i64, i64))> = st
                .head
                .all_bounds()
                .filter(|&(sid, lo, hi)| sid >= sid_from && sid < to && lo <= ws + win && hi > ws)
                .map(|(sid, lo, hi)| (sid, (lo, hi)))
                .collect();
            (c, st.rollups.clone())
        };
        let db = &self.inner.db;
        let rcf = cf(db, cf_name);
        let mut wb = WriteBatch::default();
        let (mut samples, mut fine, mut buckets, mut bytes) =
            (Vec::new(), Vec::new(), Vec::<Bucket>::new(), Vec::new());
        for (sid, bounds) in candidates {
            out.series_rolled += 1;
            buckets.clear();
            if tier == Tier::Rollup5m {
                // The normal read path: disk chunks and the head, out-of-order samples merged.
                self.read_samples(shard, sid, ws + 1, ws + win, &mut samples)?;
                buckets_of_samples(w, &samples, ws, ws + win, &mut buckets);
            } else {
                // The day's 5-minute buckets, stored or (for windows not rolled or dirty)
                // computed from raw samples: exactly what read_buckets returns for them.
                fine.clear();
                self.stitched(
                    shard,
                    sid,
                    Tier::Rollup5m,
                    ws,
                    ws + win,
                    bounds,
                    &marks,
                    &mut fine,
                )?;
                merge_buckets(w, &fine, &mut buckets);
            }
            let key = rollup_key(shard, sid, ws);
            if buckets.is_empty() {
                // A re-roll of a window whose samples are gone (or never were): no block.
                if db.get_pinned_cf(rcf, key)?.is_some() {
                    wb.delete_cf(rcf, key);
                    out.blocks_deleted += 1;
                }
                continue;
            }
            bytes.clear();
            encode_block(ws, w, &buckets, &mut bytes)?;
            wb.put_cf(rcf, key, &bytes);
            out.blocks_written += 1;
        }
        // Not synced, like new series: the log holds the command, and a replay rewrites the
        // same blocks from the same data.
        db.write(wb)?;
        let mut st = lock.write().unwrap_or_else(|p| p.into_inner());
        if tier == Tier::Rollup5m
            && st
                .marks(Tier::Rollup1h)
                .watermark
                .is_some_and(|wm| ws + win <= wm)
        {
            // The day's hour buckets were built from what this window held before.
            let day = rollup_window_of(Tier::Rollup1h, ws + win);
            st.marks_mut(Tier::Rollup1h).dirty.insert(day);
        }
        if last {
            // The watermark moves on from the window just below, or jumps over windows no
            // series has data in (nothing newer than the watermark: a shard idle for a month
            // does not roll up thousands of empty windows one by one).
            let idle = |wm: i64| st.head.all_bounds().all(|(_, _, hi)| hi <= wm);
            let m = st.marks(tier).watermark;
            if m.is_none_or(|wm| wm == ws || (wm < ws && idle(wm))) {
                st.marks_mut(tier).watermark = Some(ws + win);
            }
            st.marks_mut(tier).dirty.remove(&ws);
            out.windows_rolled = 1;
        }
        Ok(out)
    }

    fn expire(
        &self,
        shard: u32,
        tier: Tier,
        default_before: i64,
        tenants: &[(String, i64)],
        marker: Option<&[u8]>,
    ) -> Result<MaintenanceOutcome> {
        let mut out = MaintenanceOutcome::default();
        let lock = self.shard(shard)?;
        let ti = tier.index();
        let old = {
            let mut st = lock.write().unwrap_or_else(|p| p.into_inner());
            // Checkpoint first, at the entry before this one. A crash after the deletes but
            // before the next checkpoint replays from here, so the log's earlier entries (a
            // Rollup reading raw samples this Expire deletes, say) are never applied again to
            // data that is gone: a replay would otherwise write empty or partial blocks over
            // good ones.
            checkpoint_locked(&self.inner, shard, &mut st, marker)?;
            st.cutoffs[ti].clone()
        };
        let new = raise_cutoffs(&old, default_before, tenants);
        let db = &self.inner.db;
        let present = index::tenants(db, shard)?;
        let data_cf = cf(db, tier_cf(tier));
        let mut wb = WriteBatch::default();
        let mut compact: Vec<CompactRange> = Vec::new();
        // Whole days before every present tenant's cut-off go with one range delete.
        let floor = present.iter().map(|t| new.of(t)).min().unwrap_or(0);
        if floor > 0 {
            let (a, b) = (shard_day_key(shard, 0), shard_day_key(shard, day_of(floor)));
            let mut it = db.raw_iterator_cf_opt(data_cf, bounded(&shard_day_key(shard, 0)[..2]));
            it.seek(a);
            if let Some(k) = it.key().filter(|k| k < &&b[..]) {
                let first = u32::from_be_bytes([k[2], k[3], k[4], k[5]]);
                out.days_deleted += u64::from(day_of(floor) - first);
                out.bytes_deleted += db
                    .get_approximate_sizes_cf(data_cf, &[rocksdb::Range::new(&a, &b)])
                    .first()
                    .copied()
                    .unwrap_or(0);
                wb.delete_range_cf(data_cf, a, b);
                compact.push((tier_cf(tier), a.to_vec(), b.to_vec()));
            }
            it.status()?;
        }
        // A tenant with a later cut-off than that: its series' keys of the days in between,
        // one by one (other tenants keep those days). Only the days since its last cut-off:
        // the earlier ones went at earlier Expires.
        let (bounds, all_cutoffs) = {
            let st = lock.read().unwrap_or_else(|p| p.into_inner());
            let b: HashMap<SeriesId, (i64, i64)> = st
                .head
                .all_bounds()
                .map(|(sid, lo, hi)| (sid, (lo, hi)))
                .collect();
            (b, st.cutoffs.clone())
        };
        let mut drop: HashSet<SeriesId> = HashSet::new();
        let mut open_cuts: Vec<(SeriesId, i64)> = Vec::new();
        for t in &present {
            let cut = new.of(t);
            let sids = index::all_postings(db, shard, t)?;
            if tier == Tier::Raw && cut > 0 {
                open_cuts.extend(sids.iter().map(|&sid| (sid, cut)));
            }
            if cut > floor {
                let from = old.of(t).max(floor);
                let mut days = HashSet::new();
                for &sid in &sids {
                    let Some(&(lo, _)) = bounds.get(&sid) else {
                        continue;
                    };
                    for day in day_of(from.max(lo))..day_of(cut) {
                        let prefix = chunk_series_day_prefix(shard, day, sid);
                        let mut it = db.raw_iterator_cf_opt(data_cf, bounded(&prefix));
                        it.seek(prefix);
                        while let (Some(k), Some(v)) = (it.key(), it.value()) {
                            out.bytes_deleted += (k.len() + v.len()) as u64;
                            wb.delete_cf(data_cf, k);
                            days.insert(day);
                            it.next();
                        }
                        it.status()?;
                    }
                }
                out.days_deleted += days.len() as u64;
                if !days.is_empty() {
                    compact.push((
                        tier_cf(tier),
                        shard_day_key(shard, day_of(from)).to_vec(),
                        shard_day_key(shard, day_of(cut)).to_vec(),
                    ));
                }
            }
            // Nothing left in any tier: every tier has a cut-off (none keeps forever) and the
            // series' newest sample is before the earliest of them.
            let cuts: Vec<i64> = Tier::ALL
                .iter()
                .enumerate()
                .map(|(i, _)| if i == ti { cut } else { all_cutoffs[i].of(t) })
                .collect();
            if cuts.iter().all(|&c| c > 0) {
                let oldest = cuts.iter().copied().min().unwrap_or(0);
                drop.extend(
                    sids.iter()
                        .filter(|sid| bounds.get(sid).is_some_and(|&(_, hi)| hi < oldest)),
                );
            }
        }
        // Dropped series leave the head first: `select` skips series without bounds, so it
        // never meets one whose postings it read but whose record is gone.
        let hashes = {
            let mut st = lock.write().unwrap_or_else(|p| p.into_inner());
            // The open chunks in memory hold raw samples too (their copies on disk go with
            // the deleted days).
            for &(sid, cut) in &open_cuts {
                st.head.drop_open_before(sid, cut);
            }
            if drop.is_empty() {
                Vec::new()
            } else {
                st.head.drop_series(&drop)
            }
        };
        for h in hashes {
            wb.delete_cf(cf(db, CF_SERIES_HASH), series_hash_key(shard, h));
        }
        let mut dropped: Vec<SeriesId> = drop.into_iter().collect();
        dropped.sort_unstable();
        for &sid in &dropped {
            let key = series_key(shard, sid);
            if let Some(rec) = db.get_cf(cf(db, CF_SERIES), key)? {
                let (tenant, labels) = decode_series_record(&rec, shard)?;
                let pcf = cf(db, CF_POSTINGS);
                wb.delete_cf(
                    pcf,
                    postings_key(shard, &tenant, index::ALL_POSTINGS_NAME, "", sid),
                );
                for l in labels.iter() {
                    wb.delete_cf(pcf, postings_key(shard, &tenant, &l.name, &l.value, sid));
                }
            }
            wb.delete_cf(cf(db, CF_SERIES), key);
            wb.delete_cf(cf(db, CF_HEAD_INDEX), key);
        }
        out.series_dropped = dropped.len() as u64;
        db.write(wb)?;
        lock.write().unwrap_or_else(|p| p.into_inner()).cutoffs[ti] = new;
        if !compact.is_empty() {
            self.compact_later(compact);
        }
        Ok(out)
    }

    /// Compacts deleted ranges (retention's, a dropped shard's) on a thread of its own, so the
    /// space comes back without holding up apply (a compaction of a day of chunks takes
    /// seconds); the thread is tracked, so shutdown waits for it before closing the database.
    pub(super) fn compact_later(&self, ranges: Vec<CompactRange>) {
        let db = self.inner.db.clone();
        let spawned = std::thread::Builder::new()
            .name("cairn-compact".into())
            .spawn(move || {
                for (name, a, b) in ranges {
                    if let Some(h) = db.cf_handle(name) {
                        db.compact_range_cf(h, Some(a), Some(b));
                    }
                }
            });
        match spawned {
            Ok(h) => {
                let mut hs = self
                    .inner
                    .compactions
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                hs.retain(|h| !h.is_finished());
                hs.push(h);
            }
            Err(e) => tracing::warn!(error = %e, "could not start compacting deleted ranges"),
        }
    }
}

/// The cut-offs after an Expire: each tenant's never goes back (the data before it is gone
/// whatever the policy says now), listed tenants get theirs, the others the default.
fn raise_cutoffs(old: &TierCutoffs, default_before: i64, tenants: &[(String, i64)]) -> TierCutoffs {
    let mut new = old.clone();
    new.default = old.default.max(default_before);
    for c in new.tenants.values_mut() {
        *c = (*c).max(default_before);
    }
    for (t, c) in tenants {
        new.tenants.insert(t.clone(), old.of(t).max(*c));
    }
    new
}

#[cfg(test)]
#[path = "maintenance_test.rs"]
mod tests;
