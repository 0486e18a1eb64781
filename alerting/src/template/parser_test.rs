//! Parser and lexer errors as Go reports them: each expected text is what Go's text/template
//! (Go 1.19, Prometheus' function set) returned for the same template.

use super::*;
use crate::template::{NoFunctions, PrometheusFunctions, Template};

fn run(text: &str) -> Result<String, String> {
    let funcs = PrometheusFunctions {
        querier: None,
        external_url: String::new(),
    };
    Template::parse("t", text, &funcs)
        .and_then(|t| t.execute("t", &crate::template::template_test::alert_data(), &funcs))
        .map_err(|e| e.message)
}

/// (template, Go's output with the alert data, or Go's error).
const GO_CASES: &[(&str, Result<&str, &str>)] = &[
    (r"{{ end }}", Err(r"template: t:1: unexpected {{end}}")),
    (r"{{ else }}", Err(r"template: t:1: unexpected {{else}}")),
    (r"{{ if true }}", Err(r"template: t:1: unexpected EOF")),
    (
        r"{{ if true }}a
b
",
        Err(r"template: t:3: unexpected EOF"),
    ),
    (
        r"{{ if true }}a
b
{{ end",
        Err(r"template: t:3: unclosed action"),
    ),
    (
        r"{{ range .Labels }}{{ else }}x{{ else }}y{{ end }}",
        Err(r"template: t:1: expected end; found {{else}}"),
    ),
    (r"{{ .X", Err(r"template: t:1: unclosed action")),
    (
        r#"{{ "abc }}"#,
        Err(r"template: t:1: unterminated quoted string"),
    ),
    (
        r"{{ `abc }}",
        Err(r"template: t:1: unterminated raw quoted string"),
    ),
    (
        r"{{ 'ab' }}",
        Err(r"template: t:1: malformed character constant: 'ab'"),
    ),
    (
        r"{{ $undefined }}",
        Err(r#"template: t:1: undefined variable "$undefined""#),
    ),
    (
        r"{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}",
        Err(r#"template: t:1: undefined variable "$y""#),
    ),
    (
        r"{{ range $i, $e := . }}{{ end }}{{ $e }}",
        Err(r#"template: t:1: undefined variable "$e""#),
    ),
    (
        r"{{ nofunc }}",
        Err(r#"template: t:1: function "nofunc" not defined"#),
    ),
    (
        r"{{ .X | nofunc }}",
        Err(r#"template: t:1: function "nofunc" not defined"#),
    ),
    (r"{{ ( }}", Err(r"template: t:1: unclosed left paren")),
    (
        r"{{ ) }}",
        Err(r#"template: t:1: unexpected ")" in command"#),
    ),
    (r"{{ (1 }}", Err(r"template: t:1: unclosed left paren")),
    (
        r"{{ 3x }}",
        Err(r#"template: t:1: bad number syntax: "3x""#),
    ),
    (r"{{/* unclosed", Err(r"template: t:1: unclosed comment")),
    (
        r"{{/* c */ x}}",
        Err(r"template: t:1: comment ends before closing delimiter"),
    ),
    (
        r"{{ .X# }}",
        Err(r"template: t:1: bad character U+0023 '#'"),
    ),
    (
        r"{{ $x, $y := 1 }}",
        Err(r"template: t:1: too many declarations in command"),
    ),
    (
        r"{{ range $x, $y, $z := . }}{{ end }}",
        Err(r"template: t:1: too many declarations in range"),
    ),
    (
        r"{{ with $x, $y := . }}{{ end }}",
        Err(r"template: t:1: too many declarations in with"),
    ),
    (
        r#"{{ .X | "a" }}"#,
        Err(r"template: t:1: non executable command in pipeline stage 2"),
    ),
    (
        r"{{ .X | 1 }}",
        Err(r"template: t:1: non executable command in pipeline stage 2"),
    ),
    (
        r#"{{ "a".b }}"#,
        Err(r#"template: t:1: unexpected . after term "\"a\"""#),
    ),
    (
        r#"{{ define "a" }}x{{ else }}{{ end }}"#,
        Err(r"template: t:1: unexpected {{else}} in define clause"),
    ),
    (
        r"{{ define 3 }}{{ end }}",
        Err(r#"template: t:1: unexpected "3" in define clause"#),
    ),
    (
        r#"{{ define "a" }}x"#,
        Err(r"template: t:1: unexpected EOF"),
    ),
    (
        r"{{ template x }}",
        Err(r#"template: t:1: unexpected "x" in template clause"#),
    ),
    (
        r#"{{ block "b" }}{{ end }}"#,
        Err(r"template: t:1: missing value for block clause"),
    ),
    (
        r"{{ if true }}x{{ else if false }}y{{ end }}z{{ end }}",
        Err(r"template: t:1: unexpected {{end}}"),
    ),
    (
        r"{{ continue }}",
        Err(r"template: t:1: {{continue}} outside {{range}}"),
    ),
    (
        r"{{ break }}",
        Err(r"template: t:1: {{break}} outside {{range}}"),
    ),
    (
        r#"{{ range . }}{{ define "x" }}{{ break }}{{ end }}{{ end }}"#,
        Err(r"template: t:1: unexpected <define> in command"),
    ),
    (
        r"{{ range . }}{{ break 1 }}{{ end }}",
        Err(r#"template: t:1: unexpected "1" in {{break}}"#),
    ),
    (
        r"{{ if }}x{{ end }}",
        Err(r"template: t:1: missing value for if"),
    ),
    (r"{{ }}", Err(r"template: t:1: missing value for command")),
    (
        r"{{ $x := }}",
        Err(r"template: t:1: missing value for command"),
    ),
    (
        r"{{ 1.5e400 }}",
        Err(r#"template: t:1: illegal number syntax: "1.5e400""#),
    ),
    (
        r"{{ a b c }}",
        Err(r#"template: t:1: function "a" not defined"#),
    ),
    (
        r"{{ .X = 1 }}",
        Err(r#"template: t:1: unexpected "=" in operand"#),
    ),
    (
        r"{{ $x = 1 }}",
        Err(r#"template: t:1:8: executing "t" at <1>: undefined variable: $x"#),
    ),
    (r"{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", Ok(r"2")),
    (
        r"a

b {{ .X }
}}",
        Err(r#"template: t:3: unexpected "}" in operand"#),
    ),
    (
        r"{{ .X }}
{{ if .Y }}
{{ else }}
{{ else }}
{{ end }}",
        Err(r"template: t:4: expected end; found {{else}}"),
    ),
    (r#"{{ "\q" }}"#, Err(r"template: t:1: invalid syntax")),
    (
        r#"{{ "a" "b" | printf }}"#,
        Err(r#"template: t:1:3: executing "t" at <"a">: can't give argument to non-function "a""#),
    ),
    (
        r"{{ ,}}",
        Err(r#"template: t:1: unexpected "," in command"#),
    ),
    (
        r"{{ @ }}",
        Err(r#"template: t:1: unexpected "@" in command"#),
    ),
    (
        r"{{ .X -}}  |  {{- .Y }}",
        Err(
            r#"template: t:1:3: executing "t" at <.X>: can't evaluate field X in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }"#,
        ),
    ),
    (r"{{-3}}", Ok(r"-3")),
    (
        r"{{ - 3 }}",
        Err(r#"template: t:1: illegal number syntax: "-""#),
    ),
];

#[test]
fn parse_errors_are_gos() {
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
fn nodes_print_as_gos_node_strings() {
    // Execution errors quote nodes in Go's String() form.
    let has = |name: &str| ["f", "printf"].contains(&name);
    let trees = parse(
        "t",
        r#"{{ $x := f .A.b "s" 1 (printf "%d" 2) | f }}{{ if $x }}a{{ else }}b{{ end }}{{ template "n" . }}{{ range $i, $e := . }}{{ break }}{{ end }}"#,
        &has,
    )
    .unwrap();
    let root = &trees.last().unwrap().root;
    let printed: Vec<String> = root.iter().map(|n| n.to_string()).collect();
    assert_eq!(
        printed,
        vec![
            r#"{{$x := f .A.b "s" 1 (printf "%d" 2) | f}}"#,
            "{{if $x}}a{{else}}b{{end}}",
            r#"{{template "n" .}}"#,
            "{{range $i, $e := .}}{{break}}{{end}}",
        ]
    );
}

#[test]
fn definitions_come_before_the_top_level_tree() {
    let trees = parse(
        "top",
        r#"{{ define "a" }}A{{ end }}x{{ block "b" . }}B{{ end }}"#,
        &|_| false,
    )
    .unwrap();
    let names: Vec<&str> = trees.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["a", "b", "top"]);
    // A top level of nothing but definitions and space is empty, as Go's IsEmptyTree says.
    let trees = parse("top", "{{ define \"a\" }}A{{ end }}\n", &|_| false).unwrap();
    assert!(is_empty_tree(&trees[1].root));
}

#[test]
fn numbers_take_gos_kinds() {
    let n = |t: &str| parse_number(t, crate::template::lexer::ItemType::Number);
    assert_eq!(n("0x1F").unwrap().int, Some(31));
    assert_eq!(n("017").unwrap().int, Some(15));
    assert_eq!(n("1_000").unwrap().int, Some(1000));
    assert_eq!(n("1e3").unwrap().int, Some(1000));
    assert_eq!(n("1.5").unwrap().int, None);
    assert_eq!(n("-0").unwrap().uint, Some(0));
    assert_eq!(n("18446744073709551615").unwrap().int, None);
    assert_eq!(
        n("99999999999999999999").unwrap_err(),
        r#"integer overflow: "99999999999999999999""#
    );
}

#[test]
fn unquote_is_strconvs() {
    assert_eq!(
        unquote(r#""a\tb\"\x41\u00e9""#).as_deref(),
        Some("a\tb\"Aé")
    );
    assert_eq!(unquote("`a\\n`").as_deref(), Some("a\\n"));
    assert_eq!(unquote("'x'").as_deref(), Some("x"));
    assert_eq!(unquote(r#""\q""#), None);
    assert_eq!(unquote("'ab'"), None);
    let _ = NoFunctions;
}
