//! Alertmanager's matcher syntax (`labels.ParseMatchers` of 0.25, the "classic" parser):
//! `foo="bar"`, `foo=~"a|b"`, `foo!=bar` unquoted, `{a="b", c!~"d"}`, OpenMetrics escapes
//! (`\"`, `\n`, `\\`) inside quotes. Used for `matchers:` in routes and inhibit rules and for
//! silences' `filter` parameters.

use std::sync::LazyLock;

use regex::Regex;

use super::matcher::{MatchOp, Matcher};

/// The shape of one matcher. `[\t\n\f\r ]` is Go's `\s` (ASCII only, unlike Rust's); the value
/// is lazy so that trailing whitespace is not part of it.
static MATCHER_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[\t\n\f\r ]*([a-zA-Z_:][a-zA-Z0-9_:]*)[\t\n\f\r ]*(=~|=|!=|!~)[\t\n\f\r ]*((?s).*?)[\t\n\f\r ]*$")
        .unwrap_or_else(|e| unreachable!("a constant regex: {e}"))
});

/// A comma-separated list of matchers; a leading `{` and a trailing `}` are optional, commas
/// inside double quotes do not separate, and a trailing comma is allowed.
pub fn parse_matchers(s: &str) -> Result<Vec<Matcher>, String> {
    let s = s.strip_prefix('{').unwrap_or(s);
    let s = s.strip_suffix('}').unwrap_or(s);
    let mut tokens = Vec::new();
    let mut token = String::new();
    let (mut inside_quotes, mut escaped) = (false, false);
    for c in s.chars() {
        match c {
            ',' if !inside_quotes => {
                tokens.push(std::mem::take(&mut token));
                continue;
            }
            ',' => {}
            '"' => {
                if escaped {
                    escaped = false;
                } else {
                    inside_quotes = !inside_quotes;
                }
            }
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
        token.push(c);
    }
    let last = token.trim();
    if !last.is_empty() {
        tokens.push(last.to_string());
    }
    tokens.iter().map(|t| parse_matcher(t)).collect()
}

/// One matcher: a label name, an operator, and a value that may be double-quoted.
pub fn parse_matcher(s: &str) -> Result<Matcher, String> {
    let caps = MATCHER_RE
        .captures(s)
        .ok_or_else(|| format!("bad matcher format: {s}"))?;
    let (name, op, raw) = (&caps[1], &caps[2], &caps[3]);
    let op = match op {
        "=" => MatchOp::Equal,
        "!=" => MatchOp::NotEqual,
        "=~" => MatchOp::Regex,
        _ => MatchOp::NotRegex,
    };
    let (body, mut expect_trailing_quote) = match raw.strip_prefix('"') {
        Some(rest) => (rest, true),
        None => (raw, false),
    };
    let unescaped_quote = || format!("matcher value contains unescaped double quote: {raw}");
    let mut value = String::with_capacity(body.len());
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
            match c {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(c),
                // A spurious escape: the backslash is literal.
                _ => {
                    value.push('\\');
                    value.push(c);
                }
            }
            continue;
        }
        let last = i + c.len_utf8() == body.len();
        match c {
            '\\' if !last => escaped = true,
            '\\' => value.push('\\'),
            '"' => {
                if !expect_trailing_quote || !last {
                    return Err(unescaped_quote());
                }
                expect_trailing_quote = false;
            }
            _ => value.push(c),
        }
    }
    if expect_trailing_quote {
        return Err(unescaped_quote());
    }
    Matcher::new(name, op, &value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> (String, MatchOp, String) {
        let m = parse_matcher(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (m.name, m.op, m.value)
    }

    #[test]
    fn operators_quoting_and_whitespace() {
        assert_eq!(
            one(r#"foo="bar""#),
            ("foo".into(), MatchOp::Equal, "bar".into())
        );
        assert_eq!(
            one("foo!=bar"),
            ("foo".into(), MatchOp::NotEqual, "bar".into())
        );
        assert_eq!(
            one(r#"  foo =~ "a|b"  "#),
            ("foo".into(), MatchOp::Regex, "a|b".into())
        );
        assert_eq!(
            one(r#"foo!~"""#),
            ("foo".into(), MatchOp::NotRegex, "".into())
        );
        assert_eq!(one("foo="), ("foo".into(), MatchOp::Equal, "".into()));
        assert_eq!(one("a:b=c d"), ("a:b".into(), MatchOp::Equal, "c d".into()));
    }

    #[test]
    fn escapes_follow_openmetrics_and_tolerate_stray_backslashes() {
        assert_eq!(one(r#"foo="a\"b""#).2, "a\"b");
        assert_eq!(one(r#"foo="a\nb""#).2, "a\nb");
        assert_eq!(one(r#"foo="a\\b""#).2, "a\\b");
        assert_eq!(one(r#"foo="a\tb""#).2, "a\\tb");
        assert_eq!(one(r"foo=a\"), ("foo".into(), MatchOp::Equal, "a\\".into()));
    }

    #[test]
    fn bad_matchers_are_refused() {
        assert!(
            parse_matcher("foo")
                .unwrap_err()
                .starts_with("bad matcher format")
        );
        assert!(parse_matcher("1foo=bar").is_err());
        assert!(
            parse_matcher(r#"foo="bar"#)
                .unwrap_err()
                .contains("unescaped double quote")
        );
        assert!(
            parse_matcher(r#"foo="b"ar""#)
                .unwrap_err()
                .contains("unescaped double quote")
        );
        assert!(parse_matcher("foo=~(a").is_err());
    }

    #[test]
    fn lists_split_on_commas_outside_quotes() {
        let ms = parse_matchers(r#"{foo = "bar", dings != "bums", }"#).unwrap();
        assert_eq!(ms.len(), 2);
        assert_eq!(ms[1].value, "bums");
        let ms = parse_matchers(r#"{quote="She said: \"Hi, ladies!\"",x=~"5.."}"#).unwrap();
        assert_eq!(ms[0].value, "She said: \"Hi, ladies!\"");
        assert_eq!(ms[1].value, "5..");
        assert_eq!(parse_matchers("foo=bar,dings!=bums").unwrap().len(), 2);
        assert!(parse_matchers("{}").unwrap().is_empty());
        assert!(parse_matchers("foo=bar,,x=y").is_err());
    }

    #[test]
    fn display_round_trips() {
        for s in [r#"foo="bar""#, r#"foo=~"a|b""#, r#"x!="a\"b\\c\nd""#] {
            let m = parse_matcher(s).unwrap();
            assert_eq!(m.to_string(), s);
            assert_eq!(parse_matcher(&m.to_string()).unwrap(), m);
        }
    }
}
