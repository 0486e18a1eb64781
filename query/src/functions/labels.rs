//! `label_replace` and `label_join`: functions that rewrite the label set of each series and
//! leave its values alone.
//!
//! The checks and messages are Prometheus 3.0's (`evalLabelReplace`, `evalLabelJoin`).
//! Prometheus validates the string arguments once, before it evaluates the vector, so it
//! fails even when the vector is empty; the evaluator should call
//! [`check_label_replace_dst`] / [`check_label_join_names`] (and [`compile_anchored`]) up
//! front for the same behaviour. Detecting duplicate output label sets is the evaluator's
//! job too.
//!
//! One known difference remains: Rust's regex classes `\d`, `\w`, `\s` and `\b` are
//! Unicode-aware where Go's are ASCII-only.

use regex::Regex;

use crate::error::{Error, Result};
use crate::value::{Label, Labels};

/// Compiles a `label_replace` regex anchored at both ends, as Prometheus does
/// (`^(?s:<regex>)$`: the whole value must match and `.` matches newlines).
pub fn compile_anchored(regex: &str) -> Result<Regex> {
    Regex::new(&format!("^(?s:{regex})$")).map_err(|_| {
        Error::exec(format!(
            "invalid regular expression in label_replace(): {regex}"
        ))
    })
}

/// Prometheus' legacy label-name rule, `[a-zA-Z_][a-zA-Z0-9_]*`. Prometheus 3.0's
/// `label_replace` checks its destination against exactly this pattern (`model.LabelNameRE`),
/// also in UTF-8 mode; `label_join` is laxer (see [`check_label_join_names`]).
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The destination check of `label_replace`, with Prometheus' message.
pub fn check_label_replace_dst(dst: &str) -> Result<()> {
    if is_valid_label_name(dst) {
        Ok(())
    } else {
        Err(Error::exec(format!(
            "invalid destination label name in label_replace(): {dst}"
        )))
    }
}

/// The name checks of `label_join`, sources first, with Prometheus' messages. Prometheus 3.0
/// runs with UTF-8 name validation, under which any non-empty (valid UTF-8) name is allowed.
pub fn check_label_join_names(dst: &str, srcs: &[&str]) -> Result<()> {
    if let Some(src) = srcs.iter().find(|s| s.is_empty()) {
        return Err(Error::exec(format!(
            "invalid source label name in label_join(): {src}"
        )));
    }
    if dst.is_empty() {
        return Err(Error::exec(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    Ok(())
}

/// label_replace(v, dst, replacement, src, regex) on one label set. `re` comes from
/// [`compile_anchored`]. When the value of `src` ("" if absent) matches, `dst` is set to
/// `replacement` with `$1`, `${1}`, `$name`, `${name}` and `$$` expanded as Go's
/// `Regexp.ExpandString` does; an empty expansion removes `dst`. Without a match the labels
/// are returned unchanged.
pub fn label_replace(
    labels: &Labels,
    dst: &str,
    replacement: &str,
    src: &str,
    re: &Regex,
) -> Result<Labels> {
    check_label_replace_dst(dst)?;
    let src_value = labels.get(src);
    let Some(caps) = re.captures(src_value) else {
        return Ok(labels.clone());
    };
    let value = expand(re, &caps, replacement);
    Ok(with_label(labels, dst, value))
}

/// label_join(v, dst, separator, src...): sets `dst` to the values of the `srcs` labels
/// (absent ones count as "") joined by `sep`, removing `dst` when that is empty.
pub fn label_join(labels: &Labels, dst: &str, sep: &str, srcs: &[&str]) -> Result<Labels> {
    check_label_join_names(dst, srcs)?;
    let values: Vec<&str> = srcs.iter().map(|src| labels.get(src)).collect();
    Ok(with_label(labels, dst, values.join(sep)))
}

/// `labels` with `name` set to `value`, or removed when `value` is empty (Prometheus'
/// `labels.Builder.Set`).
fn with_label(labels: &Labels, name: &str, value: String) -> Labels {
    let mut v = labels.as_slice().to_vec();
    match v.binary_search_by(|l| l.name.as_str().cmp(name)) {
        Ok(i) if value.is_empty() => {
            v.remove(i);
        }
        Ok(i) => v[i].value = value,
        Err(_) if value.is_empty() => {}
        Err(i) => v.insert(i, Label::new(name, value)),
    }
    Labels::from_sorted_unchecked(v)
}

/// Go's `Regexp.ExpandString`. It differs from `regex::Captures::expand` in details that
/// show up in replacements: a name is letters, digits and `_` also inside braces (else the
/// `$` is literal), numbers with a leading zero are names (`$01` is not group 1), and a
/// number is only a group index below 10^8.
fn expand(re: &Regex, caps: &regex::Captures<'_>, template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        rest = &rest[dollar + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let Some((name, after)) = extract_name(rest) else {
            // Malformed reference: the `$` is kept as text.
            out.push('$');
            continue;
        };
        rest = after;
        match group_number(name) {
            Some(n) => {
                if let Some(m) = caps.get(n) {
                    out.push_str(m.as_str());
                }
            }
            None => {
                // The first participating group of that name, as Go searches.
                let found = re
                    .capture_names()
                    .enumerate()
                    .filter(|(_, group)| *group == Some(name))
                    .find_map(|(i, _)| caps.get(i));
                if let Some(m) = found {
                    out.push_str(m.as_str());
                }
            }
        }
    }
    out.push_str(rest);
    out
}

/// Splits the reference after a `$` into its name and the rest of the template: `name...` or
/// `{name}...`, where a name is one or more letters, digits or underscores. None if malformed.
fn extract_name(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(body) => (true, body),
        None => (false, s),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphabetic() || c.is_numeric() || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    if braced {
        let after = body[end..].strip_prefix('}')?;
        Some((name, after))
    } else {
        Some((name, &body[end..]))
    }
}

/// A reference's group number: all ASCII digits, no leading zero, below 10^8.
fn group_number(name: &str) -> Option<usize> {
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    let mut n: usize = 0;
    for b in name.bytes() {
        if !b.is_ascii_digit() || n >= 100_000_000 {
            return None;
        }
        n = n * 10 + usize::from(b - b'0');
    }
    Some(n)
}

#[cfg(test)]
mod labels_test;
