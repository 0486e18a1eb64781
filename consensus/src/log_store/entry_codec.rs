//! The bytes of one openraft entry in the `raft_log` column family (the index is in the key).
//!
//! ```text
//! entry   := format:u8=2 · term:u64be · leader:u64be · payload
//! payload := 0                                   blank (a new leader's first entry)
//!          | 1 · membership as JSON              rare, so readable beats small
//!          | 2 · command
//! command := 1 · WriteBatch bytes                Command::Write, stored verbatim
//!          | 2 · MetaCommand as JSON             Command::Meta (meta group; rare)
//!          | 3 · Maintenance as JSON             Command::Maintain (shard groups; a few a
//!                                                minute: rollup pieces and expiries)
//! ```
//! A write batch is stored as it came, with a fixed 19-byte header: JSON would turn every byte
//! into up to four and cost a parse per entry on replay. Format 1 is the single-node WAL's
//! `kind 1 · WriteBatch` (`storage/docs/format/wal.md`), which carries no term.

use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, Membership};

use crate::error::{Error, Result};
use crate::type_config::{Command, Node, NodeId, TypeConfig};

const FORMAT_RAFT: u8 = 2;
const HEADER: usize = 1 + 8 + 8;

const PAYLOAD_BLANK: u8 = 0;
const PAYLOAD_MEMBERSHIP: u8 = 1;
const PAYLOAD_COMMAND: u8 = 2;

const COMMAND_WRITE: u8 = 1;
const COMMAND_META: u8 = 2;
const COMMAND_MAINTAIN: u8 = 3;

/// Encodes `entry` (without its index) into a fresh buffer.
pub fn encode_entry(entry: &Entry<TypeConfig>) -> Result<Vec<u8>> {
    let leader = entry.log_id.leader_id;
    let mut buf = Vec::with_capacity(HEADER + 2 + payload_len(&entry.payload));
    buf.push(FORMAT_RAFT);
    buf.extend_from_slice(&leader.term.to_be_bytes());
    buf.extend_from_slice(&leader.node_id.to_be_bytes());
    match &entry.payload {
        EntryPayload::Blank => buf.push(PAYLOAD_BLANK),
        EntryPayload::Membership(m) => {
            buf.push(PAYLOAD_MEMBERSHIP);
            serde_json::to_writer(&mut buf, m).map_err(|e| Error::Encode {
                what: "membership",
                reason: e.to_string(),
            })?;
        }
        EntryPayload::Normal(Command::Write { batch }) => {
            buf.push(PAYLOAD_COMMAND);
            buf.push(COMMAND_WRITE);
            buf.extend_from_slice(batch);
        }
        EntryPayload::Normal(Command::Meta(m)) => {
            buf.push(PAYLOAD_COMMAND);
            buf.push(COMMAND_META);
            serde_json::to_writer(&mut buf, m).map_err(|e| Error::Encode {
                what: "meta command",
                reason: e.to_string(),
            })?;
        }
        EntryPayload::Normal(Command::Maintain(m)) => {
            buf.push(PAYLOAD_COMMAND);
            buf.push(COMMAND_MAINTAIN);
            serde_json::to_writer(&mut buf, m).map_err(|e| Error::Encode {
                what: "maintenance command",
                reason: e.to_string(),
            })?;
        }
    }
    Ok(buf)
}

fn payload_len(p: &EntryPayload<TypeConfig>) -> usize {
    match p {
        EntryPayload::Normal(Command::Write { batch }) => batch.len(),
        _ => 64,
    }
}

/// The log id of an entry stored at `index`, reading only the header.
pub fn decode_log_id(group: u64, index: u64, bytes: &[u8]) -> Result<LogId<NodeId>> {
    let corrupt = |reason: String| Error::CorruptEntry {
        group,
        index,
        reason,
    };
    if bytes.len() < HEADER + 1 {
        return Err(corrupt(format!(
            "{} bytes, shorter than a header",
            bytes.len()
        )));
    }
    if bytes[0] != FORMAT_RAFT {
        return Err(corrupt(format!(
            "format {} (1 is a single-node WAL entry, 2 a Raft entry)",
            bytes[0]
        )));
    }
    let term = u64::from_be_bytes(bytes[1..9].try_into().expect("8 bytes"));
    let node = u64::from_be_bytes(bytes[9..17].try_into().expect("8 bytes"));
    Ok(LogId::new(CommittedLeaderId::new(term, node), index))
}

/// Decodes an entry stored at `index` of `group` (both only for the log id and error context).
pub fn decode_entry(group: u64, index: u64, bytes: &[u8]) -> Result<Entry<TypeConfig>> {
    let log_id = decode_log_id(group, index, bytes)?;
    let corrupt = |reason: String| Error::CorruptEntry {
        group,
        index,
        reason,
    };
    let body = &bytes[HEADER + 1..];
    let payload = match bytes[HEADER] {
        PAYLOAD_BLANK if body.is_empty() => EntryPayload::Blank,
        PAYLOAD_MEMBERSHIP => {
            let m: Membership<NodeId, Node> =
                serde_json::from_slice(body).map_err(|e| corrupt(format!("membership: {e}")))?;
            EntryPayload::Membership(m)
        }
        PAYLOAD_COMMAND => match body.split_first() {
            Some((&COMMAND_WRITE, batch)) => EntryPayload::Normal(Command::Write {
                batch: bytes::Bytes::copy_from_slice(batch),
            }),
            Some((&COMMAND_META, json)) => EntryPayload::Normal(Command::Meta(
                serde_json::from_slice(json).map_err(|e| corrupt(format!("meta command: {e}")))?,
            )),
            Some((&COMMAND_MAINTAIN, json)) => EntryPayload::Normal(Command::Maintain(
                serde_json::from_slice(json)
                    .map_err(|e| corrupt(format!("maintenance command: {e}")))?,
            )),
            Some((tag, _)) => return Err(corrupt(format!("unknown command tag {tag}"))),
            None => return Err(corrupt("command without a tag".into())),
        },
        tag => {
            return Err(corrupt(format!(
                "payload tag {tag} with {} bytes",
                body.len()
            )));
        }
    };
    Ok(Entry { log_id, payload })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::cluster_state::MetaCommand;

    fn id(term: u64, node: u64, index: u64) -> LogId<NodeId> {
        LogId::new(CommittedLeaderId::new(term, node), index)
    }

    fn roundtrip(e: Entry<TypeConfig>) {
        let bytes = encode_entry(&e).unwrap();
        let back = decode_entry(9, e.log_id.index, &bytes).unwrap();
        assert_eq!(back.log_id, e.log_id);
        assert_eq!(format!("{:?}", back.payload), format!("{:?}", e.payload));
        assert_eq!(decode_log_id(9, e.log_id.index, &bytes).unwrap(), e.log_id);
    }

    #[test]
    fn raft_entry_codec_roundtrips_every_payload() {
        roundtrip(Entry {
            log_id: id(3, 2, 17),
            payload: EntryPayload::Blank,
        });
        roundtrip(Entry {
            log_id: id(u64::MAX, u64::MAX, u64::MAX),
            payload: EntryPayload::Normal(Command::Write {
                batch: (0..=255).collect(),
            }),
        });
        roundtrip(Entry {
            log_id: id(1, 0, 1),
            payload: EntryPayload::Normal(Command::Write {
                batch: bytes::Bytes::new(),
            }),
        });
        roundtrip(Entry {
            log_id: id(1, 1, 2),
            payload: EntryPayload::Normal(Command::Meta(MetaCommand::SetPlacement {
                shard: 3,
                replicas: vec![1, 2, 3],
            })),
        });
        roundtrip(Entry {
            log_id: id(4, 1, 3),
            payload: EntryPayload::Normal(Command::Maintain(cairn_storage::Maintenance::Rollup {
                tier: cairn_model::Tier::Rollup5m,
                window_start: 7_200_000,
                sid_from: 0,
                sid_to: Some(2_000),
                last: false,
            })),
        });
        roundtrip(Entry {
            log_id: id(4, 1, 4),
            payload: EntryPayload::Normal(Command::Maintain(cairn_storage::Maintenance::Expire {
                tier: cairn_model::Tier::Raw,
                default_before: 0,
                tenants: vec![("acme".into(), 86_400_000)],
            })),
        });
        let nodes: BTreeMap<u64, Node> = (1..=3)
            .map(|i| {
                let n = Node {
                    http_addr: format!("127.0.0.1:74{i}0"),
                    grpc_addr: format!("127.0.0.1:74{i}1"),
                };
                (i, n)
            })
            .collect();
        let voters = vec![BTreeSet::from([1, 2]), BTreeSet::from([2, 3])];
        roundtrip(Entry {
            log_id: id(5, 1, 40),
            payload: EntryPayload::Membership(Membership::new(voters, nodes)),
        });
    }

    #[test]
    fn raft_entry_write_batch_is_stored_verbatim() {
        let batch = b"\x01\x04acme-batch-bytes".to_vec();
        let bytes = encode_entry(&Entry {
            log_id: id(2, 7, 5),
            payload: EntryPayload::Normal(Command::Write {
                batch: batch.clone().into(),
            }),
        })
        .unwrap();
        assert_eq!(bytes.len(), HEADER + 2 + batch.len());
        assert_eq!(&bytes[HEADER + 2..], &batch[..]);
    }

    #[test]
    fn raft_entry_codec_rejects_corrupt_bytes() {
        let good = encode_entry(&Entry {
            log_id: id(1, 1, 1),
            payload: EntryPayload::Blank,
        })
        .unwrap();
        let cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            good[..HEADER].to_vec(),
            [&[1u8][..], &good[1..]].concat(), // a single-node WAL entry
            [&good[..HEADER], &[PAYLOAD_BLANK, 0]].concat(),
            [&good[..HEADER], &[PAYLOAD_MEMBERSHIP], b"{"].concat(),
            [&good[..HEADER], &[PAYLOAD_COMMAND]].concat(),
            [&good[..HEADER], &[PAYLOAD_COMMAND, 99]].concat(),
            [&good[..HEADER], &[7]].concat(),
        ];
        for bytes in cases {
            let err = decode_entry(4, 11, &bytes).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::CorruptEntry {
                        group: 4,
                        index: 11,
                        ..
                    }
                ),
                "{bytes:?}: {err}"
            );
        }
    }
}
