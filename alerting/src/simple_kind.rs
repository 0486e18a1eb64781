//! Simple rule kinds: alerting rules for people who do not write PromQL (`alert:` + `kind:`
//! instead of `expr:`), each compiled to the PromQL that an alerting rule then evaluates like
//! any other. This module knows the kinds, their keys and what they compile to; it knows
//! nothing of YAML (`rule_file` hands it the keys as [`Param`]s and places its errors).
//!
//! ```text
//!  threshold  metric{matchers} OP value                   cpu{env="prod"} > 90
//!  ratio      (numerator) / [on(l…)] (denominator) OP value
//!  anomaly    m > factor * avg_over_time(m[baseline] offset <for>)
//!  absence    group by (by…) (last_over_time(m[lookback])) unless group by (by…) (m)
//!             (without `by`: last_over_time(m[lookback]) unless m)
//! ```
//!
//! Ratio without `on` matches numerator and denominator series on all their labels (but
//! the name), as PromQL's default one-to-one matching does; with `on(host)` they match on
//! `host` alone, and the alert then carries only the `on` labels (PromQL keeps just the
//! matching labels of a one-to-one `on` result).
//!
//! Absence relies on the instant selector's lookback (5m): a series without stale markers
//! counts as missing 5m after its last sample; with a stale marker, at once.
//!
//! Anomaly's baseline ends where the rule's `for` window starts (`offset <for>`; no offset
//! when `for` is 0): while an anomaly is pending, its own samples would otherwise raise the
//! average it is compared with. With factor 3, a 1h baseline and a jump to 10× the old level,
//! an unshifted baseline passes 3.33× the old level after about 15 minutes, so a rule with
//! `for: 15m` would never fire. Shifted, the baseline holds only samples from before the
//! pending window when the alert fires; once firing, the new level gradually becomes the
//! baseline and the alert resolves (use `keep_firing_for` to hold it).

use std::fmt::Write as _;

use cairn_query::promqltest::parse_duration_ms;
use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{self, Expr};

use crate::rule::SimpleKind;

/// The kinds and their own keys (besides `alert`, `kind`, `for`, `keep_firing_for`,
/// `labels`, `annotations`).
const KINDS: [(&str, &[&str]); 4] = [
    ("threshold", &["metric", "matchers", "op", "value"]),
    ("ratio", &["numerator", "denominator", "on", "op", "value"]),
    ("anomaly", &["metric", "factor", "baseline"]),
    ("absence", &["metric", "by", "lookback"]),
];

const OPS: [&str; 6] = [">", ">=", "<", "<=", "==", "!="];
const DEFAULT_FACTOR: f64 = 3.0;
const DEFAULT_BASELINE_MS: i64 = 3_600_000;
const DEFAULT_LOOKBACK_MS: i64 = 3_600_000;

/// The names of the simple kinds.
pub fn kinds() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|(k, _)| *k)
}

/// The own keys of `kind`; None for an unknown kind.
pub fn keys(kind: &str) -> Option<&'static [&'static str]> {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, keys)| *keys)
}

/// Whether `key` belongs to some simple kind.
pub fn is_any_kind_key(key: &str) -> bool {
    KINDS.iter().any(|(_, keys)| keys.contains(&key))
}

/// One key's value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Scalar(String),
    List(Vec<String>),
    Map(Vec<(String, String)>),
}

impl Param {
    fn describe(&self) -> &'static str {
        match self {
            Param::Scalar(_) => "a scalar",
            Param::List(_) => "a list",
            Param::Map(_) => "a mapping",
        }
    }

    /// How `/api/v1/rules` and `cairn rules check` show it (YAML flow style).
    fn display(&self) -> String {
        match self {
            Param::Scalar(s) => s.clone(),
            Param::List(items) => format!("[{}]", items.join(", ")),
            Param::Map(entries) => {
                let items: Vec<String> = entries.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", items.join(", "))
            }
        }
    }
}

/// A problem with a simple-kind rule; `key` names the offending key (None: the kind itself).
#[derive(Debug, Clone, PartialEq)]
pub struct KindError {
    pub key: Option<String>,
    pub message: String,
}

impl KindError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        KindError {
            key: Some(key.to_string()),
            message: message.into(),
        }
    }
}

/// A simple-kind rule compiled: its PromQL and its source for display.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    pub expr: String,
    pub source: SimpleKind,
}

/// Compiles a simple-kind rule. `params` are the kind's own keys as written; `for_ms` is
/// the rule's `for` (anomaly shifts its baseline by it). All problems are returned.
pub fn compile(
    kind: &str,
    params: &[(String, Param)],
    for_ms: i64,
) -> Result<Compiled, Vec<KindError>> {
    let Some(own_keys) = keys(kind) else {
        let names: Vec<&str> = kinds().collect();
        return Err(vec![KindError {
            key: Some("kind".to_string()),
            message: format!(
                "unknown kind {kind:?} (expected one of: {})",
                names.join(", ")
            ),
        }]);
    };
    let mut errors = Vec::new();
    for (key, _) in params {
        if !own_keys.contains(&key.as_str()) {
            errors.push(KindError::new(
                key,
                format!(
                    "{key} is not a key of kind {kind} (its keys: {})",
                    own_keys.join(", ")
                ),
            ));
        }
    }
    let p = Params {
        params,
        errors: &mut errors,
    };
    let expr = match kind {
        "threshold" => threshold(p),
        "ratio" => ratio(p),
        "anomaly" => anomaly(p, for_ms),
        _ => absence(p),
    };
    let expr = match expr {
        Some(e) if errors.is_empty() => e,
        _ => return Err(errors),
    };
    // The pieces parsed one by one; the whole must parse too (`x[5m]` as a numerator).
    if let Err(e) = parser::parse(&expr) {
        return Err(vec![KindError {
            key: Some("kind".to_string()),
            message: format!("kind {kind} compiles to {expr:?}, which does not parse: {e}"),
        }]);
    }
    let source = SimpleKind {
        kind: kind.to_string(),
        params: params
            .iter()
            .map(|(k, v)| (k.clone(), v.display()))
            .collect(),
    };
    Ok(Compiled { expr, source })
}

/// Typed access to the keys, recording errors.
struct Params<'a> {
    params: &'a [(String, Param)],
    errors: &'a mut Vec<KindError>,
}

impl Params<'_> {
    fn get(&self, key: &str) -> Option<&Param> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn fail<T>(&mut self, key: &str, message: impl Into<String>) -> Option<T> {
        self.errors.push(KindError::new(key, message));
        None
    }

    fn scalar(&mut self, key: &str, required: bool) -> Option<String> {
        match self.get(key).cloned() {
            None if required => self.fail(key, format!("{key} is required")),
            None => None,
            Some(Param::Scalar(s)) if s.trim().is_empty() => {
                self.fail(key, format!("{key} must not be empty"))
            }
            Some(Param::Scalar(s)) => Some(s),
            Some(other) => self.fail(
                key,
                format!("{key}: expected a scalar, found {}", other.describe()),
            ),
        }
    }

    /// A metric name or selector (`cpu`, `cpu{env="prod"}`), with `extra` equality matchers
    /// added; rendered back as PromQL.
    fn selector(&mut self, key: &str, extra: &[(String, String)]) -> Option<String> {
        let text = self.scalar(key, true)?;
        let mut vs = match parser::parse(&text) {
            Ok(Expr::VectorSelector(vs)) => vs,
            Ok(_) => {
                return self.fail(
                    key,
                    format!("{key}: {text:?} is not a metric name or selector (like cpu{{env=\"prod\"}})"),
                );
            }
            Err(e) => return self.fail(key, format!("{key}: could not parse {text:?}: {e}")),
        };
        if vs.offset.is_some() || vs.at.is_some() {
            return self.fail(
                key,
                format!("{key}: {text:?}: offset and @ are not allowed here"),
            );
        }
        for (name, value) in extra {
            vs.matchers
                .matchers
                .push(Matcher::new(MatchOp::Equal, name, value));
        }
        Some(vs.to_string())
    }

    /// A PromQL expression, kept as written (parenthesised by the caller).
    fn promql(&mut self, key: &str) -> Option<String> {
        let text = self.scalar(key, true)?;
        match parser::parse(&text) {
            Ok(_) => Some(text.trim().to_string()),
            Err(e) => self.fail(key, format!("{key}: could not parse expression: {e}")),
        }
    }

    fn op(&mut self, key: &str) -> Option<&'static str> {
        // In YAML a bare `>` starts a folded block and `!` a tag: `op: >` reads as "".
        if matches!(self.get(key), Some(Param::Scalar(s)) if s.trim().is_empty()) {
            return self.fail(
                key,
                format!("{key} is empty: quote the operator (op: \">\"), YAML reads a bare > or != otherwise"),
            );
        }
        let text = self.scalar(key, true)?;
        match OPS.iter().find(|o| **o == text.trim()) {
            Some(op) => Some(op),
            None => self.fail(
                key,
                format!("{key}: {text:?} is not one of {}", OPS.join(" ")),
            ),
        }
    }

    fn number(&mut self, key: &str, required: bool) -> Option<f64> {
        let text = self.scalar(key, required)?;
        match parse_number(&text) {
            Some(v) => Some(v),
            None => self.fail(key, format!("{key}: {text:?} is not a number")),
        }
    }

    fn duration(&mut self, key: &str) -> Option<Option<i64>> {
        if self.get(key).is_none() {
            return Some(None);
        }
        let text = self.scalar(key, true)?;
        match parse_duration_ms(text.trim()) {
            Ok(ms) if ms > 0 => Some(Some(ms)),
            Ok(_) => self.fail(key, format!("{key} must be longer than 0")),
            Err(e) => self.fail(key, format!("{key}: {e}")),
        }
    }

    /// A list of label names (`on`, `by`); None when the key is absent.
    fn label_list(&mut self, key: &str) -> Option<Option<Vec<String>>> {
        let items = match self.get(key).cloned() {
            None => return Some(None),
            Some(Param::List(items)) => items,
            // `by: host` is one label.
            Some(Param::Scalar(s)) => vec![s],
            Some(other) => {
                return self.fail(
                    key,
                    format!(
                        "{key}: expected a list of label names, found {}",
                        other.describe()
                    ),
                );
            }
        };
        for name in &items {
            if !is_label_name(name) {
                return self.fail(key, format!("{key}: invalid label name {name:?}"));
            }
        }
        Some(Some(items))
    }

    /// `matchers`: label name → exact value.
    fn matchers(&mut self, key: &str) -> Option<Vec<(String, String)>> {
        let entries = match self.get(key).cloned() {
            None => return Some(Vec::new()),
            Some(Param::Map(entries)) => entries,
            Some(other) => {
                return self.fail(
                    key,
                    format!(
                        "{key}: expected a mapping of label names to values, found {}",
                        other.describe()
                    ),
                );
            }
        };
        for (name, _) in &entries {
            if !is_label_name(name) || name == "__name__" {
                return self.fail(key, format!("{key}: invalid label name {name:?}"));
            }
        }
        Some(entries)
    }
}

fn threshold(mut p: Params<'_>) -> Option<String> {
    let matchers = p.matchers("matchers");
    let selector = p.selector("metric", matchers.as_deref().unwrap_or(&[]));
    let op = p.op("op");
    let value = p.number("value", true);
    Some(format!("{} {} {}", selector?, op?, fmt_number(value?)))
}

fn ratio(mut p: Params<'_>) -> Option<String> {
    let num = p.promql("numerator");
    let den = p.promql("denominator");
    let on = p.label_list("on");
    let op = p.op("op");
    let value = p.number("value", true);
    // Without `on`, PromQL's default one-to-one matching on all labels (but the name).
    let matching = match on? {
        Some(labels) => format!("on({}) ", labels.join(", ")),
        None => String::new(),
    };
    Some(format!(
        "({}) / {matching}({}) {} {}",
        num?,
        den?,
        op?,
        fmt_number(value?)
    ))
}

fn anomaly(mut p: Params<'_>, for_ms: i64) -> Option<String> {
    let metric = p.selector("metric", &[]);
    let factor = match p.get("factor") {
        None => Some(DEFAULT_FACTOR),
        Some(_) => match p.number("factor", true) {
            Some(f) if f > 0.0 && f.is_finite() => Some(f),
            Some(_) => p.fail("factor", "factor must be a number greater than 0"),
            None => None,
        },
    };
    let baseline = p.duration("baseline");
    let (metric, factor, baseline) = (metric?, factor?, baseline?.unwrap_or(DEFAULT_BASELINE_MS));
    let offset = if for_ms > 0 {
        format!(" offset {}", fmt_duration(for_ms))
    } else {
        String::new()
    };
    Some(format!(
        "{metric} > {} * avg_over_time({metric}[{}]{offset})",
        fmt_number(factor),
        fmt_duration(baseline)
    ))
}

fn absence(mut p: Params<'_>) -> Option<String> {
    let metric = p.selector("metric", &[]);
    let by = p.label_list("by");
    let lookback = p.duration("lookback");
    let (metric, by, lookback) = (metric?, by?, lookback?.unwrap_or(DEFAULT_LOOKBACK_MS));
    let window = fmt_duration(lookback);
    // `unless` matches on all labels but the metric name, which last_over_time drops: a
    // series (or `by` group) that reported within the lookback and has no sample now.
    Some(match by {
        Some(labels) => {
            let by = labels.join(", ");
            format!(
                "group by ({by}) (last_over_time({metric}[{window}])) unless group by ({by}) ({metric})"
            )
        }
        None => format!("last_over_time({metric}[{window}]) unless {metric}"),
    })
}

/// A number as YAML or PromQL writes it (`90`, `0.9`, `1e3`, `.inf`, `NaN`).
fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    match t.to_ascii_lowercase().trim_start_matches('+') {
        ".inf" | "inf" => return Some(f64::INFINITY),
        "-.inf" | "-inf" => return Some(f64::NEG_INFINITY),
        ".nan" | "nan" => return Some(f64::NAN),
        _ => {}
    }
    t.parse::<f64>().ok()
}

/// A number as PromQL reads it: integers without a fraction, others in Rust's shortest
/// round-tripping form (`0.9`, `1e-7`).
fn fmt_number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".to_string()
        } else {
            "-Inf".to_string()
        }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:?}")
    }
}

/// Milliseconds as a PromQL duration (`1h30m`, `90s` → `1m30s`, `250ms`).
fn fmt_duration(ms: i64) -> String {
    const UNITS: [(&str, i64); 5] = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (unit, size) in UNITS {
        if rest >= size {
            let _ = write!(out, "{}{unit}", rest / size);
            rest %= size;
        }
    }
    out
}

/// Prometheus' classic label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(crate) fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Prometheus' classic metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub(crate) fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
#[path = "simple_kind/simple_kind_test.rs"]
mod simple_kind_test;
