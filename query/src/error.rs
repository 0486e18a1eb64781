//! The query crate's error type. The HTTP layer maps each variant to Prometheus' error
//! types: `Parse`/`InvalidSelector` are `bad_data` (400), `Execution` and `Limit` are
//! `execution` (422), `Timeout` is `timeout` (503).

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

    #[error(transparent)]
    Storage(#[from] cairn_storage::Error),
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
