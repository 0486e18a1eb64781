//! Rollup reads of a shard this node holds no replica of, answered by a node that does (as
//! `remote_read` does for samples): the buckets of some series, and a tenant's retention
//! cut-offs there, which the query planner needs to know what each tier still holds.
//!
//! ```text
//!  this node ── Cluster.ReadBuckets / TierBounds ──► a holder of the shard
//!                                                     ├─ read barrier for the shard
//!                                                     └─ Engine::read_buckets / tier_bounds
//! ```
//! A bucket travels as 11 fixed64 numbers (`SeriesBuckets`), floats as their bits, so NaN
//! payloads and -0.0 arrive as they left.

use std::sync::Arc;

use cairn_model::{Bucket, Tier};
use cairn_proto::cluster::{
    ReadBucketsReply, ReadBucketsRequest, SeriesBuckets, TierBoundsReply, TierBoundsRequest,
};
use tonic::Status;

use super::Cluster;
use super::remote_read::{blocking, one_per_id, ready_to_read};
use crate::error::{Error, Result};

/// Numbers per bucket in `SeriesBuckets.fields`.
const FIELDS: usize = 11;

impl Cluster {
    /// The `tier` buckets of series `sids` of `shard` ending in `(mint, maxt]`, one vector
    /// per id.
    pub async fn remote_buckets(
        &self,
        shard: u32,
        sids: &[u64],
        tier: Tier,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Vec<Bucket>>> {
        let req = ReadBucketsRequest {
            shard,
            sids: sids.to_vec(),
            tier: tier_to_proto(tier),
            mint,
            maxt,
            from: self.node_id(),
        };
        let reply = self
            .ask_holders(shard, &req, async |mut c, req| c.read_buckets(req).await)
            .await?;
        one_per_id(shard, reply.series, sids.len())?
            .iter()
            .map(|s| buckets_from_proto(shard, s))
            .collect()
    }

    /// `tenant`'s retention cut-offs (raw, 5m, 1h) applied on `shard`.
    pub async fn remote_tier_bounds(&self, tenant: &str, shard: u32) -> Result<[i64; 3]> {
        let req = TierBoundsRequest {
            shard,
            tenant: tenant.to_string(),
            from: self.node_id(),
        };
        let reply = self
            .ask_holders(shard, &req, async |mut c, req| c.tier_bounds(req).await)
            .await?;
        reply.cutoffs.try_into().map_err(|_| Error::BadReply {
            shard,
            reason: "tier bounds without three cut-offs",
        })
    }
}

/// `Cluster.ReadBuckets` on a holder of the shard.
pub(crate) async fn serve_read_buckets(
    c: &Arc<Cluster>,
    r: ReadBucketsRequest,
) -> Result<ReadBucketsReply, Status> {
    let tier = match r.tier {
        1 => Tier::Rollup5m,
        2 => Tier::Rollup1h,
        t => return Err(Status::invalid_argument(format!("unknown rollup tier {t}"))),
    };
    ready_to_read(c, r.shard).await?;
    let engine = c.groups.engine().clone();
    let series = blocking(move || {
        let mut buckets = Vec::new();
        r.sids
            .iter()
            .map(|&sid| {
                engine.read_buckets(r.shard, sid, tier, r.mint, r.maxt, &mut buckets)?;
                Ok(buckets_to_proto(&buckets))
            })
            .collect::<cairn_storage::Result<Vec<_>>>()
    })
    .await?;
    Ok(ReadBucketsReply { series })
}

/// `Cluster.TierBounds` on a holder of the shard.
pub(crate) async fn serve_tier_bounds(
    c: &Arc<Cluster>,
    r: TierBoundsRequest,
) -> Result<TierBoundsReply, Status> {
    ready_to_read(c, r.shard).await?;
    let cutoffs = c.groups.engine().tier_bounds(&r.tenant, &[r.shard]);
    Ok(TierBoundsReply {
        cutoffs: cutoffs.to_vec(),
    })
}

fn tier_to_proto(t: Tier) -> u32 {
    match t {
        Tier::Rollup1h => 2,
        _ => 1,
    }
}

fn buckets_to_proto(buckets: &[Bucket]) -> SeriesBuckets {
    let mut fields = Vec::with_capacity(buckets.len() * FIELDS);
    for b in buckets {
        fields.extend([
            b.end as u64,
            b.count,
            b.sum.to_bits(),
            b.min.to_bits(),
            b.max.to_bits(),
            b.first_t as u64,
            b.first_v.to_bits(),
            b.last_t as u64,
            b.last_v.to_bits(),
            b.reset_sum.to_bits(),
            b.stale_t.unwrap_or(i64::MIN) as u64,
        ]);
    }
    SeriesBuckets { fields }
}

fn buckets_from_proto(shard: u32, s: &SeriesBuckets) -> Result<Vec<Bucket>> {
    if !s.fields.len().is_multiple_of(FIELDS) {
        return Err(Error::BadReply {
            shard,
            reason: "bucket fields not a multiple of 11",
        });
    }
    Ok(s.fields
        .chunks_exact(FIELDS)
        .map(|f| Bucket {
            end: f[0] as i64,
            count: f[1],
            sum: f64::from_bits(f[2]),
            min: f64::from_bits(f[3]),
            max: f64::from_bits(f[4]),
            first_t: f[5] as i64,
            first_v: f64::from_bits(f[6]),
            last_t: f[7] as i64,
            last_v: f64::from_bits(f[8]),
            reset_sum: f64::from_bits(f[9]),
            stale_t: (f[10] as i64 != i64::MIN).then_some(f[10] as i64),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cross_the_wire_bit_for_bit() {
        let stale = f64::from_bits(cairn_model::STALE_NAN_BITS);
        let samples = [
            (1_000, 2.5),
            (2_000, -0.0),
            (3_000, f64::NAN),
            (4_000, stale),
        ]
        .map(|(t, v)| cairn_model::Sample::new(t, v));
        let mut b = vec![
            Bucket::of_samples(300_000, &samples),
            Bucket::empty(600_000),
        ];
        b[1].push(400_000, 7.0);
        let back = buckets_from_proto(0, &buckets_to_proto(&b)).unwrap();
        assert_eq!(back.len(), 2);
        for (x, y) in b.iter().zip(&back) {
            assert_eq!(
                (x.end, x.count, x.first_t, x.last_t, x.stale_t),
                (y.end, y.count, y.first_t, y.last_t, y.stale_t)
            );
            for (p, q) in [
                (x.sum, y.sum),
                (x.min, y.min),
                (x.max, y.max),
                (x.first_v, y.first_v),
                (x.last_v, y.last_v),
                (x.reset_sum, y.reset_sum),
            ] {
                assert_eq!(p.to_bits(), q.to_bits());
            }
        }
        assert!(buckets_from_proto(0, &SeriesBuckets { fields: vec![1, 2] }).is_err());
    }
}
