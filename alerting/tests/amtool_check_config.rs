//! The differential test of `alertmanager.yml` checking: for every file in
//! `testdata/amconfig/` the real `amtool check-config` (Debian's Alertmanager 0.25) and
//! `AlertmanagerConfig::parse` must give the same verdict. Files using what 0.25 does not
//! know (Teams, WhatsApp, `alertmanager_configs`, Cairn's extensions, integrations Cairn
//! refuses) live in `cairn-only/` and are checked against Cairn alone.
//!
//! Each file's name says its verdict (`good-*` / `bad-*`), and a bad file's first line
//! names the key Cairn's error must point at (`# key: route.routes[1].receiver`; empty for
//! errors that belong to no key, such as YAML syntax).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_alerting::notify::AlertmanagerConfig;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/amconfig")
}

fn yml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    files
}

/// The verdict the file's name promises, and for a bad file the key from its first line.
fn expectation(path: &Path, text: &str) -> (bool, Option<String>) {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if name.starts_with("good-") {
        return (true, None);
    }
    assert!(
        name.starts_with("bad-"),
        "{name}: test files are named good-* or bad-*"
    );
    let key = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# key:"))
        .map(|k| k.trim().to_string())
        .unwrap_or_else(|| panic!("{name}: a bad file starts with `# key: <path>`"));
    (false, Some(key))
}

/// Cairn's verdict and its messages.
fn cairn(text: &str) -> (bool, Vec<(String, String)>) {
    match AlertmanagerConfig::parse(text, BTreeMap::new()) {
        Ok(_) => (true, Vec::new()),
        Err(errors) => (
            false,
            errors
                .iter()
                .map(|e| (e.path.clone(), e.to_string()))
                .collect(),
        ),
    }
}

fn amtool() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("amtool"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("amtool is not installed: run `scripts/setup.sh alertmanager` (Debian's prometheus-alertmanager 0.25)")
    })
}

/// Checks the bad file's errors name its key; returns a complaint or None.
fn check_key(name: &str, key: &Option<String>, errors: &[(String, String)]) -> Option<String> {
    let key = key.as_ref()?;
    if errors.iter().any(|(path, _)| path == key) {
        None
    } else {
        Some(format!(
            "{name}: no error names `{key}`; Cairn said:\n    {}",
            errors
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("\n    ")
        ))
    }
}

#[test]
fn cairn_and_amtool_agree_on_every_file() {
    let amtool = amtool();
    let files = yml_files(&testdata());
    assert!(files.len() >= 40, "only {} files", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (expect_ok, key) = expectation(path, &text);
        let out = Command::new(&amtool)
            .arg("check-config")
            .arg(path)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", amtool.display()));
        let am_ok = out.status.success();
        let am_said = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let (cairn_ok, errors) = cairn(&text);
        let cairn_said = errors
            .iter()
            .map(|(_, m)| m.as_str())
            .collect::<Vec<_>>()
            .join("\n    ");
        if am_ok != cairn_ok {
            failures.push(format!(
                "{name}: amtool {} but Cairn {}\n  amtool: {am_said}\n  Cairn:  {cairn_said}",
                if am_ok { "accepts" } else { "rejects" },
                if cairn_ok { "accepts" } else { "rejects" },
            ));
        } else if am_ok != expect_ok {
            failures.push(format!(
                "{name}: both {} it, against its name\n  amtool: {am_said}",
                if am_ok { "accept" } else { "reject" }
            ));
        }
        failures.extend(check_key(&name, &key, &errors));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn cairn_only_files_get_their_expected_verdict_and_key() {
    let files = yml_files(&testdata().join("cairn-only"));
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (expect_ok, key) = expectation(path, &text);
        let (cairn_ok, errors) = cairn(&text);
        if cairn_ok != expect_ok {
            let said = errors
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("\n    ");
            failures.push(format!(
                "{name}: Cairn {} it\n    {said}",
                if cairn_ok { "accepts" } else { "rejects" }
            ));
        }
        failures.extend(check_key(&name, &key, &errors));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
