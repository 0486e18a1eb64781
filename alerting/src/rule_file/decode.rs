//! Decoding: the positioned YAML tree into raw groups and rules, checking the shape (known
//! keys, no key twice, the right YAML type for each, durations and numbers that parse), as
//! Go's yaml.v3 does for promtool with `KnownFields(true)`. Raw values keep their nodes so
//! that `validate` can place its errors. Meaning (a rule is `record` xor `alert`, the PromQL
//! parses …) is `validate`'s job.

use std::collections::HashSet;

use cairn_query::promqltest::parse_duration_ms;

use super::{RuleError, RuleFileError};
use crate::simple_kind;
use crate::yaml::{Node, NodeKind};

/// Keys of a group, in the order the error message lists them.
const GROUP_KEYS: [&str; 5] = ["name", "interval", "query_offset", "limit", "rules"];
/// Keys of a rule; a simple kind's own keys come on top (`simple_kind::keys`).
const RULE_KEYS: [&str; 8] = [
    "record",
    "alert",
    "expr",
    "for",
    "keep_firing_for",
    "labels",
    "annotations",
    "kind",
];

/// Where an error belongs besides its node: the group and rule it is in.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ctx {
    pub(crate) group: Option<String>,
    pub(crate) rule_index: Option<usize>,
    pub(crate) rule_name: Option<String>,
    /// (group, rule) sequence numbers (1-based; 0: none) that order the errors: a file's
    /// errors are reported group by group, rule by rule, whichever pass found them.
    pub(crate) order: (usize, usize),
}

/// Collects the errors of one file.
pub(crate) struct Sink {
    file: String,
    errors: Vec<((usize, usize), RuleError)>,
}

impl Sink {
    pub(crate) fn new(file: &str) -> Self {
        Sink {
            file: file.to_string(),
            errors: Vec::new(),
        }
    }

    /// An error at `node`.
    pub(crate) fn at(&mut self, ctx: &Ctx, node: &Node, message: impl Into<String>) {
        self.at_pos(ctx, node.line, node.column, message);
    }

    pub(crate) fn at_pos(
        &mut self,
        ctx: &Ctx,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) {
        self.errors.push((
            ctx.order,
            RuleError {
                file: self.file.clone(),
                line,
                column,
                group: ctx.group.clone(),
                rule_index: ctx.rule_index,
                rule_name: ctx.rule_name.clone(),
                message: message.into(),
            },
        ));
    }

    pub(crate) fn file(&self) -> &str {
        &self.file
    }

    /// Errors so far.
    pub(crate) fn len(&self) -> usize {
        self.errors.len()
    }

    pub(crate) fn finish(self) -> Result<(), RuleFileError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            let mut errors = self.errors;
            // Stable: within a rule, the order the checks ran in (rulefmt's order).
            errors.sort_by_key(|(order, _)| *order);
            Err(RuleFileError {
                errors: errors.into_iter().map(|(_, e)| e).collect(),
            })
        }
    }
}

/// A group as written.
pub(crate) struct RawGroup<'a> {
    pub(crate) node: &'a Node,
    /// The group's error context (its name once known, its sequence number).
    pub(crate) ctx: Ctx,
    /// The `name` value ("" when missing or null).
    pub(crate) name: String,
    /// The `name` value had the wrong type (already reported).
    pub(crate) name_broken: bool,
    /// Line of the `name:` key (0 when missing).
    pub(crate) name_line: usize,
    pub(crate) interval_ms: Option<i64>,
    pub(crate) query_offset_ms: Option<i64>,
    pub(crate) limit: u64,
    pub(crate) rules: Vec<RawRule<'a>>,
}

/// A string value and its node.
#[derive(Clone, Copy)]
pub(crate) struct Str<'a> {
    pub(crate) node: &'a Node,
    pub(crate) text: &'a str,
}

/// One `labels`/`annotations` entry.
pub(crate) struct Entry<'a> {
    pub(crate) key: &'a Node,
    pub(crate) value: &'a Node,
    pub(crate) name: &'a str,
    pub(crate) text: &'a str,
}

/// A rule as written.
pub(crate) struct RawRule<'a> {
    pub(crate) node: &'a Node,
    pub(crate) ctx: Ctx,
    pub(crate) record: Option<Str<'a>>,
    pub(crate) alert: Option<Str<'a>>,
    pub(crate) expr: Option<Str<'a>>,
    /// Node of the `for` value, and its value in ms.
    pub(crate) for_ms: Option<(&'a Node, i64)>,
    pub(crate) keep_firing_for_ms: Option<(&'a Node, i64)>,
    pub(crate) labels: Vec<Entry<'a>>,
    pub(crate) annotations: Vec<Entry<'a>>,
    pub(crate) kind: Option<Str<'a>>,
    /// A simple kind's own keys: key node, key, value node.
    pub(crate) kind_params: Vec<(&'a Node, &'a str, &'a Node)>,
    /// Keys whose value had the wrong type (already reported): `validate` must not also
    /// call them missing.
    pub(crate) broken: HashSet<&'static str>,
}

/// A rule file's top level: a mapping with `groups` only.
pub(crate) fn file<'a>(sink: &mut Sink, root: Option<&'a Node>) -> Vec<RawGroup<'a>> {
    let ctx = Ctx::default();
    let Some(root) = root else { return Vec::new() };
    let entries = match &root.kind {
        NodeKind::Null => return Vec::new(),
        NodeKind::Map(entries) => entries,
        _ => {
            sink.at(
                &ctx,
                root,
                format!(
                    "expected a mapping with `groups:`, found {}",
                    root.describe()
                ),
            );
            return Vec::new();
        }
    };
    let mut groups = Vec::new();
    for (key, value) in unique_keys(sink, &ctx, entries, "the file") {
        if key != "groups" {
            sink.at(
                &ctx,
                value.0,
                format!("field {key} not found in the file's top level (expected: groups)"),
            );
            continue;
        }
        let value = value.1;
        match &value.kind {
            NodeKind::Null => {}
            NodeKind::Seq(items) => {
                // A null item (`- ~`) is no group, as yaml.v3 decodes it for promtool.
                let items = items.iter().filter(|g| g.kind != NodeKind::Null);
                groups.extend(items.enumerate().filter_map(|(i, g)| group(sink, i + 1, g)))
            }
            _ => sink.at(
                &ctx,
                value,
                format!("groups: expected a list, found {}", value.describe()),
            ),
        }
    }
    groups
}

/// One group (an item of `groups:`, or the whole text for `parse_group`).
/// `seq` is the group's 1-based position in the file.
pub(crate) fn group<'a>(sink: &mut Sink, seq: usize, node: &'a Node) -> Option<RawGroup<'a>> {
    let mut ctx = Ctx {
        order: (seq, 0),
        ..Ctx::default()
    };
    let NodeKind::Map(entries) = &node.kind else {
        sink.at(
            &ctx,
            node,
            format!("a group must be a mapping, found {}", node.describe()),
        );
        return None;
    };
    let fields = unique_keys(sink, &ctx, entries, "the group");
    // The name first: errors in the rest of the group carry it.
    let mut raw = RawGroup {
        node,
        ctx: ctx.clone(),
        name: String::new(),
        name_broken: false,
        name_line: 0,
        interval_ms: None,
        query_offset_ms: None,
        limit: 0,
        rules: Vec::new(),
    };
    if let Some((key, value)) = fields.iter().find(|(k, _)| *k == "name").map(|(_, kv)| *kv) {
        raw.name_line = key.line;
        match string(sink, &ctx, "name", value) {
            Some(s) => raw.name = s.text.to_string(),
            None => raw.name_broken = true,
        }
    }
    if !raw.name.is_empty() {
        ctx.group = Some(raw.name.clone());
        raw.ctx.group = Some(raw.name.clone());
    }
    let mut rules_node = None;
    for (key, (key_node, value)) in &fields {
        match *key {
            "name" => {}
            "interval" => {
                // 0 means "the global evaluation interval", as in Prometheus.
                raw.interval_ms = duration(sink, &ctx, key, value).filter(|ms| *ms > 0);
            }
            "query_offset" => raw.query_offset_ms = duration(sink, &ctx, key, value),
            "limit" => raw.limit = limit(sink, &ctx, value),
            "rules" => rules_node = Some(*value),
            other => sink.at(
                &ctx,
                key_node,
                format!(
                    "field {other} not found in a group (expected one of: {})",
                    GROUP_KEYS.join(", ")
                ),
            ),
        }
    }
    if let Some(rules) = rules_node {
        match &rules.kind {
            NodeKind::Null => {}
            NodeKind::Seq(items) => {
                // As for groups, a null item is no rule.
                let items = items.iter().filter(|r| r.kind != NodeKind::Null);
                for (i, item) in items.enumerate() {
                    if let Some(r) = rule(sink, &ctx, i + 1, item) {
                        raw.rules.push(r);
                    }
                }
            }
            _ => sink.at(
                &ctx,
                rules,
                format!("rules: expected a list, found {}", rules.describe()),
            ),
        }
    }
    Some(raw)
}

fn rule<'a>(sink: &mut Sink, group: &Ctx, index: usize, node: &'a Node) -> Option<RawRule<'a>> {
    let mut ctx = Ctx {
        rule_index: Some(index),
        order: (group.order.0, index),
        ..group.clone()
    };
    let NodeKind::Map(entries) = &node.kind else {
        sink.at(
            &ctx,
            node,
            format!("a rule must be a mapping, found {}", node.describe()),
        );
        return None;
    };
    // The name first, for the context of every other error.
    // As rulefmt: the alert name if there is one, else the record name.
    let named = |key: &str| {
        entries.iter().find_map(|(k, v)| {
            (k.as_scalar() == Some(key))
                .then(|| v.as_scalar())
                .flatten()
        })
    };
    let name = named("alert")
        .filter(|n| !n.is_empty())
        .or(named("record"))
        .map(str::to_string);
    ctx.rule_name = name;
    let fields = unique_keys(sink, &ctx, entries, "the rule");
    let kind_keys = fields
        .iter()
        .find(|(k, _)| *k == "kind")
        .and_then(|(_, (_, v))| v.as_scalar())
        .and_then(simple_kind::keys);
    let mut raw = RawRule {
        node,
        ctx: ctx.clone(),
        record: None,
        alert: None,
        expr: None,
        for_ms: None,
        keep_firing_for_ms: None,
        labels: Vec::new(),
        annotations: Vec::new(),
        kind: None,
        kind_params: Vec::new(),
        broken: HashSet::new(),
    };
    for (key, (key_node, value)) in fields {
        let slot: &'static str = match RULE_KEYS.iter().find(|k| **k == key) {
            Some(k) => k,
            None => {
                if kind_keys.is_some_and(|keys| keys.contains(&key)) {
                    raw.kind_params.push((key_node, key, value));
                } else if kind_keys.is_none() && simple_kind::is_any_kind_key(key) {
                    // Belongs to some simple kind: `validate` says the kind is missing or wrong.
                    raw.kind_params.push((key_node, key, value));
                } else {
                    let mut expected: Vec<&str> = RULE_KEYS.to_vec();
                    expected.extend(kind_keys.unwrap_or(&[]));
                    sink.at(
                        &ctx,
                        key_node,
                        format!(
                            "field {key} not found in a rule (expected one of: {})",
                            expected.join(", ")
                        ),
                    );
                }
                continue;
            }
        };
        let ok = match slot {
            "record" => string(sink, &ctx, slot, value)
                .map(|s| raw.record = Some(s))
                .is_some(),
            "alert" => string(sink, &ctx, slot, value)
                .map(|s| raw.alert = Some(s))
                .is_some(),
            "expr" => string(sink, &ctx, slot, value)
                .map(|s| raw.expr = Some(s))
                .is_some(),
            "kind" => string(sink, &ctx, slot, value)
                .map(|s| raw.kind = Some(s))
                .is_some(),
            "for" => duration(sink, &ctx, slot, value)
                .map(|ms| raw.for_ms = Some((value, ms)))
                .is_some(),
            "keep_firing_for" => duration(sink, &ctx, slot, value)
                .map(|ms| raw.keep_firing_for_ms = Some((value, ms)))
                .is_some(),
            "labels" => string_map(sink, &ctx, slot, value)
                .map(|m| raw.labels = m)
                .is_some(),
            _ => string_map(sink, &ctx, slot, value)
                .map(|m| raw.annotations = m)
                .is_some(),
        };
        if !ok {
            raw.broken.insert(slot);
        }
    }
    Some(raw)
}

/// The entries of a mapping by key, reporting non-scalar keys and keys given twice (yaml.v3:
/// `mapping key "x" already defined at line N`). The first of two equal keys wins.
fn unique_keys<'a>(
    sink: &mut Sink,
    ctx: &Ctx,
    entries: &'a [(Node, Node)],
    what: &str,
) -> Vec<(&'a str, (&'a Node, &'a Node))> {
    let mut out: Vec<(&'a str, (&'a Node, &'a Node))> = Vec::new();
    for (k, v) in entries {
        let Some(key) = k.as_scalar() else {
            sink.at(
                ctx,
                k,
                format!("a key of {what} must be a string, found {}", k.describe()),
            );
            continue;
        };
        if let Some((_, (first, _))) = out.iter().find(|(name, _)| *name == key) {
            sink.at(
                ctx,
                k,
                format!("mapping key {key:?} already defined at line {}", first.line),
            );
            continue;
        }
        out.push((key, (k, v)));
    }
    out
}

/// A string field; null is the empty string (as yaml.v3 decodes it), any scalar is its text.
fn string<'a>(sink: &mut Sink, ctx: &Ctx, key: &str, node: &'a Node) -> Option<Str<'a>> {
    match &node.kind {
        NodeKind::Null => Some(Str { node, text: "" }),
        NodeKind::Scalar { value, .. } => Some(Str { node, text: value }),
        _ => {
            sink.at(
                ctx,
                node,
                format!("{key}: expected a string, found {}", node.describe()),
            );
            None
        }
    }
}

/// A duration in Prometheus' format (`5m`, `1h30m`); null is 0.
fn duration(sink: &mut Sink, ctx: &Ctx, key: &str, node: &Node) -> Option<i64> {
    let s = string(sink, ctx, key, node)?;
    if matches!(node.kind, NodeKind::Null) {
        return Some(0);
    }
    match parse_duration_ms(s.text) {
        Ok(ms) => Some(ms),
        Err(e) => {
            sink.at(ctx, node, format!("{key}: {e}"));
            None
        }
    }
}

/// `limit`: an integer; zero or negative means no limit (as in Prometheus).
fn limit(sink: &mut Sink, ctx: &Ctx, node: &Node) -> u64 {
    match &node.kind {
        NodeKind::Null => 0,
        NodeKind::Scalar { value, plain: true } => match value.parse::<i64>() {
            Ok(n) => u64::try_from(n).unwrap_or(0),
            Err(_) => {
                sink.at(
                    ctx,
                    node,
                    format!("limit: expected an integer, found {value:?}"),
                );
                0
            }
        },
        _ => {
            sink.at(
                ctx,
                node,
                format!("limit: expected an integer, found {}", node.describe()),
            );
            0
        }
    }
}

/// A mapping of strings to strings (`labels`, `annotations`), in file order.
fn string_map<'a>(sink: &mut Sink, ctx: &Ctx, key: &str, node: &'a Node) -> Option<Vec<Entry<'a>>> {
    let entries = match &node.kind {
        NodeKind::Null => return Some(Vec::new()),
        NodeKind::Map(entries) => entries,
        _ => {
            sink.at(
                ctx,
                node,
                format!("{key}: expected a mapping, found {}", node.describe()),
            );
            return None;
        }
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (name, (k, v)) in unique_keys(sink, ctx, entries, key) {
        match string(sink, ctx, &format!("{key}.{name}"), v) {
            Some(s) => out.push(Entry {
                key: k,
                value: v,
                name,
                text: s.text,
            }),
            None => ok = false,
        }
    }
    ok.then_some(out)
}
