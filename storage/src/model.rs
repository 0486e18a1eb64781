//! The data model every layer shares: tenants, label sets, samples and matchers.
//!
//! A series is a metric name (`__name__`) plus labels, sorted by name. A sample is
//! `(i64 milliseconds, f64)`; Prometheus' stale marker (a NaN with a fixed bit pattern) is
//! an ordinary value here and is kept bit for bit.

use std::fmt;

use crate::error::{Error, Result};

/// The label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// Prometheus' staleness marker: a NaN with this exact bit pattern.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Returns true if `v` is Prometheus' stale marker (not any other NaN).
pub fn is_stale_marker(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One sample: milliseconds since the Unix epoch and a float value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub t: i64,
    pub v: f64,
}

impl Sample {
    pub fn new(t: i64, v: f64) -> Self {
        Sample { t, v }
    }

    /// Bitwise equality, so that NaNs (and stale markers) compare equal to themselves.
    pub fn bit_eq(&self, other: &Sample) -> bool {
        self.t == other.t && self.v.to_bits() == other.v.to_bits()
    }
}

/// Appends to `out` the union of two time-sorted sample lists without repeated timestamps;
/// on a timestamp in both, `first`'s sample is kept (in-order data over out-of-order data).
pub fn merge_preferring_first(first: &[Sample], second: &[Sample], out: &mut Vec<Sample>) {
    out.reserve(first.len() + second.len());
    let (mut i, mut j) = (0, 0);
    while i < first.len() && j < second.len() {
        let (a, b) = (first[i], second[j]);
        if a.t <= b.t {
            out.push(a);
            i += 1;
            if a.t == b.t {
                j += 1;
            }
        } else {
            out.push(b);
            j += 1;
        }
    }
    out.extend_from_slice(&first[i..]);
    out.extend_from_slice(&second[j..]);
}

/// A tenant name: `[A-Za-z0-9_-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(String);

impl Tenant {
    pub const DEFAULT: &'static str = "default";

    pub fn new(name: &str) -> Result<Self> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(Tenant(name.to_string()))
        } else {
            Err(Error::InvalidTenant {
                tenant: name.to_string(),
            })
        }
    }

    pub fn default_tenant() -> Self {
        Tenant(Self::DEFAULT.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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

/// How a matcher compares a label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    RegexMatch,
    RegexNoMatch,
}

/// A label matcher with Prometheus semantics: regexes are fully anchored RE2, and a missing
/// label has the value "".
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    re: Option<regex::Regex>,
}

impl Matcher {
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let value = value.into();
        let re = match op {
            MatchOp::RegexMatch | MatchOp::RegexNoMatch => {
                // Prometheus anchors every regex at both ends; `(?s)` makes `.` match newlines too.
                let anchored = format!("^(?s:{value})$");
                Some(
                    regex::Regex::new(&anchored).map_err(|e| Error::InvalidRegex {
                        regex: value.clone(),
                        reason: e.to_string(),
                    })?,
                )
            }
            _ => None,
        };
        Ok(Matcher {
            name,
            op,
            value,
            re,
        })
    }

    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher {
            name: name.into(),
            op: MatchOp::Equal,
            value: value.into(),
            re: None,
        }
    }

    /// Does a label value (or "" when the label is absent) satisfy this matcher?
    pub fn matches(&self, value: &str) -> bool {
        match self.op {
            MatchOp::Equal => value == self.value,
            MatchOp::NotEqual => value != self.value,
            MatchOp::RegexMatch => self.re.as_ref().is_some_and(|r| r.is_match(value)),
            MatchOp::RegexNoMatch => !self.re.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }

    /// True if the empty string satisfies the matcher, i.e. series without the label match.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// For a regex that is a plain alternation of literals (`a|b|c`), the literals; lets the
    /// index look values up directly instead of scanning every value of the label.
    pub fn literal_alternatives(&self) -> Option<Vec<String>> {
        if self.op != MatchOp::RegexMatch {
            return None;
        }
        let meta = |c: char| "\\.+*?()[]{}^$|".contains(c);
        let parts: Vec<&str> = self.value.split('|').collect();
        if parts.iter().all(|p| !p.chars().any(meta)) {
            Some(parts.into_iter().map(str::to_string).collect())
        } else {
            None
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::RegexMatch => "=~",
            MatchOp::RegexNoMatch => "!~",
        };
        write!(f, "{}{}{:?}", self.name, op, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn regex_matchers_are_fully_anchored() {
        let m = Matcher::new(MatchOp::RegexMatch, "job", "api").unwrap();
        assert!(m.matches("api"));
        assert!(!m.matches("api-server"));
        assert!(!m.matches("my-api"));
        let m = Matcher::new(MatchOp::RegexMatch, "job", "a.*|b").unwrap();
        assert!(m.matches("abc") && m.matches("b") && !m.matches("bc"));
        let m = Matcher::new(MatchOp::RegexNoMatch, "job", "").unwrap();
        assert!(m.matches("x") && !m.matches(""));
        let m = Matcher::new(MatchOp::RegexMatch, "job", "a.b").unwrap();
        assert!(m.matches("a\nb"));
    }

    #[test]
    fn invalid_regex_is_an_error_naming_it() {
        let err = Matcher::new(MatchOp::RegexMatch, "job", "a(").unwrap_err();
        assert!(err.to_string().contains("a("), "{err}");
    }

    #[test]
    fn literal_alternatives_only_for_plain_literals() {
        let m = Matcher::new(MatchOp::RegexMatch, "h", "a|b|c").unwrap();
        assert_eq!(m.literal_alternatives().unwrap(), ["a", "b", "c"]);
        let m = Matcher::new(MatchOp::RegexMatch, "h", "a.*").unwrap();
        assert!(m.literal_alternatives().is_none());
    }

    #[test]
    fn tenant_names_are_validated() {
        assert!(Tenant::new("acme-1_x").is_ok());
        assert!(Tenant::new("").is_err());
        assert!(Tenant::new("a b").is_err());
        assert!(Tenant::new(&"a".repeat(65)).is_err());
    }

    #[test]
    fn stale_marker_is_recognised_exactly() {
        assert!(is_stale_marker(f64::from_bits(STALE_NAN_BITS)));
        assert!(!is_stale_marker(f64::NAN));
    }
}
