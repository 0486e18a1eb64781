//! `[maintenance]`: how the retention and downsampling job runs on a shard leader: how often
//! it plans, how large a piece of work one Raft command is, and the share of the machine it
//! may take (a duty cycle: after a piece that took `d`, it rests `d · (1 - share) / share`).

use serde::{Deserialize, Serialize};

use cairn_model::units;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MaintenanceConfig {
    /// Whether the job runs at all (off: nothing is rolled up or expired).
    pub enabled: bool,
    /// How often each shard leader plans the next rollups and expiries.
    #[serde(rename = "interval", with = "units::duration_ms_u64")]
    pub interval_ms: u64,
    /// Share of one core (and of its I/O) the job may take, in (0, 1].
    pub cpu_share: f64,
    /// Series rolled up by one Raft command (a window is split into pieces of this many).
    pub series_per_piece: u64,
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        MaintenanceConfig {
            enabled: true,
            interval_ms: 10_000,
            cpu_share: 0.25,
            series_per_piece: 2_000,
        }
    }
}

impl MaintenanceConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(self.cpu_share > 0.0 && self.cpu_share <= 1.0) {
            anyhow::bail!(
                "[maintenance] cpu_share must be in (0, 1], got {}",
                self.cpu_share
            );
        }
        if self.interval_ms == 0 {
            anyhow::bail!("[maintenance] interval must be positive");
        }
        if self.series_per_piece == 0 {
            anyhow::bail!("[maintenance] series_per_piece must be positive");
        }
        Ok(())
    }

    /// How long to rest after a piece of work that took `busy`, to keep to `cpu_share`.
    pub fn rest_after(&self, busy: std::time::Duration) -> std::time::Duration {
        busy.mul_f64((1.0 - self.cpu_share) / self.cpu_share)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_rest_keeps_the_job_to_its_share() {
        let c = MaintenanceConfig {
            cpu_share: 0.25,
            ..Default::default()
        };
        assert_eq!(
            c.rest_after(Duration::from_millis(100)),
            Duration::from_millis(300)
        );
        let all = MaintenanceConfig {
            cpu_share: 1.0,
            ..Default::default()
        };
        assert_eq!(all.rest_after(Duration::from_millis(100)), Duration::ZERO);
        assert!(
            MaintenanceConfig {
                cpu_share: 0.0,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            MaintenanceConfig {
                cpu_share: 1.5,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }
}
