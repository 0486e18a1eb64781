//! The `Querier` trait: the only way the engine reaches data.
//!
//! The engine asks for the series matching a selector within a time range, then reads the
//! series' samples a batch of series at a time ([`READ_BATCH`]), so a query holds the raw
//! samples of one batch at once, not of the whole selection.

use cairn_model::{Bucket, Labels, Matcher, Sample, Tier, tier_buckets_of_samples};

use crate::error::Result;

/// Series read together by `samples_many`.
pub const READ_BATCH: usize = 64;

/// A series found by [`Querier::select`]; `id` is opaque to the engine and only passed back.
#[derive(Debug, Clone)]
pub struct SeriesHandle {
    pub labels: Labels,
    pub id: u64,
}

/// Where each tier of a tenant's data begins: the oldest time (ms) it may still hold data for,
/// `i64::MIN` when the tier keeps data forever. Data older than `raw_from` is only in the
/// rollups, older than `rollup_5m_from` only in the 1-hour tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierBounds {
    pub raw_from: i64,
    pub rollup_5m_from: i64,
    pub rollup_1h_from: i64,
}

impl TierBounds {
    /// Every tier holds everything (a querier without retention).
    pub const FOREVER: TierBounds = TierBounds {
        raw_from: i64::MIN,
        rollup_5m_from: i64::MIN,
        rollup_1h_from: i64::MIN,
    };

    pub fn from(&self, tier: Tier) -> i64 {
        match tier {
            Tier::Raw => self.raw_from,
            Tier::Rollup5m => self.rollup_5m_from,
            Tier::Rollup1h => self.rollup_1h_from,
        }
    }
}

/// Read access to one tenant's series.
pub trait Querier: Sync {
    /// Series matching every matcher that may have samples in `[mint, maxt]` (milliseconds,
    /// inclusive).
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<SeriesHandle>>;

    /// Replaces `out` with the samples of series `id` in `[mint, maxt]`, sorted by time,
    /// one per timestamp, stale markers included.
    fn samples(&self, id: u64, mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<()>;

    /// `samples` for several series at once: `out[i]` receives those of `ids[i]`. The engine
    /// reads selections in batches through this, so an implementation may read a batch in
    /// parallel; the default reads one after the other.
    fn samples_many(
        &self,
        ids: &[u64],
        mint: i64,
        maxt: i64,
        out: &mut [Vec<Sample>],
    ) -> Result<()> {
        for (&id, o) in ids.iter().zip(out.iter_mut()) {
            self.samples(id, mint, maxt, o)?;
        }
        Ok(())
    }

    /// How far back each tier of this tenant's data reaches.
    fn tier_bounds(&self) -> TierBounds {
        TierBounds::FOREVER
    }

    /// Replaces `out` with the non-empty `tier` buckets of series `id` whose end lies in
    /// `(mint, maxt]` (`mint` and `maxt` multiples of the tier's width), in time order. An
    /// implementation stitches: stored rollups where the tier is built, buckets computed from
    /// the finer tier where it is not yet (the newest windows), so a reader never sees a gap
    /// or a window twice. The default computes every bucket from raw samples.
    fn buckets(
        &self,
        id: u64,
        tier: Tier,
        mint: i64,
        maxt: i64,
        out: &mut Vec<Bucket>,
    ) -> Result<()> {
        out.clear();
        let width = tier.bucket_ms();
        if width == 0 {
            return Err(crate::error::Error::exec("raw samples are not buckets"));
        }
        let mut raw = Vec::new();
        self.samples(id, mint + 1, maxt, &mut raw)?;
        tier_buckets_of_samples(tier, &raw, mint, maxt, out);
        Ok(())
    }

    /// `buckets` for several series at once, as `samples_many` is to `samples`.
    fn buckets_many(
        &self,
        ids: &[u64],
        tier: Tier,
        mint: i64,
        maxt: i64,
        out: &mut [Vec<Bucket>],
    ) -> Result<()> {
        for (&id, o) in ids.iter().zip(out.iter_mut()) {
            self.buckets(id, tier, mint, maxt, o)?;
        }
        Ok(())
    }
}
