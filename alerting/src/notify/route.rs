//! A route of the routing tree, with every setting a child inherits from its parent already
//! filled in, so matching an alert needs no look-ups upwards.

use super::matcher::Matcher;

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
