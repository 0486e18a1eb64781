//! `RocksRaftLog` against openraft's own storage conformance suite (`testing::Suite`), with a
//! small in-memory state machine standing in for the shard state machine, plus restart and
//! multi-group tests of our own.

use cairn_storage::log_store::LogStore;

use crate::log_store::StateKind;
use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{
    AnyError, CommittedLeaderId, Entry, EntryPayload, LogId, Membership, RaftLogReader,
    StorageError, StorageIOError, Vote,
};

use super::RocksRaftLog;
use crate::test_state_machine::MemStateMachine;
use crate::type_config::{Command, Node, NodeId, TypeConfig};

// ---- the suite --------------------------------------------------------------------------------

const GROUP: u64 = 7;

fn id(term: u64, node: u64, index: u64) -> LogId<NodeId> {
    LogId::new(CommittedLeaderId::new(term, node), index)
}

fn write_entry(term: u64, index: u64, batch: &[u8]) -> Entry<TypeConfig> {
    Entry {
        log_id: id(term, 1, index),
        payload: EntryPayload::Normal(Command::Write {
            batch: bytes::Bytes::copy_from_slice(batch),
        }),
    }
}

/// Builds each suite case on a fresh RocksDB in which the neighbouring groups (`GROUP - 1`,
/// `GROUP + 1`) already hold entries, a vote, a committed and a purged mark: any key that
/// leaks across groups breaks one of the suite's exact assertions.
struct RocksBuilder;

impl StoreBuilder<TypeConfig, RocksRaftLog, MemStateMachine, tempfile::TempDir> for RocksBuilder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, RocksRaftLog, MemStateMachine), StorageError<NodeId>> {
        let io = |e: &dyn std::error::Error| {
            StorageError::from(StorageIOError::write(AnyError::error(e)))
        };
        let dir = tempfile::tempdir().map_err(|e| io(&e))?;
        let store = LogStore::open_standalone(dir.path()).map_err(|e| io(&e))?;
        for g in [GROUP - 1, GROUP + 1] {
            let mut neighbour = RocksRaftLog::new(store.clone(), g);
            neighbour
                .blocking_append((3..=40).map(|i| write_entry(9, i, b"neighbour")))
                .await?;
            neighbour.save_vote(&Vote::new(9, 1)).await?;
            neighbour.save_committed(Some(id(9, 1, 30))).await?;
            neighbour.purge(id(9, 1, 5)).await?;
        }
        Ok((
            dir,
            RocksRaftLog::new(store, GROUP),
            MemStateMachine::default(),
        ))
    }
}

/// openraft's whole storage suite (`Suite::test_all`, which is `test_store`: every log,
/// vote, membership, initial-state, purge/truncate, apply and snapshot-transfer case).
#[test]
fn raft_log_store_passes_openraft_suite() {
    Suite::test_all(RocksBuilder).unwrap();
}

// ---- our own cases -------------------------------------------------------------------------

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn raft_log_state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        let mut log = RocksRaftLog::new(LogStore::open_standalone(dir.path()).unwrap(), 3);
        log.blocking_append((1..=10).map(|i| write_entry(2, i, &[i as u8; 3])))
            .await
            .unwrap();
        log.save_vote(&Vote::new_committed(2, 1)).await.unwrap();
        log.save_committed(Some(id(2, 1, 8))).await.unwrap();
        log.purge(id(2, 1, 4)).await.unwrap();
        log.truncate(id(2, 1, 10)).await.unwrap();
    });
    // A second open of the same directory sees exactly what the first left.
    rt.block_on(async {
        let mut log = RocksRaftLog::new(LogStore::open_standalone(dir.path()).unwrap(), 3);
        let state = log.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(id(2, 1, 4)));
        assert_eq!(state.last_log_id, Some(id(2, 1, 9)));
        assert_eq!(
            log.read_vote().await.unwrap(),
            Some(Vote::new_committed(2, 1))
        );
        assert_eq!(log.read_committed().await.unwrap(), Some(id(2, 1, 8)));
        let entries = log.try_get_log_entries(0..100).await.unwrap();
        let got: Vec<_> = entries.iter().map(|e| e.log_id.index).collect();
        assert_eq!(got, (5..=9).collect::<Vec<_>>());
        match &entries[0].payload {
            EntryPayload::Normal(Command::Write { batch }) => assert_eq!(batch[..], [5u8; 3]),
            other => panic!("unexpected payload {other:?}"),
        }
    });
}

#[test]
fn raft_log_all_purged_reports_purged_id_as_last() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let mut log = RocksRaftLog::new(LogStore::open_standalone(dir.path()).unwrap(), 1);
        assert_eq!(log.get_log_state().await.unwrap().last_log_id, None);
        log.blocking_append((1..=3).map(|i| write_entry(1, i, b"x")))
            .await
            .unwrap();
        log.purge(id(1, 1, 3)).await.unwrap();
        let state = log.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(id(1, 1, 3)));
        assert_eq!(state.last_log_id, Some(id(1, 1, 3)));
        // Membership entries keep their node addresses through the log.
        let nodes = [(
            1u64,
            Node {
                http_addr: "127.0.0.1:7480".into(),
                grpc_addr: "127.0.0.1:7481".into(),
            },
        )];
        let m = Membership::new(
            vec![[1u64].into()],
            nodes
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>(),
        );
        log.blocking_append([Entry {
            log_id: id(2, 1, 4),
            payload: EntryPayload::Membership(m.clone()),
        }])
        .await
        .unwrap();
        let got = log.try_get_log_entries(4..=4).await.unwrap();
        match &got[0].payload {
            EntryPayload::Membership(back) => assert_eq!(back, &m),
            other => panic!("unexpected payload {other:?}"),
        }
    });
}

#[test]
fn raft_log_corrupt_state_is_an_error_not_a_default() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open_standalone(dir.path()).unwrap();
    store
        .put_state(2, StateKind::Vote.byte(), b"{not json", true)
        .unwrap();
    store.append(2, &[(1, b"\x01old-wal-entry")], true).unwrap();
    runtime().block_on(async {
        let mut log = RocksRaftLog::new(store, 2);
        assert!(log.read_vote().await.is_err());
        // A single-node WAL entry (format 1) is not silently read as a Raft entry.
        assert!(log.get_log_state().await.is_err());
        assert!(log.try_get_log_entries(..).await.is_err());
    });
}

#[test]
fn reads_served_from_the_entry_cache_match_the_disk_after_truncation_and_purge() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        let store = LogStore::open_standalone(dir.path()).unwrap();
        let mut log = RocksRaftLog::new(store.clone(), 3);
        log.blocking_append((1..=6).map(|i| write_entry(1, i, &[i as u8])))
            .await
            .unwrap();
        // A new leader replaces 5.. with its own entries; 1..=2 are purged.
        log.truncate(id(1, 1, 5)).await.unwrap();
        log.blocking_append((5..=7).map(|i| write_entry(2, i, &[100 + i as u8])))
            .await
            .unwrap();
        log.purge(id(1, 1, 2)).await.unwrap();
        assert_eq!(log.entry_cache().cached(), (3..=7).collect::<Vec<_>>());
        let cached = log.try_get_log_entries(3..=7).await.unwrap();
        // A reader with an empty cache reads the same from RocksDB.
        let mut fresh = RocksRaftLog::new(store, 3);
        let on_disk = fresh.try_get_log_entries(3..=7).await.unwrap();
        assert_eq!(cached, on_disk);
        assert_eq!(cached[2], write_entry(2, 5, &[105]));
        // Applied entries leave the cache (the newest stay while they fit its kept tail).
        log.entry_cache().applied(7);
        assert_eq!(log.try_get_log_entries(3..8).await.unwrap(), on_disk);
    });
}
