//! `TenantShards`: one tenant's shards as every read path sees them (PromQL, series, labels,
//! export): the local engine for shards this node holds a replica of, a replica on another
//! node (`cluster/remote_read.rs`) for the others.
//!
//! ```text
//!  select(matchers) ─► engine.select(local shards) ∪ remote_select(each remote shard)
//!  read_many(refs)  ─► local refs: engine, in parallel (rayon)
//!                      remote refs: one ReadSamples request per shard
//! ```
//! Its methods block: call them from a blocking thread (remote reads wait on the runtime).

use std::sync::Arc;

use cairn_model::{Bucket, Matcher, Sample, Tenant, Tier};
use cairn_storage::{Engine, SeriesRef};

use crate::cluster::Cluster;
use crate::error::{Error, Result};

#[derive(Clone)]
pub struct TenantShards {
    engine: Arc<Engine>,
    cluster: Option<Arc<Cluster>>,
    runtime: Option<tokio::runtime::Handle>,
    tenant: Tenant,
    local: Vec<u32>,
    remote: Vec<u32>,
    /// `tier_bounds`, worked out once (remote shards are asked over the network).
    bounds: std::sync::OnceLock<[i64; 3]>,
}

impl TenantShards {
    /// `shards` split by whether this node holds a replica. Call from within the runtime.
    pub fn new(
        engine: Arc<Engine>,
        cluster: Arc<Cluster>,
        tenant: Tenant,
        shards: Vec<u32>,
    ) -> Self {
        let (local, remote) = shards.into_iter().partition(|&s| cluster.has_replica(s));
        TenantShards {
            engine,
            cluster: Some(cluster),
            runtime: tokio::runtime::Handle::try_current().ok(),
            tenant,
            local,
            remote,
            bounds: std::sync::OnceLock::new(),
        }
    }

    /// Every shard read from `engine` (tests and tools without a cluster).
    pub fn local_only(engine: Arc<Engine>, tenant: Tenant, shards: Vec<u32>) -> Self {
        TenantShards {
            engine,
            cluster: None,
            runtime: None,
            tenant,
            local: shards,
            remote: Vec::new(),
            bounds: std::sync::OnceLock::new(),
        }
    }

    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// The shards with a replica on this node.
    pub fn local(&self) -> &[u32] {
        &self.local
    }

    /// Whether some shard is read from another node.
    pub fn has_remote(&self) -> bool {
        !self.remote.is_empty()
    }

    pub fn contains(&self, shard: u32) -> bool {
        self.local.contains(&shard) || self.remote.contains(&shard)
    }

    /// Runs a remote read to completion on the runtime.
    fn remote<T>(&self, f: impl AsyncFnOnce(&Cluster) -> Result<T>, shard: u32) -> Result<T> {
        match (&self.cluster, &self.runtime) {
            (Some(c), Some(rt)) => rt.block_on(f(c)),
            _ => Err(cairn_consensus::Error::NoReplica { shard }.into()),
        }
    }

    /// Series matching every matcher that may have samples in `[mint, maxt]`.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<SeriesRef>> {
        let tenant = self.tenant.as_str();
        let mut out = self
            .engine
            .select(tenant, &self.local, matchers, mint, maxt)
            .map_err(Error::from)?;
        for &shard in &self.remote {
            out.extend(self.remote(
                async |c| c.remote_select(tenant, shard, matchers, mint, maxt).await,
                shard,
            )?);
        }
        Ok(out)
    }

    /// Replaces `out` with the samples of series `sid` of `shard` in `[mint, maxt]`.
    pub fn read_samples(
        &self,
        shard: u32,
        sid: u64,
        mint: i64,
        maxt: i64,
        out: &mut Vec<Sample>,
    ) -> Result<()> {
        self.read_many(&[(shard, sid)], mint, maxt, std::slice::from_mut(out))
    }

    /// `out[i]` receives the samples of `refs[i]` (shard, series id): local series are read in
    /// parallel, remote ones with one request per shard.
    pub fn read_many(
        &self,
        refs: &[(u32, u64)],
        mint: i64,
        maxt: i64,
        out: &mut [Vec<Sample>],
    ) -> Result<()> {
        self.read_batch(
            refs,
            out,
            |shard, sid, o| self.engine.read_samples(shard, sid, mint, maxt, o),
            async |c, shard, sids| c.remote_samples(shard, sids, mint, maxt).await,
        )
    }

    /// Replaces `out` with the `tier` buckets of series `sid` of `shard` ending in
    /// `(mint, maxt]`, stitched as the replica reads them (a local one, or a holder of the
    /// shard asked over the network).
    pub fn read_buckets(
        &self,
        shard: u32,
        sid: u64,
        tier: Tier,
        mint: i64,
        maxt: i64,
        out: &mut Vec<Bucket>,
    ) -> Result<()> {
        self.read_buckets_many(&[(shard, sid)], tier, mint, maxt, std::slice::from_mut(out))
    }

    /// `out[i]` receives the `tier` buckets of `refs[i]` (shard, series id), read as
    /// `read_many` reads samples.
    pub fn read_buckets_many(
        &self,
        refs: &[(u32, u64)],
        tier: Tier,
        mint: i64,
        maxt: i64,
        out: &mut [Vec<Bucket>],
    ) -> Result<()> {
        self.read_batch(
            refs,
            out,
            |shard, sid, o| self.engine.read_buckets(shard, sid, tier, mint, maxt, o),
            async |c, shard, sids| c.remote_buckets(shard, sids, tier, mint, maxt).await,
        )
    }

    /// `out[i]` receives what `local` (a replica on this node, read in parallel on rayon's
    /// pool) or `remote` (one request per shard held elsewhere) reads of `refs[i]`.
    fn read_batch<T: Send>(
        &self,
        refs: &[(u32, u64)],
        out: &mut [Vec<T>],
        local: impl Fn(u32, u64, &mut Vec<T>) -> cairn_storage::Result<()> + Sync,
        remote: impl AsyncFn(&Cluster, u32, &[u64]) -> Result<Vec<Vec<T>>>,
    ) -> Result<()> {
        use rayon::prelude::*;
        if let ([(shard, sid)], [o]) = (refs, &mut *out)
            && !self.remote.contains(shard)
        {
            // One series: read here, not through rayon's pool (a hop to another thread).
            return Ok(local(*shard, *sid, o)?);
        }
        refs.par_iter()
            .zip(out.par_iter_mut())
            .filter(|((shard, _), _)| !self.remote.contains(shard))
            .try_for_each(|(&(shard, sid), o)| local(shard, sid, o))
            .map_err(Error::from)?;
        for &shard in &self.remote {
            let at: Vec<usize> = (0..refs.len()).filter(|&i| refs[i].0 == shard).collect();
            if at.is_empty() {
                continue;
            }
            let sids: Vec<u64> = at.iter().map(|&i| refs[i].1).collect();
            let got = self.remote(async |c| remote(c, shard, &sids).await, shard)?;
            for (i, v) in at.into_iter().zip(got) {
                out[i] = v;
            }
        }
        Ok(())
    }

    /// The oldest time each tier (raw, 5m, 1h) may hold this tenant's data: just after the
    /// latest retention cut-off applied on its shards (`i64::MIN` where none was), remote
    /// shards asked once per query. A holder that cannot be reached counts as no cut-off:
    /// its reads fail on their own, with the shard named.
    pub fn tier_bounds(&self) -> [i64; 3] {
        *self.bounds.get_or_init(|| {
            let mut cut = self.engine.tier_bounds(self.tenant.as_str(), &self.local);
            for &shard in &self.remote {
                let tenant = self.tenant.as_str();
                if let Ok(r) =
                    self.remote(async |c| c.remote_tier_bounds(tenant, shard).await, shard)
                {
                    for (c, r) in cut.iter_mut().zip(r) {
                        *c = (*c).max(r);
                    }
                }
            }
            cut.map(|c| if c == i64::MIN { c } else { c + 1 })
        })
    }

    /// Label names of the matching series (all series without matchers), within `range`.
    pub fn label_names(
        &self,
        matchers: &[Matcher],
        range: Option<(i64, i64)>,
    ) -> Result<Vec<String>> {
        self.labels(None, matchers, range)
    }

    /// Values of label `name` of the matching series, within `range`.
    pub fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        range: Option<(i64, i64)>,
    ) -> Result<Vec<String>> {
        self.labels(Some(name), matchers, range)
    }

    fn labels(
        &self,
        name: Option<&str>,
        matchers: &[Matcher],
        range: Option<(i64, i64)>,
    ) -> Result<Vec<String>> {
        let tenant = self.tenant.as_str();
        let mut all: std::collections::BTreeSet<String> = match name {
            None => self
                .engine
                .label_names(tenant, &self.local, matchers, range)
                .map_err(Error::from)?,
            Some(n) => self
                .engine
                .label_values(tenant, &self.local, n, matchers, range)
                .map_err(Error::from)?,
        }
        .into_iter()
        .collect();
        for &shard in &self.remote {
            all.extend(self.remote(
                async |c| c.remote_labels(tenant, shard, name, matchers, range).await,
                shard,
            )?);
        }
        Ok(all.into_iter().collect())
    }
}
