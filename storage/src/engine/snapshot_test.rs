//! Shard dumps between engines: streamed round trips (reads and rollup digests), a dump taken
//! while the shard goes on applying, installs cut off midway (the torn marker at open), corrupt
//! streams, the batches of a big install, and the pinned bytes; RocksDB checkpoints that open.

use std::io::Read;

use super::*;
use crate::engine::tests::{batch, cfg, name, read_all};
use crate::maintenance::Maintenance;
use cairn_model::{MatchOp, Matcher, Sample, Tenant, Tier, WriteBatchBuilder};

fn every_series() -> [Matcher; 1] {
    [Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap()]
}

fn dump(e: &Engine, shard: u32, marker: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let n = e.dump_shard_to(shard, marker, &mut out).unwrap();
    assert_eq!(
        n,
        out.len() as u64,
        "the length it reports is what it wrote"
    );
    out
}

fn install(e: &Engine, shard: u32, dump: &[u8], marker: &[u8]) -> Result<u64> {
    e.install_shard_from(shard, &mut &dump[..], marker)
}

/// `series` series in `shard`, each with a label value of `pad` bytes (so that the dump is
/// about `series × 2 × pad` bytes) and a few samples, checkpointed.
fn fill(e: &Engine, shard: u32, series: usize, pad: usize) {
    let mut b = WriteBatchBuilder::new(Tenant::new("acme").unwrap());
    for i in 0..series {
        let host = format!("h{i}");
        let padding = format!("{i:0pad$}");
        b.begin_group([("host", host.as_str()), ("pad", padding.as_str())])
            .unwrap();
        b.add_series(
            "cpu",
            (0..5).map(|j| Sample::new(j * 10_000, (i as i64 * j) as f64)),
        );
    }
    e.apply_next(shard, b.finish()).unwrap();
    e.checkpoint(shard, None).unwrap();
}

/// A reader that hands out `limit` bytes of `data`, then fails as a broken connection does.
struct CutOff<'a> {
    data: &'a [u8],
    limit: usize,
}

impl Read for CutOff<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.limit == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "the sender went away",
            ));
        }
        let n = buf.len().min(self.limit).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.limit -= n;
        Ok(n)
    }
}

#[test]
fn a_shard_dump_installs_on_another_engine() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let src = Engine::open(cfg(a.path())).unwrap();
    let dst = Engine::open(cfg(b.path())).unwrap();
    let samples: Vec<(i64, f64)> = (0..300).map(|i| (i * 10_000, i as f64 / 4.0)).collect();
    src.apply_next(1, batch("acme", "a", "cpu", &samples))
        .unwrap();
    src.apply_next(1, batch("acme", "b", "mem", &samples[..7]))
        .unwrap();
    // Something of its own in the destination's shard, which the install replaces.
    dst.apply_next(1, batch("acme", "z", "old", &[(1, 1.0)]))
        .unwrap();
    dst.apply_next(3, batch("acme", "z", "kept", &[(1, 1.0)]))
        .unwrap();
    let dump = dump(&src, 1, b"marker");
    assert_eq!(
        install(&dst, 1, &dump, b"marker").unwrap(),
        dump.len() as u64
    );
    assert_eq!(dst.applied_index(1).unwrap(), 2);
    assert_eq!(
        dst.applied_marker(1).unwrap().as_deref(),
        Some(&b"marker"[..])
    );
    let all = every_series();
    assert_eq!(
        read_all(&dst, "acme", 1, &all),
        read_all(&src, "acme", 1, &all)
    );
    assert_eq!(
        read_all(&dst, "acme", 3, &all).len(),
        1,
        "other shards untouched"
    );
    // The replica keeps applying where the dump ended, with the same series ids.
    let next = [(3_000_000, 9.0)];
    src.apply_next(1, batch("acme", "c", "new", &next)).unwrap();
    dst.apply_next(1, batch("acme", "c", "new", &next)).unwrap();
    assert_eq!(
        read_all(&dst, "acme", 1, &all),
        read_all(&src, "acme", 1, &all)
    );
    let sids = |e: &Engine| -> Vec<u64> {
        e.select("acme", &[1], &all, i64::MIN, i64::MAX)
            .unwrap()
            .iter()
            .map(|s| s.sid)
            .collect()
    };
    assert_eq!(sids(&dst), sids(&src));
    dst.checkpoint(1, None).unwrap();
    drop(dst);
    // And it survives a restart, as a whole shard (no torn install).
    let dst = Engine::open(cfg(b.path())).unwrap();
    assert!(!dst.torn_install(1));
    assert_eq!(read_all(&dst, "acme", 1, &all).len(), 3);
}

/// Many series with rollups, streamed through `dump_shard_to` and `install_shard_from`: the
/// replica reads the same series and samples, and holds byte-identical rollups.
#[test]
fn a_streamed_round_trip_of_many_series_equals_the_source() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let src = Engine::open(cfg(a.path())).unwrap();
    let dst = Engine::open(cfg(b.path())).unwrap();
    fill(&src, 2, 500, 16);
    let roll = Maintenance::Rollup {
        tier: Tier::Rollup5m,
        window_start: 0,
        sid_from: 0,
        sid_to: None,
        last: true,
    };
    let index = src.applied_index(2).unwrap() + 1;
    src.maintain(2, index, &roll, None).unwrap();
    let digest = src.rollup_digest(2).unwrap();
    assert_eq!(digest.rollup_5m.blocks, 500, "every series rolled");
    let bytes = dump(&src, 2, b"m");
    install(&dst, 2, &bytes, b"m").unwrap();
    let all = every_series();
    let read = read_all(&dst, "acme", 2, &all);
    assert_eq!(read.len(), 500);
    assert_eq!(read, read_all(&src, "acme", 2, &all));
    assert_eq!(dst.rollup_digest(2).unwrap(), digest);
    assert_eq!(dst.applied_index(2).unwrap(), src.applied_index(2).unwrap());
}

/// `begin_dump` pins the shard: what is applied, spilled or checkpointed after it (while the
/// dump is written, the shard's lock free) is not in the dump, which installs as exactly the
/// state at its marker.
#[test]
fn a_dump_is_the_state_at_its_begin_whatever_is_applied_meanwhile() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let src = Engine::open(cfg(a.path())).unwrap();
    let dst = Engine::open(cfg(b.path())).unwrap();
    let samples: Vec<(i64, f64)> = (0..50).map(|i| (i * 10_000, i as f64)).collect();
    src.apply_next(1, batch("acme", "a", "cpu", &samples))
        .unwrap();
    let all = every_series();
    let at_begin = read_all(&src, "acme", 1, &all);
    let index_at_begin = src.applied_index(1).unwrap();
    let begun = src.begin_dump(1, b"at-begin").unwrap();
    // The shard goes on: new samples of the series, a new series, and a checkpoint that
    // writes both to RocksDB, all while the dump is open.
    let later: Vec<(i64, f64)> = (50..80).map(|i| (i * 10_000, i as f64)).collect();
    src.apply_next(1, batch("acme", "a", "cpu", &later))
        .unwrap();
    src.apply_next(1, batch("acme", "b", "new", &[(1, 1.0)]))
        .unwrap();
    src.checkpoint(1, Some(b"after")).unwrap();
    let mut bytes = Vec::new();
    begun.write_to(&mut bytes).unwrap();
    install(&dst, 1, &bytes, b"at-begin").unwrap();
    assert_eq!(read_all(&dst, "acme", 1, &all), at_begin);
    assert_eq!(dst.applied_index(1).unwrap(), index_at_begin);
    assert_eq!(
        read_all(&src, "acme", 1, &all).len(),
        2,
        "the source moved on"
    );
    assert_eq!(
        src.applied_marker(1).unwrap().as_deref(),
        Some(&b"after"[..])
    );
}

/// An install cut off after some of its batches (the sender went away, then the node
/// stopped) is found at the next open: the shard is emptied and has applied nothing, and it
/// is reported torn (again at every open) until the Raft layer clears it. A full install
/// then works.
#[test]
fn a_torn_install_is_emptied_at_open_and_a_full_one_works_after() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let src = Engine::open(cfg(a.path())).unwrap();
    fill(&src, 1, 2_000, 2_000);
    let bytes = dump(&src, 1, b"m");
    assert!(
        bytes.len() > 2 * INSTALL_BATCH_BYTES,
        "{} bytes",
        bytes.len()
    );
    {
        let dst = Engine::open(cfg(b.path())).unwrap();
        dst.apply_next(1, batch("acme", "z", "old", &[(1, 1.0)]))
            .unwrap();
        dst.apply_next(0, batch("acme", "n", "neighbour", &[(1, 1.0)]))
            .unwrap();
        dst.checkpoint(1, Some(b"old")).unwrap();
        dst.checkpoint(0, None).unwrap();
        let mut cut = CutOff {
            data: &bytes,
            limit: INSTALL_BATCH_BYTES * 3 / 2,
        };
        let err = dst.install_shard_from(1, &mut cut, b"m").unwrap_err();
        assert!(
            matches!(err, Error::SnapshotStream { shard: 1, .. }),
            "{err}"
        );
        // Nothing of it reads as installed: no marker, and no head over the partial keys.
        assert_eq!(dst.applied_marker(1).unwrap(), None);
        assert!(read_all(&dst, "acme", 1, &every_series()).is_empty());
    }
    let all = every_series();
    for _ in 0..2 {
        let dst = Engine::open(cfg(b.path())).unwrap();
        assert!(dst.torn_install(1) && !dst.torn_install(0));
        assert_eq!(dst.stats().snapshots_torn.load(Ordering::Relaxed), 1);
        assert!(read_all(&dst, "acme", 1, &all).is_empty(), "emptied");
        assert_eq!(dst.applied_index(1).unwrap(), 0);
        assert_eq!(dst.applied_marker(1).unwrap(), None);
        assert_eq!(
            read_all(&dst, "acme", 0, &all).len(),
            1,
            "neighbour untouched"
        );
    }
    let dst = Engine::open(cfg(b.path())).unwrap();
    dst.clear_torn_install(1).unwrap();
    assert!(!dst.torn_install(1));
    drop(dst);
    let dst = Engine::open(cfg(b.path())).unwrap();
    assert!(!dst.torn_install(1));
    assert_eq!(dst.stats().snapshots_torn.load(Ordering::Relaxed), 0);
    install(&dst, 1, &bytes, b"m").unwrap();
    assert_eq!(
        read_all(&dst, "acme", 1, &all),
        read_all(&src, "acme", 1, &all)
    );
    drop(dst);
    let dst = Engine::open(cfg(b.path())).unwrap();
    assert!(!dst.torn_install(1));
    assert_eq!(read_all(&dst, "acme", 1, &all).len(), 2_000);
}

/// A stream that is truncated or corrupt fails with an error naming it, and never leaves a
/// shard that looks installed: the installing marker stays set (the next open empties the
/// shard). A stream that is not a dump at all is refused before anything is written.
#[test]
fn a_truncated_or_corrupt_dump_fails_and_leaves_the_shard_marked() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let src = Engine::open(cfg(a.path())).unwrap();
    src.apply_next(1, batch("acme", "a", "cpu", &[(1, 1.0)]))
        .unwrap();
    let good = dump(&src, 1, b"m");
    let mut truncated = good.clone();
    truncated.truncate(good.len() - 3);
    let mut bad_code = good.clone();
    bad_code.extend_from_slice(&[9, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0]);
    let mut other_shard = good.clone();
    other_shard.extend_from_slice(&[0, 0, 0, 0, 2, 0, 2, 0, 0, 0, 0]);
    let mut huge = good.clone();
    huge.extend_from_slice(&[0, 0xff, 0xff, 0xff, 0xff]);
    let cases: [(&[u8], &str); 4] = [
        (&truncated, "truncated"),
        (&bad_code, "unknown column family code 9"),
        (&other_shard, "a key of another shard"),
        (&huge, "a record part of 4294967295 bytes"),
    ];
    for (stream, why) in cases {
        let dir = tempfile::tempdir().unwrap();
        {
            let dst = Engine::open(cfg(dir.path())).unwrap();
            let err = install(&dst, 1, stream, b"m").unwrap_err();
            assert!(
                matches!(err, Error::CorruptRecord { shard: 1, .. })
                    && err.to_string().contains(why),
                "{why}: {err}"
            );
            assert_eq!(dst.applied_marker(1).unwrap(), None, "{why}: not installed");
        }
        let dst = Engine::open(cfg(dir.path())).unwrap();
        assert!(dst.torn_install(1), "{why}: marked");
    }
    // Not a dump: nothing written, nothing marked.
    let dst = Engine::open(cfg(b.path())).unwrap();
    dst.apply_next(1, batch("acme", "z", "kept", &[(1, 1.0)]))
        .unwrap();
    for stream in [&[][..], &[3], &[0xff, 1, 2]] {
        let err = install(&dst, 1, stream, b"m").unwrap_err();
        assert!(err.to_string().contains("unknown format"), "{err}");
    }
    assert_eq!(read_all(&dst, "acme", 1, &every_series()).len(), 1);
    dst.checkpoint(1, None).unwrap();
    drop(dst);
    assert!(!Engine::open(cfg(b.path())).unwrap().torn_install(1));
}

/// An install holds one batch of records at a time: a dump several times
/// `INSTALL_BATCH_BYTES` long takes several RocksDB writes.
#[test]
fn a_dump_larger_than_a_batch_installs_in_several() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let src = Engine::open(cfg(a.path())).unwrap();
    fill(&src, 3, 2_000, 2_000);
    let bytes = dump(&src, 3, b"m");
    let dst = Engine::open(cfg(b.path())).unwrap();
    install(&dst, 3, &bytes, b"m").unwrap();
    let writes = dst.stats().snapshot_install_batches.load(Ordering::Relaxed);
    // The marker's write, one per full batch, the last.
    let least = 2 + (bytes.len() / INSTALL_BATCH_BYTES) as u64;
    assert!(writes >= least, "{writes} writes for {} bytes", bytes.len());
    let small = dump(&src, 0, b"m");
    install(&dst, 0, &small, b"m").unwrap();
    assert_eq!(
        dst.stats().snapshot_install_batches.load(Ordering::Relaxed),
        writes + 2,
        "a small dump: the marker's write and the last"
    );
    let all = every_series();
    assert_eq!(
        read_all(&dst, "acme", 3, &all),
        read_all(&src, "acme", 3, &all)
    );
}

#[test]
fn snapshot_is_a_database_that_opens() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(cfg(dir.path())).unwrap();
    e.apply_next(0, batch("t", "h", "m", &[(1, 1.0)])).unwrap();
    e.checkpoint(0, None).unwrap();
    let snap = dir.path().join("snapshots").join("s1");
    e.snapshot(&snap).unwrap();
    assert!(matches!(
        e.snapshot(&snap),
        Err(Error::CheckpointExists { .. })
    ));
    drop(e);
    // A snapshot is a data dir's `db`: opening it recovers the checkpointed write.
    let restored = tempfile::tempdir().unwrap();
    std::fs::rename(&snap, restored.path().join("db")).unwrap();
    let e = Engine::open(cfg(restored.path())).unwrap();
    assert_eq!(
        read_all(&e, "t", 0, &[name("m")])[0].1,
        [Sample::new(1, 1.0)]
    );
}

/// Pins a shard dump's bytes (`storage/docs/format/snapshot.md`): a replica installs what
/// another node of another version dumped, so a change that still installs must fail here.
/// Such a change needs a new dump format byte and a note in `storage/docs/format/snapshot.md`.
#[test]
fn shard_dump_bytes_are_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(cfg(dir.path())).unwrap();
    let mut b = WriteBatchBuilder::new(Tenant::new("default").unwrap());
    b.begin_group([("host", "a")]).unwrap();
    b.add_series("cpu_usage_user", [Sample::new(1_000, 1.5)]);
    e.apply_next(1, b.finish()).unwrap();
    let dump = dump(&e, 1, b"mk");
    // Every record is `cf u8 · key_len u32be · key · value_len u32be · value`, column families
    // in the order 0 series .. 5 shard_meta (6 rollup_5m, 7 rollup_1h: none here), keys in
    // RocksDB order within each.
    let sid0: &[u8] = &[0; 8];
    #[rustfmt::skip]
    let parts: &[&[u8]] = &[
        &[2],                                               // dump format 2
        // series: shard 1 · sid 0 → tenant, then labels sorted by name
        &[0, 0, 0, 0, 10, 0, 1], sid0, &[0, 0, 0, 49],
        &[7], b"default", &[0, 2],
        &[0, 8], b"__name__", &[0, 0, 0, 14], b"cpu_usage_user",
        &[0, 4], b"host", &[0, 0, 0, 1], b"a",
        // postings: shard 1 · tenant · name · value · sid, empty values; names sort by their
        // length first: every series (""), host, __name__
        &[1, 0, 0, 0, 24, 0, 1, 7], b"default", &[0, 0, 0, 0, 0, 0], sid0, &[0, 0, 0, 0],
        &[1, 0, 0, 0, 29, 0, 1, 7], b"default", &[0, 4], b"host", &[0, 0, 0, 1], b"a", sid0,
        &[0, 0, 0, 0],
        &[1, 0, 0, 0, 46, 0, 1, 7], b"default", &[0, 8], b"__name__", &[0, 0, 0, 14],
        b"cpu_usage_user", sid0, &[0, 0, 0, 0],
        // series_hash: shard 1 · the series' 128-bit hash (the value `cairn_model`'s
        // `hash_values_are_pinned` pins for this series) → sid 0
        &[2, 0, 0, 0, 18, 0, 1],
        &[0x4c, 0xd4, 0x76, 0x19, 0xab, 0x1c, 0x2a, 0x17,
          0x83, 0x2e, 0xab, 0x07, 0xbc, 0x75, 0x30, 0xba],
        &[0, 0, 0, 8], sid0,
        // chunks: shard 1 · day 0 (sign bit flipped) · sid 0 · start 1000 (flipped) · seq 0
        // → the open chunk's copy the dump's checkpoint wrote: codec 3, 1 sample, span 0,
        // desc scale 1 | k0 0, m0 = 15 (zigzag 30)
        &[3, 0, 0, 0, 26, 0, 1, 0x80, 0, 0, 0], sid0,
        &[0x80, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0, 0, 0],
        &[0, 0, 0, 5, 3, 1, 0, 0x01, 0x1e],
        // head_index: shard 1 · sid 0 → min_t 1000 · max_t 1000 · has_open 1 · open_start 1000
        &[4, 0, 0, 0, 10, 0, 1], sid0, &[0, 0, 0, 25],
        &[0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 1,
          0, 0, 0, 0, 0, 0, 0x03, 0xe8],
        // shard_meta: shard 1 · kind → flushed index 1, next series id 1, checkpoint
        // sequence 2 (the next checkpoint's), the caller's marker
        &[5, 0, 0, 0, 3, 0, 1, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1],
        &[5, 0, 0, 0, 3, 0, 1, 2, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1],
        &[5, 0, 0, 0, 3, 0, 1, 3, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 2],
        &[5, 0, 0, 0, 3, 0, 1, 5, 0, 0, 0, 2], b"mk",
        // rollup marks of 5m and 1h (no watermark, no dirty window), then the retention
        // cut-offs of raw, 5m and 1h (default 0, no tenant)
        &[5, 0, 0, 0, 3, 0, 1, 6, 0, 0, 0, 13], &[0; 13],
        &[5, 0, 0, 0, 3, 0, 1, 7, 0, 0, 0, 13], &[0; 13],
        &[5, 0, 0, 0, 3, 0, 1, 8, 0, 0, 0, 12], &[0; 12],
        &[5, 0, 0, 0, 3, 0, 1, 9, 0, 0, 0, 12], &[0; 12],
        &[5, 0, 0, 0, 3, 0, 1, 10, 0, 0, 0, 12], &[0; 12],
    ];
    let expected = parts.concat();
    assert_eq!(dump, expected, "{dump:02x?}");
    // And it installs: the same series, sample and marker on another engine.
    let other = tempfile::tempdir().unwrap();
    let dst = Engine::open(cfg(other.path())).unwrap();
    install(&dst, 1, &expected, b"mk").unwrap();
    let all = [name("cpu_usage_user")];
    assert_eq!(
        read_all(&dst, "default", 1, &all),
        read_all(&e, "default", 1, &all)
    );
    assert_eq!(dst.applied_marker(1).unwrap().as_deref(), Some(&b"mk"[..]));
    // A format-1 dump (an older node's: no rollup families, no marks) still installs.
    let v1 = tempfile::tempdir().unwrap();
    let dst = Engine::open(cfg(v1.path())).unwrap();
    let mut old = expected.clone();
    old[0] = 1;
    install(&dst, 1, &old, b"mk").unwrap();
    assert_eq!(
        read_all(&dst, "default", 1, &all),
        read_all(&e, "default", 1, &all)
    );
    assert!(install(&dst, 1, &[3], b"mk").is_err());
}

/// A backup (no checkpoint of its own: the shard's marker stays the one Raft wrote) restores
/// into a new engine with the same data and none of the old cluster's Raft state.
#[test]
fn a_backup_restores_the_data_without_the_raft_state() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let src = Engine::open(cfg(a.path())).unwrap();
    fill(&src, 1, 50, 8);
    src.checkpoint(1, Some(b"raft-marker")).unwrap();
    let mut dump = Vec::new();
    src.begin_backup(1).unwrap().write_to(&mut dump).unwrap();
    assert_eq!(
        src.applied_marker(1).unwrap().as_deref(),
        Some(&b"raft-marker"[..]),
        "a backup leaves the marker alone"
    );
    let dst = Engine::open(cfg(b.path())).unwrap();
    dst.restore_shard_from(1, &mut &dump[..]).unwrap();
    assert_eq!(dst.applied_marker(1).unwrap(), None);
    assert_eq!(dst.applied_index(1).unwrap(), 0);
    let (want, got) = (
        read_all(&src, "acme", 1, &every_series()),
        read_all(&dst, "acme", 1, &every_series()),
    );
    assert_eq!(got.len(), 50);
    assert_eq!(got, want);
    // And after a restart, as the new cluster's first node sees it.
    drop(dst);
    let dst = Engine::open(cfg(b.path())).unwrap();
    assert_eq!(dst.applied_marker(1).unwrap(), None);
    assert_eq!(read_all(&dst, "acme", 1, &every_series()), want);
}
