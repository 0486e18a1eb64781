//! `[rebalance]`: how the meta leader moves shard replicas between nodes (issue 19): how many
//! moves at once, how fast a snapshot may be sent, and the hysteresis that tells a dead node
//! from a flapping one (`cairn_consensus::move_plan`).

use serde::{Deserialize, Serialize};

use cairn_consensus::move_plan::MovePlanConfig;
use cairn_model::units;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RebalanceConfig {
    /// Whether the meta leader moves replicas at all (off: a joining node gets replicas only
    /// while shards have fewer than the replication factor, and dead nodes are not replaced).
    pub enabled: bool,
    /// Replica moves under way at once, cluster-wide.
    pub max_concurrent_moves: u32,
    /// Bytes per second a node may send in shard snapshots, all moves together (0: no limit).
    #[serde(with = "units::bytes")]
    pub snapshot_rate: u64,
    /// A node unreachable this long without a break is dead: its replicas are re-created on
    /// the other nodes.
    #[serde(rename = "dead_after", with = "units::duration_ms_u64")]
    pub dead_after_ms: u64,
    /// A node receives replicas only once it has been reachable this long without a break
    /// (a node that just joined, or came back).
    #[serde(rename = "stable_after", with = "units::duration_ms_u64")]
    pub stable_after_ms: u64,
}

impl Default for RebalanceConfig {
    fn default() -> Self {
        RebalanceConfig {
            enabled: true,
            max_concurrent_moves: 2,
            snapshot_rate: 64 << 20,
            dead_after_ms: 600_000,
            stable_after_ms: 60_000,
        }
    }
}

impl RebalanceConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.max_concurrent_moves == 0 {
            anyhow::bail!("[rebalance] max_concurrent_moves must be at least 1");
        }
        if self.dead_after_ms == 0 {
            anyhow::bail!("[rebalance] dead_after must be positive");
        }
        Ok(())
    }

    /// The planner's settings, with the cluster's replication factor.
    pub fn plan_config(&self, rf: usize) -> MovePlanConfig {
        MovePlanConfig {
            rf,
            max_concurrent: self.max_concurrent_moves as usize,
            dead_after_ms: self.dead_after_ms as i64,
            stable_after_ms: self.stable_after_ms as i64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_parse_and_zero_moves_is_refused() {
        let c: RebalanceConfig =
            toml::from_str("snapshot_rate = \"8MiB\"\ndead_after = \"30s\"\nstable_after = \"2s\"")
                .unwrap();
        assert_eq!(c.snapshot_rate, 8 << 20);
        assert_eq!((c.dead_after_ms, c.stable_after_ms), (30_000, 2_000));
        assert_eq!(c.max_concurrent_moves, 2, "default kept");
        c.validate().unwrap();
        let zero = RebalanceConfig {
            max_concurrent_moves: 0,
            ..Default::default()
        };
        assert!(
            zero.validate()
                .unwrap_err()
                .to_string()
                .contains("max_concurrent_moves")
        );
    }
}
