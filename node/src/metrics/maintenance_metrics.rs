//! The maintenance job's own metrics: the commands the shard leaders on this node proposed,
//! and how far each rollup tier lags behind the newest window it could have built. (What the
//! commands did — windows rolled, days and bytes deleted, series dropped — every replica
//! counts as it applies them: `EngineStats`, rendered with the storage metrics.)

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use cairn_model::Tier;

#[derive(Debug, Default)]
pub struct MaintenanceMetrics {
    /// Maintenance commands proposed by this node and applied.
    pub commands: AtomicU64,
    /// Per rollup tier (0: 5m, 1: 1h): how far the newest built window is behind the newest
    /// eligible one, the largest over the shards this node leads (0 when caught up).
    pub lag_ms: [AtomicI64; 2],
    /// Per rollup tier: the end of the last built window, the oldest over the shards this
    /// node leads (0 when none).
    pub watermark_ms: [AtomicI64; 2],
    /// Shards this node led at the last pass.
    pub shards_led: AtomicU64,
}

/// Index of a rollup tier in the arrays above (5m 0, 1h 1).
pub fn rollup_index(t: Tier) -> usize {
    t.index().saturating_sub(1)
}

impl MaintenanceMetrics {
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP cairn_maintenance_commands_total Retention and rollup commands this node proposed as a shard leader.\n\
             # TYPE cairn_maintenance_commands_total counter\ncairn_maintenance_commands_total {}\n\
             # HELP cairn_maintenance_shards_led Shards whose maintenance this node ran at its last pass.\n\
             # TYPE cairn_maintenance_shards_led gauge\ncairn_maintenance_shards_led {}",
            self.commands.load(Ordering::Relaxed),
            self.shards_led.load(Ordering::Relaxed)
        );
        let gauges: [(&str, &str, &[AtomicI64; 2]); 2] = [
            (
                "cairn_rollup_lag_seconds",
                "How far the tier's last built window is behind the newest eligible one, the largest over the shards this node leads.",
                &self.lag_ms,
            ),
            (
                "cairn_rollup_watermark_timestamp_seconds",
                "End of the tier's last built window, the oldest over the shards this node leads (0: none).",
                &self.watermark_ms,
            ),
        ];
        for (name, help, values) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for t in Tier::ROLLUPS {
                let v = values[rollup_index(t)].load(Ordering::Relaxed) as f64 / 1000.0;
                let _ = writeln!(out, "{name}{{tier=\"{}\"}} {v}", t.resolution());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_rendered_with_its_tiers() {
        let m = MaintenanceMetrics::default();
        m.commands.fetch_add(3, Ordering::Relaxed);
        m.lag_ms[rollup_index(Tier::Rollup1h)].store(90_000, Ordering::Relaxed);
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains("cairn_maintenance_commands_total 3\n"),
            "{out}"
        );
        assert!(out.contains("cairn_rollup_lag_seconds{tier=\"1h\"} 90\n"));
        assert!(out.contains("cairn_rollup_lag_seconds{tier=\"5m\"} 0\n"));
    }
}
