//! Prometheus v3.0.0's own PromQL test scripts (`../shared/conformance/promql/*.test`) run
//! in-process: each `load` goes into a `MemQuerier`, each eval through `QueryEngine`, and
//! `cairn_query::promqltest` checks the results as Prometheus' promqltest does.
//!
//! Prints one line per file and every failure. Fails if any eval fails, unless
//! `CAIRN_PROMQL_ALLOW_FAILURES=1` (then it only reports).

use std::path::{Path, PathBuf};

use cairn_query::promqltest::{self, EvalKind, LoadCommand, Query, Target};
use cairn_query::{MemQuerier, QueryConfig, QueryEngine, QueryResult};
use cairn_storage::model::Labels;

/// The workspace root (this crate lives in `<root>/query`).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// `../shared` beside the clone, or `CAIRN_SHARED_DIR` (as `cairn_tests::shared_dir`).
fn shared_dir() -> PathBuf {
    std::env::var_os("CAIRN_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"))
}

struct InProcess {
    engine: QueryEngine,
    querier: MemQuerier,
}

impl Target for InProcess {
    fn clear(&mut self) -> Result<(), String> {
        self.querier.clear();
        Ok(())
    }

    fn load(&mut self, load: &LoadCommand) -> Result<(), String> {
        for s in &load.series {
            let labels = Labels::from_pairs(s.labels.iter().map(|(k, v)| (k.clone(), v.clone())))
                .map_err(|e| format!("line {}: {e}", s.line))?;
            let samples = s.float_samples(load.step_ms);
            if !samples.is_empty() {
                self.querier.add(labels, &samples);
            }
        }
        Ok(())
    }

    fn query(&mut self, q: &Query) -> Result<QueryResult, String> {
        let res = match q.kind {
            EvalKind::Instant { at_ms } => self.engine.instant(&self.querier, &q.expr, at_ms, None),
            EvalKind::Range {
                start_ms,
                end_ms,
                step_ms,
            } => self
                .engine
                .range(&self.querier, &q.expr, start_ms, end_ms, step_ms, None),
        };
        res.map_err(|e| e.to_string())
    }
}

#[test]
fn prometheus_promql_test_scripts() {
    let dir = shared_dir().join("conformance/promql");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {}", dir.display());

    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut summary = Vec::new();
    let mut all_failures = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let script = match promqltest::parse_script(&name, &text) {
            Ok(s) => s,
            Err(e) => {
                println!("FAIL {e} (script does not parse)");
                summary.push(format!("promql {name}: does not parse"));
                failed += 1;
                continue;
            }
        };
        let mut target = InProcess {
            engine: QueryEngine::new(QueryConfig::default()),
            querier: MemQuerier::new(),
        };
        let report = promqltest::run_script(&script, &mut target);
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
        passed += report.passed;
        failed += report.failures.len();
        skipped += report.skips.len();
        all_failures.extend(report.failures);
    }
    println!("failure reasons, most frequent first:");
    for (n, class) in promqltest::failure_classes(&all_failures).iter().take(25) {
        println!("{n:6}  {class}");
    }
    for line in &summary {
        println!("{line}");
    }
    println!("promql total (in-process): {passed} passed, {failed} failed, {skipped} skipped");

    let allow = std::env::var("CAIRN_PROMQL_ALLOW_FAILURES").is_ok_and(|v| v == "1");
    if !allow {
        assert_eq!(
            failed, 0,
            "{failed} PromQL conformance evals failed (set CAIRN_PROMQL_ALLOW_FAILURES=1 to only report)"
        );
    }
}
