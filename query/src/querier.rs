//! The `Querier` trait: the only way the engine reaches data.
//!
//! The engine asks for the series matching a selector within a time range, then reads the
//! series' samples a batch of series at a time ([`READ_BATCH`]), so a query holds the raw
//! samples of one batch at once, not of the whole selection.

use cairn_model::{Labels, Matcher, Sample};

use crate::error::Result;

/// Series read together by `samples_many`.
pub const READ_BATCH: usize = 64;

/// A series found by [`Querier::select`]; `id` is opaque to the engine and only passed back.
#[derive(Debug, Clone)]
pub struct SeriesHandle {
    pub labels: Labels,
    pub id: u64,
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
}
