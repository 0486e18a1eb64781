//! Go's fmt, checked against output of Go 1.19's fmt for the same calls.

use std::collections::BTreeMap;

use super::*;

fn f(v: f64) -> Value {
    Value::Float(v)
}

#[test]
fn floats_print_as_gos_v() {
    let cases = [
        (1e6, "1e+06"),
        (100000.0, "100000"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1e20, "1e+20"),
        (1e21, "1e+21"),
        (123456789.0, "1.23456789e+08"),
        (1.5, "1.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (f64::NAN, "NaN"),
        (0.0, "0"),
        (-0.0, "-0"),
        (3.0, "3"),
        (-2.5, "-2.5"),
    ];
    for (v, want) in cases {
        assert_eq!(sprint_value(&f(v)), want, "{v}");
    }
}

#[test]
fn float_verbs_match_go() {
    // Rows: %g|%.4g|%e|%f|%5.1f|%+.2e|%08.3f|% g, as Go printed them.
    let cases: [(f64, &str); 7] = [
        (
            1e6,
            "1e+06|1e+06|1.000000e+06|1000000.000000|1000000.0|+1.00e+06|1000000.000| 1e+06",
        ),
        (
            100000.0,
            "100000|1e+05|1.000000e+05|100000.000000|100000.0|+1.00e+05|100000.000| 100000",
        ),
        (
            0.0001,
            "0.0001|0.0001|1.000000e-04|0.000100|  0.0|+1.00e-04|0000.000| 0.0001",
        ),
        (
            123456789.0,
            "1.23456789e+08|1.235e+08|1.234568e+08|123456789.000000|123456789.0|+1.23e+08|123456789.000| 1.23456789e+08",
        ),
        (
            1.5,
            "1.5|1.5|1.500000e+00|1.500000|  1.5|+1.50e+00|0001.500| 1.5",
        ),
        (
            f64::INFINITY,
            "+Inf|+Inf|+Inf|+Inf| +Inf|+Inf|    +Inf| Inf",
        ),
        (f64::NAN, "NaN|NaN|NaN|NaN|  NaN|+NaN|     NaN| NaN"),
    ];
    for (v, want) in cases {
        let got = sprintf(
            "%g|%.4g|%e|%f|%5.1f|%+.2e|%08.3f|% g",
            &[f(v), f(v), f(v), f(v), f(v), f(v), f(v), f(v)],
        );
        assert_eq!(got, want, "{v}");
    }
}

#[test]
fn printf_verbs_and_errors_match_go() {
    let got = sprintf(
        "%d|%s|%v|%5d|%-5d|%05d|%x|%X|%q|%t|%%|%d",
        &[
            "x".into(),
            Value::Int(1),
            Value::Nil,
            Value::Int(42),
            Value::Int(42),
            Value::Int(-42),
            "hi".into(),
            Value::Int(255),
            "a\"b\n".into(),
            Value::Bool(true),
        ],
    );
    assert_eq!(
        got,
        r#"%!d(string=x)|%!s(int=1)|<nil>|   42|42   |-0042|6869|FF|"a\"b\n"|true|%|%!d(MISSING)"#
    );
    assert_eq!(sprintf("%d %d", &[Value::Int(1)]), "1 %!d(MISSING)");
    assert_eq!(
        sprintf("%d", &[Value::Int(1), "x".into()]),
        "1%!(EXTRA string=x)"
    );
    let got = sprintf(
        "%.2s|%5.1s|%-4s|%x|% x|%#x|%+d|% d|%.3d|%c|%U|%o|%b",
        &[
            "hello".into(),
            "hello".into(),
            "ab".into(),
            "hi".into(),
            "hi".into(),
            Value::Int(255),
            Value::Int(5),
            Value::Int(5),
            Value::Int(7),
            Value::Int(65),
            Value::Int(65),
            Value::Int(8),
            Value::Int(5),
        ],
    );
    assert_eq!(
        got,
        "he|    h|ab  |6869|68 69|0xff|+5| 5|007|A|U+0041|10|101"
    );
    assert_eq!(
        sprintf("%!|%z|%", &[Value::Int(1)]),
        "%!!(int=1)|%!z(MISSING)|%!(NOVERB)"
    );
    assert_eq!(sprintf("%.2f%%", &[f(12.345)]), "12.35%");
}

#[test]
fn sprint_spacing_and_composites_match_go() {
    let mut m = BTreeMap::new();
    m.insert("b".to_string(), Value::Int(1));
    m.insert("a".to_string(), "x".into());
    let got = sprint(&[
        "a".into(),
        Value::Int(1),
        Value::Int(2),
        "b".into(),
        f(3.5),
        Value::Nil,
        Value::List(vec![Value::Int(1), "a".into(), Value::Nil]),
        Value::Map(m),
    ]);
    assert_eq!(got, "a1 2b3.5 <nil> [1 a <nil>] map[a:x b:1]");
    assert_eq!(
        sprintf(
            "%v %d %s",
            &[
                Value::List(vec![Value::Int(1), Value::Int(2)]),
                Value::List(vec![Value::Int(1), Value::Int(2)]),
                Value::List(vec!["a".into(), Value::Int(1)]),
            ]
        ),
        "[1 2] [1 2] [a %!s(int=1)]"
    );
    assert_eq!(sprintln(&["a".into(), Value::Int(1)]), "a 1\n");
}
