//! The body of `PUT /api/v1/alerts/config` and the answer of `GET`: either a plain
//! `alertmanager.yml`, or Mimir's form (its `/api/v1/alerts` body):
//!
//! ```yaml
//! template_files:
//!   default.tmpl: '{{ define "x" }}...{{ end }}'
//! alertmanager_config: |
//!   route: ...
//! ```
//! A plain file has no `alertmanager_config` key (Alertmanager refuses unknown keys), so the
//! two are told apart by that key alone.

use std::collections::BTreeMap;

use yaml_rust2::{Yaml, YamlEmitter, YamlLoader};

use super::config::{AlertmanagerConfig, ConfigError};
use super::ip_allow_list::IpAllowList;
use super::payload::Templates;

/// A configuration as uploaded: the `alertmanager.yml` text and its template files by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigUpload {
    pub alertmanager_config: String,
    pub template_files: BTreeMap<String, String>,
}

impl ConfigUpload {
    /// Reads either form. A body that is not YAML is taken as a plain file (the configuration
    /// parser then reports where it breaks); the error names a bad key of Mimir's form.
    pub fn from_body(text: &str) -> Result<ConfigUpload, ConfigError> {
        let plain = || ConfigUpload {
            alertmanager_config: text.to_string(),
            template_files: BTreeMap::new(),
        };
        let Ok(docs) = YamlLoader::load_from_str(text) else {
            return Ok(plain());
        };
        let Some(Yaml::Hash(top)) = docs.first() else {
            return Ok(plain());
        };
        let Some(config) = top.get(&Yaml::String("alertmanager_config".into())) else {
            return Ok(plain());
        };
        let Yaml::String(config) = config else {
            return Err(error(
                "alertmanager_config",
                "must be the configuration as a string",
            ));
        };
        let mut upload = ConfigUpload {
            alertmanager_config: config.clone(),
            template_files: BTreeMap::new(),
        };
        for (k, v) in top {
            match k.as_str() {
                Some("alertmanager_config") => {}
                Some("template_files") => upload.template_files = template_files(v)?,
                Some(other) => {
                    return Err(error(
                        other,
                        "unknown key (expected alertmanager_config and template_files)",
                    ));
                }
                None => return Err(error(&format!("{k:?}"), "keys must be strings")),
            }
        }
        Ok(upload)
    }

    /// Validates the configuration as `PUT /api/v1/alerts/config` and `cairn alerts config
    /// check` do: the file, its templates, and `external_alerts.allowed_ips`. Every error.
    pub fn validate(&self) -> Result<AlertmanagerConfig, Vec<ConfigError>> {
        let config =
            AlertmanagerConfig::parse(&self.alertmanager_config, self.template_files.clone())?;
        let mut errors = Vec::new();
        if let Err(message) = Templates::new(&config) {
            errors.push(ConfigError {
                path: "templates".into(),
                line: 0,
                column: 0,
                message,
            });
        }
        if let Some(ext) = &config.external_alerts
            && let Err(message) = IpAllowList::parse(&ext.allowed_ips)
        {
            errors.push(ConfigError {
                path: "external_alerts.allowed_ips".into(),
                line: 0,
                column: 0,
                message,
            });
        }
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }

    /// Mimir's form as YAML (what `GET /api/v1/alerts/config` answers). Each text is a
    /// literal block when that reads back exactly, else a quoted string.
    pub fn to_yaml(&self) -> String {
        let mut out = String::from("template_files:");
        if self.template_files.is_empty() {
            out.push_str(" {}");
        }
        for (name, text) in &self.template_files {
            out.push_str(&format!("\n  {}: {}", scalar(name), block(text, 4)));
        }
        out.push_str(&format!(
            "\nalertmanager_config: {}\n",
            block(&self.alertmanager_config, 2)
        ));
        out
    }
}

/// The `templates:` globs of an `alertmanager.yml` (empty when it has none or is not YAML),
/// for a client that collects the files they name before uploading.
pub fn template_globs(alertmanager_yml: &str) -> Vec<String> {
    let Ok(docs) = YamlLoader::load_from_str(alertmanager_yml) else {
        return Vec::new();
    };
    docs.first()
        .and_then(|d| d["templates"].as_vec())
        .map(|v| {
            v.iter()
                .filter_map(|g| g.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `text` as a YAML flow scalar (quoted when it must be).
fn scalar(text: &str) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = YamlEmitter::new(&mut out).dump(&Yaml::String(text.to_string()));
    out.strip_prefix("---\n").unwrap_or(&out).to_string()
}

/// `text` as a literal block indented by `indent` (with the chomping indicator that keeps its
/// trailing newlines), or as a quoted scalar when the block would not read back the same.
fn block(text: &str, indent: usize) -> String {
    if !text.contains('\n') {
        return scalar(text);
    }
    let body = text.trim_end_matches('\n');
    let chomp = match text.len() - body.len() {
        0 => "-",
        1 => "",
        _ => "+",
    };
    // A first line that starts with a space needs the indentation stated (relative to the
    // key's, which is always 2 less here).
    let indicator = if body.starts_with(' ') {
        "2".to_string()
    } else {
        String::new()
    };
    let pad = " ".repeat(indent);
    let mut out = format!("|{indicator}{chomp}");
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    for _ in 1..(text.len() - body.len()) {
        out.push('\n');
    }
    // Read it back at the same depth: under `k:` when indented by 4.
    let probe = if indent > 2 {
        format!("k:\n{}v: {out}\n", " ".repeat(indent - 2))
    } else {
        format!("v: {out}\n")
    };
    let reads_back = YamlLoader::load_from_str(&probe).ok().is_some_and(|docs| {
        docs.first().and_then(|d| {
            if indent > 2 {
                d["k"]["v"].as_str()
            } else {
                d["v"].as_str()
            }
        }) == Some(text)
    });
    if reads_back { out } else { scalar(text) }
}

fn error(path: &str, message: &str) -> ConfigError {
    ConfigError {
        path: path.to_string(),
        line: 0,
        column: 0,
        message: message.to_string(),
    }
}

fn template_files(v: &Yaml) -> Result<BTreeMap<String, String>, ConfigError> {
    match v {
        Yaml::Null => Ok(BTreeMap::new()),
        Yaml::Hash(h) => h
            .iter()
            .map(|(k, v)| {
                let name = k.as_str().filter(|n| !n.is_empty()).ok_or_else(|| {
                    error(
                        "template_files",
                        &format!("{k:?}: a file name must be a non-empty string"),
                    )
                })?;
                let text = v.as_str().ok_or_else(|| {
                    error(
                        &format!("template_files.{name}"),
                        "must be the template's text",
                    )
                })?;
                Ok((name.to_string(), text.to_string()))
            })
            .collect(),
        _ => Err(error(
            "template_files",
            "must map file names to template texts",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AM: &str = "route:\n  receiver: team\nreceivers:\n  - name: team\n";

    #[test]
    fn a_plain_file_is_the_configuration() {
        let u = ConfigUpload::from_body(AM).unwrap();
        assert_eq!(u.alertmanager_config, AM);
        assert!(u.template_files.is_empty());
        // Not YAML at all: left for the configuration parser to report.
        let u = ConfigUpload::from_body("route: [").unwrap();
        assert_eq!(u.alertmanager_config, "route: [");
    }

    #[test]
    fn mimirs_form_round_trips_through_get() {
        let u = ConfigUpload {
            alertmanager_config: AM.into(),
            template_files: BTreeMap::from([
                (
                    "a.tmpl".to_string(),
                    "{{ define \"x\" }}\n  hi {{ .Status }}\n{{ end }}\n".to_string(),
                ),
                ("b.tmpl".to_string(), "  leading spaces\n\n\n".to_string()),
            ]),
        };
        let yaml = u.to_yaml();
        assert!(yaml.contains("alertmanager_config: |\n  route:"), "{yaml}");
        assert!(
            yaml.contains("b.tmpl: |2+\n      leading spaces\n\n\n"),
            "{yaml}"
        );
        assert_eq!(ConfigUpload::from_body(&yaml).unwrap(), u);
    }

    #[test]
    fn lists_the_template_globs() {
        let yml = "templates:\n  - 'templates/*.tmpl'\n  - extra.tmpl\nroute: {receiver: a}\n";
        assert_eq!(template_globs(yml), ["templates/*.tmpl", "extra.tmpl"]);
        assert!(template_globs(AM).is_empty());
        assert!(template_globs("[").is_empty());
    }

    #[test]
    fn mimirs_form_names_a_bad_key() {
        let e = ConfigUpload::from_body("alertmanager_config: x\ntemplates: {}\n").unwrap_err();
        assert_eq!(e.path, "templates");
        assert!(e.to_string().starts_with("templates: unknown key"), "{e}");
        let e = ConfigUpload::from_body("alertmanager_config: x\ntemplate_files: {a: [1]}\n")
            .unwrap_err();
        assert_eq!(e.path, "template_files.a");
        let e = ConfigUpload::from_body("alertmanager_config: {route: {}}\n").unwrap_err();
        assert_eq!(e.path, "alertmanager_config");
    }
}
