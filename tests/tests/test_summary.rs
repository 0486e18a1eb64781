//! `scripts/test-summary.sh`, which `make test` pipes cargo's output through, fails on its own
//! when that output shows a failed test, a crash or a compile error, and keeps its summary.
//! Canned cargo output goes in; the exit status and the summary come out. (The canned text
//! stays inside this process: printed, it would be judged by the script of the run itself.)

use std::io::Write;
use std::process::{Command, Stdio};

use cairn_tests::workspace_root;

/// Runs the script on `input`: (exit code, stdout).
fn summarize(input: &str) -> (i32, String) {
    let mut child = Command::new("bash")
        .arg(workspace_root().join("scripts/test-summary.sh"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running bash scripts/test-summary.sh");
    child
        .stdin
        .take()
        .expect("stdin pipe")
        .write_all(input.as_bytes())
        .expect("writing to the script");
    let out = child.wait_with_output().expect("waiting for the script");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Two test binaries that pass; with `--show-output`, one test's own output holds a caught
/// panic and an `error: ` line, which are the test's business, not failures.
const PASSING: &str = "\
   Compiling cairn-tests v0.1.0 (/src/tests)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 2.50s
     Running unittests src/lib.rs (target/debug/deps/cairn_storage-1)

running 2 tests
test head_chunk::tests::refuses_old ... ok
test codec::tests::round_trip ... ok

successes:

---- head_chunk::tests::refuses_old stdout ----

thread 'head_chunk::tests::refuses_old' panicked at storage/src/head_chunk.rs:10:5:
not after last_t
error: this line was printed by the test
signal: 9 was printed by the test too

successes:
    codec::tests::round_trip
    head_chunk::tests::refuses_old

test result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s

     Running tests/promql_conformance.rs (target/debug/deps/promql_conformance-2)

running 1 test
test prometheus_promql_test_scripts ... ok

successes:

---- prometheus_promql_test_scripts stdout ----
promql aggregators.test: 100 passed, 0 failed, 0 skipped
promql total (in-process): 652 passed, 0 failed, 56 skipped
kill -9 of node 2 (leader of shards 1,3): longest gap between acknowledged writes 4.1s

successes:
    prometheus_promql_test_scripts

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 3.00s

";

#[test]
fn passing_output_exits_zero_and_keeps_the_summary() {
    let (code, out) = summarize(PASSING);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with(PASSING),
        "the input is passed through: {out}"
    );
    let summary = &out[PASSING.len()..];
    assert!(
        summary.contains(
            "==== conformance ====\npromql aggregators.test: 100 passed, 0 failed, 0 skipped\n\
             promql total (in-process): 652 passed, 0 failed, 56 skipped\n"
        ),
        "{summary}"
    );
    assert!(
        summary.contains("==== measured ====\nkill -9 of node 2"),
        "{summary}"
    );
    assert!(
        summary.ends_with("tests: 3 passed, 0 failed, 1 skipped\n"),
        "{summary}"
    );
}

#[test]
fn a_failed_test_exits_non_zero() {
    let input = "\
running 2 tests
test a ... ok
test b ... FAILED

failures:

---- b stdout ----

thread 'b' panicked at tests/x.rs:3:5:
assertion failed

failures:
    b

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: test failed, to rerun pass `--test x`
";
    let (code, out) = summarize(input);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("tests: 1 passed, 1 failed, 0 skipped"),
        "{out}"
    );
    let problems = out.split("==== FAILED ====\n").nth(1).unwrap_or_default();
    assert!(
        problems.starts_with("failures:\n")
            && problems.contains("\ntest result: FAILED. 1 passed; 1 failed"),
        "{out}"
    );
}

#[test]
fn a_crash_exits_non_zero() {
    // A test binary killed by a signal prints no result line of its own.
    let crashed = "\
     Running tests/cluster.rs (target/debug/deps/cluster-3)

running 1 test
error: test failed, to rerun pass `-p cairn-tests --test cluster`

Caused by:
  process didn't exit successfully: `target/debug/deps/cluster-3` (signal: 11, SIGSEGV: invalid memory reference)
";
    let (code, out) = summarize(&format!("{PASSING}{crashed}"));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("process didn't exit successfully"), "{out}");
    // Only the signal, with no cargo line around it, is enough too.
    let (code, out) = summarize(&format!(
        "{PASSING}  process didn't exit successfully: `x` (signal: 9, SIGKILL: kill)\n"
    ));
    assert_eq!(code, 1, "{out}");
}

#[test]
fn a_panic_outside_a_test_harness_exits_non_zero() {
    let input = format!(
        "{PASSING}     Running tests/harnessless.rs (target/debug/deps/harnessless-4)\n\
         thread 'main' (4242) panicked at tests/harnessless.rs:2:5:\nno harness\n"
    );
    let (code, out) = summarize(&input);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("==== FAILED ====\nthread 'main' (4242) panicked at"),
        "{out}"
    );
}

#[test]
fn a_compile_error_exits_non_zero() {
    let input = "\
   Compiling cairn-query v0.1.0 (/src/query)
error[E0425]: cannot find value `x` in this scope
 --> query/src/engine.rs:1:1
error: could not compile `cairn-query` (lib) due to 1 previous error
";
    let (code, out) = summarize(input);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error[E0425]"), "{out}");
    assert!(
        out.contains("tests: 0 passed, 0 failed, 0 skipped"),
        "{out}"
    );
    // A cargo error of another kind, after tests that passed.
    let (code, out) = summarize(&format!("{PASSING}error: no such command: `tset`\n"));
    assert_eq!(code, 1, "{out}");
}

#[test]
fn output_without_any_test_result_exits_non_zero() {
    let (code, out) = summarize("");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no test binary ran"), "{out}");
}
