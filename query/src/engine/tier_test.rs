//! Rollup reads against raw data: for random series and random aligned queries, what the
//! planner reads by itself equals what raw samples give; where it cannot be exact, the answer
//! is flagged and not empty.

use cairn_model::{Bucket, Matcher, Tier, buckets_of_samples, merge_buckets};

use super::*;
use crate::error::Result;
use crate::mem_querier::MemQuerier;
use crate::querier::{SeriesHandle, TierBounds};
use crate::value::Labels;

const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// Data starts here (a day boundary, so bucket alignment is the query's business).
const T0: i64 = 100 * DAY;
const DAYS: i64 = 3;

/// splitmix64: a seeded generator, so every failure is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn stale() -> f64 {
    f64::from_bits(cairn_model::STALE_NAN_BITS)
}

/// One series over `DAYS` days: scrapes 10–60 s apart, a few gaps that start with a
/// staleness marker; counters grow with resets, gauges wander and hold a few NaNs.
fn series(rng: &mut Rng, counter: bool) -> Vec<Sample> {
    let mut out = Vec::new();
    let mut t = T0 + rng.range(0, 60 * SEC);
    let mut v: f64 = if counter { 0.0 } else { 500.0 };
    while t < T0 + DAYS * DAY {
        let r = rng.unit();
        if r < 0.0005 {
            // The target disappears for a while.
            out.push(Sample::new(t, stale()));
            t += rng.range(10 * MIN, 3 * HOUR);
            continue;
        }
        if counter {
            if r < 0.002 {
                v = rng.range(0, 5) as f64;
            } else if r < 0.5 {
                v += rng.range(0, 20) as f64;
            } else {
                v += rng.unit() * 10.0;
            }
            // A rare NaN inside a counter: skipped by Prometheus' reset detection, and by the
            // bucket's `reset_sum` the same way.
            let value = if r > 0.9995 { f64::NAN } else { v };
            out.push(Sample::new(t, value));
        } else {
            v = (v + (rng.unit() - 0.5) * 20.0).clamp(100.0, 1000.0);
            let value = if r > 0.9995 { f64::NAN } else { v };
            out.push(Sample::new(t, value));
        }
        t += rng.range(10 * SEC, 60 * SEC);
    }
    out
}

/// Three gauges (`gauge`) and three counters (`c_total`).
fn data(seed: u64) -> Vec<(Labels, Vec<Sample>)> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    for (name, counter) in [("gauge", false), ("c_total", true)] {
        for i in 0..3 {
            let labels =
                Labels::from_pairs([("__name__", name.to_string()), ("i", i.to_string())]).unwrap();
            out.push((labels, series(&mut rng, counter)));
        }
    }
    out
}

fn mem(data: &[(Labels, Vec<Sample>)]) -> MemQuerier {
    let mut q = MemQuerier::new();
    for (l, s) in data {
        q.add(l.clone(), s);
    }
    q
}

/// A store whose raw samples expired before `raw_from`: `samples` answers only from there,
/// `buckets` from rollups built (before expiry) over all the data.
struct CutQuerier {
    series: Vec<(Labels, Vec<Sample>)>,
    b5m: Vec<Vec<Bucket>>,
    b1h: Vec<Vec<Bucket>>,
    raw_from: i64,
}

impl CutQuerier {
    fn new(data: &[(Labels, Vec<Sample>)], raw_from: i64) -> Self {
        let (mut b5m, mut b1h) = (Vec::new(), Vec::new());
        for (_, s) in data {
            let mut five = Vec::new();
            buckets_of_samples(
                Tier::Rollup5m.bucket_ms(),
                s,
                i64::MIN / 2,
                i64::MAX / 2,
                &mut five,
            );
            let mut hour = Vec::new();
            merge_buckets(Tier::Rollup1h.bucket_ms(), &five, &mut hour);
            b5m.push(five);
            b1h.push(hour);
        }
        CutQuerier {
            series: data.to_vec(),
            b5m,
            b1h,
            raw_from,
        }
    }
}

impl Querier for CutQuerier {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<SeriesHandle>> {
        let q = mem(&self.series);
        q.select(matchers, mint, maxt)
    }

    fn samples(&self, id: u64, mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<()> {
        out.clear();
        let s = &self.series[id as usize].1;
        let lo = mint.max(self.raw_from);
        out.extend(s.iter().filter(|s| s.t >= lo && s.t <= maxt));
        Ok(())
    }

    fn tier_bounds(&self) -> TierBounds {
        TierBounds {
            raw_from: self.raw_from,
            ..TierBounds::FOREVER
        }
    }

    fn buckets(
        &self,
        id: u64,
        tier: Tier,
        mint: i64,
        maxt: i64,
        out: &mut Vec<Bucket>,
    ) -> Result<()> {
        let stored = match tier {
            Tier::Rollup5m => &self.b5m[id as usize],
            _ => &self.b1h[id as usize],
        };
        out.clear();
        out.extend(stored.iter().filter(|b| b.end > mint && b.end <= maxt));
        Ok(())
    }
}

fn opts(resolution: Resolution) -> QueryOptions {
    QueryOptions { resolution }
}

const RAW: Resolution = Resolution::Tier(Tier::Raw);

/// Evaluates on `[start, end]` every `step` (an instant query when `step` is 0).
fn run(
    q: &dyn Querier,
    query: &str,
    start: i64,
    end: i64,
    step: i64,
    r: Resolution,
) -> QueryResult {
    let e = QueryEngine::new(QueryConfig::default());
    let expr = parse(query).unwrap();
    let res = if step == 0 {
        e.instant_expr_with(q, &expr, start, None, &opts(r))
    } else {
        e.range_expr_with(q, &expr, start, end, step, None, &opts(r))
    };
    res.unwrap_or_else(|err| panic!("{query}: {err}"))
}

/// Series and their points, sorted by labels, whatever the result's shape.
fn points(r: &QueryResult) -> Vec<(Labels, Vec<Sample>)> {
    let mut out: Vec<(Labels, Vec<Sample>)> = match &r.value {
        QueryValue::Matrix(m) => m
            .iter()
            .map(|s| (s.labels.clone(), s.samples.clone()))
            .collect(),
        QueryValue::Vector(v) => v
            .iter()
            .map(|e| (e.labels.clone(), vec![e.sample]))
            .collect(),
        other => panic!("unexpected {other:?}"),
    };
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Asserts the same series at the same timestamps with values within 1e-9 (relative).
fn assert_same(what: &str, got: &QueryResult, want: &QueryResult) {
    let (g, w) = (points(got), points(want));
    assert_eq!(
        g.iter().map(|s| &s.0).collect::<Vec<_>>(),
        w.iter().map(|s| &s.0).collect::<Vec<_>>(),
        "{what}: series differ"
    );
    for ((labels, gs), (_, ws)) in g.iter().zip(&w) {
        let gt: Vec<i64> = gs.iter().map(|s| s.t).collect();
        let wt: Vec<i64> = ws.iter().map(|s| s.t).collect();
        assert_eq!(gt, wt, "{what} {labels:?}: timestamps differ");
        for (a, b) in gs.iter().zip(ws) {
            assert!(
                close(a.v, b.v),
                "{what} {labels:?} at {}: {} vs raw {}",
                a.t,
                a.v,
                b.v
            );
        }
    }
}

const EXACT_ON_GAUGES: [&str; 8] = [
    "sum_over_time",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "count_over_time",
    "last_over_time",
    "present_over_time",
    "delta",
];
const ON_COUNTERS: [&str; 3] = ["rate", "increase", "count_over_time"];
const SELECTORS: [&str; 6] = [
    "gauge",
    "sum(gauge)",
    "avg(c_total)",
    "min(gauge)",
    "max(c_total)",
    "count(gauge)",
];

/// Random exact queries: the function, the grid (start, end, step; step 0 = instant) and the
/// bucket width everything is a multiple of.
fn random_query(rng: &mut Rng) -> (String, i64, i64, i64) {
    let w = if rng.range(0, 1) == 0 { 5 * MIN } else { HOUR };
    let range = w * rng.range(1, 30);
    let step = if rng.range(0, 4) == 0 {
        0
    } else {
        w * rng.range(1, 12)
    };
    let start = T0 + w * rng.range(0, (DAYS * DAY - DAY) / w);
    let end = if step == 0 {
        start
    } else {
        (start + step * rng.range(0, 200)).min(T0 + DAYS * DAY + HOUR)
    };
    let query = match rng.range(0, 2) {
        0 => format!(
            "{}(gauge[{}s])",
            EXACT_ON_GAUGES[rng.range(0, 7) as usize],
            range / SEC
        ),
        1 => format!(
            "{}(c_total[{}s])",
            ON_COUNTERS[rng.range(0, 2) as usize],
            range / SEC
        ),
        _ => SELECTORS[rng.range(0, 5) as usize].to_string(),
    };
    (query, start, end, step)
}

#[test]
fn rollups_answer_aligned_queries_exactly() {
    let data = data(7);
    let q = mem(&data);
    let mut rng = Rng(42);
    let mut by_tier = [0; 3];
    for _ in 0..120 {
        let (query, start, end, step) = random_query(&mut rng);
        let what = format!("{query} on [{start}, {end}] step {step}");
        let auto = run(&q, &query, start, end, step, Resolution::Auto);
        let raw = run(&q, &query, start, end, step, RAW);
        assert_same(&what, &auto, &raw);
        assert!(!auto.stats.approximate, "{what}");
        assert_eq!(raw.stats.tiers, vec![Tier::Raw], "{what}");
        for t in &auto.stats.tiers {
            by_tier[*t as usize] += 1;
        }
    }
    // Most of these read rollups (an instant selector query or a short range at an instant
    // reads raw).
    assert!(by_tier[1] > 20 && by_tier[2] > 10, "{by_tier:?}");
}

#[test]
fn every_exact_function_reads_the_coarsest_aligned_tier() {
    let data = data(11);
    let q = mem(&data);
    let (start, end) = (T0 + DAY, T0 + 2 * DAY);
    for f in EXACT_ON_GAUGES {
        for (step, range, tier) in [
            (5 * MIN, "10m", Tier::Rollup5m),
            (HOUR, "3h", Tier::Rollup1h),
        ] {
            let query = format!("{f}(gauge[{range}])");
            let auto = run(&q, &query, start, end, step, Resolution::Auto);
            assert_same(&query, &auto, &run(&q, &query, start, end, step, RAW));
            assert_eq!(auto.stats.tiers, vec![tier], "{query}");
            assert_eq!(auto.stats.tier_names(), vec![tier.resolution()]);
        }
    }
    for f in ON_COUNTERS {
        let query = format!("{f}(c_total[1h])");
        let auto = run(&q, &query, start, end, HOUR, Resolution::Auto);
        assert_same(&query, &auto, &run(&q, &query, start, end, HOUR, RAW));
        assert_eq!(auto.stats.tiers, vec![Tier::Rollup1h], "{query}");
    }
    // An instant query over a long range reads 1 h buckets.
    let query = "avg_over_time(gauge[2d])";
    let auto = run(&q, query, T0 + 2 * DAY, 0, 0, Resolution::Auto);
    assert_same(query, &auto, &run(&q, query, T0 + 2 * DAY, 0, 0, RAW));
    assert_eq!(auto.stats.tiers, vec![Tier::Rollup1h]);
    assert!(auto.stats.samples_loaded > 0);
}

#[test]
fn aggregations_of_bare_selectors_read_the_last_sample_not_the_sum() {
    let data = data(3);
    let q = mem(&data);
    let (start, end) = (T0 + HOUR, T0 + 3 * DAY);
    for query in [
        "sum(gauge)",
        "sum(c_total)",
        "count(gauge)",
        "max(gauge)",
        "timestamp(c_total)",
    ] {
        let auto = run(&q, query, start, end, HOUR, Resolution::Auto);
        assert_same(query, &auto, &run(&q, query, start, end, HOUR, RAW));
        assert_eq!(auto.stats.tiers, vec![Tier::Rollup1h], "{query}");
    }
}

#[test]
fn unaligned_queries_read_a_finer_tier_and_still_equal_raw() {
    let data = data(5);
    let q = mem(&data);
    for (start, want) in [
        (T0 + DAY + 10 * MIN, Tier::Rollup5m),
        (T0 + DAY + 17 * SEC, Tier::Raw),
    ] {
        for query in [
            "rate(c_total[1h])",
            "sum(gauge)",
            "max_over_time(gauge[2h])",
        ] {
            let auto = run(&q, query, start, start + DAY, HOUR, Resolution::Auto);
            assert_same(query, &auto, &run(&q, query, start, start + DAY, HOUR, RAW));
            assert_eq!(auto.stats.tiers, vec![want], "{query} from {start}");
        }
    }
}

#[test]
fn a_window_narrower_than_the_step_is_answered() {
    let data = data(9);
    let q = mem(&data);
    let query = "rate(c_total[5m])";
    let (start, end) = (T0 + DAY, T0 + 2 * DAY);
    let auto = run(&q, query, start, end, HOUR, Resolution::Auto);
    assert!(!points(&auto).is_empty());
    assert_same(query, &auto, &run(&q, query, start, end, HOUR, RAW));
    assert_eq!(auto.stats.tiers, vec![Tier::Rollup5m]);
    // Forced to 1 h buckets, each 5 m window grows to the hour before the step: values,
    // flagged approximate.
    let forced = run(
        &q,
        query,
        start,
        end,
        HOUR,
        Resolution::Tier(Tier::Rollup1h),
    );
    assert!(!points(&forced).is_empty());
    assert!(forced.stats.approximate);
    assert_eq!(
        forced.infos,
        vec!["PromQL info: rate was computed from 1h rollups, its windows rounded to whole 1h buckets".to_string()]
    );
}

#[test]
fn queries_crossing_raw_retention_equal_the_uncut_raw_data() {
    let data = data(13);
    let full = mem(&data);
    let raw_from = T0 + DAY + 7 * MIN + 123;
    let cut = CutQuerier::new(&data, raw_from);
    let (start, end) = (T0 + 6 * HOUR, T0 + 2 * DAY);
    let mut queries: Vec<String> = SELECTORS.iter().map(|s| s.to_string()).collect();
    queries.extend(EXACT_ON_GAUGES.iter().map(|f| format!("{f}(gauge[1h])")));
    queries.extend(ON_COUNTERS.iter().map(|f| format!("{f}(c_total[30m])")));
    for query in &queries {
        for step in [5 * MIN, HOUR] {
            let got = run(&cut, query, start, end, step, Resolution::Auto);
            assert_same(query, &got, &run(&full, query, start, end, step, RAW));
            assert!(!got.stats.approximate && !got.stats.tiers.contains(&Tier::Raw));
        }
    }
    // After raw_from, raw still answers a short-range query at a fine step.
    let got = run(
        &cut,
        "rate(c_total[1m])",
        raw_from + HOUR,
        end,
        30 * SEC,
        Resolution::Auto,
    );
    assert_same(
        "late rate",
        &got,
        &run(
            &full,
            "rate(c_total[1m])",
            raw_from + HOUR,
            end,
            30 * SEC,
            RAW,
        ),
    );
    assert_eq!(got.stats.tiers, vec![Tier::Raw]);
}

#[test]
fn approximate_answers_past_raw_retention_are_flagged_and_not_empty() {
    let data = data(17);
    let full = mem(&data);
    let raw_from = T0 + DAY;
    let cut = CutQuerier::new(&data, raw_from);
    let (start, end) = (T0 + 12 * HOUR, T0 + 36 * HOUR);
    // A function rollups cannot answer: one sample per 5 m bucket.
    let q = "quantile_over_time(0.9, gauge[1h])";
    let got = run(&cut, q, start, end, 10 * MIN, Resolution::Auto);
    assert!(got.stats.approximate);
    assert_eq!(got.stats.tiers, vec![Tier::Rollup5m]);
    assert!(
        got.infos.contains(&"PromQL info: quantile_over_time over data older than raw retention was computed from 5m rollups".to_string()),
        "{:?}",
        got.infos
    );
    let pts = points(&got);
    assert_eq!(pts.len(), 3);
    assert!(pts.iter().all(|(_, s)| s.len() > 100));
    // Unaligned steps over a range past raw_from: windows snapped to 5 m buckets, the same
    // numbers as snapping the uncut data, so nothing is counted twice at raw_from.
    for q in [
        "count_over_time(gauge[1h])",
        "increase(c_total[1h])",
        "sum(gauge)",
    ] {
        let got = run(&cut, q, start, end, 7 * MIN, Resolution::Auto);
        assert!(got.stats.approximate, "{q}");
        assert_eq!(got.stats.tiers, vec![Tier::Rollup5m], "{q}");
        assert!(!points(&got).is_empty());
        let snapped = run(
            &full,
            q,
            start,
            end,
            7 * MIN,
            Resolution::Tier(Tier::Rollup5m),
        );
        assert_same(q, &got, &snapped);
    }
}

#[test]
fn buckets_count_against_max_samples() {
    let data = data(19);
    let q = mem(&data);
    let mut cfg = QueryConfig::default();
    let expr = parse("sum_over_time(gauge[1h])").unwrap();
    let auto = QueryOptions::default();
    let e = QueryEngine::new(cfg.clone());
    let r = e
        .range_expr_with(&q, &expr, T0 + DAY, T0 + 2 * DAY, HOUR, None, &auto)
        .unwrap();
    assert_eq!(r.stats.tiers, vec![Tier::Rollup1h]);
    // Three series, at most 25 hourly buckets each (fewer where a series was gone for a
    // while): far fewer than their raw samples.
    let loaded = r.stats.samples_loaded;
    assert!(loaded > 60 && loaded <= 75, "{loaded}");
    cfg.max_samples = loaded - 1;
    let e = QueryEngine::new(cfg);
    let err = e.range_expr_with(&q, &expr, T0 + DAY, T0 + 2 * DAY, HOUR, None, &auto);
    assert!(matches!(
        err,
        Err(Error::Limit {
            limit: "max_samples",
            ..
        })
    ));
}
