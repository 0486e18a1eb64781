//! Renders an integration's template fields against one notification's data, naming the
//! field in errors.

use super::data::Data;
use super::templates::Templates;
use crate::template::{GoTime, Value};

pub struct Renderer<'a> {
    templates: &'a Templates,
    value: Value,
    now: GoTime,
    /// Whether any alert fires (`.Status` is `firing`).
    pub firing: bool,
}

impl<'a> Renderer<'a> {
    pub fn new(templates: &'a Templates, data: &Data, now_ms: i64) -> Renderer<'a> {
        Renderer {
            templates,
            value: data.to_value(),
            now: GoTime::from_unix_millis(now_ms),
            firing: data.status == "firing",
        }
    }

    /// text/template rendering of `field`'s template source.
    pub fn text(&self, field: &str, text: &str) -> Result<String, String> {
        self.templates
            .render(text, &self.value, &self.now, false)
            .map_err(|e| format!("{field}: {e}"))
    }

    /// html/template rendering (e-mail HTML bodies, Telegram's HTML parse mode).
    pub fn html(&self, field: &str, text: &str) -> Result<String, String> {
        self.templates
            .render(text, &self.value, &self.now, true)
            .map_err(|e| format!("{field}: {e}"))
    }
}
