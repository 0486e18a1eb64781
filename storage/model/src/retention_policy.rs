//! How long each storage tier keeps a tenant's data: the cluster defaults (`[retention]`),
//! a tenant's override of some of them, and the checks both must pass. Pure values: the node
//! stores overrides in the meta group's key-value space and the retention job (later) reads
//! the effective policy from here.
//!
//! ```text
//!  retention/{tenant} → RetentionOverride (JSON; only the fields the tenant set)
//!  effective = override field, else cluster default     (each value says which: Source)
//! ```
//! A duration of 0 keeps a tier forever, and forever counts as the longest duration: a rollup
//! tier must keep data at least as long as raw, and the 1-hour tier at least as long as the
//! 5-minute one, or a query falling back to a coarser tier would find a gap.

use serde::{Deserialize, Serialize};

pub use crate::tier::Tier;
use crate::units;

/// The three tiers' retention in milliseconds; 0 keeps forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    pub raw_ms: i64,
    pub rollup_5m_ms: i64,
    pub rollup_1h_ms: i64,
}

impl Default for RetentionPolicy {
    /// Raw 7 days, 5-minute rollups 30 days, 1-hour rollups 365 days.
    fn default() -> Self {
        RetentionPolicy {
            raw_ms: 7 * DAY_MS,
            rollup_5m_ms: 30 * DAY_MS,
            rollup_1h_ms: 365 * DAY_MS,
        }
    }
}

const DAY_MS: i64 = 86_400_000;

/// Why a policy is invalid; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    #[error("{tier}: {value:?} is not a duration (e.g. 7d, 12h, 0s for forever)")]
    Malformed { tier: Tier, value: String },
    #[error("{tier}: {value} is negative")]
    Negative { tier: Tier, value: i64 },
    #[error("{tier}: {} is shorter than {shorter_than} ({})", show(*ms), show(*other_ms))]
    ShorterThan {
        tier: Tier,
        ms: i64,
        shorter_than: Tier,
        other_ms: i64,
    },
}

impl RetentionError {
    /// The field the error is about.
    pub fn tier(&self) -> Tier {
        match self {
            RetentionError::Malformed { tier, .. }
            | RetentionError::Negative { tier, .. }
            | RetentionError::ShorterThan { tier, .. } => *tier,
        }
    }
}

/// A retention as people write it: `0s` for forever, else the shortest exact duration.
pub fn show(ms: i64) -> String {
    units::format_duration_ms(ms)
}

/// Parses one field's duration (`"7d"`, `"0s"`), naming the field if it is malformed.
pub fn parse_tier(tier: Tier, value: &str) -> Result<i64, RetentionError> {
    units::parse_duration_ms(value).ok_or_else(|| RetentionError::Malformed {
        tier,
        value: value.to_string(),
    })
}

/// Orders retentions with forever (0) as the longest.
fn shorter(a: i64, b: i64) -> bool {
    match (a, b) {
        (0, _) => false,
        (_, 0) => true,
        (a, b) => a < b,
    }
}

impl RetentionPolicy {
    pub fn get(&self, tier: Tier) -> i64 {
        match tier {
            Tier::Raw => self.raw_ms,
            Tier::Rollup5m => self.rollup_5m_ms,
            Tier::Rollup1h => self.rollup_1h_ms,
        }
    }

    fn set(&mut self, tier: Tier, ms: i64) {
        match tier {
            Tier::Raw => self.raw_ms = ms,
            Tier::Rollup5m => self.rollup_5m_ms = ms,
            Tier::Rollup1h => self.rollup_1h_ms = ms,
        }
    }

    /// Every tier non-negative; 5 m not shorter than raw; 1 h not shorter than 5 m (so not
    /// shorter than raw either). The first violation, naming the field.
    pub fn validate(&self) -> Result<(), RetentionError> {
        for tier in Tier::ALL {
            let value = self.get(tier);
            if value < 0 {
                return Err(RetentionError::Negative { tier, value });
            }
        }
        for (tier, finer) in [
            (Tier::Rollup5m, Tier::Raw),
            (Tier::Rollup1h, Tier::Rollup5m),
        ] {
            let (ms, other_ms) = (self.get(tier), self.get(finer));
            if shorter(ms, other_ms) {
                return Err(RetentionError::ShorterThan {
                    tier,
                    ms,
                    shorter_than: finer,
                    other_ms,
                });
            }
        }
        Ok(())
    }
}

/// The tiers a tenant set; the others follow the cluster defaults. Stored as JSON in the
/// meta group (the node's `api::tenants::retention_key`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionOverride {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollup_5m_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollup_1h_ms: Option<i64>,
}

/// Where an effective value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Default,
    Tenant,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::Tenant => "tenant",
        }
    }
}

/// A tenant's effective policy and where each value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveRetention {
    pub policy: RetentionPolicy,
    pub sources: [Source; 3],
}

impl EffectiveRetention {
    pub fn source(&self, tier: Tier) -> Source {
        self.sources[tier as usize]
    }
}

impl RetentionOverride {
    pub fn get(&self, tier: Tier) -> Option<i64> {
        match tier {
            Tier::Raw => self.raw_ms,
            Tier::Rollup5m => self.rollup_5m_ms,
            Tier::Rollup1h => self.rollup_1h_ms,
        }
    }

    pub fn is_empty(&self) -> bool {
        Tier::ALL.iter().all(|&t| self.get(t).is_none())
    }

    /// The override's fields over `defaults`, checked: what a PUT must pass before it is
    /// stored, and what `[retention]` must pass. A tier left to the default is lifted to the
    /// tier below when that is longer (raw 60d over the default 5-minute 30d keeps 5-minute
    /// rollups 60d; raw forever keeps everything forever); only values set in the override can
    /// conflict, and the error names the first such field.
    pub fn apply_checked(
        &self,
        defaults: &RetentionPolicy,
    ) -> Result<EffectiveRetention, RetentionError> {
        let merged = self.lifted(defaults, |source| source == Source::Default);
        merged.policy.validate()?;
        Ok(merged)
    }

    /// The override's fields over `defaults`, unchecked.
    pub fn merge(&self, defaults: &RetentionPolicy) -> EffectiveRetention {
        let mut policy = *defaults;
        let mut sources = [Source::Default; 3];
        for tier in Tier::ALL {
            if let Some(ms) = self.get(tier) {
                policy.set(tier, ms);
                sources[tier as usize] = Source::Tenant;
            }
        }
        EffectiveRetention { policy, sources }
    }

    /// The effective policy of a stored override. It passed `apply_checked` when stored, but
    /// the cluster defaults may have changed since (a tenant's raw 60d over a new default
    /// 5-minute 30d): a coarser tier is then lifted to the finer one, so that data never
    /// leaves a rollup tier before it leaves raw.
    pub fn resolve(&self, defaults: &RetentionPolicy) -> EffectiveRetention {
        self.lifted(defaults, |_| true)
    }

    /// `merge`, then each coarser tier whose source passes `liftable` raised to the tier
    /// below when shorter.
    fn lifted(
        &self,
        defaults: &RetentionPolicy,
        liftable: impl Fn(Source) -> bool,
    ) -> EffectiveRetention {
        let mut e = self.merge(defaults);
        for (tier, finer) in [
            (Tier::Rollup5m, Tier::Raw),
            (Tier::Rollup1h, Tier::Rollup5m),
        ] {
            let finer_ms = e.policy.get(finer);
            if liftable(e.source(tier)) && shorter(e.policy.get(tier), finer_ms) {
                e.policy.set(tier, finer_ms);
            }
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(raw: &str, m5: &str, h1: &str) -> RetentionPolicy {
        RetentionPolicy {
            raw_ms: parse_tier(Tier::Raw, raw).unwrap(),
            rollup_5m_ms: parse_tier(Tier::Rollup5m, m5).unwrap(),
            rollup_1h_ms: parse_tier(Tier::Rollup1h, h1).unwrap(),
        }
    }

    #[test]
    fn the_defaults_are_7d_30d_365d_and_valid() {
        assert_eq!(RetentionPolicy::default(), policy("7d", "30d", "365d"));
        RetentionPolicy::default().validate().unwrap();
    }

    #[test]
    fn a_rollup_shorter_than_the_tier_below_is_an_error_naming_it() {
        let e = policy("30d", "7d", "365d").validate().unwrap_err();
        assert_eq!(e.to_string(), "rollup_5m: 7d is shorter than raw (30d)");
        assert_eq!(e.tier(), Tier::Rollup5m);
        let e = policy("7d", "30d", "14d").validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "rollup_1h: 14d is shorter than rollup_5m (30d)"
        );
        // Equal is fine: a tier may be dropped at the same time as the one below.
        policy("7d", "7d", "7d").validate().unwrap();
    }

    #[test]
    fn zero_keeps_forever_and_counts_as_longest() {
        policy("0s", "0s", "0s").validate().unwrap();
        policy("7d", "0s", "0s").validate().unwrap();
        policy("7d", "30d", "0s").validate().unwrap();
        let e = policy("0s", "30d", "0s").validate().unwrap_err();
        assert_eq!(e.to_string(), "rollup_5m: 30d is shorter than raw (0s)");
        let e = policy("7d", "0s", "365d").validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "rollup_1h: 365d is shorter than rollup_5m (0s)"
        );
    }

    #[test]
    fn malformed_and_negative_values_name_the_field() {
        let e = parse_tier(Tier::Rollup1h, "1 year").unwrap_err();
        assert_eq!(
            e.to_string(),
            "rollup_1h: \"1 year\" is not a duration (e.g. 7d, 12h, 0s for forever)"
        );
        assert!(parse_tier(Tier::Raw, "7x").is_err());
        assert!(parse_tier(Tier::Raw, "").is_err());
        assert_eq!(parse_tier(Tier::Raw, "1h30m").unwrap(), 5_400_000);
        let p = RetentionPolicy {
            raw_ms: -1,
            ..Default::default()
        };
        assert_eq!(p.validate().unwrap_err().tier(), Tier::Raw);
    }

    #[test]
    fn an_override_replaces_only_its_fields_and_says_so() {
        let defaults = RetentionPolicy::default();
        let o = RetentionOverride {
            raw_ms: Some(14 * DAY_MS),
            ..Default::default()
        };
        let e = o.apply_checked(&defaults).unwrap();
        assert_eq!(e.policy, policy("14d", "30d", "365d"));
        assert_eq!(
            e.sources,
            [Source::Tenant, Source::Default, Source::Default]
        );
        // A default tier shorter than the tenant's raw follows raw up...
        let long = RetentionOverride {
            raw_ms: Some(60 * DAY_MS),
            ..Default::default()
        };
        let e = long.apply_checked(&defaults).unwrap();
        assert_eq!(e.policy, policy("60d", "60d", "365d"));
        assert_eq!(e.source(Tier::Rollup5m), Source::Default);
        // ...but a tier the tenant set is an error naming it.
        let bad = RetentionOverride {
            raw_ms: Some(30 * DAY_MS),
            rollup_5m_ms: Some(7 * DAY_MS),
            ..Default::default()
        };
        let err = bad.apply_checked(&defaults).unwrap_err();
        assert_eq!(err.to_string(), "rollup_5m: 7d is shorter than raw (30d)");
        let forever = RetentionOverride {
            raw_ms: Some(0),
            ..Default::default()
        };
        let e = forever.apply_checked(&defaults).unwrap();
        assert_eq!(e.policy, policy("0s", "0s", "0s"));
        assert!(RetentionOverride::default().is_empty());
        assert_eq!(
            RetentionOverride::default()
                .apply_checked(&defaults)
                .unwrap()
                .policy,
            defaults
        );
    }

    #[test]
    fn a_stored_override_outgrown_by_new_defaults_lifts_the_coarser_tiers() {
        // Stored against a default raw of 7d, then the cluster's raw default became 90d.
        let o = RetentionOverride {
            rollup_5m_ms: Some(60 * DAY_MS),
            ..Default::default()
        };
        let defaults = policy("90d", "90d", "365d");
        assert!(o.apply_checked(&defaults).is_err());
        let e = o.resolve(&defaults);
        assert_eq!(e.policy, policy("90d", "90d", "365d"));
        e.policy.validate().unwrap();
    }
}
