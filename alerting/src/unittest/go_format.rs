//! The Go formatting promtool's messages use, so our output reads the same: `time.Duration`
//! and `model.Duration` strings, `labels.Labels.String()` and `strconv.FormatFloat(v, 'E',
//! -1, 64)`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Go's `time.Duration.String()` of a whole number of milliseconds: `0s`, `500ms`, `5m0s`,
/// `1h0m0s`, `1m30.5s`.
pub(crate) fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms < 1000 {
        return format!("{sign}{ms}ms");
    }
    let (h, m) = (ms / 3_600_000, ms / 60_000 % 60);
    let (s, frac) = (ms / 1000 % 60, ms % 1000);
    let mut out = sign.to_string();
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if h > 0 || m > 0 {
        let _ = write!(out, "{m}m");
    }
    let _ = write!(out, "{s}");
    if frac > 0 {
        let f = format!("{frac:03}");
        let _ = write!(out, ".{}", f.trim_end_matches('0'));
    }
    out.push('s');
    out
}

/// Prometheus' `model.Duration.String()`: `0s`, `5m`, `1d`, `1h30m`, `2w`, `1y`; years and
/// weeks only when they divide exactly.
pub(crate) fn model_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut ms = ms;
    let mut out = String::new();
    let units: [(&str, i64, bool); 7] = [
        ("y", 365 * 86_400_000, true),
        ("w", 7 * 86_400_000, true),
        ("d", 86_400_000, false),
        ("h", 3_600_000, false),
        ("m", 60_000, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ];
    for (unit, mult, exact) in units {
        if exact && ms % mult != 0 {
            continue;
        }
        let v = ms / mult;
        if v > 0 {
            let _ = write!(out, "{v}{unit}");
            ms -= v * mult;
        }
    }
    out
}

/// Prometheus' `labels.Labels.String()`: `{__name__="up", job="a"}`.
pub(crate) fn labels_string(l: &BTreeMap<String, String>) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in l.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{k}={}", go_quote(v));
    }
    out.push('}');
    out
}

/// Go's `strconv.Quote` for the characters label values hold.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`: `1E+00`, `6E+01`, `1.2345E+03`, `NaN`,
/// `+Inf`.
pub(crate) fn go_float_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    // Rust's `{:E}` is the shortest round-trip form too, with a bare exponent (`1.5E3`).
    let s = format!("{v:E}");
    let Some((mant, exp)) = s.split_once('E') else {
        return s;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}E{sign}{:02}", exp.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_format_as_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(500), "500ms");
        assert_eq!(go_duration(5 * 60_000), "5m0s");
        assert_eq!(go_duration(3_600_000), "1h0m0s");
        assert_eq!(go_duration(90_500), "1m30.5s");
        assert_eq!(go_duration(86_400_000), "24h0m0s");
        assert_eq!(model_duration(0), "0s");
        assert_eq!(model_duration(5 * 60_000), "5m");
        assert_eq!(model_duration(86_400_000), "1d");
        assert_eq!(model_duration(90 * 60_000), "1h30m");
        assert_eq!(model_duration(14 * 86_400_000), "2w");
        assert_eq!(model_duration(10 * 86_400_000), "10d");
        assert_eq!(model_duration(179_999), "2m59s999ms");
    }

    #[test]
    fn floats_and_labels_format_as_go() {
        assert_eq!(go_float_e(1.0), "1E+00");
        assert_eq!(go_float_e(0.0), "0E+00");
        assert_eq!(go_float_e(60.0), "6E+01");
        assert_eq!(go_float_e(1234.5), "1.2345E+03");
        assert_eq!(go_float_e(0.001), "1E-03");
        assert_eq!(go_float_e(9_218_880_000.0), "9.21888E+09");
        assert_eq!(go_float_e(f64::NEG_INFINITY), "-Inf");
        let l = BTreeMap::from([
            ("__name__".to_string(), "up".to_string()),
            ("a".to_string(), "x\"y".to_string()),
        ]);
        assert_eq!(labels_string(&l), "{__name__=\"up\", a=\"x\\\"y\"}");
        assert_eq!(labels_string(&BTreeMap::new()), "{}");
    }
}
