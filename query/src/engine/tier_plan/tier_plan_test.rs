use super::*;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// A range query from day 10 to day 11 reading `rate(x[r])` over data kept forever.
fn q(step: i64, range: i64) -> TierQuery {
    TierQuery {
        start: 10 * DAY,
        end: 11 * DAY,
        step,
        range,
        offset: 0,
        at: None,
        reader: Reader::Range(RangeFunction::Rate),
        lookback: 5 * MIN,
        resolution: Resolution::Auto,
        bounds: TierBounds::FOREVER,
    }
}

fn exact(tier: Tier) -> TierPlan {
    let mode = if tier == Tier::Raw {
        ReadMode::Samples
    } else {
        ReadMode::Buckets
    };
    TierPlan {
        tier,
        mode,
        approximate: false,
    }
}

#[test]
fn the_step_picks_the_coarsest_aligned_tier() {
    assert_eq!(plan(&q(MIN, 5 * MIN)), TierPlan::RAW);
    assert_eq!(plan(&q(5 * MIN, 5 * MIN)), exact(Tier::Rollup5m));
    assert_eq!(plan(&q(HOUR, 2 * HOUR)), exact(Tier::Rollup1h));
    // rate(x[5m]) at a 1 h step: 1 h buckets cannot hold a 5 m window, 5 m ones can.
    assert_eq!(plan(&q(HOUR, 5 * MIN)), exact(Tier::Rollup5m));
    // A range that is not whole buckets falls back to raw.
    assert_eq!(plan(&q(HOUR, 90_000)), TierPlan::RAW);
}

#[test]
fn unaligned_starts_and_offsets_fall_back_to_a_finer_tier() {
    let mut a = q(HOUR, HOUR);
    a.start += 10 * MIN;
    assert_eq!(plan(&a), exact(Tier::Rollup5m));
    a.start += 30_000;
    assert_eq!(plan(&a), TierPlan::RAW);
    let mut o = q(HOUR, HOUR);
    o.offset = 5 * MIN;
    assert_eq!(plan(&o), exact(Tier::Rollup5m));
    // `@` pins one window: only its end must be aligned, whatever the step.
    let mut at = q(HOUR, HOUR);
    at.start += 7_000;
    at.at = Some(20 * DAY);
    assert_eq!(plan(&at), exact(Tier::Rollup1h));
}

#[test]
fn instant_queries_over_long_ranges_read_rollups() {
    let mut i = q(1, 30 * DAY);
    i.end = i.start;
    i.reader = Reader::Range(RangeFunction::AvgOverTime);
    assert_eq!(plan(&i), exact(Tier::Rollup1h));
    i.range = 2 * HOUR;
    assert_eq!(plan(&i), exact(Tier::Rollup5m));
    i.range = 30 * MIN;
    assert_eq!(plan(&i), TierPlan::RAW);
    // At an unaligned time raw answers exactly.
    i.range = 30 * DAY;
    i.start += 1_000;
    i.end = i.start;
    assert_eq!(plan(&i), TierPlan::RAW);
}

#[test]
fn bare_selectors_read_the_bucket_ending_at_each_step() {
    let mut s = q(HOUR, 0);
    s.reader = Reader::Instant;
    assert_eq!(plan(&s), exact(Tier::Rollup1h));
    // A lookback longer than a 5 m bucket is not answered by the bucket ending at the step.
    s.step = 5 * MIN;
    s.lookback = 10 * MIN;
    assert_eq!(plan(&s), TierPlan::RAW);
}

#[test]
fn functions_without_a_bucket_form_read_raw_while_raw_holds_the_window() {
    let mut f = q(HOUR, HOUR);
    f.reader = Reader::Range(RangeFunction::QuantileOverTime);
    assert_eq!(plan(&f), TierPlan::RAW);
    f.bounds.raw_from = 10 * DAY;
    assert_eq!(
        plan(&f),
        TierPlan {
            tier: Tier::Rollup5m,
            mode: ReadMode::BucketsAsSamples,
            approximate: true,
        }
    );
}

#[test]
fn windows_past_a_tiers_retention_read_a_coarser_tier() {
    let mut r = q(MIN, 5 * MIN);
    r.bounds.raw_from = 10 * DAY;
    // One minute steps are not 5 m aligned: snapped, approximate, but not empty.
    assert_eq!(
        plan(&r),
        TierPlan {
            tier: Tier::Rollup5m,
            mode: ReadMode::Buckets,
            approximate: true,
        }
    );
    let mut r = q(5 * MIN, 5 * MIN);
    r.bounds.raw_from = 10 * DAY;
    assert_eq!(plan(&r), exact(Tier::Rollup5m));
    r.bounds.rollup_5m_from = 10 * DAY;
    // 1 h buckets cannot answer a 5 m window exactly; nothing finer holds it.
    assert_eq!(
        plan(&r),
        TierPlan {
            tier: Tier::Rollup1h,
            mode: ReadMode::Buckets,
            approximate: true,
        }
    );
    // The window starting exactly at raw_from is still raw's.
    let mut edge = q(MIN, 5 * MIN);
    edge.bounds.raw_from = 10 * DAY - 5 * MIN + 1;
    assert_eq!(plan(&edge), TierPlan::RAW);
}

#[test]
fn a_forced_tier_is_read_as_is() {
    let mut f = q(MIN, 5 * MIN);
    f.resolution = Resolution::Tier(Tier::Rollup1h);
    assert_eq!(
        plan(&f),
        TierPlan {
            tier: Tier::Rollup1h,
            mode: ReadMode::Buckets,
            approximate: true,
        }
    );
    let mut f = q(HOUR, HOUR);
    f.resolution = Resolution::Tier(Tier::Raw);
    f.bounds.raw_from = 11 * DAY;
    assert_eq!(plan(&f), TierPlan::RAW);
    f.resolution = Resolution::Tier(Tier::Rollup5m);
    assert_eq!(plan(&f), exact(Tier::Rollup5m));
}

#[test]
fn snapping_rounds_ends_down_and_ranges_up() {
    assert_eq!(snap_end(HOUR + 1, HOUR), HOUR);
    assert_eq!(snap_end(HOUR, HOUR), HOUR);
    assert_eq!(snap_end(-1, HOUR), -HOUR);
    assert_eq!(snap_range(5 * MIN, HOUR), HOUR);
    assert_eq!(snap_range(HOUR + 1, HOUR), 2 * HOUR);
    assert_eq!(snap_range(2 * HOUR, HOUR), 2 * HOUR);
}
