//! Positioned YAML: the first document of a file as a tree whose every node knows its line
//! and column (1-based, as Go's yaml.v3 reports them), so that errors can point at the
//! offending value the way promtool does (`7:15: ... could not parse expression`). Shared by
//! rule files, rule unit tests and `alertmanager.yml` (`notify::config`).
//!
//! Built from yaml-rust2's event parser rather than its `Yaml` loader because the loader
//! drops positions, quoting style and duplicate keys, all three of which the rule checks
//! need. Aliases are expanded; tags are ignored (neither format uses them).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeKind {
    /// `~`, `null`, or nothing at all (`key:` with no value).
    Null,
    /// A scalar as written; `plain` is false for quoted and block scalars, which are always
    /// strings (so `"1"` is the string 1, `1` may be a number).
    Scalar {
        value: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in file order; duplicates are kept (the decoder reports them).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// What this node is, for "expected a string, found a list" messages.
    pub(crate) fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Null => "nothing",
            NodeKind::Scalar { .. } => "a scalar",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// The scalar's text, or None for any other node.
    pub(crate) fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }
}

/// A YAML syntax error and where the scanner stopped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) message: String,
}

/// Parses the first document of `text`; `Ok(None)` for an empty file (or one of comments only).
pub(crate) fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut builder = Builder {
        lines: text.lines().collect(),
        stack: Vec::new(),
        root: None,
        anchors: HashMap::new(),
        error: None,
    };
    // `multi = false`: Prometheus reads only the first document of a rule file too.
    Parser::new_from_str(text)
        .load(&mut builder, false)
        .map_err(|e| SyntaxError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.root)
}

/// Turns the event stream into a tree. A stack of open collections; a finished node goes
/// into the collection on top, or becomes the root.
struct Builder<'t> {
    /// The source, to find a block scalar's `|`/`>` indicator.
    lines: Vec<&'t str>,
    stack: Vec<Open>,
    root: Option<Node>,
    anchors: HashMap<usize, Node>,
    error: Option<SyntaxError>,
}

struct Open {
    node: Node,
    anchor: usize,
    /// For a mapping: the key read, waiting for its value.
    pending_key: Option<Node>,
}

impl Builder<'_> {
    /// Where the `|` or `>` of a block scalar whose text starts at `line` is: the last such
    /// character on the nearest non-blank line above (yaml-rust2 marks the text; yaml.v3,
    /// and so promtool, the indicator).
    fn block_indicator(&self, line: usize) -> Option<(usize, usize)> {
        let above = line.checked_sub(1)?;
        let (idx, text) = self.lines[..above.min(self.lines.len())]
            .iter()
            .enumerate()
            .rev()
            .find(|(_, l)| !l.trim().is_empty())?;
        let code = text.split(" #").next().unwrap_or(text);
        let byte = code.rfind(['|', '>'])?;
        Some((idx + 1, code[..byte].chars().count() + 1))
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let Some(top) = self.stack.last_mut() else {
            if self.root.is_none() {
                self.root = Some(node);
            }
            return;
        };
        match &mut top.node.kind {
            NodeKind::Seq(items) => items.push(node),
            NodeKind::Map(entries) => match top.pending_key.take() {
                None => top.pending_key = Some(node),
                Some(key) => {
                    let mut node = node;
                    // `key:` with nothing after it: the parser places the empty value at the
                    // next token (often lines later); yaml.v3 places it right after the colon.
                    if node.kind == NodeKind::Null && node.line > key.line {
                        let key_len = key.as_scalar().map_or(0, |k| k.chars().count());
                        node.line = key.line;
                        node.column = key.column + key_len + 1;
                    }
                    entries.push((key, node));
                }
            },
            // Only collections are ever pushed on the stack.
            NodeKind::Null | NodeKind::Scalar { .. } => {}
        }
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        // yaml-rust2's markers count columns from 0; Go's yaml.v3 (and promtool) from 1.
        let (line, column) = (mark.line(), mark.col() + 1);
        match ev {
            Event::Scalar(value, style, anchor, _tag) => {
                let plain = style == TScalarStyle::Plain;
                let (line, column) = match style {
                    TScalarStyle::Literal | TScalarStyle::Folded => {
                        self.block_indicator(line).unwrap_or((line, column))
                    }
                    _ => (line, column),
                };
                let kind = if plain && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL")
                {
                    NodeKind::Null
                } else {
                    NodeKind::Scalar { value, plain }
                };
                self.finish(Node { line, column, kind }, anchor);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Open {
                node: Node {
                    line,
                    column,
                    kind: NodeKind::Seq(Vec::new()),
                },
                anchor,
                pending_key: None,
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Open {
                node: Node {
                    line,
                    column,
                    kind: NodeKind::Map(Vec::new()),
                },
                anchor,
                pending_key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(mut open) = self.stack.pop() {
                    // A block mapping's start event is marked where its first key ends (the
                    // parser only knows it has a mapping at the `:`); yaml.v3 places the
                    // mapping at its first key.
                    if let NodeKind::Map(entries) = &open.node.kind
                        && let Some((key, _)) = entries.first()
                        && (key.line, key.column) < (open.node.line, open.node.column)
                    {
                        (open.node.line, open.node.column) = (key.line, key.column);
                    }
                    self.finish(open.node, open.anchor);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(mut node) => {
                    // Point at the alias, not at the anchored original.
                    node.line = line;
                    node.column = column;
                    self.finish(node, 0);
                }
                None => {
                    if self.error.is_none() {
                        self.error = Some(SyntaxError {
                            line,
                            column,
                            message: "unknown anchor".to_string(),
                        });
                    }
                }
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
#[path = "yaml/yaml_test.rs"]
mod yaml_test;
