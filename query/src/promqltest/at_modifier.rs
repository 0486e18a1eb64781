//! promqltest's `atModifierTestCases`: an instant eval at `t` must give the same result when
//! every selector (and every outermost subquery) carries `@ t` and the query runs at other
//! times. Expressions with functions whose result depends on the evaluation time itself
//! (`time()`, `timestamp()`, ...) get no variants.

use std::time::{Duration, SystemTime};

use promql_parser::parser::{self, AtModifier, Expr};

use super::{EvalKind, Query};

/// Prometheus' `AtModifierUnsafeFunctions`.
const AT_UNSAFE_FUNCTIONS: [&str; 11] = [
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
];

/// The extra instant queries for an instant eval of `expr` at `at_ms`; none if the
/// expression does not parse or uses a time-dependent function.
pub(crate) fn at_modifier_variants(expr: &str, at_ms: i64) -> Vec<Query> {
    let Ok(mut e) = parser::parse(expr) else {
        return Vec::new();
    };
    let Ok(at_ms_u) = u64::try_from(at_ms) else {
        return Vec::new();
    };
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(at_ms_u);
    let mut unsafe_fn = false;
    set_at(&mut e, at, &mut unsafe_fn);
    if unsafe_fn {
        return Vec::new();
    }
    let new_expr = e.to_string();
    let ts = at_ms;
    let times: Vec<i64> = if ts == 0 {
        vec![-1000, -ts, 1000]
    } else {
        vec![-10 * ts, 0, ts / 5, ts, 10 * ts]
    };
    times
        .into_iter()
        .map(|t| Query {
            expr: new_expr.clone(),
            kind: EvalKind::Instant { at_ms: t },
        })
        .collect()
}

/// A node "has a timestamp" in Prometheus' sense only for `@ <number>`; `@ start()` and
/// `@ end()` are resolved later, so the variant overrides them.
fn has_timestamp(at: &Option<AtModifier>) -> bool {
    matches!(at, Some(AtModifier::At(_)))
}

fn set_at(e: &mut Expr, at: SystemTime, unsafe_fn: &mut bool) {
    match e {
        Expr::VectorSelector(vs) => {
            if !has_timestamp(&vs.at) {
                vs.at = Some(AtModifier::At(at));
            }
        }
        Expr::MatrixSelector(ms) => {
            if !has_timestamp(&ms.vs.at) {
                ms.vs.at = Some(AtModifier::At(at));
            }
        }
        Expr::Subquery(sq) => {
            // Below a subquery with a timestamp (its own, or the one set here) nothing is
            // touched, and functions there are not looked at.
            if !has_timestamp(&sq.at) {
                sq.at = Some(AtModifier::At(at));
            }
        }
        Expr::Call(c) => {
            *unsafe_fn |= AT_UNSAFE_FUNCTIONS.contains(&c.func.name);
            for a in c.args.args.iter_mut() {
                set_at(a, at, unsafe_fn);
            }
        }
        Expr::Aggregate(a) => {
            set_at(&mut a.expr, at, unsafe_fn);
            if let Some(p) = a.param.as_mut() {
                set_at(p, at, unsafe_fn);
            }
        }
        Expr::Unary(u) => set_at(&mut u.expr, at, unsafe_fn),
        Expr::Binary(b) => {
            set_at(&mut b.lhs, at, unsafe_fn);
            set_at(&mut b.rhs, at, unsafe_fn);
        }
        Expr::Paren(p) => set_at(&mut p.expr, at, unsafe_fn),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}
