use super::*;
use crate::{STALE_NAN_BITS, Sample};

fn samples(vals: &[(i64, f64)]) -> Vec<Sample> {
    vals.iter().map(|&(t, v)| Sample::new(t, v)).collect()
}

/// Prometheus' reset-corrected increase: `last - first`, plus the value before each drop.
fn prom_increase(s: &[Sample]) -> f64 {
    let mut r = s.last().unwrap().v - s[0].v;
    for w in s.windows(2) {
        if w[1].v < w[0].v {
            r += w[0].v;
        }
    }
    r
}

#[test]
fn a_bucket_summarises_its_samples() {
    let s = samples(&[(1, 5.0), (2, 7.0), (3, 2.0), (4, 4.0)]);
    let b = Bucket::of_samples(4, &s);
    assert_eq!(b.count, 4);
    assert_eq!(b.sum, 18.0);
    assert_eq!((b.min, b.max), (2.0, 7.0));
    assert_eq!((b.first_t, b.first_v, b.last_t, b.last_v), (1, 5.0, 4, 4.0));
    assert_eq!(b.counter_increase(), prom_increase(&s));
    assert_eq!(b.stale_t, None);
}

#[test]
fn merging_any_split_equals_the_bucket_of_all_samples() {
    let mut rng = 0x9e3779b97f4a7c15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for _ in 0..500 {
        let n = (next() % 40) as usize + 1;
        let mut v = 0.0;
        let s: Vec<Sample> = (0..n)
            .map(|i| {
                // A counter with occasional resets.
                v = if next() % 7 == 0 {
                    (next() % 5) as f64
                } else {
                    v + (next() % 10) as f64
                };
                Sample::new(i as i64 * 10, v)
            })
            .collect();
        let whole = Bucket::of_samples(1_000, &s);
        let cut = (next() as usize) % (n + 1);
        let mut a = Bucket::of_samples(500, &s[..cut]);
        a.merge(&Bucket::of_samples(1_000, &s[cut..]));
        assert_eq!(a.count, whole.count);
        assert_eq!((a.min, a.max), (whole.min, whole.max));
        assert_eq!(
            (a.first_t, a.last_t, a.last_v),
            (whole.first_t, whole.last_t, whole.last_v)
        );
        assert!((a.sum - whole.sum).abs() < 1e-9);
        assert!(
            (a.counter_increase() - prom_increase(&s)).abs() < 1e-9,
            "{s:?}"
        );
        assert_eq!(a.end, 1_000);
    }
}

#[test]
fn stale_markers_do_not_count_but_a_final_one_is_kept() {
    let stale = f64::from_bits(STALE_NAN_BITS);
    let b = Bucket::of_samples(10, &samples(&[(1, 1.0), (2, stale)]));
    assert_eq!(b.count, 1);
    assert_eq!(b.stale_t, Some(2));
    let b = Bucket::of_samples(10, &samples(&[(1, stale), (2, 3.0)]));
    assert_eq!((b.count, b.stale_t, b.first_v), (1, None, 3.0));

    // Merging: the later bucket's final sample decides, unless it is empty.
    let mut a = Bucket::of_samples(10, &samples(&[(1, 1.0), (2, stale)]));
    a.merge(&Bucket::empty(20));
    assert_eq!((a.stale_t, a.end), (Some(2), 20));
    a.merge(&Bucket::of_samples(30, &samples(&[(25, 4.0)])));
    assert_eq!((a.stale_t, a.count, a.last_v), (None, 2, 4.0));
    let mut only_stale = Bucket::of_samples(10, &samples(&[(5, stale)]));
    only_stale.merge(&Bucket::of_samples(20, &samples(&[(15, 2.0)])));
    assert_eq!(
        (only_stale.count, only_stale.first_t, only_stale.stale_t),
        (1, 15, None)
    );
}

#[test]
fn nan_values_follow_prometheus_min_max() {
    let b = Bucket::of_samples(10, &samples(&[(1, f64::NAN), (2, 3.0)]));
    assert_eq!((b.min, b.max), (3.0, 3.0));
    let mut a = Bucket::of_samples(10, &samples(&[(1, f64::NAN)]));
    a.merge(&Bucket::of_samples(20, &samples(&[(12, 2.0)])));
    assert_eq!((a.min, a.max), (2.0, 2.0));
}

#[test]
fn bucket_ends_round_up_to_the_width() {
    assert_eq!(bucket_end(300_000, 300_000), 300_000);
    assert_eq!(bucket_end(300_001, 300_000), 600_000);
    assert_eq!(bucket_end(1, 300_000), 300_000);
    assert_eq!(bucket_end(0, 300_000), 0);
    assert_eq!(bucket_end(-1, 300_000), 0);
    assert_eq!(bucket_end(-300_000, 300_000), -300_000);
}

#[test]
fn hours_folded_from_five_minute_buckets_equal_hours_of_samples() {
    let s: Vec<Sample> = (0..2_000)
        .map(|i| Sample::new(i * 7_000 + 3, (i % 97) as f64))
        .collect();
    let (from, to) = (0, 4 * 3_600_000);
    let mut fine = Vec::new();
    buckets_of_samples(300_000, &s, from, to, &mut fine);
    let mut folded = Vec::new();
    merge_buckets(3_600_000, &fine, &mut folded);
    let mut direct = Vec::new();
    buckets_of_samples(3_600_000, &s, from, to, &mut direct);
    assert_eq!(folded.len(), direct.len());
    for (a, b) in folded.iter().zip(&direct) {
        assert_eq!(
            (a.end, a.count, a.first_t, a.last_t),
            (b.end, b.count, b.first_t, b.last_t)
        );
        assert!(
            (a.sum - b.sum).abs() < 1e-6
                && (a.counter_increase() - b.counter_increase()).abs() < 1e-6
        );
    }
    // Samples outside (from, to] are left out.
    let mut part = Vec::new();
    buckets_of_samples(300_000, &s, 300_000, 600_000, &mut part);
    assert_eq!(part.len(), 1);
    assert_eq!(part[0].end, 600_000);
    assert!(part[0].first_t > 300_000);
}

#[test]
fn a_nan_inside_a_counter_is_skipped_as_prometheus_skips_it() {
    let s = samples(&[(1, 1.0), (2, f64::NAN), (3, 5.0), (4, 2.0), (5, 4.0)]);
    let b = Bucket::of_samples(10, &s);
    assert_eq!(b.counter_increase(), prom_increase(&s));
    assert_eq!(b.counter_increase(), 4.0 - 1.0 + 5.0);
}

#[test]
fn an_hour_starting_with_a_stale_only_bucket_keeps_its_end() {
    // The first 5-minute bucket holds only a staleness marker, the second a sample: the
    // folded hour must still end on the hour (it once took the second bucket's end).
    let s = vec![
        Sample::new(60_000, f64::from_bits(crate::STALE_NAN_BITS)),
        Sample::new(400_000, 2.0),
    ];
    let mut fine = Vec::new();
    buckets_of_samples(300_000, &s, 0, 3_600_000, &mut fine);
    assert_eq!(fine.len(), 2);
    let mut hours = Vec::new();
    merge_buckets(3_600_000, &fine, &mut hours);
    let mut direct = Vec::new();
    buckets_of_samples(3_600_000, &s, 0, 3_600_000, &mut direct);
    assert_eq!(hours, direct);
    assert_eq!(hours[0].end, 3_600_000);
}
