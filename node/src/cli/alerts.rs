//! `cairn alerts config`: a tenant's notification configuration (Alertmanager's format).
//!
//! ```text
//!  check FILE              ─► local validation, as `amtool check-config` (exit 1 on errors)
//!  apply --tenant T FILE   ─► FILE + the files its `templates:` globs name (relative to
//!                             FILE's directory), checked, sent in Mimir's form
//!                             ─► PUT /api/v1/alerts/config
//!  show --tenant T         ─► GET /api/v1/alerts/config (Mimir's form, YAML)
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use cairn_alerting::notify::config_upload::{ConfigUpload, template_globs};
use serde_json::Value;

use super::send;

#[derive(Debug, clap::Subcommand)]
pub enum AlertsCmd {
    /// The notification configuration (alertmanager.yml) of a tenant.
    #[command(subcommand)]
    Config(ConfigCmd),
}

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCmd {
    /// Validate an alertmanager.yml and its templates locally, as `amtool check-config` (exit 1 on errors).
    Check(CheckArgs),
    /// Validate, then make an alertmanager.yml (with the templates it names) a tenant's configuration.
    Apply(ApplyArgs),
    /// Print a tenant's configuration in Mimir's form (alertmanager_config and template_files).
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    pub file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Node to send to.
    #[arg(long, default_value = "http://127.0.0.1:7480", env = "CAIRN_URL")]
    pub url: String,
    /// Tenant whose configuration this becomes (sent as X-Scope-OrgID).
    #[arg(long, env = "CAIRN_TENANT")]
    pub tenant: String,
    pub file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Node to ask.
    #[arg(long, default_value = "http://127.0.0.1:7480", env = "CAIRN_URL")]
    pub url: String,
    /// Tenant (sent as X-Scope-OrgID).
    #[arg(long, env = "CAIRN_TENANT")]
    pub tenant: String,
}

pub async fn run(cmd: AlertsCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        AlertsCmd::Config(ConfigCmd::Check(a)) => Ok(check(&a.file)),
        AlertsCmd::Config(ConfigCmd::Apply(a)) => apply(a).await,
        AlertsCmd::Config(ConfigCmd::Show(a)) => show(a).await.map(|()| ExitCode::SUCCESS),
    }
}

/// FILE as an upload: a plain alertmanager.yml with the files its `templates:` globs name
/// (keyed by their path relative to FILE's directory, as the globs name them), or a file
/// already in Mimir's form.
pub fn read_upload(file: &Path) -> anyhow::Result<ConfigUpload> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut upload =
        ConfigUpload::from_body(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let dir = file.parent().unwrap_or(Path::new("."));
    for pattern in template_globs(&upload.alertmanager_config) {
        for rel in expand_glob(dir, &pattern)? {
            let path = if Path::new(&rel).is_absolute() {
                PathBuf::from(&rel)
            } else {
                dir.join(&rel)
            };
            let body = std::fs::read_to_string(&path)
                .with_context(|| format!("reading template {}", path.display()))?;
            upload.template_files.insert(rel, body);
        }
    }
    Ok(upload)
}

fn check(file: &Path) -> ExitCode {
    let upload = match read_upload(file) {
        Ok(u) => u,
        Err(e) => {
            println!("Checking '{}'  FAILED: {e:#}", file.display());
            return ExitCode::FAILURE;
        }
    };
    match upload.validate() {
        Ok(config) => {
            println!("Checking '{}'  SUCCESS", file.display());
            println!("Found:");
            println!(" - global config");
            println!(" - route");
            println!(" - {} inhibit rules", config.inhibit_rules.len());
            println!(" - {} receivers", config.receivers.len());
            println!(" - {} templates", upload.template_files.len());
            for name in upload.template_files.keys() {
                println!("  SUCCESS  {name}");
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            println!("Checking '{}'  FAILED:", file.display());
            for e in &errors {
                eprintln!("  {e}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn apply(a: ApplyArgs) -> anyhow::Result<ExitCode> {
    let upload = read_upload(&a.file)?;
    // Nothing is sent unless it validates here too.
    if let Err(errors) = upload.validate() {
        eprintln!("{}: the configuration is not valid:", a.file.display());
        for e in &errors {
            eprintln!("  {e}");
        }
        return Ok(ExitCode::FAILURE);
    }
    let url = format!("{}/api/v1/alerts/config", a.url.trim_end_matches('/'));
    let req = reqwest::Client::new()
        .put(&url)
        .header(reqwest::header::CONTENT_TYPE, "application/yaml")
        .body(upload.to_yaml());
    let resp = send(req, Some(&a.tenant), &a.url).await?;
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
    let receivers = body["data"]["receivers"].as_array().map_or(0, Vec::len);
    println!(
        "tenant {}: configuration applied ({receivers} receiver(s), {} template file(s))",
        a.tenant,
        upload.template_files.len()
    );
    Ok(ExitCode::SUCCESS)
}

async fn show(a: ShowArgs) -> anyhow::Result<()> {
    let url = format!("{}/api/v1/alerts/config", a.url.trim_end_matches('/'));
    let resp = send(reqwest::Client::new().get(&url), Some(&a.tenant), &a.url).await?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .with_context(|| format!("reading the answer of {url}"))?;
    if !status.is_success() {
        let msg = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or(text);
        bail!("{status}: {msg}");
    }
    print!("{text}");
    Ok(())
}

/// The files `pattern` names under `dir` (Go's `filepath.Glob`: `*`, `?` and `[...]` within
/// one path component), as paths relative to `dir` written as the pattern writes them
/// (absolute when it is), sorted. A pattern without wildcards names its file as it is.
pub fn expand_glob(dir: &Path, pattern: &str) -> anyhow::Result<Vec<String>> {
    let absolute = pattern.starts_with('/');
    let mut found: Vec<String> = vec![if absolute { "/".into() } else { String::new() }];
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        let mut next = Vec::new();
        for prefix in &found {
            let join = |name: &str| {
                if prefix.is_empty() || prefix.ends_with('/') {
                    format!("{prefix}{name}")
                } else {
                    format!("{prefix}/{name}")
                }
            };
            if !part.contains(['*', '?', '[']) {
                next.push(join(part));
                continue;
            }
            let on_disk = if absolute {
                PathBuf::from(prefix)
            } else {
                dir.join(prefix)
            };
            let Ok(entries) = std::fs::read_dir(&on_disk) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| glob_match(part, n))
                .collect();
            names.sort();
            next.extend(names.iter().map(|n| join(n)));
        }
        found = next;
    }
    let mut out: Vec<String> = found
        .into_iter()
        .filter(|p| {
            let path = if absolute {
                PathBuf::from(p)
            } else {
                dir.join(p)
            };
            // A literal name must exist only when it is a file the config needs: let
            // reading it report a missing one; wildcards only match what exists.
            !pattern.contains(['*', '?', '[']) || path.is_file()
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Whether `name` matches one glob component (`*`, `?`, `[abc]`, `[a-z]`, `[^x]`).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(end) = p.iter().skip(1).position(|&c| c == ']').map(|i| i + 1) else {
                    return n.first() == Some(&'[') && go(&p[1..], &n[1..]);
                };
                let Some(&c) = n.first() else { return false };
                let mut class = &p[1..end];
                let negated = matches!(class.first(), Some('^' | '!'));
                if negated {
                    class = &class[1..];
                }
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= c && c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == c;
                        i += 1;
                    }
                }
                hit != negated && go(&p[end + 1..], &n[1..])
            }
            Some(&c) => n.first() == Some(&c) && go(&p[1..], &n[1..]),
        }
    }
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_components_match_as_go() {
        assert!(glob_match("*.tmpl", "slack.tmpl"));
        assert!(!glob_match("*.tmpl", "slack.tmpl.bak"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[^a-c]x", "bx"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn collects_the_templates_a_config_names_relative_to_its_directory() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join("templates"))?;
        std::fs::write(dir.path().join("templates/a.tmpl"), "A")?;
        std::fs::write(dir.path().join("templates/b.tmpl"), "B")?;
        std::fs::write(dir.path().join("templates/notes.txt"), "x")?;
        std::fs::write(dir.path().join("extra.tmpl"), "E")?;
        let file = dir.path().join("alertmanager.yml");
        std::fs::write(
            &file,
            "templates:\n  - 'templates/*.tmpl'\n  - extra.tmpl\nroute: {receiver: a}\nreceivers: [{name: a}]\n",
        )?;
        let upload = read_upload(&file)?;
        let names: Vec<(&str, &str)> = upload
            .template_files
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("extra.tmpl", "E"),
                ("templates/a.tmpl", "A"),
                ("templates/b.tmpl", "B")
            ]
        );
        // A literal name that does not exist is an error naming it.
        std::fs::write(&file, "templates: [missing.tmpl]\n")?;
        let e = read_upload(&file).unwrap_err();
        assert!(format!("{e:#}").contains("missing.tmpl"), "{e:#}");
        Ok(())
    }
}
