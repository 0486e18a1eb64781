//! A label matcher as Alertmanager writes them in routes, inhibit rules and silences
//! (`severity="critical"`, `job=~"api|web"`, `env!="dev"`).

use std::collections::BTreeMap;

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    /// `^(?:value)$`, compiled once; only for the regex operators.
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Matcher {
    /// A matcher; a regex operator's value must compile (anchored, as Alertmanager anchors it).
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Matcher, String> {
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("invalid regular expression {value:?}: {e}"))?,
            ),
            _ => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value: value.to_string(),
            regex,
        })
    }

    /// Whether the label set matches. A missing label is the empty string, as in Alertmanager.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.name).map(String::as_str).unwrap_or("");
        self.matches_value(v)
    }

    pub fn matches_value(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Equal => v == self.value,
            MatchOp::NotEqual => v != self.value,
            MatchOp::Regex => self.regex.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::NotRegex => !self.regex.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }
}

/// Alertmanager's text form (`labels.Matcher.String`): `name="value"`, the value escaped as
/// OpenMetrics escapes it (only `\\`, `\n` and `\"`; not Go's `%q`, which would also escape
/// tabs and non-printable characters). Route keys, and so group keys, are built from it.
impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}\"", self.name, self.op.as_str())?;
        for c in self.value.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '"' => f.write_str("\\\"")?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

impl Matcher {
    /// Alertmanager's matcher order (`labels.Matchers.Less`): by name, then value, then
    /// operator (`=`, `!=`, `=~`, `!~`).
    pub fn am_cmp(&self, other: &Matcher) -> std::cmp::Ordering {
        let rank = |op: MatchOp| op as u8;
        (self.name.as_str(), self.value.as_str(), rank(self.op)).cmp(&(
            other.name.as_str(),
            other.value.as_str(),
            rank(other.op),
        ))
    }
}

/// `{a="b",c=~"d"}`, as Alertmanager prints a matcher list (`labels.Matchers.String`).
pub fn matchers_string(matchers: &[Matcher]) -> String {
    let parts: Vec<String> = matchers.iter().map(Matcher::to_string).collect();
    format!("{{{}}}", parts.join(","))
}

/// Whether every matcher matches.
pub fn all_match(matchers: &[Matcher], labels: &BTreeMap<String, String>) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}
