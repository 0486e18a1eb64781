//! Query results in Prometheus' JSON, byte for byte as Prometheus' own codec writes them
//! (`web/api/v1/json_codec.go`, `util/jsonutil`): timestamps are seconds with the
//! milliseconds written as three digits when non-zero (`1435781451.781`, `1.500`, `7`),
//! values are strings in Go's shortest float format (`"1.5"`, `"NaN"`, `"+Inf"`, and an
//! exponent only below 1e-6 or from 1e21 on, as `"1e-07"`, `"1e+21"`).
//!
//! ```text
//! {"status":"success","data":{"resultType":"vector","result":[{"metric":{..},"value":[t,"v"]}]},
//!  "warnings":[..],"infos":[..]}        (warnings and infos only when there are some)
//! ```

use std::fmt::Write as _;

use cairn_query::value::{Labels, Sample};
use cairn_query::{QueryResult, QueryValue};

/// The whole success response of `/api/v1/query` and `/api/v1/query_range`.
pub fn render_result(r: &QueryResult) -> String {
    let mut b = String::with_capacity(256);
    b.push_str("{\"status\":\"success\",\"data\":{\"resultType\":\"");
    b.push_str(r.value.type_name());
    b.push_str("\",\"result\":");
    match &r.value {
        QueryValue::Scalar(s) => push_point(&mut b, s),
        QueryValue::String { t, value } => {
            b.push('[');
            push_timestamp(&mut b, *t);
            b.push(',');
            push_string(&mut b, value);
            b.push(']');
        }
        QueryValue::Vector(v) => {
            b.push('[');
            for (i, e) in v.iter().enumerate() {
                if i > 0 {
                    b.push(',');
                }
                b.push_str("{\"metric\":");
                push_labels(&mut b, &e.labels);
                b.push_str(",\"value\":");
                push_point(&mut b, &e.sample);
                b.push('}');
            }
            b.push(']');
        }
        QueryValue::Matrix(m) => {
            b.push('[');
            for (i, s) in m.iter().enumerate() {
                if i > 0 {
                    b.push(',');
                }
                b.push_str("{\"metric\":");
                push_labels(&mut b, &s.labels);
                b.push_str(",\"values\":[");
                for (j, p) in s.samples.iter().enumerate() {
                    if j > 0 {
                        b.push(',');
                    }
                    push_point(&mut b, p);
                }
                b.push_str("]}");
            }
            b.push(']');
        }
    }
    push_tier_stats(&mut b, r);
    b.push('}');
    push_annotations(&mut b, "warnings", &r.warnings);
    push_annotations(&mut b, "infos", &r.infos);
    b.push('}');
    b
}

/// `,"stats":{"resolution":["5m","raw"],"approximate":false}` inside `data` when a rollup
/// tier was read (Prometheus has no such thing, so a raw answer leaves it out and stays
/// byte for byte Prometheus' own).
fn push_tier_stats(b: &mut String, r: &QueryResult) {
    let s = &r.stats;
    if s.tiers.iter().all(|t| *t == cairn_model::Tier::Raw) {
        return;
    }
    b.push_str(",\"stats\":{\"resolution\":[");
    for (i, name) in s.tier_names().iter().enumerate() {
        if i > 0 {
            b.push(',');
        }
        let _ = write!(b, "\"{name}\"");
    }
    let _ = write!(b, "],\"approximate\":{}}}", s.approximate);
}

fn push_annotations(b: &mut String, key: &str, list: &[String]) {
    if list.is_empty() {
        return;
    }
    let _ = write!(b, ",\"{key}\":[");
    for (i, w) in list.iter().enumerate() {
        if i > 0 {
            b.push(',');
        }
        push_string(b, w);
    }
    b.push(']');
}

/// `[t,"v"]`
fn push_point(b: &mut String, s: &Sample) {
    b.push('[');
    push_timestamp(b, s.t);
    b.push_str(",\"");
    push_value(b, s.v);
    b.push_str("\"]");
}

/// Milliseconds as JSON seconds, Prometheus' `MarshalTimestamp`.
pub fn push_timestamp(b: &mut String, ms: i64) {
    if ms < 0 {
        b.push('-');
    }
    let abs = ms.unsigned_abs();
    b.push_str(itoa::Buffer::new().format(abs / 1000));
    let frac = (abs % 1000) as u16;
    if frac != 0 {
        b.push('.');
        for d in [frac / 100, frac / 10 % 10, frac % 10] {
            b.push((b'0' + d as u8) as char);
        }
    }
}

/// A sample value as Prometheus writes it (without the quotes).
pub fn push_value(b: &mut String, v: f64) {
    if v.is_nan() {
        b.push_str("NaN");
    } else if v == f64::INFINITY {
        b.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        b.push_str("-Inf");
    } else if v != 0.0 && (v.abs() < 1e-6 || v.abs() >= 1e21) {
        // Go's 'e' format: shortest mantissa, exponent with a sign and at least two digits.
        let e = format!("{v:e}");
        let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        let _ = write!(b, "{mantissa}e{sign}{:02}", exp.unsigned_abs());
    } else if v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
        // Whole numbers below 2^53 (counters, gauges of counts): exact as integers.
        if v == 0.0 && v.is_sign_negative() {
            b.push('-');
        }
        b.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        // Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest decimal that parses back to
        // `v`, never an exponent. ryu finds the same digits faster than core's formatter but
        // writes an exponent outside [1e-5, 1e16); Rust's Display covers those.
        let mut buf = ryu::Buffer::new();
        let s = buf.format_finite(v);
        if s.contains('e') {
            let _ = write!(b, "{v}");
        } else {
            b.push_str(s.strip_suffix(".0").unwrap_or(s));
        }
    }
}

/// `{"__name__":"up","job":"api"}`, in the labels' (sorted) order.
pub fn push_labels(b: &mut String, labels: &Labels) {
    b.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            b.push(',');
        }
        push_string(b, &l.name);
        b.push(':');
        push_string(b, &l.value);
    }
    b.push('}');
}

/// A JSON string escaped as Go's encoding/json does (HTML characters and U+2028/9 included).
pub fn push_string(b: &mut String, s: &str) {
    b.push('"');
    for c in s.chars() {
        match c {
            '"' => b.push_str("\\\""),
            '\\' => b.push_str("\\\\"),
            '\n' => b.push_str("\\n"),
            '\r' => b.push_str("\\r"),
            '\t' => b.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(b, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(b, "\\u{:04x}", c as u32);
            }
            c => b.push(c),
        }
    }
    b.push('"');
}

#[cfg(test)]
mod tests {
    use cairn_query::value::Series;

    /// A value as the JSON writes it (without the quotes).
    fn format_value(v: f64) -> String {
        let mut s = String::new();
        push_value(&mut s, v);
        s
    }
    use cairn_query::{QueryStats, VectorElement};
    use serde_json::Value;

    use super::*;

    fn result(value: QueryValue) -> QueryResult {
        QueryResult {
            value,
            warnings: vec![],
            infos: vec![],
            stats: QueryStats::default(),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn timestamps_are_seconds_with_milliseconds_as_prometheus_writes_them() {
        let ts = |ms| {
            let mut b = String::new();
            push_timestamp(&mut b, ms);
            b
        };
        assert_eq!(ts(1_435_781_451_781), "1435781451.781");
        assert_eq!(ts(1_435_781_451_000), "1435781451");
        assert_eq!(ts(1_500), "1.500");
        assert_eq!(ts(1_005), "1.005");
        assert_eq!(ts(0), "0");
        assert_eq!(ts(-1_500), "-1.500");
        assert_eq!(ts(-5), "-0.005");
    }

    #[test]
    fn values_are_go_shortest_floats() {
        let cases: &[(f64, &str)] = &[
            (1.5, "1.5"),
            (1.0, "1"),
            (0.0, "0"),
            (-0.0, "-0"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"),
            (123_456_789.0, "123456789"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (0.000001, "0.000001"),
            (1e-7, "1e-07"),
            (-2.5e-10, "-2.5e-10"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (12_345_678_901_234_567.0, "12345678901234568"),
            (0.000_012_34, "0.00001234"),
            (99.99, "99.99"),
            (-42.0, "-42"),
            (2.5e15, "2500000000000000"),
        ];
        for (v, want) in cases {
            assert_eq!(format_value(*v), *want, "{v:?}");
        }
        // The fast paths give shortest decimals that parse back exactly, as long as Rust's own
        // shortest Display (a tie between two shortest candidates may round either way: ryu,
        // like Go's formatter, rounds half to even).
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if v.is_finite() && v != 0.0 && v.abs() >= 1e-6 && v.abs() < 1e21 {
                let got = format_value(v);
                assert_eq!(got.parse::<f64>().unwrap(), v, "{v:e}");
                assert_eq!(got.len(), format!("{v}").len(), "{v:e}");
                assert!(!got.contains('e'), "{v:e}");
            }
            let w = (x % 1_000_000) as f64 / 100.0;
            assert_eq!(format_value(w), format!("{w}"));
        }
    }

    #[test]
    fn strings_escape_like_go() {
        let mut b = String::new();
        push_string(&mut b, "a\"b\\c\n<x>&\u{1}é");
        assert_eq!(b, r#""a\"b\\c\n\u003cx\u003e\u0026\u0001é""#);
        let v: Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v, "a\"b\\c\n<x>&\u{1}é");
    }

    #[test]
    fn vector_matrix_scalar_and_string_have_prometheus_shapes() {
        let v = result(QueryValue::Vector(vec![VectorElement {
            labels: labels(&[("__name__", "up"), ("job", "api")]),
            sample: Sample::new(1_700_000_000_123, 1.5),
        }]));
        assert_eq!(
            render_result(&v),
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"api"},"value":[1700000000.123,"1.5"]}]}}"#
        );
        let mut m = result(QueryValue::Matrix(vec![Series::new(
            labels(&[("job", "api")]),
            vec![Sample::new(1000, 1.0), Sample::new(2000, f64::NAN)],
        )]));
        m.warnings.push("PromQL warning: x".into());
        assert_eq!(
            render_result(&m),
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"api"},"values":[[1,"1"],[2,"NaN"]]}]},"warnings":["PromQL warning: x"]}"#
        );
        let s = result(QueryValue::Scalar(Sample::new(1000, 2.0)));
        assert_eq!(
            render_result(&s),
            r#"{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}"#
        );
        let mut st = result(QueryValue::String {
            t: 1000,
            value: "hi".into(),
        });
        st.infos.push("i".into());
        assert_eq!(
            render_result(&st),
            r#"{"status":"success","data":{"resultType":"string","result":[1,"hi"]},"infos":["i"]}"#
        );
        let empty = result(QueryValue::Vector(vec![]));
        let v: Value = serde_json::from_str(&render_result(&empty)).unwrap();
        assert_eq!(v["data"]["result"], Value::Array(vec![]));
    }

    #[test]
    fn a_rollup_read_names_its_tiers_in_data_stats_and_a_raw_one_does_not() {
        let mut r = result(QueryValue::Vector(vec![]));
        r.stats.tiers = vec![cairn_model::Tier::Raw];
        assert!(!render_result(&r).contains("stats"));
        r.stats.tiers = vec![cairn_model::Tier::Raw, cairn_model::Tier::Rollup5m];
        r.stats.approximate = true;
        let v: Value = serde_json::from_str(&render_result(&r)).unwrap();
        assert_eq!(
            v["data"]["stats"],
            serde_json::json!({"resolution": ["raw", "5m"], "approximate": true})
        );
    }
}
