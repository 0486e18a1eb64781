//! Support for Cairn's criterion benchmarks (`benches/benches/*.rs`): a PromQL querier over a
//! storage engine on its own, without the node (no cluster, no read barrier, no remote
//! shards), reading a batch of series in parallel as the node's querier does for its local
//! shards. The load generator lives in `cairn-tsbs`, the comparison scripts beside this crate.

use std::sync::Arc;

use cairn_model::{Matcher, Sample, Tenant};
use cairn_query::{Error, Querier, Result, SeriesHandle};
use cairn_storage::Engine;
use rayon::prelude::*;

/// Series ids pack the shard above this many bits (the node's querier does the same).
const SID_BITS: u32 = 48;

/// One tenant's series in `shards` of a local engine, as the PromQL engine sees them.
pub struct LocalQuerier {
    engine: Arc<Engine>,
    tenant: Tenant,
    shards: Vec<u32>,
}

impl LocalQuerier {
    pub fn new(engine: Arc<Engine>, tenant: Tenant, shards: Vec<u32>) -> Self {
        LocalQuerier {
            engine,
            tenant,
            shards,
        }
    }
}

fn read_err(e: cairn_storage::Error) -> Error {
    Error::Read {
        source: Box::new(e),
    }
}

fn split(id: u64) -> (u32, u64) {
    ((id >> SID_BITS) as u32, id & ((1 << SID_BITS) - 1))
}

impl Querier for LocalQuerier {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<SeriesHandle>> {
        let refs = self
            .engine
            .select(self.tenant.as_str(), &self.shards, matchers, mint, maxt)
            .map_err(read_err)?;
        Ok(refs
            .into_iter()
            .map(|r| SeriesHandle {
                id: u64::from(r.shard) << SID_BITS | r.sid,
                labels: r.labels,
            })
            .collect())
    }

    fn samples(&self, id: u64, mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<()> {
        let (shard, sid) = split(id);
        self.engine
            .read_samples(shard, sid, mint, maxt, out)
            .map_err(read_err)
    }

    fn samples_many(
        &self,
        ids: &[u64],
        mint: i64,
        maxt: i64,
        out: &mut [Vec<Sample>],
    ) -> Result<()> {
        ids.par_iter()
            .zip(out.par_iter_mut())
            .try_for_each(|(&id, o)| self.samples(id, mint, maxt, o))
    }
}
