//! Rule files: Prometheus' rule-file format (`model/rulefmt`, v3.0) read into [`RuleGroup`]s,
//! checked as `promtool check rules` checks them, with every error of a file collected and
//! placed (file, line:column, group, rule). Also Cairn's simple rule kinds (`kind:
//! threshold` …, compiled to PromQL by [`crate::simple_kind`]), the duplicate-rule lint and
//! the report `cairn rules check` prints.
//!
//! ```text
//!  text ──yaml::parse──► positioned tree ──decode──► raw groups/rules (types, unknown keys)
//!                                                        │
//!                                      validate (rulefmt's checks, PromQL, templates,
//!                                                simple kinds) ──► RuleFile | RuleFileError
//! ```
//!
//! What it must not do: read files (the CLI and the HTTP API hand it text) or evaluate rules.

mod check_report;
mod decode;
mod duplicates;
mod validate;

use std::fmt;

pub use check_report::check_report;
pub use duplicates::{DuplicateRule, find_duplicates};

use crate::rule::RuleGroup;
use crate::yaml;

/// A parsed and validated rule file.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFile {
    pub path: String,
    pub groups: Vec<RuleGroup>,
}

/// One problem in a rule file, placed as promtool places it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleError {
    pub file: String,
    /// Line and column (1-based) of the offending node; 0 when there is none.
    pub line: usize,
    pub column: usize,
    pub group: Option<String>,
    /// The rule's position in its group, 1-based.
    pub rule_index: Option<usize>,
    pub rule_name: Option<String>,
    pub message: String,
}

/// As promtool prints it:
/// `bad-rules-syntax.yml: 7:15: group "bad-syntax", rule 1, "x": could not parse expression: ...`.
impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        if self.line > 0 {
            write!(f, "{}:{}: ", self.line, self.column)?;
        }
        match (&self.group, self.rule_index) {
            (Some(g), Some(i)) => write!(
                f,
                "group {g:?}, rule {i}, {:?}: ",
                self.rule_name.as_deref().unwrap_or("")
            )?,
            (Some(g), None) => write!(f, "group {g:?}: ")?,
            (None, Some(i)) => write!(f, "rule {i}: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

/// All the errors of one file (or one group), in file order.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct RuleFileError {
    pub errors: Vec<RuleError>,
}

/// One error per line.
impl fmt::Display for RuleFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Parses and validates a rule file (`groups:` at the top). `path` is recorded in every
/// group (`RuleGroup::file`) and every error.
pub fn parse_rule_file(path: &str, text: &str) -> Result<RuleFile, RuleFileError> {
    let root = parse_yaml(path, text)?;
    let mut sink = decode::Sink::new(path);
    let groups = decode::file(&mut sink, root.as_ref());
    let groups = validate::groups(&mut sink, groups);
    sink.finish()?;
    Ok(RuleFile {
        path: path.to_string(),
        groups,
    })
}

/// One group given alone (the body of `PUT /api/v1/rules/{group}`, Mimir's ruler format:
/// `name:`, `interval:`, `rules:` at top level); `file` is the file name to record.
pub fn parse_group(file: &str, text: &str) -> Result<RuleGroup, RuleFileError> {
    let root = parse_yaml(file, text)?;
    let mut sink = decode::Sink::new(file);
    let group = match root.as_ref() {
        Some(node) => decode::group(&mut sink, 1, node),
        None => {
            let ctx = decode::Ctx::default();
            sink.at_pos(&ctx, 1, 1, "empty rule group: expected name and rules");
            None
        }
    };
    let mut groups = validate::groups(&mut sink, group.into_iter().collect());
    sink.finish()?;
    groups.pop().ok_or_else(|| RuleFileError {
        errors: vec![RuleError {
            file: file.to_string(),
            line: 1,
            column: 1,
            group: None,
            rule_index: None,
            rule_name: None,
            message: "no rule group found".to_string(),
        }],
    })
}

fn parse_yaml(file: &str, text: &str) -> Result<Option<yaml::Node>, RuleFileError> {
    yaml::parse(text).map_err(|e| RuleFileError {
        errors: vec![RuleError {
            file: file.to_string(),
            line: e.line,
            column: e.column,
            group: None,
            rule_index: None,
            rule_name: None,
            message: format!("yaml: {}", e.message),
        }],
    })
}

#[cfg(test)]
#[path = "rule_file/rule_file_test.rs"]
mod rule_file_test;
