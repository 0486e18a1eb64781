//! `cairn rules check` and `cairn rules test` against the real `promtool` (Debian's
//! `prometheus` package, installed by scripts/setup.sh): on every file of Prometheus' own
//! rule test data (tests/conformance/rules/, unchanged upstream copies) and on Cairn's own
//! cases (tests/testdata/rules/), both tools run and must give the same verdict. For failing
//! unit tests, Cairn's report must carry the facts promtool's does: the alert or expression,
//! the evaluation time, and the expected and actual labels, annotations and values.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use cairn_tests::{cairn_bin, conformance_dir, ensure_installed, workspace_root};

/// Runs `program args file` in the file's directory (rule_files are relative to it).
fn run(program: &Path, args: &[&str], file: &Path) -> anyhow::Result<(bool, String)> {
    let dir = file.parent().context("file has a directory")?;
    let name = file.file_name().context("file name")?;
    let out = Command::new(program)
        .args(args)
        .arg(name)
        .current_dir(dir)
        .output()
        .with_context(|| format!("running {}", program.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

fn yml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    v.sort();
    v
}

/// A unit-test file (promtool's format) rather than a rule file.
fn is_test_file(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .map(|t| t.lines().any(|l| l.starts_with("tests:")))
        .unwrap_or(false)
}

fn rule_dirs() -> Vec<PathBuf> {
    vec![
        conformance_dir().join("rules"),
        workspace_root().join("tests/testdata/rules"),
    ]
}

/// A unit-test file without its native-histogram cases: every innermost YAML list item (one
/// with no list inside) that holds a `histogram:` key or native-histogram `values:` (`{{...}}`
/// notation) is dropped, with its lines.
fn without_histogram_cases(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.trim_start().starts_with("- ") {
            let d = indent(l);
            let mut j = i + 1;
            while j < lines.len() && (lines[j].trim().is_empty() || indent(lines[j]) > d) {
                j += 1;
            }
            let block = &lines[i..j];
            let nested = block[1..].iter().any(|x| x.trim_start().starts_with("- "));
            let histogram = block.iter().map(|x| x.trim_start()).any(|x| {
                x.starts_with("histogram:") || (x.starts_with("values:") && x.contains("{{"))
            });
            if !nested && histogram {
                i = j;
                continue;
            }
        }
        out.push(l);
        i += 1;
    }
    out.join("\n") + "\n"
}

/// Lines of a unit-test report that state facts (alert, time, labels, values), trimmed.
fn fact_lines(report: &str) -> Vec<String> {
    report
        .lines()
        .map(str::trim)
        .filter(|l| {
            [
                "alertname:",
                "Labels:",
                "Annotations:",
                "expr:",
                "exp:",
                "got:",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .map(|l| unordered_series_lists(l.trim_end_matches(',').trim()))
        .collect()
}

/// A line with its `[{...}, {...}]` series lists sorted: Prometheus' many-to-many error names
/// the two series in the order its storage returned them, which varies between promtool runs.
fn unordered_series_lists(line: &str) -> String {
    let (Some(open), Some(close)) = (line.find("[{"), line.find("}]")) else {
        return line.to_string();
    };
    if close < open {
        return line.to_string();
    }
    let inner = &line[open + 2..close];
    let mut items: Vec<&str> = inner.split("}, {").collect();
    items.sort_unstable();
    format!(
        "{}[{{{}}}]{}",
        &line[..open],
        items.join("}, {"),
        &line[close + 2..]
    )
}

#[test]
fn rules_check_agrees_with_promtool_on_every_file() {
    let promtool = ensure_installed("promtool", "prometheus").unwrap();
    let cairn = cairn_bin();
    let mut checked = 0;
    let mut disagree = Vec::new();
    for dir in rule_dirs() {
        for file in yml_files(&dir) {
            let (want, p_out) = run(&promtool, &["check", "rules"], &file).unwrap();
            let (got, c_out) = run(&cairn, &["rules", "check"], &file).unwrap();
            checked += 1;
            if want != got {
                disagree.push(format!(
                    "{}: promtool {}, cairn {}\n--- promtool:\n{p_out}\n--- cairn:\n{c_out}",
                    file.display(),
                    if want { "passes" } else { "fails" },
                    if got { "passes" } else { "fails" },
                ));
            }
        }
    }
    // 16 upstream files + Cairn's own 10 rule files and 5 unit-test files (a lost file or a
    // new one must change this count).
    assert_eq!(checked, 31, "files checked");
    assert!(disagree.is_empty(), "{}", disagree.join("\n\n"));
}

#[test]
fn rules_test_agrees_with_promtool_on_every_test_file() {
    let promtool = ensure_installed("promtool", "prometheus").unwrap();
    let cairn = cairn_bin();
    let mut tested = 0;
    let mut disagree = Vec::new();
    for dir in rule_dirs() {
        for file in yml_files(&dir).into_iter().filter(|f| is_test_file(f)) {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let (p_ok, p_out) = run(&promtool, &["test", "rules"], &file).unwrap();
            tested += 1;
            let (want, (c_ok, c_out)) = if name == "unittest.yml" {
                // Debian's promtool 2.42 rejects this file only for its native-histogram
                // `histogram:` fields (Prometheus 2.45+). Cairn has no native histograms: the
                // reference is promtool v3.0's verdict on the file without those cases, which
                // is a pass (upstream's own suite runs it), and Cairn runs that file.
                assert!(
                    p_out.contains("field histogram not found"),
                    "promtool 2.42 fails unittest.yml for another reason:\n{p_out}"
                );
                let (c_ok, c_out) = run(&cairn, &["rules", "test"], &file).unwrap();
                assert!(
                    !c_ok && c_out.contains("native histograms are not supported"),
                    "cairn should refuse the histogram cases by name:\n{c_out}"
                );
                let tmp = tempfile::tempdir().unwrap();
                let text = std::fs::read_to_string(&file).unwrap();
                let stripped = tmp.path().join("unittest.yml");
                std::fs::write(&stripped, without_histogram_cases(&text)).unwrap();
                std::fs::copy(dir.join("rules.yml"), tmp.path().join("rules.yml")).unwrap();
                (true, run(&cairn, &["rules", "test"], &stripped).unwrap())
            } else {
                (p_ok, run(&cairn, &["rules", "test"], &file).unwrap())
            };
            if want != c_ok {
                disagree.push(format!(
                    "{}: expected {}, cairn {}\n--- promtool:\n{p_out}\n--- cairn:\n{c_out}",
                    file.display(),
                    if want { "pass" } else { "fail" },
                    if c_ok { "passes" } else { "fails" },
                ));
                continue;
            }
            // A failing unit test names the same alerts, times, labels and values.
            if !p_ok && name != "unittest.yml" {
                let facts = fact_lines(&p_out);
                let ours = fact_lines(&c_out);
                let missing: Vec<&String> = facts.iter().filter(|l| !ours.contains(l)).collect();
                if !missing.is_empty() {
                    disagree.push(format!(
                        "{}: cairn's report lacks {missing:?}\n--- promtool:\n{p_out}\n--- cairn:\n{c_out}",
                        file.display()
                    ));
                }
            }
        }
    }
    // 9 upstream unit-test files + 5 of Cairn's own.
    assert_eq!(tested, 14, "unit-test files run");
    assert!(disagree.is_empty(), "{}", disagree.join("\n\n"));
}

/// Files that use what Debian's promtool 2.42 predates (`query_offset`) or Cairn's own simple
/// rule kinds: checked with Cairn alone, for the verdict and the compiled PromQL.
#[test]
fn rules_check_accepts_cairn_only_files_and_shows_compiled_promql() {
    let cairn = cairn_bin();
    let dir = workspace_root().join("tests/testdata/rules/cairn-only");
    let (ok, out) = run(&cairn, &["rules", "check"], &dir.join("query-offset.yml")).unwrap();
    assert!(ok, "{out}");
    let (ok, out) = run(&cairn, &["rules", "check"], &dir.join("simple-kinds.yml")).unwrap();
    assert!(ok, "{out}");
    for promql in [
        r#"cpu_usage_user{env="prod"} > 90"#,
        "disk_used",
        "avg_over_time(net_bytes_recv[1h])",
        "unless",
    ] {
        assert!(out.contains(promql), "{promql:?} not shown in:\n{out}");
    }
    let (ok, out) = run(
        &cairn,
        &["rules", "check"],
        &dir.join("bad-simple-kind.yml"),
    )
    .unwrap();
    assert!(!ok, "a threshold without `op` passed:\n{out}");
    assert!(out.contains("op"), "the error does not name `op`:\n{out}");
    assert!(
        out.contains("NoOp"),
        "the error does not name the rule:\n{out}"
    );
}
