use super::*;
use crate::value::{Labels, Sample};
use cairn_model::STALE_NAN_BITS;

fn span(first: i64, last: i64) -> Span {
    Span { first, last }
}

fn labels(job: &str) -> Labels {
    Labels::from_pairs([("job", job)]).unwrap()
}

/// A series with points at `ts` whose value is the timestamp.
fn series(job: &str, ts: impl IntoIterator<Item = i64>) -> Series {
    Series::new(
        labels(job),
        ts.into_iter().map(|t| Sample::new(t, t as f64)).collect(),
    )
}

fn times(s: &Series) -> Vec<i64> {
    s.samples.iter().map(|p| p.t).collect()
}

fn cache(max_bytes: u64) -> ResultCache {
    let cfg = QueryCacheConfig {
        min_age_ms: 600_000,
        max_bytes,
    };
    ResultCache::new(cfg, 100, Arc::new(CacheCounters::default()))
}

#[test]
fn without_a_usable_entry_everything_is_evaluated() {
    let whole = Plan {
        cached: None,
        evaluate: Some(span(100, 200)),
    };
    assert_eq!(plan(None, 100, 200, 10), whole);
    // The request starts before the entry, or after a gap past its end.
    assert_eq!(plan(Some(span(110, 150)), 100, 200, 10), whole);
    assert_eq!(plan(Some(span(50, 80)), 100, 200, 10), whole);
}

#[test]
fn the_entry_serves_its_steps_and_the_tail_is_evaluated() {
    // Inside: cached [120, 150], evaluate from the step after the entry.
    assert_eq!(
        plan(Some(span(100, 150)), 120, 200, 10),
        Plan {
            cached: Some(span(120, 150)),
            evaluate: Some(span(160, 200)),
        }
    );
    // Entirely inside: nothing to evaluate.
    assert_eq!(
        plan(Some(span(100, 150)), 110, 140, 10),
        Plan {
            cached: Some(span(110, 140)),
            evaluate: None,
        }
    );
    // Starting right after the entry: nothing cached, but contiguous.
    assert_eq!(
        plan(Some(span(100, 150)), 160, 200, 10),
        Plan {
            cached: None,
            evaluate: Some(span(160, 200)),
        }
    );
    // An end off the grid: the entry's last step is the request's last.
    assert_eq!(
        plan(Some(span(100, 150)), 100, 155, 10),
        Plan {
            cached: Some(span(100, 150)),
            evaluate: None,
        }
    );
}

#[test]
fn only_steps_older_than_min_age_are_stored() {
    // safe_until 175 on grid 100 + 10k: steps up to 170.
    assert_eq!(
        store_span(None, 100, 200, 10, 175, 100),
        Some(span(100, 170))
    );
    assert_eq!(store_span(None, 100, 200, 10, 99, 100), None);
    assert_eq!(
        store_span(None, 100, 200, 10, 1_000, 100),
        Some(span(100, 200))
    );
    // The grid is the request's: start 105, step 10.
    assert_eq!(
        store_span(None, 105, 200, 10, 1_000, 100),
        Some(span(105, 195))
    );
}

#[test]
fn a_contiguous_entry_is_extended_and_capped() {
    assert_eq!(
        store_span(Some(span(0, 150)), 100, 300, 10, 250, 100),
        Some(span(0, 250))
    );
    assert_eq!(
        store_span(Some(span(0, 150)), 160, 300, 10, 250, 100),
        Some(span(0, 250))
    );
    // Not contiguous: replaced.
    assert_eq!(
        store_span(Some(span(0, 150)), 170, 300, 10, 250, 100),
        Some(span(170, 250))
    );
    // Over 10 steps: the steps before the request's start go first...
    assert_eq!(
        store_span(Some(span(0, 150)), 100, 190, 10, 1_000, 10),
        Some(span(100, 190))
    );
    // ...then the request's oldest.
    assert_eq!(
        store_span(Some(span(0, 150)), 100, 300, 10, 1_000, 10),
        Some(span(210, 300))
    );
    // An entry already past this request's safe steps keeps its end.
    assert_eq!(
        store_span(Some(span(0, 200)), 100, 300, 10, 150, 100),
        Some(span(0, 200))
    );
}

#[test]
fn merge_joins_series_by_labels_and_keeps_their_order() {
    let cached = vec![
        series("a", [100, 110]),
        series("b", [100]),
        series("d", [110]),
    ];
    let tail = vec![
        series("a", [120, 130]),
        series("c", [130]),
        series("d", [120]),
    ];
    let m = merge(cached, tail);
    let jobs: Vec<&str> = m
        .iter()
        .map(|s| s.labels.iter().next().unwrap().value.as_str())
        .collect();
    assert_eq!(jobs, ["a", "b", "c", "d"]);
    assert_eq!(times(&m[0]), [100, 110, 120, 130]);
    assert_eq!(times(&m[1]), [100], "only in the cached part");
    assert_eq!(times(&m[2]), [130], "only in the tail");
    assert_eq!(times(&m[3]), [110, 120]);
    assert!(merge(Vec::new(), Vec::new()).is_empty());
}

#[test]
fn merge_and_slice_keep_nan_bits() {
    let stale = f64::from_bits(STALE_NAN_BITS);
    let a = Series::new(
        labels("a"),
        vec![Sample::new(0, f64::NAN), Sample::new(10, 1.0)],
    );
    let b = Series::new(labels("a"), vec![Sample::new(20, stale)]);
    let m = merge(vec![a], vec![b]);
    let bits: Vec<u64> = m[0].samples.iter().map(|p| p.v.to_bits()).collect();
    assert_eq!(bits, [f64::NAN.to_bits(), 1f64.to_bits(), STALE_NAN_BITS]);
    let s = slice(&m, span(5, 20));
    assert_eq!(s[0].samples[1].v.to_bits(), STALE_NAN_BITS);
}

#[test]
fn slice_drops_series_without_points_in_the_span() {
    let s = slice(
        &[series("a", [100, 110, 120]), series("b", [100])],
        span(110, 130),
    );
    assert_eq!(s.len(), 1);
    assert_eq!(times(&s[0]), [110, 120]);
}

#[test]
fn negative_offsets_and_at_are_not_cacheable() {
    let c = |q: &str| cacheable(&promql_parser::parser::parse(q).unwrap());
    assert!(c("up"));
    assert!(c("sum by (job) (rate(x[5m] offset 1h))"));
    assert!(c("max_over_time(rate(x[5m])[1h:1m] offset 5m)"));
    assert!(c("1 + 2"));
    assert!(c("topk(3, up)"));
    assert!(!c("up offset -5m"));
    assert!(!c("rate(x[5m] offset -1m)"));
    assert!(!c("up @ 1700000000"));
    assert!(!c("sum(up @ end())"));
    assert!(!c("max_over_time(up[1h:1m] @ start())"));
    assert!(!c("max_over_time(up[1h:1m] offset -1h)"));
    assert!(!c("up + on(job) (x offset -1m)"));
    assert!(!c("topk(scalar(up @ 100), up)"));
    assert!(!c(
        "label_replace(up offset -1m, \"a\", \"b\", \"c\", \"d\")"
    ));
}

fn tenant(name: &str) -> Tenant {
    Tenant::new(name).unwrap()
}

#[test]
fn the_cache_serves_extends_and_invalidates_by_generation() {
    let c = cache(1 << 20);
    let t = tenant("t1");
    let key = Key::range(&t, "up", 100, 10);
    let g = c.generation(&t);
    let full = vec![series("a", [100, 110, 120, 130]), series("b", [130])];
    // Safe until 115: steps 100, 110 kept.
    c.store_range(key.clone(), g, 100, 130, 10, 115, &full, &Notes::default());
    let (p, cached, _) = c.lookup_range(&key, g, 100, 130, 10);
    assert_eq!(p.cached, Some(span(100, 110)));
    assert_eq!(p.evaluate, Some(span(120, 130)));
    assert_eq!(cached.len(), 1);
    assert_eq!(times(&cached[0]), [100, 110]);

    // Extended by a later request with the tail evaluated and a later safe point.
    let resp = merge(cached, vec![series("a", [120, 130]), series("b", [130])]);
    c.store_range(
        key.clone(),
        g,
        100,
        130,
        10,
        1_000,
        &resp,
        &Notes::default(),
    );
    let (p, cached, _) = c.lookup_range(&key, g, 110, 140, 10);
    assert_eq!(p.cached, Some(span(110, 130)));
    assert_eq!(p.evaluate, Some(span(140, 140)));
    assert_eq!(times(&cached[0]), [110, 120, 130]);
    assert_eq!(times(&cached[1]), [130]);

    // Another tenant shares nothing.
    let other = Key::range(&tenant("t2"), "up", 100, 10);
    let (p, _, _) = c.lookup_range(&other, c.generation(&tenant("t2")), 100, 130, 10);
    assert_eq!(p.cached, None);

    // A write into the past: the entry is gone, and a result computed before it is not kept.
    let hook = c.write_hook(&t, || 50).unwrap();
    hook.applied(1_000_000);
    assert_eq!(c.counters().invalidations.load(Ordering::Relaxed), 1);
    let g2 = c.generation(&t);
    assert_ne!(g, g2);
    let (p, _, _) = c.lookup_range(&key, g2, 100, 130, 10);
    assert_eq!(p.cached, None);
    c.store_range(
        key.clone(),
        g,
        100,
        130,
        10,
        1_000,
        &full,
        &Notes::default(),
    );
    assert_eq!(c.lookup_range(&key, g2, 100, 130, 10).0.cached, None);
    assert_eq!(c.counters().bytes.load(Ordering::Relaxed), 0);

    // A write of recent samples does not bump.
    let hook = c.write_hook(&t, || 999_999).unwrap();
    hook.applied(1_000_000);
    assert_eq!(c.generation(&t), g2);
}

#[test]
fn instant_answers_are_kept_per_time() {
    let c = cache(1 << 20);
    let t = tenant("t1");
    let g = c.generation(&t);
    let v = QueryValue::Scalar(Sample::new(100, 2.0));
    let notes = Notes {
        warnings: vec![],
        infos: vec!["PromQL info: x".into()],
        tiers: vec![cairn_model::Tier::Rollup5m],
        approximate: false,
    };
    c.store_instant(Key::instant(&t, "2", 100), g, &v, &notes);
    assert_eq!(
        c.lookup_instant(&Key::instant(&t, "2", 100), g),
        Some((v, notes))
    );
    assert_eq!(c.lookup_instant(&Key::instant(&t, "2", 110), g), None);
}

#[test]
fn the_least_recently_used_entries_go_first_and_zero_bytes_disables() {
    let t = tenant("t1");
    let one = vec![series("a", 0..50)];
    let size = ENTRY_OVERHEAD + Key::range(&t, "q0", 0, 1).bytes() * 2 + series_bytes(&one);
    let c = cache((size * 2) as u64);
    let g = c.generation(&t);
    for q in ["q0", "q1"] {
        c.store_range(
            Key::range(&t, q, 0, 1),
            g,
            0,
            49,
            1,
            1_000,
            &one,
            &Notes::default(),
        );
    }
    // Touch q0, then a third entry evicts q1.
    assert!(
        c.lookup_range(&Key::range(&t, "q0", 0, 1), g, 0, 49, 1)
            .0
            .cached
            .is_some()
    );
    c.store_range(
        Key::range(&t, "q2", 0, 1),
        g,
        0,
        49,
        1,
        1_000,
        &one,
        &Notes::default(),
    );
    let hit = |q: &str| {
        c.lookup_range(&Key::range(&t, q, 0, 1), g, 0, 49, 1)
            .0
            .cached
            .is_some()
    };
    assert!(hit("q0") && !hit("q1") && hit("q2"));
    assert_eq!(
        c.counters().bytes.load(Ordering::Relaxed),
        (size * 2) as u64
    );

    let off = cache(0);
    assert!(!off.enabled());
    assert!(off.write_hook(&t, || unreachable!()).is_none());
    off.store_range(
        Key::range(&t, "q0", 0, 1),
        g,
        0,
        49,
        1,
        1_000,
        &one,
        &Notes::default(),
    );
    assert!(
        off.lookup_range(&Key::range(&t, "q0", 0, 1), g, 0, 49, 1)
            .0
            .cached
            .is_none()
    );
}

#[test]
fn a_store_keeps_the_entry_steps_around_its_own_safe_steps() {
    let c = cache(1 << 20);
    let t = tenant("t1");
    let key = Key::range(&t, "up", 0, 10);
    let g = c.generation(&t);
    // An entry [0, 200], as if a concurrent query had already reached past this one.
    c.store_range(
        key.clone(),
        g,
        0,
        200,
        10,
        1_000,
        &[series("a", (0..=200).step_by(10))],
        &Notes::default(),
    );
    // This request answered [100, 300] but only its steps up to 150 were safe.
    let ours = Series::new(
        labels("a"),
        (100..=300)
            .step_by(10)
            .map(|t| Sample::new(t, t as f64 + 0.5))
            .collect(),
    );
    c.store_range(
        key.clone(),
        g,
        100,
        300,
        10,
        155,
        &[ours],
        &Notes::default(),
    );
    let (p, cached, _) = c.lookup_range(&key, g, 0, 300, 10);
    assert_eq!(p.cached, Some(span(0, 200)));
    let got: Vec<(i64, f64)> = cached[0].samples.iter().map(|s| (s.t, s.v)).collect();
    let want: Vec<(i64, f64)> = (0..=200)
        .step_by(10)
        .map(|t| {
            (
                t,
                if (100..=150).contains(&t) {
                    t as f64 + 0.5
                } else {
                    t as f64
                },
            )
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn annotations_are_kept_with_the_steps_they_came_from() {
    let c = cache(1 << 20);
    let t = tenant("t1");
    let key = Key::range(&t, "rate(x[5m])", 100, 10);
    let g = c.generation(&t);
    let a = Notes {
        warnings: vec![],
        infos: vec!["info a".into()],
        tiers: vec![cairn_model::Tier::Raw],
        approximate: false,
    };
    c.store_range(
        key.clone(),
        g,
        100,
        130,
        10,
        1_000,
        &[series("a", (100..=130).step_by(10))],
        &a,
    );
    let b = Notes {
        warnings: vec!["warning b".into()],
        infos: vec!["info a".into()],
        tiers: vec![cairn_model::Tier::Rollup1h],
        approximate: true,
    };
    // An extension [140, 160] keeps the earlier steps, so both sets of notes.
    c.store_range(
        key.clone(),
        g,
        100,
        160,
        10,
        1_000,
        &[series("a", (100..=160).step_by(10))],
        &b,
    );
    let (p, cached, notes) = c.lookup_range(&key, g, 100, 160, 10);
    assert!(p.evaluate.is_none());
    assert_eq!(cached[0].samples.len(), 7);
    assert_eq!(notes.infos, ["info a"]);
    assert_eq!(notes.warnings, ["warning b"]);
    // The tiers of the stored answer travel with it, and so does its approximation.
    assert!(notes.tiers.contains(&cairn_model::Tier::Rollup1h));
    assert!(notes.approximate);
}

#[test]
fn absorbing_notes_unites_their_tiers_and_approximation() {
    use cairn_model::Tier;
    let mut a = Notes {
        tiers: vec![Tier::Rollup5m],
        ..Notes::default()
    };
    a.absorb(&Notes {
        tiers: vec![Tier::Raw, Tier::Rollup5m],
        approximate: true,
        ..Notes::default()
    });
    assert_eq!(a.tiers, [Tier::Raw, Tier::Rollup5m]);
    assert!(a.approximate);
}
