//! A parser of InfluxDB line protocol (v2 syntax) over a byte slice.
//!
//! It owns the syntax only: it yields each entry's measurement, tags, typed fields and raw
//! timestamp (in whatever precision the request names), and knows nothing of series, labels or
//! milliseconds; `influx.rs` maps entries onto Cairn series.
//!
//! ```text
//!  measurement[,tag_key=tag_value...] field_key=field_value[,field_key=field_value...] [timestamp]
//!
//!  body ──► Parser::next_line ──► Ok(Line)  measurement, tags, fields borrow the body
//!                 │                         (Cow::Owned only for tokens with escapes)
//!                 └─────────────► Err(LineError { line, message }) and go on at the next line
//! ```
//!
//! The grammar follows InfluxData's reference decoder (`github.com/influxdata/line-protocol/v2`)
//! as of the conformance corpus in `tests/conformance/line-protocol` (upstream commit 4fe8aec6;
//! the decoder later began to read `\n`, `\r`, `\t` in strings and to refuse control characters
//! in tag values, which InfluxDB itself does neither of):
//! - blank lines, lines of spaces and `#` comments are skipped; lines may end in `\n` or `\r\n`;
//!   leading spaces are skipped, but a tab or other control character is an error;
//! - `\,` and `\ ` are escapes in a measurement; `\,`, `\=` and `\ ` in tag keys, tag values and
//!   field keys; `\"` and `\\` in string field values. Any other backslash is literal, and a
//!   backslash before another backslash outside strings is literal too (`a\\,b` is `a\,b`);
//! - field values: `1.5`, `-1e-3` (float; `inf` and `nan` are errors), `1i` (i64), `1u` (u64),
//!   `t T true True TRUE f F false False FALSE` (bool), `"text"` (string, may span lines);
//! - every token must be valid UTF-8; a control character ends a measurement or key and so fails
//!   the line, but tag values and strings keep control characters (not CR or LF in tag values).
//!
//! Duplicate tag keys are not a syntax error; the write path rejects them when it builds labels.

use std::borrow::Cow;

/// A line that could not be used, with its 1-based line number: `line 3: expected '=' ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// A tag, unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag<'a> {
    pub key: Cow<'a, str>,
    pub value: Cow<'a, str>,
}

/// A field, unescaped, with its value as written (before any conversion to f64).
#[derive(Debug, Clone, PartialEq)]
pub struct Field<'a> {
    pub key: Cow<'a, str>,
    pub value: FieldValue<'a>,
}

/// A typed field value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// Always finite: line protocol has no way to write infinities or NaN.
    Float(f64),
    Int(i64),
    UInt(u64),
    Bool(bool),
    String(Cow<'a, str>),
}

impl FieldValue<'_> {
    /// The value as a sample value: integers and unsigned become f64 (rounded to the nearest
    /// f64 past 2^53), booleans 1 or 0; strings have none.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            FieldValue::Float(v) => Some(v),
            FieldValue::Int(v) => Some(v as f64),
            FieldValue::UInt(v) => Some(v as f64),
            FieldValue::Bool(v) => Some(if v { 1.0 } else { 0.0 }),
            FieldValue::String(_) => None,
        }
    }
}

/// One parsed entry. Tags and fields live in the parser's buffers, reused for the next line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line<'p, 'a> {
    /// 1-based number of the line the entry starts on.
    pub number: usize,
    pub measurement: Cow<'a, str>,
    /// In the order written.
    pub tags: &'p [Tag<'a>],
    /// In the order written; at least one.
    pub fields: &'p [Field<'a>],
    /// As written, in the request's precision; `None` when the line has none.
    pub timestamp: Option<i64>,
}

/// Parses a body of line protocol, one entry at a time:
///
/// ```
/// use cairn_ingest::line_protocol::{FieldValue, Parser};
///
/// let mut p = Parser::new(b"# a comment\ncpu,host=a usage=0.5,n=3i 1700000000\n");
/// let line = p.next_line().unwrap().unwrap();
/// assert_eq!(line.measurement, "cpu");
/// assert_eq!(line.fields[1].value, FieldValue::Int(3));
/// assert_eq!(line.timestamp, Some(1_700_000_000));
/// assert!(p.next_line().is_none());
/// ```
pub struct Parser<'a> {
    input: &'a [u8],
    /// The whole input when it is valid UTF-8 (nearly always), so that a token becomes a `&str`
    /// by slicing instead of by validating each token again.
    text: Option<&'a str>,
    pos: usize,
    /// 1-based line number at `pos`.
    line: usize,
    tags: Vec<Tag<'a>>,
    fields: Vec<Field<'a>>,
    /// The message of the error being returned (see `Stop`).
    message: String,
}

/// A scanned token: `input[start..end]`, holding escapes when `escaped`. Tokens are kept as
/// spans until pushed, so that they stay in registers.
#[derive(Debug, Clone, Copy)]
struct Token {
    start: usize,
    end: usize,
    escaped: bool,
}

impl Token {
    fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// "The line failed; the message is in `Parser::message`." A zero-sized error keeps the hot
/// paths' results in registers; messages are only formatted on the cold error paths.
struct Stop;

type Parse<T> = Result<T, Stop>;

impl<'a> Parser<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Parser {
            input,
            text: std::str::from_utf8(input).ok(),
            pos: 0,
            line: 1,
            tags: Vec::with_capacity(16),
            fields: Vec::with_capacity(16),
            message: String::new(),
        }
    }

    /// The next entry, skipping blank and comment lines; after an error, parsing resumes at
    /// the next line. `None` at the end of the input.
    pub fn next_line(&mut self) -> Option<Result<Line<'_, 'a>, LineError>> {
        match self.skip_blank_lines() {
            Start::End => return None,
            Start::BadComment(c) => {
                let _ = self.stop(format!(
                    "comment contains the control character {}",
                    show(Some(c))
                ));
                return Some(Err(self.line_error()));
            }
            Start::Entry => {}
        }
        let number = self.line;
        self.tags.clear();
        self.fields.clear();
        match self.entry() {
            Ok((measurement, timestamp)) => Some(Ok(Line {
                number,
                measurement,
                tags: &self.tags,
                fields: &self.fields,
                timestamp,
            })),
            Err(Stop) => Some(Err(self.line_error())),
        }
    }

    /// Records the message of the current line's error.
    #[cold]
    #[inline(never)]
    fn stop(&mut self, message: String) -> Stop {
        self.message = message;
        Stop
    }

    /// Makes the error for the current line and skips to the start of the next one.
    #[cold]
    #[inline(never)]
    fn line_error(&mut self) -> LineError {
        let err = LineError {
            line: self.line,
            message: std::mem::take(&mut self.message),
        };
        match memchr::memchr(b'\n', &self.input[self.pos..]) {
            Some(i) => {
                self.pos += i + 1;
                self.line += 1;
            }
            None => self.pos = self.input.len(),
        }
        err
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    #[inline(always)]
    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    /// Consumes an end of line (`\n`, `\r\n`, or `\r` at the end of input) or the end of input.
    #[inline]
    fn take_eol(&mut self) -> bool {
        match self.peek() {
            None => true,
            Some(b'\n') => {
                self.pos += 1;
                self.line += 1;
                true
            }
            Some(b'\r') => match self.input.get(self.pos + 1) {
                None => {
                    self.pos += 1;
                    true
                }
                Some(b'\n') => {
                    self.pos += 2;
                    self.line += 1;
                    true
                }
                Some(_) => false,
            },
            Some(_) => false,
        }
    }

    fn skip_blank_lines(&mut self) -> Start {
        loop {
            self.skip_spaces();
            match self.peek() {
                None => return Start::End,
                Some(b'#') => {
                    let mut p = self.pos + 1;
                    while p < self.input.len() && class(self.input[p]) & COMMENT != 0 {
                        p += 1;
                    }
                    self.pos = p;
                    if !self.take_eol() {
                        return Start::BadComment(self.input[p]);
                    }
                }
                Some(b'\n' | b'\r') => {
                    if !self.take_eol() {
                        // A lone `\r`: the measurement scan reports it.
                        return Start::Entry;
                    }
                }
                Some(_) => return Start::Entry,
            }
        }
    }

    /// Parses one entry; tags and fields go to `self.tags` and `self.fields`.
    fn entry(&mut self) -> Parse<(Cow<'a, str>, Option<i64>)> {
        let name = self.scan(MEASUREMENT, ESC_MEASUREMENT);
        if name.is_empty() {
            let message = match self.peek() {
                None => "no measurement name found".to_string(),
                c => format!("invalid character {} at start of measurement name", show(c)),
            };
            return Err(self.stop(message));
        }
        // Checked now, while an error still leaves `pos` on this line.
        let measurement = self.text(name, ESC_MEASUREMENT, "measurement")?;
        if self.peek() == Some(b',') {
            self.tags_after_comma()?;
        }
        if self.peek() != Some(b' ') {
            let message = format!(
                "expected tag key or field after {measurement:?}, found {}",
                show(self.peek())
            );
            return Err(self.stop(message));
        }
        self.skip_spaces();
        self.fields()?;
        // `fields` stopped at the end of input or at white space after the last field.
        self.skip_spaces();
        let timestamp = if self.take_eol() {
            None
        } else {
            Some(self.timestamp()?)
        };
        Ok((measurement, timestamp))
    }

    /// `,key=value` pairs up to the space before the fields; `pos` is at the first comma.
    fn tags_after_comma(&mut self) -> Parse<()> {
        loop {
            self.pos += 1; // the comma
            if matches!(self.peek(), None | Some(b' ' | b'\r' | b'\n')) {
                let message = format!("expected tag key after comma, found {}", show(self.peek()));
                return Err(self.stop(message));
            }
            let key = self.scan(KEY, ESC_KEY);
            if key.is_empty() {
                let message = match self.peek() {
                    Some(b'=') => "empty tag key".to_string(),
                    c => format!("expected tag key, found {}", show(c)),
                };
                return Err(self.stop(message));
            }
            if self.peek() != Some(b'=') {
                let message = format!(
                    "expected '=' after tag key {}, found {}",
                    self.quoted(key),
                    show(self.peek())
                );
                return Err(self.stop(message));
            }
            self.pos += 1;
            let value = self.scan(TAG_VALUE, ESC_KEY);
            if value.is_empty() {
                let message = format!(
                    "expected tag value after tag key {}, found {}",
                    self.quoted(key),
                    show(self.peek())
                );
                return Err(self.stop(message));
            }
            let key = self.text(key, ESC_KEY, "tag key")?;
            let value = self.text(value, ESC_KEY, "tag value")?;
            if self.tags.len() < self.tags.capacity() {
                // Growing is a call, across which the compiler would stage the tag on the stack
                // and copy it (stalling on store forwarding); with room known it writes in place.
                self.tags.push(Tag { key, value });
            } else {
                push_cold(&mut self.tags, Tag { key, value });
            }
            match self.peek() {
                Some(b',') => {}
                Some(b' ') => return Ok(()),
                c => {
                    let message = match c {
                        None => "expected fields after the tags, found end of input".to_string(),
                        c => format!(
                            "expected ',' or ' ' after the value of tag {:?}, found {}",
                            self.tags[self.tags.len() - 1].key,
                            show(c)
                        ),
                    };
                    return Err(self.stop(message));
                }
            }
        }
    }

    /// `key=value` pairs separated by commas; stops at the end of input or white space.
    fn fields(&mut self) -> Parse<()> {
        loop {
            let key = self.scan(KEY, ESC_KEY);
            if key.is_empty() {
                let message = match self.peek() {
                    None => "expected field key, found end of input".to_string(),
                    c => format!("invalid character {} at start of field key", show(c)),
                };
                return Err(self.stop(message));
            }
            if self.peek() != Some(b'=') {
                let message = format!(
                    "expected '=' after field key {}, found {}",
                    self.quoted(key),
                    show(self.peek())
                );
                return Err(self.stop(message));
            }
            self.pos += 1;
            self.field(key)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                None | Some(b' ' | b'\r' | b'\n') => return Ok(()),
                c => {
                    let message = format!(
                        "unexpected character {} after field {}",
                        show(c),
                        self.quoted(key)
                    );
                    return Err(self.stop(message));
                }
            }
        }
    }

    /// Parses the value of the field whose key is `key` and pushes the field.
    #[inline(always)]
    fn field(&mut self, key: Token) -> Parse<()> {
        let first = self.peek();
        if let Some(b'-' | b'0'..=b'9' | b'.') = first {
            let tok = self.value_token();
            // `tok` holds at least `first`.
            let (body, last) = tok.split_at(tok.len() - 1);
            let value = match last[0] {
                b'i' => match parse_int(body) {
                    Ok(v) => FieldValue::Int(v),
                    Err(out_of_range) => return Err(self.number_error(out_of_range, tok, key)),
                },
                b'u' => match parse_uint(body) {
                    Ok(v) => FieldValue::UInt(v),
                    Err(out_of_range) => return Err(self.number_error(out_of_range, tok, key)),
                },
                _ => match parse_float(tok) {
                    Ok(v) => FieldValue::Float(v),
                    Err(out_of_range) => return Err(self.number_error(out_of_range, tok, key)),
                },
            };
            return self.push_field(key, value);
        }
        let value = match first {
            Some(b'"') => {
                self.pos += 1;
                FieldValue::String(self.string_value(key)?)
            }
            Some(b't' | b'T' | b'f' | b'F') => match self.value_token() {
                b"t" | b"T" | b"true" | b"True" | b"TRUE" => FieldValue::Bool(true),
                b"f" | b"F" | b"false" | b"False" | b"FALSE" => FieldValue::Bool(false),
                tok => {
                    let message = bad_value("boolean", tok, &self.quoted(key));
                    return Err(self.stop(message));
                }
            },
            None => {
                let message = format!(
                    "expected value for field {}, found end of input",
                    self.quoted(key)
                );
                return Err(self.stop(message));
            }
            Some(b' ' | b',' | b'\r' | b'\n') => {
                let message = format!("missing value for field {}", self.quoted(key));
                return Err(self.stop(message));
            }
            Some(_) => {
                let tok = self.value_token();
                let message = format!(
                    "value {:?} of field {} has no known type (want a number, \
                     1i, 1u, true, false or \"string\")",
                    String::from_utf8_lossy(tok),
                    self.quoted(key)
                );
                return Err(self.stop(message));
            }
        };
        self.push_field(key, value)
    }

    #[inline(always)]
    fn push_field(&mut self, key: Token, value: FieldValue<'a>) -> Parse<()> {
        let key = self.text(key, ESC_KEY, "field key")?;
        // As for tags in `tags_after_comma`: write in place when no growing can intervene.
        if self.fields.len() < self.fields.capacity() {
            self.fields.push(Field { key, value });
        } else {
            push_cold(&mut self.fields, Field { key, value });
        }
        Ok(())
    }

    /// The error for a number token that did not parse.
    #[cold]
    #[inline(never)]
    fn number_error(&mut self, out_of_range: bool, tok: &[u8], key: Token) -> Stop {
        let message = number_error(out_of_range, tok, &self.quoted(key));
        self.stop(message)
    }

    /// An unquoted field value: everything up to a comma, white space or the end of input.
    #[inline(always)]
    fn value_token(&mut self) -> &'a [u8] {
        let input = self.input;
        let start = self.pos;
        let mut p = start;
        while p < input.len() && class(input[p]) & VALUE != 0 {
            p += 1;
        }
        self.pos = p;
        &input[start..p]
    }

    /// The body of a string field after its opening quote; consumes the closing quote.
    fn string_value(&mut self, key: Token) -> Parse<Cow<'a, str>> {
        let input = self.input;
        let start = self.pos;
        let mut p = start;
        let mut escaped = false;
        loop {
            let Some(&c) = input.get(p) else {
                self.pos = p;
                let message = format!(
                    "expected closing quote for string field {}, found end of input",
                    self.quoted(key)
                );
                return Err(self.stop(message));
            };
            if class(c) & STRING != 0 {
                p += 1;
                continue;
            }
            match c {
                b'"' => break,
                b'\n' => {
                    // Strings may span lines; keep error line numbers right.
                    self.line += 1;
                    p += 1;
                }
                _ => {
                    // A backslash.
                    match input.get(p + 1) {
                        Some(&n) if class(n) & ESC_STRING != 0 => {
                            escaped = true;
                            p += 2;
                        }
                        _ => p += 1,
                    }
                }
            }
        }
        self.pos = p + 1;
        let tok = Token {
            start,
            end: p,
            escaped,
        };
        self.text(tok, ESC_STRING, "string field")
    }

    /// Scans a measurement, tag key, tag value or field key: bytes of `allowed` plus backslash
    /// escapes of `escapable` bytes.
    #[inline(always)]
    fn scan(&mut self, allowed: u16, escapable: u16) -> Token {
        let input = self.input;
        let start = self.pos;
        let mut p = start;
        let mut escaped = false;
        while p < input.len() {
            let c = input[p];
            if class(c) & allowed != 0 {
                p += 1;
            } else if c == b'\\' {
                // An escape consumes the escaped byte even though it would end the token; any
                // other backslash is literal and the byte after it is read normally.
                match input.get(p + 1) {
                    Some(&n) if class(n) & escapable != 0 => {
                        escaped = true;
                        p += 2;
                    }
                    _ => p += 1,
                }
            } else {
                break;
            }
        }
        self.pos = p;
        Token {
            start,
            end: p,
            escaped,
        }
    }

    /// A scanned token as text: checked UTF-8, escapes removed; `what` names it in errors.
    /// Token bounds always fall on ASCII delimiters, so when the whole input is valid UTF-8,
    /// slicing it cannot fail.
    #[inline(always)]
    fn text(&mut self, tok: Token, escapable: u16, what: &str) -> Parse<Cow<'a, str>> {
        let checked = match self.text {
            Some(text) => text.get(tok.start..tok.end),
            None => std::str::from_utf8(&self.input[tok.start..tok.end]).ok(),
        };
        match checked {
            Some(s) if tok.escaped => Ok(Cow::Owned(unescape(s, escapable))),
            Some(s) => Ok(Cow::Borrowed(s)),
            None => {
                let message = format!("invalid UTF-8 in {what} {}", self.quoted(tok));
                Err(self.stop(message))
            }
        }
    }

    /// A token as written, quoted, for error messages.
    #[cold]
    fn quoted(&self, tok: Token) -> String {
        format!(
            "{:?}",
            String::from_utf8_lossy(&self.input[tok.start..tok.end])
        )
    }

    /// The timestamp and the rest of its line: `-?[0-9]+`, then spaces and the end of line.
    fn timestamp(&mut self) -> Parse<i64> {
        let input = self.input;
        let start = self.pos;
        let mut p = start;
        while p < input.len() && class(input[p]) & TIME != 0 {
            p += 1;
        }
        self.pos = p;
        let tok = &input[start..p];
        match self.peek() {
            None | Some(b' ' | b'\r' | b'\n') if !tok.is_empty() => {}
            Some(b'\r') => {
                return Err(self.stop("carriage return not followed by a newline".into()));
            }
            _ => {
                let end = memchr::memchr2(b'\r', b'\n', &input[start..])
                    .map_or(input.len(), |i| start + i);
                let message = format!(
                    "invalid timestamp {:?}",
                    String::from_utf8_lossy(&input[start..end])
                );
                return Err(self.stop(message));
            }
        }
        let ts = match parse_int(tok) {
            Ok(ts) => ts,
            Err(out_of_range) => {
                let tok = String::from_utf8_lossy(tok);
                let message = if out_of_range {
                    format!("timestamp {tok} is out of range")
                } else {
                    format!("invalid timestamp {tok:?}")
                };
                return Err(self.stop(message));
            }
        };
        self.skip_spaces();
        if !self.take_eol() {
            if self.peek() == Some(b'\r') {
                return Err(self.stop("carriage return not followed by a newline".into()));
            }
            let rest = &input[self.pos..];
            let end = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
            let message = format!(
                "unexpected text {:?} after the timestamp",
                String::from_utf8_lossy(&rest[..end])
            );
            return Err(self.stop(message));
        }
        Ok(ts)
    }
}

#[cold]
#[inline(never)]
fn push_cold<T>(v: &mut Vec<T>, x: T) {
    v.push(x);
}

enum Start {
    End,
    Entry,
    /// A comment holding this control character (`pos` is at it).
    BadComment(u8),
}

// Byte classes, one bit per token kind. Backslashes are in none of the text classes, so that
// the token loops meet them only on their slow path.
const MEASUREMENT: u16 = 1 << 0;
/// Tag keys and field keys.
const KEY: u16 = 1 << 1;
/// Tag values: like keys, but control characters other than CR and LF are kept.
const TAG_VALUE: u16 = 1 << 2;
const VALUE: u16 = 1 << 3;
const STRING: u16 = 1 << 4;
const TIME: u16 = 1 << 5;
const COMMENT: u16 = 1 << 6;
// The bytes a backslash escapes, per context.
const ESC_MEASUREMENT: u16 = 1 << 7;
const ESC_KEY: u16 = 1 << 8;
const ESC_STRING: u16 = 1 << 9;

const fn classes() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let control = b < 0x20 || b == 0x7f;
        let mut c = 0;
        if !control && b != b',' && b != b' ' && b != b'\\' {
            c |= MEASUREMENT;
        }
        if !control && b != b',' && b != b'=' && b != b' ' && b != b'\\' {
            c |= KEY;
        }
        if b != b',' && b != b'=' && b != b' ' && b != b'\\' && b != b'\r' && b != b'\n' {
            c |= TAG_VALUE;
        }
        if b != b',' && b != b' ' && b != b'\r' && b != b'\n' {
            c |= VALUE;
        }
        if b != b'"' && b != b'\\' && b != b'\n' {
            c |= STRING;
        }
        if b == b'-' || b.is_ascii_digit() {
            c |= TIME;
        }
        if !control {
            c |= COMMENT;
        }
        if b == b',' || b == b' ' {
            c |= ESC_MEASUREMENT;
        }
        if b == b',' || b == b'=' || b == b' ' {
            c |= ESC_KEY;
        }
        if b == b'"' || b == b'\\' {
            c |= ESC_STRING;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CLASSES: [u16; 256] = classes();

#[inline(always)]
fn class(b: u8) -> u16 {
    CLASSES[b as usize]
}

/// Removes the backslash of each escape; `s` was scanned with the same `escapable` class.
#[cold]
fn unescape(s: &str, escapable: u16) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut run = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() && class(b[i + 1]) & escapable != 0 {
            out.push_str(&s[run..i]);
            run = i + 1; // the escaped byte starts the next run
            i += 2;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[run..]);
    out
}

/// `-?[0-9]+` as i64; `Err(true)` when out of range, `Err(false)` for bad syntax.
fn parse_int(b: &[u8]) -> Result<i64, bool> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let magnitude = parse_uint(digits)?;
    if neg {
        // -(2^63) is the one magnitude that fits only negated.
        0i64.checked_sub_unsigned(magnitude).ok_or(true)
    } else {
        i64::try_from(magnitude).map_err(|_| true)
    }
}

/// `[0-9]+` as u64; `Err(true)` when out of range, `Err(false)` for bad syntax.
fn parse_uint(b: &[u8]) -> Result<u64, bool> {
    if b.is_empty() {
        return Err(false);
    }
    let mut v: u64 = 0;
    let mut overflow = false;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return Err(false);
        }
        match v.checked_mul(10).and_then(|v| v.checked_add(d as u64)) {
            Some(n) => v = n,
            None => overflow = true,
        }
    }
    if overflow { Err(true) } else { Ok(v) }
}

/// A decimal float; `Err(true)` when it does not fit an f64, `Err(false)` for bad syntax.
#[inline(always)]
fn parse_float(b: &[u8]) -> Result<f64, bool> {
    match parse_float_fast(b) {
        Some(v) => Ok(v),
        None => parse_float_slow(b),
    }
}

#[cold]
#[inline(never)]
fn parse_float_slow(b: &[u8]) -> Result<f64, bool> {
    // Only decimal syntax: Rust's parser also takes "inf", "nan" and "infinity".
    if !b
        .iter()
        .all(|&c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E'))
    {
        return Err(false);
    }
    let s = std::str::from_utf8(b).map_err(|_| false)?;
    let v: f64 = s.parse().map_err(|_| false)?;
    if v.is_finite() { Ok(v) } else { Err(true) }
}

/// Clinger's fast path for the common `-?digits[.digits]` with at most 15 digits: the digits
/// as an integer and the power of ten are both exact f64s, so one IEEE division rounds
/// correctly. Anything else goes to the full parser.
#[inline(always)]
fn parse_float_fast(b: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (neg, b) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    if b.is_empty() || b.len() > 16 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut digits = 0usize;
    let mut dot = None;
    for (i, &c) in b.iter().enumerate() {
        let d = c.wrapping_sub(b'0');
        if d <= 9 {
            mantissa = mantissa * 10 + d as u64;
            digits += 1;
        } else if c == b'.' && dot.is_none() {
            dot = Some(i);
        } else {
            return None;
        }
    }
    if digits == 0 || digits > 15 {
        return None;
    }
    let scale = dot.map_or(0, |i| b.len() - i - 1);
    // At most 15 digits: the i64 conversion is exact (and one instruction, unlike u64).
    let v = mantissa as i64 as f64 / POW10[scale];
    Some(if neg { -v } else { v })
}

#[cold]
/// `key` comes quoted (`Parser::quoted`).
fn bad_value(kind: &str, tok: &[u8], key: &str) -> String {
    format!(
        "invalid {kind} value {:?} for field {key}",
        String::from_utf8_lossy(tok)
    )
}

/// `key` comes quoted (`Parser::quoted`).
#[cold]
fn number_error(out_of_range: bool, tok: &[u8], key: &str) -> String {
    let kind = match tok.last() {
        Some(b'i') => "integer",
        Some(b'u') => "unsigned integer",
        _ => "float",
    };
    if out_of_range {
        format!(
            "{kind} value {:?} of field {key} is out of range",
            String::from_utf8_lossy(tok)
        )
    } else {
        bad_value(kind, tok, key)
    }
}

/// A byte for an error message: `end of input`, `' '`, `'\n'`, `byte 0xff`.
fn show(c: Option<u8>) -> String {
    match c {
        None => "end of input".to_string(),
        Some(c) if c.is_ascii() => format!("{:?}", c as char),
        Some(c) => format!("byte 0x{c:02x}"),
    }
}

#[cfg(test)]
mod line_protocol_test;
