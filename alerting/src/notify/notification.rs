//! `Notification`: what the dispatch planner decides to send to one integration of a
//! receiver for one aggregation group at one flush. The driver builds its payload, sends it,
//! and on success commits [`Notification::nflog_entry`].

use std::collections::BTreeMap;

use super::aggr_group::GroupId;
use super::nflog::NflogEntry;
use super::notify_alert::NotifyAlert;

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The aggregation group it comes from (for the driver's report back to the planner).
    pub group: GroupId,
    pub receiver: String,
    /// Position in `Receiver::integrations`.
    pub integration: usize,
    /// `Integration::kind()`.
    pub kind: String,
    /// Index among the receiver's integrations of this kind (the notification log's `idx`).
    pub idx: u32,
    /// Alertmanager's group key.
    pub group_key: String,
    pub group_labels: BTreeMap<String, String>,
    /// What the payload shows: the firing alerts, and the resolved ones when the integration
    /// sends resolved alerts, in Alertmanager's order.
    pub alerts: Vec<NotifyAlert>,
    /// Fingerprints for the notification log, sorted: every unmuted alert of the group, the
    /// resolved ones included even when they are not sent (as Alertmanager logs them).
    pub firing: Vec<u64>,
    pub resolved: Vec<u64>,
    /// False when there is nothing to send (all alerts resolved and `send_resolved` off): the
    /// entry is still logged, so the log's firing set is cleared (Alertmanager's
    /// `RetryStage` skips the send, `SetNotifiesStage` logs).
    pub send: bool,
    /// The timestamp of the log entry this notification follows, if any.
    pub previous_ms: Option<i64>,
    /// When the group was flushed.
    pub flushed_at_ms: i64,
    /// The route's `group_interval`: the send's deadline, and how far ahead the Alertmanager
    /// forwarder sets a firing alert's `endsAt` (four of them, as Prometheus does).
    pub group_interval_ms: i64,
    /// `X-Cairn-Notification-Id` (see `dedup::notification_id`).
    pub notification_id: String,
}

impl Notification {
    /// The notification log entry recording this notification as accepted at `timestamp_ms`.
    pub fn nflog_entry(&self, timestamp_ms: i64) -> NflogEntry {
        NflogEntry {
            group_key: self.group_key.clone(),
            receiver: self.receiver.clone(),
            integration: self.kind.clone(),
            idx: self.idx,
            timestamp_ms,
            firing: self.firing.clone(),
            resolved: self.resolved.clone(),
        }
    }
}
