//! Validation: the checks of Prometheus' `rulefmt` (`RuleGroups.Validate`, `Rule.Validate`,
//! `testTemplateParsing`, v3.0) over decoded groups, plus simple kinds, turning raw groups
//! into [`RuleGroup`]s. Every error is reported, each at the node it is about (the `expr`
//! value for PromQL errors, the `record` value for recording-rule errors, as Prometheus does).
//!
//! Names are checked with Prometheus' classic rules (`[a-zA-Z_][a-zA-Z0-9_]*` for labels,
//! plus `:` for metric names), the ones Cairn's query engine accepts; Prometheus 3.0's
//! UTF-8 names are not supported.

use std::collections::{BTreeMap, HashMap};

use super::decode::{Entry, RawGroup, RawRule, Sink};
use crate::rule::{AlertingRule, RecordingRule, Rule, RuleGroup};
use crate::simple_kind::{self, Param, is_label_name, is_metric_name};
use crate::yaml::{Node, NodeKind};

/// Validates the groups of one file (group names unique and not empty) and their rules.
pub(crate) fn groups(sink: &mut Sink, raw: Vec<RawGroup<'_>>) -> Vec<RuleGroup> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for g in raw {
        let ctx = g.ctx.clone();
        if g.name.is_empty() {
            if !g.name_broken {
                sink.at(&ctx, g.node, "Groupname must not be empty");
            }
        } else if let Some(first) = seen.get(&g.name) {
            sink.at(
                &ctx,
                g.node,
                format!(
                    "groupname: {:?} is repeated in the same file (first at line {first})",
                    g.name
                ),
            );
        } else {
            seen.insert(g.name.clone(), g.node.line);
        }
        let rules = g.rules.iter().filter_map(|r| rule(sink, r)).collect();
        out.push(RuleGroup {
            file: sink.file().to_string(),
            name: g.name,
            interval_ms: g.interval_ms,
            query_offset_ms: g.query_offset_ms,
            limit: g.limit,
            rules,
            // The `name:` key; without one, where the group starts.
            line: if g.name_line > 0 {
                g.name_line
            } else {
                g.node.line
            },
        });
    }
    out
}

/// One rule; None when it has errors (all reported).
fn rule(sink: &mut Sink, r: &RawRule<'_>) -> Option<Rule> {
    let before = sink.len();
    let ctx = &r.ctx;
    // As in rulefmt, an empty `record: ""` counts as not set.
    let record = r.record.filter(|s| !s.text.is_empty());
    let alert = r.alert.filter(|s| !s.text.is_empty());
    match (record, alert) {
        (Some(rec), Some(al)) => sink.at(
            ctx,
            rec.node,
            format!(
                "only one of 'record' and 'alert' must be set (alert at {}:{})",
                al.node.line, al.node.column
            ),
        ),
        (None, None) if !r.broken.contains("record") && !r.broken.contains("alert") => {
            // At an empty `record:`/`alert:` if there is one (as rulefmt), else the rule.
            let node = r.record.or(r.alert).map_or(r.node, |s| s.node);
            sink.at(ctx, node, "one of 'record' or 'alert' must be set")
        }
        _ => {}
    }

    let for_ms = r.for_ms.map_or(0, |(_, ms)| ms);
    let keep_firing_for_ms = r.keep_firing_for_ms.map_or(0, |(_, ms)| ms);
    let expr_text = r.expr.map(|e| e.text).filter(|t| !t.is_empty());
    let mut compiled = None;
    match r.kind {
        Some(kind) => {
            if let Some(rec) = record {
                sink.at(
                    ctx,
                    rec.node,
                    "kind: simple rule kinds make alerting rules only (use `alert:`)",
                );
            }
            if let (Some(e), Some(_)) = (r.expr, expr_text) {
                sink.at(
                    ctx,
                    e.node,
                    "expr and kind are exclusive: a simple kind compiles to its own PromQL",
                );
            }
            compiled = compile_kind(sink, r, kind.node, kind.text, for_ms);
        }
        None => {
            // (A `kind:` of the wrong YAML type was reported already.)
            let kind_params = if r.broken.contains("kind") {
                &[][..]
            } else {
                &r.kind_params[..]
            };
            for (key_node, key, _) in kind_params {
                let kinds: Vec<&str> = simple_kind::kinds().collect();
                sink.at(
                    ctx,
                    key_node,
                    format!(
                        "field {key} belongs to a simple rule kind, but the rule has no `kind:` (one of: {})",
                        kinds.join(", ")
                    ),
                );
            }
            match expr_text {
                None if !r.broken.contains("expr") => {
                    let node = r.expr.map_or(r.node, |e| e.node);
                    sink.at(ctx, node, "field 'expr' must be set in rule");
                }
                None => {}
                Some(text) => {
                    if let Err(e) = promql_parser::parser::parse(text) {
                        let node = r.expr.map_or(r.node, |e| e.node);
                        sink.at(ctx, node, format!("could not parse expression: {e}"));
                    }
                }
            }
        }
    }

    if let Some(rec) = record {
        if !r.annotations.is_empty() {
            sink.at(
                ctx,
                rec.node,
                "invalid field 'annotations' in recording rule",
            );
        }
        if for_ms != 0 {
            sink.at(ctx, rec.node, "invalid field 'for' in recording rule");
        }
        if keep_firing_for_ms != 0 {
            sink.at(
                ctx,
                rec.node,
                "invalid field 'keep_firing_for' in recording rule",
            );
        }
        if !is_metric_name(rec.text) {
            sink.at(
                ctx,
                rec.node,
                format!("invalid recording rule name: {}", rec.text),
            );
        }
    }
    for l in &r.labels {
        // Label values are strings of valid UTF-8 by construction: nothing to check.
        if !is_label_name(l.name) || l.name == "__name__" {
            sink.at(ctx, l.key, format!("invalid label name: {}", l.name));
        }
    }
    for a in &r.annotations {
        if !is_label_name(a.name) {
            sink.at(ctx, a.key, format!("invalid annotation name: {}", a.name));
        }
    }
    if let Some(al) = alert {
        // rulefmt's testTemplateParsing: templates are parsed under the name Prometheus
        // gives them at evaluation, so the messages match (`template: __alert_X:1: ...`).
        let name = format!("__alert_{}", al.text);
        for (what, entries) in [("label", &r.labels), ("annotation", &r.annotations)] {
            for e in entries.iter() {
                if let Err(err) = check_template(&name, e.text) {
                    sink.at(ctx, e.value, format!("{what} {:?}: {err}", e.name));
                }
            }
        }
    }

    if sink.len() > before {
        return None;
    }
    let labels = to_map(&r.labels);
    let line = r.node.line;
    if let Some(rec) = record {
        return Some(Rule::Recording(RecordingRule {
            record: rec.text.to_string(),
            expr: expr_text.unwrap_or_default().to_string(),
            labels,
            line,
        }));
    }
    let alert = alert?;
    let (expr, kind) = match compiled {
        Some(c) => (c.expr, Some(c.source)),
        None => (expr_text.unwrap_or_default().to_string(), None),
    };
    Some(Rule::Alerting(AlertingRule {
        alert: alert.text.to_string(),
        expr,
        kind,
        for_ms,
        keep_firing_for_ms,
        labels,
        annotations: to_map(&r.annotations),
        line,
    }))
}

/// Compiles a simple kind, placing each of its errors at the key it is about.
fn compile_kind(
    sink: &mut Sink,
    r: &RawRule<'_>,
    kind_node: &Node,
    kind: &str,
    for_ms: i64,
) -> Option<simple_kind::Compiled> {
    let mut params = Vec::new();
    let mut ok = true;
    for (_, key, value) in &r.kind_params {
        match to_param(value) {
            Some(p) => params.push((key.to_string(), p)),
            None => {
                sink.at(
                    &r.ctx,
                    value,
                    format!("{key}: expected a scalar, a list of scalars or a mapping of scalars, found {}", describe_nested(value)),
                );
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    match simple_kind::compile(kind, &params, for_ms) {
        Ok(c) => Some(c),
        Err(errors) => {
            for e in errors {
                // A key that is present: its value; a missing one or the kind: `kind:`.
                let node = e
                    .key
                    .as_deref()
                    .and_then(|k| r.kind_params.iter().find(|(_, key, _)| *key == k))
                    .map_or(kind_node, |(_, _, v)| *v);
                sink.at(&r.ctx, node, format!("kind {kind}: {}", e.message));
            }
            None
        }
    }
}

fn to_param(node: &Node) -> Option<Param> {
    let scalar = |n: &Node| match &n.kind {
        NodeKind::Scalar { value, .. } => Some(value.clone()),
        NodeKind::Null => Some(String::new()),
        _ => None,
    };
    match &node.kind {
        NodeKind::Null | NodeKind::Scalar { .. } => scalar(node).map(Param::Scalar),
        NodeKind::Seq(items) => items
            .iter()
            .map(scalar)
            .collect::<Option<Vec<_>>>()
            .map(Param::List),
        NodeKind::Map(entries) => entries
            .iter()
            .map(|(k, v)| Some((k.as_scalar()?.to_string(), scalar(v)?)))
            .collect::<Option<Vec<_>>>()
            .map(Param::Map),
    }
}

fn describe_nested(node: &Node) -> &'static str {
    match &node.kind {
        NodeKind::Seq(_) => "a list with a nested list or mapping",
        NodeKind::Map(_) => "a mapping with a nested list or mapping",
        _ => node.describe(),
    }
}

fn to_map(entries: &[Entry<'_>]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|e| (e.name.to_string(), e.text.to_string()))
        .collect()
}

/// Whether a label or annotation template of alerting rule `name` (`__alert_X`) parses,
/// with Prometheus' alert definitions (`$labels`, `$value`, …) in scope.
fn check_template(name: &str, text: &str) -> Result<(), String> {
    crate::template::check_alert_text(name, text).map_err(|e| e.to_string())
}
