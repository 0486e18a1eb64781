//! Membership policy: pure planners that say what to change in a Raft group's members next.
//! The group façades (`ShardGroup::converge`, `MetaGroup::admit`) carry the steps out, one at
//! a time, re-planning after each; nothing here does I/O.
//!
//! ```text
//!  members now (voters, learners, how far each learner's log matches) ─┐
//!  target voters (a shard's placement) ────────────────────────────────┴► plan_membership
//!        ─► AddLearner(n)   a placed node that is neither voter nor learner yet
//!        ─► SetVoters(t)    every placed node is caught up: joint consensus to exactly t
//!        ─► nothing         settled, or a learner still catching up, or a change under way
//!  a joining node ─► plan_admission ─► AddLearner, then SetVoters(+node) while < 5 voters
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::member::NodeId;

/// A learner whose log matches the leader's to within this many entries may become a voter:
/// it catches up on the rest from the log, not by a snapshot.
pub const CAUGHT_UP_ENTRIES: u64 = 64;

/// The meta group has at most this many voters; later nodes join it as learners.
pub const MAX_META_VOTERS: usize = 5;

/// A group's members as its leader sees them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Members {
    pub voters: BTreeSet<NodeId>,
    pub learners: BTreeSet<NodeId>,
    /// A joint configuration (old and new voters both needed) is in effect; `voters` is then
    /// the union of both.
    pub joint: bool,
    /// The leader's last log index.
    pub last_log_index: u64,
    /// Per follower or learner, the index up to which its log matches the leader's.
    pub matched: BTreeMap<NodeId, u64>,
}

/// One change to a group's members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Add a node as a learner: it receives the log (or a snapshot) but does not vote.
    AddLearner(NodeId),
    /// Make exactly these nodes the voters (added learners become voters, voters not in the
    /// set leave the group).
    SetVoters(BTreeSet<NodeId>),
}

impl Members {
    fn member(&self, n: NodeId) -> bool {
        self.voters.contains(&n) || self.learners.contains(&n)
    }

    fn caught_up(&self, n: NodeId) -> bool {
        self.voters.contains(&n)
            || self.matched.get(&n).copied().unwrap_or(0) + CAUGHT_UP_ENTRIES >= self.last_log_index
    }

    /// The members after `step` was carried out (for planning the next one without waiting
    /// for fresh metrics).
    pub fn after(&self, step: &Step) -> Members {
        let mut m = self.clone();
        match step {
            Step::AddLearner(n) => {
                m.learners.insert(*n);
            }
            Step::SetVoters(v) => {
                m.learners.retain(|n| !v.contains(n));
                m.voters = v.clone();
            }
        }
        m
    }
}

/// The next step that moves a group towards exactly `target` voters, or `None` when there is
/// nothing to do now: the voters are the target, a placed node is still catching up, or a
/// placed node cannot be added (`known` says it has no address). A joint configuration left
/// behind (openraft 0.9 takes its second step, to the new voters alone, in the caller of
/// `change_membership`: a leader that died or failed between the two leaves the group joint)
/// is finished by setting the target voters again, which from `[old, new]` goes to `new`.
/// Placed nodes are added as learners first, lowest id first; the voters change in one step,
/// once every placed node is caught up, so a group never loses its quorum to a slow newcomer.
pub fn plan_membership(
    current: &Members,
    target: &BTreeSet<NodeId>,
    known: impl Fn(NodeId) -> bool,
) -> Option<Step> {
    if target.is_empty() || (current.voters == *target && !current.joint) {
        return None;
    }
    if let Some(&n) = target.iter().find(|&&n| !current.member(n) && known(n)) {
        return Some(Step::AddLearner(n));
    }
    let ready = target
        .iter()
        .all(|&n| current.member(n) && current.caught_up(n));
    ready.then(|| Step::SetVoters(target.clone()))
}

/// The steps that admit node `id` to the meta group: as a learner, and as a voter too while
/// the group has fewer than [`MAX_META_VOTERS`] voters. Nothing for a node already admitted.
pub fn plan_admission(current: &Members, id: NodeId) -> Vec<Step> {
    if current.voters.contains(&id) {
        return Vec::new();
    }
    let mut steps = Vec::new();
    if !current.learners.contains(&id) {
        steps.push(Step::AddLearner(id));
    }
    if current.voters.len() < MAX_META_VOTERS {
        let mut voters = current.voters.clone();
        voters.insert(id);
        steps.push(Step::SetVoters(voters));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[NodeId]) -> BTreeSet<NodeId> {
        ids.iter().copied().collect()
    }

    fn members(voters: &[NodeId], learners: &[(NodeId, u64)], last: u64) -> Members {
        Members {
            voters: set(voters),
            learners: learners.iter().map(|(n, _)| *n).collect(),
            joint: false,
            last_log_index: last,
            matched: learners.iter().copied().collect(),
        }
    }

    fn all_known(_: NodeId) -> bool {
        true
    }

    #[test]
    fn a_settled_group_needs_nothing() {
        let m = members(&[1, 2, 3], &[], 500);
        assert_eq!(plan_membership(&m, &set(&[3, 2, 1]), all_known), None);
        assert_eq!(
            plan_membership(&m, &set(&[]), all_known),
            None,
            "never no voters"
        );
    }

    #[test]
    fn placed_nodes_are_added_as_learners_lowest_first_then_promoted_once_caught_up() {
        let m = members(&[1], &[], 1_000);
        let target = set(&[1, 2, 3]);
        let s1 = plan_membership(&m, &target, all_known);
        assert_eq!(s1, Some(Step::AddLearner(2)));
        let m = m.after(&s1.unwrap());
        let s2 = plan_membership(&m, &target, all_known);
        assert_eq!(s2, Some(Step::AddLearner(3)));
        let mut m = m.after(&s2.unwrap());
        // Both learners far behind: wait.
        assert_eq!(plan_membership(&m, &target, all_known), None);
        // One caught up is not enough: the voters change in one step.
        m.matched.insert(2, 990);
        assert_eq!(plan_membership(&m, &target, all_known), None);
        m.matched.insert(3, 1_000 - CAUGHT_UP_ENTRIES);
        let s3 = plan_membership(&m, &target, all_known);
        assert_eq!(s3, Some(Step::SetVoters(target.clone())));
        let m = m.after(&s3.unwrap());
        assert_eq!((m.voters.clone(), m.learners.len()), (target.clone(), 0));
        assert_eq!(plan_membership(&m, &target, all_known), None);
    }

    #[test]
    fn a_voter_left_out_of_the_placement_is_removed_in_the_same_step() {
        let m = members(&[1, 2, 3], &[(4, 100)], 100);
        assert_eq!(
            plan_membership(&m, &set(&[1, 2, 4]), all_known),
            Some(Step::SetVoters(set(&[1, 2, 4])))
        );
    }

    #[test]
    fn a_joint_change_left_behind_is_finished_and_unknown_nodes_wait() {
        // Joint [1,2,3] + [1,3,4] (voters is the union), as a leader that died between the
        // two steps leaves it: setting the target again finishes it.
        let mut m = members(&[1, 2, 3, 4], &[], 10);
        m.joint = true;
        assert_eq!(
            plan_membership(&m, &set(&[1, 3, 4]), all_known),
            Some(Step::SetVoters(set(&[1, 3, 4])))
        );
        // Even when the union happens to equal the target.
        assert_eq!(
            plan_membership(&m, &set(&[1, 2, 3, 4]), all_known),
            Some(Step::SetVoters(set(&[1, 2, 3, 4])))
        );
        let m = members(&[1], &[], 10);
        assert_eq!(plan_membership(&m, &set(&[1, 2]), |n| n != 2), None);
        // A known node is still added when another one is not.
        assert_eq!(
            plan_membership(&m, &set(&[1, 2, 3]), |n| n != 2),
            Some(Step::AddLearner(3))
        );
    }

    #[test]
    fn admission_makes_voters_up_to_five_then_learners() {
        let m = members(&[1, 2], &[], 10);
        assert_eq!(
            plan_admission(&m, 3),
            vec![Step::AddLearner(3), Step::SetVoters(set(&[1, 2, 3]))]
        );
        let m = members(&[1, 2, 3, 4, 5], &[], 10);
        assert_eq!(plan_admission(&m, 6), vec![Step::AddLearner(6)]);
        assert_eq!(plan_admission(&m, 3), vec![], "already a voter");
        // A learner from an admission cut short is promoted when there is room.
        let m = members(&[1, 2], &[(3, 0)], 10);
        assert_eq!(
            plan_admission(&m, 3),
            vec![Step::SetVoters(set(&[1, 2, 3]))]
        );
        let m = members(&[1, 2, 3, 4, 5], &[(6, 0)], 10);
        assert_eq!(plan_admission(&m, 6), vec![], "a learner stays one");
    }
}
