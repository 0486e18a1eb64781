//! Prometheus' functions and the alert expander. The table's expected texts are what
//! Prometheus' function set printed under Go's text/template (Go 1.19) for the same alert
//! data and a querier returning the same two samples; the list cases are those of
//! Prometheus' own template_test.go.

use std::collections::BTreeMap;

use super::*;
use crate::template::{Template, Value};

struct FakeQuerier;

impl TemplateQuerier for FakeQuerier {
    fn query(&self, expr: &str) -> Result<Vec<QuerySample>, String> {
        let sample = |inst: &str, job: &str, value: f64| QuerySample {
            labels: BTreeMap::from([
                ("__name__".to_string(), "up".to_string()),
                ("instance".to_string(), inst.to_string()),
                ("job".to_string(), job.to_string()),
            ]),
            value,
        };
        match expr {
            "fail" => Err("bad query".to_string()),
            "empty" => Ok(vec![]),
            _ => Ok(vec![sample("b:9090", "x", 1.0), sample("a:9090", "y", 0.5)]),
        }
    }

    fn eval_time(&self) -> Option<f64> {
        Some(1_700_000_000.5)
    }
}

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("instance".to_string(), "localhost:9090".to_string()),
        ("job".to_string(), "prometheus".to_string()),
        ("severity".to_string(), "page".to_string()),
    ])
}

fn expand(text: &str) -> Result<String, String> {
    let labels = labels();
    let ext = BTreeMap::from([("cluster".to_string(), "eu1".to_string())]);
    let data = AlertTemplateData {
        labels: &labels,
        external_labels: &ext,
        external_url: "http://example.com:9090/prom",
        value: 1234.5678,
    };
    expand_alert_text("__alert_Test", text, &data, Some(&FakeQuerier)).map_err(|e| e.message)
}

/// (annotation template, Prometheus' expansion or its error).
const GO_CASES: &[(&str, Result<&str, &str>)] = &[
    (
        r"{{ $labels.instance }} of job {{ $labels.job }} has been down for more than 5 minutes.",
        Ok(r"localhost:9090 of job prometheus has been down for more than 5 minutes."),
    ),
    (
        r"{{ $value }} {{ .Value }} {{ $externalLabels.cluster }} {{ $externalURL }} {{ $labels.missing }}|",
        Ok(r"1234.5678 1234.5678 eu1 http://example.com:9090/prom |"),
    ),
    (
        r#"{{ humanize $value }} {{ humanize 0 }} {{ humanize 1e6 }} {{ humanize 0.00123 }} {{ humanize "1234" }} {{ humanize -12345 }} {{ humanize 1e30 }} {{ humanize 1e-30 }}"#,
        Ok(r"1.235k 0 1M 1.23m 1.234k -12.35k 1e+06Y 1e-06y"),
    ),
    (
        r#"{{ humanize "abc" }}"#,
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <humanize "abc">: error calling humanize: strconv.ParseFloat: parsing "abc": invalid syntax"#,
        ),
    ),
    (
        r"{{ humanize true }}",
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <humanize true>: error calling humanize: can't convert bool to float"#,
        ),
    ),
    (
        r"{{ humanize nil }}",
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <humanize nil>: error calling humanize: can't convert <nil> to float"#,
        ),
    ),
    (
        r#"{{ humanize "1e400" }}"#,
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <humanize "1e400">: error calling humanize: strconv.ParseFloat: parsing "1e400": value out of range"#,
        ),
    ),
    (
        r#"{{ humanize "" }}"#,
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <humanize "">: error calling humanize: strconv.ParseFloat: parsing "": invalid syntax"#,
        ),
    ),
    (
        r#"{{ humanize1024 1024 }} {{ humanize1024 1048576.5 }} {{ humanize1024 0.5 }} {{ humanize1024 -2048 }} {{ humanize1024 "4096" }}"#,
        Ok(r"1ki 1Mi 0.5 -2ki 4ki"),
    ),
    (
        r"{{ humanizeDuration 90 }} {{ humanizeDuration 0.5 }} {{ humanizeDuration 0 }} {{ humanizeDuration 3601 }} {{ humanizeDuration 86400.5 }} {{ humanizeDuration -90 }} {{ humanizeDuration 1.5 }} {{ humanizeDuration 0.000001234 }} {{ humanizeDuration -0.5 }}",
        Ok(r"1m 30s 500ms 0s 1h 0m 1s 1d 0h 0m 0s -1m 30s 1.5s 1.234us -500ms"),
    ),
    (
        r#"{{ humanizeDuration "x" }}"#,
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <humanizeDuration "x">: error calling humanizeDuration: strconv.ParseFloat: parsing "x": invalid syntax"#,
        ),
    ),
    (
        r#"{{ humanizePercentage 0.1234 }} {{ humanizePercentage 1 }} {{ humanizePercentage "0.5" }} {{ -0.22222 | humanizePercentage }}"#,
        Ok(r"12.34% 100% 50% -22.22%"),
    ),
    (
        r#"{{ "one" | humanizePercentage }}"#,
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:123: executing "__alert_Test" at <humanizePercentage>: error calling humanizePercentage: strconv.ParseFloat: parsing "one": invalid syntax"#,
        ),
    ),
    (
        r#"{{ humanizeTimestamp 1435065584.128 }} {{ humanizeTimestamp 0 }} {{ humanizeTimestamp "1435065584" }} {{ humanizeTimestamp -1 }} {{ humanizeTimestamp 9223372036 }}"#,
        Ok(
            r"2015-06-23 13:19:44.128 +0000 UTC 1970-01-01 00:00:00 +0000 UTC 2015-06-23 13:19:44 +0000 UTC 1969-12-31 23:59:59 +0000 UTC 2262-04-11 23:47:16 +0000 UTC",
        ),
    ),
    (
        r"{{ humanizeTimestamp 1e300 }}",
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <humanizeTimestamp 1e300>: error calling humanizeTimestamp: 1e+300 cannot be represented as a nanoseconds timestamp since it overflows int64"#,
        ),
    ),
    (
        r#"{{ humanizeTimestamp "NaN" }} {{ humanize "Inf" }} {{ humanize "-inf" }} {{ humanizeDuration "+Inf" }} {{ humanize1024 "NaN" }}"#,
        Ok(r"NaN +Inf -Inf +Inf NaN"),
    ),
    (
        r#"{{ toTime 1435065584.128 }} {{ (toTime 1435065584.128).Unix }} {{ (toTime "0.001").UnixMilli }}"#,
        Ok(r"2015-06-23 13:19:44.128 +0000 UTC 1435065584 1"),
    ),
    (
        r#"{{ toTime "x" }}"#,
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <toTime "x">: error calling toTime: strconv.ParseFloat: parsing "x": invalid syntax"#,
        ),
    ),
    (
        r#"{{ toTime "NaN" }}"#,
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <toTime "NaN">: error calling toTime: value is NaN or Inf"#,
        ),
    ),
    (
        r#"{{ range $i, $e := query "up" }}{{ $i }}:{{ $e.Labels.instance }}={{ $e.Value }} {{ end }}"#,
        Ok(r"0:b:9090=1 1:a:9090=0.5 "),
    ),
    (
        r#"{{ with query "up" }}{{ . | first | value }}{{ end }} {{ query "up" | first | label "instance" }} {{ query "up" | first | label "nope" }}|"#,
        Ok(r"1 b:9090 |"),
    ),
    (
        r#"{{ with query "empty" }}x{{ else }}none{{ end }}"#,
        Ok(r"none"),
    ),
    (
        r#"{{ query "empty" | first }}"#,
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:131: executing "__alert_Test" at <first>: error calling first: first() called on vector with no elements"#,
        ),
    ),
    (
        r#"{{ query "fail" }}"#,
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <query "fail">: error calling query: bad query"#,
        ),
    ),
    (
        r#"{{ range query "up" | sortByLabel "instance" }}{{ .Labels.instance }} {{ end }}"#,
        Ok(r"a:9090 b:9090 "),
    ),
    (
        r#"{{ len (query "up") }} {{ (query "up" | first).Labels.job }} {{ value (first (query "up")) | printf "%.3f" }}"#,
        Ok(r"2 x 1.000"),
    ),
    (r#"{{ strvalue (query "up" | first) }}|"#, Ok(r"|")),
    (
        r#"{{ query "up" | first }}"#,
        Ok(r"{map[__name__:up instance:b:9090 job:x] 1}"),
    ),
    (
        r#"{{ label "x" nil }}"#,
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <label "x" nil>: error calling label: runtime error: invalid memory address or nil pointer dereference"#,
        ),
    ),
    (
        r"{{ value nil }}",
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <value nil>: error calling value: runtime error: invalid memory address or nil pointer dereference"#,
        ),
    ),
    (
        r"{{ first nil }}",
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <first nil>: error calling first: first() called on vector with no elements"#,
        ),
    ),
    (
        r#"{{ first "x" }}"#,
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:121: executing "__alert_Test" at <"x">: can't handle "x" for arg of type template.queryResult"#,
        ),
    ),
    (
        r#"{{ define "x" }}{{.arg0}} {{.arg1}}{{ end }}{{ template "x" (args 1 "2") }}"#,
        Ok(r"1 2"),
    ),
    (
        r#"{{ range $i, $e := args 1 "a" 2.5 }}{{ $i }}{{ $e }}{{ end }} {{ (args 1 2).arg7 }}"#,
        Ok(r"arg01arg1aarg22.5 <no value>"),
    ),
    (
        r#"{{ reReplaceAll "localhost:(.*)" "host-$1" $labels.instance }} {{ reReplaceAll "(a)b" "x$1" "ab" }} {{ reReplaceAll "a" "${0}${0}" "banana" }}"#,
        Ok(r"host-9090 xa baanaanaa"),
    ),
    (
        r#"{{ reReplaceAll "(" "x" "y" }}"#,
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <reReplaceAll "(" "x" "y">: error calling reReplaceAll: regexp: Compile(`(`): error parsing regexp: missing closing ): `(`"#,
        ),
    ),
    (
        r#"{{ match "^local" $labels.instance }} {{ match "a+" "aa" }} {{ match "a+" "b" }}"#,
        Ok(r"true true false"),
    ),
    (
        r#"{{ match "(" "x" }}"#,
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <match "(" "x">: error calling match: error parsing regexp: missing closing ): `(`"#,
        ),
    ),
    (
        r#"{{ toUpper "abc" }} {{ toLower "ABC" }} {{ title "aa bb CC" }} {{ title "hello-world foo_bar" }}"#,
        Ok(r"ABC abc Aa Bb CC Hello-World Foo_bar"),
    ),
    (
        r#"{{ graphLink "up{a=\"b\"}" }} {{ tableLink "rate(x[5m])" }} {{ graphLink "up" }} {{ pathPrefix }} {{ externalURL }}"#,
        Ok(
            r"/graph?g0.expr=up%7Ba%3D%22b%22%7D&g0.tab=0 /graph?g0.expr=rate%28x%5B5m%5D%29&g0.tab=1 /graph?g0.expr=up&g0.tab=0 /prom http://example.com:9090/prom",
        ),
    ),
    (
        r#"{{ stripPort "foo.example.com" }} {{ stripPort "foo.example.com:12345" }} {{ stripPort "192.0.2.1" }} {{ stripPort "192.0.2.1:12345" }} {{ stripPort "2001:0DB8::1" }} {{ stripPort "[2001:0DB8::1]:12345" }} {{ stripPort "[2001:0DB8::1]::12345" }}"#,
        Ok(
            r"foo.example.com foo.example.com 192.0.2.1 192.0.2.1 2001:0DB8::1 2001:0DB8::1 [2001:0DB8::1]::12345",
        ),
    ),
    (
        r#"{{ stripDomain "foo.example.com" }} {{ stripDomain "foo.example.com:12345" }} {{ stripDomain "192.0.2.1" }} {{ stripDomain "192.0.2.1:12345" }} {{ stripDomain "2001:0DB8::1" }} {{ stripDomain "[2001:0DB8::1]:12345" }} {{ stripDomain "[2001:0DB8::1]::12345" }}"#,
        Ok(
            r"foo foo:12345 192.0.2.1 192.0.2.1:12345 2001:0DB8::1 [2001:0DB8::1]:12345 [2001:0DB8::1]::12345",
        ),
    ),
    (
        r#"{{ safeHtml "<b>" }} {{ safeHtml "ab" | len }} {{ printf "%s" (safeHtml "<x>") }} {{ urlQueryEscape "a b&c" }}"#,
        Ok(r"<b> 2 <x> a+b%26c"),
    ),
    (
        r"{{ toUpper 1 }}",
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:123: executing "__alert_Test" at <1>: expected string; found 1"#,
        ),
    ),
    (
        r"{{ toUpper $value }}",
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:123: executing "__alert_Test" at <$value>: wrong type for value; expected string; got float64"#,
        ),
    ),
    (
        r"{{ humanize }}",
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <humanize>: wrong number of args for humanize: want 1 got 0"#,
        ),
    ),
    (
        r"{{ humanize 1 2 }}",
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <humanize>: wrong number of args for humanize: want 1 got 2"#,
        ),
    ),
    (
        r"{{ now }} {{ now | humanizeTimestamp }}",
        Ok(r"1.7000000005e+09 2023-11-14 22:13:20.5 +0000 UTC"),
    ),
    (
        r"{{ if gt $value 1000.0 }}big{{ else }}small{{ end }}",
        Ok(r"big"),
    ),
    (
        r"{{ if gt $value 1000 }}big{{ end }}",
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:118: executing "__alert_Test" at <gt $value 1000>: error calling gt: incompatible types for comparison"#,
        ),
    ),
    (
        r#"{{ printf "%.2f" $value }} {{ $value | printf "%.1f" }} {{ printf "%d" $value }}"#,
        Ok(r"1234.57 1234.6 %!d(float64=1234.5678)"),
    ),
    (
        r"{{ .Labels.instance 1 }}",
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:122: executing "__alert_Test" at <.Labels.instance>: instance is not a method but has arguments"#,
        ),
    ),
    (
        r"{{ .Lables.instance }}",
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:122: executing "__alert_Test" at <.Lables.instance>: can't evaluate field Lables in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }"#,
        ),
    ),
    (
        r"Instance {{ $label.foo }} down",
        Err(
            r#"error parsing template __alert_Test: template: __alert_Test:1: undefined variable "$label""#,
        ),
    ),
    (
        r"{{ nosuch 1 }}",
        Err(
            r#"error parsing template __alert_Test: template: __alert_Test:1: function "nosuch" not defined"#,
        ),
    ),
    (
        r#"{{ (1435065584.128 | toTime).Format "2006" }} {{ ("1435065584.128" | toTime).Format "2006-01-02T15:04:05.000Z07:00" }}"#,
        Ok(r"2015 2015-06-23T13:19:44.128Z"),
    ),
    (
        r#"{{ (1800 | toDuration).String }} {{ ("1800" | toDuration).String }} {{ 1800 | toDuration }} {{ 0.0015 | toDuration }} {{ -5400.5 | toDuration }}"#,
        Ok(r"30m0s 30m0s 30m0s 1.5ms -1h30m0.5s"),
    ),
    (
        r#"{{ (now | toTime).Format "Mon Jan 2 15:04:05 2006" }}"#,
        Ok(r"Tue Nov 14 22:13:20 2023"),
    ),
    (
        r#"{{ ("-30m" | toDuration) }}"#,
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:125: executing "__alert_Test" at <toDuration>: error calling toDuration: strconv.ParseFloat: parsing "-30m": invalid syntax"#,
        ),
    ),
    (
        r"{{ (toTime 1435065584.128).Add (toDuration 3600) }}",
        Ok(r"2015-06-23 14:19:44.128 +0000 UTC"),
    ),
    (
        r"{{ ((toTime 1435065584.128).Sub (toTime 1435065000)).String }} {{ ((toTime 10).Sub (toTime 1)).Seconds }}",
        Ok(r"9m44.128s 9"),
    ),
    (
        r"{{ $t := toTime 1435065584.128 }}{{ $t.Year }} {{ $t.Month }} {{ $t.Day }} {{ $t.Hour }}:{{ $t.Minute }}:{{ $t.Second }} {{ $t.Weekday }} {{ $t.YearDay }} {{ $t.Unix }} {{ $t.UnixMilli }} {{ $t.UTC }}",
        Ok(
            r"2015 June 23 13:19:44 Tuesday 174 1435065584 1435065584128 2015-06-23 13:19:44.128 +0000 UTC",
        ),
    ),
    (
        r"{{ (toTime 1435065584.128).Format }}",
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:123: executing "__alert_Test" at <1435065584.128>: wrong number of args for Format: want 1 got 0"#,
        ),
    ),
    (
        r"{{ (toTime 1435065584.128).Format 1 }}",
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:146: executing "__alert_Test" at <1>: expected string; found 1"#,
        ),
    ),
    (
        r"{{ (toTime 1435065584.128).Nope }}",
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:123: executing "__alert_Test" at <1435065584.128>: can't evaluate field Nope in type *time.Time"#,
        ),
    ),
    (
        r#"{{ (toTime 0).Format "Monday, 02-Jan-06 03:04:05.999999 PM MST -0700 Z07:00 _2 002" }}"#,
        Ok(r"Thursday, 01-Jan-70 12:00:00 AM UTC +0000 Z  1 001"),
    ),
    (
        r#"{{ (toTime 1435065584).Format "15:04:05.999 .000 ,000" }}"#,
        Ok(r"13:19:44 .000 ,000"),
    ),
    (
        r"{{ (toDuration 90).Minutes }} {{ (toDuration 90).Hours }} {{ (toDuration 1.5).Milliseconds }}",
        Ok(r"1.5 0.025 1500"),
    ),
    (
        r#"{{ printf "%v %s" (toTime 0) (toDuration 61) }}"#,
        Ok(r"1970-01-01 00:00:00 +0000 UTC 1m1s"),
    ),
    (
        r"{{ (toTime 1435065584.128).Add 1000000000 }}",
        Ok(r"2015-06-23 13:19:45.128 +0000 UTC"),
    ),
    (r"{{ if toDuration 0 }}t{{ end }}", Ok(r"t")),
    (
        r"{{ humanizeDuration (toDuration 5) }}",
        Err(
            r#"error executing template __alert_Test: template: __alert_Test:1:115: executing "__alert_Test" at <humanizeDuration (toDuration 5)>: error calling humanizeDuration: can't convert *time.Duration to float"#,
        ),
    ),
];

#[test]
fn alert_texts_expand_as_prometheus_expands_them() {
    let mut failures = Vec::new();
    for (text, want) in GO_CASES {
        let got = expand(text);
        let want = want.map(str::to_string).map_err(str::to_string);
        if got != want {
            failures.push(format!("{text:?}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        GO_CASES.len(),
        failures.join("\n")
    );
}

/// Runs `text` with `data` as dot and Prometheus' functions, as Prometheus' template tests do.
fn run_with(text: &str, data: Value) -> Result<String, String> {
    let funcs = PrometheusFunctions {
        querier: None,
        external_url: "http://testhost:9090/path/prefix".to_string(),
    };
    Template::parse("test", text, &funcs)
        .and_then(|t| t.execute("test", &data, &funcs))
        .map_err(|e| e.message)
}

fn floats(v: &[f64]) -> Value {
    Value::List(v.iter().map(|f| Value::Float(*f)).collect())
}

fn strings(v: &[&str]) -> Value {
    Value::List(v.iter().map(|s| Value::from(*s)).collect())
}

fn ints(v: &[i64]) -> Value {
    Value::List(v.iter().map(|i| Value::Int(*i)).collect())
}

#[test]
fn prometheus_template_test_cases() {
    let h = "{{ range . }}{{ humanize . }}:{{ end }}";
    assert_eq!(
        run_with(h, floats(&[0.0, 1.0, 1234567.0, 0.12])).unwrap(),
        "0:1:1.235M:120m:"
    );
    assert_eq!(
        run_with(h, strings(&["0.0", "1.0", "1234567.0", ".12"])).unwrap(),
        "0:1:1.235M:120m:"
    );
    assert_eq!(
        run_with(h, ints(&[0, -1, 1, 1234567, i64::MAX])).unwrap(),
        "0:-1:1:1.235M:9.223E:"
    );
    let h = "{{ range . }}{{ humanize1024 . }}:{{ end }}";
    assert_eq!(
        run_with(h, floats(&[0.0, 1.0, 1048576.0, 0.12])).unwrap(),
        "0:1:1Mi:0.12:"
    );
    assert_eq!(
        run_with(h, ints(&[0, -1, 1, 1234567, i64::MAX])).unwrap(),
        "0:-1:1:1.177Mi:8Ei:"
    );
    let h = "{{ range . }}{{ humanizeDuration . }}:{{ end }}";
    assert_eq!(
        run_with(
            h,
            floats(&[
                0.0,
                1.0,
                60.0,
                3600.0,
                86400.0,
                86400.0 + 3600.0,
                -(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0),
                899.99
            ])
        )
        .unwrap(),
        "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:"
    );
    assert_eq!(
        run_with(
            h,
            floats(&[0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345])
        )
        .unwrap(),
        "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"
    );
    assert_eq!(
        run_with(
            h,
            strings(&[".1", ".0001", ".12345", "60.1", "60.5", "1.2345", "12.345"])
        )
        .unwrap(),
        "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"
    );
    assert_eq!(
        run_with(h, ints(&[0, -1, 1, 1234567])).unwrap(),
        "0s:-1s:1s:14d 6h 56m 7s:"
    );
    let all = "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}";
    let want = "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:";
    assert_eq!(
        run_with(all, floats(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN])).unwrap(),
        want
    );
    assert_eq!(
        run_with(all, strings(&["+Inf", "-Inf", "NaN"])).unwrap(),
        want
    );
    assert_eq!(
        run_with(
            "{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}",
            Value::Nil
        )
        .unwrap(),
        "-22.22%:0%:12.35%:123.5%"
    );
    assert_eq!(
        run_with(
            "{{ range . }}{{ humanizePercentage . }}:{{ end }}",
            ints(&[0, -1, 1, 1234567, i64::MAX])
        )
        .unwrap(),
        "0%:-100%:100%:1.235e+08%:9.223e+20%:"
    );
    assert_eq!(
        run_with(
            "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
            ints(&[0, -1, 1, 1234567, 9223372036])
        )
        .unwrap(),
        "1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:"
    );
    assert_eq!(
        run_with(
            "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
            ints(&[i64::MIN, i64::MAX])
        )
        .unwrap_err(),
        r#"template: test:1:16: executing "test" at <humanizeTimestamp .>: error calling humanizeTimestamp: -9.223372036854776e+18 cannot be represented as a nanoseconds timestamp since it overflows int64"#
    );
    assert_eq!(
        run_with(r#"{{ humanize "one" }}"#, Value::Nil).unwrap_err(),
        r#"template: test:1:3: executing "test" at <humanize "one">: error calling humanize: strconv.ParseFloat: parsing "one": invalid syntax"#
    );
    assert_eq!(
        run_with(r#"{{ "one" | humanizePercentage }}"#, Value::Nil).unwrap_err(),
        r#"template: test:1:11: executing "test" at <humanizePercentage>: error calling humanizePercentage: strconv.ParseFloat: parsing "one": invalid syntax"#
    );
    assert_eq!(run_with("{{ .Foo }}", Value::Nil).unwrap(), "<no value>");
    assert_eq!(
        run_with("{{", Value::Nil).unwrap_err(),
        "template: test:1: unclosed action"
    );
    assert_eq!(
        run_with("{{\u{a0}}}", Value::Nil).unwrap_err(),
        "template: test:1: unrecognized character in action: U+00A0"
    );
    assert_eq!(
        run_with(
            r#"{{ printf "%0.2f" (parseDuration "1h2m10ms") }}"#,
            Value::Nil
        )
        .unwrap(),
        "3720.01"
    );
    assert_eq!(
        run_with(
            r#"{{ printf "%0.2f" (parseDuration "-1h2m10ms") }}"#,
            Value::Nil
        )
        .unwrap(),
        "-3720.01"
    );
    assert_eq!(
        run_with("{{ pathPrefix }} {{ externalURL }}", Value::Nil).unwrap(),
        "/path/prefix http://testhost:9090/path/prefix"
    );
    assert_eq!(
        run_with(r#"{{ "aa bb CC" | title }}"#, Value::Nil).unwrap(),
        "Aa Bb CC"
    );
}

#[test]
fn parse_duration_is_prometheus() {
    assert_eq!(parse_duration("1h2m10ms"), Ok(3720.01));
    assert_eq!(parse_duration("0"), Ok(0.0));
    assert_eq!(parse_duration("1y"), Ok(31_536_000.0));
    assert_eq!(parse_duration("-90s"), Ok(-90.0));
    assert_eq!(parse_duration(""), Err("empty duration string".to_string()));
    assert_eq!(
        parse_duration("1m1h"),
        Err(r#"not a valid duration string: "1m1h""#.to_string())
    );
    assert_eq!(
        parse_duration("5x"),
        Err(r#"unknown unit "x" in duration "5x""#.to_string())
    );
    assert_eq!(
        parse_duration("1.5h"),
        Err(r#"unknown unit "." in duration "1.5h""#.to_string())
    );
    assert_eq!(
        parse_duration("300y"),
        Err("duration out of range".to_string())
    );
}

#[test]
fn host_port_splitting_is_gos() {
    assert_eq!(
        split_host_port("a:1"),
        Some(("a".to_string(), "1".to_string()))
    );
    assert_eq!(
        split_host_port("[::1]:80"),
        Some(("::1".to_string(), "80".to_string()))
    );
    assert_eq!(
        split_host_port("a:"),
        Some(("a".to_string(), String::new()))
    );
    assert_eq!(split_host_port("a"), None);
    assert_eq!(split_host_port("::1"), None);
    assert_eq!(split_host_port("[::1]::80"), None);
}

/// The conformance rule files' annotations render as promtool's unit test expects.
#[test]
fn conformance_rule_annotations_render_as_promtool_expects() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance/rules");
    let rules = std::fs::read_to_string(format!("{dir}/rules.yml")).unwrap();
    let annotation = |key: &str| {
        let line = rules
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key}:")))
            .unwrap();
        let value = line.split_once(':').unwrap().1.trim();
        value.trim_matches('"').to_string()
    };
    // unittest.yml: InstanceDown for up{job="prometheus", instance="localhost:9090"}.
    let labels = BTreeMap::from([
        ("instance".to_string(), "localhost:9090".to_string()),
        ("job".to_string(), "prometheus".to_string()),
    ]);
    let none = BTreeMap::new();
    let data = AlertTemplateData {
        labels: &labels,
        external_labels: &none,
        external_url: "",
        value: 0.0,
    };
    let unittest = std::fs::read_to_string(format!("{dir}/unittest.yml")).unwrap();
    for (key, want) in [
        ("summary", "Instance localhost:9090 down"),
        (
            "description",
            "localhost:9090 of job prometheus has been down for more than 5 minutes.",
        ),
    ] {
        assert!(
            unittest.contains(&format!("{key}: \"{want}\"")),
            "unittest.yml expects {want:?}"
        );
        let got = expand_alert_text("__alert_InstanceDown", &annotation(key), &data, None).unwrap();
        assert_eq!(got, want);
        check_alert_text("__alert_InstanceDown", &annotation(key)).unwrap();
    }
    // rules-bad.yml: promtool check rules reports exactly this (checked with promtool 2.42).
    let bad = std::fs::read_to_string(format!("{dir}/rules-bad.yml")).unwrap();
    let summary = bad
        .lines()
        .find(|l| l.trim_start().starts_with("summary:"))
        .unwrap();
    let text = summary.split_once(':').unwrap().1.trim().trim_matches('"');
    assert_eq!(
        check_alert_text("__alert_InstanceDown", text)
            .unwrap_err()
            .to_string(),
        r#"template: __alert_InstanceDown:1: undefined variable "$label""#
    );
    assert_eq!(
        expand_alert_text("__alert_InstanceDown", text, &data, None)
            .unwrap_err()
            .to_string(),
        r#"error parsing template __alert_InstanceDown: template: __alert_InstanceDown:1: undefined variable "$label""#
    );
}

#[test]
fn query_needs_a_querier() {
    let labels = labels();
    let data = AlertTemplateData {
        labels: &labels,
        external_labels: &labels,
        external_url: "",
        value: 1.0,
    };
    let e = expand_alert_text("__alert_X", r#"{{ query "up" }}"#, &data, None).unwrap_err();
    assert!(
        e.message
            .ends_with("error calling query: query is not available here"),
        "{}",
        e.message
    );
    let e = expand_alert_text("__alert_X", "{{ now }}", &data, None).unwrap_err();
    assert!(
        e.message
            .ends_with("error calling now: no evaluation time is known here"),
        "{}",
        e.message
    );
}
