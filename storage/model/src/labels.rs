//! Label sets: a series is a metric name (`__name__`) plus labels, sorted by name, with unique
//! names and no empty values (an empty value means "label absent", as in Prometheus).

use std::fmt;

use crate::error::{Error, Result};

/// The label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    pub name: String,
    pub value: String,
}

impl Label {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A label set sorted by name, with unique names and no empty values
/// (an empty value means "label absent", as in Prometheus).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// Builds a label set: drops empty values, sorts by name, rejects duplicate names.
    pub fn from_pairs<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Result<Self>
    where
        N: Into<String>,
        V: Into<String>,
    {
        let mut v: Vec<Label> = pairs
            .into_iter()
            .map(|(n, v)| Label::new(n, v))
            .filter(|l| !l.value.is_empty())
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        for w in v.windows(2) {
            if w[0].name == w[1].name {
                return Err(Error::DuplicateLabel {
                    name: w[0].name.clone(),
                });
            }
        }
        for l in &v {
            if l.name.is_empty() {
                return Err(Error::EmptyLabelName);
            }
        }
        Ok(Labels(v))
    }

    /// Wraps labels that are already sorted, unique and non-empty (e.g. decoded from disk).
    pub fn from_sorted_unchecked(v: Vec<Label>) -> Self {
        Labels(v)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of label `name`, or "" when absent (Prometheus' convention).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.value.as_str())
            .unwrap_or("")
    }

    pub fn metric_name(&self) -> &str {
        self.get(METRIC_NAME)
    }

    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }

    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }
}

/// A label set shown as Prometheus' `labels.Labels.String()` does: every label, `__name__`
/// included, in name order inside braces (`{__name__="up", job="a"}`), as Prometheus' error
/// messages print series.
pub struct Braced<'a>(pub &'a Labels);

impl fmt::Display for Braced<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.0.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.metric_name())?;
        f.write_str("{")?;
        let mut first = true;
        for l in self.0.iter().filter(|l| l.name != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braced_shows_every_label_as_prometheus_errors_do() {
        let l = Labels::from_pairs([("b", "4"), ("__name__", "join_2"), ("a", "1")]).unwrap();
        assert_eq!(
            Braced(&l).to_string(),
            r#"{__name__="join_2", a="1", b="4"}"#
        );
    }

    #[test]
    fn labels_are_sorted_and_empty_values_dropped() {
        let l =
            Labels::from_pairs([("b", "2"), ("__name__", "up"), ("a", "1"), ("c", "")]).unwrap();
        let names: Vec<&str> = l.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "a", "b"]);
        assert_eq!(l.metric_name(), "up");
        assert_eq!(l.get("c"), "");
    }

    #[test]
    fn duplicate_label_names_are_rejected() {
        let err = Labels::from_pairs([("a", "1"), ("a", "2")]).unwrap_err();
        assert!(matches!(err, Error::DuplicateLabel { .. }));
    }
}
