//! promtool's rule unit tests (`promtool test rules`, cmd/promtool/unittest.go v3.0): a YAML
//! file names rule files, gives input series in promqltest's expanding notation and
//! expects alerts and PromQL results at given times. Runs on [`GroupEvaluator`] over a
//! [`MemRuleStore`], and reports as promtool does, so a failing test names the alert, the
//! time and the expected and actual labels.
//!
//! ```text
//!  test file ──yaml──► TestFile ──rule_files (relative to it)──► parse_rule_file
//!     for each test: input_series ──► MemRuleStore (lazily, up to each eval time)
//!                    every evaluation_interval 0..max eval_time: every group ──► group_eval
//!                    alert_rule_test (firing alerts) / promql_expr_test ──► errors
//! ```
//!
//! No I/O: the caller passes a reader for the test file and the rule files. Native
//! histograms (input series `{{...}}`, expected `histogram:`) fail their test with
//! "native histograms are not supported".
//!
//! [`GroupEvaluator`]: crate::group_eval::GroupEvaluator
//! [`MemRuleStore`]: crate::mem_rule_store::MemRuleStore

mod go_format;
mod test_file;
mod test_group;

#[cfg(test)]
#[path = "unittest/unittest_test.rs"]
mod unittest_test;

use std::collections::BTreeMap;

use crate::rule::RuleGroup;
use crate::rule_file::parse_rule_file;
use crate::yaml;

/// The verdict on one test file and what promtool would print for it.
#[derive(Debug, Clone, PartialEq)]
pub struct TestFileReport {
    pub passed: bool,
    pub output: String,
}

/// Runs the unit-test file at `path`; `read` returns a file's text (the test file, then
/// each rule file, by path).
pub fn run_test_file(path: &str, read: &dyn Fn(&str) -> Result<String, String>) -> TestFileReport {
    let mut output = format!("Unit Testing:  {path}\n");
    let errs = run(path, read, &mut output);
    if errs.is_empty() {
        output.push_str("  SUCCESS\n\n");
    } else {
        output.push_str("  FAILED:\n");
        for e in &errs {
            output.push_str(e);
            output.push_str("\n\n");
        }
        output.push('\n');
    }
    TestFileReport {
        passed: errs.is_empty(),
        output,
    }
}

/// The file's errors, promtool's texts; warnings go straight to `output`.
fn run(
    path: &str,
    read: &dyn Fn(&str) -> Result<String, String>,
    output: &mut String,
) -> Vec<String> {
    let text = match read(path) {
        Ok(t) => t,
        Err(e) => return vec![e],
    };
    let root = match yaml::parse(&text) {
        Ok(r) => r,
        Err(e) => return vec![format!("yaml: line {}: {}", e.line, e.message)],
    };
    let file = match test_file::decode(root.as_ref()) {
        Ok(f) => f,
        Err(e) => return vec![e],
    };

    let mut order: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, g) in file.group_eval_order.iter().enumerate() {
        if order.insert(g, i).is_some() {
            return vec![format!("group name repeated in evaluation order: {g}")];
        }
    }

    // promtool globs the rule files and only warns about a pattern that matches nothing;
    // a file we cannot read is such a pattern.
    let base = parent_dir(path);
    let mut groups: Vec<RuleGroup> = Vec::new();
    let mut rule_errors: Vec<String> = Vec::new();
    for rf in &file.rule_files {
        let resolved = if rf.is_empty() || rf.starts_with('/') {
            rf.clone()
        } else {
            join(base, rf)
        };
        match read(&resolved) {
            Ok(text) => match parse_rule_file(&resolved, &text) {
                Ok(f) => groups.extend(f.groups),
                Err(e) => rule_errors.extend(e.errors.iter().map(|e| e.to_string())),
            },
            Err(_) => output.push_str(&format!("  WARNING: no file match pattern {resolved}\n")),
        }
    }
    // Groups named in group_eval_order go in that order; the rest (order 0, as in promtool)
    // keep their file order.
    groups.sort_by_key(|g| order.get(g.name.as_str()).copied().unwrap_or(0));

    let eval_interval = match file.evaluation_interval_ms {
        0 => 60_000,
        ms => ms,
    };
    let mut errs = Vec::new();
    for mut tg in file.tests {
        if tg.interval_ms == 0 {
            tg.interval_ms = eval_interval;
        }
        // promtool loads the rule files for every test, so their errors repeat per test.
        if !rule_errors.is_empty() {
            errs.extend(rule_errors.iter().cloned());
            continue;
        }
        errs.extend(test_group::run(&tg, eval_interval, &groups));
    }
    errs
}

/// The directory part of a path ("" for a bare file name).
fn parent_dir(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "",
    }
}

/// Go's `filepath.Join`: joined and cleaned (`.` and `dir/..` removed).
fn join(base: &str, rel: &str) -> String {
    let full = if base.is_empty() {
        rel.to_string()
    } else {
        format!("{base}/{rel}")
    };
    let absolute = full.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for p in full.split('/') {
        match p {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}
