//! The query crate's error type.

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid selector {selector:?}: {reason}")]
    InvalidSelector { selector: String, reason: String },

    #[error(transparent)]
    Storage(#[from] cairn_storage::Error),
}
