//! `TypeConfig`: the openraft type configuration every Cairn Raft group shares (the meta group
//! and every shard group): who a node is, what an entry carries and what applying one returns.
//!
//! ```text
//!  write ──► Command::Write { batch } ──► Entry<TypeConfig> in raft_log ──► apply ──► ApplyReport
//!  snapshot ──► SnapshotFile (a temp file, sent and received in chunks)
//! ```

use serde::{Deserialize, Serialize};

pub use crate::member::{Node, NodeId};

openraft::declare_raft_types!(
    /// Cairn's openraft types: u64 node ids, [`Node`] addresses, [`Command`] entries.
    pub TypeConfig:
        D = Command,
        R = ApplyReport,
        NodeId = NodeId,
        Node = Node,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = crate::snapshot_file::SnapshotFile,
        AsyncRuntime = openraft::TokioRuntime,
);

/// What a log entry asks the group's state machine to do. Each variant has a stable tag in the
/// log encoding (`log_store/entry_codec.rs`), so variants can be added but never renumbered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Append samples: the encoded bytes of one storage `WriteBatch` for the group's shard.
    /// `Bytes`, so that the log's in-memory entry cache hands out entries without copying.
    Write {
        #[serde(with = "byte_buf")]
        batch: bytes::Bytes,
    },
    /// Change the cluster state (meta group only).
    Meta(crate::cluster_state::MetaCommand),
    /// Downsampling or retention in the group's shard (shard groups only): in the log, so
    /// that every replica does the same work on the same data at the same point.
    Maintain(cairn_storage::Maintenance),
}

/// What applying one entry did, returned to the proposer (storage's `ApplyOutcome`, less
/// what only the node that applied it cares about).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    /// Samples appended.
    pub written: u64,
    /// Identical repeats of stored samples (idempotent retries): neither written nor an error.
    pub duplicates: u64,
    /// Samples older than their series' newest by more than the out-of-order window.
    pub rejected_too_old: u64,
    /// Samples repeating a stored timestamp with a different value.
    pub rejected_conflict: u64,
    /// A meta `Kv` command whose `Expect` did not hold: nothing of it applied.
    #[serde(default)]
    pub refused: bool,
    // What a `Command::Maintain` did is counted in the engine's `EngineStats` (maintenance_*)
    // rather than here: `cairn-node` builds this struct field by field from its RPC reply.
}

/// Serde for a byte buffer as one byte string instead of a sequence of numbers: the same bytes in
/// bincode (a length, then the bytes), but copied in one go rather than visited byte by byte,
/// which cost the transport several percent of a node's CPU at full ingest.
mod byte_buf {
    use serde::de::{Deserializer, SeqAccess, Visitor};
    use serde::ser::Serializer;

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    /// `deserialize_bytes`, not `_byte_buf`: bincode then lends the bytes from its input and
    /// they are copied once, where `_byte_buf` decoded a `Vec<u8>` element by element (2% of
    /// a follower's CPU under load).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bytes::Bytes, D::Error> {
        d.deserialize_bytes(ByteBuf).map(bytes::Bytes::from)
    }

    struct ByteBuf;

    impl<'de> Visitor<'de> for ByteBuf {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("bytes")
        }

        fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }

        fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }

        /// Formats without a byte string (JSON) write a sequence of numbers.
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
            while let Some(b) = seq.next_element()? {
                v.push(b);
            }
            Ok(v)
        }
    }
}
