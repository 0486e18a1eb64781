//! The unit-test runner on small in-memory files: decoding, ordering, lazy loading,
//! promtool's messages.

use std::collections::BTreeMap;

use super::*;

/// Runs `test` (as `dir/t.yml`) with rule files from `files`.
fn run_with(test: &str, files: &[(&str, &str)]) -> TestFileReport {
    let mut m: BTreeMap<String, String> = files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    m.insert("dir/t.yml".to_string(), test.to_string());
    run_test_file("dir/t.yml", &|p: &str| {
        m.get(p)
            .cloned()
            .ok_or_else(|| format!("open {p}: no such file"))
    })
}

const RULES: &str = r#"
groups:
  - name: first
    rules:
      - record: a
        expr: vector(1)
  - name: second
    rules:
      - record: b
        expr: a * 10
"#;

#[test]
fn rule_files_are_relative_to_the_test_file_and_a_missing_one_warns() {
    let t = r#"
rule_files: [rules.yml, ./sub/../rules.yml, missing.yml]
tests:
  - promql_expr_test:
      - expr: b
        eval_time: 0
        exp_samples: [{labels: 'b', value: 10}]
"#;
    let r = run_with(t, &[("dir/rules.yml", RULES)]);
    assert!(
        r.output
            .contains("  WARNING: no file match pattern dir/missing.yml\n"),
        "{}",
        r.output
    );
    // rules.yml twice: two groups named `first` etc. from the same path; they write the same
    // samples, so the test still passes.
    assert!(r.passed, "{}", r.output);
}

#[test]
fn group_eval_order_decides_which_group_sees_the_other() {
    let t = |order: &str| {
        format!(
            r#"
rule_files: [rules.yml]
group_eval_order: {order}
tests:
  - promql_expr_test:
      - expr: b
        eval_time: 0
        exp_samples: [{{labels: 'b', value: 10}}]
"#
        )
    };
    // `second` first: at 0 it finds no `a` yet, so there is no `b` at 0.
    let r = run_with(&t("[second, first]"), &[("dir/rules.yml", RULES)]);
    assert!(!r.passed);
    assert!(r.output.contains("        got: nil"), "{}", r.output);
    let r = run_with(&t("[first, second]"), &[("dir/rules.yml", RULES)]);
    assert!(r.passed, "{}", r.output);
    let r = run_with(&t("[first, first]"), &[("dir/rules.yml", RULES)]);
    assert!(
        r.output
            .contains("group name repeated in evaluation order: first"),
        "{}",
        r.output
    );
}

#[test]
fn unknown_fields_are_errors_with_their_line() {
    let t = "tests:\n  - interval: 1m\n    nosuch: 1\n    promql_expr_test:\n      - expr: x\n        wrong: 2\n";
    let r = run_with(t, &[]);
    assert!(!r.passed);
    assert!(
        r.output.contains(
            "yaml: unmarshal errors:\n  line 3: field nosuch not found in type main.testGroup\n  line 6: field wrong not found in type main.promqlTestCase"
        ),
        "{}",
        r.output
    );
}

#[test]
fn values_are_read_as_written() {
    // `0x10` is "0 repeated 10 times" to promqltest, not the YAML integer 16.
    let t = r#"
tests:
  - input_series:
      - series: up
        values: 0x10
    promql_expr_test:
      - expr: count_over_time(up[10m])
        eval_time: 10m
        exp_samples: [{value: 10}]
"#;
    let r = run_with(t, &[]);
    assert!(r.passed, "{}", r.output);
}

#[test]
fn input_series_load_lazily() {
    // A rule evaluated at 0 with `@ 120` sees only the sample at 0 (within the lookback):
    // the one at 2m is loaded when evaluation reaches 2m (promqltest's lazy loader).
    let rules = "groups:\n  - name: g\n    rules:\n      - record: early\n        expr: x @ 120\n";
    let t = r#"
rule_files: [r.yml]
tests:
  - input_series:
      - series: x
        values: 1 2 3
    promql_expr_test:
      - expr: early
        eval_time: 0
        exp_samples: [{labels: early, value: 1}]
      - expr: early
        eval_time: 2m
        exp_samples: [{labels: early, value: 3}]
"#;
    let r = run_with(t, &[("dir/r.yml", rules)]);
    assert!(r.passed, "{}", r.output);
}

#[test]
fn only_firing_alerts_count_and_checks_use_the_covering_evaluation() {
    let rules = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x > 0\n        for: 2m\n";
    let t = r#"
rule_files: [r.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: x
        values: 1x10
    alert_rule_test:
      - {eval_time: 1m, alertname: A, exp_alerts: []}
      - {eval_time: 2m, alertname: A, exp_alerts: [{}]}
      - {eval_time: 1m59s, alertname: A, exp_alerts: []}
"#;
    let r = run_with(t, &[("dir/r.yml", rules)]);
    assert!(r.passed, "{}", r.output);
}

#[test]
fn a_missing_alertname_is_an_error() {
    let t = "tests:\n  - name: n\n    alert_rule_test:\n      - eval_time: 1m\n";
    let r = run_with(t, &[]);
    assert!(
        r.output.contains(
            "an item under alert_rule_test misses required attribute alertname at eval_time 1m (in TestGroup n)"
        ),
        "{}",
        r.output
    );
}

#[test]
fn native_histograms_fail_their_test_only() {
    let t = r#"
tests:
  - input_series:
      - series: h
        values: '{{sum:1 count:1}}'
  - promql_expr_test:
      - expr: vector(1)
        exp_samples: [{histogram: '{{sum:1 count:1}}'}]
  - promql_expr_test:
      - expr: vector(1)
        exp_samples: [{value: 1}]
"#;
    let r = run_with(t, &[]);
    assert!(!r.passed);
    assert_eq!(
        r.output
            .matches("native histograms are not supported")
            .count(),
        2,
        "{}",
        r.output
    );
}

#[test]
fn rule_file_errors_repeat_for_every_test() {
    let rules = "groups:\n  - name: g\n    rules:\n      - record: x\n        expr: 'up +'\n";
    let t = "rule_files: [r.yml]\ntests:\n  - {}\n  - {}\n";
    let r = run_with(t, &[("dir/r.yml", rules)]);
    assert_eq!(
        r.output.matches("could not parse expression").count(),
        2,
        "{}",
        r.output
    );
}

#[test]
fn an_evaluation_error_stops_the_test_at_once() {
    let rules = "groups:\n  - name: g\n    rules:\n      - record: dup\n        expr: label_replace(x, \"a\", \"\", \"\", \"\")\n";
    let t = r#"
rule_files: [r.yml]
tests:
  - input_series:
      - series: 'x{a="1"}'
        values: 1x5
      - series: 'x{a="2"}'
        values: _ 1x5
    promql_expr_test:
      - expr: nothing_to_see
        eval_time: 5m
        exp_samples: [{value: 1}]
"#;
    let r = run_with(t, &[("dir/r.yml", rules)]);
    assert!(!r.passed);
    assert!(
        r.output.contains("    rule: dup, time: 1m0s, err: "),
        "{}",
        r.output
    );
    assert!(!r.output.contains("nothing_to_see"), "{}", r.output);
}

#[test]
fn paths_join_as_go() {
    assert_eq!(join("dir", "rules.yml"), "dir/rules.yml");
    assert_eq!(join("", "rules.yml"), "rules.yml");
    assert_eq!(join("a/b", "../c.yml"), "a/c.yml");
    assert_eq!(join("a", "./b/./c.yml"), "a/b/c.yml");
    assert_eq!(join("/", "x.yml"), "/x.yml");
    assert_eq!(parent_dir("a/b/t.yml"), "a/b");
    assert_eq!(parent_dir("t.yml"), "");
}

#[test]
fn wrong_kinds_and_bad_values_are_errors() {
    let t = "rule_files: rules.yml\ntests:\n  - interval: soon\n    external_labels: [a]\n";
    let r = run_with(t, &[]);
    assert!(!r.passed);
    assert!(
        r.output
            .contains("line 1: cannot unmarshal !!str into a list"),
        "{}",
        r.output
    );
    assert!(
        r.output
            .contains("line 3: not a valid duration string: \"soon\""),
        "{}",
        r.output
    );
    assert!(
        r.output
            .contains("line 4: cannot unmarshal !!seq into map[string]string"),
        "{}",
        r.output
    );
    let r = run_with("tests: [\n", &[]);
    assert!(r.output.contains("  FAILED:\nyaml: line "), "{}", r.output);
}

#[test]
fn bad_expected_labels_and_bad_expressions_name_the_expression() {
    let t = r#"
tests:
  - promql_expr_test:
      - expr: vector(1)
        eval_time: 1m
        exp_samples: [{labels: '{a=', value: 1}]
      - expr: 'up +'
        eval_time: 2m
        exp_samples: []
      - expr: '"text"'
        eval_time: 3m
"#;
    let r = run_with(t, &[]);
    assert!(!r.passed);
    assert!(
        r.output
            .contains("    expr: \"vector(1)\", time: 1m, err: labels \"{a=\": "),
        "{}",
        r.output
    );
    assert!(
        r.output.contains("    expr: \"up +\", time: 2m, err: "),
        "{}",
        r.output
    );
    assert!(
        r.output.contains(
            "    expr: \"\\\"text\\\"\", time: 3m, err: rule result is not a vector or scalar"
        ),
        "{}",
        r.output
    );
}

#[test]
fn sample_values_compare_exactly() {
    let t = |v: &str| {
        format!(
            "tests:\n  - promql_expr_test:\n      - expr: vector(0.1 + 0.2)\n        exp_samples: [{{value: {v}}}]\n"
        )
    };
    assert!(run_with(&t("0.30000000000000004"), &[]).passed);
    let r = run_with(&t("0.3"), &[]);
    assert!(!r.passed);
    assert!(
        r.output
            .contains("exp: {} 3E-01\n        got: {} 3.0000000000000004E-01"),
        "{}",
        r.output
    );
}
