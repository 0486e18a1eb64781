//! The rebalancing planner (issue 19): which shard replicas to move next, so that every shard
//! keeps `rf` voters on distinct live nodes, a draining node empties, a dead node's replicas
//! are re-created elsewhere, and replica counts per node differ by at most one. Pure: it
//! sees the placement, what it knows of each node and the moves already under way, never the
//! network; the meta leader's driver carries the moves out (add a learner, catch it up,
//! promote it, remove the replica it replaces) and records them.
//!
//! ```text
//!  placement + nodes (up since / unreachable since / draining) + in-flight moves + now
//!     │  1. repair: a replica on a dead or draining node, or a shard short of rf voters
//!     │  2. balance: from the fullest eligible node to the emptiest, while they differ by > 1
//!     ▼  at most `max_concurrent` moves in flight, one per shard
//!  Vec<Move { shard, add, remove }>
//! ```
//!
//! Hysteresis, so a flapping node does not cause repeated moves: a node is *dead* only once
//! it has been unreachable for `dead_after` without a break, and it is a *target* (eligible to
//! receive replicas) only once it has been reachable for `stable_after` without a break. A node
//! that comes back after its replicas were re-created keeps none of them (the placement no
//! longer names it) and gets replicas again only through balancing, after `stable_after`.
//! Leader balance is [`plan_leader_transfers`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::member::NodeId;

/// What the planner knows of one member node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeView {
    /// Reachable since (ms), or unreachable since (ms): exactly one is `Some`.
    pub up_since: Option<i64>,
    pub down_since: Option<i64>,
    /// Being removed (`cairn cluster remove`): its replicas move off, it receives none.
    pub draining: bool,
}

impl NodeView {
    pub fn up(since: i64) -> NodeView {
        NodeView {
            up_since: Some(since),
            down_since: None,
            draining: false,
        }
    }

    pub fn down(since: i64) -> NodeView {
        NodeView {
            up_since: None,
            down_since: Some(since),
            draining: false,
        }
    }
}

/// One replica move of one shard: add a replica on `add` (learner, catch up, promote), then
/// remove the one on `remove` (`None`: the shard was short of replicas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Move {
    pub shard: u32,
    pub add: NodeId,
    pub remove: Option<NodeId>,
    pub reason: MoveReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveReason {
    /// The shard has fewer than `rf` replicas on live nodes.
    Repair,
    /// The replica is on a draining node.
    Drain,
    /// Replica counts per node differ by more than one.
    Balance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MovePlanConfig {
    pub rf: usize,
    /// Moves in flight at once, cluster-wide (`rebalance.max_concurrent_moves`).
    pub max_concurrent: usize,
    /// Unreachable this long (ms) without a break: dead (`rebalance.dead_after`).
    pub dead_after_ms: i64,
    /// Reachable this long (ms) without a break: may receive replicas.
    pub stable_after_ms: i64,
}

impl Default for MovePlanConfig {
    fn default() -> Self {
        MovePlanConfig {
            rf: 3,
            max_concurrent: 2,
            dead_after_ms: 600_000,
            stable_after_ms: 60_000,
        }
    }
}

impl MovePlanConfig {
    /// Whether a node seen as `view` (`None`: not a member) is dead at `now`: unreachable for
    /// `dead_after` without a break.
    pub fn is_dead(&self, view: Option<&NodeView>, now: i64) -> bool {
        view.is_none_or(|v| {
            v.down_since
                .is_some_and(|d| now.saturating_sub(d) >= self.dead_after_ms)
        })
    }
}

/// The moves to start now (see the module docs), in the order to start them.
pub fn plan_moves(
    placement: &BTreeMap<u32, Vec<NodeId>>,
    nodes: &BTreeMap<NodeId, NodeView>,
    in_flight: &[Move],
    now: i64,
    cfg: &MovePlanConfig,
) -> Vec<Move> {
    let dead = |n: &NodeId| cfg.is_dead(nodes.get(n), now);
    let draining = |n: &NodeId| nodes.get(n).is_some_and(|v| v.draining);
    // Nodes that may receive replicas.
    let targets: Vec<NodeId> = nodes
        .iter()
        .filter(|(_, v)| {
            !v.draining
                && v.up_since
                    .is_some_and(|u| now.saturating_sub(u) >= cfg.stable_after_ms)
        })
        .map(|(&n, _)| n)
        .collect();
    // The placement as it will be once the moves in flight are done: counts and shards per
    // node are planned against that, so two passes never plan the same move twice.
    let mut after: BTreeMap<u32, Vec<NodeId>> = placement.clone();
    for m in in_flight {
        let r = after.entry(m.shard).or_default();
        if !r.contains(&m.add) {
            r.push(m.add);
        }
        if let Some(x) = m.remove {
            r.retain(|n| *n != x);
        }
    }
    let mut busy: BTreeSet<u32> = in_flight.iter().map(|m| m.shard).collect();
    let mut load: BTreeMap<NodeId, usize> = targets.iter().map(|&n| (n, 0)).collect();
    for r in after.values() {
        for n in r {
            if let Some(l) = load.get_mut(n) {
                *l += 1;
            }
        }
    }
    let mut out = Vec::new();
    let room = |out: &Vec<Move>| in_flight.len() + out.len() < cfg.max_concurrent;
    // The emptiest target not holding `r`, lowest id on a tie.
    let pick = |load: &BTreeMap<NodeId, usize>, r: &[NodeId]| {
        load.iter()
            .filter(|(n, _)| !r.contains(n))
            .min_by_key(|(n, l)| (**l, **n))
            .map(|(&n, _)| n)
    };

    // 1. Repair and drain: shards with a replica to replace or too few, most urgent first
    //    (fewest live replicas).
    let mut urgent: Vec<(usize, u32)> = after
        .iter()
        .filter(|(s, _)| !busy.contains(s))
        .filter_map(|(&s, r)| {
            let live = r.iter().filter(|n| !dead(n) && !draining(n)).count();
            let replace = r.iter().any(|n| dead(n) || draining(n));
            (replace || live < cfg.rf).then_some((live, s))
        })
        .collect();
    urgent.sort();
    for (_, shard) in urgent {
        if !room(&out) {
            return out;
        }
        let r = &after[&shard];
        let Some(add) = pick(&load, r) else {
            continue;
        };
        // Replace a dead replica first, then a draining one; none when merely short. (A
        // shard with most of its replicas dead has no quorum: its move cannot commit until
        // they return, and the driver reports it.)
        let remove = r
            .iter()
            .copied()
            .find(|n| dead(n))
            .or_else(|| r.iter().copied().find(|n| draining(n)));
        let reason = match remove {
            Some(x) if !dead(&x) => MoveReason::Drain,
            _ => MoveReason::Repair,
        };
        out.push(Move {
            shard,
            add,
            remove,
            reason,
        });
        busy.insert(shard);
        *load.entry(add).or_default() += 1;
        if let Some(x) = remove
            && let Some(l) = load.get_mut(&x)
        {
            *l = l.saturating_sub(1);
        }
        let r = after.get_mut(&shard).expect("planned shard");
        r.push(add);
        if let Some(x) = remove {
            r.retain(|n| *n != x);
        }
    }

    // 2. Balance: from the fullest target to the emptiest while they differ by more than one.
    while room(&out) {
        let Some((&full, &hi)) = load
            .iter()
            .max_by_key(|(n, l)| (**l, std::cmp::Reverse(**n)))
        else {
            break;
        };
        let Some((&empty, &lo)) = load.iter().min_by_key(|(n, l)| (**l, **n)) else {
            break;
        };
        if hi <= lo + 1 {
            break;
        }
        // A shard on the fullest node, not on the emptiest, not already moving.
        let Some(shard) = after
            .iter()
            .filter(|(s, r)| !busy.contains(s) && r.contains(&full) && !r.contains(&empty))
            .map(|(&s, _)| s)
            .next()
        else {
            break;
        };
        out.push(Move {
            shard,
            add: empty,
            remove: Some(full),
            reason: MoveReason::Balance,
        });
        busy.insert(shard);
        *load.get_mut(&empty).expect("target") += 1;
        *load.get_mut(&full).expect("target") -= 1;
        let r = after.get_mut(&shard).expect("planned shard");
        r.retain(|n| *n != full);
        r.push(empty);
    }
    out
}

/// Leader transfers that spread shard leaders so that the counts per live node differ by at
/// most one: from the node leading most to the one leading fewest, among each shard's voters.
/// `leaders` maps each shard to its current leader (shards without one are left alone).
pub fn plan_leader_transfers(
    placement: &BTreeMap<u32, Vec<NodeId>>,
    leaders: &BTreeMap<u32, NodeId>,
    live: &BTreeSet<NodeId>,
) -> Vec<(u32, NodeId)> {
    let mut count: BTreeMap<NodeId, usize> = live.iter().map(|&n| (n, 0)).collect();
    for l in leaders.values() {
        if let Some(c) = count.get_mut(l) {
            *c += 1;
        }
    }
    let mut current = leaders.clone();
    let mut out = Vec::new();
    let mut moved = BTreeSet::new();
    while let Some((&most, &hi)) = count
        .iter()
        .max_by_key(|(n, c)| (**c, std::cmp::Reverse(**n)))
    {
        // The least-leading node that is a voter of some shard `most` leads.
        let candidate = current
            .iter()
            .filter(|(s, l)| **l == most && !moved.contains(*s))
            .flat_map(|(&s, _)| {
                placement
                    .get(&s)
                    .into_iter()
                    .flatten()
                    .filter(|n| **n != most && live.contains(n))
                    .map(move |&n| (s, n))
            })
            .min_by_key(|&(s, n)| (count[&n], n, s));
        let Some((shard, to)) = candidate else {
            break;
        };
        if hi <= count[&to] + 1 {
            break;
        }
        out.push((shard, to));
        moved.insert(shard);
        *count.get_mut(&most).expect("live") -= 1;
        *count.get_mut(&to).expect("live") += 1;
        current.insert(shard, to);
    }
    out
}

#[cfg(test)]
#[path = "move_plan_test.rs"]
mod tests;
