use super::*;
use crate::maintenance::{TierCutoffs, TierProgress};

const H: i64 = 3_600_000;
const D: i64 = 24 * H;

fn policy(raw_days: i64, m5_days: i64, h1_days: i64) -> RetentionPolicy {
    RetentionPolicy {
        raw_ms: raw_days * D,
        rollup_5m_ms: m5_days * D,
        rollup_1h_ms: h1_days * D,
    }
}

fn state(oldest: i64, newest: i64, next_sid: u64) -> RollupState {
    RollupState {
        oldest: Some(oldest),
        newest: Some(newest),
        tenants: vec!["a".into(), "b".into()],
        next_sid,
        ..Default::default()
    }
}

fn cfg() -> MaintenancePlanConfig {
    MaintenancePlanConfig {
        ooo_window_ms: H,
        series_per_piece: 10,
        max_commands: 10_000,
    }
}

fn rolls(plan: &[Maintenance], tier: Tier) -> Vec<(i64, u64, Option<u64>, bool)> {
    plan.iter()
        .filter_map(|m| match m {
            Maintenance::Rollup {
                tier: t,
                window_start,
                sid_from,
                sid_to,
                last,
            } if *t == tier => Some((*window_start, *sid_from, *sid_to, *last)),
            _ => None,
        })
        .collect()
}

fn expires(plan: &[Maintenance]) -> Vec<(Tier, Vec<(String, i64)>)> {
    plan.iter()
        .filter_map(|m| match m {
            Maintenance::Expire { tier, tenants, .. } => Some((*tier, tenants.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn catching_up_from_scratch_rolls_every_due_window_in_pieces() {
    let s = state(D + 30 * 60_000, D + 5 * H, 25);
    let now = 2 * D + 3 * H;
    let plan = plan_maintenance(&s, &|_| policy(7, 30, 365), now, &cfg());
    let r5 = rolls(&plan, Tier::Rollup5m);
    // From the window holding the oldest sample, up to windows ending <= now - 1 h.
    let windows: Vec<i64> = r5.iter().filter(|r| r.3).map(|r| r.0).collect();
    let expect: Vec<i64> = (0..13).map(|i| D + i * 2 * H).collect();
    assert_eq!(windows, expect);
    // 25 series in pieces of 10: [0,10), [10,20), [20,..) last.
    assert_eq!(
        &r5[..3],
        &[
            (D, 0, Some(10), false),
            (D, 10, Some(20), false),
            (D, 20, None, true)
        ]
    );
    // The first day is covered by this plan's 5m rolls, so it is rolled up to hours.
    let r1: Vec<i64> = rolls(&plan, Tier::Rollup1h)
        .iter()
        .filter(|r| r.3)
        .map(|r| r.0)
        .collect();
    assert_eq!(r1, vec![D]);
    // Nothing expires: no tier is built over anything yet, and nothing is old enough.
    assert!(expires(&plan).is_empty());
}

#[test]
fn nothing_is_due_before_the_out_of_order_window_passed() {
    let s = state(D + 1, D + 2, 3);
    let plan = plan_maintenance(&s, &|_| policy(7, 30, 365), D + 2 * H + H - 1, &cfg());
    assert!(plan.is_empty(), "{plan:?}");
    let plan = plan_maintenance(&s, &|_| policy(7, 30, 365), D + 3 * H, &cfg());
    assert_eq!(rolls(&plan, Tier::Rollup5m), vec![(D, 0, None, true)]);
    // Empty shard: nothing at all.
    let empty = RollupState::default();
    assert!(plan_maintenance(&empty, &|_| policy(1, 1, 1), 100 * D, &cfg()).is_empty());
}

#[test]
fn dirty_windows_come_first_and_hold_back_retention() {
    let mut s = state(0, 10 * D, 5);
    s.rollup_5m = TierProgress {
        watermark: Some(10 * D),
        dirty: vec![3 * D + 4 * H],
    };
    s.rollup_1h = TierProgress {
        watermark: Some(10 * D),
        dirty: vec![2 * D],
    };
    let now = 10 * D + 2 * H;
    let plan = plan_maintenance(&s, &|_| policy(1, 2, 3), now, &cfg());
    // Retention comes first (a long catch-up of rolls never starves it), then the rolls.
    assert!(matches!(plan[0], Maintenance::Expire { .. }));
    let plan: Vec<Maintenance> = plan
        .into_iter()
        .filter(|m| matches!(m, Maintenance::Rollup { .. }))
        .collect();
    assert_eq!(
        plan[0],
        Maintenance::Rollup {
            tier: Tier::Rollup5m,
            window_start: 3 * D + 4 * H,
            sid_from: 0,
            sid_to: None,
            last: true
        }
    );
    assert!(matches!(
        plan[1],
        Maintenance::Rollup {
            tier: Tier::Rollup1h,
            window_start: w,
            ..
        } if w == 2 * D
    ));
    let ex = expires(&plan_maintenance(&s, &|_| policy(1, 2, 3), now, &cfg()));
    // 1h: by policy alone (now - 3 d, floored to a day). 5m: held at the dirty day 2.
    // Raw: held at the dirty 5m window's day 3.
    assert_eq!(
        ex,
        vec![
            (
                Tier::Rollup1h,
                vec![("a".into(), 7 * D), ("b".into(), 7 * D)]
            ),
            (
                Tier::Rollup5m,
                vec![("a".into(), 2 * D), ("b".into(), 2 * D)]
            ),
            (Tier::Raw, vec![("a".into(), 3 * D), ("b".into(), 3 * D)]),
        ]
    );
}

#[test]
fn per_tenant_overrides_forever_tiers_and_applied_cutoffs() {
    let mut s = state(0, 40 * D, 1);
    s.rollup_5m.watermark = Some(40 * D);
    s.rollup_1h.watermark = Some(40 * D);
    let now = 40 * D + 5 * H;
    let pol = |t: &str| {
        if t == "a" {
            policy(2, 0, 0) // 5m and 1h kept forever
        } else {
            policy(7, 30, 35)
        }
    };
    let plan = plan_maintenance(&s, &pol, now, &cfg());
    assert_eq!(
        expires(&plan),
        vec![
            (Tier::Rollup1h, vec![("b".into(), 5 * D)]),
            (Tier::Rollup5m, vec![("b".into(), 10 * D)]),
            (Tier::Raw, vec![("a".into(), 38 * D), ("b".into(), 33 * D)]),
        ]
    );
    // Once applied, the same cut-offs are not proposed again.
    s.cutoffs = [
        TierCutoffs {
            default: 0,
            tenants: [("a".into(), 38 * D), ("b".into(), 33 * D)].into(),
        },
        TierCutoffs {
            default: 0,
            tenants: [("b".into(), 10 * D)].into(),
        },
        TierCutoffs {
            default: 0,
            tenants: [("b".into(), 5 * D)].into(),
        },
    ];
    assert!(expires(&plan_maintenance(&s, &pol, now, &cfg())).is_empty());
    // Without a 5m watermark raw never expires, and 5m waits for the 1h watermark; 1h
    // goes by policy alone.
    let mut fresh = state(0, 40 * D, 1);
    fresh.rollup_5m.watermark = None;
    let ex = expires(&plan_maintenance(&fresh, &pol, now, &cfg()));
    assert_eq!(
        ex.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![Tier::Rollup1h]
    );
}

#[test]
fn max_commands_keeps_whole_windows() {
    let s = state(0, 30 * D, 25);
    let plan = plan_maintenance(
        &s,
        &|_| policy(7, 30, 365),
        30 * D,
        &MaintenancePlanConfig {
            max_commands: 7,
            ..cfg()
        },
    );
    // Three pieces per window: two windows fit, the third does not start.
    assert_eq!(plan.len(), 6);
    assert!(matches!(plan[5], Maintenance::Rollup { last: true, .. }));
}

#[test]
fn the_lag_is_what_the_planner_would_still_roll() {
    let day0 = 20_000 * MS_PER_DAY;
    let mut s = state(day0 + 30 * 60_000, day0 + 10 * H, 10);
    let c = cfg();
    let now = day0 + 10 * H;
    // Nothing built: from the oldest data's window to the newest eligible one.
    let eligible = (now - c.ooo_window_ms).div_euclid(2 * H) * 2 * H;
    assert_eq!(rollup_lag_ms(&s, Tier::Rollup5m, now, &c), eligible - day0);
    assert_eq!(rollup_lag_ms(&s, Tier::Rollup1h, now, &c), 0);
    // Caught up.
    s.rollup_5m.watermark = Some(eligible);
    assert_eq!(rollup_lag_ms(&s, Tier::Rollup5m, now, &c), 0);
    // A day later the 5m tier is a day behind and the 1h tier has a day to build.
    let later = now + MS_PER_DAY;
    assert_eq!(rollup_lag_ms(&s, Tier::Rollup5m, later, &c), MS_PER_DAY);
    s.rollup_5m.watermark = Some(eligible + MS_PER_DAY);
    assert_eq!(rollup_lag_ms(&s, Tier::Rollup1h, later, &c), MS_PER_DAY);
    assert_eq!(rollup_lag_ms(&s, Tier::Raw, later, &c), 0);
    s.oldest = None;
    assert_eq!(rollup_lag_ms(&s, Tier::Rollup5m, later, &c), 0);
}

#[test]
fn an_idle_shard_jumps_its_watermarks_to_the_newest_eligible_window() {
    // Data ended at day 2; the watermarks are past it; a month passes.
    let mut s = state(0, 2 * D, 5);
    s.rollup_5m.watermark = Some(2 * D + 2 * H);
    s.rollup_1h.watermark = Some(3 * D);
    let now = 33 * D + 5 * H;
    let plan = plan_maintenance(&s, &|_| policy(0, 0, 0), now, &cfg());
    // One window of each tier, the newest eligible: not thirty days of empty ones.
    let r5 = rolls(&plan, Tier::Rollup5m);
    let r1 = rolls(&plan, Tier::Rollup1h);
    assert_eq!(r5.len(), 1, "{plan:?}");
    assert_eq!(r5[0].0, (now - H).div_euclid(2 * H) * 2 * H - 2 * H);
    assert_eq!(r1.len(), 1, "{plan:?}");
    assert_eq!(r1[0].0, 33 * D - D);
    // With data after the watermark it rolls window by window again.
    s.newest = Some(2 * D + 3 * H);
    let r5 = rolls(
        &plan_maintenance(&s, &|_| policy(0, 0, 0), now, &cfg()),
        Tier::Rollup5m,
    );
    assert_eq!(r5[0].0, 2 * D + 2 * H);
    assert!(r5.len() > 300);
}
