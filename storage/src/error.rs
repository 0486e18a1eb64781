//! The storage crate's error type: each variant names what failed, so callers can map it to
//! a precise HTTP status and message. It owns the enum only; whether to retry is for the
//! caller to decide from the variant (`ShutDown`, `Unavailable` and RocksDB errors are the
//! node's or the disk's state, the `Corrupt*` variants the data's).

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tenant, label set or matcher that the data model refuses.
    #[error(transparent)]
    Model(#[from] cairn_model::Error),

    #[error("unknown chunk codec id {id}")]
    UnknownCodec { id: u8 },

    #[error("corrupt chunk: {reason}")]
    CorruptChunk { reason: String },

    #[error("codec {codec} cannot encode these samples: {reason}")]
    CodecUnsupported {
        codec: &'static str,
        reason: &'static str,
    },

    #[error("corrupt {what} record in shard {shard}: {reason}")]
    CorruptRecord {
        what: &'static str,
        shard: u32,
        reason: String,
    },

    #[error("rocksdb at {path}: {source}")]
    Rocks {
        path: PathBuf,
        #[source]
        source: rocksdb::Error,
    },

    #[error("rocksdb: {0}")]
    RocksOp(#[from] rocksdb::Error),

    #[error("i/o at {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Reading or writing a shard dump's byte stream failed (the caller's reader or writer:
    /// a file, a socket), not the database.
    #[error("i/o of shard {shard}'s snapshot stream: {source}")]
    SnapshotStream {
        shard: u32,
        #[source]
        source: std::io::Error,
    },

    #[error("checkpoint directory {path} already exists")]
    CheckpointExists { path: PathBuf },

    #[error("the storage engine is shut down")]
    ShutDown,

    #[error("invalid config: {field}: {reason}")]
    Config { field: &'static str, reason: String },
}
