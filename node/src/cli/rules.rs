//! `cairn rules`: check and unit-test rule files locally (as `promtool check rules` and
//! `promtool test rules`), apply them to a tenant, and list what a cluster holds.
//!
//! ```text
//!  check FILE...            ─► rule_file::check_report per file (promtool's output) ─► exit 1 on failure
//!  test FILE...             ─► unittest::run_test_file per file                     ─► exit 1 on failure
//!  apply --tenant T FILE... ─► the same checks, then PUT /api/v1/rules (all of T's groups)
//!  list [--tenant T]        ─► GET /api/v1/cluster/rules, or /api/v1/rules for one tenant
//! ```

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use cairn_alerting::rule_file::check_report;
use cairn_alerting::unittest::run_test_file;
use serde_json::Value;

use super::send;
use crate::api::rules::{NamedFile, RuleFiles};

#[derive(Debug, clap::Subcommand)]
pub enum RulesCmd {
    /// Validate rule files as `promtool check rules` does (exit 1 if one fails).
    Check(FilesArgs),
    /// Run rule unit-test files (promtool's format) as `promtool test rules` does.
    Test(FilesArgs),
    /// Validate rule files, then make their groups all of a tenant's rule groups.
    Apply(ApplyArgs),
    /// List rule groups: every tenant's, or one tenant's rules with health and alerts.
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
pub struct FilesArgs {
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Node to send to.
    #[arg(long, default_value = "http://127.0.0.1:7480", env = "CAIRN_URL")]
    pub url: String,
    /// Tenant whose rules these files become (sent as X-Scope-OrgID).
    #[arg(long, env = "CAIRN_TENANT")]
    pub tenant: String,
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Node to ask.
    #[arg(long, default_value = "http://127.0.0.1:7480", env = "CAIRN_URL")]
    pub url: String,
    /// Only this tenant, with each rule's type, health and alerts.
    #[arg(long, env = "CAIRN_TENANT")]
    pub tenant: Option<String>,
}

pub async fn run(cmd: RulesCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        RulesCmd::Check(a) => Ok(check(&a.files)),
        RulesCmd::Test(a) => Ok(test(&a.files)),
        RulesCmd::Apply(a) => apply(a).await,
        RulesCmd::List(a) => list(a).await.map(|()| ExitCode::SUCCESS),
    }
}

/// Reads a file given on the command line as text.
fn read(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn check(files: &[PathBuf]) -> ExitCode {
    let mut ok = true;
    for f in files {
        let (passed, report) = match read(f) {
            Ok(text) => check_report(&f.to_string_lossy(), &text),
            Err(e) => (
                false,
                format!("Checking {}\n  FAILED:\n{e}\n\n", f.display()),
            ),
        };
        // As promtool: `Checking F` and successes on standard output, failures on standard
        // error.
        match report.split_once('\n') {
            Some((head, rest)) if !passed => {
                println!("{head}");
                eprint!("{rest}");
            }
            _ => print!("{report}"),
        }
        ok &= passed;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn test(files: &[PathBuf]) -> ExitCode {
    let mut ok = true;
    for f in files {
        let reader = |p: &str| read(std::path::Path::new(p));
        let report = run_test_file(&f.to_string_lossy(), &reader);
        print!("{}", report.output);
        ok &= report.passed;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn apply(a: ApplyArgs) -> anyhow::Result<ExitCode> {
    // The same checks as `check` first: nothing is sent unless every file passes.
    let mut files = Vec::new();
    let mut ok = true;
    for f in &a.files {
        let name = f.to_string_lossy().into_owned();
        match read(f) {
            Ok(content) => {
                let (passed, report) = check_report(&name, &content);
                if !passed {
                    eprint!("{report}");
                    ok = false;
                }
                files.push(NamedFile { name, content });
            }
            Err(e) => {
                eprintln!("{e}");
                ok = false;
            }
        }
    }
    if !ok {
        return Ok(ExitCode::FAILURE);
    }
    let url = format!("{}/api/v1/rules", a.url.trim_end_matches('/'));
    let req = reqwest::Client::new()
        .put(&url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&RuleFiles { files })?);
    let resp = send(req, Some(&a.tenant), &a.url).await?;
    let groups = groups_of(resp, &url).await?;
    let mut out = String::new();
    let mut rules = 0;
    for g in &groups {
        let _ = writeln!(
            out,
            "{:<9} {}: group {:?} ({} rules)",
            g["change"].as_str().unwrap_or("?"),
            g["file"].as_str().unwrap_or("?"),
            g["name"].as_str().unwrap_or("?"),
            g["rules"].as_u64().unwrap_or(0)
        );
        if g["change"] != "deleted" {
            rules += g["rules"].as_u64().unwrap_or(0);
        }
    }
    let kept = groups.iter().filter(|g| g["change"] != "deleted").count();
    let _ = writeln!(
        out,
        "tenant {}: {kept} group(s), {rules} rule(s) applied",
        a.tenant
    );
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

async fn list(a: ListArgs) -> anyhow::Result<()> {
    let base = a.url.trim_end_matches('/');
    let client = reqwest::Client::new();
    let (path, tenant) = match &a.tenant {
        Some(t) => ("/api/v1/rules", Some(t.as_str())),
        None => ("/api/v1/cluster/rules", None),
    };
    let url = format!("{base}{path}");
    let resp = send(client.get(&url), tenant, &a.url).await?;
    let groups = groups_of(resp, &url).await?;
    print!(
        "{}",
        match tenant {
            None => cluster_table(&groups),
            Some(t) => tenant_table(t, &groups),
        }
    );
    Ok(())
}

/// Rows of `/api/v1/cluster/rules`: tenant, file, group, interval, rules.
pub fn cluster_table(groups: &[Value]) -> String {
    let rows: Vec<[String; 5]> = groups
        .iter()
        .map(|g| {
            [
                text(&g["tenant"]),
                text(&g["file"]),
                text(&g["group"]),
                seconds(&g["interval"]),
                g["rules"].as_u64().unwrap_or(0).to_string(),
            ]
        })
        .collect();
    table(&["TENANT", "FILE", "GROUP", "INTERVAL", "RULES"], &rows)
}

/// Rows of one tenant's `/api/v1/rules`: the group table, then one line per rule.
pub fn tenant_table(tenant: &str, groups: &[Value]) -> String {
    let group_rows: Vec<[String; 5]> = groups
        .iter()
        .map(|g| {
            [
                tenant.to_string(),
                text(&g["file"]),
                text(&g["name"]),
                seconds(&g["interval"]),
                g["rules"].as_array().map_or(0, Vec::len).to_string(),
            ]
        })
        .collect();
    let mut out = table(
        &["TENANT", "FILE", "GROUP", "INTERVAL", "RULES"],
        &group_rows,
    );
    let mut rule_rows: Vec<[String; 6]> = Vec::new();
    for g in groups {
        for r in g["rules"].as_array().into_iter().flatten() {
            let alerts = r["alerts"].as_array();
            let count = |state: &str| {
                alerts.map_or(0, |a| a.iter().filter(|x| x["state"] == state).count())
            };
            let is_alert = r["type"] == "alerting";
            rule_rows.push([
                text(&g["name"]),
                text(&r["name"]),
                text(&r["type"]),
                text(&r["health"]),
                if is_alert {
                    count("firing").to_string()
                } else {
                    "-".into()
                },
                if is_alert {
                    count("pending").to_string()
                } else {
                    "-".into()
                },
            ]);
        }
    }
    out.push('\n');
    out.push_str(&table(
        &["GROUP", "RULE", "TYPE", "HEALTH", "FIRING", "PENDING"],
        &rule_rows,
    ));
    out
}

/// The JSON a node answered (its error message when it is not JSON).
/// `data.groups` of a rules answer; an error status fails with the server's message.
async fn groups_of(resp: reqwest::Response, url: &str) -> anyhow::Result<Vec<Value>> {
    let status = resp.status();
    let text = resp
        .text()
        .await
        .with_context(|| format!("reading the answer of {url}"))?;
    let body: Value =
        serde_json::from_str(&text).with_context(|| format!("{url} answered {status}: {text}"))?;
    if !status.is_success() {
        bail!(
            "{status}: {}",
            body["error"].as_str().unwrap_or("(no message)")
        );
    }
    Ok(body["data"]["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn seconds(v: &Value) -> String {
    match v.as_f64() {
        Some(s) if s.fract() == 0.0 => format!("{s:.0}s"),
        Some(s) => format!("{s}s"),
        None => "?".into(),
    }
}

/// Left-aligned columns, two spaces apart.
fn table<const N: usize>(head: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == N {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(head.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tables_align_their_columns() {
        let groups = [
            json!({"tenant": "acme", "file": "a.yml", "group": "g", "rules": 2, "interval": 60.0}),
            json!({"tenant": "b", "file": "api", "group": "long-name", "rules": 1, "interval": 0.5}),
        ];
        assert_eq!(
            cluster_table(&groups),
            "TENANT  FILE   GROUP      INTERVAL  RULES\n\
             acme    a.yml  g          60s       2\n\
             b       api    long-name  0.5s      1\n"
        );
        let groups = [
            json!({"name": "g", "file": "a.yml", "interval": 60.0, "rules": [
                {"name": "Up", "type": "alerting", "health": "ok",
                 "alerts": [{"state": "firing"}, {"state": "pending"}, {"state": "firing"}]},
                {"name": "r", "type": "recording", "health": "unknown"},
            ]}),
        ];
        assert_eq!(
            tenant_table("acme", &groups),
            "TENANT  FILE   GROUP  INTERVAL  RULES\n\
             acme    a.yml  g      60s       2\n\
             \n\
             GROUP  RULE  TYPE       HEALTH   FIRING  PENDING\n\
             g      Up    alerting   ok       2       1\n\
             g      r     recording  unknown  -       -\n"
        );
    }
}
