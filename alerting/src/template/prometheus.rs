//! Prometheus' template functions (`template/template.go` and `prometheus/common`'s
//! `helpers/templates`, v3.0) and the alert-text expander `rules/alerting.go` runs for every
//! label and annotation: the `$labels`/`$externalLabels`/`$externalURL`/`$value` preamble,
//! `missingkey=zero`, and Prometheus' wrapping of errors. Outputs and error texts are
//! Prometheus', since promtool's unit tests compare them.

use std::collections::BTreeMap;

use super::go_fmt::{go_quote, sprint_value, sprintf};
use super::{Functions, ParamType, Signature, Template, TemplateError, Value};

/// What Prometheus hands an alert's templates (`template.AlertTemplateData`).
pub struct AlertTemplateData<'a> {
    pub labels: &'a BTreeMap<String, String>,
    pub external_labels: &'a BTreeMap<String, String>,
    pub external_url: &'a str,
    pub value: f64,
}

/// One element of a `query` result.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The evaluator behind the `query` function; the caller evaluates at the alert's
/// evaluation time.
pub trait TemplateQuerier {
    fn query(&self, expr: &str) -> Result<Vec<QuerySample>, String>;
    /// The evaluation time in seconds since the epoch, for the `now` function.
    fn eval_time(&self) -> Option<f64> {
        None
    }
}

/// The preamble Prometheus prepends to every alert label and annotation template.
const ALERT_DEFS: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

const DATA_TYPE: &str = "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }";

/// Prometheus' rules expansion of one label or annotation template. Errors read as
/// Prometheus' `Expand` returns them (`error parsing template NAME: ...` or
/// `error executing template NAME: ...`); the caller writes
/// `<error expanding template: ERR>` as Prometheus does.
pub fn expand_alert_text(
    name: &str,
    text: &str,
    data: &AlertTemplateData,
    q: Option<&dyn TemplateQuerier>,
) -> Result<String, TemplateError> {
    let funcs = PrometheusFunctions {
        querier: q,
        external_url: data.external_url.to_string(),
    };
    let full = format!("{ALERT_DEFS}{text}");
    let wrap = |e: TemplateError, what: &str| TemplateError {
        message: format!("error {what} template {name}: {}", e.message),
        ..e
    };
    let tmpl = Template::parse(name, &full, &funcs).map_err(|e| wrap(e, "parsing"))?;
    let value = Value::Struct {
        type_name: DATA_TYPE.to_string(),
        fields: vec![
            ("Labels".to_string(), Value::string_map(data.labels)),
            (
                "ExternalLabels".to_string(),
                Value::string_map(data.external_labels),
            ),
            (
                "ExternalURL".to_string(),
                Value::Str(data.external_url.to_string()),
            ),
            ("Value".to_string(), Value::Float(data.value)),
        ],
    };
    tmpl.execute(name, &value, &funcs)
        .map_err(|e| wrap(e, "executing"))
}

/// Parse-only check, as `promtool check rules` does: the error is Go's parse error, unwrapped
/// (`template: __alert_X:1: undefined variable "$label"`).
pub fn check_alert_text(name: &str, text: &str) -> Result<(), TemplateError> {
    let funcs = PrometheusFunctions {
        querier: None,
        external_url: String::new(),
    };
    Template::parse(name, &format!("{ALERT_DEFS}{text}"), &funcs).map(|_| ())
}

/// Prometheus' function set, usable for any template (also notification templates).
pub struct PrometheusFunctions<'a> {
    pub querier: Option<&'a dyn TemplateQuerier>,
    pub external_url: String,
}

const NAMES: &[&str] = &[
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "args",
    "reReplaceAll",
    "safeHtml",
    "match",
    "title",
    "toUpper",
    "toLower",
    "graphLink",
    "tableLink",
    "sortByLabel",
    "stripPort",
    "stripDomain",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toTime",
    "toDuration",
    "now",
    "pathPrefix",
    "externalURL",
    "parseDuration",
    "urlQueryEscape",
];

impl Functions for PrometheusFunctions<'_> {
    fn has(&self, name: &str) -> bool {
        NAMES.contains(&name)
    }

    fn signature(&self, name: &str) -> Option<Signature> {
        use ParamType::{Any, QueryResult, Sample, String};
        Some(match name {
            "query" | "reReplaceAll" | "safeHtml" | "title" | "toUpper" | "toLower"
            | "graphLink" | "tableLink" | "stripPort" | "stripDomain" | "parseDuration"
            | "urlQueryEscape" => Signature::fixed(if name == "reReplaceAll" {
                &[String, String, String]
            } else {
                &[String]
            }),
            "match" => Signature::fixed(&[String, String]),
            "first" => Signature::fixed(&[QueryResult]),
            "label" => Signature::fixed(&[String, Sample]),
            "value" | "strvalue" => Signature::fixed(&[Sample]),
            "args" => Signature::variadic(&[], Any),
            "sortByLabel" => Signature::fixed(&[String, QueryResult]),
            "humanize" | "humanize1024" | "humanizeDuration" | "humanizePercentage"
            | "humanizeTimestamp" | "toTime" | "toDuration" => Signature::fixed(&[Any]),
            "now" | "pathPrefix" | "externalURL" => Signature::fixed(&[]),
            _ => return None,
        })
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Nil);
        let s = |i: usize| match args.get(i) {
            Some(Value::Str(s)) => s.clone(),
            _ => String::new(),
        };
        Some(match name {
            "query" => self.query(&s(0)),
            "first" => match arg(0) {
                Value::List(l) if !l.is_empty() => Ok(l[0].clone()),
                _ => Err("first() called on vector with no elements".to_string()),
            },
            "label" => sample_field(&arg(1), |labels, _| label_of(labels, &s(0))),
            "value" => sample_field(&arg(0), |_, v| v.clone()),
            "strvalue" => sample_field(&arg(0), |labels, _| label_of(labels, "__value__")),
            "args" => Ok(Value::Map(
                args.iter()
                    .enumerate()
                    .map(|(i, a)| (format!("arg{i}"), a.clone()))
                    .collect(),
            )),
            "reReplaceAll" => compile(&s(0))
                .map(|re| Value::Str(re.replace_all(&s(2), s(1).as_str()).into_owned())),
            "safeHtml" => Ok(Value::Html(s(0))),
            "match" => match_string(&s(0), &s(1)),
            "title" => Ok(Value::Str(title(&s(0)))),
            "toUpper" => Ok(Value::Str(s(0).to_uppercase())),
            "toLower" => Ok(Value::Str(s(0).to_lowercase())),
            "graphLink" => Ok(Value::Str(format!(
                "/graph?g0.expr={}&g0.tab=0",
                super::builtins::query_escape(&s(0))
            ))),
            "tableLink" => Ok(Value::Str(format!(
                "/graph?g0.expr={}&g0.tab=1",
                super::builtins::query_escape(&s(0))
            ))),
            "urlQueryEscape" => Ok(Value::Str(super::builtins::query_escape(&s(0)))),
            "sortByLabel" => Ok(sort_by_label(&s(0), arg(1))),
            "stripPort" => Ok(Value::Str(match split_host_port(&s(0)) {
                Some((host, _)) => host,
                None => s(0),
            })),
            "stripDomain" => Ok(Value::Str(strip_domain(&s(0)))),
            "humanize" => convert_to_float(&arg(0)).map(|v| Value::Str(humanize(v))),
            "humanize1024" => convert_to_float(&arg(0)).map(|v| Value::Str(humanize1024(v))),
            "humanizeDuration" => {
                convert_to_float(&arg(0)).map(|v| Value::Str(humanize_duration(v)))
            }
            "humanizePercentage" => convert_to_float(&arg(0))
                .map(|v| Value::Str(sprintf("%.4g%%", &[Value::Float(v * 100.0)]))),
            "humanizeTimestamp" => convert_to_float(&arg(0)).and_then(|v| {
                if v.is_nan() || v.is_infinite() {
                    return Ok(Value::Str(g4(v)));
                }
                float_to_time(v).map(|ns| Value::Str(super::go_time::time_string(ns)))
            }),
            "toTime" => convert_to_float(&arg(0)).and_then(|v| {
                if v.is_nan() || v.is_infinite() {
                    return Err("value is NaN or Inf".to_string());
                }
                float_to_time(v).map(|ns| Value::Time(super::go_time::GoTime::from_unix_nanos(ns)))
            }),
            // Go converts float64 to Duration (int64) by truncation; out of range saturates here.
            "toDuration" => convert_to_float(&arg(0)).map(|v| Value::Duration((v * 1e9) as i64)),
            "now" => match self.querier.and_then(|q| q.eval_time()) {
                Some(t) => Ok(Value::Float(t)),
                None => Err("no evaluation time is known here".to_string()),
            },
            "pathPrefix" => Ok(Value::Str(url_path(&self.external_url))),
            "externalURL" => Ok(Value::Str(self.external_url.clone())),
            "parseDuration" => parse_duration(&s(0)).map(Value::Float),
            _ => return None,
        })
    }
}

impl PrometheusFunctions<'_> {
    fn query(&self, expr: &str) -> Result<Value, String> {
        let Some(q) = self.querier else {
            return Err("query is not available here".to_string());
        };
        let samples = q.query(expr)?;
        Ok(Value::List(
            samples
                .into_iter()
                .map(|s| sample_value(&s.labels, s.value))
                .collect(),
        ))
    }
}

/// Prometheus' `*sample` as a template value.
fn sample_value(labels: &BTreeMap<String, String>, value: f64) -> Value {
    Value::Struct {
        type_name: "*template.sample".to_string(),
        fields: vec![
            ("Labels".to_string(), Value::string_map(labels)),
            ("Value".to_string(), Value::Float(value)),
        ],
    }
}

fn sample_field(sample: &Value, f: impl Fn(&Value, &Value) -> Value) -> Result<Value, String> {
    match (sample.field("Labels"), sample.field("Value")) {
        (Some(labels), Some(value)) => Ok(f(labels, value)),
        // Go dereferences the nil *sample and the call recovers the runtime panic.
        _ => Err("runtime error: invalid memory address or nil pointer dereference".to_string()),
    }
}

fn label_of(labels: &Value, name: &str) -> Value {
    match labels {
        Value::Map(m) => m
            .get(name)
            .cloned()
            .unwrap_or_else(|| Value::Str(String::new())),
        _ => Value::Str(String::new()),
    }
}

fn sort_by_label(label: &str, v: Value) -> Value {
    let Value::List(mut items) = v else {
        return v;
    };
    let key = |s: &Value| match s.field("Labels") {
        Some(Value::Map(m)) => match m.get(label) {
            Some(Value::Str(s)) => s.clone(),
            _ => String::new(),
        },
        _ => String::new(),
    };
    // Stable, as Go's sort.Stable.
    items.sort_by_key(key);
    Value::List(items)
}

/// `%.4g` as Go's fmt prints it (`+Inf` keeps its sign).
fn g4(v: f64) -> String {
    sprintf("%.4g", &[Value::Float(v)])
}

/// `common_templates.ConvertToFloat`.
pub fn convert_to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Str(s) => parse_float(s),
        Value::Nil => Err("can't convert <nil> to float".to_string()),
        other => Err(format!("can't convert {} to float", other.go_type())),
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal input, with its error texts.
fn parse_float(s: &str) -> Result<f64, String> {
    let syntax = || {
        format!(
            "strconv.ParseFloat: parsing {}: invalid syntax",
            go_quote(s)
        )
    };
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    let is_special = lower == "inf" || lower == "infinity" || lower == "nan";
    // Rust accepts forms Go does not ("infinity" is fine in both; Rust has no "_" or hex).
    if body.is_empty()
        || (!is_special
            && !body
                .bytes()
                .all(|b| b.is_ascii_digit() || b".eE+-".contains(&b)))
    {
        return Err(syntax());
    }
    let f: f64 = s.parse().map_err(|_| syntax())?;
    if f.is_infinite() && !is_special {
        return Err(format!(
            "strconv.ParseFloat: parsing {}: value out of range",
            go_quote(s)
        ));
    }
    Ok(f)
}

/// `humanize`: SI prefixes, 4 significant digits.
pub fn humanize(mut v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    if v.abs() >= 1.0 {
        let mut prefix = "";
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
        return format!("{}{prefix}", g4(v));
    }
    let (v, prefix) = small_prefix(v);
    format!("{}{prefix}", g4(v))
}

/// Scales a value below 1 up by thousands, with its SI prefix (`m`, `u`, `n`, ...), as
/// Prometheus' `humanize` and `humanizeDuration` both do.
fn small_prefix(mut v: f64) -> (f64, &'static str) {
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    (v, prefix)
}

/// `humanize1024`: binary prefixes.
pub fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

/// `humanizeDuration`: days to seconds as integers; under a minute `%.4gs`; under a second
/// with SI prefixes.
pub fn humanize_duration(mut v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let mut sign = "";
        if v < 0.0 {
            sign = "-";
            v = -v;
        }
        // Go's int64(v) saturates nowhere: it truncates (huge values are out of scope).
        let duration = v as i64;
        let seconds = duration % 60;
        let minutes = (duration / 60) % 60;
        let hours = (duration / 60 / 60) % 24;
        let days = duration / 60 / 60 / 24;
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", g4(v));
    }
    let (v, prefix) = small_prefix(v);
    format!("{}{prefix}s", g4(v))
}

/// Seconds to a UTC time in nanoseconds, with Prometheus' millisecond truncation
/// (`model.TimeFromUnixNano(int64(v * 1e9)).Time()`).
fn float_to_time(v: f64) -> Result<i64, String> {
    let ts = v * 1e9;
    if ts > i64::MAX as f64 || ts < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            sprint_value(&Value::Float(v))
        ));
    }
    let ms = (ts as i64) / 1_000_000;
    Ok(ms * 1_000_000)
}

/// `model.ParseDurationAllowNegative`, in seconds.
pub fn parse_duration(s: &str) -> Result<f64, String> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) if !s.is_empty() => (true, rest),
        _ => (false, s),
    };
    let ns = parse_model_duration(body)?;
    let secs = ns as f64 / 1e9;
    Ok(if neg { -secs } else { secs })
}

fn parse_model_duration(s: &str) -> Result<u64, String> {
    match s {
        "0" => return Ok(0),
        "" => return Err("empty duration string".to_string()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", go_quote(s));
    let mut rest = s;
    let mut dur: u64 = 0;
    let mut last_unit_pos = 0;
    while !rest.is_empty() {
        if !rest.as_bytes()[0].is_ascii_digit() {
            return Err(invalid());
        }
        let i = rest.bytes().take_while(u8::is_ascii_digit).count();
        let v: u64 = rest[..i].parse().map_err(|_| invalid())?;
        rest = &rest[i..];
        let j = rest.bytes().take_while(|b| !b.is_ascii_digit()).count();
        if j == 0 {
            return Err(invalid());
        }
        let unit = &rest[..j];
        rest = &rest[j..];
        let (pos, mult): (u32, u64) = match unit {
            "ms" => (7, 1_000_000),
            "s" => (6, 1_000_000_000),
            "m" => (5, 60_000_000_000),
            "h" => (4, 3_600_000_000_000),
            "d" => (3, 86_400_000_000_000),
            "w" => (2, 604_800_000_000_000),
            "y" => (1, 31_536_000_000_000_000),
            _ => {
                return Err(format!(
                    "unknown unit {} in duration {}",
                    go_quote(unit),
                    go_quote(s)
                ));
            }
        };
        if pos <= last_unit_pos {
            return Err(invalid());
        }
        last_unit_pos = pos;
        if v > (1u64 << 63) / mult {
            return Err("duration out of range".to_string());
        }
        dur += v * mult;
        if dur > (1u64 << 63) - 1 {
            return Err("duration out of range".to_string());
        }
    }
    Ok(dur)
}

fn compile(pattern: &str) -> Result<regex::Regex, String> {
    // Go's MustCompile panics; the template call recovers the panic as this error.
    regex::Regex::new(pattern).map_err(|e| {
        format!(
            "regexp: Compile({}): {}",
            go_backquote(pattern),
            regex_error(pattern, &e)
        )
    })
}

fn match_string(pattern: &str, text: &str) -> Result<Value, String> {
    regex::Regex::new(pattern)
        .map(|re| Value::Bool(re.is_match(text)))
        .map_err(|e| regex_error(pattern, &e))
}

/// Go's `strconv.Quote` as regexp errors use it: backquoted when possible.
fn go_backquote(s: &str) -> String {
    if s.contains('`') || s.chars().any(|c| c.is_control()) {
        go_quote(s)
    } else {
        format!("`{s}`")
    }
}

/// Go's regexp/syntax error text (`error parsing regexp: CODE: `EXPR``) for the regex
/// crate's error. Go quotes the offending fragment; the regex crate does not expose it, so
/// the whole pattern stands in (exact for unbalanced parentheses, the common case).
fn regex_error(pattern: &str, e: &regex::Error) -> String {
    let text = e.to_string();
    let msg = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| {
            l.trim_start()
                .trim_start_matches("error:")
                .trim()
                .to_string()
        })
        .unwrap_or(text);
    let code = match msg.as_str() {
        "unclosed group" => "missing closing )",
        "unopened group" => "unexpected )",
        "unclosed character class" => "missing closing ]",
        "repetition operator missing expression" => "missing argument to repetition operator",
        "unrecognized escape sequence"
        | "incomplete escape sequence, reached end of pattern prematurely" => {
            "invalid escape sequence"
        }
        "invalid character class range, the start must be <= the end" => {
            "invalid character class range"
        }
        other => other,
    };
    format!("error parsing regexp: {code}: {}", go_backquote(pattern))
}

/// `cases.Title(language.AmericanEnglish, cases.NoLower)`: upper-cases the first letter of
/// each word and leaves the rest alone.
pub fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for c in s.chars() {
        if !in_word && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        in_word = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
}

/// `net.SplitHostPort`; None where Go returns an error.
pub fn split_host_port(hostport: &str) -> Option<(String, String)> {
    let i = hostport.rfind(':')?;
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let end = rest.find(']')?;
        // "]" must be followed by the last ':'.
        if end + 2 != i {
            return None;
        }
        (&rest[..end], &hostport[i + 1..])
    } else {
        let host = &hostport[..i];
        if host.contains(':') {
            return None;
        }
        (host, &hostport[i + 1..])
    };
    if host.contains(['[', ']']) || port.contains(['[', ']']) {
        return None;
    }
    Some((host.to_string(), port.to_string()))
}

fn strip_domain(hostport: &str) -> String {
    let (host, port) =
        split_host_port(hostport).unwrap_or_else(|| (hostport.to_string(), String::new()));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return hostport.to_string();
    }
    let host = host.split('.').next().unwrap_or("").to_string();
    if port.is_empty() {
        return host;
    }
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The path of a URL (`url.URL.Path`): after the authority, before `?` or `#`.
fn url_path(url: &str) -> String {
    let after_scheme = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => return url.split(['?', '#']).next().unwrap_or("").to_string(),
    };
    let path = match after_scheme.find('/') {
        Some(i) => &after_scheme[i..],
        None => "",
    };
    path.split(['?', '#']).next().unwrap_or("").to_string()
}

#[cfg(test)]
#[path = "prometheus_test.rs"]
mod prometheus_test;
