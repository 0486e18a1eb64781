//! `Tier`: the three resolutions a tenant's data is kept at. Raw samples, 5-minute buckets
//! and 1-hour buckets; each has its own retention (`retention_policy`) and, for the rollups,
//! its own column family. Queries name a tier as a resolution (`?resolution=raw|5m|1h`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A storage tier, finest first (the derived order is fineness: `Raw < Rollup5m < Rollup1h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tier {
    Raw,
    Rollup5m,
    Rollup1h,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Raw, Tier::Rollup5m, Tier::Rollup1h];
    /// The two rollup tiers, finest first.
    pub const ROLLUPS: [Tier; 2] = [Tier::Rollup5m, Tier::Rollup1h];

    /// Position in [`Tier::ALL`] (raw 0, 5m 1, 1h 2), for arrays indexed by tier.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The field name in the retention policy, the API, the CLI's JSON and `[retention]`.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::Rollup5m => "rollup_5m",
            Tier::Rollup1h => "rollup_1h",
        }
    }

    /// The resolution's short name (`?resolution=`, query stats, the response header).
    pub fn resolution(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::Rollup5m => "5m",
            Tier::Rollup1h => "1h",
        }
    }

    /// Parses a resolution's short name (`raw`, `5m`, `1h`).
    pub fn from_resolution(s: &str) -> Option<Tier> {
        match s {
            "raw" => Some(Tier::Raw),
            "5m" => Some(Tier::Rollup5m),
            "1h" => Some(Tier::Rollup1h),
            _ => None,
        }
    }

    /// Width of one bucket in milliseconds (0 for raw samples).
    pub fn bucket_ms(self) -> i64 {
        match self {
            Tier::Raw => 0,
            Tier::Rollup5m => 300_000,
            Tier::Rollup1h => 3_600_000,
        }
    }

    /// The next finer tier, the one this tier is built from (`None` for raw).
    pub fn finer(self) -> Option<Tier> {
        match self {
            Tier::Raw => None,
            Tier::Rollup5m => Some(Tier::Raw),
            Tier::Rollup1h => Some(Tier::Rollup5m),
        }
    }

    /// The next coarser tier (`None` for 1 h).
    pub fn coarser(self) -> Option<Tier> {
        match self {
            Tier::Raw => Some(Tier::Rollup5m),
            Tier::Rollup5m => Some(Tier::Rollup1h),
            Tier::Rollup1h => None,
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
