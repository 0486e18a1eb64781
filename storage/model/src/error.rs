//! The model crate's error type: what is wrong with a tenant, a label set, a matcher or the
//! bytes of a write batch. Callers add their own context (the shard and log index of a batch,
//! the request line of a label set).

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid tenant {tenant:?}: must match [A-Za-z0-9_-]{{1,64}}")]
    InvalidTenant { tenant: String },

    #[error("duplicate label name {name:?}")]
    DuplicateLabel { name: String },

    #[error("empty label name")]
    EmptyLabelName,

    #[error("invalid regex {regex:?}: {reason}")]
    InvalidRegex { regex: String, reason: String },

    /// Bytes that do not decode as `what` (a write batch, a varint).
    #[error("corrupt {what}: {reason}")]
    Corrupt { what: &'static str, reason: String },
}

impl Error {
    /// True for errors in what a client sent (a 4xx), false for corrupt bytes (a bug or a
    /// damaged log).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Error::Corrupt { .. })
    }
}
