//! Go's `fmt` for template values: `%v` printing (what `{{ $value }}` and `print` write),
//! `Sprint`/`Sprintln`/`Sprintf` with Go's verbs, flags, width and precision, and
//! `strconv.FormatFloat`'s `%e`/`%f`/`%g` digits. Output must be byte-for-byte Go's, since
//! alert annotations are compared against promtool's.

use super::value::Value;

/// `strconv.FormatFloat(f, verb, prec, 64)` for verbs `e`, `E`, `f`, `g`, `G`; `prec < 0`
/// is Go's "shortest representation that round-trips".
pub fn format_float(f: f64, verb: char, prec: i32) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let neg = f.is_sign_negative();
    let abs = f.abs();
    if verb == 'x' || verb == 'X' {
        let s = hex_float(abs, verb == 'X');
        return if neg { format!("-{s}") } else { s };
    }
    if verb == 'f' && prec >= 0 {
        // Rust and Go both round the exact binary value correctly, so the digits agree.
        let s = format!("{:.*}", prec as usize, abs);
        return if neg { format!("-{s}") } else { s };
    }
    let shortest = prec < 0;
    let mut prec = prec;
    // Decimal digits d (no leading or trailing zeros) with the point at dp: 0.d × 10^dp.
    let (digits, dp) = if shortest {
        decimal_digits(&format!("{abs:e}"))
    } else {
        let n = match verb {
            'e' | 'E' => prec as usize + 1,
            'g' | 'G' => {
                if prec == 0 {
                    prec = 1;
                }
                prec as usize
            }
            _ => 1,
        };
        decimal_digits(&format!("{:.*e}", n - 1, abs))
    };
    let nd = digits.len() as i32;
    if shortest {
        prec = match verb {
            'e' | 'E' => (nd - 1).max(0),
            'f' => (nd - dp).max(0),
            _ => nd,
        };
    }
    match verb {
        'e' | 'E' => fmt_e(neg, &digits, dp, prec, verb),
        'f' => fmt_f(neg, &digits, dp, prec),
        'g' | 'G' => {
            let mut eprec = prec;
            if eprec > nd && nd >= dp {
                eprec = nd;
            }
            // Go: "if precision was the shortest possible, use precision 6 for this decision".
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            let e = if verb == 'g' { 'e' } else { 'E' };
            if exp < -4 || exp >= eprec {
                let p = if prec > nd { nd } else { prec };
                fmt_e(neg, &digits, dp, p - 1, e)
            } else {
                let p = if prec > dp { nd } else { prec };
                fmt_f(neg, &digits, dp, (p - dp).max(0))
            }
        }
        _ => format!("%{verb}"),
    }
}

/// Go's `%x` of a float with the shortest mantissa: `0x1.8p+01`.
fn hex_float(abs: f64, upper: bool) -> String {
    if abs == 0.0 {
        return if upper { "0X0P+00" } else { "0x0p+00" }.to_string();
    }
    let bits = abs.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        // Subnormal: shift the leading one into the implicit position.
        let shift = mant.leading_zeros() as i64 - 11;
        mant = (mant << shift) & ((1u64 << 52) - 1);
        exp = 1 - shift;
    }
    let e = exp - 1023;
    let mut digits = format!("{mant:013x}");
    while digits.ends_with('0') {
        digits.pop();
    }
    let frac = if digits.is_empty() {
        String::new()
    } else {
        format!(".{digits}")
    };
    let sign = if e < 0 { '-' } else { '+' };
    let s = format!("0x1{frac}p{sign}{:02}", e.abs());
    if upper { s.to_uppercase() } else { s }
}

/// Splits Rust's `{:e}` output ("1.2345e6") into significant digits without trailing zeros
/// and Go's decimal point position (`dp`). Zero has no digits and dp 0, as Go's decimal.
fn decimal_digits(s: &str) -> (Vec<u8>, i32) {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mant.bytes().filter(|b| b.is_ascii_digit()).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits.is_empty() {
        return (digits, 0);
    }
    (digits, exp + 1)
}

fn fmt_e(neg: bool, d: &[u8], dp: i32, prec: i32, verb: char) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push(if d.is_empty() { '0' } else { d[0] as char });
    if prec > 0 {
        out.push('.');
        let m = d.len().min(prec as usize + 1);
        for &c in d.iter().take(m).skip(1) {
            out.push(c as char);
        }
        for _ in m.max(1)..=prec as usize {
            out.push('0');
        }
    }
    out.push(verb);
    let exp = if d.is_empty() { 0 } else { dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.abs();
    if e < 10 {
        out.push('0');
    }
    out.push_str(&e.to_string());
    out
}

fn fmt_f(neg: bool, d: &[u8], dp: i32, prec: i32) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if dp > 0 {
        let m = d.len().min(dp as usize);
        for &c in &d[..m] {
            out.push(c as char);
        }
        for _ in m..dp as usize {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            let j = dp + i - 1;
            let c = if j >= 0 && (j as usize) < d.len() {
                d[j as usize] as char
            } else {
                '0'
            };
            out.push(c);
        }
    }
    out
}

/// `%v` of one value, as `fmt.Sprint` prints it inside a composite.
pub fn sprint_value(v: &Value) -> String {
    let mut p = Printer::default();
    p.print_arg(v, 'v');
    p.buf
}

/// `fmt.Sprint`: spaces between operands when neither side is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut p = Printer::default();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::Str(_) | Value::Html(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v');
        prev_string = is_string;
    }
    p.buf
}

/// `fmt.Sprintln`: spaces between all operands and a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut p = Printer::default();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v');
    }
    p.buf.push('\n');
    p.buf
}

/// `fmt.Sprintf` with Go's verbs, flags (`-+# 0`), width and precision (digits or `*`), and
/// Go's error notations (`%!d(string=x)`, `%!d(MISSING)`, `%!(EXTRA ...)`, `%!(NOVERB)`).
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut p = Printer::default();
    let chars: Vec<char> = format.chars().collect();
    let end = chars.len();
    let mut arg_num = 0;
    let mut i = 0;
    while i < end {
        let start = i;
        while i < end && chars[i] != '%' {
            i += 1;
        }
        p.buf.extend(&chars[start..i]);
        if i >= end {
            break;
        }
        i += 1; // the '%'
        p.flags = Flags::default();
        while i < end {
            match chars[i] {
                '#' => p.flags.sharp = true,
                // Go: "Only allow zero padding to the left."
                '0' => p.flags.zero = !p.flags.minus,
                '+' => p.flags.plus = true,
                '-' => {
                    p.flags.minus = true;
                    p.flags.zero = false;
                }
                ' ' => p.flags.space = true,
                _ => break,
            }
            i += 1;
        }
        // Width.
        if i < end && chars[i] == '*' {
            i += 1;
            match args.get(arg_num) {
                Some(Value::Int(w)) => {
                    if *w < 0 {
                        p.flags.minus = true;
                        p.flags.zero = false;
                    }
                    p.flags.width = Some(w.unsigned_abs() as usize);
                }
                _ => p.buf.push_str("%!(BADWIDTH)"),
            }
            arg_num += 1;
        } else {
            let (n, next) = parse_num(&chars, i);
            p.flags.width = n;
            i = next;
        }
        // Precision.
        if i < end && chars[i] == '.' {
            i += 1;
            if i < end && chars[i] == '*' {
                i += 1;
                match args.get(arg_num) {
                    Some(Value::Int(pr)) if *pr >= 0 => p.flags.prec = Some(*pr as usize),
                    Some(Value::Int(_)) => p.flags.prec = None,
                    _ => p.buf.push_str("%!(BADPREC)"),
                }
                arg_num += 1;
            } else {
                let (n, next) = parse_num(&chars, i);
                p.flags.prec = Some(n.unwrap_or(0));
                i = next;
            }
        }
        if i >= end {
            p.buf.push_str("%!(NOVERB)");
            break;
        }
        let verb = chars[i];
        i += 1;
        if verb == '%' {
            p.buf.push('%');
            continue;
        }
        match args.get(arg_num) {
            None => {
                p.buf.push_str("%!");
                p.buf.push(verb);
                p.buf.push_str("(MISSING)");
            }
            Some(a) => {
                if verb == 'v' {
                    // Go moves # and + on %v to its Go-syntax and field-name modes.
                    if p.flags.sharp {
                        p.flags.sharp = false;
                        p.flags.sharp_v = true;
                    }
                    if p.flags.plus {
                        p.flags.plus = false;
                        p.flags.plus_v = true;
                    }
                }
                p.print_arg(a, verb);
                arg_num += 1;
            }
        }
    }
    if arg_num < args.len() {
        p.flags = Flags::default();
        p.buf.push_str("%!(EXTRA ");
        for (k, a) in args[arg_num..].iter().enumerate() {
            if k > 0 {
                p.buf.push_str(", ");
            }
            if matches!(a, Value::Nil) {
                p.buf.push_str("<nil>");
            } else {
                p.buf.push_str(&a.go_type());
                p.buf.push('=');
                p.print_arg(a, 'v');
            }
        }
        p.buf.push(')');
    }
    p.buf
}

fn parse_num(chars: &[char], mut i: usize) -> (Option<usize>, usize) {
    let start = i;
    let mut n: usize = 0;
    while i < chars.len() && chars[i].is_ascii_digit() {
        n = n
            .saturating_mul(10)
            .saturating_add(chars[i] as usize - '0' as usize);
        i += 1;
    }
    if i == start { (None, i) } else { (Some(n), i) }
}

#[derive(Default, Clone, Copy)]
struct Flags {
    minus: bool,
    plus: bool,
    sharp: bool,
    /// `%#v`: Go-syntax strings (quoted).
    sharp_v: bool,
    /// `%+v`: the plus flag taken by %v (field names), so not a sign.
    plus_v: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

#[derive(Default)]
struct Printer {
    buf: String,
    flags: Flags,
}

impl Printer {
    fn print_arg(&mut self, v: &Value, verb: char) {
        self.print_value(v, verb);
    }

    fn print_value(&mut self, v: &Value, verb: char) {
        match v {
            Value::Nil => match verb {
                'v' => self.pad("<nil>"),
                _ => self.bad_verb(v, verb),
            },
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad(if *b { "true" } else { "false" }),
                _ => self.bad_verb(v, verb),
            },
            Value::Int(i) => self.fmt_int(*i, verb, v),
            Value::Float(f) => self.fmt_float_verb(*f, verb, v),
            Value::Str(s) | Value::Html(s) => self.fmt_string(s, verb, v),
            Value::Time(t) => match verb {
                'v' | 's' | 'x' | 'X' | 'q' => self.fmt_string(&t.string(), verb, v),
                _ => self.bad_verb(v, verb),
            },
            Value::Duration(ns) => match verb {
                'v' | 's' | 'x' | 'X' | 'q' => {
                    self.fmt_string(&super::go_time::duration_string(*ns), verb, v)
                }
                _ => self.bad_verb(v, verb),
            },
            Value::List(items) if self.flags.sharp_v => {
                self.buf.push_str(&v.go_type());
                self.buf.push('{');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(", ");
                    }
                    self.print_value(item, verb);
                }
                self.buf.push('}');
            }
            Value::List(items) => {
                self.buf.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.buf.push(' ');
                    }
                    self.print_value(item, verb);
                }
                self.buf.push(']');
            }
            Value::Map(m) if self.flags.sharp_v => {
                self.buf.push_str(&v.go_type());
                self.buf.push('{');
                for (i, (k, item)) in m.iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(", ");
                    }
                    self.fmt_string(k, verb, &Value::Str(k.clone()));
                    self.buf.push(':');
                    self.print_value(item, verb);
                }
                self.buf.push('}');
            }
            Value::Map(m) => {
                self.buf.push_str("map[");
                for (i, (k, item)) in m.iter().enumerate() {
                    if i > 0 {
                        self.buf.push(' ');
                    }
                    self.fmt_string(k, verb, &Value::Str(k.clone()));
                    self.buf.push(':');
                    self.print_value(item, verb);
                }
                self.buf.push(']');
            }
            // Go's fmt calls a Stringer's String(); other named types print as their
            // underlying value.
            Value::Object(o) => match o.method("String") {
                Some(m) if m.params.is_empty() && m.variadic.is_none() => {
                    let s = match (m.call)(&o.inner, &[]) {
                        Ok(Value::Str(s)) => s,
                        Ok(other) => sprint_value(&other),
                        Err(e) => format!("%!{verb}(PANIC=String method: {e})"),
                    };
                    self.fmt_string(&s, verb, v)
                }
                _ => self.print_value(&o.inner, verb),
            },
            Value::Struct { type_name, fields } => {
                // Go prints a pointer to a struct as &{...} at the top level (and an address
                // deeper down, which is useless in text: Cairn prints &{...} there too).
                if type_name.starts_with('*') {
                    self.buf.push('&');
                }
                self.buf.push('{');
                for (i, (_, item)) in fields.iter().enumerate() {
                    if i > 0 {
                        self.buf.push(' ');
                    }
                    self.print_value(item, verb);
                }
                self.buf.push('}');
            }
        }
    }

    /// Go's `%!verb(type=value)` for a verb the operand's type does not take.
    fn bad_verb(&mut self, v: &Value, verb: char) {
        // Go prints the operand with %v but keeps the flags, width and precision.
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        if matches!(v, Value::Nil) {
            self.buf.push_str("<nil>");
        } else {
            self.buf.push_str(&v.go_type());
            self.buf.push('=');
            self.print_value(v, 'v');
        }
        self.buf.push(')');
    }

    /// Pads `s` to the width with spaces (or zeros with the `0` flag), left or right.
    fn pad(&mut self, s: &str) {
        let width = self.flags.width.unwrap_or(0);
        let n = s.chars().count();
        if n >= width {
            self.buf.push_str(s);
            return;
        }
        let fill = if self.flags.zero { '0' } else { ' ' };
        if self.flags.minus {
            self.buf.push_str(s);
            self.buf.extend(std::iter::repeat_n(' ', width - n));
        } else {
            self.buf.extend(std::iter::repeat_n(fill, width - n));
            self.buf.push_str(s);
        }
    }

    fn fmt_int(&mut self, i: i64, verb: char, v: &Value) {
        match verb {
            'd' | 'v' => self.fmt_integer(i, 10, false),
            'b' => self.fmt_integer(i, 2, false),
            'o' | 'O' => {
                if verb == 'O' {
                    // %O always carries the 0o prefix.
                    let saved = self.flags.sharp;
                    self.flags.sharp = false;
                    self.fmt_integer_prefixed(i, 8, false, "0o");
                    self.flags.sharp = saved;
                } else {
                    self.fmt_integer(i, 8, false)
                }
            }
            'x' => self.fmt_integer(i, 16, false),
            'X' => self.fmt_integer(i, 16, true),
            'c' => {
                let c = u32::try_from(i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                self.pad(&c.to_string());
            }
            'q' if self.flags.plus => {
                let c = u32::try_from(i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                let q = if c.is_ascii() {
                    go_quote_rune(c)
                } else {
                    go_quote_ascii(&c.to_string()).replace('"', "'")
                };
                self.pad(&q);
            }
            'q' => {
                let c = u32::try_from(i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                self.pad(&go_quote_rune(c));
            }
            'U' => {
                let digits = self.flags.prec.unwrap_or(4).max(4);
                let mut s = format!("U+{:0digits$X}", i);
                if self.flags.sharp
                    && let Some(c) = u32::try_from(i).ok().and_then(char::from_u32)
                    && !c.is_control()
                {
                    s.push_str(&format!(" '{c}'"));
                }
                let saved = self.flags.zero;
                self.flags.zero = false;
                self.pad(&s);
                self.flags.zero = saved;
            }
            _ => self.bad_verb(v, verb),
        }
    }

    fn fmt_integer(&mut self, i: i64, base: u32, upper: bool) {
        let prefix = if self.flags.sharp {
            match base {
                16 if upper => "0X",
                16 => "0x",
                8 => "0",
                2 => "0b",
                _ => "",
            }
        } else {
            ""
        };
        self.fmt_integer_prefixed(i, base, upper, prefix);
    }

    fn fmt_integer_prefixed(&mut self, i: i64, base: u32, upper: bool, prefix: &str) {
        let neg = i < 0;
        let u = i.unsigned_abs();
        let mut digits = match base {
            2 => format!("{u:b}"),
            8 => format!("{u:o}"),
            16 if upper => format!("{u:X}"),
            16 => format!("{u:x}"),
            _ => u.to_string(),
        };
        // Go: precision is the minimum number of digits; %.0d of 0 prints nothing.
        let mut prec = self.flags.prec;
        if prec.is_none()
            && self.flags.zero
            && !self.flags.minus
            && let Some(w) = self.flags.width
        {
            let mut p = w;
            if neg || self.flags.plus || self.flags.space {
                p = p.saturating_sub(1);
            }
            prec = Some(p);
        }
        if let Some(p) = prec {
            if p == 0 && u == 0 {
                // Go writes only the padding: no sign, no prefix.
                let saved = self.flags.zero;
                self.flags.zero = false;
                self.pad("");
                self.flags.zero = saved;
                return;
            }
            while digits.len() < p {
                digits.insert(0, '0');
            }
        }
        // "0" prefix of %#o is not added when the digits already start with 0.
        let prefix = if prefix == "0" && digits.starts_with('0') {
            ""
        } else {
            prefix
        };
        let mut s = String::new();
        if neg {
            s.push('-');
        } else if self.flags.plus {
            s.push('+');
        } else if self.flags.space {
            s.push(' ');
        }
        s.push_str(prefix);
        s.push_str(&digits);
        let saved = self.flags.zero;
        self.flags.zero = false;
        self.pad(&s);
        self.flags.zero = saved;
    }

    fn fmt_float_verb(&mut self, f: f64, verb: char, v: &Value) {
        let prec = self.flags.prec.map_or(-1, |p| p as i32);
        match verb {
            'v' => self.fmt_float(f, 'g', -1),
            'x' | 'X' => self.fmt_float(f, verb, -1),
            'e' | 'E' | 'g' | 'G' => {
                let p = if verb == 'e' || verb == 'E' {
                    self.flags.prec.map_or(6, |p| p as i32)
                } else {
                    prec
                };
                self.fmt_float(f, verb, p)
            }
            'f' | 'F' => self.fmt_float(f, 'f', self.flags.prec.map_or(6, |p| p as i32)),
            _ => self.bad_verb(v, verb),
        }
    }

    /// fmt's fmtFloat: sign handling, NaN/Inf padding with spaces, zero padding after the sign.
    fn fmt_float(&mut self, f: f64, verb: char, prec: i32) {
        let digits = format_float(f, verb, prec);
        let mut num = if digits.starts_with('-') || digits.starts_with('+') {
            digits
        } else {
            format!("+{digits}")
        };
        if self.flags.space && num.starts_with('+') && !self.flags.plus {
            num.replace_range(0..1, " ");
        }
        let body = &num[1..];
        if body.starts_with('I') || body.starts_with('N') {
            let saved = self.flags.zero;
            self.flags.zero = false;
            if body.starts_with('N') && !self.flags.space && !self.flags.plus {
                num = body.to_string();
            }
            self.pad(&num);
            self.flags.zero = saved;
            return;
        }
        if self.flags.plus || !num.starts_with('+') {
            let width = self.flags.width.unwrap_or(0);
            if self.flags.zero && width > num.len() {
                // Sign first, then the zeros.
                self.buf.push_str(&num[..1]);
                let saved = self.flags.width;
                self.flags.width = Some(width - 1);
                self.pad(&num[1..]);
                self.flags.width = saved;
                return;
            }
            self.pad(&num);
            return;
        }
        self.pad(&num[1..]);
    }

    fn fmt_string(&mut self, s: &str, verb: char, v: &Value) {
        match verb {
            'v' if self.flags.sharp_v => {
                let s: String = match self.flags.prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s.to_string(),
                };
                self.pad(&go_quote(&s));
            }
            's' | 'v' => {
                let s: String = match self.flags.prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s.to_string(),
                };
                self.pad(&s);
            }
            'q' => {
                let s: String = match self.flags.prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s.to_string(),
                };
                // %#q backquotes when it can; %+q escapes everything outside ASCII.
                let can_backquote =
                    !s.contains('`') && !s.chars().any(|c| c.is_control() && c != '\t');
                let q = if self.flags.sharp && can_backquote {
                    format!("`{s}`")
                } else if self.flags.plus {
                    go_quote_ascii(&s)
                } else {
                    go_quote(&s)
                };
                self.pad(&q);
            }
            'x' | 'X' => {
                let bytes = s.as_bytes();
                let bytes = match self.flags.prec {
                    Some(p) if p < bytes.len() => &bytes[..p],
                    _ => bytes,
                };
                let mut out = String::new();
                for (i, b) in bytes.iter().enumerate() {
                    if i > 0 && self.flags.space {
                        out.push(' ');
                    }
                    if self.flags.sharp && (i == 0 || self.flags.space) {
                        out.push_str(if verb == 'x' { "0x" } else { "0X" });
                    }
                    if verb == 'x' {
                        out.push_str(&format!("{b:02x}"));
                    } else {
                        out.push_str(&format!("{b:02X}"));
                    }
                }
                self.pad(&out);
            }
            _ => self.bad_verb(v, verb),
        }
    }
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteToASCII`.
fn go_quote_ascii(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if c.is_ascii() {
            push_escaped(&mut out, c, '"');
        } else if (c as u32) < 0x10000 {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push_str(&format!("\\U{:08x}", c as u32));
        }
    }
    out.push('"');
    out
}

fn go_quote_rune(c: char) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    match c {
        c if c == quote || c == '\\' => {
            out.push('\\');
            out.push(c);
        }
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if c.is_control() => {
            if (c as u32) < 0x10000 {
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push_str(&format!("\\U{:08x}", c as u32));
            }
        }
        c => out.push(c),
    }
}

#[cfg(test)]
#[path = "go_fmt_test.rs"]
mod go_fmt_test;
