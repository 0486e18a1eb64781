//! `RuleStore`: what rule evaluation reads from and writes to. The node implements it over a
//! tenant's shards (reads after a read barrier, writes through the replicated write path);
//! rule unit tests implement it in memory.

use cairn_model::{Labels, Sample};
use cairn_query::Querier;

use crate::error::Result;

/// One tenant's data as rule evaluation sees it.
pub trait RuleStore {
    /// Reads. A sample appended before the call must be visible (rules of a group read the
    /// output of the rules before them at the same timestamp).
    fn querier(&self) -> &dyn Querier;

    /// Writes the output of one rule (recording-rule samples, `ALERTS`, `ALERTS_FOR_STATE`,
    /// stale markers); returns once it is durable.
    fn append(&mut self, samples: Vec<(Labels, Sample)>) -> Result<()>;
}
