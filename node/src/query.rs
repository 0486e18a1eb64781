//! PromQL on the node: the storage engine as a [`cairn_query::Querier`], and the service that
//! admits, bounds and runs queries off the async runtime. HTTP lives in `api::query`; the
//! evaluator itself in `cairn-query`.
//!
//! ```text
//!  api::query ─► QueryService::run_cached ─► ResultCache (steps older than min_age, per tenant)
//!                      │ the steps the cache cannot answer
//!                      ▼
//!               QueryService::run ─► Admission (max_concurrent slots, max_queued waiting)
//!                                        │ permit
//!                                        ▼
//!                  spawn_blocking: QueryEngine::{instant,range}(EngineQuerier, deadline)
//!                                        │
//!                   EngineQuerier ─► TenantShards: Engine::select / read_samples for local
//!                                    replicas, another node's replica for the rest
//! ```

pub mod admission;
pub mod cache_invalidator;
pub mod engine_querier;
pub mod tenant_shards;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use cairn_model::Clock;
use cairn_query::result_cache::{self, CacheCounters, Key, Notes, ResultCache};
use cairn_query::{
    QueryCacheConfig, QueryConfig, QueryEngine, QueryOptions, QueryResult, QueryStats, QueryValue,
    Resolution,
};

pub use admission::Admission;
pub use cache_invalidator::CacheInvalidator;
pub use engine_querier::EngineQuerier;
pub use tenant_shards::TenantShards;

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

/// A query as sent (the cache's key) and as parsed (what is evaluated), so the request's
/// parse is the only one.
#[derive(Debug, Clone)]
pub struct ParsedQuery {
    pub text: String,
    pub expr: promql_parser::parser::Expr,
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
    cache: Arc<ResultCache>,
    clock: Arc<dyn Clock>,
}

impl QueryService {
    pub fn new(
        cfg: QueryConfig,
        cache: &QueryCacheConfig,
        cache_counters: Arc<CacheCounters>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let max_steps = cfg.max_points_per_series + 1;
        QueryService {
            admission: Admission::new(cfg.max_concurrent, cfg.max_queued),
            engine: QueryEngine::new(cfg),
            cache: Arc::new(ResultCache::new(cache.clone(), max_steps, cache_counters)),
            clock,
        }
    }

    /// The result cache (`[query_cache]`), shared by queries and the write path.
    pub fn result_cache(&self) -> &ResultCache {
        &self.cache
    }

    /// Told of every batch any replica on this node applies, so that writes into the cached
    /// past (acknowledged by whichever node) invalidate this node's entries.
    pub fn cache_invalidator(&self) -> Arc<dyn cairn_consensus::ApplyObserver> {
        Arc::new(CacheInvalidator::new(
            self.cache.clone(),
            self.clock.clone(),
        ))
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
        shards: TenantShards,
        query: ParsedQuery,
        range: QueryRange,
        deadline: Instant,
        opts: QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        let permit = self.admission.enter(deadline).await?;
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let q = EngineQuerier::new(shards);
            let r = match range {
                QueryRange::Instant { t } => {
                    engine.instant_expr_with(&q, &query.expr, t, Some(deadline), &opts)
                }
                QueryRange::Range { start, end, step } => {
                    engine.range_expr_with(&q, &query.expr, start, end, step, Some(deadline), &opts)
                }
            };
            r.map_err(QueryError::from)
        })
        .await
        .map_err(|e| QueryError::Aborted {
            reason: e.to_string(),
        })?
    }

    /// `run` through the result cache: a range query takes the steps the cache holds and
    /// evaluates only the rest; an instant query is answered whole or evaluated. `use_cache`
    /// false (`nocache=1`) or a query `result_cache::cacheable` refuses skips it, and so does
    /// a tenant with shards read from other nodes (this node's cache only learns of writes it
    /// applies).
    pub async fn run_cached(
        &self,
        use_cache: bool,
        shards: TenantShards,
        query: ParsedQuery,
        range: QueryRange,
        deadline: Instant,
        opts: QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        let cache = &self.cache;
        // A forced resolution is a different answer from the automatic one under the same
        // query text: it is evaluated, never cached.
        if !use_cache
            || !cache.enabled()
            || !result_cache::cacheable(&query.expr)
            || shards.has_remote()
            || opts.resolution != Resolution::Auto
        {
            return self.run(shards, query, range, deadline, opts).await;
        }
        let tenant = shards.tenant().clone();
        // Both read before anything is evaluated (see result_cache's proof of exactness).
        let generation = cache.generation(&tenant);
        let safe_until = self.clock.now_ms().saturating_sub(cache.min_age_ms());
        let m = cache.counters();
        match range {
            QueryRange::Instant { t } => {
                let key = Key::instant(&tenant, &query.text, t);
                if let Some((value, notes)) = cache.lookup_instant(&key, generation) {
                    m.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(from_cache(value, notes));
                }
                m.misses.fetch_add(1, Ordering::Relaxed);
                let r = self.run(shards, query, range, deadline, opts).await?;
                if t <= safe_until {
                    cache.store_instant(key, generation, &r.value, &notes_of(&r));
                }
                Ok(r)
            }
            QueryRange::Range { start, end, step } => {
                let key = Key::range(&tenant, &query.text, start, step);
                let (plan, cached, cached_notes) =
                    cache.lookup_range(&key, generation, start, end, step);
                let Some(tail) = plan.evaluate else {
                    m.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(from_cache(QueryValue::Matrix(cached), cached_notes));
                };
                let counter = if plan.cached.is_some() {
                    &m.partial
                } else {
                    &m.misses
                };
                counter.fetch_add(1, Ordering::Relaxed);
                let tail_range = QueryRange::Range {
                    start: tail.first,
                    end,
                    step,
                };
                let mut r = self.run(shards, query, tail_range, deadline, opts).await?;
                let QueryValue::Matrix(evaluated) =
                    std::mem::replace(&mut r.value, QueryValue::Matrix(Vec::new()))
                else {
                    // A range evaluation always yields a matrix; anything else is not ours to cache.
                    return Err(QueryError::Aborted {
                        reason: "range evaluation returned a non-matrix value".into(),
                    });
                };
                let series = result_cache::merge(cached, evaluated);
                let tail_notes = notes_of(&r);
                cache.store_range(
                    key,
                    generation,
                    start,
                    end,
                    step,
                    safe_until,
                    &series,
                    &tail_notes,
                );
                let mut notes = cached_notes;
                notes.absorb(&tail_notes);
                r.warnings = notes.warnings;
                r.infos = notes.infos;
                r.stats.tiers = notes.tiers;
                r.stats.approximate = notes.approximate;
                r.value = QueryValue::Matrix(series);
                Ok(r)
            }
        }
    }
}

/// A result answered from the cache, with the annotations stored with it; nothing loaded
/// from storage.
fn from_cache(value: QueryValue, notes: Notes) -> QueryResult {
    QueryResult {
        value,
        warnings: notes.warnings,
        infos: notes.infos,
        stats: QueryStats {
            tiers: notes.tiers,
            approximate: notes.approximate,
            ..QueryStats::default()
        },
    }
}

fn notes_of(r: &QueryResult) -> Notes {
    Notes {
        warnings: r.warnings.clone(),
        infos: r.infos.clone(),
        tiers: r.stats.tiers.clone(),
        approximate: r.stats.approximate,
    }
}
