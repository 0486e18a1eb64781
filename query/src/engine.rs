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
//!
//! Each selector reads one storage tier, chosen by the tier planner (`tier_plan`) from the
//! query's step, the selector's range and the tiers' retention, or forced by the caller
//! ([`QueryOptions::resolution`]): raw samples, or 5 m / 1 h rollup buckets
//! (`bucket_read`). PromQL users see the same answers either way; [`QueryStats`] says which
//! tiers were read and whether an answer is approximate.

mod aggregate;
mod binary;
mod bucket_read;
mod calls;
mod evaluator;
mod grid;
mod labels;
mod series_set;
pub mod tier_plan;

use std::time::Instant;

use cairn_model::Tier;
use promql_parser::parser::{Expr, value::ValueType};

use crate::config::QueryConfig;
use crate::error::{Error, Result};
use crate::querier::Querier;
use crate::value::{QueryValue, Sample, Series, VectorElement};
use evaluator::{Evaluator, Val};
use grid::Grid;
pub use tier_plan::Resolution;

/// Counters of one query's work.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryStats {
    /// Raw samples and rollup buckets read from storage (both count against `max_samples`).
    pub samples_loaded: u64,
    /// Series selected from storage.
    pub series_selected: u64,
    /// The tiers the query's selectors read, finest first, each once.
    pub tiers: Vec<Tier>,
    /// Whether some selector's answer is not the raw one: its windows were rounded to whole
    /// buckets, or its function was fed one sample per bucket (an info annotation says which).
    pub approximate: bool,
}

impl QueryStats {
    /// The short names of the tiers read (`raw`, `5m`, `1h`), finest first.
    pub fn tier_names(&self) -> Vec<&'static str> {
        self.tiers.iter().map(|t| t.resolution()).collect()
    }

    pub(crate) fn note_tier(&mut self, tier: Tier, approximate: bool) {
        if let Err(i) = self.tiers.binary_search(&tier) {
            self.tiers.insert(i, tier);
        }
        self.approximate |= approximate;
    }
}

/// How a caller wants one query evaluated, beyond the query itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// The tier selectors read: `Auto` (the planner's choice) or a forced one
    /// (`?resolution=raw|5m|1h`).
    pub resolution: Resolution,
}

/// A query's result with the warnings Prometheus would attach to it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub value: QueryValue,
    /// Prometheus' warning annotations (the API's `warnings`).
    pub warnings: Vec<String>,
    /// Prometheus' info annotations (the API's `infos`).
    pub infos: Vec<String>,
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
        self.instant_expr(q, &parse(query)?, t, deadline)
    }

    /// [`instant`](Self::instant) of an expression the caller has already parsed.
    pub fn instant_expr(
        &self,
        q: &dyn Querier,
        expr: &Expr,
        t: i64,
        deadline: Option<Instant>,
    ) -> Result<QueryResult> {
        self.instant_expr_with(q, expr, t, deadline, &QueryOptions::default())
    }

    /// [`instant_expr`](Self::instant_expr) with options (a forced resolution).
    pub fn instant_expr_with(
        &self,
        q: &dyn Querier,
        expr: &Expr,
        t: i64,
        deadline: Option<Instant>,
        opts: &QueryOptions,
    ) -> Result<QueryResult> {
        let g = Grid::new(t, t, 1);
        let mut ev = self.evaluator(q, t, t, deadline, opts);
        let value = match ev.eval(expr, &g)? {
            Val::Scalar(v) => QueryValue::Scalar(Sample::new(t, v[0])),
            Val::Str(s) => QueryValue::String { t, value: s },
            Val::Vector(series) => QueryValue::Vector(
                series
                    .into_iter()
                    .filter_map(|s| {
                        let sample = *s.samples.first()?;
                        Some(VectorElement {
                            labels: s.labels,
                            sample,
                        })
                    })
                    .collect(),
            ),
            Val::Matrix(m) => QueryValue::Matrix(m),
        };
        Ok(finish(ev, value))
    }

    /// Evaluates `query` at every `step` ms from `start` to `end` (inclusive, ms).
    /// The result is always a matrix, sorted by labels; a string or range-vector expression
    /// is an error, as in Prometheus.
    pub fn range(
        &self,
        q: &dyn Querier,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        deadline: Option<Instant>,
    ) -> Result<QueryResult> {
        self.range_expr(q, &parse(query)?, start, end, step, deadline)
    }

    /// [`range`](Self::range) of an expression the caller has already parsed.
    pub fn range_expr(
        &self,
        q: &dyn Querier,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
        deadline: Option<Instant>,
    ) -> Result<QueryResult> {
        let opts = QueryOptions::default();
        self.range_expr_with(q, expr, start, end, step, deadline, &opts)
    }

    /// [`range_expr`](Self::range_expr) with options (a forced resolution).
    #[allow(clippy::too_many_arguments)]
    pub fn range_expr_with(
        &self,
        q: &dyn Querier,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
        deadline: Option<Instant>,
        opts: &QueryOptions,
    ) -> Result<QueryResult> {
        if step <= 0 {
            return Err(Error::parse(
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        if end < start {
            return Err(Error::parse("end timestamp must not be before start time"));
        }
        let points = (end - start) / step + 1;
        if points as u64 > self.cfg.max_points_per_series {
            return Err(Error::Limit {
                limit: "max_points_per_series",
                max: self.cfg.max_points_per_series,
            });
        }
        match expr.value_type() {
            ValueType::Vector | ValueType::Scalar => {}
            other => {
                return Err(Error::parse(format!(
                    "invalid expression type {:?} for range query, must be Scalar or instant Vector",
                    type_name(other)
                )));
            }
        }
        let g = Grid::new(start, end, step);
        let mut ev = self.evaluator(q, start, end, deadline, opts);
        let mut series = match ev.eval(expr, &g)? {
            Val::Scalar(v) => vec![Series::new(
                Default::default(),
                v.iter()
                    .enumerate()
                    .map(|(i, &v)| Sample::new(g.ts(i), v))
                    .collect(),
            )],
            Val::Vector(series) => series,
            Val::Str(_) | Val::Matrix(_) => {
                return Err(Error::parse(
                    "invalid expression type for range query, must be Scalar or instant Vector",
                ));
            }
        };
        series.retain(|s| !s.samples.is_empty());
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(finish(ev, QueryValue::Matrix(series)))
    }

    fn evaluator<'a>(
        &'a self,
        q: &'a dyn Querier,
        start: i64,
        end: i64,
        deadline: Option<Instant>,
        opts: &QueryOptions,
    ) -> Evaluator<'a> {
        Evaluator {
            q,
            cfg: &self.cfg,
            query_start: start,
            query_end: end,
            deadline: deadline.unwrap_or_else(|| Instant::now() + self.cfg.timeout()),
            stats: QueryStats::default(),
            warnings: Vec::new(),
            infos: Vec::new(),
            resolution: opts.resolution,
        }
    }
}

fn parse(query: &str) -> Result<Expr> {
    if query.trim().is_empty() {
        return Err(Error::parse("empty query"));
    }
    promql_parser::parser::parse(query).map_err(Error::parse)
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Vector => "instant vector",
        ValueType::Scalar => "scalar",
        ValueType::Matrix => "range vector",
        ValueType::String => "string",
    }
}

fn finish(ev: Evaluator<'_>, value: QueryValue) -> QueryResult {
    QueryResult {
        value,
        warnings: ev.warnings,
        infos: ev.infos,
        stats: ev.stats,
    }
}

#[cfg(test)]
#[path = "engine/engine_test.rs"]
mod tests;

#[cfg(test)]
#[path = "engine/tier_test.rs"]
mod tier_test;
