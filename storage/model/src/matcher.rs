//! Label matchers with Prometheus semantics: regexes are fully anchored RE2, and a missing
//! label has the value "".

use std::fmt;

use crate::error::{Error, Result};

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
}
