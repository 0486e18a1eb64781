//! Rule files end to end: promtool's own test files (tests/conformance/rules/, with the
//! verdicts and messages `promtool check rules` gives), bad files of our own, simple kinds,
//! single groups and the check report.

use super::*;
use crate::rule::Rule;

const CONFORMANCE: [(&str, &str); 8] = [
    (
        "rules.yml",
        include_str!("../../../tests/conformance/rules/rules.yml"),
    ),
    (
        "rules-bad.yml",
        include_str!("../../../tests/conformance/rules/rules-bad.yml"),
    ),
    (
        "rules_duplicates.yml",
        include_str!("../../../tests/conformance/rules/rules_duplicates.yml"),
    ),
    (
        "bad-rules-syntax.yml",
        include_str!("../../../tests/conformance/rules/bad-rules-syntax.yml"),
    ),
    (
        "bad-promql.yml",
        include_str!("../../../tests/conformance/rules/bad-promql.yml"),
    ),
    (
        "at-modifier.yml",
        include_str!("../../../tests/conformance/rules/at-modifier.yml"),
    ),
    (
        "negative-offset.yml",
        include_str!("../../../tests/conformance/rules/negative-offset.yml"),
    ),
    (
        "bad-rules-error.yml",
        include_str!("../../../tests/conformance/rules/bad-rules-error.yml"),
    ),
];

fn conformance(name: &str) -> &'static str {
    CONFORMANCE
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap_or_else(|| panic!("{name}"))
}

fn errors(name: &str, text: &str) -> Vec<String> {
    match parse_rule_file(name, text) {
        Ok(f) => panic!("{name} parsed: {f:?}"),
        Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn promtool_verdicts_on_its_own_files() {
    // (file, passes) as `promtool check rules` decides (exit code 0 / 1).
    let verdicts = [
        ("rules.yml", true),
        ("rules-bad.yml", false),
        ("rules_duplicates.yml", true),
        ("bad-rules-syntax.yml", false),
        ("bad-promql.yml", false),
        ("at-modifier.yml", true),
        ("negative-offset.yml", true),
        ("bad-rules-error.yml", true),
    ];
    for (name, passes) in verdicts {
        let (ok, report) = check_report(name, conformance(name));
        assert_eq!(ok, passes, "{name}:\n{report}");
        assert!(
            report.starts_with(&format!("Checking {name}\n")),
            "{report}"
        );
    }
}

#[test]
fn rules_yml_reads_into_groups_and_rules() {
    let f = parse_rule_file("rules.yml", conformance("rules.yml")).unwrap();
    assert_eq!(f.path, "rules.yml");
    let names: Vec<&str> = f.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["alerts", "rules"]);
    let g = &f.groups[0];
    assert_eq!(
        (
            g.file.as_str(),
            g.line,
            g.interval_ms,
            g.query_offset_ms,
            g.limit
        ),
        ("rules.yml", 4, None, None, 0)
    );
    let Rule::Alerting(a) = &g.rules[0] else {
        panic!("{:?}", g.rules[0])
    };
    assert_eq!(
        (a.alert.as_str(), a.expr.as_str(), a.for_ms, a.line),
        ("InstanceDown", "up == 0", 300_000, 6)
    );
    assert_eq!(a.labels.get("severity").map(String::as_str), Some("page"));
    assert_eq!(
        a.annotations.get("summary").map(String::as_str),
        Some("Instance {{ $labels.instance }} down")
    );
    assert_eq!(a.kind, None);
    let Rule::Alerting(always) = &g.rules[1] else {
        panic!()
    };
    assert_eq!((always.expr.as_str(), always.for_ms), ("1", 0));
    let recorded: Vec<(&str, &str)> = f.groups[1]
        .rules
        .iter()
        .map(|r| (r.name(), r.expr()))
        .collect();
    assert_eq!(
        recorded,
        [
            (
                "job:test:count_over_time1m",
                "sum without(instance) (count_over_time(test[1m]))"
            ),
            ("fixed_data", "1"),
            ("suquery_interval_test", "count_over_time(up[5m:])"),
        ]
    );
    let (ok, report) = check_report("rules.yml", conformance("rules.yml"));
    assert!(ok);
    assert_eq!(report, "Checking rules.yml\n  SUCCESS: 5 rules found\n\n");
}

#[test]
fn template_errors_are_reported_as_promtool_reports_them() {
    let e = errors("rules-bad.yml", conformance("rules-bad.yml"));
    assert_eq!(
        e,
        [
            r#"rules-bad.yml: 12:20: group "alerts", rule 1, "InstanceDown": annotation "summary": template: __alert_InstanceDown:1: undefined variable "$label""#
        ]
    );
    let text = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels:\n          l: '{{ $value | humanize }}'\n        annotations:\n          s: '{{ $labels.x '\n          t: '{{ nosuchfunc }}'\n          ok: '{{ range query \"up\" }}{{ .Labels.instance }}{{ end }}'\n";
    let e = errors("t.yml", text);
    assert_eq!(
        e,
        [
            r#"t.yml: 9:14: group "g", rule 1, "A": annotation "s": template: __alert_A:1: unclosed action"#,
            r#"t.yml: 10:14: group "g", rule 1, "A": annotation "t": template: __alert_A:1: function "nosuchfunc" not defined"#,
        ]
    );
    // Recording rules have no templates: their labels are taken as written.
    let rec = "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n        labels:\n          l: '{{ $nope'\n";
    assert!(parse_rule_file("r.yml", rec).is_ok());
}

#[test]
fn expression_errors_point_at_the_expr_value_as_promtool_does() {
    let e = errors("bad-rules-syntax.yml", conformance("bad-rules-syntax.yml"));
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with(r#"bad-rules-syntax.yml: 7:15: group "bad-syntax", rule 1, "x": could not parse expression: "#),
        "{}",
        e[0]
    );
    let err = parse_rule_file("f.yml", conformance("bad-rules-syntax.yml")).unwrap_err();
    let one = &err.errors[0];
    assert_eq!(
        (
            one.line,
            one.column,
            one.group.as_deref(),
            one.rule_index,
            one.rule_name.as_deref()
        ),
        (7, 15, Some("bad-syntax"), Some(1), Some("x"))
    );
}

#[test]
fn duplicate_rules_are_a_lint_that_does_not_fail_the_file() {
    let (ok, report) = check_report("rules_duplicates.yml", conformance("rules_duplicates.yml"));
    assert!(ok);
    assert_eq!(
        report,
        "Checking rules_duplicates.yml\n  FAILED:\nlint error 1 duplicate rule(s) found.\n\
         Metric: job:test:count_over_time1m\nLabel(s):\n\
         Might cause inconsistency while recording expressions\n\n"
    );
    let f = parse_rule_file("d.yml", conformance("rules_duplicates.yml")).unwrap();
    let d = find_duplicates(&f.groups);
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].metric.as_str(), d[0].count),
        ("job:test:count_over_time1m", 3)
    );
}

#[test]
fn unknown_top_level_keys_are_each_reported_with_their_line() {
    let e = errors("bad-promql.yml", conformance("bad-promql.yml"));
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("bad-promql.yml: 1:1: field tests not found"),
        "{}",
        e[0]
    );
    let e = errors(
        "u.yml",
        "rule_files: [a]\n\nevaluation_interval: 1m\ngroups: []\ntests: []\n",
    );
    let lines: Vec<&str> = e
        .iter()
        .map(|m| m.split(": field").next().unwrap_or(""))
        .collect();
    assert_eq!(lines, ["u.yml: 1:1", "u.yml: 3:1", "u.yml: 5:1"]);
}

#[test]
fn every_error_of_a_file_is_collected_in_file_order() {
    let text = "\
groups:
  - name: g
    rules:
      - alert: A
        expr: 'up +'
      - record: b
        expr: up
        for: 5m
        annotations:
          x: y
  - name: h
    bogus: 1
    rules:
      - record: 'x y'
        expr: 'sum('
        labels:
          a-b: c
          __name__: d
      - expr: up
  - name: g
    rules: []
  - rules: []
";
    let e = errors("many.yml", text);
    let expected_starts = [
        r#"many.yml: 5:15: group "g", rule 1, "A": could not parse expression: "#,
        r#"many.yml: 6:17: group "g", rule 2, "b": invalid field 'annotations' in recording rule"#,
        r#"many.yml: 6:17: group "g", rule 2, "b": invalid field 'for' in recording rule"#,
        r#"many.yml: 12:5: group "h": field bogus not found in a group"#,
        r#"many.yml: 15:15: group "h", rule 1, "x y": could not parse expression: "#,
        r#"many.yml: 14:17: group "h", rule 1, "x y": invalid recording rule name: x y"#,
        r#"many.yml: 17:11: group "h", rule 1, "x y": invalid label name: a-b"#,
        r#"many.yml: 18:11: group "h", rule 1, "x y": invalid label name: __name__"#,
        r#"many.yml: 19:9: group "h", rule 2, "": one of 'record' or 'alert' must be set"#,
        r#"many.yml: 20:5: group "g": groupname: "g" is repeated in the same file"#,
        r#"many.yml: 22:5: Groupname must not be empty"#,
    ];
    assert_eq!(e.len(), expected_starts.len(), "{e:#?}");
    for (got, want) in e.iter().zip(expected_starts) {
        assert!(got.starts_with(want), "got  {got}\nwant {want}");
    }
    let (ok, report) = check_report("many.yml", text);
    assert!(!ok);
    // `Checking`, `FAILED:`, the errors, a blank line.
    assert_eq!(
        report.lines().count(),
        3 + expected_starts.len(),
        "{report}"
    );
}

#[test]
fn shape_errors_name_the_key_and_its_place() {
    let cases = [
        (
            "- name: g\n",
            "s.yml: 1:1: expected a mapping with `groups:`",
        ),
        (
            "groups:\n  name: g\n",
            "s.yml: 2:3: groups: expected a list, found a mapping",
        ),
        (
            "groups:\n  - name: g\n    rules: abc\n",
            r#"s.yml: 3:12: group "g": rules: expected a list"#,
        ),
        (
            "groups:\n  - name: g\n    limit: many\n",
            r#"s.yml: 3:12: group "g": limit: expected an integer"#,
        ),
        (
            "groups:\n  - name: g\n    interval: 5x\n",
            r#"s.yml: 3:15: group "g": interval: not a valid duration string: "5x""#,
        ),
        (
            "groups:\n  - name: g\n    labels: {a: b}\n",
            r#"s.yml: 3:5: group "g": field labels not found in a group"#,
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 300\n",
            r#"s.yml: 6:14: group "g", rule 1, "A": for: not a valid duration string: "300""#,
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        exp: 1\n",
            r#"s.yml: 6:9: group "g", rule 1, "A": field exp not found in a rule"#,
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        expr: down\n",
            r#"s.yml: 6:9: group "g", rule 1, "A": mapping key "expr" already defined at line 5"#,
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels: [a]\n",
            r#"s.yml: 6:17: group "g", rule 1, "A": labels: expected a mapping, found a list"#,
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - up\n",
            r#"s.yml: 4:9: group "g", rule 1, "": a rule must be a mapping"#,
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr:\n",
            r#"s.yml: 5:14: group "g", rule 1, "A": field 'expr' must be set in rule"#,
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: a\n        alert: B\n        expr: up\n",
            r#"s.yml: 4:17: group "g", rule 1, "B": only one of 'record' and 'alert' must be set (alert at 5:16)"#,
        ),
        ("groups:\n\t- name: g\n", "s.yml: 2:"),
        // A block scalar is placed at its `|`, as yaml.v3 places it.
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: |\n          sum(\n            x\n",
            r#"s.yml: 5:15: group "g", rule 1, "A": could not parse expression"#,
        ),
        (
            "groups:\n  - name: [a]\n",
            "s.yml: 2:11: name: expected a string, found a list",
        ),
    ];
    for (text, want) in cases {
        let e = errors("s.yml", text);
        assert!(
            e.iter().any(|m| m.starts_with(want)),
            "{text}\nwant {want}\ngot  {e:#?}"
        );
    }
}

#[test]
fn files_promtool_accepts_are_accepted() {
    let cases = [
        "",
        "# comments only\n",
        "groups:\n",
        // Null items are no group and no rule (promtool: 0 rules, success).
        "groups: [~]\n",
        "groups:\n  - name: g\n    rules: [~]\n",
        "groups:\n  - name: g\n    limit: -3\n    rules:\n      - alert: A\n        expr: up\n",
        "groups:\n  - name: 123\n    rules:\n      - alert: 456\n        expr: 1\n        labels:\n          sev: 1\n          empty:\n",
        "groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n        for: 0s\n",
        // Only the first document counts, as in Prometheus.
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n---\ngroups: [{name: h, rules: [{alert: B, expr: 'up +'}]}]\n",
    ];
    for text in cases {
        if let Err(e) = parse_rule_file("ok.yml", text) {
            panic!("{text}\n{e}");
        }
    }
    let f = parse_rule_file(
        "g.yml",
        "groups:\n  - name: g\n    interval: 30s\n    query_offset: 1m\n    limit: 10\n    rules: []\n  - name: h\n    interval: 0s\n",
    )
    .unwrap();
    let g = &f.groups[0];
    assert_eq!(
        (g.interval_ms, g.query_offset_ms, g.limit),
        (Some(30_000), Some(60_000), 10)
    );
    assert_eq!(
        f.groups[1].interval_ms, None,
        "interval 0 means the default"
    );
}

#[test]
fn simple_kinds_compile_into_alerting_rules() {
    let text = r#"groups:
  - name: simple
    rules:
      - alert: HighCPU
        kind: threshold
        metric: cpu
        matchers: {env: prod}
        op: ">"
        value: 90
        for: 5m
        labels:
          severity: page
        annotations:
          summary: "CPU at {{ $value }}"
      - alert: HostGone
        kind: absence
        metric: up
        by: [host]
      - alert: Spike
        kind: anomaly
        metric: requests
        for: 10m
"#;
    let f = parse_rule_file("simple.yml", text).unwrap();
    let rules = &f.groups[0].rules;
    let Rule::Alerting(cpu) = &rules[0] else {
        panic!()
    };
    assert_eq!(cpu.expr, r#"cpu{env="prod"} > 90"#);
    assert_eq!((cpu.for_ms, cpu.line), (300_000, 4));
    let kind = cpu.kind.as_ref().unwrap();
    assert_eq!(kind.kind, "threshold");
    assert_eq!(
        kind.params.get("matchers").map(String::as_str),
        Some("{env: prod}")
    );
    assert_eq!(kind.params.get("value").map(String::as_str), Some("90"));
    assert_eq!(cpu.labels.get("severity").map(String::as_str), Some("page"));
    assert_eq!(
        rules[1].expr(),
        "group by (host) (last_over_time(up[1h])) unless group by (host) (up)"
    );
    assert_eq!(
        rules[2].expr(),
        "requests > 3 * avg_over_time(requests[1h] offset 10m)"
    );

    let (ok, report) = check_report("simple.yml", text);
    assert!(ok, "{report}");
    assert!(report.contains("  SUCCESS: 3 rules found\n"), "{report}");
    assert!(
        report.contains(
            r#"  group "simple", alert "HighCPU" (kind threshold): cpu{env="prod"} > 90"#
        ),
        "{report}"
    );
}

#[test]
fn simple_kind_errors_point_at_the_key() {
    let text = r#"groups:
  - name: s
    rules:
      - alert: A
        kind: threshold
        metric: cpu
        op: "=>"
        value: high
        numerator: x
      - alert: B
        kind: ratio
        numerator: errors
      - record: c
        kind: absence
        metric: up
      - alert: D
        kind: absence
        metric: up
        expr: up
      - alert: E
        metric: up
        expr: up
      - alert: F
        kind: sparkle
"#;
    let e = errors("k.yml", text);
    let expected_starts = [
        r#"k.yml: 9:9: group "s", rule 1, "A": field numerator not found in a rule"#,
        r#"k.yml: 7:13: group "s", rule 1, "A": kind threshold: op: "=>" is not one of"#,
        r#"k.yml: 8:16: group "s", rule 1, "A": kind threshold: value: "high" is not a number"#,
        r#"k.yml: 11:15: group "s", rule 2, "B": kind ratio: denominator is required"#,
        r#"k.yml: 11:15: group "s", rule 2, "B": kind ratio: op is required"#,
        r#"k.yml: 11:15: group "s", rule 2, "B": kind ratio: value is required"#,
        r#"k.yml: 13:17: group "s", rule 3, "c": kind: simple rule kinds make alerting rules only"#,
        r#"k.yml: 19:15: group "s", rule 4, "D": expr and kind are exclusive"#,
        r#"k.yml: 21:9: group "s", rule 5, "E": field metric belongs to a simple rule kind, but the rule has no `kind:`"#,
        r#"k.yml: 24:15: group "s", rule 6, "F": kind sparkle: unknown kind "sparkle""#,
    ];
    assert_eq!(e.len(), expected_starts.len(), "{e:#?}");
    for (got, want) in e.iter().zip(expected_starts) {
        assert!(got.starts_with(want), "got  {got}\nwant {want}");
    }
}

#[test]
fn an_unquoted_operator_gets_a_hint() {
    let text = "groups:\n  - name: s\n    rules:\n      - alert: A\n        kind: threshold\n        metric: cpu\n        op: >\n        value: 1\n";
    let e = errors("q.yml", text);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].starts_with(r#"q.yml: 7:13: group "s", rule 1, "A": kind threshold: op is empty: quote the operator"#), "{}", e[0]);
}

#[test]
fn a_group_alone_in_mimirs_ruler_format() {
    let g = parse_group(
        "tenant-a",
        "name: api\ninterval: 1m\nrules:\n  - alert: Down\n    expr: up == 0\n",
    )
    .unwrap();
    assert_eq!(
        (g.file.as_str(), g.name.as_str(), g.interval_ms, g.line),
        ("tenant-a", "api", Some(60_000), 1)
    );
    assert_eq!(g.rules.len(), 1);

    let err = parse_group(
        "tenant-a",
        "name: api\nsource_tenants: [b]\nrules:\n  - alert: Down\n    expr: 'up =='\n",
    )
    .unwrap_err();
    let e: Vec<String> = err.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(
        e[0].starts_with(
            r#"tenant-a: 2:1: group "api": field source_tenants not found in a group"#
        ),
        "{}",
        e[0]
    );
    assert!(
        e[1].starts_with(
            r#"tenant-a: 5:11: group "api", rule 1, "Down": could not parse expression"#
        ),
        "{}",
        e[1]
    );
    assert!(parse_group("x", "").is_err());
    assert!(
        parse_group("x", "rules: []\n").is_err(),
        "a group needs a name"
    );
    assert!(
        parse_group("x", "groups:\n  - name: a\n").is_err(),
        "a whole file is not a group"
    );
}

#[test]
fn yaml_syntax_errors_are_placed() {
    let err = parse_rule_file(
        "y.yml",
        "groups:\n  - name: g\n    rules:\n    - alert: A\n      expr: up\n     foo: [\n",
    )
    .unwrap_err();
    assert_eq!(err.errors.len(), 1);
    let e = &err.errors[0];
    assert_eq!(e.line, 6, "{e}");
    assert!(e.message.starts_with("yaml: "), "{e}");
}

#[test]
fn error_display_has_the_promtool_shape() {
    let e = RuleError {
        file: "f.yml".into(),
        line: 7,
        column: 15,
        group: Some("g".into()),
        rule_index: Some(1),
        rule_name: Some("x".into()),
        message: "could not parse expression: boom".into(),
    };
    assert_eq!(
        e.to_string(),
        r#"f.yml: 7:15: group "g", rule 1, "x": could not parse expression: boom"#
    );
    let bare = RuleError {
        line: 0,
        group: None,
        rule_index: None,
        rule_name: None,
        ..e.clone()
    };
    assert_eq!(bare.to_string(), "f.yml: could not parse expression: boom");
    let both = RuleFileError {
        errors: vec![e, bare],
    };
    assert_eq!(both.to_string().lines().count(), 2);
}
