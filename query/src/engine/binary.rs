//! Binary operators: arithmetic, comparison (with and without `bool`) and the set
//! operators, between scalars and vectors, with Prometheus' vector matching
//! (`on`/`ignoring`, `group_left`/`group_right`).

use std::collections::HashMap;

use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use crate::engine::evaluator::{Evaluator, Val, relabel};
use crate::engine::grid::{ByStep, Grid};
use crate::engine::labels::{drop_name, keep_only, with_label, without};
use crate::engine::series_set::SeriesSet;
use crate::error::{Error, Result};
use crate::value::{Labels, Sample, Series};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl BinOp {
    fn parse(token: &str) -> Result<BinOp> {
        Ok(match token.to_ascii_lowercase().as_str() {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            "%" => BinOp::Mod,
            "^" => BinOp::Pow,
            "atan2" => BinOp::Atan2,
            "==" => BinOp::Eq,
            "!=" => BinOp::Ne,
            ">" => BinOp::Gt,
            "<" => BinOp::Lt,
            ">=" => BinOp::Ge,
            "<=" => BinOp::Le,
            "and" => BinOp::And,
            "or" => BinOp::Or,
            "unless" => BinOp::Unless,
            other => {
                return Err(Error::Unsupported {
                    what: format!("binary operator {other:?}"),
                });
            }
        })
    }

    fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Lt | BinOp::Ge | BinOp::Le
        )
    }

    fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }

    /// Arithmetic drops the metric name; comparisons and set operators keep it.
    fn drops_name(self) -> bool {
        !self.is_comparison() && !self.is_set()
    }

    /// The result and whether a comparison holds (arithmetic always "holds"). A comparison's
    /// value is its left operand, as in Prometheus.
    pub(crate) fn apply(self, l: f64, r: f64) -> (f64, bool) {
        match self {
            BinOp::Add => (l + r, true),
            BinOp::Sub => (l - r, true),
            BinOp::Mul => (l * r, true),
            BinOp::Div => (l / r, true),
            BinOp::Mod => (l % r, true),
            BinOp::Pow => (l.powf(r), true),
            BinOp::Atan2 => (l.atan2(r), true),
            BinOp::Eq => (l, l == r),
            BinOp::Ne => (l, l != r),
            BinOp::Gt => (l, l > r),
            BinOp::Lt => (l, l < r),
            BinOp::Ge => (l, l >= r),
            BinOp::Le => (l, l <= r),
            BinOp::And | BinOp::Or | BinOp::Unless => (l, true),
        }
    }
}

/// How the two sides of a vector operation are matched.
struct Matching {
    /// `on(...)` when Some(true), `ignoring(...)` when Some(false), neither when None.
    on: Option<bool>,
    labels: Vec<String>,
    card: Card,
    include: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

impl Matching {
    fn of(b: &BinaryExpr, op: BinOp) -> Matching {
        let (mut on, mut labels, mut card, mut include) =
            (None, Vec::new(), Card::OneToOne, Vec::new());
        if let Some(m) = &b.modifier {
            match &m.matching {
                Some(LabelModifier::Include(l)) => {
                    on = Some(true);
                    labels = l.labels.clone();
                }
                Some(LabelModifier::Exclude(l)) => {
                    on = Some(false);
                    labels = l.labels.clone();
                }
                None => {}
            }
            match &m.card {
                VectorMatchCardinality::OneToOne => {}
                VectorMatchCardinality::ManyToOne(l) => {
                    card = Card::ManyToOne;
                    include = l.labels.clone();
                }
                VectorMatchCardinality::OneToMany(l) => {
                    card = Card::OneToMany;
                    include = l.labels.clone();
                }
                VectorMatchCardinality::ManyToMany => card = Card::ManyToMany,
            }
        }
        if op.is_set() {
            card = Card::ManyToMany;
        }
        Matching {
            on,
            labels,
            card,
            include,
        }
    }

    /// The labels two series must agree on to match.
    fn signature(&self, l: &Labels) -> Labels {
        match self.on {
            Some(true) => keep_only(l, &self.labels),
            Some(false) => without(l, &self.labels),
            None => drop_name(l),
        }
    }

    /// The labels of a result: the "many" side's, edited as Prometheus' `resultMetric`.
    fn result_labels(&self, op: BinOp, many: &Labels, one: &Labels) -> Labels {
        let mut l = if op.drops_name() {
            drop_name(many)
        } else {
            many.clone()
        };
        if self.card == Card::OneToOne {
            match self.on {
                Some(true) => l = keep_only(&l, &self.labels),
                Some(false) => {
                    l = Labels::from_sorted_unchecked(
                        l.iter()
                            .filter(|x| !self.labels.contains(&x.name))
                            .cloned()
                            .collect(),
                    )
                }
                None => {}
            }
        }
        for name in &self.include {
            l = with_label(&l, name, one.get(name));
        }
        l
    }
}

impl Evaluator<'_> {
    pub fn eval_binary(&mut self, b: &BinaryExpr, g: &Grid) -> Result<Val> {
        let op = BinOp::parse(&b.op.to_string())?;
        let return_bool = b.return_bool();
        let lhs = self.eval(&b.lhs, g)?;
        let rhs = self.eval(&b.rhs, g)?;
        match (lhs, rhs) {
            (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
                l.iter()
                    .zip(&r)
                    .map(|(&l, &r)| {
                        let (v, keep) = op.apply(l, r);
                        if op.is_comparison() {
                            if keep { 1.0 } else { 0.0 }
                        } else {
                            v
                        }
                    })
                    .collect(),
            )),
            (Val::Vector(v), Val::Scalar(s)) => Ok(Val::Vector(vector_scalar(
                v,
                &s,
                op,
                false,
                return_bool,
                g,
            )?)),
            (Val::Scalar(s), Val::Vector(v)) => {
                Ok(Val::Vector(vector_scalar(v, &s, op, true, return_bool, g)?))
            }
            (Val::Vector(l), Val::Vector(r)) => {
                let m = Matching::of(b, op);
                let out = match op {
                    BinOp::And | BinOp::Unless => and_unless(l, r, &m, op == BinOp::And, g),
                    BinOp::Or => or(l, r, &m, g)?,
                    _ => vector_vector(l, r, &m, op, return_bool, g)?,
                };
                Ok(Val::Vector(out))
            }
            _ => Err(Error::exec(format!(
                "binary operator {:?} needs scalar or instant-vector operands",
                b.op.to_string()
            ))),
        }
    }
}

fn vector_scalar(
    series: Vec<Series>,
    scalar: &[f64],
    op: BinOp,
    scalar_left: bool,
    return_bool: bool,
    g: &Grid,
) -> Result<Vec<Series>> {
    let drop = op.drops_name() || return_bool;
    let mut out = Vec::with_capacity(series.len());
    for mut s in series {
        s.samples.retain_mut(|p| {
            let x = scalar[g.index(p.t)];
            let (l, r) = if scalar_left { (x, p.v) } else { (p.v, x) };
            let (mut v, keep) = op.apply(l, r);
            // A comparison keeps the vector's value even when the scalar is on the left.
            if op.is_comparison() {
                v = p.v;
            }
            if return_bool {
                p.v = if keep { 1.0 } else { 0.0 };
                return true;
            }
            p.v = v;
            keep
        });
        if !s.samples.is_empty() {
            out.push(s);
        }
    }
    if drop {
        relabel(out, drop_name)
    } else {
        Ok(out)
    }
}

/// Signature ids of both sides' series (equal ids = equal matching labels).
fn signatures(l: &[Series], r: &[Series], m: &Matching) -> (Vec<u32>, Vec<u32>, Vec<Labels>) {
    let mut ids: HashMap<Labels, u32> = HashMap::new();
    let mut sigs = Vec::new();
    let mut id = |labels: &Labels| {
        let sig = m.signature(labels);
        let n = ids.len() as u32;
        *ids.entry(sig.clone()).or_insert_with(|| {
            sigs.push(sig);
            n
        })
    };
    let ls: Vec<u32> = l.iter().map(|s| id(&s.labels)).collect();
    let rs: Vec<u32> = r.iter().map(|s| id(&s.labels)).collect();
    (ls, rs, sigs)
}

fn and_unless(l: Vec<Series>, r: Vec<Series>, m: &Matching, and: bool, g: &Grid) -> Vec<Series> {
    let (lsig, rsig, sigs) = signatures(&l, &r, m);
    let (lb, rb) = (ByStep::new(&l, g), ByStep::new(&r, g));
    let mut present = vec![false; sigs.len()];
    let mut out: Vec<Series> = l
        .iter()
        .map(|s| Series::new(s.labels.clone(), Vec::new()))
        .collect();
    for i in 0..g.len() {
        for &(s, _) in rb.elems(i) {
            present[rsig[s as usize] as usize] = true;
        }
        for &(s, v) in lb.elems(i) {
            if present[lsig[s as usize] as usize] == and {
                out[s as usize].samples.push(Sample::new(g.ts(i), v));
            }
        }
        for &(s, _) in rb.elems(i) {
            present[rsig[s as usize] as usize] = false;
        }
    }
    out.retain(|s| !s.samples.is_empty());
    out
}

fn or(l: Vec<Series>, r: Vec<Series>, m: &Matching, g: &Grid) -> Result<Vec<Series>> {
    let (lsig, rsig, sigs) = signatures(&l, &r, m);
    let lb = ByStep::new(&l, g);
    let mut present = vec![false; sigs.len()];
    let mut right: Vec<Series> = r
        .iter()
        .map(|s| Series::new(s.labels.clone(), Vec::new()))
        .collect();
    let rb = ByStep::new(&r, g);
    for i in 0..g.len() {
        let left = lb.elems(i);
        for &(s, _) in left {
            present[lsig[s as usize] as usize] = true;
        }
        for &(s, v) in rb.elems(i) {
            if !present[rsig[s as usize] as usize] {
                right[s as usize].samples.push(Sample::new(g.ts(i), v));
            }
        }
        for &(s, _) in left {
            present[lsig[s as usize] as usize] = false;
        }
    }
    let mut all = l;
    all.extend(right.into_iter().filter(|s| !s.samples.is_empty()));
    relabel(all, |l| l.clone())
}

fn vector_vector(
    l: Vec<Series>,
    r: Vec<Series>,
    m: &Matching,
    op: BinOp,
    return_bool: bool,
    g: &Grid,
) -> Result<Vec<Series>> {
    // Iterate the "many" side and look up the "one" side.
    let swapped = m.card == Card::OneToMany;
    let (many, one) = if swapped { (r, l) } else { (l, r) };
    let (msig, osig, sigs) = signatures(&many, &one, m);
    let mb = ByStep::new(&many, g);
    let ob = ByStep::new(&one, g);
    let mut one_at: Vec<Option<(u32, f64)>> = vec![None; sigs.len()];
    let mut matched = vec![false; sigs.len()];
    let mut slots: HashMap<(u32, u32), usize> = HashMap::new();
    let mut out = SeriesSet::new();
    for i in 0..g.len() {
        let ts = g.ts(i);
        let ones = ob.elems(i);
        for &(s, v) in ones {
            let sig = osig[s as usize] as usize;
            if let Some((prev, _)) = one_at[sig] {
                let side = if swapped { "left" } else { "right" };
                return Err(Error::exec(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    sigs[sig],
                    cairn_model::labels::Braced(&one[s as usize].labels),
                    cairn_model::labels::Braced(&one[prev as usize].labels)
                )));
            }
            one_at[sig] = Some((s, v));
        }
        for &(s, mv) in mb.elems(i) {
            let sig = msig[s as usize] as usize;
            let Some((o, ov)) = one_at[sig] else {
                continue;
            };
            let (fl, fr) = if swapped { (ov, mv) } else { (mv, ov) };
            let (mut v, keep) = op.apply(fl, fr);
            if return_bool {
                v = if keep { 1.0 } else { 0.0 };
            } else if !keep {
                continue;
            }
            if m.card == Card::OneToOne {
                if matched[sig] {
                    return Err(Error::exec(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    ));
                }
                matched[sig] = true;
            }
            let slot = match slots.get(&(s, o)) {
                Some(&slot) => slot,
                None => {
                    let mut labels =
                        m.result_labels(op, &many[s as usize].labels, &one[o as usize].labels);
                    if return_bool {
                        labels = drop_name(&labels);
                    }
                    let slot = out.slot(labels);
                    slots.insert((s, o), slot);
                    slot
                }
            };
            out.push(slot, ts, v).map_err(|e| {
                if m.card == Card::OneToOne {
                    e
                } else {
                    Error::exec(
                        "multiple matches for labels: grouping labels must ensure unique results",
                    )
                }
            })?;
        }
        for &(s, _) in ones {
            let sig = osig[s as usize] as usize;
            one_at[sig] = None;
            matched[sig] = false;
        }
        for &(s, _) in mb.elems(i) {
            matched[msig[s as usize] as usize] = false;
        }
    }
    Ok(out.finish())
}
