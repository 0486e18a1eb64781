//! Shard dumps between engines (and their pinned bytes), and RocksDB checkpoints that open.

use super::*;
use crate::engine::tests::{batch, cfg, name, read_all};
use cairn_model::{MatchOp, Matcher, Sample, Tenant, WriteBatchBuilder};

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
    let dump = src.dump_shard(1, b"marker").unwrap();
    dst.install_shard(1, &dump, b"marker").unwrap();
    assert_eq!(dst.applied_index(1).unwrap(), 2);
    assert_eq!(
        dst.applied_marker(1).unwrap().as_deref(),
        Some(&b"marker"[..])
    );
    let all = [Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap()];
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
    let mut bad = dump.clone();
    bad.truncate(dump.len() - 3);
    assert!(dst.install_shard(1, &bad, b"m").is_err());
    drop(dst);
    // And it survives a restart.
    let dst = Engine::open(cfg(b.path())).unwrap();
    assert_eq!(read_all(&dst, "acme", 1, &all).len(), 2);
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
    let dump = e.dump_shard(1, b"mk").unwrap();
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
    dst.install_shard(1, &expected, b"mk").unwrap();
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
    dst.install_shard(1, &old, b"mk").unwrap();
    assert_eq!(
        read_all(&dst, "default", 1, &all),
        read_all(&e, "default", 1, &all)
    );
    assert!(dst.install_shard(1, &[3], b"mk").is_err());
}
