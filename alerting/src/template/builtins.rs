//! Go text/template's built-in functions (`funcs.go`): `and`/`or` (evaluated lazily by the
//! executor), `not`, `len`, `index`, `slice`, `print`, `printf`, `println`, the comparisons
//! `eq`/`ne`/`lt`/`le`/`gt`/`ge` with Go's basic-kind rules and error texts, and the escapers
//! `html`, `js`, `urlquery`. (`call` is omitted: template data holds no Go functions.)

use std::cmp::Ordering;

use super::go_fmt::{sprint, sprintf, sprintln};
use super::{ParamType, Signature, Value};

const NAMES: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "html", "js", "urlquery",
];

pub fn is_builtin(name: &str) -> bool {
    NAMES.contains(&name)
}

/// The Go signature of a built-in.
pub fn signature(name: &str) -> Option<Signature> {
    use ParamType::{Any, String};
    Some(match name {
        "and" | "or" | "index" | "slice" | "eq" => Signature::variadic(&[Any], Any),
        "not" | "len" => Signature::fixed(&[Any]),
        "print" | "println" | "html" | "js" | "urlquery" => Signature::variadic(&[], Any),
        "printf" => Signature::variadic(&[String], Any),
        "ne" | "lt" | "le" | "gt" | "ge" => Signature::fixed(&[Any, Any]),
        _ => return None,
    })
}

/// Calls built-in `name` with evaluated arguments (`and`/`or` are the executor's).
pub fn call(name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    // Named types act as their underlying values here (Go's reflection sees their kind).
    let unwrapped: Vec<Value>;
    let args = if args.iter().any(|a| matches!(a, Value::Object(_)))
        && !matches!(name, "print" | "println" | "printf")
    {
        unwrapped = args.iter().map(|a| a.underlying().clone()).collect();
        &unwrapped[..]
    } else {
        args
    };
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Nil);
    Some(match name {
        "not" => Ok(Value::Bool(!arg(0).is_true())),
        "len" => length(&arg(0)),
        "index" => index(&arg(0), &args[1.min(args.len())..]),
        "slice" => slice(&arg(0), &args[1.min(args.len())..]),
        "print" => Ok(Value::Str(sprint(args))),
        "println" => Ok(Value::Str(sprintln(args))),
        "printf" => match args.first() {
            Some(Value::Str(f)) => Ok(Value::Str(sprintf(f, &args[1..]))),
            _ => Err("printf needs a format string".to_string()),
        },
        "eq" => eq(&arg(0), &args[1.min(args.len())..]).map(Value::Bool),
        "ne" => eq(&arg(0), &args[1.min(args.len())..]).map(|b| Value::Bool(!b)),
        "lt" => lt(&arg(0), &arg(1)).map(Value::Bool),
        "le" => le(&arg(0), &arg(1)).map(Value::Bool),
        "gt" => le(&arg(0), &arg(1)).map(|b| Value::Bool(!b)),
        "ge" => lt(&arg(0), &arg(1)).map(|b| Value::Bool(!b)),
        "html" => Ok(Value::Str(html_escape(&eval_args(args)))),
        "js" => Ok(Value::Str(js_escape(&eval_args(args)))),
        "urlquery" => Ok(Value::Str(query_escape(&eval_args(args)))),
        _ => return None,
    })
}

fn length(v: &Value) -> Result<Value, String> {
    let n = match v {
        Value::Str(s) | Value::Html(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.len(),
        // Go asks an invalid reflect.Value for its type, and reflect panics with this.
        Value::Nil => return Err("reflect: call of reflect.Value.Type on zero Value".to_string()),
        other => return Err(format!("len of type {}", other.go_type())),
    };
    Ok(Value::Int(n as i64))
}

fn index_arg(index: &Value, cap: usize) -> Result<usize, String> {
    let x = match index {
        Value::Int(i) => *i,
        Value::Nil => return Err("cannot index slice/array with nil".to_string()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                other.go_type()
            ));
        }
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn index(item: &Value, indexes: &[Value]) -> Result<Value, String> {
    if matches!(item, Value::Nil) {
        return Err("index of untyped nil".to_string());
    }
    let mut item = item.clone();
    for ix in indexes {
        item = match &item {
            Value::List(l) => {
                let x = index_arg(ix, l.len())?;
                l.get(x)
                    .cloned()
                    .ok_or("reflect: slice index out of range")?
            }
            Value::Str(s) | Value::Html(s) => {
                let x = index_arg(ix, s.len())?;
                // Go indexes bytes and yields a uint8.
                Value::Int(i64::from(
                    *s.as_bytes()
                        .get(x)
                        .ok_or("reflect: string index out of range")?,
                ))
            }
            Value::Map(m) => {
                let Value::Str(k) = ix else {
                    let t = if matches!(ix, Value::Nil) {
                        "<nil>".to_string()
                    } else {
                        ix.go_type()
                    };
                    return Err(format!("value has type {t}; should be string"));
                };
                match m.get(k) {
                    Some(v) => v.clone(),
                    None if Value::is_string_map(m) => Value::Str(String::new()),
                    None => Value::Nil,
                }
            }
            // Go dereferences pointers first, so *T reports as T.
            other => {
                let t = other.go_type();
                return Err(format!(
                    "can't index item of type {}",
                    t.trim_start_matches('*')
                ));
            }
        };
    }
    Ok(item)
}

fn slice(item: &Value, indexes: &[Value]) -> Result<Value, String> {
    if matches!(item, Value::Nil) {
        return Err("slice of untyped nil".to_string());
    }
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match item {
        Value::Str(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".to_string());
            }
            s.len()
        }
        Value::List(l) => l.len(),
        other => return Err(format!("can't slice item of type {}", other.go_type())),
    };
    let mut idx = [0, len, len];
    for (i, ix) in indexes.iter().enumerate() {
        idx[i] = index_arg(ix, len)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    Ok(match item {
        Value::Str(s) => {
            Value::Str(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned())
        }
        Value::List(l) => Value::List(l[idx[0]..idx[1]].to_vec()),
        _ => Value::Nil,
    })
}

/// Go's basic kinds for comparison.
#[derive(PartialEq, Clone, Copy)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Float,
    String,
}

fn basic_kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) | Value::Html(_) => Kind::String,
        _ => Kind::Invalid,
    }
}

const BAD_COMPARISON: &str = "incompatible types for comparison";
const BAD_COMPARISON_TYPE: &str = "invalid type for comparison";

fn eq(arg1: &Value, rest: &[Value]) -> Result<bool, String> {
    if rest.is_empty() {
        return Err("missing argument for comparison".to_string());
    }
    let k1 = basic_kind(arg1);
    for arg in rest {
        let k2 = basic_kind(arg);
        let truth = if k1 != k2 {
            if !matches!(arg1, Value::Nil) && !matches!(arg, Value::Nil) {
                return Err(BAD_COMPARISON.to_string());
            }
            false
        } else {
            match (arg1, arg) {
                (Value::Bool(a), Value::Bool(b)) => a == b,
                (Value::Int(a), Value::Int(b)) => a == b,
                (Value::Float(a), Value::Float(b)) => a == b,
                (Value::Str(a) | Value::Html(a), Value::Str(b) | Value::Html(b)) => a == b,
                (Value::Nil, _) | (_, Value::Nil) => {
                    matches!(arg1, Value::Nil) == matches!(arg, Value::Nil)
                }
                (Value::List(_) | Value::Map(_), _) | (_, Value::List(_) | Value::Map(_)) => {
                    if std::mem::discriminant(arg1) != std::mem::discriminant(arg) {
                        return Err(format!(
                            "non-comparable types {}: {}, {}: {}",
                            super::go_fmt::sprint_value(arg1),
                            arg1.go_type(),
                            arg.go_type(),
                            super::go_fmt::sprint_value(arg)
                        ));
                    }
                    return Err(format!(
                        "non-comparable type {}: {}",
                        super::go_fmt::sprint_value(arg),
                        arg.go_type()
                    ));
                }
                (a, b) => a == b,
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn compare(a: &Value, b: &Value) -> Result<Option<Ordering>, String> {
    let (k1, k2) = (basic_kind(a), basic_kind(b));
    if k1 == Kind::Invalid || k2 == Kind::Invalid {
        return Err(BAD_COMPARISON_TYPE.to_string());
    }
    if k1 != k2 {
        return Err(BAD_COMPARISON.to_string());
    }
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::Str(x) | Value::Html(x), Value::Str(y) | Value::Html(y)) => Some(x.cmp(y)),
        _ => return Err(BAD_COMPARISON_TYPE.to_string()),
    })
}

fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    Ok(compare(a, b)? == Some(Ordering::Less))
}

fn le(a: &Value, b: &Value) -> Result<bool, String> {
    // Go: le is lt || eq.
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}

/// Go's evalArgs for the escapers: one string as is, else Sprint of the printable values.
fn eval_args(args: &[Value]) -> String {
    if let [Value::Str(s)] = args {
        return s.clone();
    }
    let printable: Vec<Value> = args
        .iter()
        .map(|a| {
            if matches!(a, Value::Nil) {
                Value::Str("<no value>".into())
            } else {
                a.clone()
            }
        })
        .collect();
    sprint(&printable)
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// html/template's escaper for HTML text and quoted attribute values (`htmlEscaper`): as
/// [`html_escape`] plus `+`, which Go escapes so a value cannot start a UTF-7 sequence.
pub fn html_template_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '+' => out.push_str("&#43;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 || (c as u32 >= 0x80 && c.is_control()) => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`: space as `+`, unreserved bytes as is, the rest as `%XX`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
