//! The Raft transport's payload codec: bincode 2 in serde mode, over openraft's own request,
//! response and error types, so nothing is mirrored in protobuf and a remote `RaftError`
//! arrives as the same value the remote `Raft` returned.
//!
//! bincode, not JSON: AppendEntries carries batches of encoded samples (`Command::Write`),
//! which JSON would spell out as arrays of decimal numbers. bincode is not self-describing, so
//! both ends must run the same openraft version and `TypeConfig` (see `raft.proto`).

use bincode::config::{Configuration, Limit, LittleEndian, Varint};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The most a decode may claim for allocations: a corrupt length prefix fails here rather
/// than allocating gigabytes. Decoded values are a small multiple of the gRPC message, which
/// is itself capped at [`super::MAX_MESSAGE_BYTES`].
const DECODE_LIMIT: usize = 4 * super::MAX_MESSAGE_BYTES;

const CONFIG: Configuration<LittleEndian, Varint, Limit<DECODE_LIMIT>> =
    bincode::config::standard().with_limit::<DECODE_LIMIT>();

/// A payload that could not be encoded or decoded; `what` names the message.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("encoding {what}: {source}")]
    Encode {
        what: &'static str,
        source: bincode::error::EncodeError,
    },

    #[error("decoding {what}: {source}")]
    Decode {
        what: &'static str,
        source: bincode::error::DecodeError,
    },

    #[error("decoding {what}: {trailing} bytes left over after the value")]
    Trailing { what: &'static str, trailing: usize },
}

pub fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, PayloadError> {
    bincode::serde::encode_to_vec(value, CONFIG)
        .map_err(|source| PayloadError::Encode { what, source })
}

pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, PayloadError> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, CONFIG)
        .map_err(|source| PayloadError::Decode { what, source })?;
    if used != bytes.len() {
        return Err(PayloadError::Trailing {
            what,
            trailing: bytes.len() - used,
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use openraft::error::{Fatal, InstallSnapshotError, RaftError, SnapshotMismatch};
    use openraft::raft::{
        AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest,
        InstallSnapshotResponse, VoteRequest, VoteResponse,
    };
    use openraft::{
        AnyError, CommittedLeaderId, Entry, EntryPayload, LogId, Membership, SnapshotMeta,
        StorageError, StorageIOError, StoredMembership, Vote,
    };

    use super::{PayloadError, decode, encode};
    use crate::cluster_state::MetaCommand;
    use crate::type_config::{Command, Node, NodeId, TypeConfig};

    fn log_id(term: u64, index: u64) -> LogId<NodeId> {
        LogId::new(CommittedLeaderId::new(term, 1), index)
    }

    fn membership() -> Membership<NodeId, Node> {
        let nodes: BTreeMap<NodeId, Node> = (1..=3)
            .map(|id| {
                let node = Node {
                    http_addr: format!("10.0.0.{id}:9090"),
                    grpc_addr: format!("10.0.0.{id}:9091"),
                };
                (id, node)
            })
            .collect();
        Membership::new(vec![BTreeSet::from([1, 2, 3])], nodes)
    }

    /// A write batch travels as one byte string, byte for byte what a sequence of `u8` was
    /// (so nodes of the previous release still understand it), and JSON still reads it.
    #[test]
    fn write_batches_keep_their_wire_format() {
        #[derive(serde::Serialize)]
        enum SeqCommand {
            Write { batch: Vec<u8> },
        }
        let batch: Vec<u8> = (0..=255).cycle().take(1000).collect();
        let cmd = Command::Write {
            batch: batch.clone().into(),
        };
        let now = encode("command", &cmd).unwrap();
        let before = encode("command", &SeqCommand::Write { batch }).unwrap();
        assert_eq!(now, before);
        assert_eq!(decode::<Command>("command", &before).unwrap(), cmd);
        let json = serde_json::to_string(&cmd).unwrap();
        assert_eq!(serde_json::from_str::<Command>(&json).unwrap(), cmd);
    }

    /// Every message kind the transport carries survives the codec unchanged (openraft's
    /// types derive serde for self-describing formats; this proves bincode takes them too).
    #[test]
    fn openraft_messages_round_trip() {
        let append = AppendEntriesRequest::<TypeConfig> {
            vote: Vote::new_committed(3, 1),
            prev_log_id: Some(log_id(3, 9)),
            leader_commit: Some(log_id(3, 8)),
            entries: vec![
                Entry {
                    log_id: log_id(3, 10),
                    payload: EntryPayload::Blank,
                },
                Entry {
                    log_id: log_id(3, 11),
                    payload: EntryPayload::Normal(Command::Write {
                        batch: (0..=255).collect(),
                    }),
                },
                Entry {
                    log_id: log_id(3, 12),
                    payload: EntryPayload::Membership(membership()),
                },
                // Every `Command` variant must stay bincode-friendly (no untagged, internally
                // tagged or flattened serde): the meta group's commands travel here too.
                Entry {
                    log_id: log_id(3, 13),
                    payload: EntryPayload::Normal(Command::Meta(MetaCommand::AddNode {
                        id: 4,
                        node: Node {
                            http_addr: "10.0.0.4:9090".to_string(),
                            grpc_addr: "10.0.0.4:9091".to_string(),
                        },
                    })),
                },
            ],
        };
        let bytes = encode("append", &append).unwrap();
        let back: AppendEntriesRequest<TypeConfig> = decode("append", &bytes).unwrap();
        // No PartialEq on the request; its Debug shows every field, entries included.
        assert_eq!(format!("{back:?}"), format!("{append:?}"));

        let vote = VoteRequest::new(Vote::new(4, 2), Some(log_id(3, 12)));
        let back: VoteRequest<NodeId> = decode("vote", &encode("vote", &vote).unwrap()).unwrap();
        assert_eq!(back, vote);

        let snapshot = InstallSnapshotRequest::<TypeConfig> {
            vote: Vote::new_committed(3, 1),
            meta: SnapshotMeta {
                last_log_id: Some(log_id(3, 12)),
                last_membership: StoredMembership::new(Some(log_id(3, 12)), membership()),
                snapshot_id: "snap-1".to_string(),
            },
            offset: 1024,
            data: vec![7; 1000],
            done: false,
        };
        let back: InstallSnapshotRequest<TypeConfig> =
            decode("snapshot", &encode("snapshot", &snapshot).unwrap()).unwrap();
        assert_eq!(back, snapshot);
    }

    /// Replies are `Result<response, RaftError>`: both arms, including the error kinds that
    /// carry nested `AnyError`s, come back as they left.
    #[test]
    fn raft_results_round_trip() {
        type AppendResult = Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>;
        let results: [AppendResult; 6] = [
            Ok(AppendEntriesResponse::Success),
            Ok(AppendEntriesResponse::PartialSuccess(Some(log_id(2, 5)))),
            Ok(AppendEntriesResponse::Conflict),
            Ok(AppendEntriesResponse::HigherVote(Vote::new(9, 3))),
            Err(RaftError::Fatal(Fatal::Stopped)),
            Err(RaftError::Fatal(Fatal::StorageError(StorageError::from(
                StorageIOError::write_logs(AnyError::error("disk full").add_context(|| "fsync")),
            )))),
        ];
        for result in results {
            let bytes = encode("append reply", &result).unwrap();
            let back: AppendResult = decode("append reply", &bytes).unwrap();
            assert_eq!(format!("{back:?}"), format!("{result:?}"));
        }

        let vote: Result<VoteResponse<NodeId>, RaftError<NodeId>> = Ok(VoteResponse::new(
            Vote::new(4, 2),
            Some(log_id(3, 12)),
            true,
        ));
        let back: Result<VoteResponse<NodeId>, RaftError<NodeId>> =
            decode("vote reply", &encode("vote reply", &vote).unwrap()).unwrap();
        assert_eq!(back, vote);

        type SnapshotResult =
            Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>;
        for result in [
            Ok(InstallSnapshotResponse {
                vote: Vote::new_committed(3, 1),
            }),
            Err(RaftError::APIError(InstallSnapshotError::SnapshotMismatch(
                SnapshotMismatch {
                    expect: openraft::SnapshotSegmentId {
                        id: "snap-1".to_string(),
                        offset: 0,
                    },
                    got: openraft::SnapshotSegmentId {
                        id: "snap-1".to_string(),
                        offset: 1024,
                    },
                },
            ))),
        ] {
            let bytes = encode("snapshot reply", &result).unwrap();
            let back: SnapshotResult = decode("snapshot reply", &bytes).unwrap();
            assert_eq!(back, result);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let vote = VoteRequest::new(Vote::new(4, 2), Some(log_id(3, 12)));
        let mut bytes = encode("vote", &vote).unwrap();

        let short = decode::<VoteRequest<NodeId>>("vote", &bytes[..bytes.len() - 1]);
        assert!(matches!(
            short,
            Err(PayloadError::Decode { what: "vote", .. })
        ));

        bytes.push(0);
        let long = decode::<VoteRequest<NodeId>>("vote", &bytes);
        assert!(matches!(
            long,
            Err(PayloadError::Trailing { trailing: 1, .. })
        ));

        // A length prefix claiming far more than the limit fails without allocating it.
        let huge = encode("len", &(u64::MAX / 2)).unwrap();
        let claimed = decode::<Vec<u8>>("batch", &huge);
        assert!(matches!(claimed, Err(PayloadError::Decode { .. })));
    }
}
