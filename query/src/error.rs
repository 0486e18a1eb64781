//! The query crate's error type, also the error of the [`crate::Querier`] trait (a querier
//! maps its storage's failures onto `Unavailable` or `Read`). The HTTP layer maps each
//! variant to Prometheus' error types: `Parse`/`InvalidSelector`/`Model` are `bad_data` (400),
//! `Execution`, `Unsupported` and `Limit` are `execution` (422), `Timeout` is `timeout` (503),
//! `Unavailable` is `unavailable` (503) and `Read` is `internal` (500).

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid selector {selector:?}: {reason}")]
    InvalidSelector { selector: String, reason: String },

    /// The expression does not parse or does not type-check.
    #[error("{message}")]
    Parse { message: String },

    /// The expression is valid but cannot be evaluated on this data (duplicate label sets,
    /// a bad regex in `label_replace`, …).
    #[error("{message}")]
    Execution { message: String },

    /// A query limit was exceeded; `limit` names it as in the configuration.
    #[error(
        "query processing would exceed the {limit} limit of {max} (raise it in the [query] configuration or narrow the query)"
    )]
    Limit { limit: &'static str, max: u64 },

    /// The query ran longer than its timeout.
    #[error("query timed out in {phase}")]
    Timeout { phase: &'static str },

    /// A feature Cairn does not implement (native histograms).
    #[error("{what} is not supported by Cairn")]
    Unsupported { what: String },

    /// A label set or matcher the data model refuses (e.g. a bad regex in a selector).
    #[error(transparent)]
    Model(#[from] cairn_model::Error),

    /// The querier cannot reach some of the data now (a shard with no reachable replica, a
    /// node shutting down): worth retrying.
    #[error("{what} is unavailable: {reason}")]
    Unavailable { what: String, reason: String },

    /// The querier failed to read data it holds (corruption, an I/O error): a bug or a
    /// damaged disk, not the query's fault.
    #[error("reading series failed: {source}")]
    Read {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    pub(crate) fn exec(message: impl Into<String>) -> Self {
        Error::Execution {
            message: message.into(),
        }
    }

    pub(crate) fn parse(message: impl Into<String>) -> Self {
        Error::Parse {
            message: message.into(),
        }
    }
}
