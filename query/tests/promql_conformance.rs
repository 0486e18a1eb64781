//! Prometheus v3.0.0's own PromQL test scripts (`tests/conformance/promql/*.test`) run
//! in-process: each `load` goes into a `MemQuerier`, each eval through `QueryEngine`, and
//! `cairn_query::promqltest` checks the results as Prometheus' promqltest does.
//!
//! Prints one line per file and every failure. Fails if any eval fails or the numbers of evals
//! passed and skipped are not exactly the expected ones, unless `CAIRN_PROMQL_ALLOW_FAILURES=1`
//! (then it only reports).

use std::path::{Path, PathBuf};

use cairn_model::Labels;
use cairn_query::promqltest::{self, EvalKind, LoadCommand, Query, Target};
use cairn_query::{MemQuerier, QueryConfig, QueryEngine, QueryResult};

/// The workspace's copy of Prometheus' scripts (this crate lives in `<root>/query`).
fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/promql")
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
    let files = promqltest::script_files(&scripts_dir()).unwrap();

    let mut target = InProcess {
        engine: QueryEngine::new(QueryConfig::default()),
        querier: MemQuerier::new(),
    };
    let totals = promqltest::run_script_files(&files, "in-process", &mut target);
    if !promqltest::failures_allowed() {
        assert_eq!(
            totals.failed, 0,
            "{} PromQL conformance evals failed (set CAIRN_PROMQL_ALLOW_FAILURES=1 to only report)",
            totals.failed
        );
        // Every eval either passes or is skipped for a reason in
        // `tests/conformance/promql-skips.md`, so a widened skip rule or a lost eval changes
        // these numbers. After a deliberate change (new scripts, a narrower rule) set them to
        // the `promql total` line printed above, in tests/tests/promql_conformance.rs too, and
        // update the table in promql-skips.md.
        assert_eq!(
            (totals.passed, totals.skipped),
            (652, 56),
            "PromQL evals (passed, skipped)"
        );
    }
}
