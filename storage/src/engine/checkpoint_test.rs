//! Checkpoints on a real RocksDB: what a restart recovers, flushes, partial chunks reopened,
//! and the window and day merges.

use super::*;
use crate::codec::{DecimalCodec, StreamCodec};
use crate::engine::tests::{batch, cfg, chunk_codecs, chunk_keys, name, read_all};
use cairn_model::Sample;

/// The checkpoint interval runs on the engine's clock: nothing is due before it passes, a
/// shard with applied entries is due after, and a checkpoint starts the interval again.
#[test]
fn a_checkpoint_is_due_by_log_bytes_or_by_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(cairn_model::ManualClock::new(1_700_000_000_000));
    let e = Engine::open_with_clock(cfg(dir.path()), clock.clone()).unwrap();
    let interval = e.config().checkpoint_interval();
    assert!(!e.needs_checkpoint(0), "nothing applied");
    clock.advance(interval);
    assert!(!e.needs_checkpoint(0), "nothing applied, however long");
    e.apply_next(0, batch("t", "h", "m", &[(1000, 1.0)]))
        .unwrap();
    assert!(
        e.needs_checkpoint(0),
        "applied, and the interval has passed"
    );
    assert!(!e.needs_checkpoint(1), "another shard has nothing applied");
    e.checkpoint(0, None).unwrap();
    e.apply_next(0, batch("t", "h", "m", &[(2000, 2.0)]))
        .unwrap();
    assert!(!e.needs_checkpoint(0), "the interval starts again");
    clock.advance(interval - std::time::Duration::from_millis(1));
    assert!(!e.needs_checkpoint(0));
    clock.advance(std::time::Duration::from_millis(1));
    assert!(e.needs_checkpoint(0));
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
