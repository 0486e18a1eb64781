//! Maintenance on a real engine: stitched bucket reads against buckets computed from raw
//! samples (before, during and after rollups, with late samples and a restart), retention
//! dropping series without reusing their ids, and the planner driving `maintain` while a
//! manual clock moves by hours, days and months.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::engine::tests::{batch, cfg, name};
use crate::keys::{CF_ROLLUP_1H, CF_ROLLUP_5M};
use crate::maintenance_plan::{MaintenancePlanConfig, plan_maintenance};
use cairn_model::{Bucket, Clock, ManualClock, RetentionPolicy, STALE_NAN_BITS, Sample};

const M: i64 = 60_000;
const H: i64 = 3_600_000;
const D: i64 = 24 * H;
const W5: i64 = 300_000;

/// A counter with resets, a few stale markers, irregular spacing.
fn gen_samples(rng: &mut StdRng, from: i64, to: i64) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    let (mut t, mut v) = (from + rng.gen_range(1..30_000), 0.0f64);
    while t <= to {
        let x = if rng.gen_bool(0.02) {
            f64::from_bits(STALE_NAN_BITS)
        } else {
            if rng.gen_bool(0.01) {
                v = 0.0;
            }
            v += f64::from(rng.gen_range(0..50u32)) * 0.5;
            v
        };
        out.push((t, x));
        t += rng.gen_range(10_000..90_000);
    }
    out
}

fn write(e: &Engine, shard: u32, tenant: &str, host: &str, samples: &[(i64, f64)]) {
    for part in samples.chunks(300) {
        e.apply_next(shard, batch(tenant, host, "requests", part))
            .unwrap();
    }
}

fn key(b: &[Bucket]) -> Vec<String> {
    b.iter().map(|x| format!("{x:?}")).collect()
}

/// The buckets of `tier` ending in `(mint, maxt]`, computed from every raw sample.
fn from_raw(e: &Engine, shard: u32, sid: u64, tier: Tier, mint: i64, maxt: i64) -> Vec<Bucket> {
    let mut s = Vec::new();
    e.read_samples(shard, sid, i64::MIN, i64::MAX, &mut s)
        .unwrap();
    let mut fine = Vec::new();
    buckets_of_samples(W5, &s, -(1 << 60), 1 << 60, &mut fine);
    let all = if tier == Tier::Rollup1h {
        let mut h = Vec::new();
        merge_buckets(H, &fine, &mut h);
        h
    } else {
        fine
    };
    all.into_iter()
        .filter(|b| b.end > mint && b.end <= maxt)
        .collect()
}

fn read(e: &Engine, shard: u32, sid: u64, tier: Tier, mint: i64, maxt: i64) -> Vec<Bucket> {
    let mut out = Vec::new();
    e.read_buckets(shard, sid, tier, mint, maxt, &mut out)
        .unwrap();
    out
}

fn check_all(e: &Engine, shard: u32, sids: &[u64], ranges: &[(i64, i64)], stage: &str) {
    for &sid in sids {
        for tier in Tier::ROLLUPS {
            for &(a, b) in ranges {
                let got = read(e, shard, sid, tier, a, b);
                let want = from_raw(e, shard, sid, tier, a, b);
                assert!(
                    key(&got) == key(&want),
                    "{stage}: series {sid} {tier} ({a}, {b}]: {} buckets read, {} from raw",
                    got.len(),
                    want.len()
                );
            }
        }
    }
}

fn roll(e: &Engine, shard: u32, tier: Tier, ws: i64, split: Option<u64>) -> MaintenanceOutcome {
    let mut total = MaintenanceOutcome::default();
    let pieces: Vec<(u64, Option<u64>, bool)> = match split {
        Some(s) => vec![(0, Some(s), false), (s, None, true)],
        None => vec![(0, None, true)],
    };
    for (from, to, last) in pieces {
        let cmd = Maintenance::Rollup {
            tier,
            window_start: ws,
            sid_from: from,
            sid_to: to,
            last,
        };
        let i = e.applied_index(shard).unwrap() + 1;
        total.add(&e.maintain(shard, i, &cmd, None).unwrap());
    }
    total
}

fn count_keys(e: &Engine, name: &str) -> usize {
    let db = &e.inner.db;
    let mut it = db.raw_iterator_cf(cf(db, name));
    it.seek_to_first();
    let mut n = 0;
    while it.valid() {
        n += 1;
        it.next();
    }
    n
}

#[test]
fn stitched_buckets_equal_buckets_from_raw_samples_at_every_stage() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = Engine::open(cfg(dir.path())).unwrap();
    let mut rng = StdRng::seed_from_u64(18);
    let t0 = 10 * D;
    for host in ["a", "b", "c"] {
        write(&e, 0, "acme", host, &gen_samples(&mut rng, t0, t0 + 2 * D));
    }
    let sids = [0, 1, 2];
    let ranges = [
        (i64::MIN, i64::MAX),
        (t0 + 5 * H + 7 * M, t0 + 30 * H + 3),
        (t0 + D - W5, t0 + D + 2 * H),
        (t0 + 47 * H, t0 + 3 * D),
    ];
    check_all(&e, 0, &sids, &ranges, "before any rollup");

    // Day 10 in 5-minute blocks (in two pieces each), its hours, and 3 windows of day 11.
    for w in 0..12 {
        let o = roll(&e, 0, Tier::Rollup5m, t0 + w * 2 * H, Some(2));
        assert_eq!((o.windows_rolled, o.series_rolled), (1, 3));
    }
    let o = roll(&e, 0, Tier::Rollup1h, t0, None);
    assert_eq!(o.blocks_written, 3);
    for w in 0..3 {
        roll(&e, 0, Tier::Rollup5m, t0 + D + w * 2 * H, None);
    }
    let st = e.rollup_state(0).unwrap();
    assert_eq!(st.rollup_5m.watermark, Some(t0 + D + 6 * H));
    assert_eq!(st.rollup_1h.watermark, Some(t0 + D));
    assert!(count_keys(&e, CF_ROLLUP_5M) >= 3 * 15 && count_keys(&e, CF_ROLLUP_1H) == 3);
    check_all(&e, 0, &sids, &ranges, "after partial rollups");

    // Everything rolled, then late samples: one in the out-of-order window of series 0, and a
    // new series whose first sample lands in a rolled window.
    for w in 3..12 {
        roll(&e, 0, Tier::Rollup5m, t0 + D + w * 2 * H, None);
    }
    roll(&e, 0, Tier::Rollup1h, t0 + D, None);
    let mut s0 = Vec::new();
    e.read_samples(0, 0, i64::MIN, i64::MAX, &mut s0).unwrap();
    let late_t = s0.last().unwrap().t - 20 * M;
    let o = e
        .apply_next(0, batch("acme", "a", "requests", &[(late_t + 1, 1e6)]))
        .unwrap();
    assert_eq!(o.written, 1);
    write(
        &e,
        0,
        "acme",
        "d",
        &[(t0 + 3 * H + 1, 7.0), (t0 + 3 * H + 2, 8.0)],
    );
    let st = e.rollup_state(0).unwrap();
    let (w_late, w_new) = (rollup_window_of(Tier::Rollup5m, late_t + 1), t0 + 2 * H);
    assert_eq!(st.rollup_5m.dirty, vec![w_new, w_late]);
    assert_eq!(st.rollup_1h.dirty, vec![t0, t0 + D]);
    let sids = [0, 1, 2, 3];
    check_all(
        &e,
        0,
        &sids,
        &ranges,
        "after late samples, before the re-roll",
    );
    for ws in [w_new, w_late] {
        roll(&e, 0, Tier::Rollup5m, ws, Some(1));
    }
    for ds in [t0, t0 + D] {
        roll(&e, 0, Tier::Rollup1h, ds, None);
    }
    let st = e.rollup_state(0).unwrap();
    assert!(st.rollup_5m.dirty.is_empty() && st.rollup_1h.dirty.is_empty());
    check_all(&e, 0, &sids, &ranges, "after the re-roll");

    // A restart (after a checkpoint: apply_next logs nothing) keeps blocks and marks.
    e.flush_unreplicated().unwrap();
    drop(e);
    e = Engine::open(cfg(dir.path())).unwrap();
    assert_eq!(e.rollup_state(0).unwrap(), st);
    check_all(&e, 0, &sids, &ranges, "after a restart");
}

#[test]
fn dropped_series_leave_every_index_and_their_ids_are_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = Engine::open(cfg(dir.path())).unwrap();
    write(&e, 2, "old", "a", &[(D + 1, 1.0), (D + 2 * M, 2.0)]);
    write(&e, 2, "old", "b", &[(D + 1, 1.0), (30 * D, 2.0)]);
    write(&e, 2, "keep", "a", &[(D + 1, 1.0)]);
    let cut = 10 * D;
    let mut dropped = 0;
    for tier in Tier::ALL {
        let cmd = Maintenance::Expire {
            tier,
            default_before: 0,
            tenants: vec![("old".into(), cut), ("keep".into(), 0)],
        };
        let i = e.applied_index(2).unwrap() + 1;
        let o = e.maintain(2, i, &cmd, Some(b"m")).unwrap();
        dropped += o.series_dropped;
        // Checkpointed first, at the entry before the command.
        assert_eq!(e.applied_marker(2).unwrap().as_deref(), Some(&b"m"[..]));
        assert_eq!(e.applied_index(2).unwrap(), i);
    }
    // Only after the last tier's cut-off is nothing left of "old"/a anywhere.
    assert_eq!(dropped, 1);
    let all = [name("requests")];
    let left = e.select("old", &[2], &all, i64::MIN, i64::MAX).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].labels.get("host"), "b");
    assert_eq!(
        e.label_values("old", &[2], "host", &[], None).unwrap(),
        vec!["b"]
    );
    assert_eq!(
        e.select("keep", &[2], &all, i64::MIN, i64::MAX)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(e.tier_bounds("old", &[1, 2]), [cut; 3]);
    assert_eq!(e.tier_bounds("keep", &[2]), [i64::MIN; 3]);
    // Samples at or before the raw cut-off are refused, and make no series.
    let o = e
        .apply_next(2, batch("old", "z", "requests", &[(cut, 1.0)]))
        .unwrap();
    assert_eq!((o.rejected_too_old, o.new_series), (1, 0));
    let st = e.rollup_state(2).unwrap();
    assert_eq!(st.tenants, vec!["keep", "old"]);
    assert_eq!(st.next_sid, 3);

    // Restart, then a new series: it gets id 3, not the dropped 0 nor the count of rows (2).
    e.flush_unreplicated().unwrap();
    drop(e);
    e = Engine::open(cfg(dir.path())).unwrap();
    assert_eq!(e.tier_bounds("old", &[2]), [cut; 3]);
    write(&e, 2, "new", "a", &[(40 * D, 1.0)]);
    let s = e.select("new", &[2], &all, i64::MIN, i64::MAX).unwrap();
    assert_eq!(s[0].sid, 3);
    let b = e.select("old", &[2], &all, i64::MIN, i64::MAX).unwrap();
    assert_eq!((b.len(), b[0].sid), (1, 1));
    let mut v = Vec::new();
    e.read_samples(2, 1, i64::MIN, i64::MAX, &mut v).unwrap();
    assert_eq!(v, vec![Sample::new(30 * D, 2.0)]);
}

/// Plans and applies maintenance for every shard until nothing is due at `now`.
fn drive(e: &Engine, now: i64, pol: &dyn Fn(&str) -> RetentionPolicy) -> MaintenanceOutcome {
    let plan_cfg = MaintenancePlanConfig {
        series_per_piece: 1,
        max_commands: 64,
        ..Default::default()
    };
    let mut total = MaintenanceOutcome::default();
    for shard in 0..e.shard_count() {
        for round in 0.. {
            assert!(
                round < 1_000,
                "maintenance of shard {shard} does not settle"
            );
            let plan = plan_maintenance(&e.rollup_state(shard).unwrap(), pol, now, &plan_cfg);
            if plan.is_empty() {
                break;
            }
            for cmd in plan {
                let i = e.applied_index(shard).unwrap() + 1;
                total.add(&e.maintain(shard, i, &cmd, None).unwrap());
            }
        }
    }
    total
}

#[test]
fn maintenance_follows_a_moving_clock_through_months() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = 100 * D;
    let clock = ManualClock::new(t0);
    let open = || Engine::open_with_clock(cfg(dir.path()), Arc::new(clock.clone())).unwrap();
    let mut e = open();
    let pol = |t: &str| -> RetentionPolicy {
        let p = RetentionPolicy {
            raw_ms: 2 * D,
            rollup_5m_ms: 4 * D,
            rollup_1h_ms: 8 * D,
        };
        match t {
            // A per-tenant override: raw for a day, hours forever.
            "ovr" => RetentionPolicy {
                raw_ms: D,
                rollup_1h_ms: 0,
                ..p
            },
            _ => p,
        }
    };
    let series: [(u32, &str, &str); 5] = [
        (0, "acme", "a"),
        (0, "acme", "b"),
        (0, "ovr", "a"),
        (0, "ovr", "b"),
        (1, "beta", "a"),
    ];
    let mut rng = StdRng::seed_from_u64(7);
    let mut saved_5m: Vec<Bucket> = Vec::new();
    let mut saved_1h: Vec<Bucket> = Vec::new();
    // Three days of data, an hour at a time, maintenance after each hour.
    for h in 0..72 {
        let from = clock.now_ms();
        for &(shard, tenant, host) in &series {
            let s: Vec<(i64, f64)> = (1..=120)
                .map(|i| (from + i * 30_000, rng.gen_range(0..1000) as f64 * 0.1))
                .collect();
            write(&e, shard, tenant, host, &s);
        }
        clock.advance(std::time::Duration::from_millis(H as u64));
        drive(&e, clock.now_ms(), &pol);
        if h == 3 {
            assert!(
                count_keys(&e, CF_ROLLUP_5M) > 0,
                "5-minute blocks after 3 hours"
            );
            assert_eq!(count_keys(&e, CF_ROLLUP_1H), 0);
        }
        if h == 27 {
            assert!(count_keys(&e, CF_ROLLUP_1H) > 0, "hour blocks after a day");
        }
        if h == 36 {
            // Raw still there: stitched buckets equal buckets from raw samples.
            check_all(&e, 0, &[0, 1, 2, 3], &[(i64::MIN, i64::MAX)], "hour 36");
            check_all(&e, 1, &[0], &[(i64::MIN, i64::MAX)], "hour 36");
            saved_5m = read(&e, 0, 0, Tier::Rollup5m, t0, t0 + D);
            saved_1h = read(&e, 0, 0, Tier::Rollup1h, t0, t0 + D);
            assert_eq!((saved_5m.len(), saved_1h.len()), (288, 24));
        }
        if h == 48 {
            // A restart in the middle comes back to the same state.
            e.flush_unreplicated().unwrap();
            let before: Vec<RollupState> = (0..4).map(|s| e.rollup_state(s).unwrap()).collect();
            let buckets = read(&e, 0, 2, Tier::Rollup5m, i64::MIN, i64::MAX);
            drop(e);
            e = open();
            let after: Vec<RollupState> = (0..4).map(|s| e.rollup_state(s).unwrap()).collect();
            assert_eq!(before, after);
            assert_eq!(
                key(&buckets),
                key(&read(&e, 0, 2, Tier::Rollup5m, i64::MIN, i64::MAX))
            );
        }
    }
    let end = clock.now_ms();
    assert_eq!(end, t0 + 3 * D);
    // Raw of "ovr" (kept a day) is gone up to the day before yesterday's end; "acme" keeps 2.
    assert_eq!(e.tier_bounds("ovr", &[0])[0], t0 + 2 * D);
    assert_eq!(e.tier_bounds("acme", &[0])[0], t0 + D);
    e.flush_unreplicated().unwrap();
    e.wait_for_compactions();
    e.flush_memtables().unwrap();
    let chunk_bytes = e.chunk_sst_bytes();
    assert!(chunk_bytes > 0);
    let dir_bytes = du(dir.path());

    // Days go by without data.
    let mut s = Vec::new();
    for d in 1..=12 {
        clock.advance(std::time::Duration::from_millis(D as u64));
        let now = clock.now_ms();
        drive(&e, now, &pol);
        if d == 1 {
            // Raw of the first day is gone; its 5-minute and hour buckets are not.
            e.read_samples(0, 0, t0, t0 + D, &mut s).unwrap();
            assert!(s.is_empty());
            assert_eq!(
                key(&read(&e, 0, 0, Tier::Rollup5m, t0, t0 + D)),
                key(&saved_5m)
            );
            assert_eq!(
                key(&read(&e, 0, 0, Tier::Rollup1h, t0, t0 + D)),
                key(&saved_1h)
            );
            // A write older than raw retention is refused.
            let o = e
                .apply_next(0, batch("acme", "a", "requests", &[(now - 3 * D, 1.0)]))
                .unwrap();
            assert_eq!(o.rejected_too_old, 1);
        }
        if d == 3 {
            // Every raw day has expired (acme keeps 2 days past the last sample at 3 d).
            e.read_samples(0, 0, i64::MIN, i64::MAX, &mut s).unwrap();
            assert!(s.is_empty());
            e.wait_for_compactions();
            e.flush_memtables().unwrap();
            let now_bytes = e.chunk_sst_bytes();
            assert!(
                now_bytes < chunk_bytes / 4,
                "chunks: {chunk_bytes} bytes before, {now_bytes} after"
            );
            // And the data dir itself shrank: the space came back to the disk.
            let now_dir = du(dir.path());
            assert!(
                now_dir < dir_bytes,
                "data dir: {dir_bytes} bytes before, {now_dir} after"
            );
        }
        if d == 5 {
            // 5-minute buckets of the first day expired (kept 4 days); hours remain.
            assert!(read(&e, 0, 0, Tier::Rollup5m, t0, t0 + D).is_empty());
            assert_eq!(
                key(&read(&e, 0, 0, Tier::Rollup1h, t0, t0 + D)),
                key(&saved_1h)
            );
        }
    }
    // Every tier of acme and beta expired: their series are gone; ovr keeps its hours.
    let all = [name("requests")];
    assert!(
        e.select("acme", &[0], &all, i64::MIN, i64::MAX)
            .unwrap()
            .is_empty()
    );
    assert!(
        e.select("beta", &[1], &all, i64::MIN, i64::MAX)
            .unwrap()
            .is_empty()
    );
    assert!(e.label_names("acme", &[0], &[], None).unwrap().is_empty());
    let ovr = e.select("ovr", &[0], &all, i64::MIN, i64::MAX).unwrap();
    assert_eq!(ovr.len(), 2);

    // A month later: still consistent, hours of "ovr" kept forever.
    clock.advance(std::time::Duration::from_millis(30 * D as u64));
    drive(&e, clock.now_ms(), &pol);
    let hours = read(&e, 0, ovr[0].sid, Tier::Rollup1h, i64::MIN, i64::MAX);
    assert_eq!(hours.len(), 72);
    assert!(read(&e, 0, ovr[0].sid, Tier::Rollup5m, i64::MIN, i64::MAX).is_empty());
    let st = e.rollup_state(0).unwrap();
    assert_eq!(st.tenants, vec!["ovr"]);
    assert!(st.rollup_5m.watermark.unwrap() > clock.now_ms() - 4 * H);
    e.flush_unreplicated().unwrap();
    drop(e);
    let e = open();
    assert_eq!(e.rollup_state(0).unwrap(), st);
}

/// Bytes of every file under `dir`, as `du -sb` counts them.
fn du(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() { du(&e.path()) } else { m.len() }
        })
        .sum()
}
