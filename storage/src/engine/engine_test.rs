//! Engine tests on a real RocksDB in a temp dir: apply, read, restart, checkpoint, flush,
//! shard dumps.

use super::*;
use crate::codec::{DecimalCodec, StreamCodec};
use cairn_model::{MatchOp, STALE_NAN_BITS, Tenant};
use cairn_model::{WriteBatch, WriteBatchBuilder};

fn cfg(dir: &Path) -> StorageConfig {
    StorageConfig {
        data_dir: dir.to_path_buf(),
        shards: 4,
        ..Default::default()
    }
}

fn batch(tenant: &str, host: &str, metric: &str, samples: &[(i64, f64)]) -> WriteBatch {
    let mut b = WriteBatchBuilder::new(Tenant::new(tenant).unwrap());
    b.begin_group([("host", host), ("dc", "eu")]).unwrap();
    b.add_series(metric, samples.iter().map(|&(t, v)| Sample::new(t, v)));
    b.finish()
}

fn read_all(e: &Engine, tenant: &str, shard: u32, m: &[Matcher]) -> Vec<(Labels, Vec<Sample>)> {
    let mut out = Vec::new();
    for s in e.select(tenant, &[shard], m, i64::MIN, i64::MAX).unwrap() {
        let mut v = Vec::new();
        e.read_samples(s.shard, s.sid, i64::MIN, i64::MAX, &mut v)
            .unwrap();
        out.push((s.labels, v));
    }
    out
}

fn name(n: &str) -> Matcher {
    Matcher::equal("__name__", n)
}

#[test]
fn written_samples_are_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(cfg(dir.path())).unwrap();
    let stale = f64::from_bits(STALE_NAN_BITS);
    let samples: Vec<(i64, f64)> = (0..300)
        .map(|i| {
            (
                1_000_000 + i * 10_000,
                if i == 7 { stale } else { i as f64 * 0.25 },
            )
        })
        .collect();
    let o = e
        .apply_next(1, batch("acme", "a", "cpu", &samples))
        .unwrap();
    assert_eq!(o.written, 300);
    assert_eq!(o.new_series, 1);
    let got = read_all(&e, "acme", 1, &[name("cpu")]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0.get("host"), "a");
    assert_eq!(got[0].0.metric_name(), "cpu");
    let want: Vec<Sample> = samples.iter().map(|&(t, v)| Sample::new(t, v)).collect();
    assert_eq!(got[0].1.len(), want.len());
    for (g, w) in got[0].1.iter().zip(&want) {
        assert!(g.bit_eq(w), "{g:?} != {w:?}");
    }
    // A time range cuts both ends.
    let s = &e.select("acme", &[1], &[name("cpu")], 0, i64::MAX).unwrap()[0];
    let mut v = Vec::new();
    e.read_samples(1, s.sid, 1_000_000 + 10_000, 1_000_000 + 30_000, &mut v)
        .unwrap();
    assert_eq!(
        v.iter().map(|x| x.t).collect::<Vec<_>>(),
        [1_010_000, 1_020_000, 1_030_000]
    );
}

#[test]
fn a_restart_recovers_the_last_checkpoint_and_its_marker() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = Engine::open(cfg(dir.path())).unwrap();
        for i in 0..50 {
            e.apply_next(0, batch("t", "h", "m", &[(i * 1000, i as f64)]))
                .unwrap();
            if i == 29 {
                e.checkpoint(0, Some(b"after 30")).unwrap();
            }
        }
        assert_eq!(e.applied_index(0).unwrap(), 50);
        // Not checkpointed again: the Raft layer re-applies entries 31..=50 from its log.
    }
    let e = Engine::open(cfg(dir.path())).unwrap();
    assert_eq!(e.applied_index(0).unwrap(), 30);
    assert_eq!(
        e.applied_marker(0).unwrap().as_deref(),
        Some(&b"after 30"[..])
    );
    assert_eq!(e.applied_marker(1).unwrap(), None);
    let got = read_all(&e, "t", 0, &[name("m")]);
    assert_eq!(got[0].1.len(), 30);
    assert_eq!(got[0].1[29], Sample::new(29_000, 29.0));
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
fn flush_writes_chunks_then_restart_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let samples: Vec<(i64, f64)> = (0..250).map(|i| (i * 15_000, (i % 7) as f64)).collect();
    {
        let e = Engine::open(cfg(dir.path())).unwrap();
        e.apply_next(2, batch("t", "h", "m", &samples)).unwrap();
        let f = e.flush_unreplicated().unwrap();
        assert_eq!(f.samples, 250);
        // 250 samples at 15 s lie in one 2 h window (480 samples): the head seals 120 + 120
        // + 10, and the flush merges the window's chunks into one.
        assert_eq!(f.chunks, 1);
    }
    let e = Engine::open(cfg(dir.path())).unwrap();
    let got = read_all(&e, "t", 2, &[name("m")]);
    assert_eq!(got[0].1.len(), 250);
    assert!(
        got[0]
            .1
            .iter()
            .zip(&samples)
            .all(|(g, &(t, v))| g.t == t && g.v == v)
    );
}

/// The codec id of every chunk on disk, in key order.
fn chunk_codecs(e: &Engine) -> Vec<u8> {
    let db = &e.inner.db;
    let mut it = db.raw_iterator_cf(cf(db, CF_CHUNKS));
    it.seek_to_first();
    let mut out = Vec::new();
    while let Some(v) = it.value() {
        out.push(v[0]);
        it.next();
    }
    it.status().unwrap();
    out
}

#[test]
fn sealed_stream_chunks_are_read_after_a_restart_and_a_flush_re_encodes_them() {
    let dir = tempfile::tempdir().unwrap();
    // 130 samples at 10 s in one 2 h window: the head seals a stream chunk at 120 and keeps
    // 10 open.
    let samples: Vec<(i64, f64)> = (0..130)
        .map(|i| (i * 10_000, (i % 13) as f64 / 4.0))
        .collect();
    let check = |e: &Engine| {
        let got = read_all(e, "t", 1, &[name("m")]);
        assert_eq!(got.len(), 1);
        let want: Vec<Sample> = samples.iter().map(|&(t, v)| Sample::new(t, v)).collect();
        assert_eq!(got[0].1, want);
    };
    {
        let e = Engine::open(cfg(dir.path())).unwrap();
        e.apply_next(1, batch("t", "h", "m", &samples)).unwrap();
        // A checkpoint while the window is still open: the sealed chunk goes to disk as it is,
        // the open one as a partial chunk, a copy of its stream too (no re-encoding).
        e.checkpoint(1, None).unwrap();
        assert_eq!(chunk_codecs(&e), [StreamCodec::ID, StreamCodec::ID]);
        check(&e);
    }
    let e = Engine::open(cfg(dir.path())).unwrap();
    check(&e);
    // The flush seals the rest and merges the window: one chunk, no stream left.
    e.flush_unreplicated().unwrap();
    assert_eq!(chunk_codecs(&e), [DecimalCodec::ID]);
    check(&e);
    drop(e);
    check(&Engine::open(cfg(dir.path())).unwrap());
}

#[test]
fn partial_chunks_reopen_after_restart_and_keep_growing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = Engine::open(cfg(dir.path())).unwrap();
        e.apply_next(0, batch("t", "h", "m", &[(1000, 1.0), (2000, 2.0)]))
            .unwrap();
        // A checkpoint without sealing writes the open chunk as a partial chunk.
        e.checkpoint(0, None).unwrap();
    }
    {
        let e = Engine::open(cfg(dir.path())).unwrap();
        e.apply_next(0, batch("t", "h", "m", &[(3000, 3.0)]))
            .unwrap();
        // A sample older than the newest but within the window is out of order, not lost.
        e.apply_next(0, batch("t", "h", "m", &[(1500, 1.5)]))
            .unwrap();
        let got = read_all(&e, "t", 0, &[name("m")]);
        let ts: Vec<i64> = got[0].1.iter().map(|s| s.t).collect();
        assert_eq!(ts, [1000, 1500, 2000, 3000]);
        let f = e.flush_unreplicated().unwrap();
        assert_eq!(
            f.samples, 4,
            "the reopened chunk is sealed whole, plus the OOO sample"
        );
    }
    let e = Engine::open(cfg(dir.path())).unwrap();
    let got = read_all(&e, "t", 0, &[name("m")]);
    let ts: Vec<i64> = got[0].1.iter().map(|s| s.t).collect();
    assert_eq!(ts, [1000, 1500, 2000, 3000]);
}

#[test]
fn out_of_order_duplicates_and_too_old_samples() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(cfg(dir.path())).unwrap();
    let hour = 3_600_000;
    e.apply_next(0, batch("t", "h", "m", &[(10 * hour, 1.0)]))
        .unwrap();
    let o = e
        .apply_next(
            0,
            batch(
                "t",
                "h",
                "m",
                &[
                    (10 * hour, 1.0),            // identical retry: idempotent
                    (10 * hour, 2.0),            // same time, other value: rejected
                    (10 * hour - 1000, 0.5),     // out of order within 1 h: kept
                    (10 * hour - 2 * hour, 0.1), // too old: rejected
                ],
            ),
        )
        .unwrap();
    assert_eq!(o.duplicates, 1);
    assert_eq!(o.rejected_conflict, 1);
    assert_eq!(o.rejected_too_old, 1);
    assert_eq!(o.written, 1);
    let got = read_all(&e, "t", 0, &[name("m")]);
    assert_eq!(
        got[0].1,
        [
            Sample::new(10 * hour - 1000, 0.5),
            Sample::new(10 * hour, 1.0)
        ]
    );
    // Out-of-order data survives a checkpoint and a restart.
    e.flush_unreplicated().unwrap();
    drop(e);
    let e = Engine::open(cfg(dir.path())).unwrap();
    let got = read_all(&e, "t", 0, &[name("m")]);
    assert_eq!(got[0].1.len(), 2);
}

#[test]
fn matchers_labels_and_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(cfg(dir.path())).unwrap();
    for host in ["a", "b", "c"] {
        e.apply_next(3, batch("acme", host, "cpu", &[(1, 1.0)]))
            .unwrap();
    }
    let mut b = WriteBatchBuilder::new(Tenant::new("acme").unwrap());
    b.begin_group([("host", "a")]).unwrap();
    b.add("mem", 1, 1.0);
    e.apply_next(3, b.finish()).unwrap();
    e.apply_next(3, batch("other", "z", "cpu", &[(1, 1.0)]))
        .unwrap();

    let hosts = |m: Vec<Matcher>| -> Vec<String> {
        let mut v: Vec<String> = e
            .select("acme", &[3], &m, i64::MIN, i64::MAX)
            .unwrap()
            .into_iter()
            .map(|s| format!("{}:{}", s.labels.metric_name(), s.labels.get("host")))
            .collect();
        v.sort();
        v
    };
    assert_eq!(hosts(vec![name("cpu")]), ["cpu:a", "cpu:b", "cpu:c"]);
    let re = Matcher::new(MatchOp::RegexMatch, "host", "a|c").unwrap();
    assert_eq!(hosts(vec![name("cpu"), re]), ["cpu:a", "cpu:c"]);
    let re = Matcher::new(MatchOp::RegexMatch, "host", "[bc]").unwrap();
    assert_eq!(hosts(vec![re]), ["cpu:b", "cpu:c"]);
    let ne = Matcher::new(MatchOp::NotEqual, "host", "a").unwrap();
    assert_eq!(hosts(vec![name("cpu"), ne]), ["cpu:b", "cpu:c"]);
    // `dc=""` selects series without a dc label: only mem has none.
    let empty = Matcher::new(MatchOp::Equal, "dc", "").unwrap();
    assert_eq!(hosts(vec![empty]), ["mem:a"]);
    let nre = Matcher::new(MatchOp::RegexNoMatch, "__name__", "c.*").unwrap();
    assert_eq!(hosts(vec![nre]), ["mem:a"]);
    // Tenants never see each other's series or label values.
    assert_eq!(
        e.label_values("acme", &[3], "host", &[], None).unwrap(),
        ["a", "b", "c"]
    );
    assert_eq!(
        e.label_values("other", &[3], "host", &[], None).unwrap(),
        ["z"]
    );
    assert_eq!(
        e.label_names("acme", &[3], &[], None).unwrap(),
        ["__name__", "dc", "host"]
    );
    assert_eq!(
        e.label_values("acme", &[3], "__name__", &[], None).unwrap(),
        ["cpu", "mem"]
    );
    assert!(
        e.select("nobody", &[3], &[name("cpu")], 0, 10)
            .unwrap()
            .is_empty()
    );
    // Time ranges filter by each series' bounds.
    assert!(
        e.select("acme", &[3], &[name("cpu")], 2, 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        e.label_values("acme", &[3], "host", &[], Some((5, 10)))
            .unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn chunks_seal_at_the_two_hour_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(cfg(dir.path())).unwrap();
    let two_h = 7_200_000;
    let samples = [
        (two_h - 2000, 1.0),
        (two_h - 1000, 2.0),
        (two_h, 3.0),
        (two_h + 1000, 4.0),
    ];
    e.apply_next(0, batch("t", "h", "m", &samples)).unwrap();
    // The head seals the first window's chunk when a sample lands in the next window; a
    // checkpoint writes it, and the open one's copy, as two chunks.
    let f = e.checkpoint(0, None).unwrap();
    assert_eq!((f.chunks, f.samples), (2, 4));
    // A flush seals the series: its day is then complete, and becomes one chunk.
    assert_eq!(e.flush_unreplicated().unwrap().chunks, 1);
    let want: Vec<Sample> = samples.iter().map(|&(t, v)| Sample::new(t, v)).collect();
    assert_eq!(read_all(&e, "t", 0, &[name("m")])[0].1, want);
}

#[test]
fn a_day_merged_chunk_is_found_from_any_point_of_its_day() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(cfg(dir.path())).unwrap();
    let h = 3_600_000;
    // Ten hours at one sample a minute: five windows, and then one chunk once flushed.
    let samples: Vec<(i64, f64)> = (0..600).map(|i| (i * 60_000, i as f64 / 4.0)).collect();
    e.apply_next(0, batch("t", "h", "m", &samples)).unwrap();
    assert_eq!(e.flush_unreplicated().unwrap().chunks, 1);
    // More samples later that day get chunks of their own.
    let later: Vec<(i64, f64)> = (0..10).map(|i| (20 * h + i * 1000, i as f64)).collect();
    e.apply_next(0, batch("t", "h", "m", &later)).unwrap();
    e.checkpoint(0, None).unwrap();
    let all: Vec<Sample> = samples
        .iter()
        .chain(&later)
        .map(|&(t, v)| Sample::new(t, v))
        .collect();
    // Ranges that start long after the merged chunk's start still find its samples.
    for (lo, hi) in [(9 * h, 9 * h + 120_000), (5 * h, 21 * h), (0, 24 * h)] {
        let want: Vec<Sample> = all
            .iter()
            .filter(|s| s.t >= lo && s.t <= hi)
            .copied()
            .collect();
        let sids = e.select("t", &[0], &[name("m")], lo, hi).unwrap();
        let mut got = Vec::new();
        e.read_samples(0, sids[0].sid, lo, hi, &mut got).unwrap();
        assert_eq!(got, want, "range {lo}..={hi}");
    }
}

#[test]
fn rocksdb_writes_no_info_log_into_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(cfg(dir.path())).unwrap();
    e.apply_next(0, batch("t", "h", "m", &[(1, 1.0)])).unwrap();
    e.flush_unreplicated().unwrap();
    drop(e);
    let names: Vec<String> = std::fs::read_dir(dir.path().join("db"))
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // Its options dump went to `LOG` (and old ones to `LOG.old.*`) at every open: 114 KB.
    assert!(names.iter().any(|n| n == "CURRENT"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("LOG")), "{names:?}");
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

#[test]
fn writes_after_shutdown_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(cfg(dir.path())).unwrap();
    e.shutdown();
    assert!(!e.is_open());
    assert!(matches!(
        e.apply_next(0, batch("t", "h", "m", &[(1, 1.0)])),
        Err(Error::ShutDown)
    ));
    assert!(matches!(
        e.apply_next(99, batch("t", "h", "m", &[(1, 1.0)])),
        Err(Error::Config { .. })
    ));
}

/// The chunks a series has on disk, as (start, seq).
fn chunk_keys(e: &Engine, shard: u32, sid: u64) -> Vec<(i64, u32)> {
    let db = &e.inner.db;
    let mut out = Vec::new();
    let mut it = db.raw_iterator_cf(cf(db, CF_CHUNKS));
    it.seek_to_first();
    while let Some(k) = it.key() {
        let (s, start, seq) = parse_chunk_key(k).unwrap();
        if s == sid && u16::from_be_bytes([k[0], k[1]]) as u32 == shard {
            out.push((start, seq));
        }
        it.next();
    }
    out
}

#[test]
fn a_window_the_series_has_left_becomes_one_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(dir.path());
    c.chunk_max_samples = 4;
    c.chunk_span_ms = 10_000;
    c.checkpoint_interval_ms = 3_600_000;
    let samples = |from: i64, to: i64| -> Vec<(i64, f64)> {
        (from..=to)
            .step_by(1000)
            .map(|t| (t, t as f64 / 3.0))
            .collect()
    };
    let mut all: Vec<Sample> = samples(0, 12_000)
        .into_iter()
        .map(|(t, v)| Sample::new(t, v))
        .collect();
    all.insert(3, Sample::new(2500, -1.0));
    {
        let e = Engine::open(c.clone()).unwrap();
        // Checkpoints between the writes, without sealing (as periodic checkpoints do): window
        // [0, 10 s) is written as a sealed chunk, an open chunk's copy, another sealed chunk.
        for (from, to) in [(0, 6000), (7000, 9000)] {
            e.apply_next(1, batch("acme", "a", "cpu", &samples(from, to)))
                .unwrap();
            e.checkpoint(1, None).unwrap();
        }
        assert_eq!(chunk_keys(&e, 1, 0), [(0, 0), (4000, 0), (8000, 0)]);
        // A late sample of the window gets an out-of-order chunk of its own...
        e.apply_next(1, batch("acme", "a", "cpu", &[(2500, -1.0)]))
            .unwrap();
        e.checkpoint(1, None).unwrap();
        assert_eq!(chunk_keys(&e, 1, 0).len(), 4);
        // Crossing into the next window completes the first: its chunks, the late one too,
        // become one.
        e.apply_next(1, batch("acme", "a", "cpu", &samples(10_000, 12_000)))
            .unwrap();
        e.checkpoint(1, None).unwrap();
        assert_eq!(chunk_keys(&e, 1, 0), [(0, 0), (10_000, 0)]);
        let got = read_all(&e, "acme", 1, &[name("cpu")]);
        assert_eq!(got[0].1, all);
    }
    // And after a restart.
    let e = Engine::open(c).unwrap();
    let got = read_all(&e, "acme", 1, &[name("cpu")]);
    assert_eq!(got[0].1, all);
}

#[test]
fn the_raft_log_store_shares_the_engines_database() {
    let dir = tempfile::tempdir().unwrap();
    let group = 1_000; // no shard's group
    {
        let e = Engine::open(cfg(dir.path())).unwrap();
        let log = e.log_store().unwrap();
        log.append(
            group,
            &[(1, b"one".as_slice()), (2, b"two".as_slice())],
            true,
        )
        .unwrap();
        e.apply_next(1, batch("acme", "a", "cpu", &[(1000, 1.0)]))
            .unwrap();
        e.checkpoint(1, None).unwrap();
    }
    let e = Engine::open(cfg(dir.path())).unwrap();
    let log = e.log_store().unwrap();
    assert_eq!(
        log.read(group, 1..=2).unwrap(),
        [(1, b"one".to_vec()), (2, b"two".to_vec())]
    );
    assert_eq!(read_all(&e, "acme", 1, &[name("cpu")])[0].1.len(), 1);
}

#[test]
fn sealed_chunks_over_the_memory_budget_are_written_by_apply_and_survive_a_replay() {
    let dir = tempfile::tempdir().unwrap();
    // A budget of one byte: every sealed chunk goes to disk with the apply that sealed it.
    let tiny = || StorageConfig {
        sealed_memory_bytes: 1,
        ..cfg(dir.path())
    };
    let samples: Vec<(i64, f64)> = (0..250).map(|i| (i * 10_000, i as f64 / 4.0)).collect();
    let want: Vec<Sample> = samples.iter().map(|&(t, v)| Sample::new(t, v)).collect();
    let entry = batch("t", "h", "m", &samples);
    {
        let e = Engine::open(tiny()).unwrap();
        e.apply(1, 1, Some(entry.as_bytes())).unwrap();
        let st = e.shard(1).unwrap().read().unwrap().head.pending_bytes();
        assert_eq!(st, 0, "sealed chunks left memory");
        // Two sealed chunks of 120 on disk (no checkpoint ran), 10 samples open.
        assert_eq!(chunk_codecs(&e), [StreamCodec::ID, StreamCodec::ID]);
        assert_eq!(e.stats().checkpoints.load(Ordering::Relaxed), 0);
        assert_eq!(read_all(&e, "t", 1, &[name("m")])[0].1, want);
    }
    // A crash before any checkpoint: the log would replay entry 1 on top of the chunks that
    // were spilled. The replay seals the same chunks under the same keys: nothing doubles.
    let e = Engine::open(tiny()).unwrap();
    assert_eq!(e.applied_index(1).unwrap(), 0);
    e.apply(1, 1, Some(entry.as_bytes())).unwrap();
    assert_eq!(chunk_codecs(&e), [StreamCodec::ID, StreamCodec::ID]);
    assert_eq!(read_all(&e, "t", 1, &[name("m")])[0].1, want);
    // A flush merges the spilled chunks' window with the rest: one chunk, same samples.
    e.flush_unreplicated().unwrap();
    assert_eq!(chunk_codecs(&e), [DecimalCodec::ID]);
    assert_eq!(read_all(&e, "t", 1, &[name("m")])[0].1, want);
    drop(e);
    let e = Engine::open(tiny()).unwrap();
    assert_eq!(read_all(&e, "t", 1, &[name("m")])[0].1, want);
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
    // in the order 0 series .. 5 shard_meta, keys in RocksDB order within each.
    let sid0: &[u8] = &[0; 8];
    #[rustfmt::skip]
    let parts: &[&[u8]] = &[
        &[1],                                               // dump format 1
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
}
