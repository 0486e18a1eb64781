//! The alerting crate's errors.

/// What went wrong in the alerting crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query of a rule (or of a template's `query`) failed.
    #[error("{0}")]
    Query(#[from] cairn_query::Error),
    /// Writing a rule's output failed.
    #[error("writing rule output: {reason}")]
    Append { reason: String },
    /// An alerting rule returned more alerts (pending, firing or kept firing) than the
    /// group's `limit` (Prometheus' message).
    #[error("exceeded limit of {limit} with {count} alerts")]
    AlertLimit { limit: u64, count: usize },
    /// A recording rule returned more series than the group's `limit`.
    #[error("exceeded limit of {limit} with {count} series")]
    SeriesLimit { limit: u64, count: usize },
    /// Two result elements of an alerting rule have the same labels once `__name__` is
    /// dropped and the rule's labels applied.
    #[error("vector contains metrics with the same labelset after applying alert labels")]
    DuplicateAlertLabels,
    /// Two result elements of a recording rule have the same labels once renamed and the
    /// rule's labels applied.
    #[error("vector contains metrics with the same labelset after applying rule labels")]
    DuplicateRuleLabels,
    /// A rule's expression evaluated to a string or a range vector.
    #[error("rule result is not a vector or scalar")]
    NotAVector,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
