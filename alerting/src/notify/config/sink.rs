//! Collects every problem of a configuration (Alertmanager stops at the first; Cairn reports
//! them all, each placed).

use super::ConfigError;
use crate::yaml::Node;

#[derive(Debug, Default)]
pub(crate) struct Sink {
    errors: Vec<ConfigError>,
}

impl Sink {
    /// A problem at `node` (its line and column), under the key path `path`.
    pub(crate) fn at(&mut self, path: &str, node: &Node, message: impl Into<String>) {
        self.at_pos(path, node.line, node.column, message);
    }

    pub(crate) fn at_pos(
        &mut self,
        path: &str,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) {
        self.errors.push(ConfigError {
            path: path.to_string(),
            line,
            column,
            message: message.into(),
        });
    }

    /// A problem with no single place (a missing section, a reference between sections).
    pub(crate) fn nowhere(&mut self, path: &str, message: impl Into<String>) {
        self.at_pos(path, 0, 0, message);
    }

    pub(crate) fn len(&self) -> usize {
        self.errors.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub(crate) fn into_errors(self) -> Vec<ConfigError> {
        let mut errors = self.errors;
        // File order; unplaced (cross-section) problems last, in the order found.
        errors.sort_by_key(|e| {
            if e.line == 0 {
                (usize::MAX, 0)
            } else {
                (e.line, e.column)
            }
        });
        errors
    }
}
