//! How rule evaluation expands label and annotation templates: the data a template sees
//! (`$labels`, `$value`, `$externalLabels`, `$externalURL`, through
//! [`crate::template::expand_alert_text`]), a `query` function that runs through the engine
//! over the rule store at the evaluation time, and Prometheus' rendering of a template error
//! as `<error expanding template: ERR>`.

use std::collections::BTreeMap;

use cairn_query::{QueryEngine, QueryValue};

use crate::rule_store::RuleStore;
use crate::template::{AlertTemplateData, QuerySample, TemplateQuerier, expand_alert_text};

/// Runs a template's `query` through the engine over the rule store at time `t` (ms), with
/// Prometheus' `EngineQueryFunc` conversions (a scalar is one sample without labels).
pub(super) struct EngineQuerier<'a> {
    pub engine: &'a QueryEngine,
    pub store: &'a dyn RuleStore,
    pub t: i64,
}

impl TemplateQuerier for EngineQuerier<'_> {
    fn query(&self, expr: &str) -> Result<Vec<QuerySample>, String> {
        let res = self
            .engine
            .instant(self.store.querier(), expr, self.t, None)
            .map_err(|e| e.to_string())?;
        match res.value {
            QueryValue::Vector(v) => Ok(v
                .into_iter()
                .map(|e| QuerySample {
                    labels: e
                        .labels
                        .iter()
                        .map(|l| (l.name.clone(), l.value.clone()))
                        .collect::<BTreeMap<_, _>>(),
                    value: e.sample.v,
                })
                .collect()),
            QueryValue::Scalar(s) => Ok(vec![QuerySample {
                labels: BTreeMap::new(),
                value: s.v,
            }]),
            _ => Err("rule result is not a vector or scalar".to_string()),
        }
    }

    fn eval_time(&self) -> Option<f64> {
        Some(self.t as f64 / 1000.0)
    }
}

/// Expands `text` of the rule's template `name` (`__alert_NAME`); a failure becomes the
/// text Prometheus puts in its place.
pub(super) fn expand(
    name: &str,
    text: &str,
    data: &AlertTemplateData<'_>,
    querier: &EngineQuerier<'_>,
) -> String {
    match expand_alert_text(name, text, data, Some(querier)) {
        Ok(s) => s,
        Err(e) => format!("<error expanding template: {}>", e.message),
    }
}
