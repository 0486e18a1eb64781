//! `ClusterRuleStore`: one tenant's data as rule evaluation on this node sees it
//! ([`cairn_alerting::RuleStore`]). Reads are the query API's (an [`EngineQuerier`] over
//! [`TenantShards`]) after a read barrier, so a sample acknowledged before the evaluation is
//! seen; writes go through the replicated write path like any HTTP write, and are then
//! applied by the local replicas before the next rule of the group reads.
//!
//! ```text
//!  open ─► read barrier (tenant's local shards) ─► EngineQuerier ─► querier()
//!  append(samples) ─► WriteBatchBuilder::sharded ─► write_path::commit (Raft per shard)
//!                  ─► read barrier (local replicas of the touched shards)
//! ```
//! Its methods block on the runtime: call them from a blocking thread (`spawn_blocking`).

use std::sync::Arc;

use cairn_alerting::{Error as AlertingError, RuleStore};
use cairn_model::{Labels, METRIC_NAME, Sample, Tenant, WriteBatchBuilder};
use cairn_query::Querier;
use cairn_storage::Engine;
use tokio::runtime::Handle;

use crate::cluster::Cluster;
use crate::query::{EngineQuerier, TenantShards};
use crate::write_path;

pub struct ClusterRuleStore {
    cluster: Arc<Cluster>,
    runtime: Handle,
    tenant: Tenant,
    /// Every shard of the tenant (the write builder's split).
    shards: Vec<u32>,
    /// Those with a replica on this node (what the read barrier waits for).
    local: Vec<u32>,
    querier: EngineQuerier,
}

impl ClusterRuleStore {
    /// `tenant`'s shards once this node's replicas of them have applied everything
    /// acknowledged before the call. Blocks: call from a blocking thread of `runtime`.
    pub fn open(
        engine: Arc<Engine>,
        cluster: Arc<Cluster>,
        tenant: Tenant,
        runtime: Handle,
    ) -> crate::Result<ClusterRuleStore> {
        let shards = cluster.tenant_shards(tenant.as_str());
        // TenantShards keeps the runtime it is made in, for its reads of remote replicas.
        let tenant_shards = {
            let _in_runtime = runtime.enter();
            TenantShards::new(engine, cluster.clone(), tenant.clone(), shards.clone())
        };
        let local = tenant_shards.local().to_vec();
        runtime.block_on(cluster.read_barrier(&local))?;
        Ok(ClusterRuleStore {
            cluster,
            runtime,
            tenant,
            shards,
            local,
            querier: EngineQuerier::new(tenant_shards),
        })
    }
}

/// The rule output as one tenant's write, split by shard as the HTTP write path splits it.
fn build_batch(
    tenant: &Tenant,
    shards: &[u32],
    samples: &[(Labels, Sample)],
) -> Result<Vec<(u32, cairn_model::WriteBatch)>, cairn_model::Error> {
    let mut b = WriteBatchBuilder::sharded(tenant.clone(), shards.to_vec());
    for (labels, s) in samples {
        b.begin_group(
            labels
                .iter()
                .filter(|l| l.name != METRIC_NAME)
                .map(|l| (l.name.as_str(), l.value.as_str())),
        )?;
        b.add(labels.metric_name(), s.t, s.v);
    }
    Ok(b.finish_sharded())
}

impl RuleStore for ClusterRuleStore {
    fn querier(&self) -> &dyn Querier {
        &self.querier
    }

    fn append(&mut self, samples: Vec<(Labels, Sample)>) -> cairn_alerting::Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        let append_error = |reason: String| AlertingError::Append { reason };
        let parts = build_batch(&self.tenant, &self.shards, &samples)
            .map_err(|e| append_error(e.to_string()))?;
        let touched: Vec<u32> = parts
            .iter()
            .map(|(shard, _)| *shard)
            .filter(|s| self.local.contains(s))
            .collect();
        let outcome = self
            .runtime
            .block_on(write_path::commit(&self.cluster, parts))
            .map_err(|e| append_error(e.to_string()))?;
        if outcome.rejected() > 0 {
            // Prometheus counts out-of-order and duplicate-timestamp appends of a rule and
            // goes on: the rule's other samples are written, and its health stays ok.
            tracing::debug!(
                tenant = %self.tenant,
                too_old = outcome.rejected_too_old,
                conflicting = outcome.rejected_conflict,
                "rule output samples rejected by storage"
            );
        }
        // The write was applied on each shard's leader; a local follower replica may not
        // have it yet, and the next rule of the group reads here.
        self.runtime
            .block_on(self.cluster.read_barrier(&touched))
            .map_err(|e| append_error(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_output_is_split_by_shard_with_its_labels_and_metric_name() {
        let tenant = Tenant::new("t1").unwrap();
        let shards = vec![3, 5, 9];
        let samples: Vec<(Labels, Sample)> = (0..20)
            .map(|i| {
                let l = Labels::from_pairs([
                    ("__name__", "job:up:sum".to_string()),
                    ("job", format!("j{i}")),
                ])
                .unwrap();
                (l, Sample::new(1_000 + i, i as f64))
            })
            .collect();
        let parts = build_batch(&tenant, &shards, &samples).unwrap();
        assert!(parts.len() > 1, "20 series spread over several shards");
        let mut seen = 0;
        for (shard, batch) in &parts {
            assert!(shards.contains(shard));
            let d = batch.decode().unwrap();
            assert_eq!(d.tenant, "t1");
            for g in &d.groups {
                let labels: Vec<(&str, &str)> = d
                    .labels_of(g)
                    .iter()
                    .map(|&(n, v)| (d.str(n), d.str(v)))
                    .collect();
                assert_eq!(labels.len(), 1);
                assert_eq!(labels[0].0, "job");
                for item in d.items_of(g) {
                    assert_eq!(d.str(item.name), "job:up:sum");
                    let i: i64 = labels[0].1[1..].parse().unwrap();
                    assert_eq!(d.samples_of(item), &[Sample::new(1_000 + i, i as f64)]);
                    seen += 1;
                }
            }
        }
        assert_eq!(seen, 20);
    }
}
