//! Engine tests on a real RocksDB in a temp dir: apply and read back, out-of-order samples,
//! matchers, sealing, shutdown, the shared log store, spills. Also the helpers the tests of
//! `open`, `checkpoint` and `snapshot` share.

use std::path::Path;
use std::sync::atomic::Ordering;

use super::*;
use crate::codec::{DecimalCodec, StreamCodec};
use crate::keys::parse_chunk_key;
use cairn_model::{MatchOp, Matcher, STALE_NAN_BITS, Sample, Tenant};
use cairn_model::{WriteBatch, WriteBatchBuilder};

pub(super) fn cfg(dir: &Path) -> StorageConfig {
    StorageConfig {
        data_dir: dir.to_path_buf(),
        shards: 4,
        ..Default::default()
    }
}

pub(super) fn batch(tenant: &str, host: &str, metric: &str, samples: &[(i64, f64)]) -> WriteBatch {
    let mut b = WriteBatchBuilder::new(Tenant::new(tenant).unwrap());
    b.begin_group([("host", host), ("dc", "eu")]).unwrap();
    b.add_series(metric, samples.iter().map(|&(t, v)| Sample::new(t, v)));
    b.finish()
}

pub(super) fn read_all(
    e: &Engine,
    tenant: &str,
    shard: u32,
    m: &[Matcher],
) -> Vec<(Labels, Vec<Sample>)> {
    let mut out = Vec::new();
    for s in e.select(tenant, &[shard], m, i64::MIN, i64::MAX).unwrap() {
        let mut v = Vec::new();
        e.read_samples(s.shard, s.sid, i64::MIN, i64::MAX, &mut v)
            .unwrap();
        out.push((s.labels, v));
    }
    out
}

pub(super) fn name(n: &str) -> Matcher {
    Matcher::equal("__name__", n)
}

/// The codec id of every chunk on disk, in key order.
pub(super) fn chunk_codecs(e: &Engine) -> Vec<u8> {
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

/// The chunks a series has on disk, as (start, seq).
pub(super) fn chunk_keys(e: &Engine, shard: u32, sid: u64) -> Vec<(i64, u32)> {
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

/// Selections agree with checking every series' labels, whether the remaining matchers are
/// applied by postings (many candidates) or on the candidates' labels (few: below
/// `index::CHECK_ON_LABELS_BELOW`).
#[test]
fn selections_agree_with_labels_on_both_sides_of_the_label_check_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(cfg(dir.path())).unwrap();
    let n = 3 * crate::index::CHECK_ON_LABELS_BELOW;
    let mut b = WriteBatchBuilder::new(Tenant::new("acme").unwrap());
    for i in 0..n {
        let host = format!("h{i}");
        let env = if i % 2 == 0 { "dev" } else { "prod" };
        let rack = format!("r{}", i % 7);
        if i % 5 == 0 {
            b.begin_group([("host", host.as_str()), ("rack", rack.as_str())])
                .unwrap();
        } else {
            b.begin_group([
                ("host", host.as_str()),
                ("env", env),
                ("rack", rack.as_str()),
            ])
            .unwrap();
        }
        b.add("cpu", 1, i as f64);
        b.add("mem", 1, i as f64);
    }
    e.apply_next(1, b.finish()).unwrap();
    let any = Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap();
    let all = e.select("acme", &[1], &[any], i64::MIN, i64::MAX).unwrap();
    assert_eq!(all.len(), 2 * n);
    let m = |op: MatchOp, l: &str, v: &str| Matcher::new(op, l, v).unwrap();
    let cases: Vec<Vec<Matcher>> = vec![
        vec![name("cpu"), m(MatchOp::Equal, "host", "h7")],
        vec![
            name("cpu"),
            m(MatchOp::Equal, "host", "h8"),
            m(MatchOp::NotEqual, "env", "dev"),
        ],
        vec![
            name("cpu"),
            m(MatchOp::Equal, "host", "h10"),
            m(MatchOp::Equal, "env", ""),
        ],
        vec![
            m(MatchOp::Equal, "host", "h9"),
            m(MatchOp::RegexMatch, "__name__", "cpu|mem"),
        ],
        vec![
            m(MatchOp::Equal, "rack", "r3"),
            m(MatchOp::RegexNoMatch, "env", "d.*"),
        ],
        vec![name("cpu"), m(MatchOp::Equal, "env", "prod")],
        vec![
            name("mem"),
            m(MatchOp::NotEqual, "env", "prod"),
            m(MatchOp::RegexMatch, "host", "h1.*"),
        ],
        vec![name("cpu"), m(MatchOp::Equal, "host", "nope")],
    ];
    for ms in cases {
        let mut got: Vec<String> = e
            .select("acme", &[1], &ms, i64::MIN, i64::MAX)
            .unwrap()
            .into_iter()
            .map(|s| s.labels.to_string())
            .collect();
        got.sort();
        let mut want: Vec<String> = all
            .iter()
            .filter(|s| ms.iter().all(|x| x.matches(s.labels.get(&x.name))))
            .map(|s| s.labels.to_string())
            .collect();
        want.sort();
        assert_eq!(got, want, "{ms:?}");
    }
}
