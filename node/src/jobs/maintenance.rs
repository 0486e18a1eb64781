//! The maintenance job: retention and downsampling, on every shard this node leads. Each pass
//! asks the storage engine for the shard's rollup state (watermarks, dirty windows, tenants,
//! applied cut-offs), lets the pure planner (`cairn_storage::plan_maintenance`) turn it and the
//! tenants' retention into Raft commands, and proposes them one at a time, resting after each
//! so the job keeps to `[maintenance] cpu_share` of a core (and of the disk, whose work is in
//! the same commands).
//!
//! ```text
//!  every 10 s, per shard led here:
//!    Engine::rollup_state ─► plan_maintenance(state, policy_of, now) ─► [Rollup | Expire …]
//!      ─► ShardGroup::propose_maintenance (applied on every replica, in log order) ─► rest
//! ```
//! Nothing lives here between passes: the plan comes from replicated state alone, so after a
//! crash or a leader change the new leader plans the same windows again from the watermark. A
//! window half done (some of its pieces applied) is redone from its first piece, which
//! overwrites the same blocks: nothing lost, nothing counted twice.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use cairn_model::{Clock, RetentionPolicy, Tier};
use cairn_storage::{MaintenancePlanConfig, plan_maintenance, rollup_lag_ms};

use super::{Job, RunOnce, Trigger};
use crate::cluster::Cluster;
use crate::cluster::tenant_retention::overridden_tenants;
use crate::config::MaintenanceConfig;
use crate::metrics::MaintenanceMetrics;
use crate::metrics::maintenance_metrics::rollup_index;

/// Longest one pass proposes for; work left over wakes the job again at once.
const PASS_BUDGET: Duration = Duration::from_secs(5);

pub struct MaintenanceJob {
    cluster: Arc<Cluster>,
    clock: Arc<dyn Clock>,
    cfg: MaintenanceConfig,
    defaults: RetentionPolicy,
    plan_cfg: MaintenancePlanConfig,
    metrics: Arc<MaintenanceMetrics>,
    trigger: OnceLock<Trigger>,
}

impl MaintenanceJob {
    pub fn new(
        cluster: Arc<Cluster>,
        clock: Arc<dyn Clock>,
        cfg: MaintenanceConfig,
        defaults: RetentionPolicy,
        ooo_window_ms: i64,
        metrics: Arc<MaintenanceMetrics>,
    ) -> Self {
        let plan_cfg = MaintenancePlanConfig {
            ooo_window_ms,
            series_per_piece: cfg.series_per_piece,
            ..MaintenancePlanConfig::default()
        };
        MaintenanceJob {
            cluster,
            clock,
            cfg,
            defaults,
            plan_cfg,
            metrics,
            trigger: OnceLock::new(),
        }
    }

    /// The job's own trigger, fired when a pass ends with work left.
    pub fn set_trigger(&self, trigger: Trigger) {
        let _ = self.trigger.set(trigger);
    }

    async fn pass(&self) -> crate::Result<()> {
        let started = Instant::now();
        // Tenants with an override; the rest follow the defaults. An unreadable override
        // keeps that tenant's data (the defaults could delete what it meant to keep).
        let mut overrides: BTreeMap<String, RetentionPolicy> = BTreeMap::new();
        let mut frozen: Vec<String> = Vec::new();
        for (tenant, e) in overridden_tenants(self.cluster.groups().meta(), &self.defaults) {
            match e {
                Ok(e) => {
                    overrides.insert(tenant, e.policy);
                }
                Err(_) => frozen.push(tenant),
            }
        }
        let policy_of = |tenant: &str| -> RetentionPolicy {
            if frozen.iter().any(|t| t == tenant) {
                return RetentionPolicy {
                    raw_ms: 0,
                    rollup_5m_ms: 0,
                    rollup_1h_ms: 0,
                };
            }
            overrides.get(tenant).copied().unwrap_or(self.defaults)
        };
        let engine = self.cluster.groups().engine().clone();
        let mut lag = [0i64; 2];
        let mut watermark = [i64::MAX; 2];
        let mut more = false;
        let mut led = 0;
        for group in self.cluster.groups().local_shards() {
            if !group.is_leader() {
                continue;
            }
            led += 1;
            let shard = group.shard();
            // In place: a walk over the head's per-series bounds under the shard's read lock,
            // well under a millisecond per ten thousand series.
            let state = engine.rollup_state(shard)?;
            let now = self.clock.now_ms();
            for t in Tier::ROLLUPS {
                let i = rollup_index(t);
                if let Some(wm) = state.progress(t).watermark {
                    watermark[i] = watermark[i].min(wm);
                }
                lag[i] = lag[i].max(rollup_lag_ms(&state, t, now, &self.plan_cfg));
            }
            let plan = plan_maintenance(&state, &policy_of, now, &self.plan_cfg);
            for cmd in plan {
                if started.elapsed() > PASS_BUDGET {
                    more = true;
                    break;
                }
                if !group.is_leader() {
                    break;
                }
                let t0 = Instant::now();
                group.propose_maintenance(cmd).await?;
                self.metrics.commands.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(self.cfg.rest_after(t0.elapsed())).await;
            }
        }
        self.metrics.shards_led.store(led, Ordering::Relaxed);
        for i in 0..2 {
            self.metrics.lag_ms[i].store(lag[i], Ordering::Relaxed);
            let wm = if watermark[i] == i64::MAX {
                0
            } else {
                watermark[i]
            };
            self.metrics.watermark_ms[i].store(wm, Ordering::Relaxed);
        }
        if more && let Some(t) = self.trigger.get() {
            t.fire();
        }
        Ok(())
    }
}

impl Job for MaintenanceJob {
    fn name(&self) -> &'static str {
        "maintenance"
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(self.cfg.interval_ms)
    }

    fn run_once(&self) -> RunOnce<'_> {
        Box::pin(async move {
            if !self.cfg.enabled {
                return Ok(());
            }
            self.pass().await
        })
    }
}
