//! The `Querier` trait: the only way the engine reaches data.
//!
//! The engine asks for the series matching a selector within a time range, then reads each
//! series' samples one at a time, so a query holds the raw samples of one series at once,
//! not of the whole selection.

use cairn_storage::model::{Labels, Matcher, Sample};

use crate::error::Result;

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
}
