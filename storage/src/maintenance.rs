//! The maintenance commands of a shard (downsampling and retention) and what applying one
//! reports. They travel in the shard's Raft log (`cairn-consensus`'s `Command::Maintain`), so
//! every replica applies the same command to the same data in the same place in the log:
//! deterministic by construction, with nothing decided at apply time from a clock.
//!
//! ```text
//!  RollupState ──► maintenance_plan::plan_maintenance ──► Vec<Maintenance> ──► Raft log
//!                   (pure: state, policies, now)                             │
//!  every replica: Engine::maintain(shard, index, cmd, marker) ◄──────────────┘
//!                 (engine/maintain.rs) ──► MaintenanceOutcome
//! ```
//! This file owns the vocabulary only (serde types; JSON in the log); the engine applies it.

use std::collections::BTreeMap;

use cairn_model::Tier;
use serde::{Deserialize, Serialize};

/// One maintenance step of a shard, applied in log order on every replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Maintenance {
    /// Roll up one window of `tier` for the series with ids in `[sid_from, sid_to)` (`None`:
    /// to the last id). 5m: reads raw samples (disk chunks + head) of `(ws, ws + 2 h]`;
    /// 1h: folds the day's 5-minute buckets `(ws, ws + 1 d]` with `merge_buckets`. Writes one
    /// block per series with data, deletes the block of a series without data (a re-roll).
    /// `last`: the final piece of this window: clears the window's dirty mark and, if `ws`
    /// equals the tier's watermark (or there is none yet), advances the watermark to
    /// `ws + window`.
    Rollup {
        tier: Tier,
        window_start: i64,
        sid_from: u64,
        sid_to: Option<u64>,
        last: bool,
    },
    /// Retention: for every tenant, delete the days of `tier` that end at or before its
    /// cut-off (`tenants` entries; `default_before` for tenants not listed; cut-offs are day
    /// starts; 0 keeps).
    Expire {
        tier: Tier,
        default_before: i64,
        tenants: Vec<(String, i64)>,
    },
}

/// What applying one maintenance command did (on this replica).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceOutcome {
    /// Windows whose last piece was applied.
    pub windows_rolled: u64,
    /// Series looked at by rollups (with data in the window or not).
    pub series_rolled: u64,
    pub blocks_written: u64,
    pub blocks_deleted: u64,
    /// Days removed by range deletes (whole-shard days) plus tenant days deleted key by key.
    pub days_deleted: u64,
    /// RocksDB's estimate of the SST bytes the deleted ranges held (plus the exact size of
    /// keys deleted one by one); the space comes back once the background compaction ran.
    pub bytes_deleted: u64,
    pub series_dropped: u64,
}

impl MaintenanceOutcome {
    pub fn add(&mut self, o: &MaintenanceOutcome) {
        self.windows_rolled += o.windows_rolled;
        self.series_rolled += o.series_rolled;
        self.blocks_written += o.blocks_written;
        self.blocks_deleted += o.blocks_deleted;
        self.days_deleted += o.days_deleted;
        self.bytes_deleted += o.bytes_deleted;
        self.series_dropped += o.series_dropped;
    }
}

/// One rollup tier's progress in a shard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierProgress {
    /// Every window ending at or before this is rolled (stored) unless dirty; `None` before
    /// the first window is.
    pub watermark: Option<i64>,
    /// Starts of rolled windows that later samples changed, ascending: to be rolled again.
    pub dirty: Vec<i64>,
}

/// The applied retention cut-offs of one tier in a shard (each a day start; data before it
/// is deleted; 0 keeps everything).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierCutoffs {
    /// For tenants not in `tenants`.
    pub default: i64,
    pub tenants: BTreeMap<String, i64>,
}

impl TierCutoffs {
    /// The cut-off that applies to `tenant` (0: none).
    pub fn of(&self, tenant: &str) -> i64 {
        self.tenants.get(tenant).copied().unwrap_or(self.default)
    }
}

/// What the maintenance planner needs to know of one shard (`Engine::rollup_state`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollupState {
    pub shard: u32,
    /// The 5-minute tier's watermark and dirty windows.
    pub rollup_5m: TierProgress,
    /// The 1-hour tier's watermark and dirty days.
    pub rollup_1h: TierProgress,
    /// Oldest and newest sample time over the shard's series (from the head's bounds, which
    /// retention does not shrink); `None` without any sample.
    pub oldest: Option<i64>,
    pub newest: Option<i64>,
    /// Tenants with series in the shard, sorted.
    pub tenants: Vec<String>,
    /// Applied cut-offs of raw, 5m and 1h (indexed as `Tier::ALL`).
    pub cutoffs: [TierCutoffs; 3],
    /// Series ids are below this (pieces split the ids `0..next_sid`).
    pub next_sid: u64,
}

impl RollupState {
    /// The progress of a rollup tier (raw has none: the 5m tier's is returned for it).
    pub fn progress(&self, tier: Tier) -> &TierProgress {
        match tier {
            Tier::Rollup1h => &self.rollup_1h,
            _ => &self.rollup_5m,
        }
    }

    pub fn cutoffs(&self, tier: Tier) -> &TierCutoffs {
        &self.cutoffs[tier.index()]
    }
}
