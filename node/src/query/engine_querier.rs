//! `EngineQuerier`: the storage engine seen by the PromQL evaluator, for one tenant.
//!
//! A series handle's id packs the shard and the series id, `shard << 48 | sid`, so the
//! evaluator can hand it back without the querier keeping a table of selected series.

use cairn_model::{Bucket, Matcher, Sample, Tier};
use cairn_query::{Error, Querier, Result, SeriesHandle, TierBounds};

use super::TenantShards;

const SID_BITS: u32 = 48;
const SID_MASK: u64 = (1 << SID_BITS) - 1;

/// Reads one tenant's series from its shards and nothing else.
pub struct EngineQuerier {
    shards: TenantShards,
}

impl EngineQuerier {
    pub fn new(shards: TenantShards) -> Self {
        EngineQuerier { shards }
    }

    /// Refuses a handle outside this tenant's shards rather than read another tenant's data
    /// (handles only come from `select`).
    fn check(&self, id: u64) -> Result<(u32, u64)> {
        let (shard, sid) = decode_id(id);
        if !self.shards.contains(shard) {
            return Err(Error::Execution {
                message: format!("series handle {id:#x} is not of this tenant's shards"),
            });
        }
        Ok((shard, sid))
    }

    /// [`check`](Self::check) of a whole batch.
    fn check_all(&self, ids: &[u64]) -> Result<Vec<(u32, u64)>> {
        ids.iter().map(|&id| self.check(id)).collect()
    }
}

/// Packs (shard, sid) into a handle id, or says why it does not fit.
pub fn encode_id(shard: u32, sid: u64) -> Result<u64> {
    if shard >= 1 << (64 - SID_BITS) || sid > SID_MASK {
        return Err(Error::Execution {
            message: format!(
                "series {sid} of shard {shard} does not fit a query handle \
                 (shard < 65536 and series id < 2^48 required)"
            ),
        });
    }
    Ok(u64::from(shard) << SID_BITS | sid)
}

pub fn decode_id(id: u64) -> (u32, u64) {
    ((id >> SID_BITS) as u32, id & SID_MASK)
}

/// A read failure as the query crate's error: what no replica can serve now is
/// `Unavailable` (503, retry), a refused label set is the model's error (400), anything else
/// a failed read (500).
fn query_error(e: crate::error::Error) -> Error {
    use crate::error::Error as N;
    match e {
        N::Model(m) | N::Storage(cairn_storage::Error::Model(m)) => Error::Model(m),
        e if e.is_retryable() => Error::Unavailable {
            what: e
                .shard()
                .map_or_else(|| "a shard".to_string(), |s| format!("shard {s}")),
            reason: e.to_string(),
        },
        other => Error::Read {
            source: Box::new(other),
        },
    }
}

impl Querier for EngineQuerier {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<SeriesHandle>> {
        let refs = self
            .shards
            .select(matchers, mint, maxt)
            .map_err(query_error)?;
        refs.into_iter()
            .map(|r| {
                Ok(SeriesHandle {
                    id: encode_id(r.shard, r.sid)?,
                    labels: r.labels,
                })
            })
            .collect()
    }

    fn samples(&self, id: u64, mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<()> {
        let (shard, sid) = self.check(id)?;
        self.shards
            .read_samples(shard, sid, mint, maxt, out)
            .map_err(query_error)
    }

    /// Reads the batch at once: local series in parallel on rayon's pool (decoding chunks is
    /// most of a query's work), remote ones one request per shard.
    fn samples_many(
        &self,
        ids: &[u64],
        mint: i64,
        maxt: i64,
        out: &mut [Vec<Sample>],
    ) -> Result<()> {
        let refs = self.check_all(ids)?;
        self.shards
            .read_many(&refs, mint, maxt, out)
            .map_err(query_error)
    }

    fn tier_bounds(&self) -> TierBounds {
        let [raw_from, rollup_5m_from, rollup_1h_from] = self.shards.tier_bounds();
        TierBounds {
            raw_from,
            rollup_5m_from,
            rollup_1h_from,
        }
    }

    fn buckets(
        &self,
        id: u64,
        tier: Tier,
        mint: i64,
        maxt: i64,
        out: &mut Vec<Bucket>,
    ) -> Result<()> {
        let (shard, sid) = self.check(id)?;
        self.shards
            .read_buckets(shard, sid, tier, mint, maxt, out)
            .map_err(query_error)
    }

    /// The batch at once, local series in parallel (decoding blocks is most of the work).
    fn buckets_many(
        &self,
        ids: &[u64],
        tier: Tier,
        mint: i64,
        maxt: i64,
        out: &mut [Vec<Bucket>],
    ) -> Result<()> {
        let refs = self.check_all(ids)?;
        self.shards
            .read_buckets_many(&refs, tier, mint, maxt, out)
            .map_err(query_error)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cairn_model::{Tenant, WriteBatchBuilder};
    use cairn_storage::Engine;

    use super::*;

    #[test]
    fn ids_round_trip_and_overflow_is_an_error() {
        for (shard, sid) in [(0, 0), (15, 7), (65_535, SID_MASK)] {
            assert_eq!(decode_id(encode_id(shard, sid).unwrap()), (shard, sid));
        }
        assert!(encode_id(65_536, 0).is_err());
        assert!(encode_id(0, 1 << 48).is_err());
    }

    fn write(engine: &Engine, tenant: &str, shards: &[u32], name: &str, team: &str) {
        let mut b = WriteBatchBuilder::sharded(Tenant::new(tenant).unwrap(), shards.to_vec());
        b.begin_group([("team", team)]).unwrap();
        b.add_series(name, [Sample::new(1000, 1.0), Sample::new(2000, 2.0)]);
        for (shard, batch) in b.finish_sharded() {
            engine.apply_next(shard, batch).unwrap();
        }
    }

    #[test]
    fn reads_only_its_tenants_series_from_storage() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = cairn_storage::StorageConfig {
            data_dir: dir.path().to_path_buf(),
            shards: 8,
            ..Default::default()
        };
        let engine = Arc::new(Engine::open(cfg).unwrap());
        let (a_shards, b_shards) = (vec![0, 1, 2, 3], vec![4, 5, 6, 7]);
        write(&engine, "a", &a_shards, "m", "a");
        write(&engine, "b", &b_shards, "m", "b");
        let qa = EngineQuerier::new(TenantShards::local_only(
            engine.clone(),
            Tenant::new("a").unwrap(),
            a_shards,
        ));
        let sel = qa
            .select(&[Matcher::equal("__name__", "m")], 0, 10_000)
            .unwrap();
        assert_eq!(sel.len(), 1);
        assert_eq!(sel[0].labels.get("team"), "a");
        let mut out = Vec::new();
        qa.samples(sel[0].id, 1500, 10_000, &mut out).unwrap();
        assert_eq!(out, vec![Sample::new(2000, 2.0)]);
        // A handle into another tenant's shard is refused, not read.
        let qb = EngineQuerier::new(TenantShards::local_only(
            engine.clone(),
            Tenant::new("b").unwrap(),
            b_shards,
        ));
        let b_sel = qb
            .select(&[Matcher::equal("__name__", "m")], 0, 10_000)
            .unwrap();
        assert_eq!(b_sel[0].labels.get("team"), "b");
        assert!(qa.samples(b_sel[0].id, 0, 10_000, &mut out).is_err());
        engine.shutdown();
    }
}
