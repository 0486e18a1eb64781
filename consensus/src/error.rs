//! The consensus crate's error type. The log store turns these into openraft's
//! `StorageError` (which makes the group stop: a Raft log that cannot be read or written is
//! not something to retry around).

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("corrupt raft log entry {index} of group {group}: {reason}")]
    CorruptEntry {
        group: u64,
        index: u64,
        reason: String,
    },

    #[error("corrupt raft state record {kind} of group {group}: {reason}")]
    CorruptState {
        group: u64,
        kind: &'static str,
        reason: String,
    },

    #[error("encoding {what}: {reason}")]
    Encode { what: &'static str, reason: String },

    #[error("raft group {group}: {reason}")]
    Raft { group: u64, reason: String },

    #[error(transparent)]
    Storage(#[from] cairn_storage::Error),
}
