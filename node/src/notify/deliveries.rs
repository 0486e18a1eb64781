//! `Deliveries`: the driver's book of notifications in flight. At most one send per
//! (integration, aggregation group) runs at a time — a flush that finds its predecessor's
//! send to the same integration still running skips that integration (the next flush tries
//! again, against the log the running one will have written) — and a flush is reported
//! delivered to the planner only when every one of its notifications was sent and logged.
//! Pure: the driver calls it around its tasks.

use std::collections::{BTreeMap, BTreeSet};

use cairn_alerting::notify::{Flush, Notification};

/// What may have one send in flight: (tenant, receiver, integration position, group key).
pub type SendKey = (String, String, usize, String);

pub fn send_key(tenant: &str, n: &Notification) -> SendKey {
    (
        tenant.to_string(),
        n.receiver.clone(),
        n.integration,
        n.group_key.clone(),
    )
}

struct PendingFlush {
    tenant: String,
    flush: Flush,
    remaining: usize,
    /// False once any notification failed or was skipped.
    complete: bool,
}

#[derive(Default)]
pub struct Deliveries {
    in_flight: BTreeSet<SendKey>,
    flushes: BTreeMap<u64, PendingFlush>,
    next_id: u64,
}

/// A flush taken on: its id (for [`Deliveries::finish`]) and the notifications to start now.
#[derive(Debug)]
pub struct Started {
    pub flush_id: u64,
    pub start: Vec<Notification>,
    /// Notifications left out because the same integration still sends for the group.
    pub skipped: usize,
}

impl Deliveries {
    /// Takes on `flush` of `tenant`.
    pub fn start(&mut self, tenant: &str, flush: Flush) -> Started {
        let flush_id = self.next_id;
        self.next_id += 1;
        let mut start = Vec::new();
        let mut skipped = 0;
        for n in &flush.notifications {
            if self.in_flight.insert(send_key(tenant, n)) {
                start.push(n.clone());
            } else {
                skipped += 1;
            }
        }
        if !start.is_empty() {
            self.flushes.insert(
                flush_id,
                PendingFlush {
                    tenant: tenant.to_string(),
                    flush,
                    remaining: start.len(),
                    complete: skipped == 0,
                },
            );
        }
        Started {
            flush_id,
            start,
            skipped,
        }
    }

    /// A notification of flush `flush_id` ended, `ok` if it was sent and logged. Returns the
    /// tenant and the flush when it was the flush's last and all of them succeeded.
    pub fn finish(
        &mut self,
        flush_id: u64,
        tenant: &str,
        n: &Notification,
        ok: bool,
    ) -> Option<(String, Flush)> {
        self.in_flight.remove(&send_key(tenant, n));
        let pending = self.flushes.get_mut(&flush_id)?;
        pending.remaining -= 1;
        pending.complete &= ok;
        if pending.remaining > 0 {
            return None;
        }
        let done = self.flushes.remove(&flush_id)?;
        done.complete.then_some((done.tenant, done.flush))
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use cairn_alerting::notify::GroupId;

    use super::*;

    fn notification(integration: usize, group_key: &str) -> Notification {
        Notification {
            group: GroupId {
                route_id: "{}".into(),
                group_key: group_key.into(),
            },
            receiver: "team".into(),
            integration,
            kind: "webhook".into(),
            idx: integration as u32,
            group_key: group_key.into(),
            group_labels: BTreeMap::new(),
            alerts: vec![],
            firing: vec![1],
            resolved: vec![],
            send: true,
            previous_ms: None,
            flushed_at_ms: 0,
            group_interval_ms: 300_000,
            notification_id: "x".into(),
        }
    }

    fn flush(group_key: &str, integrations: &[usize]) -> Flush {
        Flush {
            group: GroupId {
                route_id: "{}".into(),
                group_key: group_key.into(),
            },
            notifications: integrations
                .iter()
                .map(|&i| notification(i, group_key))
                .collect(),
            resolved: vec![],
            group_interval_ms: 300_000,
        }
    }

    #[test]
    fn a_flush_is_delivered_when_all_its_notifications_succeed() {
        let mut d = Deliveries::default();
        let s = d.start("t", flush("g", &[0, 1]));
        assert_eq!(s.start.len(), 2);
        assert_eq!(d.in_flight(), 2);
        assert!(d.finish(s.flush_id, "t", &s.start[0], true).is_none());
        let (tenant, f) = d.finish(s.flush_id, "t", &s.start[1], true).unwrap();
        assert_eq!((tenant.as_str(), f.group.group_key.as_str()), ("t", "g"));
        assert_eq!(d.in_flight(), 0);
        // One failure: not delivered.
        let s = d.start("t", flush("g", &[0, 1]));
        assert!(d.finish(s.flush_id, "t", &s.start[0], false).is_none());
        assert!(d.finish(s.flush_id, "t", &s.start[1], true).is_none());
        assert_eq!(d.in_flight(), 0);
    }

    #[test]
    fn a_slow_integration_is_skipped_while_others_go_on() {
        let mut d = Deliveries::default();
        let first = d.start("t", flush("g", &[0, 1]));
        // Integration 1 finished; integration 0 is still sending at the next flush.
        d.finish(first.flush_id, "t", &first.start[1], true);
        let second = d.start("t", flush("g", &[0, 1]));
        assert_eq!(second.skipped, 1);
        assert_eq!(second.start.len(), 1);
        assert_eq!(second.start[0].integration, 1);
        // Other groups and tenants are not held back.
        let other = d.start("t", flush("h", &[0]));
        assert_eq!(other.start.len(), 1);
        let other_tenant = d.start("u", flush("g", &[0]));
        assert_eq!(other_tenant.start.len(), 1);
        // The second flush skipped one: even when its send succeeds it is not delivered.
        assert!(
            d.finish(second.flush_id, "t", &second.start[0], true)
                .is_none()
        );
        // The first flush completes when its slow send does.
        assert!(
            d.finish(first.flush_id, "t", &first.start[0], true)
                .is_some()
        );
    }
}
