//! `CacheInvalidator`: tells the query result cache about every write batch a shard replica on
//! this node applies (the Raft state machine calls it, on followers too, before a read
//! barrier there can pass the write), so that a write into the cached past, acknowledged by
//! whichever node, discards its tenant's entries here.

use std::sync::Arc;

use cairn_model::{Clock, Tenant};
use cairn_query::ResultCache;
use cairn_storage::ApplyOutcome;

pub struct CacheInvalidator {
    cache: Arc<ResultCache>,
    clock: Arc<dyn Clock>,
}

impl CacheInvalidator {
    pub fn new(cache: Arc<ResultCache>, clock: Arc<dyn Clock>) -> Self {
        CacheInvalidator { cache, clock }
    }
}

impl cairn_consensus::ApplyObserver for CacheInvalidator {
    fn applied(&self, _shard: u32, batch: &[u8], outcome: &ApplyOutcome) {
        let Some(oldest) = outcome.oldest_written else {
            return;
        };
        let Some(tenant) =
            cairn_model::write_batch::tenant_of(batch).and_then(|t| Tenant::new(t).ok())
        else {
            return;
        };
        if let Some(hook) = self.cache.write_hook(&tenant, || oldest) {
            // Read after the apply: see the result cache's proof of exactness.
            hook.applied(self.clock.now_ms());
        }
    }
}
