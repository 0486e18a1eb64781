//! A route of the routing tree, with every setting a child inherits from its parent already
//! filled in, so matching an alert needs no look-ups upwards. Matching, grouping and group
//! keys are Alertmanager's (`dispatch/route.go`, `dispatch/dispatch.go`).

use std::collections::BTreeMap;

use super::matcher::{Matcher, all_match};
use crate::template::go_quote;

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub receiver: String,
    /// Label names to group by; ignored when `group_by_all` (`group_by: ['...']`).
    pub group_by: Vec<String>,
    pub group_by_all: bool,
    /// In Alertmanager's order (name, value, operator); `match`/`match_re` included.
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
    /// Alertmanager's route key (`Route.Key`): the parent's key, `/`, this route's matchers
    /// (`{}/{severity="critical"}`); the root's is `{}`. Group keys start with it.
    pub key: String,
    /// Alertmanager's route id (`Route.ID`, 0.27+): the parent's id, `/`, this route's
    /// matchers, `/`, its index among its siblings (`{}/{severity="critical"}/0`); the
    /// root's is `{}`. Unlike the key, unique in the tree.
    pub id: String,
}

impl Route {
    /// The routes an alert with these labels goes to (Alertmanager's `Route.Match`): none if
    /// this route's matchers do not match; else, depth first, the matches of its children,
    /// stopping after the first child that matched unless that child has `continue`; else
    /// this route itself.
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

    /// The labels an alert is grouped by on this route: those named in `group_by` (all of
    /// them with `...`) that the alert has.
    pub fn group_labels(&self, labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        labels
            .iter()
            .filter(|(name, _)| self.group_by_all || self.group_by.iter().any(|g| g == *name))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect()
    }

    /// The aggregation group's key, exactly as Alertmanager prints it
    /// (`{route key}:{group labels}`, e.g. `{}/{severity="critical"}:{alertname="Down"}`):
    /// it reaches receivers (the webhook's `groupKey`) and names the group in the
    /// notification log.
    pub fn group_key(&self, group_labels: &BTreeMap<String, String>) -> String {
        format!("{}:{}", self.key, label_set_string(group_labels))
    }

    /// Every route of the tree, depth first, this one first.
    pub fn walk(&self) -> Vec<&Route> {
        let mut out = vec![self];
        for child in &self.routes {
            out.extend(child.walk());
        }
        out
    }
}

/// Prometheus' `LabelSet.String()`: `{a="1", b="2"}` with `%q`-quoted values, the
/// `name="value"` strings sorted as strings (so `a1=` sorts before `a=`).
pub fn label_set_string(labels: &BTreeMap<String, String>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(n, v)| format!("{n}={}", go_quote(v)))
        .collect();
    parts.sort();
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
#[path = "route/route_test.rs"]
mod route_test;
