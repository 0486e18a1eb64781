//! Rule groups as Cairn holds them once a rule file is parsed and validated: the shape of
//! Prometheus' `rulefmt` (groups of alerting and recording rules), plus where each came from
//! (file and line) for error messages, and for a simple rule kind its source form.
//!
//! These types are what the meta group stores (as JSON) and what evaluation runs; they are
//! plain data, built by `rule_file` and checked there.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One rule group: rules evaluated in order at the group's evaluation timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleGroup {
    /// The file the group came from (Prometheus' `file` in `/api/v1/rules`).
    pub file: String,
    pub name: String,
    /// `interval`, in ms; `None`: the evaluation interval in force (default 60 s).
    pub interval_ms: Option<i64>,
    /// `query_offset`, in ms; `None`: the default (0).
    pub query_offset_ms: Option<i64>,
    /// `limit`: at most this many alerts per alerting rule / series per recording rule
    /// (0: no limit).
    pub limit: u64,
    pub rules: Vec<Rule>,
    /// Line of the group's `name:` in the file (1-based; 0 when unknown).
    pub line: usize,
}

impl RuleGroup {
    /// Prometheus' group key: `file;name`. Unique within a tenant.
    pub fn key(&self) -> String {
        format!("{};{}", self.file, self.name)
    }
}

/// An alerting or a recording rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Rule {
    Alerting(AlertingRule),
    Recording(RecordingRule),
}

impl Rule {
    /// The alert name or the recorded metric name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Alerting(r) => &r.alert,
            Rule::Recording(r) => &r.record,
        }
    }

    /// The PromQL the rule evaluates (a simple kind's compiled form).
    pub fn expr(&self) -> &str {
        match self {
            Rule::Alerting(r) => &r.expr,
            Rule::Recording(r) => &r.expr,
        }
    }

    pub fn labels(&self) -> &BTreeMap<String, String> {
        match self {
            Rule::Alerting(r) => &r.labels,
            Rule::Recording(r) => &r.labels,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertingRule {
    pub alert: String,
    /// PromQL; for a simple kind, the PromQL it compiles to.
    pub expr: String,
    /// The simple kind this rule was written as (`kind: threshold` …), if any.
    pub kind: Option<SimpleKind>,
    /// `for`, ms (0: fire on the first evaluation that returns the alert).
    pub for_ms: i64,
    /// `keep_firing_for`, ms.
    pub keep_firing_for_ms: i64,
    /// Label templates, added to (and replacing) the result's labels.
    pub labels: BTreeMap<String, String>,
    /// Annotation templates.
    pub annotations: BTreeMap<String, String>,
    /// Line of the rule's first key in the file (1-based; 0 when unknown).
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingRule {
    pub record: String,
    pub expr: String,
    pub labels: BTreeMap<String, String>,
    pub line: usize,
}

/// A simple rule kind as written, kept so `/api/v1/rules` and `cairn rules check` can show
/// both the source and the PromQL it compiled to. The fields mirror the YAML keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimpleKind {
    /// `threshold`, `ratio`, `anomaly` or `absence`.
    pub kind: String,
    /// The kind's own keys as written (metric, op, value, numerator, …), for display.
    pub params: BTreeMap<String, String>,
}
