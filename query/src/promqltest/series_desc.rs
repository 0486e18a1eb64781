//! The series-description language of promqltest (Prometheus' `parser.ParseSeriesDesc`):
//! `metric{label="value"} 1 2+3x4 _ stale {{schema:0 sum:1}}`, plus the number and duration
//! syntaxes the scripts use (Go's `strconv.ParseInt(s, 0, 64)` / `ParseFloat`, and
//! `model.ParseDuration`).
//!
//! Values expand as Prometheus' grammar does: `a+bxn` and `axn` give n+1 values (the extra
//! one is for time 0), `_xn` gives n omitted values. Native-histogram values `{{...}}` are
//! recognised and kept as raw text, never interpreted: Cairn stores no native histograms.

use std::collections::BTreeMap;

/// A label set as the script writes it: sorted by name, empty values kept (Prometheus'
/// parser keeps them, so an expected `{a=""}` matches no result series).
pub type ScriptLabels = BTreeMap<String, String>;

/// One value of a series description.
#[derive(Debug, Clone, PartialEq)]
pub enum SeqValue {
    /// `_`: no sample at this step (the time still advances).
    Omitted,
    /// A float, including `stale` (Prometheus' stale-marker NaN) and `NaN`/`Inf`.
    Float(f64),
    /// A native histogram `{{...}}`, kept as written.
    Histogram(String),
}

/// Parses `metric{labels} values...` into its labels and expanded values.
pub fn parse_series_desc(input: &str) -> Result<(ScriptLabels, Vec<SeqValue>), String> {
    let mut cur = Cursor { s: input, pos: 0 };
    let labels = parse_metric(&mut cur)?;
    let tokens = lex_values(&input[cur.pos..])?;
    let values = parse_values(&tokens)?;
    Ok((labels, values))
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.bump();
        }
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| is_alnum(c) || c == ':') {
            self.bump();
        }
        self.s[start..self.pos].to_string()
    }

    fn err(&self, what: &str) -> String {
        format!("{what} at column {} of {:?}", self.pos + 1, self.s)
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

/// `name`, `name{...}` or `{...}`; inside braces `label="v"` pairs and (Prometheus 3) a
/// quoted metric name `{"my.metric", a="b"}`.
fn parse_metric(cur: &mut Cursor<'_>) -> Result<ScriptLabels, String> {
    let mut labels = ScriptLabels::new();
    cur.skip_space();
    if cur
        .peek()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
    {
        let name = cur.ident();
        labels.insert("__name__".to_string(), name);
    }
    if cur.peek() != Some('{') {
        if labels.is_empty() {
            return Err(cur.err("expected a metric name or '{'"));
        }
        return Ok(labels);
    }
    cur.bump();
    loop {
        cur.skip_space();
        match cur.peek() {
            Some('}') => {
                cur.bump();
                return Ok(labels);
            }
            None => return Err(cur.err("unterminated label set")),
            _ => {}
        }
        let name = match cur.peek() {
            Some('"' | '\'' | '`') => go_unquote(cur)?,
            Some(c) if c.is_ascii_alphabetic() || c == '_' => cur.ident(),
            _ => return Err(cur.err("expected a label name")),
        };
        cur.skip_space();
        if cur.peek() == Some('=') {
            cur.bump();
            cur.skip_space();
            if !matches!(cur.peek(), Some('"' | '\'' | '`')) {
                return Err(cur.err("expected a quoted label value"));
            }
            let value = go_unquote(cur)?;
            labels.insert(name, value);
        } else {
            // A bare quoted string is the metric name.
            labels.insert("__name__".to_string(), name);
        }
        cur.skip_space();
        match cur.peek() {
            Some(',') => {
                cur.bump();
            }
            Some('}') => {}
            _ => return Err(cur.err("expected ',' or '}' in label set")),
        }
    }
}

/// Reads a Go string literal (`"..."`, `'...'` or a raw `` `...` ``) at the cursor.
fn go_unquote(cur: &mut Cursor<'_>) -> Result<String, String> {
    let Some(quote) = cur.bump() else {
        return Err(cur.err("expected a string"));
    };
    let mut out = String::new();
    loop {
        let Some(c) = cur.bump() else {
            return Err(cur.err("unterminated string"));
        };
        if c == quote {
            return Ok(out);
        }
        if c != '\\' || quote == '`' {
            out.push(c);
            continue;
        }
        let Some(e) = cur.bump() else {
            return Err(cur.err("unterminated escape"));
        };
        let simple = match e {
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            '\\' | '"' | '\'' => Some(e),
            _ => None,
        };
        if let Some(ch) = simple {
            out.push(ch);
            continue;
        }
        let (digits, radix) = match e {
            '0'..='7' => (2, 8),
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            _ => return Err(cur.err(&format!("unknown escape \\{e}"))),
        };
        let mut code = if radix == 8 { e as u32 - '0' as u32 } else { 0 };
        for _ in 0..digits {
            let d = cur
                .bump()
                .and_then(|c| c.to_digit(radix))
                .ok_or_else(|| cur.err("bad escape"))?;
            code = code * radix + d;
        }
        let ch = char::from_u32(code).ok_or_else(|| cur.err("bad escaped code point"))?;
        out.push(ch);
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Space,
    Add,
    Sub,
    Times,
    Blank,
    Number(String),
    Ident(String),
    Hist(String),
}

/// The value part, tokenised as Prometheus' `lexValueSequence` does: no hex numbers (the
/// `x` of repetitions would be ambiguous), a number stops at `x`.
fn lex_values(s: &str) -> Result<Vec<Tok>, String> {
    let b: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |i: usize, what: &str| format!("{what} at {:?}", b[i..].iter().collect::<String>());
    while i < b.len() {
        let c = b[i];
        match c {
            c if is_space(c) => {
                while i < b.len() && is_space(b[i]) {
                    i += 1;
                }
                out.push(Tok::Space);
                continue;
            }
            '{' if b.get(i + 1) == Some(&'{') => {
                let start = i;
                let mut j = i + 2;
                while j + 1 < b.len() && !(b[j] == '}' && b[j + 1] == '}') {
                    j += 1;
                }
                if j + 1 >= b.len() {
                    return Err(err(start, "unterminated histogram {{"));
                }
                out.push(Tok::Hist(b[start..j + 2].iter().collect()));
                i = j + 2;
                continue;
            }
            '+' => out.push(Tok::Add),
            '-' => out.push(Tok::Sub),
            'x' => out.push(Tok::Times),
            '_' => out.push(Tok::Blank),
            c if c.is_ascii_digit()
                || (c == '.' && b.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                while i < b.len() {
                    let d = b[i];
                    if d.is_ascii_digit() || d == '.' || d == '_' {
                        i += 1;
                    } else if d == 'e' || d == 'E' {
                        i += 1;
                        if i < b.len() && (b[i] == '+' || b[i] == '-') {
                            i += 1;
                        }
                    } else {
                        break;
                    }
                }
                // Next thing must not be alphanumeric, unless it's the repetition's `x`.
                if i < b.len() && b[i] != 'x' && is_alnum(b[i]) {
                    return Err(err(start, "bad number"));
                }
                out.push(Tok::Number(b[start..i].iter().collect()));
                continue;
            }
            c if c.is_ascii_alphabetic() => {
                let start = i;
                while i < b.len() && (is_alnum(b[i]) || b[i] == ':') {
                    i += 1;
                }
                let word: String = b[start..i].iter().collect();
                // `Inf` and `NaN` are number keywords (case-insensitive) in the lexer.
                if word.eq_ignore_ascii_case("inf") || word.eq_ignore_ascii_case("nan") {
                    out.push(Tok::Number(word));
                } else {
                    out.push(Tok::Ident(word));
                }
                continue;
            }
            _ => return Err(err(i, "unexpected character in series values")),
        }
        i += 1;
    }
    Ok(out)
}

/// `series_values : series_values SPACE series_item | series_values SPACE | empty`.
fn parse_values(toks: &[Tok]) -> Result<Vec<SeqValue>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    let bad = |i: usize, what: &str| format!("{what} (token {} of {toks:?})", i + 1);
    while i < toks.len() {
        if toks[i] != Tok::Space {
            return Err(bad(i, "expected a space before a series value"));
        }
        i += 1;
        if i >= toks.len() {
            break;
        }
        // Parses `TIMES uint` at i, if present.
        let times = |i: &mut usize| -> Result<Option<u64>, String> {
            if toks.get(*i) != Some(&Tok::Times) {
                return Ok(None);
            }
            *i += 1;
            match toks.get(*i) {
                Some(Tok::Number(n)) => {
                    *i += 1;
                    n.parse::<u64>()
                        .map(Some)
                        .map_err(|e| format!("invalid repetition in series values: {n}: {e}"))
                }
                _ => Err("expected a repetition count after 'x'".to_string()),
            }
        };
        match &toks[i] {
            Tok::Blank => {
                i += 1;
                let n = times(&mut i)?.unwrap_or(1);
                out.extend((0..n).map(|_| SeqValue::Omitted));
            }
            Tok::Hist(h) => {
                i += 1;
                match toks.get(i) {
                    Some(Tok::Add | Tok::Sub) => {
                        // `{{a}}+{{b}}xn`: n+1 histograms; the increments are not computed.
                        i += 1;
                        if !matches!(toks.get(i), Some(Tok::Hist(_))) {
                            return Err(bad(i, "expected a histogram after +/-"));
                        }
                        i += 1;
                        let n = times(&mut i)?
                            .ok_or_else(|| bad(i, "expected 'x' after histogram increment"))?;
                        out.extend((0..=n).map(|_| SeqValue::Histogram(h.clone())));
                    }
                    _ => match times(&mut i)? {
                        Some(n) => out.extend((0..=n).map(|_| SeqValue::Histogram(h.clone()))),
                        None => out.push(SeqValue::Histogram(h.clone())),
                    },
                }
            }
            _ => {
                let first = series_value(toks, &mut i)?;
                let step = match toks.get(i) {
                    Some(Tok::Add | Tok::Sub) => Some(signed_number(toks, &mut i)?),
                    _ => None,
                };
                match (times(&mut i)?, step) {
                    (None, None) => out.push(SeqValue::Float(first)),
                    (None, Some(_)) => return Err(bad(i, "expected 'x' after an increment")),
                    (Some(n), step) => {
                        let mut v = first;
                        for _ in 0..=n {
                            out.push(SeqValue::Float(v));
                            v += step.unwrap_or(0.0);
                        }
                    }
                }
            }
        }
        if i < toks.len() && toks[i] != Tok::Space {
            return Err(bad(i, "unexpected token after series value"));
        }
    }
    Ok(out)
}

/// `series_value : IDENTIFIER("stale") | number | signed_number`.
fn series_value(toks: &[Tok], i: &mut usize) -> Result<f64, String> {
    match toks.get(*i) {
        Some(Tok::Ident(w)) if w == "stale" => {
            *i += 1;
            Ok(f64::from_bits(cairn_model::STALE_NAN_BITS))
        }
        Some(Tok::Number(n)) => {
            *i += 1;
            parse_number(n)
        }
        Some(Tok::Add | Tok::Sub) => signed_number(toks, i),
        other => Err(format!(
            "unexpected {other:?} in series values, expected number or \"stale\""
        )),
    }
}

fn signed_number(toks: &[Tok], i: &mut usize) -> Result<f64, String> {
    let neg = match toks.get(*i) {
        Some(Tok::Add) => false,
        Some(Tok::Sub) => true,
        _ => return Err("expected '+' or '-'".to_string()),
    };
    *i += 1;
    match toks.get(*i) {
        Some(Tok::Number(n)) => {
            *i += 1;
            let v = parse_number(n)?;
            Ok(if neg { -v } else { v })
        }
        other => Err(format!("expected a number after a sign, got {other:?}")),
    }
}

/// Prometheus' `parseNumber`/`parser.number`: `strconv.ParseInt(s, 0, 64)`, else
/// `strconv.ParseFloat(s, 64)`. So `010` is octal 8, `0x1F` is 31 and `-Inf`, `NaN`,
/// `1e3` and `0x1p-2` are floats.
pub fn parse_number(s: &str) -> Result<f64, String> {
    if let Some(i) = go_parse_int(s) {
        return Ok(i as f64);
    }
    go_parse_float(s).ok_or_else(|| format!("error parsing number: invalid syntax: {s:?}"))
}

fn split_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

/// Underscores only between digits (or after a base prefix), as Go's `underscoreOK`.
fn underscores_ok(digits: &str, prefixed: bool) -> bool {
    let b = digits.as_bytes();
    if b.first() == Some(&b'_') && !prefixed {
        return false;
    }
    b.last().is_none_or(|&c| c != b'_') && !digits.contains("__")
}

/// `strconv.ParseInt(s, 0, 64)`.
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, body) = split_sign(s);
    if body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(r) = lower.strip_prefix("0x") {
        (16, r, true)
    } else if let Some(r) = lower.strip_prefix("0o") {
        (8, r, true)
    } else if let Some(r) = lower.strip_prefix("0b") {
        (2, r, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, lower.as_str(), false)
    };
    if digits.is_empty() || !underscores_ok(digits, prefixed) {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() || !clean.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mag = u64::from_str_radix(&clean, radix).ok()?;
    if neg {
        if mag <= i64::MAX as u64 + 1 {
            Some((mag as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else {
        i64::try_from(mag).ok()
    }
}

/// `strconv.ParseFloat(s, 64)`: decimal and hexadecimal floats, `Inf`/`Infinity`/`NaN`
/// in any case, optionally signed.
fn go_parse_float(s: &str) -> Option<f64> {
    let (neg, body) = split_sign(s);
    let lower = body.to_ascii_lowercase();
    let v = if lower == "inf" || lower == "infinity" {
        f64::INFINITY
    } else if lower == "nan" {
        // Go's ParseFloat accepts no sign on NaN.
        return (body.len() == s.len()).then_some(f64::NAN);
    } else if let Some(hex) = lower.strip_prefix("0x") {
        parse_hex_float(hex)?
    } else {
        if lower.is_empty()
            || !lower
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-' | '_'))
            || !lower.chars().any(|c| c.is_ascii_digit())
        {
            return None;
        }
        if lower.contains('_') {
            // Go allows underscores in floats only with a base prefix.
            return None;
        }
        lower.parse::<f64>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// The part after `0x` of a Go hex float: `1.8p3`, `1F`, `_1p-2`.
fn parse_hex_float(s: &str) -> Option<f64> {
    let s: String = s.chars().filter(|&c| c != '_').collect();
    let (mant, exp) = match s.split_once('p') {
        Some((m, e)) => (m.to_string(), e.parse::<i32>().ok()?),
        None => {
            // A hex literal without exponent is only valid as an integer (ParseInt handled
            // it unless it overflowed); ParseFloat still takes it.
            if s.contains('.') {
                return None;
            }
            (s.clone(), 0)
        }
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant.as_str(), ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

/// `model.ParseDuration` (Prometheus' `1h30m`, `5m`, `0`, units y w d h m s ms) in ms.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err("empty duration string".to_string());
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let bad = || format!("not a valid duration string: {s:?}");
    let b = s.as_bytes();
    let mut i = 0;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
        let n: i64 = s[start..i].parse().map_err(|_| bad())?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[ustart..i];
        // Units must appear in decreasing order, each at most once.
        let pos = UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(bad)?;
        let mult = UNITS[next_unit + pos].1;
        next_unit += pos + 1;
        total = n
            .checked_mul(mult)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| "duration out of range".to_string())?;
    }
    Ok(total)
}
