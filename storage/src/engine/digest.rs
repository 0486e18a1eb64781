//! `rollup_digest`: a fingerprint of one shard replica's rollups, to check that replicas are
//! identical. Rollup blocks are written only by applying Raft commands, in log order, so two
//! replicas at the same applied index must hold byte-identical `rollup_5m` and `rollup_1h`
//! ranges (raw chunks are not compared: each replica cuts them at its own checkpoints).

use cairn_model::Tier;
use xxhash_rust::xxh3::Xxh3;

use super::{Engine, bounded, cf};
use crate::error::Result;
use crate::keys::{rollup_cf, shard_prefix};

/// One rollup tier of a replica: its blocks and a hash over every key and value in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierDigest {
    pub blocks: u64,
    pub xxh3: u64,
}

/// A replica's rollups at one applied index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupDigest {
    pub applied_index: u64,
    pub rollup_5m: TierDigest,
    pub rollup_1h: TierDigest,
}

impl Engine {
    /// The digest of `shard`'s rollups, read from one RocksDB snapshot taken together with
    /// the applied index (under the shard's lock, which applies hold), so the two agree.
    pub fn rollup_digest(&self, shard: u32) -> Result<RollupDigest> {
        let db = &self.inner.db;
        let (applied_index, snap) = {
            let st = self.shard(shard)?.read().unwrap_or_else(|p| p.into_inner());
            (st.head.applied_index(), db.snapshot())
        };
        let prefix = shard_prefix(shard);
        let tier = |t: Tier| -> Result<TierDigest> {
            let name = rollup_cf(t).expect("a rollup tier has a column family");
            let mut ro = bounded(&prefix);
            ro.set_snapshot(&snap);
            let mut it = db.raw_iterator_cf_opt(cf(db, name), ro);
            it.seek(prefix);
            let mut h = Xxh3::new();
            let mut blocks = 0;
            while let (Some(k), Some(v)) = (it.key(), it.value()) {
                h.update(&(k.len() as u32).to_le_bytes());
                h.update(k);
                h.update(&(v.len() as u32).to_le_bytes());
                h.update(v);
                blocks += 1;
                it.next();
            }
            it.status()?;
            Ok(TierDigest {
                blocks,
                xxh3: h.digest(),
            })
        };
        Ok(RollupDigest {
            applied_index,
            rollup_5m: tier(Tier::Rollup5m)?,
            rollup_1h: tier(Tier::Rollup1h)?,
        })
    }
}
