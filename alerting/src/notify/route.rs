//! A route of the routing tree, with every setting a child inherits from its parent already
//! filled in, so matching an alert needs no look-ups upwards.

use std::collections::BTreeMap;

use super::matcher::{Matcher, all_match};

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub receiver: String,
    /// Label names to group by; ignored when `group_by_all` (`group_by: ['...']`).
    pub group_by: Vec<String>,
    pub group_by_all: bool,
    pub matchers: Vec<Matcher>,
    /// `continue`: after this route matched, go on matching its siblings.
    pub continue_matching: bool,
    /// Default 30s.
    pub group_wait_ms: i64,
    /// Default 5m.
    pub group_interval_ms: i64,
    /// Default 15m in Cairn (Alertmanager's is 4h; docs/decisions.md).
    pub repeat_interval_ms: i64,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
    pub routes: Vec<Route>,
    /// Alertmanager's route key: the parent's key, `/`, this route's matchers
    /// (`{}/{severity="critical"}`); the root's is `{}`. Group keys start with it.
    pub key: String,
    /// Alertmanager's route id: the key plus the route's index among its siblings when it is
    /// not the first with that key (`{}/{severity="critical"}/1`).
    pub id: String,
}

// Minimal versions of the routing-tree functions (pipeline branch). The config branch owns the
// route tree and its versions of these replace them (same signatures).
impl Route {
    /// The routes an alert with `labels` goes to, as Alertmanager's `Route.Match`: depth
    /// first; a matching child stops the search among its siblings unless it has `continue`;
    /// a matching route none of whose children match is itself the match. Empty when this
    /// route's own matchers do not match.
    pub fn match_alert(&self, labels: &BTreeMap<String, String>) -> Vec<&Route> {
        if !all_match(&self.matchers, labels) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for child in &self.routes {
            let matches = child.match_alert(labels);
            let matched = !matches.is_empty();
            all.extend(matches);
            if matched && !child.continue_matching {
                break;
            }
        }
        if all.is_empty() {
            all.push(self);
        }
        all
    }

    /// The labels of `labels` this route groups by (all of them with `group_by: ['...']`).
    pub fn group_labels(&self, labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        labels
            .iter()
            .filter(|(n, _)| self.group_by_all || self.group_by.iter().any(|g| g == *n))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect()
    }

    /// Alertmanager's group key: the route's key, `:`, and the group labels as Prometheus
    /// prints a label set (`{}/{severity="critical"}:{alertname="X", job="api"}`).
    pub fn group_key(&self, group_labels: &BTreeMap<String, String>) -> String {
        format!("{}:{}", self.key, label_set_string(group_labels))
    }
}

/// Prometheus' `LabelSet.String()`: `name="value"` pairs, sorted, comma-separated, in braces.
pub fn label_set_string(labels: &BTreeMap<String, String>) -> String {
    let mut pairs: Vec<String> = labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    pairs.sort();
    format!("{{{}}}", pairs.join(", "))
}
