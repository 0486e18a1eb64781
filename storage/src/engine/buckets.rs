//! Stitched bucket reads: a series' buckets of one rollup tier over a time range, from the
//! stored blocks where they are current and computed from the next finer tier everywhere
//! else, with the same functions the rollup job uses, so both give the same numbers. Reads
//! only; the shard's read lock is held just to copy the series' bounds and the marks.
//!
//! ```text
//!  read_buckets(tier, (mint, maxt]) ──► per window of the tier:
//!     at or below the watermark and not dirty ──► its stored block (rollup_5m / rollup_1h)
//!     otherwise (runs of such windows) ──► 5m: read_samples ─► buckets_of_samples
//!                                         1h: read_buckets(5m) ─► merge_buckets
//! ```
//! Each window is taken from exactly one source, so there is no gap and nothing counted twice
//! where the watermark falls.

use cairn_model::{Bucket, Tier, bucket_end, buckets_of_samples, merge_buckets};

use super::{Engine, cf};
use crate::error::{Error, Result};
use crate::head::SeriesId;
use crate::keys::{rollup_cf, rollup_key, rollup_window_ms, rollup_window_of};
use crate::rollup_block::decode_block;
use crate::rollup_marks::RollupMarks;

impl Engine {
    /// The non-empty buckets of `tier` of one series whose end is in `(mint, maxt]`, in time
    /// order (see the module docs). `tier` must be a rollup tier.
    pub fn read_buckets(
        &self,
        shard: u32,
        sid: SeriesId,
        tier: Tier,
        mint: i64,
        maxt: i64,
        out: &mut Vec<Bucket>,
    ) -> Result<()> {
        out.clear();
        if tier == Tier::Raw {
            return Err(Error::Config {
                field: "tier",
                reason: "raw samples have no buckets (read_samples reads them)".into(),
            });
        }
        let Some(lock) = self.inner.shards.get(shard as usize) else {
            return Ok(());
        };
        let (bounds, marks) = {
            let st = lock.read().unwrap_or_else(|p| p.into_inner());
            (st.head.bounds(sid), st.rollups.clone())
        };
        let Some(bounds) = bounds else {
            return Ok(());
        };
        self.stitched(shard, sid, tier, mint, maxt, bounds, &marks, out)
    }

    /// `read_buckets` given the series' bounds and the shard's marks (the 1h tier reads the 5m
    /// tier with the same marks, so both see one state).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn stitched(
        &self,
        shard: u32,
        sid: SeriesId,
        tier: Tier,
        mint: i64,
        maxt: i64,
        (min_t, max_t): (i64, i64),
        marks: &[RollupMarks; 2],
        out: &mut Vec<Bucket>,
    ) -> Result<()> {
        let w = tier.bucket_ms();
        let win = rollup_window_ms(tier);
        // Bucket ends in (mint, maxt] are those in (lo, hi] with both on the grid; clipped to
        // the series' samples first, so an open range does not walk from i64::MIN.
        let lo = mint
            .div_euclid(w)
            .saturating_mul(w)
            .max(bucket_end(min_t, w) - w);
        let hi = maxt
            .div_euclid(w)
            .saturating_mul(w)
            .min(bucket_end(max_t, w));
        if lo >= hi {
            return Ok(());
        }
        let m = &marks[usize::from(tier == Tier::Rollup1h)];
        let Some(cf_name) = rollup_cf(tier) else {
            return Ok(());
        };
        let db = &self.inner.db;
        let mut computed_from: Option<i64> = None;
        let mut block = Vec::new();
        let mut ws = rollup_window_of(tier, lo + 1);
        while ws < hi {
            let (a, b) = (ws.max(lo), (ws + win).min(hi));
            if m.is_stored(ws, win) {
                if let Some(from) = computed_from.take() {
                    self.compute(shard, sid, tier, from, a, (min_t, max_t), marks, out)?;
                }
                if let Some(v) = db.get_pinned_cf(cf(db, cf_name), rollup_key(shard, sid, ws))? {
                    block.clear();
                    decode_block(&v, ws, w, (win / w) as u64, &mut block).map_err(|e| {
                        Error::CorruptRecord {
                            what: "rollup block",
                            shard,
                            reason: format!("series {sid}, window {ws}: {e}"),
                        }
                    })?;
                    out.extend(block.iter().filter(|x| x.end > a && x.end <= b));
                }
            } else if computed_from.is_none() {
                computed_from = Some(a);
            }
            ws += win;
        }
        if let Some(from) = computed_from {
            self.compute(shard, sid, tier, from, hi, (min_t, max_t), marks, out)?;
        }
        Ok(())
    }

    /// The buckets of `tier` ending in `(a, b]` (on the grid) computed from the finer tier.
    #[allow(clippy::too_many_arguments)]
    fn compute(
        &self,
        shard: u32,
        sid: SeriesId,
        tier: Tier,
        a: i64,
        b: i64,
        bounds: (i64, i64),
        marks: &[RollupMarks; 2],
        out: &mut Vec<Bucket>,
    ) -> Result<()> {
        let w = tier.bucket_ms();
        match tier {
            Tier::Rollup1h => {
                let mut fine = Vec::new();
                self.stitched(shard, sid, Tier::Rollup5m, a, b, bounds, marks, &mut fine)?;
                merge_buckets(w, &fine, out);
            }
            _ => {
                let mut samples = Vec::new();
                self.read_samples(shard, sid, a + 1, b, &mut samples)?;
                buckets_of_samples(w, &samples, a, b, out);
            }
        }
        Ok(())
    }
}
