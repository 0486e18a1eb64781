//! The maintenance planner: from one shard's `RollupState`, the tenants' retention policies
//! and the time, the `Maintenance` commands to propose next. Pure (no I/O, no clock of its
//! own); the node's job driver proposes what it returns, and every replica applies it.
//!
//! ```text
//!  5m:  dirty windows ─► re-roll;  then windows from the watermark (or the oldest data)
//!       whose end <= now - ooo_window
//!  1h:  dirty days ─► re-roll;  then days whose end the 5m watermark (after this plan's
//!       rolls) has reached
//!  expire raw ≤ 5m watermark and before any dirty 5m window; 5m likewise against 1h;
//!  1h by policy alone. Cut-off = day start of (now − retention) per tenant; 0 keeps.
//! ```
//! Each window becomes pieces of `series_per_piece` series ids, `last` on the final one; a
//! window is planned whole or not at all, so `max_commands` never leaves half a window.

use cairn_model::{RetentionPolicy, Tier};

use crate::keys::{MS_PER_DAY, rollup_window_ms, rollup_window_of};
use crate::maintenance::{Maintenance, RollupState};

/// How the planner splits and bounds its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaintenancePlanConfig {
    /// Samples may arrive this late (the storage's out-of-order window): a 5-minute window is
    /// rolled only once its end is this far in the past.
    pub ooo_window_ms: i64,
    /// Series ids per `Rollup` command (one log entry's work).
    pub series_per_piece: u64,
    /// Commands per plan at most.
    pub max_commands: usize,
}

impl Default for MaintenancePlanConfig {
    fn default() -> Self {
        MaintenancePlanConfig {
            ooo_window_ms: 3_600_000,
            series_per_piece: 2_000,
            max_commands: 256,
        }
    }
}

/// The commands to propose for the shard described by `state`, in order (see the module
/// docs). Empty when nothing is due.
pub fn plan_maintenance(
    state: &RollupState,
    policy_of: &dyn Fn(&str) -> RetentionPolicy,
    now: i64,
    cfg: &MaintenancePlanConfig,
) -> Vec<Maintenance> {
    let mut plan = Plan {
        out: Vec::new(),
        cfg,
        next_sid: state.next_sid,
    };
    // Retention first (a long catch-up of rolls must not starve it), gated on the state as
    // applied now (not on this plan's rolls, which might not all commit): a tier's days go
    // once the next coarser tier is built over them.
    for tier in [Tier::Rollup1h, Tier::Rollup5m, Tier::Raw] {
        let limit = match tier.coarser() {
            None => i64::MAX,
            Some(coarser) => {
                let p = state.progress(coarser);
                let Some(wm) = p.watermark else {
                    continue;
                };
                p.dirty.first().map_or(wm, |&d| wm.min(d))
            }
        };
        let applied = state.cutoffs(tier);
        let mut tenants = Vec::new();
        let mut raises = false;
        for t in &state.tenants {
            let keep = policy_of(t).get(tier);
            if keep <= 0 {
                continue;
            }
            let cut = day_floor(now.saturating_sub(keep)).min(day_floor(limit));
            if cut <= 0 {
                continue;
            }
            raises |= cut > applied.of(t);
            tenants.push((t.clone(), cut));
        }
        if raises && plan.out.len() < cfg.max_commands {
            plan.out.push(Maintenance::Expire {
                tier,
                default_before: 0,
                tenants,
            });
        }
    }
    // 5-minute windows: dirty ones first, then onwards from the watermark.
    let win5 = rollup_window_ms(Tier::Rollup5m);
    for &ws in &state.rollup_5m.dirty {
        plan.window(Tier::Rollup5m, ws);
    }
    let mut wm5 = state.rollup_5m.watermark;
    let mut ws = wm5.or(state.oldest.map(|t| rollup_window_of(Tier::Rollup5m, t)));
    // Nothing newer than the watermark: the windows up to the newest eligible one are all
    // empty, and the engine lets one roll of that window jump the watermark over them.
    let newest_eligible = (now - cfg.ooo_window_ms).div_euclid(win5) * win5 - win5;
    if let Some(wm) = wm5
        && state.newest.is_none_or(|n| n <= wm)
    {
        ws = Some(wm.max(newest_eligible));
    }
    while let Some(w) = ws {
        if w + win5 > now - cfg.ooo_window_ms || !plan.window(Tier::Rollup5m, w) {
            break;
        }
        // As the applied command will: the first roll sets the watermark, later ones move it.
        wm5 = Some(w + win5);
        ws = Some(w + win5);
    }
    // Days: dirty ones, then those the 5-minute tier has covered once this plan is applied
    // (a 1h roll reads 5m buckets stitched, so it is right whatever the order).
    for &ds in &state.rollup_1h.dirty {
        plan.window(Tier::Rollup1h, ds);
    }
    let mut ds = state
        .rollup_1h
        .watermark
        .or(state.oldest.map(|t| rollup_window_of(Tier::Rollup1h, t)));
    if let (Some(wm), Some(w5)) = (state.rollup_1h.watermark, wm5)
        && state.newest.is_none_or(|n| n <= wm)
    {
        ds = Some(wm.max(day_floor(w5) - MS_PER_DAY));
    }
    while let (Some(d), Some(w5)) = (ds, wm5) {
        if d + MS_PER_DAY > w5 || !plan.window(Tier::Rollup1h, d) {
            break;
        }
        ds = Some(d + MS_PER_DAY);
    }
    plan.out
}

/// How far `tier`'s watermark is behind the newest window the planner could roll now (ms; 0
/// when caught up, and for raw or a shard without data): the `lag` of `/metrics` and status.
pub fn rollup_lag_ms(
    state: &RollupState,
    tier: Tier,
    now: i64,
    cfg: &MaintenancePlanConfig,
) -> i64 {
    let Some(oldest) = state.oldest else {
        return 0;
    };
    let built = |t: Tier| {
        state
            .progress(t)
            .watermark
            .unwrap_or_else(|| rollup_window_of(t, oldest))
    };
    let newest_eligible = match tier {
        Tier::Raw => return 0,
        Tier::Rollup5m => {
            let w = rollup_window_ms(Tier::Rollup5m);
            (now - cfg.ooo_window_ms).div_euclid(w) * w
        }
        Tier::Rollup1h => day_floor(built(Tier::Rollup5m)),
    };
    (newest_eligible - built(tier)).max(0)
}

struct Plan<'a> {
    out: Vec<Maintenance>,
    cfg: &'a MaintenancePlanConfig,
    next_sid: u64,
}

impl Plan<'_> {
    /// Plans every piece of one window, or nothing (false) when they do not all fit.
    fn window(&mut self, tier: Tier, ws: i64) -> bool {
        let per = self.cfg.series_per_piece.max(1);
        let pieces = self.next_sid.div_ceil(per).max(1) as usize;
        if self.out.len() + pieces > self.cfg.max_commands {
            return false;
        }
        let mut from = 0;
        for i in 0..pieces {
            let last = i + 1 == pieces;
            self.out.push(Maintenance::Rollup {
                tier,
                window_start: ws,
                sid_from: from,
                sid_to: (!last).then_some(from + per),
                last,
            });
            from += per;
        }
        true
    }
}

fn day_floor(t: i64) -> i64 {
    t.div_euclid(MS_PER_DAY).saturating_mul(MS_PER_DAY)
}

#[cfg(test)]
#[path = "maintenance_plan_test.rs"]
mod tests;
