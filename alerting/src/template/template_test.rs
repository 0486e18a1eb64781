//! End-to-end tests of the engine: each case's expected output or error text is what Go's
//! text/template (Go 1.19) printed for the same template, data and functions (Prometheus'
//! set, `missingkey=zero`), so they pin Go's semantics, spacing and error texts.

use std::collections::BTreeMap;

use super::*;

/// The data Prometheus gives alert templates, as the Go run had it.
pub(crate) fn alert_data() -> Value {
    let labels = BTreeMap::from([
        ("instance".to_string(), "localhost:9090".to_string()),
        ("job".to_string(), "prometheus".to_string()),
        ("severity".to_string(), "page".to_string()),
    ]);
    let ext = BTreeMap::from([("cluster".to_string(), "eu1".to_string())]);
    Value::Struct {
        type_name: "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }"
            .to_string(),
        fields: vec![
            ("Labels".to_string(), Value::string_map(&labels)),
            ("ExternalLabels".to_string(), Value::string_map(&ext)),
            ("ExternalURL".to_string(), Value::Str("http://example.com:9090/prom".to_string())),
            ("Value".to_string(), Value::Float(1234.5678)),
        ],
    }
}

fn run(text: &str) -> Result<String, String> {
    let funcs = PrometheusFunctions {
        querier: None,
        external_url: "http://example.com:9090/prom".to_string(),
    };
    Template::parse("t", text, &funcs)
        .and_then(|t| t.execute("t", &alert_data(), &funcs))
        .map_err(|e| e.message)
}

/// (template, Go's output or Go's error).
const GO_CASES: &[(&str, Result<&str, &str>)] = &[
    (r"plain text", Ok(r"plain text")),
    (
        r#"{{ 1 }} {{ 1.5 }} {{ -7 }} {{ 1e3 }} {{ 0x1F }} {{ 'a' }} {{ true }} {{ "s" }} {{ `raw` }}"#,
        Ok(r"1 1.5 -7 1000 31 97 true s raw"),
    ),
    (
        r"{{ nil }}",
        Err(r#"template: t:1:3: executing "t" at <nil>: nil is not a command"#),
    ),
    (
        r"{{ . }}",
        Ok(
            r"{map[instance:localhost:9090 job:prometheus severity:page] map[cluster:eu1] http://example.com:9090/prom 1234.5678}",
        ),
    ),
    (
        r"{{ .Labels }} {{ .Labels.job }} {{ .Labels.missing }}|{{ .ExternalLabels.cluster }}",
        Ok(r"map[instance:localhost:9090 job:prometheus severity:page] prometheus |eu1"),
    ),
    (
        r"{{ .Missing }}",
        Err(
            r#"template: t:1:3: executing "t" at <.Missing>: can't evaluate field Missing in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }"#,
        ),
    ),
    (
        r"{{ .Value.Foo }}",
        Err(
            r#"template: t:1:9: executing "t" at <.Value.Foo>: can't evaluate field Foo in type interface {}"#,
        ),
    ),
    (
        r"{{ .Labels.job.x }}",
        Err(
            r#"template: t:1:10: executing "t" at <.Labels.job.x>: can't evaluate field x in type string"#,
        ),
    ),
    (r#"{{- "  a  " -}}  |  {{- 3 }}"#, Ok(r"  a  |3")),
    (r"a  {{- /* comment */ -}}  b", Ok(r"ab")),
    (
        r"a
  {{- 1 }}
  {{ 2 -}}
  c",
        Ok(r"a1
  2c"),
    ),
    (
        r#"{{ if .Value }}yes{{ end }} {{ if 0 }}no{{ else }}zero{{ end }} {{ if "" }}no{{ else if 0.0 }}no{{ else }}empty{{ end }}"#,
        Ok(r"yes zero empty"),
    ),
    (
        r#"{{ if eq .Labels.severity "page" }}P{{ else if eq .Labels.severity "warn" }}W{{ else }}N{{ end }}"#,
        Ok(r"P"),
    ),
    (
        r#"{{ with .Labels }}{{ .job }}{{ end }} {{ with "" }}x{{ else }}empty{{ end }}"#,
        Ok(r"prometheus empty"),
    ),
    (
        r"{{ range $k, $v := .Labels }}{{ $k }}={{ $v }};{{ end }}",
        Ok(r"instance=localhost:9090;job=prometheus;severity=page;"),
    ),
    (
        r"{{ range .Labels }}{{ . }},{{ end }}",
        Ok(r"localhost:9090,prometheus,page,"),
    ),
    (
        r#"{{ range $i, $e := args "a" "b" }}{{ $i }}{{ $e }}{{ end }}"#,
        Ok(r"arg0aarg1b"),
    ),
    (
        r"{{ range .Nothing }}x{{ else }}none{{ end }}",
        Err(
            r#"template: t:1:9: executing "t" at <.Nothing>: can't evaluate field Nothing in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }"#,
        ),
    ),
    (
        r#"{{ range .Labels }}{{ if eq . "page" }}{{ break }}{{ end }}{{ . }};{{ end }}"#,
        Ok(r"localhost:9090;prometheus;"),
    ),
    (
        r#"{{ range .Labels }}{{ if eq . "prometheus" }}{{ continue }}{{ end }}{{ . }};{{ end }}"#,
        Ok(r"localhost:9090;page;"),
    ),
    (
        r"{{ range .Labels }}{{ $.ExternalURL }} {{ end }}",
        Ok(
            r"http://example.com:9090/prom http://example.com:9090/prom http://example.com:9090/prom ",
        ),
    ),
    (
        r"{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
        Ok(r"2"),
    ),
    (
        r"{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}",
        Ok(r"21"),
    ),
    (
        r#"{{ $x := "a" }}{{ range .Labels }}{{ $x = . }}{{ end }}{{ $x }}"#,
        Ok(r"page"),
    ),
    (
        r"{{ $ }}",
        Ok(
            r"{map[instance:localhost:9090 job:prometheus severity:page] map[cluster:eu1] http://example.com:9090/prom 1234.5678}",
        ),
    ),
    (
        r#"{{ define "x" }}[{{ . }}]{{ end }}{{ template "x" .Labels.job }}{{ template "x" }}"#,
        Ok(r"[prometheus][<no value>]"),
    ),
    (
        r#"{{ define "v" }}{{ $ }}{{ end }}{{ $y := 1 }}{{ template "v" 5 }}"#,
        Ok(r"5"),
    ),
    (
        r#"{{ block "b" .Labels }}B{{ .job }}{{ end }}"#,
        Ok(r"Bprometheus"),
    ),
    (
        r#"{{ "a" | printf "%s-%s" "b" }} {{ .Value | printf "%.1f" }} {{ 3 | printf "%d" }}"#,
        Ok(r"b-a 1234.6 3"),
    ),
    (r#"{{ (printf "%d" 1) }}{{ (args 1 2).arg1 }}"#, Ok(r"12")),
    (
        r#"{{ print 1 2 "a" "b" 3 nil }}{{ println "x" 1 }}"#,
        Ok(r"1 2ab3 <nil>x 1
"),
    ),
    (
        r#"{{ and 1 0 2 }} {{ or 0 "" "x" }} {{ and 1 2 }} {{ or 0 "" }} {{ not 0 }} {{ not "a" }}"#,
        Ok(r"0 x 2  true false"),
    ),
    (
        r"{{ and 0 (index .Nothing 1) }} {{ or 1 (index .Nothing 1) }}",
        Ok(r"0 1"),
    ),
    (
        r#"{{ eq 1 1 2 }} {{ eq "a" "b" "a" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ ge "b" "a" }} {{ gt 1.5 2.5 }} {{ eq nil nil }}"#,
        Ok(r"true true true true true true false true"),
    ),
    (
        r"{{ eq 1 1.0 }}",
        Err(
            r#"template: t:1:3: executing "t" at <eq 1 1.0>: error calling eq: incompatible types for comparison"#,
        ),
    ),
    (
        r#"{{ lt 1 "a" }}"#,
        Err(
            r#"template: t:1:3: executing "t" at <lt 1 "a">: error calling lt: incompatible types for comparison"#,
        ),
    ),
    (
        r"{{ lt true false }}",
        Err(
            r#"template: t:1:3: executing "t" at <lt true false>: error calling lt: invalid type for comparison"#,
        ),
    ),
    (
        r"{{ eq .Labels .Labels }}",
        Err(
            r#"template: t:1:3: executing "t" at <eq .Labels .Labels>: error calling eq: non-comparable type map[instance:localhost:9090 job:prometheus severity:page]: map[string]string"#,
        ),
    ),
    (
        r"{{ eq }}",
        Err(
            r#"template: t:1:3: executing "t" at <eq>: wrong number of args for eq: want at least 1 got 0"#,
        ),
    ),
    (
        r"{{ ne 1 2 3 }}",
        Err(r#"template: t:1:3: executing "t" at <ne>: wrong number of args for ne: want 2 got 3"#),
    ),
    (
        r#"{{ len .Labels }} {{ len "abc" }} {{ index .Labels "job" }}|{{ index .Labels "nope" }}| {{ index "abc" 1 }} {{ slice "abcdef" 1 3 }} {{ index (args 1 2 3) 2 }}"#,
        Err(
            r#"template: t:1:136: executing "t" at <index (args 1 2 3) 2>: error calling index: value has type int; should be string"#,
        ),
    ),
    (
        r"{{ len 3 }}",
        Err(r#"template: t:1:3: executing "t" at <len 3>: error calling len: len of type int"#),
    ),
    (
        r"{{ len nil }}",
        Err(
            r#"template: t:1:3: executing "t" at <len nil>: error calling len: reflect: call of reflect.Value.Type on zero Value"#,
        ),
    ),
    (
        r"{{ index 3 1 }}",
        Err(
            r#"template: t:1:3: executing "t" at <index 3 1>: error calling index: can't index item of type int"#,
        ),
    ),
    (
        r"{{ index (args 1) 5 }}",
        Err(
            r#"template: t:1:3: executing "t" at <index (args 1) 5>: error calling index: value has type int; should be string"#,
        ),
    ),
    (
        r"{{ index .Labels 1 }}",
        Err(
            r#"template: t:1:3: executing "t" at <index .Labels 1>: error calling index: value has type int; should be string"#,
        ),
    ),
    (
        r#"{{ slice "abc" 2 1 }}"#,
        Err(
            r#"template: t:1:3: executing "t" at <slice "abc" 2 1>: error calling slice: invalid slice index: 2 > 1"#,
        ),
    ),
    (
        r#"{{ html "<a href='x'>&" }} {{ js "it's <x>=\"y\"" }} {{ urlquery "a b&c/é" }} {{ html 1 2 }} {{ html nil }}"#,
        Ok(
            r#"&lt;a href=&#39;x&#39;&gt;&amp; it\'s \u003Cx\u003E\u003D\"y\" a+b%26c%2F%C3%A9 1 2 &lt;no value&gt;"#,
        ),
    ),
    (
        r#"{{ printf "%.2f|%5d|%-5s|%x|%q|%t|%%|%d" 3.14159 42 "ab" 255 "q" true }}"#,
        Ok(r#"3.14|   42|ab   |ff|"q"|true|%|%!d(MISSING)"#),
    ),
    (
        r#"{{ printf "%d" "x" }} {{ printf "%s %s" "a" }} {{ printf "%d" 1 2 }}"#,
        Ok(r"%!d(string=x) a %!s(MISSING) 1%!(EXTRA int=2)"),
    ),
    (
        r"{{ printf 3 }}",
        Err(r#"template: t:1:10: executing "t" at <3>: expected string; found 3"#),
    ),
    (
        r"{{ printf .Value }}",
        Err(
            r#"template: t:1:10: executing "t" at <.Value>: wrong type for value; expected string; got float64"#,
        ),
    ),
    (
        r"{{ nosuchfunc 1 }}",
        Err(r#"template: t:1: function "nosuchfunc" not defined"#),
    ),
    (
        r"{{ .Labels.job 1 }}",
        Err(
            r#"template: t:1:10: executing "t" at <.Labels.job>: job is not a method but has arguments"#,
        ),
    ),
    (
        r"{{ .Value 1 }}",
        Err(
            r#"template: t:1:3: executing "t" at <.Value>: Value has arguments but cannot be invoked as function"#,
        ),
    ),
    (
        r"{{ 1 2 }}",
        Err(r#"template: t:1:3: executing "t" at <1>: can't give argument to non-function 1"#),
    ),
    (
        r#"{{ "x" 1 }}"#,
        Err(r#"template: t:1:3: executing "t" at <"x">: can't give argument to non-function "x""#),
    ),
    (r#"{{ .Labels | len | printf "%d" | len }}"#, Ok(r"1")),
    (
        r#"{{ template "nope" }}"#,
        Err(
            r#"template: t:1:12: executing "t" at <{{template "nope"}}>: template "nope" not defined"#,
        ),
    ),
    (
        r"{{ range .Value }}{{ . }}{{ end }}",
        Err(r#"template: t:1:9: executing "t" at <.Value>: range can't iterate over 1234.5678"#),
    ),
    (
        r"{{ range . }}{{ end }}",
        Err(
            r#"template: t:1:9: executing "t" at <.>: range can't iterate over {map[instance:localhost:9090 job:prometheus severity:page] map[cluster:eu1] http://example.com:9090/prom 1234.5678}"#,
        ),
    ),
    (r"{{ with $x := 5 }}{{ $x }}{{ end }}", Ok(r"5")),
    (
        r"{{ toUpper 1 }}",
        Err(r#"template: t:1:11: executing "t" at <1>: expected string; found 1"#),
    ),
    (
        r"{{ toUpper .Value }}",
        Err(
            r#"template: t:1:11: executing "t" at <.Value>: wrong type for value; expected string; got float64"#,
        ),
    ),
    (
        r"{{ toUpper nil }}",
        Err(r#"template: t:1:11: executing "t" at <nil>: cannot assign nil to string"#),
    ),
    (
        r"{{ humanize }}",
        Err(
            r#"template: t:1:3: executing "t" at <humanize>: wrong number of args for humanize: want 1 got 0"#,
        ),
    ),
    (
        r"{{ humanize 1 2 }}",
        Err(
            r#"template: t:1:3: executing "t" at <humanize>: wrong number of args for humanize: want 1 got 2"#,
        ),
    ),
    (
        r"{{ 99999999999999999999 }}",
        Err(r#"template: t:1: integer overflow: "99999999999999999999""#),
    ),
    (
        r"{{ nil.foo }}",
        Err(r#"template: t:1: unexpected . after term "nil""#),
    ),
    (
        r#"{{ "\x41\u00e9\t|" }} {{ '
' }}"#,
        Err(r"template: t:1: unterminated character constant"),
    ),
    (
        r#"line1
line2 {{ humanize "x" }}"#,
        Err(
            r#"template: t:2:9: executing "t" at <humanize "x">: error calling humanize: strconv.ParseFloat: parsing "x": invalid syntax"#,
        ),
    ),
    (
        r"{{ .Labels.job }}
{{ .Nothing.deeper }}
{{ len 1 }}",
        Err(
            r#"template: t:2:11: executing "t" at <.Nothing.deeper>: can't evaluate field Nothing in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }"#,
        ),
    ),
];

#[test]
fn templates_render_as_go_renders_them() {
    let mut failures = Vec::new();
    for (text, want) in GO_CASES {
        let got = run(text);
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

#[test]
fn parse_errors_carry_kind_and_template() {
    let e = Template::parse("x", "{{ end }}", &NoFunctions).unwrap_err();
    assert_eq!(e.kind, TemplateErrorKind::Parse);
    assert_eq!(e.template, "x");
    assert_eq!(e.to_string(), "template: x:1: unexpected {{end}}");
    let t = Template::parse("x", "{{ len 1 }}", &NoFunctions).unwrap();
    let e = t.execute("x", &Value::Nil, &NoFunctions).unwrap_err();
    assert_eq!(e.kind, TemplateErrorKind::Execute);
    assert_eq!(
        e.to_string(),
        r#"template: x:1:3: executing "x" at <len 1>: error calling len: len of type int"#
    );
}

#[test]
fn notification_templates_define_across_files() {
    // Alertmanager's shape: a file of definitions, then a text that calls them.
    let mut t = Template::parse(
        "defs.tmpl",
        r#"{{ define "title" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}{{ end }}
{{ define "alert" }}- {{ .Labels.instance }}: {{ .Annotations.summary }}{{ end }}"#,
        &PrometheusFunctions {
            querier: None,
            external_url: String::new(),
        },
    )
    .unwrap();
    let funcs = PrometheusFunctions {
        querier: None,
        external_url: String::new(),
    };
    t.add(
        "body",
        r#"{{ template "title" . }}{{ range .Alerts }}
{{ template "alert" . }}{{ end }}
{{ .ExternalURL }}"#,
        &funcs,
    )
    .unwrap();
    let alert = |inst: &str, summary: &str| {
        let mut m = BTreeMap::new();
        m.insert(
            "Labels".to_string(),
            Value::string_map(&BTreeMap::from([(
                "instance".to_string(),
                inst.to_string(),
            )])),
        );
        m.insert(
            "Annotations".to_string(),
            Value::string_map(&BTreeMap::from([(
                "summary".to_string(),
                summary.to_string(),
            )])),
        );
        m.insert("Status".to_string(), Value::from("firing"));
        Value::Map(m)
    };
    let mut data = BTreeMap::new();
    data.insert("Status".to_string(), Value::from("firing"));
    data.insert(
        "CommonLabels".to_string(),
        Value::string_map(&BTreeMap::from([(
            "alertname".to_string(),
            "Down".to_string(),
        )])),
    );
    data.insert(
        "Alerts".to_string(),
        Value::List(vec![alert("a:1", "A down"), alert("b:2", "B down")]),
    );
    data.insert("ExternalURL".to_string(), Value::from("http://am:9093"));
    let out = t.execute("body", &Value::Map(data), &funcs).unwrap();
    assert_eq!(
        out,
        "[FIRING] Down\n- a:1: A down\n- b:2: B down\nhttp://am:9093"
    );
    // A later non-empty definition replaces an earlier one; an empty one does not.
    t.add(
        "more",
        r#"{{ define "title" }}T{{ end }}{{ define "alert" }}{{ end }}"#,
        &funcs,
    )
    .unwrap();
    let data = BTreeMap::from([("Alerts".to_string(), Value::List(vec![]))]);
    let out = t.execute("body", &Value::Map(data), &funcs).unwrap();
    assert_eq!(out, "T\n<no value>");
    assert!(t.has_template("alert"));
}

#[test]
fn executing_an_unknown_template_is_gos_error() {
    let t = Template::parse("root", "x", &NoFunctions).unwrap();
    let e = t.execute("other", &Value::Nil, &NoFunctions).unwrap_err();
    assert_eq!(
        e.message,
        r#"template: no template "other" associated with template "root""#
    );
}

#[test]
fn duplicate_definition_in_one_text_is_an_error() {
    let e = Template::parse(
        "t",
        r#"{{ define "a" }}x{{ end }}{{ define "a" }}y{{ end }}"#,
        &NoFunctions,
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        r#"template: t:1: template: multiple definition of template "a""#
    );
}

/// A caller's functions without a signature get any arguments; their errors are wrapped.
struct Shout;

impl Functions for Shout {
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        (name == "shout").then(|| match args {
            [Value::Str(s)] => Ok(Value::Str(s.to_uppercase() + "!")),
            _ => Err(format!("want one string, got {}", args.len())),
        })
    }

    fn has(&self, name: &str) -> bool {
        name == "shout"
    }
}

#[test]
fn callers_functions_come_before_builtins() {
    let t = Template::parse("t", r#"{{ "hi" | shout }} {{ shout "a" "b" }}"#, &Shout).unwrap();
    let e = t.execute("t", &Value::Nil, &Shout).unwrap_err();
    assert_eq!(
        e.message,
        r#"template: t:1:22: executing "t" at <shout "a" "b">: error calling shout: want one string, got 2"#
    );
    let t = Template::parse("t", r#"{{ "hi" | shout }}"#, &Shout).unwrap();
    assert_eq!(t.execute("t", &Value::Nil, &Shout).unwrap(), "HI!");
    let e = Template::parse("t", "{{ whisper }}", &Shout).unwrap_err();
    assert_eq!(
        e.message,
        r#"template: t:1: function "whisper" not defined"#
    );
}

#[test]
fn generic_maps_read_missing_keys_as_no_value() {
    let mut m = BTreeMap::new();
    m.insert("n".to_string(), Value::Int(1));
    let t = Template::parse(
        "t",
        "{{ .n }} {{ .missing }} {{ index . \"missing\" }}",
        &NoFunctions,
    )
    .unwrap();
    assert_eq!(
        t.execute("t", &Value::Map(m), &NoFunctions).unwrap(),
        "1 <no value> <no value>"
    );
}
