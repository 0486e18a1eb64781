use super::*;
use crate::sample::Sample;
use crate::tenant::Tenant;

#[test]
fn a_repeated_label_set_gives_the_same_group_and_shard() {
    let mut b = WriteBatchBuilder::sharded(Tenant::default_tenant(), vec![3, 5, 7, 9]);
    // The same tags in another order and with an empty one are the same label set; a bad
    // set in between is refused and leaves the next one unaffected.
    b.begin_group([("host", "a"), ("dc", "eu")]).unwrap();
    b.add("m", 1, 1.0);
    assert!(b.begin_group([("x", "1"), ("x", "2")]).is_err());
    b.begin_group([("host", "a"), ("dc", "eu"), ("rack", "")])
        .unwrap();
    b.add("m", 2, 2.0);
    b.begin_group([("host", "a"), ("dc", "eu")]).unwrap();
    b.add("m", 3, 3.0);
    b.begin_group([("dc", "eu"), ("host", "a")]).unwrap();
    b.add("m", 4, 4.0);
    let parts = b.finish_sharded();
    assert_eq!(parts.len(), 1, "one label set, one shard");
    let d = parts[0].1.decode().unwrap();
    let sets: Vec<Vec<(&str, &str)>> = d
        .groups
        .iter()
        .filter(|g| !g.items.is_empty())
        .map(|g| {
            d.labels_of(g)
                .iter()
                .map(|&(n, v)| (d.str(n), d.str(v)))
                .collect()
        })
        .collect();
    // The first three are the same tags once empty ones are dropped: one group. The last
    // spells the set in another order: a group of its own, with the same labels.
    assert_eq!(sets.len(), 2);
    assert!(sets.iter().all(|s| *s == [("dc", "eu"), ("host", "a")]));
    let ts: Vec<i64> = d
        .groups
        .iter()
        .flat_map(|g| {
            d.items_of(g)
                .iter()
                .flat_map(|i| d.samples_of(i).iter().map(|s| s.t))
        })
        .collect();
    assert_eq!(ts, [1, 2, 3, 4]);
    assert_eq!(tenant_of(parts[0].1.as_bytes()), Some("default"));
    assert_eq!(tenant_of(&parts[0].1.as_bytes()[..3]), None);
    assert_eq!(tenant_of(b"\x09\x01a"), None);
}

#[test]
fn fields_in_any_order_and_many_metrics_still_merge_per_series() {
    let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
    // Field order changes from line to line, and one label set carries 2,000 metrics.
    let orders: [&[&str]; 3] = [&["a", "b", "c"], &["c", "a", "b"], &["b", "d", "a"]];
    for (t, order) in orders.iter().enumerate() {
        b.begin_group([("host", "x")]).unwrap();
        for f in *order {
            b.add(f, t as i64, t as f64);
        }
    }
    b.begin_group([("job", "j")]).unwrap();
    for i in 0..2000 {
        b.add(&format!("m{i}"), 1, i as f64);
    }
    b.begin_group([("job", "j")]).unwrap();
    b.add("m1999", 2, 0.5);
    let wb = b.finish();
    let d = wb.decode().unwrap();
    let series = |g: &Group| -> Vec<(String, Vec<i64>)> {
        d.items_of(g)
            .iter()
            .map(|i| {
                let ts = d.samples_of(i).iter().map(|s| s.t).collect();
                (d.str(i.name).to_string(), ts)
            })
            .collect()
    };
    let host = series(&d.groups[0]);
    let want: Vec<(String, Vec<i64>)> = vec![
        ("a".into(), vec![0, 1, 2]),
        ("b".into(), vec![0, 1, 2]),
        ("c".into(), vec![0, 1]),
        ("d".into(), vec![2]),
    ];
    assert_eq!(host, want);
    let job = series(&d.groups[1]);
    assert_eq!(job.len(), 2000);
    assert_eq!(job[1999], ("m1999".to_string(), vec![1, 2]));
    assert_eq!(job[7], ("m7".to_string(), vec![1]));
}

#[test]
fn lines_of_one_request_merge_into_one_item_per_series() {
    let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
    // Line protocol order: per timestamp, per host, the same fields.
    for t in 0..3 {
        for host in ["a", "b"] {
            b.begin_group([("host", host)]).unwrap();
            b.add("cpu", t * 10, t as f64);
            b.add("mem", t * 10, -(t as f64));
        }
    }
    // A bad line's samples are taken back, the rest of its group stays.
    b.begin_group([("host", "a")]).unwrap();
    b.add("cpu", 99, 9.9);
    b.add("disk", 99, 9.9);
    b.abandon_group();
    assert_eq!(b.sample_count(), 12);
    let wb = b.finish();
    let d = wb.decode().unwrap();
    assert_eq!(d.groups.len(), 2);
    let mut got = Vec::new();
    for g in &d.groups {
        let host = d.str(d.labels_of(g)[0].1);
        for item in d.items_of(g) {
            let ts: Vec<(i64, f64)> = d.samples_of(item).iter().map(|s| (s.t, s.v)).collect();
            got.push((host, d.str(item.name), ts));
        }
    }
    let cpu = vec![(0, 0.0), (10, 1.0), (20, 2.0)];
    let mem = vec![(0, -0.0), (10, -1.0), (20, -2.0)];
    assert_eq!(
        got,
        [
            ("a", "cpu", cpu.clone()),
            ("a", "mem", mem.clone()),
            ("a", "disk", vec![]),
            ("b", "cpu", cpu),
            ("b", "mem", mem),
        ]
    );
    assert_eq!(wb.min_t(), 0);
}

#[test]
fn round_trip_groups_items_and_samples() {
    let mut b = WriteBatchBuilder::new(Tenant::new("acme").unwrap());
    b.begin_group([("host", "a"), ("dc", "eu"), ("empty", "")])
        .unwrap();
    b.add("cpu_user", 1000, 1.5);
    b.add(
        "cpu_system",
        1000,
        f64::from_bits(crate::sample::STALE_NAN_BITS),
    );
    b.begin_group([("host", "b")]).unwrap();
    b.add_series("up", [Sample::new(-5, 1.0), Sample::new(7, 0.0)]);
    let wb = b.finish();
    assert_eq!(wb.sample_count(), 4);
    let d = wb.decode().unwrap();
    assert_eq!(d.tenant, "acme");
    assert_eq!(d.groups.len(), 2);
    let g = &d.groups[0];
    let names: Vec<&str> = d.labels_of(g).iter().map(|l| d.str(l.0)).collect();
    assert_eq!(names, ["dc", "host"]);
    assert_eq!(d.str(d.items_of(g)[1].name), "cpu_system");
    assert!(crate::sample::is_stale_marker(
        d.samples_of(&d.items_of(g)[1])[0].v
    ));
    let s = d.samples_of(&d.items_of(&d.groups[1])[0]);
    assert_eq!(s, &[Sample::new(-5, 1.0), Sample::new(7, 0.0)]);
    assert_eq!(d.sample_count(), 4);
}

/// Every value keeps its exact bits, whichever way its item is stored: decimal items
/// (one scale, raised by a later value), raw items (NaN, stale marker, -0.0, a float with
/// no short decimal form, infinities), and times that go back, jump and repeat their step.
#[test]
fn values_and_times_round_trip_bit_for_bit_in_decimal_and_raw_items() {
    let series: Vec<Vec<Sample>> = vec![
        // Decimal at scale 2, then 3 (the item is stored at 3).
        vec![
            Sample::new(10_000, 12.5),
            Sample::new(20_000, 12.25),
            Sample::new(30_000, 0.125),
        ],
        // Integers, negative, large, and a regular then irregular step.
        vec![
            Sample::new(-90_000, -3.0),
            Sample::new(-80_000, 9_007_199_254_740_000.0),
            Sample::new(-70_000, 0.0),
            Sample::new(1_700_000_000_000, 1e-15),
        ],
        // Raw: each of these has no exact short decimal.
        vec![
            Sample::new(5, 0.1 + 0.2),
            Sample::new(6, f64::from_bits(crate::sample::STALE_NAN_BITS)),
            Sample::new(7, -0.0),
            Sample::new(8, f64::INFINITY),
            Sample::new(9, f64::NAN),
            Sample::new(10, std::f64::consts::PI),
        ],
        // Extreme timestamps: the deltas wrap and still come back exact.
        vec![Sample::new(i64::MIN, 1.0), Sample::new(i64::MAX, 2.0)],
    ];
    let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
    b.begin_group([("job", "x")]).unwrap();
    for (i, s) in series.iter().enumerate() {
        b.add_series(&format!("m{i}"), s.iter().copied());
    }
    let wb = b.finish();
    let d = wb.decode().unwrap();
    let items = d.items_of(&d.groups[0]);
    assert_eq!(items.len(), series.len());
    for (item, want) in items.iter().zip(&series) {
        let got = d.samples_of(item);
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert_eq!((g.t, g.v.to_bits()), (w.t, w.v.to_bits()), "{w:?}");
        }
    }
}

/// The reason for version 2: a regular 2-decimal gauge costs ~3.5 bytes per sample
/// (1 of time, 2 of value change, the item's share), where version 1 took 11.
#[test]
fn a_regular_two_decimal_gauge_takes_under_four_bytes_per_sample() {
    let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
    let mut v = 5_000i64; // hundredths
    for host in 0..100 {
        b.begin_group([("host", format!("h{host}").as_str())])
            .unwrap();
        for f in 0..10 {
            let samples: Vec<Sample> = (0..10)
                .map(|i| {
                    v = (v + (i * 37 + f * 11) % 201 - 100).clamp(0, 10_000);
                    Sample::new(1_700_000_000_000 + i * 10_000, v as f64 / 100.0)
                })
                .collect();
            b.add_series(&format!("usage_{f}"), samples);
        }
    }
    let wb = b.finish();
    let per_sample = wb.as_bytes().len() as f64 / 10_000.0;
    assert!(per_sample < 4.0, "{per_sample} bytes per sample");
    assert_eq!(wb.decode().unwrap().sample_count(), 10_000);
}

/// Version 1 (before Raft; no release shipped it) is refused like any unknown version.
#[test]
fn other_versions_are_refused() {
    let mut b = vec![1u8, 4];
    b.extend_from_slice(b"acme");
    b.extend_from_slice(&[0, 0]);
    assert_eq!(tenant_of(&b), None);
    let e = DecodedBatch::decode(&b).unwrap_err().to_string();
    assert!(e.contains("unknown write batch version 1"), "{e}");
}

/// The bytes of version 2 are pinned: a change to the format that still round-trips (a new
/// time or value coding) fails here, and must come with a new version and a note in
/// `storage/docs/format/wal.md`.
#[test]
fn version_two_bytes_are_pinned() {
    let mut b = WriteBatchBuilder::new(Tenant::new("acme").unwrap());
    b.begin_group([("host", "a"), ("dc", "eu")]).unwrap();
    b.add_series(
        "cpu",
        [
            Sample::new(1_000, 1.5),
            Sample::new(11_000, 2.25),
            Sample::new(21_000, -0.5),
        ],
    );
    b.add_series("up", [Sample::new(1_000, f64::NAN)]);
    b.begin_group([("host", "b")]).unwrap();
    b.add("cpu", 1_000, 7.0);
    let bytes = b.finish().into_bytes();
    #[rustfmt::skip]
    let expected: &[u8] = &[
        2, 4, b'a', b'c', b'm', b'e',           // version, tenant
        5,                                      // samples
        7,                                      // strings: host a dc eu cpu up b
        4, b'h', b'o', b's', b't', 1, b'a', 2, b'd', b'c', 2, b'e', b'u',
        3, b'c', b'p', b'u', 2, b'u', b'p', 1, b'b',
        2,                                      // groups
        2, 2, 3, 0, 1,                          // labels dc=eu host=a (sorted by name)
        2,                                      // items
        4, 3, 2,                                // cpu: 3 samples at scale 2
        0xd0, 0x0f, 0xac, 0x02,                 // t +1000, m 150
        0xa0, 0x9c, 0x01, 0x96, 0x01,           // dt 10000, m +75
        0, 0xa5, 0x04,                          // dt +0, m -275
        5, 1, 0xff,                             // up: 1 raw sample
        0xbf, 0xb8, 0x02,                       // t -20000
        0, 0, 0, 0, 0, 0, 0xf8, 0x7f,           // NaN
        1, 0, 6,                                // labels host=b
        1, 4, 1, 0,                             // cpu: 1 sample at scale 0
        0, 14,                                  // t +0, m 7
    ];
    assert_eq!(bytes, expected, "{bytes:?}");
    let d = DecodedBatch::decode(&bytes).unwrap();
    assert_eq!(d.sample_count(), 5);
}

/// A wrong sample count in the header or a values byte that is neither a scale nor raw is
/// corruption, reported as such.
#[test]
fn a_wrong_sample_count_or_values_byte_is_corrupt() {
    let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
    b.begin_group([("a", "1")]).unwrap();
    b.add_series("m", [Sample::new(1, 1.5), Sample::new(2, 2.5)]);
    let bytes = b.finish().into_bytes();
    // version, tenant "default" (1 + 7 bytes), then the count.
    assert_eq!(bytes[9], 2);
    let mut wrong_count = bytes.clone();
    wrong_count[9] = 3;
    assert!(DecodedBatch::decode(&wrong_count).is_err());
    // The values byte comes before the two samples' four one-byte varints; scale 1 here.
    let at = bytes.len() - 5;
    assert_eq!(bytes[at], 1);
    let mut wrong_values = bytes.clone();
    wrong_values[at] = 16;
    let e = DecodedBatch::decode(&wrong_values).unwrap_err().to_string();
    assert!(e.contains("values byte 16"), "{e}");
}

#[test]
fn duplicate_and_reserved_label_names_are_rejected() {
    let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
    assert!(b.begin_group([("a", "1"), ("a", "2")]).is_err());
    assert!(b.begin_group([("__name__", "x")]).is_err());
}

#[test]
fn truncated_bytes_are_an_error_not_a_panic() {
    let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
    b.begin_group([("a", "1")]).unwrap();
    b.add("m", 1, 1.0);
    let bytes = b.finish().into_bytes();
    for cut in 0..bytes.len() {
        assert!(DecodedBatch::decode(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn sharded_builder_splits_groups_by_label_set_and_keeps_lines_together() {
    let mut b = WriteBatchBuilder::sharded(Tenant::default_tenant(), vec![3, 7, 9]);
    for h in 0..50 {
        let host = format!("h{h}");
        b.begin_group([("host", host.as_str())]).unwrap();
        b.add("cpu_user", 1_700_000_000_000, h as f64);
        b.add("cpu_system", 1_700_000_000_000, h as f64);
    }
    let parts = b.finish_sharded();
    assert!(
        parts.len() > 1,
        "50 hosts over 3 shards land on more than one"
    );
    let mut total = 0;
    for (shard, wb) in &parts {
        assert!([3, 7, 9].contains(shard));
        let d = wb.decode().unwrap();
        for g in &d.groups {
            assert_eq!(g.items.len(), 2, "both fields of a line stay in one shard");
        }
        total += d.sample_count();
        assert_eq!(wb.sample_count(), d.sample_count());
    }
    assert_eq!(total, 100);
    // Timestamps survive the split (deltas chain within each shard's batch).
    for (_, wb) in &parts {
        let d = wb.decode().unwrap();
        assert!(
            d.groups
                .iter()
                .flat_map(|g| d.items_of(g))
                .all(|i| d.samples_of(i)[0].t == 1_700_000_000_000)
        );
    }
    // The same label set always goes to the same shard.
    let route = |host: &str| {
        let mut b = WriteBatchBuilder::sharded(Tenant::default_tenant(), vec![3, 7, 9]);
        b.begin_group([("host", host)]).unwrap();
        b.add("m", 1, 1.0);
        b.finish_sharded()[0].0
    };
    assert_eq!(route("h1"), route("h1"));
}

#[test]
fn abandoned_group_keeps_no_samples() {
    let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
    b.begin_group([("a", "1")]).unwrap();
    b.add("m", 1, 1.0);
    b.abandon_group();
    b.begin_group([("a", "2")]).unwrap();
    b.add("m", 2, 2.0);
    let wb = b.finish();
    assert_eq!(wb.sample_count(), 1);
    let d = wb.decode().unwrap();
    assert_eq!(d.sample_count(), 1);
    assert_eq!(
        d.samples_of(&d.items_of(&d.groups[1])[0])[0],
        Sample::new(2, 2.0)
    );
}

#[test]
fn samples_at_or_before_the_retention_cut_are_left_out_and_counted() {
    let mut b = WriteBatchBuilder::new(Tenant::new("t").unwrap());
    b.reject_at_or_before(1_000);
    b.begin_group([("host", "a")]).unwrap();
    b.add_series(
        "cpu",
        [500, 1_000, 1_001, 2_000].map(|t| Sample::new(t, 1.0)),
    );
    assert_eq!(b.expired(), 2);
    assert_eq!(b.sample_count(), 2);
    let batch = b.finish();
    assert_eq!(batch.min_t(), 1_001);
    assert_eq!(batch.sample_count(), 2);
}
