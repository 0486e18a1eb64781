//! A reader and checker for Prometheus' promqltest scripts (the `.test` files of
//! `promql/promqltest/testdata`, format as of Prometheus v3.0.0), shared by the in-process
//! conformance runner and the one that goes through a node's HTTP API. It owns the script
//! syntax and Prometheus' rules for comparing results; it must not know how queries are
//! executed or where data is stored: a runner implements [`Target`].
//!
//! ```text
//!   .test text ──parse_script──▶ Script { Load | Clear | Eval }
//!                                        │
//!   run_script(script, &mut Target) ─────┤  Load  ──▶ Target::load   (MemQuerier / remote_write)
//!                                        │  Clear ──▶ Target::clear
//!                                        └─ Eval  ──▶ skip rules ─▶ EvalCommand::run
//!                                                      (Target::query, then EvalCommand::check)
//! ```
//!
//! Faithful to `promql/promqltest/test.go` at v3.0.0: blocks end at a blank line, `#` lines
//! are blank, an expected scalar or `expected_fail_*` line ends its block, floats compare with
//! `almost.Equal` (relative epsilon 1e-6, NaN equals NaN, a stale marker only equals a stale
//! marker), vectors match by label set (by position too for `eval_ordered`), and every
//! instant eval is also run as a range query over `[t-1m, t+1m]` step 1m and with `@ t`
//! added to its selectors at other evaluation times.

mod at_modifier;
mod check;
mod series_desc;
mod skip;

#[cfg(test)]
mod promqltest_test;

use std::fmt;

use regex::Regex;

use crate::engine::QueryResult;

pub use check::almost_equal;
pub use series_desc::{ScriptLabels, SeqValue, parse_duration_ms, parse_number, parse_series_desc};
pub use skip::{FEATURE_FLAG_SCRIPTS, NATIVE_HISTOGRAM_FUNCTIONS, SkipRules, script_feature_flag};

/// A script that does not follow the promqltest syntax; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{name}:{line}: {msg}")]
pub struct ParseError {
    pub name: String,
    pub line: usize,
    pub msg: String,
}

/// A parsed `.test` file.
#[derive(Debug, Clone)]
pub struct Script {
    pub name: String,
    pub commands: Vec<Command>,
}

#[derive(Debug, Clone)]
pub enum Command {
    Load(LoadCommand),
    /// Wipe all data; what follows starts from empty storage.
    Clear,
    Eval(EvalCommand),
}

/// `load <step>` (or `load_with_nhcb <step>`) and its series lines.
#[derive(Debug, Clone)]
pub struct LoadCommand {
    pub line: usize,
    pub step_ms: i64,
    /// `load_with_nhcb`: Prometheus also stores each classic histogram of the block as a
    /// native histogram with custom buckets (see [`LoadCommand::nhcb_series`]).
    pub with_nhcb: bool,
    pub series: Vec<LoadSeries>,
}

/// One series line of a load block.
#[derive(Debug, Clone)]
pub struct LoadSeries {
    pub line: usize,
    pub labels: ScriptLabels,
    pub values: Vec<SeqValue>,
}

impl LoadSeries {
    /// The float samples to store, value `i` at `i * step_ms` (omitted values and native
    /// histograms produce no sample; a `stale` value is the stale-marker NaN).
    pub fn float_samples(&self, step_ms: i64) -> Vec<cairn_model::Sample> {
        self.values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                SeqValue::Float(f) => Some(cairn_model::Sample {
                    t: i as i64 * step_ms,
                    v: *f,
                }),
                _ => None,
            })
            .collect()
    }

    pub fn has_histograms(&self) -> bool {
        self.values
            .iter()
            .any(|v| matches!(v, SeqValue::Histogram(_)))
    }
}

/// Where and how an eval's query runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalKind {
    Instant {
        at_ms: i64,
    },
    Range {
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    },
}

/// One query to execute.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub expr: String,
    pub kind: EvalKind,
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            EvalKind::Instant { at_ms } => write!(f, "instant at {at_ms}ms: {}", self.expr),
            EvalKind::Range {
                start_ms,
                end_ms,
                step_ms,
            } => write!(
                f,
                "range {start_ms}ms..{end_ms}ms step {step_ms}ms: {}",
                self.expr
            ),
        }
    }
}

/// What an eval expects.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// A bare number line: the result must be a scalar.
    Scalar(f64),
    /// Series lines (possibly none): the result must be a vector or matrix.
    Series(Vec<ExpectedSeries>),
}

/// One expected-result line: labels and values (one for instant evals, one per step for
/// range evals); `pos` is its 1-based position among the eval's lines (`eval_ordered`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedSeries {
    pub pos: usize,
    pub line: usize,
    pub labels: ScriptLabels,
    pub values: Vec<SeqValue>,
}

/// `eval[_fail|_warn|_info|_ordered] instant at <t> <expr>` or
/// `eval[_fail|_warn|_info] range from <t> to <t> step <d> <expr>`, with its expectations.
#[derive(Debug, Clone)]
pub struct EvalCommand {
    /// 1-based line of the `eval` command.
    pub line: usize,
    pub expr: String,
    pub kind: EvalKind,
    pub fail: bool,
    pub warn: bool,
    pub info: bool,
    pub ordered: bool,
    /// `expected_fail_message <text>`: the error must be exactly this.
    pub expected_fail_message: Option<String>,
    /// `expected_fail_regexp <re>`: the error must match (unanchored).
    pub expected_fail_regexp: Option<Regex>,
    pub expected: Expected,
}

impl EvalCommand {
    /// The query as the script states it.
    pub fn query(&self) -> Query {
        Query {
            expr: self.expr.clone(),
            kind: self.kind,
        }
    }
}

/// What a runner plugs in: storage to load, wipe and query. Errors are messages; a query
/// error is what the eval's expectations are checked against.
pub trait Target {
    fn clear(&mut self) -> Result<(), String>;
    fn load(&mut self, load: &LoadCommand) -> Result<(), String>;
    fn query(&mut self, query: &Query) -> Result<QueryResult, String>;
}

/// One eval (or load) that did not do what the script expects.
#[derive(Debug, Clone)]
pub struct Failure {
    pub line: usize,
    pub expr: String,
    pub why: String,
}

impl Failure {
    /// The reason with quoted text and numbers blanked, so that failures can be grouped.
    pub fn class(&self) -> String {
        let mut out = String::new();
        let mut quoted = false;
        let mut escaped = false;
        let mut prev = ' ';
        for c in self.why.chars() {
            if quoted {
                // Inside a `{:?}` string: skip to the closing quote, minding escapes.
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => quoted = false,
                    _ => {}
                }
            } else if c == '"' {
                out.push_str("\"…\"");
                quoted = true;
            } else if c.is_ascii_digit() || (c == '.' && prev.is_ascii_digit()) {
                if !prev.is_ascii_digit() && prev != '.' {
                    out.push('N');
                }
            } else {
                out.push(c);
            }
            prev = c;
        }
        // Long reasons end in result dumps that differ every time.
        out.chars().take(160).collect()
    }
}

/// Failure reasons grouped by [`Failure::class`], most frequent first.
pub fn failure_classes<'a>(
    failures: impl IntoIterator<Item = &'a Failure>,
) -> Vec<(usize, String)> {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for f in failures {
        *counts.entry(f.class()).or_default() += 1;
    }
    let mut v: Vec<(usize, String)> = counts.into_iter().map(|(k, n)| (n, k)).collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    v
}

/// One eval not run, and why.
#[derive(Debug, Clone)]
pub struct Skip {
    pub line: usize,
    pub expr: String,
    pub reason: String,
}

/// The outcome of one script.
#[derive(Debug, Clone, Default)]
pub struct ScriptReport {
    pub passed: usize,
    pub failures: Vec<Failure>,
    pub skips: Vec<Skip>,
}

/// What a run over many scripts found.
#[derive(Debug, Default)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// Runs every script file against `target` (cleared before each file) and prints each failure
/// and skip, one `promql <file>: P passed, F failed, S skipped` line per file, the failure
/// reasons grouped, and a `promql total (<label>): …` line.
pub fn run_script_files(
    files: &[std::path::PathBuf],
    label: &str,
    target: &mut dyn Target,
) -> Totals {
    let mut totals = Totals::default();
    let mut summary = Vec::new();
    let mut all_failures = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parsed = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))
            .and_then(|text| parse_script(&name, &text).map_err(|e| e.to_string()));
        let script = match parsed {
            Ok(s) => s,
            Err(e) => {
                println!("FAIL {e} (script does not parse)");
                summary.push(format!("promql {name}: does not parse"));
                totals.failed += 1;
                continue;
            }
        };
        if let Err(e) = target.clear() {
            println!("FAIL {name}: could not start from empty storage: {e}");
            totals.failed += 1;
            continue;
        }
        let report = run_script(&script, target);
        for f in &report.failures {
            println!("FAIL {name}:{} {}\n     {}", f.line, f.expr, f.why);
        }
        for s in &report.skips {
            println!("SKIP {name}:{} {} ({})", s.line, s.expr, s.reason);
        }
        summary.push(format!(
            "promql {name}: {} passed, {} failed, {} skipped",
            report.passed,
            report.failures.len(),
            report.skips.len()
        ));
        totals.passed += report.passed;
        totals.failed += report.failures.len();
        totals.skipped += report.skips.len();
        all_failures.extend(report.failures);
    }
    println!("failure reasons, most frequent first:");
    for (n, class) in failure_classes(&all_failures).iter().take(25) {
        println!("{n:6}  {class}");
    }
    for line in &summary {
        println!("{line}");
    }
    println!(
        "promql total ({label}): {} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.skipped
    );
    totals
}

/// The `.test` files of a directory, sorted by name.
pub fn script_files(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, String> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("reading {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no .test files in {}", dir.display()));
    }
    Ok(files)
}

/// `CAIRN_PROMQL_ALLOW_FAILURES=1`: the conformance runners report without asserting.
pub fn failures_allowed() -> bool {
    std::env::var("CAIRN_PROMQL_ALLOW_FAILURES").is_ok_and(|v| v == "1")
}

/// Runs every command of `script` against `target`, in order. A failed load is reported as
/// a failure at its line and the script goes on, so one problem does not hide the rest.
pub fn run_script(script: &Script, target: &mut dyn Target) -> ScriptReport {
    let mut report = ScriptReport::default();
    if let Some(flag) = script_feature_flag(&script.name) {
        for cmd in &script.commands {
            if let Command::Eval(eval) = cmd {
                report.skips.push(Skip {
                    line: eval.line,
                    expr: eval.expr.clone(),
                    reason: format!("feature flag {flag}"),
                });
            }
        }
        return report;
    }
    let mut skips = SkipRules::default();
    for cmd in &script.commands {
        skips.observe(cmd);
        match cmd {
            Command::Clear => {
                if let Err(why) = target.clear() {
                    report.failures.push(Failure {
                        line: 0,
                        expr: "clear".into(),
                        why,
                    });
                }
            }
            Command::Load(load) => {
                if let Err(why) = target.load(load) {
                    report.failures.push(Failure {
                        line: load.line,
                        expr: "load".into(),
                        why,
                    });
                }
            }
            Command::Eval(eval) => {
                if let Some(reason) = skips.skip_reason(eval) {
                    report.skips.push(Skip {
                        line: eval.line,
                        expr: eval.expr.clone(),
                        reason,
                    });
                    continue;
                }
                match eval.run(&mut |q| target.query(q)) {
                    Ok(()) => report.passed += 1,
                    Err(why) => report.failures.push(Failure {
                        line: eval.line,
                        expr: eval.expr.clone(),
                        why,
                    }),
                }
            }
        }
    }
    report
}

/// Parses a promqltest script. `name` is used in error messages.
pub fn parse_script(name: &str, text: &str) -> Result<Script, ParseError> {
    Reader::new(name, text).read()
}

struct Reader<'a> {
    name: &'a str,
    /// Trimmed lines, comment lines made empty (Prometheus' `getLines`).
    lines: Vec<&'a str>,
    pat_load: Regex,
    pat_instant: Regex,
    pat_range: Regex,
}

impl<'a> Reader<'a> {
    fn new(name: &'a str, text: &'a str) -> Self {
        let lines = text
            .split('\n')
            .map(|l| {
                let l = l.trim();
                if l.starts_with('#') { "" } else { l }
            })
            .collect();
        // The same patterns as test.go; Rust's regex has the same leftmost-first semantics
        // for the lazy `.+?`.
        let re = |s: &str| Regex::new(s).unwrap_or_else(|e| unreachable!("static regex: {e}"));
        Reader {
            name,
            lines,
            pat_load: re(r"^load(?:_(with_nhcb))?\s+(.+?)$"),
            pat_instant: re(
                r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$",
            ),
            pat_range: re(
                r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
            ),
        }
    }

    fn err(&self, i: usize, msg: impl Into<String>) -> ParseError {
        ParseError {
            name: self.name.to_string(),
            line: i + 1,
            msg: msg.into(),
        }
    }

    fn read(&self) -> Result<Script, ParseError> {
        let mut commands = Vec::new();
        let mut i = 0;
        while i < self.lines.len() {
            let l = self.lines[i];
            if l.is_empty() {
                i += 1;
                continue;
            }
            let word = l
                .split([' ', '\t'])
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let (next, cmd) = if word == "clear" {
                (i, Command::Clear)
            } else if word.starts_with("load") {
                let (n, c) = self.read_load(i)?;
                (n, Command::Load(c))
            } else if word.starts_with("eval") {
                let (n, c) = self.read_eval(i)?;
                (n, Command::Eval(c))
            } else {
                return Err(self.err(i, format!("invalid command {l:?}")));
            };
            commands.push(cmd);
            i = next + 1;
        }
        Ok(Script {
            name: self.name.to_string(),
            commands,
        })
    }

    /// Returns the index of the block's last line and the command.
    fn read_load(&self, i: usize) -> Result<(usize, LoadCommand), ParseError> {
        let caps = self.pat_load.captures(self.lines[i]).ok_or_else(|| {
            self.err(
                i,
                "invalid load command. (load[_with_nhcb] <step:duration>)",
            )
        })?;
        let with_nhcb = caps.get(1).is_some();
        let step = &caps[2];
        let step_ms = parse_duration_ms(step)
            .map_err(|e| self.err(i, format!("invalid step definition {step:?}: {e}")))?;
        let mut cmd = LoadCommand {
            line: i + 1,
            step_ms,
            with_nhcb,
            series: Vec::new(),
        };
        let mut j = i;
        while j + 1 < self.lines.len() && !self.lines[j + 1].is_empty() {
            j += 1;
            let (labels, values) = parse_series_desc(self.lines[j]).map_err(|e| self.err(j, e))?;
            // A later line for the same series replaces the earlier one (a Go map by hash).
            cmd.series.retain(|s| s.labels != labels);
            cmd.series.push(LoadSeries {
                line: j + 1,
                labels,
                values,
            });
        }
        Ok((j, cmd))
    }

    fn read_eval(&self, i: usize) -> Result<(usize, EvalCommand), ParseError> {
        let line = self.lines[i];
        let (modifier, expr, kind) = if let Some(c) = self.pat_instant.captures(line) {
            let at = c.get(2).map_or("", |m| m.as_str());
            let at_ms = parse_duration_ms(at).map_err(|e| {
                self.eval_err(
                    i,
                    &c[3],
                    format!("invalid timestamp definition {at:?}: {e}"),
                )
            })?;
            (
                c.get(1).map(|m| m.as_str().to_string()),
                c[3].to_string(),
                EvalKind::Instant { at_ms },
            )
        } else if let Some(c) = self.pat_range.captures(line) {
            let expr = &c[5];
            let dur = |idx: usize, what: &str| {
                parse_duration_ms(&c[idx]).map_err(|e| {
                    self.eval_err(
                        i,
                        expr,
                        format!("invalid {what} definition {:?}: {e}", &c[idx]),
                    )
                })
            };
            let start_ms = dur(2, "start timestamp")?;
            let end_ms = dur(3, "end timestamp")?;
            if end_ms < start_ms {
                return Err(self.eval_err(
                    i,
                    expr,
                    format!(
                        "invalid test definition, end timestamp ({}) is before start timestamp ({})",
                        &c[3], &c[2]
                    ),
                ));
            }
            let step_ms = dur(4, "step")?;
            (
                c.get(1).map(|m| m.as_str().to_string()),
                expr.to_string(),
                EvalKind::Range {
                    start_ms,
                    end_ms,
                    step_ms,
                },
            )
        } else {
            return Err(self.err(
                i,
                "invalid evaluation command. Must be either 'eval[_fail|_warn|_ordered] instant [at <offset:duration>] <query>' or 'eval[_fail|_warn] range from <from> to <to> step <step> <query>'",
            ));
        };
        // test.go rejects expressions Prometheus' parser rejects. Cairn's parser may differ
        // from Prometheus'; such an expression is left to the run, where it fails visibly.
        let mut cmd = EvalCommand {
            line: i + 1,
            expr,
            kind,
            fail: modifier.as_deref() == Some("fail"),
            warn: modifier.as_deref() == Some("warn"),
            info: modifier.as_deref() == Some("info"),
            ordered: modifier.as_deref() == Some("ordered"),
            expected_fail_message: None,
            expected_fail_regexp: None,
            expected: Expected::Series(Vec::new()),
        };
        let is_instant = matches!(kind, EvalKind::Instant { .. });
        let mut series: Vec<ExpectedSeries> = Vec::new();
        let mut j = i;
        let mut pos = 0;
        while j + 1 < self.lines.len() && !self.lines[j + 1].is_empty() {
            j += 1;
            pos += 1;
            let def = self.lines[j];
            if cmd.fail
                && let Some(rest) = def.strip_prefix("expected_fail_message")
            {
                cmd.expected_fail_message = Some(rest.trim().to_string());
                break;
            }
            if cmd.fail
                && let Some(rest) = def.strip_prefix("expected_fail_regexp")
            {
                let pattern = rest.trim();
                let re = Regex::new(pattern).map_err(|e| {
                    self.eval_err(
                        j,
                        &cmd.expr,
                        format!("invalid regexp '{pattern}' for expected_fail_regexp: {e}"),
                    )
                })?;
                cmd.expected_fail_regexp = Some(re);
                break;
            }
            if let Ok(f) = parse_number(def) {
                // A scalar expectation replaces whatever came before and ends the block.
                cmd.expected = Expected::Scalar(f);
                series.clear();
                break;
            }
            let (labels, values) = parse_series_desc(def).map_err(|e| self.err(j, e))?;
            if values.len() > 1 && is_instant {
                return Err(self.eval_err(
                    j,
                    &cmd.expr,
                    "expecting multiple values in instant evaluation not allowed",
                ));
            }
            series.retain(|s| s.labels != labels);
            series.push(ExpectedSeries {
                pos,
                line: j + 1,
                labels,
                values,
            });
        }
        if !matches!(cmd.expected, Expected::Scalar(_)) {
            cmd.expected = Expected::Series(series);
        }
        Ok((j, cmd))
    }

    fn eval_err(&self, i: usize, expr: &str, msg: impl fmt::Display) -> ParseError {
        self.err(i, format!("error in eval {expr}: {msg}"))
    }
}
