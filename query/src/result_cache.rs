//! `ResultCache`: answers of PromQL queries kept in memory for the steps that can no longer
//! change, so a dashboard re-asking the same range query evaluates only its recent tail
//! (the idea of VictoriaMetrics' rollup result cache, with exact invalidation).
//!
//! ```text
//!  range request [start, end] ─► key (tenant, query, step, start mod step)
//!     entry [cs, ce] at the tenant's generation? ── plan() ──► cached steps [start, min(end, ce)]
//!                                                     └──────► evaluate [max(start, ce+step), end]
//!     merge() by labels ─► response;  store_span() ─► entry extended with the safe new steps
//!  write committed with a sample ≤ now − min_age ─► tenant generation += 1 (entries discarded)
//! ```
//!
//! Why it is exact. A step at `t` of an expression without negative `offset` or `@` reads
//! only samples at or before `t`, and every step is evaluated independently of the others.
//! A step is stored only if `t ≤ Q − min_age`, `Q` being taken before the evaluation read
//! anything. A write bumps its tenant's generation after it is applied unless all its samples
//! are newer than `W − min_age`, `W` being read after the apply: such a write could change a
//! stored step only if `t ≥ ts > W − min_age ≥ Q − min_age`, i.e. never; and a query with
//! `Q > W` started after the apply and saw the samples. Entries carry the generation read
//! before their evaluation and are stored only if it is still current afterwards.
//!
//! This module holds no I/O: the planner functions (`plan`) are pure, the LRU (`lru`) is a
//! plain map, and the node's `QueryService::run_cached` drives them around evaluations.

mod lru;
mod plan;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cairn_model::Tenant;

use crate::config::QueryCacheConfig;
use crate::value::{QueryValue, Series};
use lru::{Lru, Value};
pub use plan::{Plan, Span, cacheable, merge, plan, series_bytes, slice, store_span};

/// Bytes charged per point (timestamp and value), and per label set and entry besides their text.
pub(crate) const POINT_BYTES: usize = 16;
pub(crate) const SERIES_OVERHEAD: usize = 48;
const ENTRY_OVERHEAD: usize = 128;

/// The cache's counters, for the node's `/metrics`.
#[derive(Debug, Default)]
pub struct CacheCounters {
    /// Queries answered wholly from the cache.
    pub hits: AtomicU64,
    /// Cacheable queries evaluated in full (no usable entry).
    pub misses: AtomicU64,
    /// Queries answered partly from the cache, the newer steps evaluated.
    pub partial: AtomicU64,
    /// Tenant generations advanced by writes into the cached past.
    pub invalidations: AtomicU64,
    /// Approximate bytes held (a gauge).
    pub bytes: AtomicU64,
}

/// Where an entry lives: the query text as sent, per tenant; a range entry per step and
/// phase (`start mod step`), an instant entry per evaluation time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Range {
        tenant: Tenant,
        query: String,
        step: i64,
        phase: i64,
    },
    Instant {
        tenant: Tenant,
        query: String,
        t: i64,
    },
}

impl Key {
    pub fn range(tenant: &Tenant, query: &str, start: i64, step: i64) -> Key {
        Key::Range {
            tenant: tenant.clone(),
            query: query.to_string(),
            step,
            phase: start.rem_euclid(step),
        }
    }

    pub fn instant(tenant: &Tenant, query: &str, t: i64) -> Key {
        Key::Instant {
            tenant: tenant.clone(),
            query: query.to_string(),
            t,
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Key::Range { tenant, query, .. } | Key::Instant { tenant, query, .. } => {
                tenant.as_str().len() + query.len() + 32
            }
        }
    }
}

/// The annotations of a stored answer, returned with it (an annotation comes from some step
/// and series of the answer, so the union over parts is the whole answer's).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notes {
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
    /// The storage tiers the answer was read from (`QueryStats::tiers`), and whether some
    /// part of it is approximate, so an answer from the cache still names them.
    pub tiers: Vec<cairn_model::Tier>,
    pub approximate: bool,
}

impl Notes {
    /// Adds `other`'s annotations not already present.
    pub fn absorb(&mut self, other: &Notes) {
        for w in &other.warnings {
            if !self.warnings.contains(w) {
                self.warnings.push(w.clone());
            }
        }
        for i in &other.infos {
            if !self.infos.contains(i) {
                self.infos.push(i.clone());
            }
        }
        for t in &other.tiers {
            if let Err(i) = self.tiers.binary_search(t) {
                self.tiers.insert(i, *t);
            }
        }
        self.approximate |= other.approximate;
    }

    fn bytes(&self) -> usize {
        self.warnings
            .iter()
            .chain(&self.infos)
            .map(|s| s.len() + SERIES_OVERHEAD)
            .sum()
    }
}

/// Applied after a write reaches its shard's head: bumps the tenant's generation if any of the
/// write's samples is old enough to be in a cached step.
pub struct WriteHook {
    generation: Arc<AtomicU64>,
    oldest_sample: i64,
    min_age_ms: i64,
    counters: Arc<CacheCounters>,
}

impl WriteHook {
    /// Call once the batch is applied (or failed: bumping then is merely a wasted entry).
    pub fn applied(self, now_ms: i64) {
        if self.oldest_sample <= now_ms.saturating_sub(self.min_age_ms) {
            self.generation.fetch_add(1, Ordering::SeqCst);
            self.counters.invalidations.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The query result cache: entries under an LRU byte bound, and one generation per
/// tenant that writes into the past advance.
pub struct ResultCache {
    cfg: QueryCacheConfig,
    /// Most steps one range entry keeps.
    max_steps: i64,
    generations: Mutex<HashMap<Tenant, Arc<AtomicU64>>>,
    lru: Mutex<Lru>,
    counters: Arc<CacheCounters>,
}

impl ResultCache {
    pub fn new(cfg: QueryCacheConfig, max_steps: u64, counters: Arc<CacheCounters>) -> Self {
        ResultCache {
            cfg,
            max_steps: max_steps.clamp(1, i64::MAX as u64) as i64,
            generations: Mutex::new(HashMap::new()),
            lru: Mutex::new(Lru::default()),
            counters,
        }
    }

    /// False when `max_bytes` is 0: nothing is looked up, stored or invalidated.
    pub fn enabled(&self) -> bool {
        self.cfg.max_bytes > 0
    }

    pub fn min_age_ms(&self) -> i64 {
        self.cfg.min_age_ms
    }

    pub fn counters(&self) -> &CacheCounters {
        &self.counters
    }

    fn generation_cell(&self, tenant: &Tenant) -> Arc<AtomicU64> {
        let mut g = self.generations.lock().unwrap_or_else(|p| p.into_inner());
        g.entry(tenant.clone()).or_default().clone()
    }

    /// `tenant`'s generation now. Read it before evaluating and pass it to lookups and stores.
    pub fn generation(&self, tenant: &Tenant) -> u64 {
        self.generation_cell(tenant).load(Ordering::SeqCst)
    }

    /// A hook for one batch of `tenant` to run after it is applied; `oldest_sample` (its
    /// smallest timestamp, `i64::MIN` if unknown) is only computed when the cache is on.
    pub fn write_hook(
        &self,
        tenant: &Tenant,
        oldest_sample: impl FnOnce() -> i64,
    ) -> Option<WriteHook> {
        if !self.enabled() {
            return None;
        }
        Some(WriteHook {
            generation: self.generation_cell(tenant),
            oldest_sample: oldest_sample(),
            min_age_ms: self.cfg.min_age_ms,
            counters: self.counters.clone(),
        })
    }

    fn lru(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.lru.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish_bytes(&self, lru: &Lru) {
        self.counters
            .bytes
            .store(lru.bytes as u64, Ordering::Relaxed);
    }

    /// Plans the range request `[start, end]` and copies out the cached steps it can use.
    pub fn lookup_range(
        &self,
        key: &Key,
        generation: u64,
        start: i64,
        end: i64,
        step: i64,
    ) -> (Plan, Vec<Series>, Notes) {
        let mut lru = self.lru();
        let (p, cached, notes) = match lru.current(key, generation) {
            Some((Value::Range { span, series }, notes)) => {
                let p = plan(Some(*span), start, end, step);
                let cached = p.cached.map(|s| slice(series, s)).unwrap_or_default();
                (p, cached, notes.clone())
            }
            _ => (plan(None, start, end, step), Vec::new(), Notes::default()),
        };
        self.publish_bytes(&lru);
        (p, cached, notes)
    }

    /// Keeps the safe steps of a range response `series` (the full answer to `[start, end]`)
    /// computed at `generation`, joined to the entry's earlier steps.
    #[allow(clippy::too_many_arguments)]
    pub fn store_range(
        &self,
        key: Key,
        generation: u64,
        start: i64,
        end: i64,
        step: i64,
        safe_until: i64,
        series: &[Series],
        notes: &Notes,
    ) {
        if !self.enabled() || self.generation(key_tenant(&key)) != generation {
            return;
        }
        let mut lru = self.lru();
        let old_span = match lru.current(&key, generation) {
            Some((Value::Range { span, .. }, _)) => Some(*span),
            _ => None,
        };
        let Some(span) = store_span(old_span, start, end, step, safe_until, self.max_steps) else {
            self.publish_bytes(&lru);
            return;
        };
        // Taken out and put back under the same lock: nobody sees it half-updated.
        let (entry, old_notes) = match lru.remove(&key).map(|e| (e.value, e.notes)) {
            Some((Value::Range { span, series }, n)) => (Some((span, series)), n),
            _ => (None, Notes::default()),
        };
        // This request's own safe steps; the entry supplies the rest of `span`.
        let ours_last = start + (end.min(safe_until) - start) / step * step;
        let (earlier, later) = match &entry {
            Some((_, old)) => (
                slice(
                    old,
                    Span {
                        first: span.first,
                        last: start - step,
                    },
                ),
                // A concurrent query may have taken the entry past this one's safe steps.
                slice(
                    old,
                    Span {
                        first: ours_last + 1,
                        last: span.last,
                    },
                ),
            ),
            None => (Vec::new(), Vec::new()),
        };
        let ours = slice(
            series,
            Span {
                first: span.first.max(start),
                last: ours_last.min(span.last),
            },
        );
        let mut kept_notes = notes.clone();
        if !earlier.is_empty() || !later.is_empty() {
            kept_notes.absorb(&old_notes);
        }
        let stored = merge(merge(earlier, ours), later);
        let bytes = ENTRY_OVERHEAD + key.bytes() * 2 + series_bytes(&stored) + kept_notes.bytes();
        if bytes > self.cfg.max_bytes as usize {
            lru.remove(&key);
        } else {
            let value = Value::Range {
                span,
                series: stored,
            };
            let max = self.cfg.max_bytes as usize;
            lru.insert(key, generation, (value, kept_notes), bytes, max);
        }
        self.publish_bytes(&lru);
    }

    /// The stored answer of an instant query computed at `generation`.
    pub fn lookup_instant(&self, key: &Key, generation: u64) -> Option<(QueryValue, Notes)> {
        let mut lru = self.lru();
        let v = match lru.current(key, generation) {
            Some((Value::Instant(v), notes)) => Some((v.clone(), notes.clone())),
            _ => None,
        };
        self.publish_bytes(&lru);
        v
    }

    /// Keeps an instant answer computed at `generation` (the caller checked its time is safe).
    pub fn store_instant(&self, key: Key, generation: u64, value: &QueryValue, notes: &Notes) {
        if !self.enabled() || self.generation(key_tenant(&key)) != generation {
            return;
        }
        let bytes = ENTRY_OVERHEAD + key.bytes() * 2 + value_bytes(value) + notes.bytes();
        let mut lru = self.lru();
        if bytes <= self.cfg.max_bytes as usize {
            let max = self.cfg.max_bytes as usize;
            let entry = (Value::Instant(value.clone()), notes.clone());
            lru.insert(key, generation, entry, bytes, max);
        }
        self.publish_bytes(&lru);
    }
}

fn key_tenant(key: &Key) -> &Tenant {
    match key {
        Key::Range { tenant, .. } | Key::Instant { tenant, .. } => tenant,
    }
}

fn value_bytes(v: &QueryValue) -> usize {
    match v {
        QueryValue::Scalar(_) => POINT_BYTES,
        QueryValue::String { value, .. } => value.len() + POINT_BYTES,
        QueryValue::Vector(v) => v
            .iter()
            .map(|e| {
                SERIES_OVERHEAD
                    + POINT_BYTES
                    + e.labels
                        .iter()
                        .map(|l| l.name.len() + l.value.len() + SERIES_OVERHEAD)
                        .sum::<usize>()
            })
            .sum(),
        QueryValue::Matrix(m) => series_bytes(m),
    }
}

#[cfg(test)]
mod result_cache_test;
