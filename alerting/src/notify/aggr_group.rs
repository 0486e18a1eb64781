//! `AggrGroup`: one aggregation group (Alertmanager's `aggrGroup`), the alerts of one tenant
//! that one route groups under the same group labels, and when the group flushes next.
//!
//! ```text
//!  created ──group_wait──► first flush ──group_interval──► flush ──► ...
//!     │ an alert that started more than group_wait ago: flush at once
//!     │ (Cairn) the notification log already has the group: not before its last
//!     │         notification + group_interval, so a new meta leader does not resend at once
//!  flush delivered to every integration ─► its resolved alerts leave (unless they changed)
//!  no alerts left ─► the group is gone
//! ```

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::notify_alert::NotifyAlert;
use super::route::Route;

/// An aggregation group's identity: the route's id (two sibling routes may share a key) and
/// the group key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId {
    pub route_id: String,
    pub group_key: String,
}

/// The settings of the group's route that the flush uses (Alertmanager's `RouteOpts`).
#[derive(Debug, Clone, PartialEq)]
pub struct RouteOpts {
    pub receiver: String,
    pub group_wait_ms: i64,
    pub group_interval_ms: i64,
    pub repeat_interval_ms: i64,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
}

impl RouteOpts {
    pub fn of(route: &Route) -> RouteOpts {
        RouteOpts {
            receiver: route.receiver.clone(),
            group_wait_ms: route.group_wait_ms,
            group_interval_ms: route.group_interval_ms,
            repeat_interval_ms: route.repeat_interval_ms,
            mute_time_intervals: route.mute_time_intervals.clone(),
            active_time_intervals: route.active_time_intervals.clone(),
        }
    }
}

/// A resolved alert as a flush saw it: removed after delivery only if still so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushedResolved {
    pub fingerprint: u64,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
}

#[derive(Debug, Clone)]
pub struct AggrGroup {
    pub id: GroupId,
    pub labels: BTreeMap<String, String>,
    pub opts: RouteOpts,
    alerts: BTreeMap<u64, NotifyAlert>,
    next_flush_ms: i64,
    has_flushed: bool,
    /// Cairn's failover rule: no flush before the last logged notification + group_interval.
    not_before_ms: i64,
}

impl AggrGroup {
    /// A new group at `now_ms`; `last_notified_ms` is the newest notification log entry of
    /// any of the receiver's integrations for this group key.
    pub fn new(
        id: GroupId,
        labels: BTreeMap<String, String>,
        opts: RouteOpts,
        now_ms: i64,
        last_notified_ms: Option<i64>,
    ) -> AggrGroup {
        let not_before_ms = last_notified_ms.map_or(i64::MIN, |t| t + opts.group_interval_ms);
        AggrGroup {
            next_flush_ms: (now_ms + opts.group_wait_ms).max(not_before_ms),
            id,
            labels,
            opts,
            alerts: BTreeMap::new(),
            has_flushed: false,
            not_before_ms,
        }
    }

    /// Adds or updates an alert (Alertmanager's `aggrGroup.insert`).
    pub fn insert(&mut self, alert: NotifyAlert, now_ms: i64) {
        // An alert that has waited group_wait already (it started before the group existed,
        // e.g. on another meta leader) is flushed at once, unless the log says otherwise.
        if !self.has_flushed && alert.starts_at_ms + self.opts.group_wait_ms < now_ms {
            self.next_flush_ms = now_ms.max(self.not_before_ms);
        }
        self.alerts.insert(alert.fingerprint(), alert);
    }

    pub fn next_flush_ms(&self) -> i64 {
        self.next_flush_ms
    }

    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    pub fn contains(&self, fingerprint: u64) -> bool {
        self.alerts.contains_key(&fingerprint)
    }

    /// The group's alerts in Alertmanager's order.
    pub fn alerts(&self) -> Vec<NotifyAlert> {
        let mut alerts: Vec<NotifyAlert> = self.alerts.values().cloned().collect();
        sort_alerts(&mut alerts);
        alerts
    }

    /// Starts a flush at `now_ms`: the next one is a group_interval later. Returns the alerts
    /// (in Alertmanager's order) and the resolved ones among them.
    pub fn begin_flush(&mut self, now_ms: i64) -> (Vec<NotifyAlert>, Vec<FlushedResolved>) {
        self.next_flush_ms = now_ms + self.opts.group_interval_ms;
        self.has_flushed = true;
        let alerts = self.alerts();
        let resolved = alerts
            .iter()
            .filter(|a| a.resolved_at(now_ms))
            .map(|a| FlushedResolved {
                fingerprint: a.fingerprint(),
                starts_at_ms: a.starts_at_ms,
                ends_at_ms: a.ends_at_ms,
            })
            .collect();
        (alerts, resolved)
    }

    /// After a flush was delivered: removes its resolved alerts unless they changed since
    /// (fired again, or resolved at another time); Alertmanager's `DeleteIfNotModified`.
    /// Returns the alerts removed.
    pub fn delete_if_not_modified(
        &mut self,
        resolved: &[FlushedResolved],
        now_ms: i64,
    ) -> Vec<FlushedResolved> {
        let mut removed = Vec::new();
        for r in resolved {
            let unchanged = self.alerts.get(&r.fingerprint).is_some_and(|a| {
                a.starts_at_ms == r.starts_at_ms
                    && a.ends_at_ms == r.ends_at_ms
                    && a.resolved_at(now_ms)
            });
            if unchanged {
                self.alerts.remove(&r.fingerprint);
                removed.push(*r);
            }
        }
        removed
    }
}

/// Sorts alerts as Alertmanager's `AlertSlice` does: by `job`, then `instance` (an alert
/// with the label before one without), then by label set (`LabelSet.Before`).
pub fn sort_alerts(alerts: &mut [NotifyAlert]) {
    alerts.sort_by(|a, b| compare_alerts(&a.labels, &b.labels));
}

fn compare_alerts(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Ordering {
    for key in ["job", "instance"] {
        match (a.get(key), b.get(key)) {
            (None, None) => continue,
            (Some(_), None) => return Ordering::Less,
            (None, Some(_)) => return Ordering::Greater,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    label_set_cmp(a, b)
}

/// Prometheus' `LabelSet.Before` as an ordering: fewer labels first; then the first label
/// name (in sorted order) where they differ decides, a missing name sorting first.
pub fn label_set_cmp(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Ordering {
    if a.len() != b.len() {
        return a.len().cmp(&b.len());
    }
    let names: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for n in names {
        match (a.get(n), b.get(n)) {
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn alert(pairs: &[(&str, &str)]) -> NotifyAlert {
        NotifyAlert {
            labels: labels(pairs),
            annotations: BTreeMap::new(),
            starts_at_ms: 0,
            ends_at_ms: i64::MAX,
            generator_url: String::new(),
            updated_at_ms: 0,
        }
    }

    #[test]
    fn alerts_sort_by_job_then_instance_then_labels() {
        let mut alerts = vec![
            alert(&[("alertname", "B")]),
            alert(&[("alertname", "A"), ("x", "1")]),
            alert(&[("instance", "i2"), ("job", "api")]),
            alert(&[("instance", "i1"), ("job", "api")]),
            alert(&[("job", "web")]),
            alert(&[("instance", "i0")]),
            alert(&[("alertname", "A")]),
        ];
        sort_alerts(&mut alerts);
        let order: Vec<String> = alerts
            .iter()
            .map(|a| crate::notify::route::label_set_string(&a.labels))
            .collect();
        assert_eq!(
            order,
            [
                r#"{instance="i1", job="api"}"#,
                r#"{instance="i2", job="api"}"#,
                r#"{job="web"}"#,
                r#"{instance="i0"}"#,
                r#"{alertname="A"}"#,
                r#"{alertname="B"}"#,
                r#"{alertname="A", x="1"}"#,
            ]
        );
    }
}
