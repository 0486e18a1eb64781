//! Every promtool conformance test file through `run_test_file`, with the verdict
//! `promtool test rules` gives (Debian's 2.42; for unittest.yml, v3.0's on the file without
//! its native-histogram cases).

use std::path::PathBuf;

use cairn_alerting::unittest::{TestFileReport, run_test_file};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/rules")
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(dir().join(path)).map_err(|e| format!("open {path}: {e}"))
}

fn run(file: &str) -> TestFileReport {
    let r = run_test_file(file, &read);
    eprintln!("{}", r.output);
    r
}

#[test]
fn passing_files_pass() {
    for f in [
        "at-modifier-test.yml",
        "long-period.yml",
        "negative-offset-test.yml",
    ] {
        let r = run(f);
        assert!(r.passed, "{f}:\n{}", r.output);
        assert_eq!(r.output, format!("Unit Testing:  {f}\n  SUCCESS\n\n"));
    }
}

#[test]
fn failing_files_fail() {
    for f in [
        "bad-input-series.yml",
        "bad-rules-error-test.yml",
        "bad-rules-syntax-test.yml",
        "failing.yml",
    ] {
        let r = run(f);
        assert!(!r.passed, "{f}:\n{}", r.output);
        assert!(r.output.contains("  FAILED:\n"), "{}", r.output);
    }
}

#[test]
fn bad_rules_name_the_rule_and_the_time() {
    let r = run("bad-rules-error-test.yml");
    assert!(
        r.output.contains("    rule: joined, time: 0s, err: "),
        "{}",
        r.output
    );
    let r = run("bad-rules-syntax-test.yml");
    assert!(
        r.output.contains("bad-rules-syntax.yml: 7:15: group \"bad-syntax\", rule 1, \"x\": could not parse expression"),
        "{}",
        r.output
    );
}

#[test]
fn failing_yml_reports_as_promtool() {
    let r = run("failing.yml");
    let want = r#"Unit Testing:  failing.yml
  FAILED:
    name: Failing test,
    alertname: Test, time: 0s, 
        exp:[
            0:
              Labels:{alertname="Test"}
              Annotations:{}
            ], 
        got:[]

    expr: "test", time: 0s,
        exp: {__name__="test"} 1E+00
        got: {__name__="test"} 0E+00

    name: Failing alert test,
    alertname: InstanceDown, time: 5m, 
        exp:[], 
        got:[
            0:
              Labels:{alertname="InstanceDown", job="test", severity="page"}
              Annotations:{description=" of job test has been down for more than 5 minutes.", summary="Instance  down"}
            ]

    name: Failing alert test,
    alertname: AlwaysFiring, time: 5m, 
        exp:[], 
        got:[
            0:
              Labels:{alertname="AlwaysFiring"}
              Annotations:{}
            ]


"#;
    assert_eq!(r.output, want);
}

/// unittest.yml: its first test uses native histograms and fails with that reason only;
/// without the histogram cases (v3.0's verdict) the whole file passes.
#[test]
fn unittest_yml_passes_but_for_native_histograms() {
    let r = run("unittest.yml");
    assert!(!r.passed);
    let (_, errors) = r.output.split_once("  FAILED:\n").expect("a failure");
    let failures: Vec<&str> = errors
        .split("\n\n")
        .filter(|s| !s.trim().is_empty())
        .collect();
    assert_eq!(failures.len(), 1, "{}", r.output);
    assert!(
        failures[0].contains("native histograms are not supported"),
        "{}",
        r.output
    );

    let text = read("unittest.yml").unwrap();
    let stripped = strip_histograms(&text);
    assert!(!stripped.contains("histogram"), "{stripped}");
    let reader = |p: &str| {
        if p == "unittest.yml" {
            Ok(stripped.clone())
        } else {
            read(p)
        }
    };
    let r = run_test_file("unittest.yml", &reader);
    assert!(r.passed, "{}", r.output);
}

/// Drops the `test_histogram*` input series and the promql tests on them (each is a YAML
/// list item: its lines up to the next item at the same indentation).
fn strip_histograms(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        let t = l.trim_start();
        let is_hist_item = (t.starts_with("- series: test_histogram")
            || t.starts_with("- expr: test_histogram"))
            && t.contains("test_histogram");
        if is_hist_item {
            let indent = l.len() - t.len();
            i += 1;
            while i < lines.len() {
                let n = lines[i];
                let nt = n.trim_start();
                let ni = n.len() - nt.len();
                if !nt.is_empty() && ni <= indent {
                    break;
                }
                i += 1;
            }
            continue;
        }
        if t == "# Histograms" {
            i += 1;
            continue;
        }
        out.push(l);
        i += 1;
    }
    out.join("\n") + "\n"
}

/// Our own failing tests (wrong labels, wrong annotations, an unexpected extra alert, a
/// wrong sample value, and a passing test beside them): the output is promtool's, byte
/// for byte (recorded from `promtool test rules` 2.42 into `own-failing.promtool.out`).
#[test]
fn own_failing_tests_report_as_promtool() {
    let own = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/unittest");
    let read_own =
        |p: &str| std::fs::read_to_string(own.join(p)).map_err(|e| format!("open {p}: {e}"));
    let r = run_test_file("own-failing.yml", &read_own);
    assert!(!r.passed);
    assert_eq!(r.output, read_own("own-failing.promtool.out").unwrap());
}

/// Our own passing file (recording feeding alerting across groups, `for`,
/// `keep_firing_for` holding an alert whose label set changed, templates with
/// `$externalLabels`, `$externalURL`, `humanize` and `query`, `ALERTS` and
/// `ALERTS_FOR_STATE`): `promtool test rules` 2.42 passes it.
#[test]
fn own_passing_tests_pass() {
    let own = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/unittest");
    let read_own =
        |p: &str| std::fs::read_to_string(own.join(p)).map_err(|e| format!("open {p}: {e}"));
    let r = run_test_file("own-passing.yml", &read_own);
    assert!(r.passed, "{}", r.output);
    assert_eq!(r.output, "Unit Testing:  own-passing.yml\n  SUCCESS\n\n");
}
