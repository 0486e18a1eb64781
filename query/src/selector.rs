//! Series selectors (`metric{label="value", ...}`) parsed with `promql-parser` into storage
//! matchers, with Prometheus' rules: at least one matcher must not match the empty string.

use cairn_model::{METRIC_NAME, MatchOp, Matcher};
use promql_parser::label::{MatchOp as PMatchOp, Matcher as PMatcher};
use promql_parser::parser::{self, Expr, VectorSelector};

use crate::error::{Error, Result};

/// Parses one series selector into matchers (the metric name becomes a `__name__` matcher).
pub fn parse_selector(selector: &str) -> Result<Vec<Matcher>> {
    let bad = |reason: String| Error::InvalidSelector {
        selector: selector.to_string(),
        reason,
    };
    let expr = parser::parse(selector).map_err(bad)?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(bad("not a series selector".into()));
    };
    if !vs.matchers.or_matchers.is_empty() {
        return Err(bad("`or` inside a selector is not supported".into()));
    }
    if vs.offset.is_some() || vs.at.is_some() {
        return Err(bad(
            "offset and @ are not allowed in a series selector".into()
        ));
    }
    let out = convert(vs.name.as_deref(), &vs.matchers.matchers)?;
    if out.iter().all(|m| m.matches_empty()) {
        return Err(bad(
            "match[] must contain at least one matcher that does not match the empty string".into(),
        ));
    }
    Ok(out)
}

/// The matcher sets of a PromQL vector selector: one set, or one per alternative of
/// `{a="1" or b="2"}`. A series matches the selector when it matches every matcher of any set.
pub fn matcher_sets(vs: &VectorSelector) -> Result<Vec<Vec<Matcher>>> {
    if vs.matchers.or_matchers.is_empty() {
        return Ok(vec![convert(vs.name.as_deref(), &vs.matchers.matchers)?]);
    }
    vs.matchers
        .or_matchers
        .iter()
        .map(|set| convert(vs.name.as_deref(), set))
        .collect()
}

fn convert(name: Option<&str>, matchers: &[PMatcher]) -> Result<Vec<Matcher>> {
    let mut out = Vec::with_capacity(matchers.len() + 1);
    if let Some(name) = name {
        let present = matchers
            .iter()
            .any(|m| m.name == METRIC_NAME && matches!(m.op, PMatchOp::Equal) && m.value == name);
        if !present {
            out.push(Matcher::equal(METRIC_NAME, name.to_string()));
        }
    }
    for m in matchers {
        let op = match m.op {
            PMatchOp::Equal => MatchOp::Equal,
            PMatchOp::NotEqual => MatchOp::NotEqual,
            PMatchOp::Re(_) => MatchOp::RegexMatch,
            PMatchOp::NotRe(_) => MatchOp::RegexNoMatch,
        };
        out.push(Matcher::new(op, m.name.clone(), m.value.clone())?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_matchers_become_storage_matchers() {
        let m = parse_selector(r#"up{job=~"api|web", env!="dev"}"#).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].name, "__name__");
        assert!(m[0].matches("up") && !m[0].matches("upx"));
        let re = m.iter().find(|m| m.name == "job").unwrap();
        assert!(re.matches("web") && !re.matches("webx"));
        let ne = m.iter().find(|m| m.name == "env").unwrap();
        assert!(ne.matches("") && !ne.matches("dev"));
    }

    #[test]
    fn bad_selectors_are_named_in_the_error() {
        let e = parse_selector("up{").unwrap_err().to_string();
        assert!(e.contains("up{"), "{e}");
        assert!(parse_selector("sum(up)").is_err());
        assert!(parse_selector(r#"{job=~".*"}"#).is_err());
        assert!(parse_selector(r#"{__name__="up"}"#).is_ok());
    }
}
