//! `DispatchState`: the pure dispatch planner of one tenant, Alertmanager's `Dispatcher`
//! with its aggregation groups and notification pipeline folded into a state machine. The
//! node's driver feeds it the tenant's alerts, silences and notification log, sleeps until
//! [`DispatchState::next_wakeup`], and carries out the [`Flush`]es it returns.
//!
//! ```text
//!  step(config, alerts, silences, nflog, now)
//!    every alert ─► route tree (match_alert) ─► aggregation group per (route, group labels)
//!    every group due ─► begin_flush ─► mute: inhibition, silences, time intervals
//!        ─► per integration: dedup against the log (needs_update) ─► Notification
//!        nothing to notify ─► the flush counts as delivered at once
//!  delivered(flush, now)   (the driver: every notification of the flush sent and logged)
//!    ─► the flush's resolved alerts leave the group; an empty group is gone
//! ```
//! Alerts that stop arriving stay in their group until they resolve (their `ends_at`) and that
//! is delivered, as in Alertmanager. A configuration change starts a new state (Alertmanager
//! rebuilds its dispatcher); the log keeps the new groups from notifying again too early.

use std::collections::{BTreeMap, BTreeSet};

use super::aggr_group::{AggrGroup, FlushedResolved, GroupId, RouteOpts};
use super::config::AlertmanagerConfig;
use super::dedup::{NotificationIdParts, needs_update, notification_id};
use super::inhibit_rule::InhibitRule;
use super::mute::{alert_muted, time_muted};
use super::notification::Notification;
use super::notification_log::NotificationLog;
use super::notify_alert::NotifyAlert;
use super::receiver::{Integration, Receiver};
use super::route::Route;
use super::silence::Silence;
use super::time_interval::TimeInterval;

/// The parts of a tenant's configuration the planner reads.
#[derive(Clone, Copy)]
pub struct DispatchConfig<'a> {
    pub route: &'a Route,
    pub inhibit_rules: &'a [InhibitRule],
    pub time_intervals: &'a BTreeMap<String, Vec<TimeInterval>>,
    pub receivers: &'a [Receiver],
}

impl<'a> DispatchConfig<'a> {
    pub fn of(config: &'a AlertmanagerConfig) -> DispatchConfig<'a> {
        DispatchConfig {
            route: &config.route,
            inhibit_rules: &config.inhibit_rules,
            time_intervals: &config.time_intervals,
            receivers: &config.receivers,
        }
    }
}

/// What the planner reads at each step.
#[derive(Clone, Copy)]
pub struct DispatchInput<'a> {
    /// All of the tenant's current alerts (rule groups' and external), resolved ones included.
    pub alerts: &'a [NotifyAlert],
    pub silences: &'a [Silence],
    pub nflog: &'a NotificationLog,
}

/// One group's flush: the notifications to send. Once every one of them has been sent and
/// logged, report it with [`DispatchState::delivered`].
#[derive(Debug, Clone, PartialEq)]
pub struct Flush {
    pub group: GroupId,
    pub notifications: Vec<Notification>,
    /// The resolved alerts the flush carried.
    pub resolved: Vec<FlushedResolved>,
    /// The group's `group_interval`: how long the sends may take (Alertmanager's deadline,
    /// the next flush).
    pub group_interval_ms: i64,
}

/// An aggregation group as `GET /api/v2/alerts/groups` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupView {
    pub route_id: String,
    pub group_key: String,
    pub receiver: String,
    pub labels: BTreeMap<String, String>,
    /// Every alert of the group (resolved and muted ones included; the API filters), in
    /// Alertmanager's order.
    pub alerts: Vec<NotifyAlert>,
}

pub struct DispatchState {
    tenant: String,
    groups: BTreeMap<GroupId, AggrGroup>,
    /// Resolved alerts a delivered flush removed from a group, by their resolution time: the
    /// same resolution arriving again (rules resend resolved alerts for 15 minutes) does not
    /// bring them back. Alertmanager would re-add them; it would then show them again in the
    /// group's next notification.
    retired: BTreeMap<(GroupId, u64), i64>,
    /// Groups flushed so far, whether or not a flush had anything to send.
    flush_count: u64,
}

impl DispatchState {
    pub fn new(tenant: &str) -> DispatchState {
        DispatchState {
            tenant: tenant.to_string(),
            groups: BTreeMap::new(),
            retired: BTreeMap::new(),
            flush_count: 0,
        }
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Takes in the tenant's alerts and flushes every group that is due at `now_ms`.
    pub fn step(
        &mut self,
        config: DispatchConfig<'_>,
        input: DispatchInput<'_>,
        now_ms: i64,
    ) -> Vec<Flush> {
        self.ingest(config, input, now_ms);
        let due: Vec<GroupId> = self
            .groups
            .iter()
            .filter(|(_, g)| g.next_flush_ms() <= now_ms)
            .map(|(id, _)| id.clone())
            .collect();
        let mut flushes = Vec::new();
        for id in due {
            if let Some(flush) = self.flush(&id, config, input, now_ms) {
                flushes.push(flush);
            }
        }
        flushes
    }

    /// Every notification of `flush` was sent (or needed no send) and logged: its resolved
    /// alerts leave the group, and the group goes if nothing is left.
    pub fn delivered(&mut self, flush: &Flush, now_ms: i64) {
        self.remove_resolved(&flush.group, &flush.resolved, now_ms);
    }

    /// How many group flushes this state has made (those with nothing to send included).
    pub fn flush_count(&self) -> u64 {
        self.flush_count
    }

    /// When the next group is due; None when there are no groups.
    pub fn next_wakeup(&self) -> Option<i64> {
        self.groups.values().map(AggrGroup::next_flush_ms).min()
    }

    /// The aggregation groups, sorted as Alertmanager sorts them (by labels, then receiver).
    pub fn groups(&self) -> Vec<GroupView> {
        let mut views: Vec<GroupView> = self
            .groups
            .values()
            .map(|g| GroupView {
                route_id: g.id.route_id.clone(),
                group_key: g.id.group_key.clone(),
                receiver: g.opts.receiver.clone(),
                labels: g.labels.clone(),
                alerts: g.alerts(),
            })
            .collect();
        views.sort_by(|a, b| {
            super::aggr_group::label_set_cmp(&a.labels, &b.labels)
                .then_with(|| a.receiver.cmp(&b.receiver))
        });
        views
    }

    fn ingest(&mut self, config: DispatchConfig<'_>, input: DispatchInput<'_>, now_ms: i64) {
        let mut still_sent = BTreeSet::new();
        for alert in input.alerts {
            let fp = alert.fingerprint();
            for route in config.route.match_alert(&alert.labels) {
                let labels = route.group_labels(&alert.labels);
                let id = GroupId {
                    route_id: route.id.clone(),
                    group_key: route.group_key(&labels),
                };
                let memo = (id, fp);
                let same_resolution = self.retired.get(&memo).is_some_and(|&ends_at| {
                    alert.resolved_at(now_ms) && alert.ends_at_ms == ends_at
                });
                if same_resolution {
                    still_sent.insert(memo);
                    continue;
                }
                let id = memo.0;
                let group = self.groups.entry(id.clone()).or_insert_with(|| {
                    let opts = RouteOpts::of(route);
                    let last = input.nflog.last_notified(&opts.receiver, &id.group_key);
                    AggrGroup::new(id, labels, opts, now_ms, last)
                });
                group.insert(alert.clone(), now_ms);
            }
        }
        // A retired resolution no longer sent cannot come back.
        self.retired.retain(|k, _| still_sent.contains(k));
    }

    fn flush(
        &mut self,
        id: &GroupId,
        config: DispatchConfig<'_>,
        input: DispatchInput<'_>,
        now_ms: i64,
    ) -> Option<Flush> {
        let (alerts, resolved) = self.groups.get_mut(id)?.begin_flush(now_ms);
        self.flush_count += 1;
        let group = self.groups.get(id)?;
        let time_muted = time_muted(
            &group.opts.mute_time_intervals,
            &group.opts.active_time_intervals,
            config.time_intervals,
            now_ms,
            &TimeInterval::contains,
        );
        let alerts: Vec<NotifyAlert> = if time_muted {
            Vec::new()
        } else {
            alerts
                .into_iter()
                .filter(|a| {
                    !alert_muted(
                        a,
                        config.inhibit_rules,
                        input.alerts,
                        input.silences,
                        now_ms,
                    )
                })
                .collect()
        };
        let notifications = match config
            .receivers
            .iter()
            .find(|r| r.name == group.opts.receiver)
        {
            Some(receiver) if !alerts.is_empty() => {
                self.notifications(group, receiver, &alerts, input.nflog, now_ms)
            }
            // Everything muted (or a receiver validation would have refused): nothing to send,
            // and for Alertmanager that is a successful flush.
            _ => Vec::new(),
        };
        let flush = Flush {
            group: id.clone(),
            notifications,
            resolved,
            group_interval_ms: group.opts.group_interval_ms,
        };
        if flush.notifications.is_empty() {
            self.delivered(&flush, now_ms);
            return None;
        }
        Some(flush)
    }

    /// The dedup stage for each of the receiver's integrations.
    fn notifications(
        &self,
        group: &AggrGroup,
        receiver: &Receiver,
        alerts: &[NotifyAlert],
        nflog: &NotificationLog,
        now_ms: i64,
    ) -> Vec<Notification> {
        let (firing_alerts, resolved_alerts): (Vec<&NotifyAlert>, Vec<&NotifyAlert>) =
            alerts.iter().partition(|a| !a.resolved_at(now_ms));
        let firing: BTreeSet<u64> = firing_alerts.iter().map(|a| a.fingerprint()).collect();
        let resolved: BTreeSet<u64> = resolved_alerts.iter().map(|a| a.fingerprint()).collect();
        let mut per_kind: BTreeMap<&str, u32> = BTreeMap::new();
        let mut out = Vec::new();
        for (i, integration) in receiver.integrations.iter().enumerate() {
            let kind = integration.kind();
            let idx = {
                let n = per_kind.entry(kind).or_insert(0);
                *n += 1;
                *n - 1
            };
            let entry = nflog.get(&receiver.name, kind, idx, &group.id.group_key);
            let send_resolved = integration.send_resolved();
            // Why: the Alertmanager forwarder re-sends every flush whatever the log says, as
            // Prometheus re-sends to Alertmanager; the receiving Alertmanager deduplicates, and a
            // firing alert it does not hear about again resolves there when its endsAt passes.
            let forward = matches!(integration, Integration::Alertmanager(_))
                && (!firing.is_empty() || (send_resolved && !resolved.is_empty()));
            if !forward
                && !needs_update(
                    entry,
                    &firing,
                    &resolved,
                    send_resolved,
                    group.opts.repeat_interval_ms,
                    now_ms,
                )
            {
                continue;
            }
            let previous_ms = entry.map(|e| e.timestamp_ms);
            let sent: Vec<NotifyAlert> = alerts
                .iter()
                .filter(|a| send_resolved || !a.resolved_at(now_ms))
                .cloned()
                .collect();
            out.push(Notification {
                group: group.id.clone(),
                receiver: receiver.name.clone(),
                integration: i,
                kind: kind.to_string(),
                idx,
                group_key: group.id.group_key.clone(),
                group_labels: group.labels.clone(),
                send: !sent.is_empty(),
                alerts: sent,
                firing: firing.iter().copied().collect(),
                resolved: resolved.iter().copied().collect(),
                previous_ms,
                flushed_at_ms: now_ms,
                group_interval_ms: group.opts.group_interval_ms,
                notification_id: notification_id(&NotificationIdParts {
                    tenant: &self.tenant,
                    receiver: &receiver.name,
                    integration: kind,
                    idx,
                    group_key: &group.id.group_key,
                    previous_ms: previous_ms.unwrap_or(0),
                    firing: &firing,
                    resolved: &resolved,
                }),
            });
        }
        out
    }

    fn remove_resolved(&mut self, id: &GroupId, resolved: &[FlushedResolved], now_ms: i64) {
        let Some(group) = self.groups.get_mut(id) else {
            return;
        };
        for r in group.delete_if_not_modified(resolved, now_ms) {
            self.retired
                .insert((id.clone(), r.fingerprint), r.ends_at_ms);
        }
        if group.is_empty() {
            self.groups.remove(id);
        }
    }
}

#[cfg(test)]
#[path = "dispatch/dispatch_test.rs"]
mod tests;
