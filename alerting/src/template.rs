//! Cairn's Go `text/template` engine: it renders alert label and annotation templates exactly
//! as Prometheus does (Go's template language, Go's `fmt` printing and error texts, and
//! Prometheus' function set), and Alertmanager-style notification templates (`define`,
//! `template`, `range .Alerts`) with the same engine.
//!
//! ```text
//!  text ──lexer──► items ──parser──► Tree per template name ─┐
//!                                                            ├─► Template (a named set)
//!  Template::execute(name, data: Value, funcs) ──exec──► String (or TemplateError, Go's text)
//!                          builtins (and, printf, eq, …) ◄──┤
//!                      Functions (caller's: Prometheus') ◄──┘
//! ```
//!
//! What it must not do: evaluate PromQL itself or hold I/O. The `query` function reaches the
//! caller's evaluator through [`TemplateQuerier`]; everything else is pure.
//!
//! Choices where Go's reflection has no direct counterpart (see [`Value`]): a map whose values
//! are all strings acts as Go's `map[string]string` (a missing key reads as ""), any other map
//! as `map[string]interface{}` (a missing key reads as nil and prints `<no value>`); both as
//! under `missingkey=zero`, which Prometheus and Alertmanager set.

pub(crate) mod builtins;
mod exec;
mod go_fmt;
mod go_time;
mod lexer;
mod parser;
mod prometheus;
mod value;

use std::collections::BTreeMap;

pub use builtins::html_template_escape;
pub use go_fmt::{format_float, go_quote, sprint, sprintf};
pub use go_time::GoTime;
pub(crate) use go_time::duration_string;
pub use prometheus::{
    AlertTemplateData, PrometheusFunctions, QuerySample, TemplateQuerier, check_alert_text,
    convert_to_float, expand_alert_text, humanize_duration,
};
pub use value::{Method, Object, Value};

use parser::Tree;

/// Whether a template failed to parse or to execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateErrorKind {
    Parse,
    Execute,
}

/// A template error; its text is Go's (`template: NAME:LINE: msg` when parsing,
/// `template: NAME:LINE:COL: executing "NAME" at <...>: msg` when executing).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub kind: TemplateErrorKind,
    /// The template whose parse or execution failed.
    pub template: String,
    /// The complete message, as Go prints the error.
    pub message: String,
}

/// The Go type a function parameter has, which decides how Go converts and checks the
/// argument (`expected string; found 1`, `wrong type for value; expected string; got int`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// `interface{}` / `reflect.Value`: anything.
    Any,
    String,
    Float,
    Int,
    Bool,
    /// Prometheus' `*sample` (a query result element).
    Sample,
    /// Prometheus' `queryResult` (a list of samples).
    QueryResult,
    /// `time.Duration`.
    Duration,
    /// `time.Time`.
    Time,
}

impl ParamType {
    /// Go's spelling of the type.
    pub fn go_name(self) -> &'static str {
        match self {
            ParamType::Any => "interface {}",
            ParamType::String => "string",
            ParamType::Float => "float64",
            ParamType::Int => "int",
            ParamType::Bool => "bool",
            ParamType::Sample => "*template.sample",
            ParamType::QueryResult => "template.queryResult",
            ParamType::Duration => "time.Duration",
            ParamType::Time => "time.Time",
        }
    }
}

/// A function's parameters: fixed ones, then an optional variadic tail.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub params: Vec<ParamType>,
    pub variadic: Option<ParamType>,
}

impl Signature {
    pub fn fixed(params: &[ParamType]) -> Signature {
        Signature {
            params: params.to_vec(),
            variadic: None,
        }
    }

    pub fn variadic(params: &[ParamType], rest: ParamType) -> Signature {
        Signature {
            params: params.to_vec(),
            variadic: Some(rest),
        }
    }
}

/// Functions beyond Go's built-ins (Go's `FuncMap`). Looked up before the built-ins, as Go does.
pub trait Functions {
    /// Calls `name`; `None` when the function is not this set's.
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>>;
    /// Whether `name` is this set's (parse-time check for "function not defined").
    fn has(&self, name: &str) -> bool;
    /// The function's Go signature, for Go's argument count and type checks; `None` takes
    /// any number of arguments of any type.
    fn signature(&self, _name: &str) -> Option<Signature> {
        None
    }
}

/// No functions beyond the built-ins.
pub struct NoFunctions;

impl Functions for NoFunctions {
    fn call(&self, _name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        None
    }

    fn has(&self, _name: &str) -> bool {
        false
    }
}

/// A set of named templates, like Go's `*template.Template` with its associated templates.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    trees: BTreeMap<String, Tree>,
}

impl Template {
    /// Parses `text` as template `name` (plus the templates it `define`s), with Go's
    /// parse-time checks: undefined variables, unknown functions, unbalanced `end`.
    pub fn parse(name: &str, text: &str, funcs: &dyn Functions) -> Result<Template, TemplateError> {
        let mut t = Template {
            name: name.to_string(),
            trees: BTreeMap::new(),
        };
        t.add(name, text, funcs)?;
        Ok(t)
    }

    /// Parses another text into the set (Go's `t.New(name).Parse(text)`): its definitions
    /// replace earlier ones of the same name unless they are empty.
    pub fn add(
        &mut self,
        name: &str,
        text: &str,
        funcs: &dyn Functions,
    ) -> Result<(), TemplateError> {
        let has = |f: &str| funcs.has(f) || builtins::is_builtin(f);
        let trees = parser::parse(name, text, &has).map_err(|e| TemplateError {
            kind: TemplateErrorKind::Parse,
            template: name.to_string(),
            message: e.0,
        })?;
        for tree in trees {
            let keep_old = self
                .trees
                .get(&tree.name)
                .is_some_and(|_| parser::is_empty_tree(&tree.root));
            if !keep_old {
                self.trees.insert(tree.name.clone(), tree);
            }
        }
        Ok(())
    }

    /// The name given to [`Template::parse`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether a template of that name is in the set.
    pub fn has_template(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// Executes template `name` with `data` as dot.
    pub fn execute(
        &self,
        name: &str,
        data: &Value,
        funcs: &dyn Functions,
    ) -> Result<String, TemplateError> {
        self.run(name, data, funcs, false)
    }

    /// Executes template `name` as html/template does: every action's output is
    /// HTML-escaped unless it is `safeHtml`'s.
    pub fn execute_html(
        &self,
        name: &str,
        data: &Value,
        funcs: &dyn Functions,
    ) -> Result<String, TemplateError> {
        self.run(name, data, funcs, true)
    }

    fn run(
        &self,
        name: &str,
        data: &Value,
        funcs: &dyn Functions,
        html: bool,
    ) -> Result<String, TemplateError> {
        let Some(tree) = self.trees.get(name) else {
            return Err(TemplateError {
                kind: TemplateErrorKind::Execute,
                template: name.to_string(),
                message: format!(
                    "template: no template {} associated with template {}",
                    go_fmt::go_quote(name),
                    go_fmt::go_quote(&self.name)
                ),
            });
        };
        exec::execute(&self.trees, tree, data, funcs, html)
    }
}

#[cfg(test)]
#[path = "template/template_test.rs"]
mod template_test;
