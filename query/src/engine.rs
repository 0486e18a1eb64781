//! The PromQL evaluator.
//!
//! ```text
//!  query string ──promql-parser──▶ Expr ──eval(range of steps)──▶ Series per step ──▶ QueryValue
//!                                    │
//!                     selectors ─────┴──▶ Querier::select / samples (one series at a time)
//! ```
//!
//! Every query is evaluated as a range query (an instant query has one step), expression
//! node by node over all steps at once, as Prometheus' engine does.

use std::time::Instant;

use crate::config::QueryConfig;
use crate::error::{Error, Result};
use crate::querier::Querier;
use crate::value::QueryValue;

/// Counters of one query's work.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryStats {
    /// Raw samples read from storage.
    pub samples_loaded: u64,
    /// Series selected from storage.
    pub series_selected: u64,
}

/// A query's result with the warnings Prometheus would attach to it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub value: QueryValue,
    pub warnings: Vec<String>,
    pub stats: QueryStats,
}

/// Evaluates PromQL over a [`Querier`]. Cheap to clone; holds only configuration.
#[derive(Debug, Clone)]
pub struct QueryEngine {
    cfg: QueryConfig,
}

impl QueryEngine {
    pub fn new(cfg: QueryConfig) -> Self {
        QueryEngine { cfg }
    }

    pub fn config(&self) -> &QueryConfig {
        &self.cfg
    }

    /// Evaluates `query` at `t` (ms). `deadline` bounds the evaluation (None: the configured
    /// timeout from now).
    pub fn instant(
        &self,
        q: &dyn Querier,
        query: &str,
        t: i64,
        deadline: Option<Instant>,
    ) -> Result<QueryResult> {
        let _ = (q, query, t, deadline);
        Err(Error::Unsupported {
            what: "evaluation".into(),
        })
    }

    /// Evaluates `query` at every `step` ms from `start` to `end` (inclusive, ms).
    /// The result is always a matrix (or an error for string results, as Prometheus).
    pub fn range(
        &self,
        q: &dyn Querier,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        deadline: Option<Instant>,
    ) -> Result<QueryResult> {
        let _ = (q, query, start, end, step, deadline);
        Err(Error::Unsupported {
            what: "evaluation".into(),
        })
    }
}
