//! How rule evaluation expands label and annotation templates: the data a template sees
//! (`$labels`, `$value`, `$externalLabels`, `$externalURL`), a `query` function that runs
//! through the engine at the evaluation time, and Prometheus' rendering of a template
//! error as `<error expanding template: ERR>`.

use std::collections::BTreeMap;

use cairn_query::QueryEngine;

use crate::rule_store::RuleStore;

/// What one alert's templates see.
pub(super) struct Data<'a> {
    pub labels: &'a BTreeMap<String, String>,
    pub external_labels: &'a BTreeMap<String, String>,
    pub external_url: &'a str,
    pub value: f64,
}

/// Runs a template's `query` through the engine over the rule store at time `t`.
pub(super) struct EngineQuerier<'a> {
    pub engine: &'a QueryEngine,
    pub store: &'a dyn RuleStore,
    pub t: i64,
}

/// Expands `text`; a failure becomes the text Prometheus puts in its place.
pub(super) fn expand(
    name: &str,
    text: &str,
    data: &Data<'_>,
    querier: &EngineQuerier<'_>,
) -> String {
    match stand_in::expand(name, text, data, querier) {
        Ok(s) => s,
        Err(e) => format!("<error expanding template: {e}>"),
    }
}

/// TEMPORARY stand-in until branch `alert-template` (crate::template) is merged: expands only
/// `{{ $labels.NAME }}`, `{{ $externalLabels.NAME }}`, `{{ $value }}` and `{{ $externalURL }}`
/// and fails on anything else.
mod stand_in {
    use super::{Data, EngineQuerier};

    pub(super) fn expand(
        _name: &str,
        text: &str,
        data: &Data<'_>,
        _querier: &EngineQuerier<'_>,
    ) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            out.push_str(&rest[..open]);
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or("unclosed action")?;
            let action = after[..close].trim();
            if action.contains(['|', ' ', '(']) {
                return Err(format!("stand-in cannot expand {action:?}"));
            } else if let Some(n) = action.strip_prefix("$labels.") {
                out.push_str(data.labels.get(n).map(String::as_str).unwrap_or(""));
            } else if let Some(n) = action.strip_prefix("$externalLabels.") {
                out.push_str(
                    data.external_labels
                        .get(n)
                        .map(String::as_str)
                        .unwrap_or(""),
                );
            } else if action == "$value" {
                out.push_str(&data.value.to_string());
            } else if action == "$externalURL" {
                out.push_str(data.external_url);
            } else {
                return Err(format!("stand-in cannot expand {action:?}"));
            }
            rest = &after[close + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}
