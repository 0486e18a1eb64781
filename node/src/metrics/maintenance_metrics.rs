//! The retention and downsampling job's metrics: what the shard leaders on this node had
//! rolled up and deleted, and how far each tier lags behind the newest window it could have.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use cairn_model::Tier;

/// Counters by tier: index 0 raw, 1 rollup_5m, 2 rollup_1h (`Tier as usize`).
#[derive(Debug, Default)]
pub struct MaintenanceMetrics {
    /// Rollup windows completed (the final piece of a window applied).
    pub windows_rolled: [AtomicU64; 3],
    /// Series-windows rolled up (one per series and window).
    pub series_rolled: [AtomicU64; 3],
    /// Maintenance commands proposed and applied.
    pub commands: AtomicU64,
    /// Days deleted by retention and their estimated bytes.
    pub days_deleted: [AtomicU64; 3],
    pub bytes_deleted: [AtomicU64; 3],
    /// Series dropped from the index (no data left in any tier).
    pub series_dropped: AtomicU64,
    /// Seconds the newest eligible window is ahead of the tier's watermark, the largest over
    /// the shards this node leads (0 when caught up or leading none).
    pub lag_ms: [AtomicI64; 3],
    /// The oldest watermark of the shards this node leads (ms; 0 when none).
    pub watermark_ms: [AtomicI64; 3],
}

pub fn tier_index(t: Tier) -> usize {
    match t {
        Tier::Raw => 0,
        Tier::Rollup5m => 1,
        Tier::Rollup1h => 2,
    }
}

impl MaintenanceMetrics {
    pub fn render(&self, out: &mut String) {
        let rollups = [Tier::Rollup5m, Tier::Rollup1h];
        let families: [(&str, &str, &str, &[Tier], &[AtomicU64; 3]); 4] = [
            (
                "cairn_rollup_windows_total",
                "counter",
                "Rollup windows completed by the shard leaders on this node.",
                &rollups,
                &self.windows_rolled,
            ),
            (
                "cairn_rollup_series_total",
                "counter",
                "Series-windows rolled up by the shard leaders on this node.",
                &rollups,
                &self.series_rolled,
            ),
            (
                "cairn_retention_days_deleted_total",
                "counter",
                "Days of a tier deleted by retention (per shard).",
                &Tier::ALL,
                &self.days_deleted,
            ),
            (
                "cairn_retention_bytes_deleted_total",
                "counter",
                "Estimated bytes deleted by retention.",
                &Tier::ALL,
                &self.bytes_deleted,
            ),
        ];
        for (name, kind, help, tiers, values) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for &t in tiers {
                let v = values[tier_index(t)].load(Ordering::Relaxed);
                let _ = writeln!(out, "{name}{{tier=\"{}\"}} {v}", t.resolution());
            }
        }
        let _ = writeln!(
            out,
            "# HELP cairn_maintenance_commands_total Retention and rollup commands applied through Raft.\n\
             # TYPE cairn_maintenance_commands_total counter\ncairn_maintenance_commands_total {}\n\
             # HELP cairn_retention_series_dropped_total Series dropped once no tier held data of them.\n\
             # TYPE cairn_retention_series_dropped_total counter\ncairn_retention_series_dropped_total {}",
            self.commands.load(Ordering::Relaxed),
            self.series_dropped.load(Ordering::Relaxed)
        );
        let gauges: [(&str, &str, &[AtomicI64; 3]); 2] = [
            (
                "cairn_rollup_lag_seconds",
                "How far the tier's newest built window is behind the newest eligible one, the largest over the shards this node leads.",
                &self.lag_ms,
            ),
            (
                "cairn_rollup_watermark_timestamp_seconds",
                "End of the last built window of the tier, the oldest over the shards this node leads (0: none).",
                &self.watermark_ms,
            ),
        ];
        for (name, help, values) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for t in rollups {
                let v = values[tier_index(t)].load(Ordering::Relaxed) as f64 / 1000.0;
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
        m.windows_rolled[1].fetch_add(3, Ordering::Relaxed);
        m.bytes_deleted[0].fetch_add(4096, Ordering::Relaxed);
        m.lag_ms[2].store(90_000, Ordering::Relaxed);
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains("cairn_rollup_windows_total{tier=\"5m\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("cairn_retention_bytes_deleted_total{tier=\"raw\"} 4096\n"));
        assert!(out.contains("cairn_rollup_lag_seconds{tier=\"1h\"} 90\n"));
        assert!(out.contains("# TYPE cairn_maintenance_commands_total counter\n"));
    }
}
