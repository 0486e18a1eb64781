//! The query engine's configuration (the `[query]` table of the node's TOML file).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QueryConfig {
    /// How far back an instant selector looks for the latest sample (Prometheus' 5m).
    #[serde(rename = "lookback_delta", with = "cairn_model::units::duration_ms")]
    pub lookback_delta_ms: i64,
    /// Most samples one query may load from storage (and hold in subqueries and range
    /// results) before it fails with a 422.
    pub max_samples: u64,
    /// Most series one selector of a query may select.
    pub max_series: u64,
    /// Most points per series a range query may return (Prometheus' 11,000).
    pub max_points_per_series: u64,
    /// A query running longer than this fails with a 503 `timeout`.
    #[serde(rename = "timeout", with = "cairn_model::units::duration_ms_u64")]
    pub timeout_ms: u64,
    /// Queries evaluated at once; more wait in a queue.
    pub max_concurrent: usize,
    /// Queries allowed to wait for a slot; beyond this a query fails at once with a 503.
    pub max_queued: usize,
    /// Step of a subquery that gives none (`x[1h:]`): Prometheus uses its global
    /// `evaluation_interval`, 1m by default.
    #[serde(rename = "subquery_step", with = "cairn_model::units::duration_ms")]
    pub subquery_step_ms: i64,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            lookback_delta_ms: 5 * 60_000,
            max_samples: 50_000_000,
            max_series: 1_000_000,
            max_points_per_series: 11_000,
            timeout_ms: 2 * 60_000,
            max_concurrent: 16,
            max_queued: 256,
            subquery_step_ms: 60_000,
        }
    }
}

impl QueryConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub fn validate(&self) -> Result<()> {
        let err =
            |field: &str, reason: &str| Err(Error::parse(format!("[query] {field}: {reason}")));
        if self.lookback_delta_ms <= 0 {
            return err("lookback_delta", "must be positive");
        }
        if self.max_samples == 0 || self.max_series == 0 || self.max_points_per_series == 0 {
            return err(
                "max_samples/max_series/max_points_per_series",
                "must be positive",
            );
        }
        if self.timeout_ms == 0 {
            return err("timeout", "must be positive");
        }
        if self.subquery_step_ms <= 0 {
            return err("subquery_step", "must be positive");
        }
        if self.max_concurrent == 0 {
            return err("max_concurrent", "must be at least 1");
        }
        Ok(())
    }
}
/// The query result cache (`[query_cache]`; `result_cache.rs`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QueryCacheConfig {
    /// Steps at least this old when a query starts are kept; a write with a sample this old
    /// invalidates its tenant's entries.
    #[serde(rename = "min_age", with = "cairn_model::units::duration_ms")]
    pub min_age_ms: i64,
    /// Approximate memory of all entries (least recently used go first); 0 turns the cache off.
    #[serde(with = "cairn_model::units::bytes")]
    pub max_bytes: u64,
}

impl Default for QueryCacheConfig {
    fn default() -> Self {
        QueryCacheConfig {
            min_age_ms: 10 * 60_000,
            max_bytes: 256 << 20,
        }
    }
}

impl QueryCacheConfig {
    pub fn validate(&self) -> Result<()> {
        if self.min_age_ms < 0 {
            return Err(Error::parse("[query_cache] min_age: must not be negative"));
        }
        Ok(())
    }
}
