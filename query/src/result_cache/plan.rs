//! The result cache's pure planning: which steps of a request an entry answers, which steps
//! an entry keeps after a request, and how two parts of an answer join.

use promql_parser::parser::{Expr, Offset};

use super::{POINT_BYTES, SERIES_OVERHEAD};
use crate::value::Series;

/// Step timestamps `first, first + step, ..., last` of one request's grid (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub first: i64,
    pub last: i64,
}

/// What a range request takes from its entry and what it evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Steps answered from the entry.
    pub cached: Option<Span>,
    /// Steps to evaluate (always up to the request's end).
    pub evaluate: Option<Span>,
}

/// Plans a request for the steps `start + k*step ≤ end` given the span of its entry (same
/// tenant, query, step and phase). An entry is usable when the request starts inside it or
/// right after it; the request's end may be anywhere.
pub fn plan(entry: Option<Span>, start: i64, end: i64, step: i64) -> Plan {
    let whole = Plan {
        cached: None,
        evaluate: Some(Span {
            first: start,
            last: end,
        }),
    };
    let Some(c) = entry else { return whole };
    let next = c.last.saturating_add(step);
    if start < c.first || start > next {
        return whole;
    }
    let cached = (start <= c.last).then(|| Span {
        first: start,
        last: end.min(c.last),
    });
    let from = start.max(next);
    let evaluate = (from <= end).then_some(Span {
        first: from,
        last: end,
    });
    Plan { cached, evaluate }
}

/// The steps an entry should hold after answering `[start, end]`: the request's steps up to
/// `safe_until` (now − min_age when the query began), after the entry's earlier steps if the
/// request starts inside or right after the entry. Beyond `max_steps` the steps before
/// `start` go first, then the oldest of the request's. None: nothing is safe to keep.
pub fn store_span(
    entry: Option<Span>,
    start: i64,
    end: i64,
    step: i64,
    safe_until: i64,
    max_steps: i64,
) -> Option<Span> {
    if safe_until < start || end < start {
        return None;
    }
    let grid_floor = |t: i64| start + (t - start) / step * step;
    let mut last = grid_floor(end.min(safe_until));
    let mut first = start;
    if let Some(c) = entry
        && c.first <= start
        && start <= c.last.saturating_add(step)
    {
        first = c.first;
        // The entry may already reach further than this request did.
        last = last.max(c.last);
    }
    if (last - first) / step + 1 > max_steps {
        first = first.max(start);
        if (last - first) / step + 1 > max_steps {
            first = last - (max_steps.max(1) - 1) * step;
        }
    }
    Some(Span { first, last })
}

/// The points of `series` within `span`; series left without points are dropped.
pub fn slice(series: &[Series], span: Span) -> Vec<Series> {
    series
        .iter()
        .filter_map(|s| {
            let lo = s.samples.partition_point(|p| p.t < span.first);
            let hi = s.samples.partition_point(|p| p.t <= span.last);
            (lo < hi).then(|| Series::new(s.labels.clone(), s.samples[lo..hi].to_vec()))
        })
        .collect()
}

/// Joins two results sorted by labels whose points do not interleave in time (every point of
/// `earlier` precedes every point of `later`), as one evaluation of both step sets would
/// have answered: series matched by labels, points concatenated, order kept.
pub fn merge(earlier: Vec<Series>, later: Vec<Series>) -> Vec<Series> {
    let mut out = Vec::with_capacity(earlier.len().max(later.len()));
    let mut a = earlier.into_iter().peekable();
    let mut b = later.into_iter().peekable();
    loop {
        let next = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (Some(x), Some(y)) => match x.labels.cmp(&y.labels) {
                std::cmp::Ordering::Less => a.next(),
                std::cmp::Ordering::Greater => b.next(),
                std::cmp::Ordering::Equal => {
                    let (mut x, y) = (a.next(), b.next());
                    if let (Some(x), Some(y)) = (x.as_mut(), y) {
                        x.samples.extend(y.samples);
                    }
                    x
                }
            },
        };
        out.extend(next.filter(|s| !s.samples.is_empty()));
    }
    out
}

/// Whether every step of `expr` reads only samples at or before its own time: no negative
/// `offset` and no `@` anywhere (`@` also makes a step depend on the request's start/end).
pub fn cacheable(expr: &Expr) -> bool {
    let plain = |offset: &Option<Offset>, at: &Option<_>| {
        at.is_none() && !matches!(offset, Some(Offset::Neg(_)))
    };
    match expr {
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => true,
        Expr::VectorSelector(vs) => plain(&vs.offset, &vs.at),
        Expr::MatrixSelector(ms) => plain(&ms.vs.offset, &ms.vs.at),
        Expr::Subquery(sq) => plain(&sq.offset, &sq.at) && cacheable(&sq.expr),
        Expr::Aggregate(a) => cacheable(&a.expr) && a.param.as_deref().is_none_or(cacheable),
        Expr::Unary(u) => cacheable(&u.expr),
        Expr::Paren(p) => cacheable(&p.expr),
        Expr::Binary(b) => cacheable(&b.lhs) && cacheable(&b.rhs),
        Expr::Call(c) => c.args.args.iter().all(|a| cacheable(a)),
        // Unknown semantics.
        Expr::Extension(_) => false,
    }
}

/// Approximate heap bytes of a list of series.
pub fn series_bytes(series: &[Series]) -> usize {
    series
        .iter()
        .map(|s| {
            SERIES_OVERHEAD
                + s.labels
                    .iter()
                    .map(|l| l.name.len() + l.value.len() + SERIES_OVERHEAD)
                    .sum::<usize>()
                + s.samples.len() * POINT_BYTES
        })
        .sum()
}
