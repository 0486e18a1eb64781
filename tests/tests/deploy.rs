//! The deployment files in `deploy/`, checked by `tests/scripts/check_deploy.py` with the real
//! tools that run offline: `systemd-analyze verify` and `security` on the systemd unit,
//! Debian's `docker-compose config` on the Compose file, hadolint on the Dockerfile,
//! `kubernetes-validate --strict` on the Kubernetes manifest. On top of them, each file must
//! agree with the others and pass only flags that `cairn server --help` of this build lists.
//! A last test breaks copies of the files and expects every check to fail on them.
//! `scripts/setup.sh deploy` installs the tools (`make test` runs it).

use std::path::PathBuf;
use std::process::Command;

use cairn_tests::{cairn_bin, workspace_root};

/// Runs the checker with `args` against this build's binary; panics with its output on failure.
fn check_deploy(args: &[&str]) {
    let script: PathBuf = workspace_root().join("tests/scripts/check_deploy.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg("--cairn")
        .arg(cairn_bin())
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("running python3 (scripts/setup.sh deploy installs what the checks need)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "check_deploy.py {args:?} failed ({}):\n{stdout}{stderr}",
        out.status
    );
}

#[test]
fn systemd_unit_verifies_and_is_hardened() {
    check_deploy(&["systemd"]);
}

#[test]
fn compose_file_is_valid_and_its_nodes_agree() {
    check_deploy(&["compose"]);
}

#[test]
fn dockerfile_lints_clean_and_builds_the_cairn_binary() {
    check_deploy(&["docker"]);
}

#[test]
fn kubernetes_manifest_validates_and_gives_each_pod_its_node_id_and_join() {
    check_deploy(&["kubernetes"]);
}

#[test]
fn every_check_fails_on_broken_copies_of_the_files() {
    check_deploy(&["--self-test"]);
}
