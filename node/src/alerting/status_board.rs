//! `StatusBoard`: which rule groups' status (`state_keys::GroupStatus`) must be committed to
//! the meta group, and when. A change of a rule's health or last error is committed with the
//! evaluation that saw it; anything else (times, durations) only by the periodic flush of
//! every changed group in one command, at most once per `[rules] status_interval`, so
//! `/api/v1/rules` answers the same on every node without a write per evaluation.
//!
//! ```text
//!  evaluation ─► record(id, status) ─► true: put it in this evaluation's command
//!                                   └► false: dirty until the next flush
//!  commit done ─► committed(id, status)       flush ─► dirty() ─► one command ─► committed
//! ```
//! Pure bookkeeping; the driver does the committing.

use std::collections::BTreeMap;

use cairn_alerting::state_keys::GroupStatus;

use super::rule_kv::GroupId;

#[derive(Debug, Default)]
struct Entry {
    /// What the meta group holds (as far as this node knows).
    committed: Option<GroupStatus>,
    /// The newest status, when it differs from `committed`.
    pending: Option<GroupStatus>,
}

#[derive(Debug, Default)]
pub struct StatusBoard {
    groups: BTreeMap<GroupId, Entry>,
}

/// Whether `new` differs from `old` in what must be seen at once: the rules (their number),
/// a rule's health or its last error.
pub fn health_changed(old: Option<&GroupStatus>, new: &GroupStatus) -> bool {
    let Some(old) = old else {
        return true;
    };
    old.rules.len() != new.rules.len()
        || old
            .rules
            .iter()
            .zip(&new.rules)
            .any(|(a, b)| a.health != b.health || a.last_error != b.last_error)
}

impl StatusBoard {
    /// Starts tracking a group whose committed status (if any) is `committed`.
    pub fn track(&mut self, id: GroupId, committed: Option<GroupStatus>) {
        self.groups.insert(
            id,
            Entry {
                committed,
                pending: None,
            },
        );
    }

    /// Stops tracking a group (its task ended): nothing more of it is flushed.
    pub fn forget(&mut self, id: &GroupId) {
        self.groups.remove(id);
    }

    /// Notes a group's status after an evaluation; true if it must be committed now (with
    /// the evaluation's command), false if it waits for the flush.
    pub fn record(&mut self, id: &GroupId, status: GroupStatus) -> bool {
        let Some(e) = self.groups.get_mut(id) else {
            return false;
        };
        let now = health_changed(e.committed.as_ref(), &status);
        e.pending = Some(status);
        now
    }

    /// The meta group now holds `status` for the group.
    pub fn committed(&mut self, id: &GroupId, status: &GroupStatus) {
        if let Some(e) = self.groups.get_mut(id) {
            if e.pending.as_ref() == Some(status) {
                e.pending = None;
            }
            e.committed = Some(status.clone());
        }
    }

    /// Groups whose newest status is not committed, with that status (for the flush).
    pub fn dirty(&self) -> Vec<(GroupId, GroupStatus)> {
        self.groups
            .iter()
            .filter_map(|(id, e)| Some((id.clone(), e.pending.clone()?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use cairn_alerting::state_keys::RuleStatus;

    use super::*;

    fn status(at: i64, rules: &[(&str, &str)]) -> GroupStatus {
        GroupStatus {
            last_evaluation_ms: at,
            evaluation_seconds: 0.01,
            rules: rules
                .iter()
                .map(|(health, err)| RuleStatus {
                    health: health.to_string(),
                    last_error: err.to_string(),
                    last_evaluation_ms: at,
                    evaluation_seconds: 0.005,
                })
                .collect(),
        }
    }

    #[test]
    fn health_changes_commit_at_once_and_the_rest_waits_for_the_flush() {
        let id: GroupId = ("t1".into(), "f;g".into());
        let mut b = StatusBoard::default();
        b.track(id.clone(), None);
        // Nothing committed yet: the first status goes at once.
        let s1 = status(1_000, &[("ok", ""), ("ok", "")]);
        assert!(b.record(&id, s1.clone()));
        b.committed(&id, &s1);
        assert!(b.dirty().is_empty());
        // Only times moved: flushed later.
        let s2 = status(2_000, &[("ok", ""), ("ok", "")]);
        assert!(!b.record(&id, s2.clone()));
        assert_eq!(b.dirty(), vec![(id.clone(), s2.clone())]);
        // A rule fails: at once; then the same error again waits.
        let s3 = status(3_000, &[("ok", ""), ("err", "boom")]);
        assert!(b.record(&id, s3.clone()));
        b.committed(&id, &s3);
        assert!(!b.record(&id, status(4_000, &[("ok", ""), ("err", "boom")])));
        assert!(b.record(&id, status(5_000, &[("ok", ""), ("err", "bang")])));
        assert!(b.record(&id, status(6_000, &[("ok", "")])), "a rule less");
        // A flush commits the newest; a commit of an older status leaves a newer one dirty.
        let s7 = status(7_000, &[("ok", "")]);
        b.committed(&id, &status(6_000, &[("ok", "")]));
        b.record(&id, s7.clone());
        b.committed(&id, &status(6_500, &[("ok", "")]));
        assert_eq!(b.dirty(), vec![(id.clone(), s7)]);
        b.forget(&id);
        assert!(b.dirty().is_empty());
        assert!(!b.record(&id, status(8_000, &[])), "untracked");
    }

    #[test]
    fn a_new_leader_compares_with_the_status_it_finds_committed() {
        let id: GroupId = ("t1".into(), "f;g".into());
        let mut b = StatusBoard::default();
        b.track(id.clone(), Some(status(1_000, &[("err", "x")])));
        assert!(!b.record(&id, status(2_000, &[("err", "x")])));
        assert!(b.record(&id, status(3_000, &[("ok", "")])));
    }
}
