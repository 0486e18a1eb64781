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
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
