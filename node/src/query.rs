//! PromQL on the node: the storage engine as a [`cairn_query::Querier`], and the service that
//! admits, bounds and runs queries off the async runtime. HTTP lives in `api::query`; the
//! evaluator itself in `cairn-query`.
//!
//! ```text
//!  api::query ─► QueryService::run ─► Admission (max_concurrent slots, max_queued waiting)
//!                                        │ permit
//!                                        ▼
//!                  spawn_blocking: QueryEngine::{instant,range}(EngineQuerier, deadline)
//!                                        │
//!                   EngineQuerier ─► Engine::select / read_samples (one tenant's shards)
//! ```

pub mod admission;
pub mod engine_querier;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_query::{QueryConfig, QueryEngine, QueryResult};
use cairn_storage::{Engine, Tenant};

pub use admission::Admission;
pub use engine_querier::EngineQuerier;

/// Why a query produced no result.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Query(#[from] cairn_query::Error),

    /// Every slot is busy and the queue is full.
    #[error(
        "too many queries in flight/queued (max_concurrent={max_concurrent}, max_queued={max_queued})"
    )]
    Overloaded {
        max_concurrent: usize,
        max_queued: usize,
    },

    /// The evaluation thread panicked or was cancelled (a bug; logged by the caller).
    #[error("query evaluation aborted: {reason}")]
    Aborted { reason: String },
}

/// When to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryRange {
    /// At one time (ms).
    Instant { t: i64 },
    /// At every `step` ms from `start` to `end` inclusive.
    Range { start: i64, end: i64, step: i64 },
}

/// The node's PromQL evaluator with its admission control. Shared by every request.
pub struct QueryService {
    engine: QueryEngine,
    admission: Admission,
}

impl QueryService {
    pub fn new(cfg: QueryConfig) -> Self {
        QueryService {
            admission: Admission::new(cfg.max_concurrent, cfg.max_queued),
            engine: QueryEngine::new(cfg),
        }
    }

    pub fn config(&self) -> &QueryConfig {
        self.engine.config()
    }

    /// Queries evaluating now.
    pub fn in_flight(&self) -> usize {
        self.admission.in_flight()
    }

    /// Queries waiting for a slot now.
    pub fn queued(&self) -> usize {
        self.admission.queued()
    }

    /// The deadline of a query starting now: the configured timeout, shortened by the
    /// request's own `timeout` if it has one.
    pub fn deadline(&self, requested: Option<Duration>) -> Instant {
        let max = self.config().timeout();
        Instant::now() + requested.map_or(max, |r| r.min(max))
    }

    /// Waits for a slot (until `deadline`), then evaluates `query` over `tenant`'s shards on a
    /// blocking thread. The slot is held until evaluation ends, even if the caller goes away,
    /// so abandoned queries still count against `max_concurrent`.
    pub async fn run(
        &self,
        storage: Arc<Engine>,
        tenant: Tenant,
        shards: Vec<u32>,
        query: String,
        range: QueryRange,
        deadline: Instant,
    ) -> Result<QueryResult, QueryError> {
        let permit = self.admission.enter(deadline).await?;
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let q = EngineQuerier::new(storage, tenant, shards);
            let r = match range {
                QueryRange::Instant { t } => engine.instant(&q, &query, t, Some(deadline)),
                QueryRange::Range { start, end, step } => {
                    engine.range(&q, &query, start, end, step, Some(deadline))
                }
            };
            r.map_err(QueryError::from)
        })
        .await
        .map_err(|e| QueryError::Aborted {
            reason: e.to_string(),
        })?
    }
}
