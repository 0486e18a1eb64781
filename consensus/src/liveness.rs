//! `Liveness`: since when each member node has been reachable, or unreachable, without a
//! break, from this node's probes. The rebalancing planner's hysteresis is built on it (a node
//! is dead after `dead_after` of unbroken unreachability, a target after `stable_after` of
//! unbroken reachability: `move_plan`), and the status page shows it. Pure bookkeeping: the
//! node's reconcile job feeds it one observation per member per pass.

use std::collections::BTreeMap;

use crate::member::NodeId;
use crate::move_plan::NodeView;

#[derive(Debug, Clone, Default)]
pub struct Liveness {
    views: BTreeMap<NodeId, NodeView>,
}

impl Liveness {
    /// Records that `node` was (`reachable`) or was not reachable at `now` (ms). A change of
    /// state starts its clock; the same state again keeps the earlier start.
    pub fn observe(&mut self, node: NodeId, reachable: bool, now: i64) {
        let v = self.views.entry(node).or_insert(if reachable {
            NodeView::up(now)
        } else {
            NodeView::down(now)
        });
        match (reachable, v.up_since, v.down_since) {
            (true, None, _) => {
                v.up_since = Some(now);
                v.down_since = None;
            }
            (false, _, None) => {
                v.down_since = Some(now);
                v.up_since = None;
            }
            _ => {}
        }
    }

    /// Forgets nodes no longer members.
    pub fn retain(&mut self, members: impl Fn(NodeId) -> bool) {
        self.views.retain(|&n, _| members(n));
    }

    pub fn view(&self, node: NodeId) -> Option<NodeView> {
        self.views.get(&node).copied()
    }

    pub fn views(&self) -> &BTreeMap<NodeId, NodeView> {
        &self.views
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_keeps_its_start_until_it_changes() {
        let mut l = Liveness::default();
        l.observe(2, true, 100);
        l.observe(2, true, 200);
        assert_eq!(l.view(2), Some(NodeView::up(100)));
        l.observe(2, false, 300);
        l.observe(2, false, 400);
        assert_eq!(l.view(2), Some(NodeView::down(300)));
        l.observe(2, true, 500);
        assert_eq!(l.view(2), Some(NodeView::up(500)));
        l.observe(3, false, 600);
        assert_eq!(l.view(3), Some(NodeView::down(600)));
        l.retain(|n| n == 3);
        assert_eq!(l.view(2), None);
        assert_eq!(l.views().len(), 1);
    }
}
