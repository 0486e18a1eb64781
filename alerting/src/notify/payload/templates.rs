//! A tenant's notification templates: Cairn's defaults (`default.tmpl`, with Alertmanager's
//! template names) overlaid with the configuration's `template_files`, in name order, a
//! later definition replacing an earlier one as Alertmanager's loading does.

use std::collections::BTreeMap;

use super::functions::AlertmanagerFunctions;
use crate::notify::config::{AlertmanagerConfig, GlobalConfig};
use crate::template::{GoTime, Template, Value};

/// Cairn's default templates.
pub const DEFAULT_TEMPLATES: &str = include_str!("default.tmpl");

pub struct Templates {
    set: Template,
    /// The configuration's `global:`, whose settings integrations fall back on.
    pub(crate) global: GlobalConfig,
}

impl Templates {
    pub fn new(config: &AlertmanagerConfig) -> Result<Templates, String> {
        Templates::with_files(&config.global, &config.template_files)
    }

    /// The defaults plus `files` (name to text); an error names the file (Go's parse error
    /// starts `template: NAME:LINE:`).
    pub fn with_files(
        global: &GlobalConfig,
        files: &BTreeMap<String, String>,
    ) -> Result<Templates, String> {
        let funcs = parse_funcs();
        let mut set = Template::parse("default.tmpl", DEFAULT_TEMPLATES, &funcs)
            .map_err(|e| format!("default templates: {}", e.message))?;
        for (name, text) in files {
            set.add(name, text, &funcs)
                .map_err(|e| format!("template file {name}: {}", e.message))?;
        }
        Ok(Templates {
            set,
            global: global.clone(),
        })
    }

    /// Alertmanager's `ExecuteTextString` / `ExecuteHTMLString`: `text` parsed beside the
    /// set's templates (so it may call them) and executed with `data`; empty text is empty.
    pub fn render(
        &self,
        text: &str,
        data: &Value,
        now: &GoTime,
        html: bool,
    ) -> Result<String, String> {
        if text.is_empty() {
            return Ok(String::new());
        }
        let funcs = AlertmanagerFunctions { now: now.clone() };
        let mut set = self.set.clone();
        set.add("", text, &funcs).map_err(|e| e.message)?;
        let out = if html {
            set.execute_html("", data, &funcs)
        } else {
            set.execute("", data, &funcs)
        };
        out.map_err(|e| e.message)
    }

    /// Whether a template of that name is defined (defaults or the tenant's).
    pub fn has_template(&self, name: &str) -> bool {
        self.set.has_template(name)
    }
}

fn parse_funcs() -> AlertmanagerFunctions {
    AlertmanagerFunctions {
        now: GoTime::zero(),
    }
}
