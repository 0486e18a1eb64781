//! `cairn rules check FILE`: the report for one file, as `promtool check rules` prints it
//! (`Checking F`, then `  SUCCESS: N rules found` or `  FAILED:` and one error per line,
//! then a blank line), and the verdict. Duplicate rules are a lint: reported as promtool
//! reports them, but the file still passes (promtool's default, without `--lint-fatal`).
//! Cairn adds one line per simple-kind rule showing the PromQL it compiled to.

use std::fmt::Write as _;

use super::{find_duplicates, parse_rule_file};
use crate::rule::Rule;

/// What `cairn rules check FILE` prints for one file, and whether the file passed.
pub fn check_report(path: &str, text: &str) -> (bool, String) {
    let mut out = format!("Checking {path}\n");
    let file = match parse_rule_file(path, text) {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(out, "  FAILED:\n{e}\n");
            return (false, out);
        }
    };
    let dups = find_duplicates(&file.groups);
    if !dups.is_empty() {
        let _ = writeln!(
            out,
            "  FAILED:\nlint error {} duplicate rule(s) found.",
            dups.len()
        );
        for d in &dups {
            let _ = writeln!(out, "Metric: {}\nLabel(s):", d.metric);
            for (k, v) in &d.labels {
                let _ = writeln!(out, "\t{k}: {v}");
            }
        }
        out.push_str("Might cause inconsistency while recording expressions\n\n");
        return (true, out);
    }
    let n: usize = file.groups.iter().map(|g| g.rules.len()).sum();
    let _ = writeln!(out, "  SUCCESS: {n} rules found");
    for g in &file.groups {
        for r in &g.rules {
            if let Rule::Alerting(a) = r
                && let Some(k) = &a.kind
            {
                let _ = writeln!(
                    out,
                    "  group {:?}, alert {:?} (kind {}): {}",
                    g.name, a.alert, k.kind, a.expr
                );
            }
        }
    }
    out.push('\n');
    (true, out)
}
