//! `SnapshotFile` on real temp files: readers that wait for a producer (async and blocking),
//! a producer's failure reaching them, a received file written through openraft's async
//! cursor, a producer that stops once nobody reads, and the cleared directory.

use std::io::{Read, SeekFrom, Write};

use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::*;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// On one thread, the reader's task runs up to its wait before the producer writes the rest:
/// a reader that did not wait would return the first 4 bytes as a whole chunk.
#[test]
fn read_chunk_waits_for_the_producer_to_write_a_whole_chunk() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let (file, mut writer) = SnapshotFile::produce(dir.path()).unwrap();
        let file = Arc::new(file);
        writer.write_all(b"abcd").unwrap();
        let reading = tokio::spawn({
            let file = file.clone();
            async move { file.read_chunk(0, 10).await }
        });
        // Lets the reader run until it waits.
        tokio::task::yield_now().await;
        assert!(!reading.is_finished());
        writer.write_all(b"efghij").unwrap();
        writer.write_all(b"kl").unwrap();
        let chunk = reading.await.unwrap().unwrap();
        assert_eq!(chunk.data, b"abcdefghij");
        assert_eq!(chunk.total, None, "the producer is not done");
        // The tail waits for the end (2 bytes are not a whole chunk), then knows the total.
        let tail = tokio::spawn({
            let file = file.clone();
            async move { file.read_chunk(10, 10).await }
        });
        tokio::task::yield_now().await;
        assert!(!tail.is_finished());
        assert_eq!(writer.finish(), 12);
        let tail = tail.await.unwrap().unwrap();
        assert_eq!((tail.data.as_slice(), tail.total), (&b"kl"[..], Some(12)));
        let past = file.read_chunk(12, 10).await.unwrap();
        assert_eq!((past.data.len(), past.total), (0, Some(12)));
        assert_eq!(file.read_all().await.unwrap(), b"abcdefghijkl");
    });
}

/// A producer that fails (or stops without finishing) makes every reader fail with its
/// reason, whether it was waiting already or comes after.
#[test]
fn a_producer_error_reaches_waiting_and_later_readers() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let (file, mut writer) = SnapshotFile::produce(dir.path()).unwrap();
        let file = Arc::new(file);
        writer.write_all(b"abc").unwrap();
        let waiting = tokio::spawn({
            let file = file.clone();
            async move { file.read_chunk(0, 10).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        writer.fail("the disk is full");
        let err = waiting.await.unwrap().unwrap_err();
        assert!(err.to_string().contains("the disk is full"), "{err}");
        let err = file.read_chunk(0, 2).await.unwrap_err();
        assert!(err.to_string().contains("the disk is full"), "{err}");
        let mut out = Vec::new();
        let err = file.reader().read_to_end(&mut out).unwrap_err();
        assert!(err.to_string().contains("the disk is full"), "{err}");

        let (file, writer) = SnapshotFile::produce(dir.path()).unwrap();
        drop(writer);
        let err = file.read_all().await.unwrap_err();
        assert!(err.to_string().contains("stopped before the end"), "{err}");
    });
}

/// The blocking reader (the installer's) follows a producer on another thread to its end.
#[test]
fn the_blocking_reader_follows_a_producer_to_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let (file, mut writer) = SnapshotFile::produce(dir.path()).unwrap();
    let mut reader = file.reader();
    let want: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let producer = std::thread::spawn({
        let want = want.clone();
        move || {
            for piece in want.chunks(997) {
                writer.write_all(piece).unwrap();
            }
            writer.finish()
        }
    });
    let mut got = Vec::new();
    reader.read_to_end(&mut got).unwrap();
    assert_eq!(producer.join().unwrap(), want.len() as u64);
    assert_eq!(got, want);
}

/// A received snapshot is written as openraft's `Streaming` writes it (a seek to each
/// chunk's offset, then the chunk), and read back whole once the writes are complete.
#[test]
fn a_received_file_reads_back_what_openraft_wrote() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let mut file = SnapshotFile::create(dir.path()).unwrap();
        file.write_all(b"0123").await.unwrap();
        file.seek(SeekFrom::Start(4)).await.unwrap();
        file.write_all(b"4567").await.unwrap();
        // A chunk sent again after a retry lands on the same bytes.
        file.seek(SeekFrom::Start(4)).await.unwrap();
        file.write_all(b"4567").await.unwrap();
        file.write_all(b"89").await.unwrap();
        let mut reader = file.into_reader().await.unwrap();
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"0123456789");

        let small = SnapshotFile::from_bytes(dir.path(), b"record").unwrap();
        assert_eq!(small.read_all().await.unwrap(), b"record");
        let chunk = small.read_chunk(2, 100).await.unwrap();
        assert_eq!(
            (chunk.data.as_slice(), chunk.total),
            (&b"cord"[..], Some(6))
        );
    });
}

/// Once every handle to the file is gone (the send was cancelled), the producer's next
/// write fails instead of writing a dump nobody reads.
#[test]
fn a_producer_stops_once_nobody_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (file, mut writer) = SnapshotFile::produce(dir.path()).unwrap();
    writer.write_all(b"abc").unwrap();
    assert!(!writer.abandoned());
    drop(file);
    assert!(writer.abandoned());
    assert!(writer.write_all(b"def").is_err());
    assert_eq!(writer.written(), 3);
}

/// Snapshot files leave no name behind, and the directory is emptied of stale ones at start.
#[test]
fn snapshot_files_leave_no_names_and_stale_ones_are_cleared() {
    let data = tempfile::tempdir().unwrap();
    let dir = snapshot_dir(data.path());
    assert_eq!(dir, data.path().join("raft-snapshots"));
    let _live = SnapshotFile::from_bytes(&dir, b"x").unwrap();
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "unlinked");
    std::fs::write(dir.join(".tmpAbC"), b"left by a crash").unwrap();
    std::fs::create_dir(dir.join("odd")).unwrap();
    assert_eq!(clear_snapshot_dir(&dir).unwrap(), 2);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    let fresh = data.path().join("new");
    assert_eq!(clear_snapshot_dir(&fresh).unwrap(), 0);
    assert!(fresh.is_dir());
}
