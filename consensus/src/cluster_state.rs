//! `ClusterState`: what the meta group (group 0) agrees on — the cluster's shape, its nodes
//! and where every shard's replicas live — and the pure rules that change it.
//!
//! ```text
//!  MetaCommand ──apply──► ClusterState { shards, shards_per_tenant, nodes, placement,
//!                                        moves (in flight), draining (being removed) }
//!  plan_placement(state, rf) ──► the placement the meta leader proposes next (or nothing)
//!  StartMove ─► placement = the move's target, recorded in `moves`
//!  FinishMove ─► forgotten once the shard's voters are that target (its leader says so)
//! ```
//! No I/O here: the meta state machine persists the state, the node's reconciler proposes the
//! planner's decisions and each shard's leader carries them out as membership changes.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::member::{Node, NodeId};
use crate::meta_kv::KvOp;
use crate::move_plan::{Move, MoveReason};

/// The meta group's replicated state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterState {
    /// Number of shards, fixed at bootstrap (0 until the first `Init`).
    pub shards: u32,
    /// Shards per tenant (`K` of shuffle sharding).
    pub shards_per_tenant: u32,
    /// Every member node and where it listens.
    pub nodes: BTreeMap<NodeId, Node>,
    /// Shard → the nodes that should hold a replica of it (voters), in placement order.
    pub placement: BTreeMap<u32, Vec<NodeId>>,
    /// Replica moves under way, by shard (at most one per shard): the placement already
    /// names the move's target; the entry stays until the shard's voters are that target.
    #[serde(default)]
    pub moves: BTreeMap<u32, InFlightMove>,
    /// Nodes being removed (`cairn cluster remove`): their replicas move off, they get none.
    #[serde(default)]
    pub draining: BTreeSet<NodeId>,
}

/// A move the meta leader started, as the meta group records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlightMove {
    pub add: NodeId,
    pub remove: Option<NodeId>,
    pub reason: MoveReason,
    /// When the meta leader started it (ms since the epoch, wall clock).
    pub started_ms: i64,
}

impl InFlightMove {
    pub fn to_move(self, shard: u32) -> Move {
        Move {
            shard,
            add: self.add,
            remove: self.remove,
            reason: self.reason,
        }
    }
}

/// A change to the cluster state, proposed to the meta group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetaCommand {
    /// Fixes the shard count and tenant spread; ignored once set (a cluster is made once).
    Init { shards: u32, shards_per_tenant: u32 },
    /// Adds a node, or updates its addresses.
    AddNode { id: NodeId, node: Node },
    /// Sets where shard `shard`'s replicas should live.
    SetPlacement { shard: u32, replicas: Vec<NodeId> },
    /// Changes the meta group's key-value space (`MetaKv`), all ops at once. Not part of the
    /// cluster state: the meta state machine applies it, `ClusterState::apply` ignores it.
    Kv { ops: Vec<KvOp> },
    /// Starts a replica move: the shard's placement becomes its replicas with `add` and
    /// without `remove`, and the move is recorded. Ignored while the shard has a move under
    /// way, or when `add` already holds it.
    StartMove {
        shard: u32,
        add: NodeId,
        remove: Option<NodeId>,
        reason: MoveReason,
        started_ms: i64,
    },
    /// The shard's voters are `replicas` (its leader saw the membership change committed):
    /// the move is done and forgotten. Ignored unless `replicas` is the placement (as a set).
    FinishMove { shard: u32, replicas: Vec<NodeId> },
    /// Forgets a move that cannot finish (its new replica's node died), leaving the
    /// placement as it is: the next plan repairs it like any other dead replica.
    AbortMove { shard: u32 },
    /// Starts draining `node`: its replicas move off, it receives none.
    Drain { node: NodeId },
    /// Removes a drained node from the cluster state. Ignored while any placement or move
    /// names it.
    RemoveNode { id: NodeId },
}

impl ClusterState {
    /// Applies one command. Commands are validated by the proposer; applying never fails, so
    /// every replica ends in the same state.
    pub fn apply(&mut self, cmd: &MetaCommand) {
        match cmd {
            MetaCommand::Init {
                shards,
                shards_per_tenant,
            } => {
                if self.shards == 0 {
                    self.shards = *shards;
                    self.shards_per_tenant = *shards_per_tenant;
                }
            }
            MetaCommand::AddNode { id, node } => {
                self.nodes.insert(*id, node.clone());
            }
            MetaCommand::SetPlacement { shard, replicas } => {
                self.placement.insert(*shard, replicas.clone());
            }
            MetaCommand::Kv { .. } => {}
            MetaCommand::StartMove {
                shard,
                add,
                remove,
                reason,
                started_ms,
            } => {
                let r = self.placement.entry(*shard).or_default();
                if self.moves.contains_key(shard) || r.contains(add) {
                    return;
                }
                r.retain(|n| Some(*n) != *remove);
                r.push(*add);
                self.moves.insert(
                    *shard,
                    InFlightMove {
                        add: *add,
                        remove: *remove,
                        reason: *reason,
                        started_ms: *started_ms,
                    },
                );
            }
            MetaCommand::FinishMove { shard, replicas } => {
                let want: BTreeSet<NodeId> = replicas.iter().copied().collect();
                let placed: BTreeSet<NodeId> = self
                    .placement
                    .get(shard)
                    .into_iter()
                    .flatten()
                    .copied()
                    .collect();
                if want == placed {
                    self.moves.remove(shard);
                }
            }
            MetaCommand::AbortMove { shard } => {
                self.moves.remove(shard);
            }
            MetaCommand::Drain { node } => {
                if self.nodes.contains_key(node) {
                    self.draining.insert(*node);
                }
            }
            MetaCommand::RemoveNode { id } => {
                if self.replicas_on(*id) == 0 {
                    self.nodes.remove(id);
                    self.draining.remove(id);
                }
            }
        }
    }

    /// How many shards place a replica on `node` or move one to or from it.
    pub fn replicas_on(&self, node: NodeId) -> usize {
        let placed = self
            .placement
            .values()
            .filter(|r| r.contains(&node))
            .count();
        let moving = self
            .moves
            .values()
            .filter(|m| m.add == node || m.remove == Some(node))
            .count();
        placed + moving
    }

    /// Whether this node should run a replica of `shard`: placed there, or the replica a
    /// move under way is taking away (it stays a voter until the membership change commits).
    pub fn holds(&self, shard: u32, node: NodeId) -> bool {
        self.placement
            .get(&shard)
            .is_some_and(|r| r.contains(&node))
            || self
                .moves
                .get(&shard)
                .is_some_and(|m| m.remove == Some(node))
    }

    /// The moves under way, as the planner takes them.
    pub fn in_flight(&self) -> Vec<Move> {
        self.moves.iter().map(|(&s, m)| m.to_move(s)).collect()
    }

    /// The shards `node` should run a replica of ([`ClusterState::holds`]).
    pub fn held_by(&self, node: NodeId) -> Vec<u32> {
        // A move's shard is always placed (StartMove writes its placement).
        self.placement
            .keys()
            .copied()
            .filter(|&s| self.holds(s, node))
            .collect()
    }

    /// The shards whose placement includes `node`.
    pub fn shards_of(&self, node: NodeId) -> Vec<u32> {
        self.placement
            .iter()
            .filter(|(_, r)| r.contains(&node))
            .map(|(&s, _)| s)
            .collect()
    }
}

/// The placement changes that bring every shard to `min(rf, nodes)` replicas on distinct
/// nodes: a shard keeps the replicas it has on member nodes and gains replicas on the nodes
/// holding the fewest, lowest id first. Returns only shards whose placement changes.
pub fn plan_placement(state: &ClusterState, rf: usize) -> Vec<(u32, Vec<NodeId>)> {
    let want = rf.min(state.nodes.len());
    let mut load: BTreeMap<NodeId, usize> = state.nodes.keys().map(|&n| (n, 0)).collect();
    let mut current: BTreeMap<u32, Vec<NodeId>> = BTreeMap::new();
    for shard in 0..state.shards {
        let mut r: Vec<NodeId> = state
            .placement
            .get(&shard)
            .map(|r| {
                let mut seen = Vec::new();
                for n in r {
                    if state.nodes.contains_key(n) && !seen.contains(n) {
                        seen.push(*n);
                    }
                }
                seen
            })
            .unwrap_or_default();
        r.truncate(want);
        for n in &r {
            *load.entry(*n).or_default() += 1;
        }
        current.insert(shard, r);
    }
    let mut out = Vec::new();
    for (shard, mut r) in current {
        while r.len() < want {
            let Some((&n, _)) = load
                .iter()
                .filter(|(n, _)| !r.contains(n))
                .min_by_key(|(n, l)| (**l, **n))
            else {
                break;
            };
            r.push(n);
            *load.entry(n).or_default() += 1;
        }
        if state.placement.get(&shard) != Some(&r) {
            out.push((shard, r));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn node(i: u64) -> Node {
        Node {
            http_addr: format!("127.0.0.1:{}", 7470 + i * 10),
            grpc_addr: format!("127.0.0.1:{}", 7471 + i * 10),
        }
    }

    fn state_with(nodes: &[u64], shards: u32) -> ClusterState {
        let mut s = ClusterState::default();
        s.apply(&MetaCommand::Init {
            shards,
            shards_per_tenant: 4,
        });
        for &n in nodes {
            s.apply(&MetaCommand::AddNode {
                id: n,
                node: node(n),
            });
        }
        s
    }

    fn settle(s: &mut ClusterState, rf: usize) {
        for (shard, replicas) in plan_placement(s, rf) {
            s.apply(&MetaCommand::SetPlacement { shard, replicas });
        }
        assert!(
            plan_placement(s, rf).is_empty(),
            "a settled placement is stable"
        );
    }

    /// Every shard has exactly `min(rf, nodes)` replicas, on distinct member nodes.
    fn assert_replicated(s: &ClusterState, rf: usize) {
        let want = rf.min(s.nodes.len());
        assert_eq!(
            s.placement.len(),
            s.shards as usize,
            "every shard is placed"
        );
        for shard in 0..s.shards {
            let r = &s.placement[&shard];
            let distinct: BTreeSet<NodeId> = r.iter().copied().collect();
            assert_eq!(r.len(), want, "shard {shard}: {r:?}");
            assert_eq!(
                distinct.len(),
                want,
                "shard {shard} on distinct nodes: {r:?}"
            );
            assert!(
                r.iter().all(|n| s.nodes.contains_key(n)),
                "shard {shard} only on members: {r:?}"
            );
        }
    }

    /// How many shards each member node holds a replica of.
    fn per_node(s: &ClusterState) -> BTreeMap<NodeId, usize> {
        s.nodes.keys().map(|&n| (n, s.shards_of(n).len())).collect()
    }

    #[test]
    fn init_is_applied_once() {
        let mut s = state_with(&[1], 16);
        s.apply(&MetaCommand::Init {
            shards: 4,
            shards_per_tenant: 1,
        });
        assert_eq!((s.shards, s.shards_per_tenant), (16, 4));
    }

    #[test]
    fn replicas_grow_with_the_cluster_up_to_rf_on_distinct_nodes() {
        let mut s = state_with(&[1], 16);
        settle(&mut s, 3);
        assert_replicated(&s, 3);
        assert!(s.placement.values().all(|r| r == &[1]));
        for n in 2..=5 {
            let before = s.placement.clone();
            s.apply(&MetaCommand::AddNode {
                id: n,
                node: node(n),
            });
            settle(&mut s, 3);
            assert_replicated(&s, 3);
            for (shard, r) in &s.placement {
                let old = &before[shard];
                assert_eq!(
                    &r[..old.len()],
                    &old[..],
                    "existing replicas keep their place"
                );
            }
        }
        for r in s.placement.values() {
            assert_eq!(
                r,
                &[1, 2, 3],
                "every shard on the first three nodes, in join order"
            );
        }
        // Beyond rf nodes, a newcomer gets nothing: moving replicas is not done yet.
        assert_eq!(
            per_node(&s),
            BTreeMap::from([(1, 16), (2, 16), (3, 16), (4, 0), (5, 0)])
        );
    }

    #[test]
    fn shards_spread_evenly_over_the_nodes() {
        let mut s = state_with(&[1, 2, 3, 4, 5], 10);
        settle(&mut s, 3);
        assert_replicated(&s, 3);
        let counts: Vec<usize> = per_node(&s).into_values().collect();
        assert_eq!(counts, [6, 6, 6, 6, 6], "30 replicas over 5 nodes");
    }

    #[test]
    fn replicas_on_unknown_nodes_are_replaced() {
        let mut s = state_with(&[1, 2, 3], 2);
        // Node 9 is not a member, and node 1 is listed twice.
        s.apply(&MetaCommand::SetPlacement {
            shard: 0,
            replicas: vec![1, 9, 1],
        });
        let plan: BTreeMap<u32, Vec<NodeId>> = plan_placement(&s, 3).into_iter().collect();
        assert_eq!(plan[&0][0], 1, "the member replica keeps its place");
        for (shard, replicas) in plan {
            s.apply(&MetaCommand::SetPlacement { shard, replicas });
        }
        assert!(plan_placement(&s, 3).is_empty(), "one plan settles it");
        assert_replicated(&s, 3);
    }

    /// From an empty placement, for 1 to 7 nodes and rf 1 to 5: once `plan_placement` is
    /// applied until it has nothing more to do, every shard has `min(rf, nodes)` replicas on
    /// distinct members, and no node holds more than one replica more than another.
    #[test]
    fn settled_placement_is_complete_and_even_for_every_cluster_size_and_rf() {
        for nodes in 1..=7u64 {
            for rf in 1..=5 {
                for shards in [1, 5, 16] {
                    let ids: Vec<NodeId> = (1..=nodes).collect();
                    let mut s = state_with(&ids, shards);
                    let mut rounds = 0;
                    loop {
                        let plan = plan_placement(&s, rf);
                        if plan.is_empty() {
                            break;
                        }
                        rounds += 1;
                        assert!(rounds <= 3, "{nodes} nodes, rf {rf}: no end to the plans");
                        for (shard, replicas) in plan {
                            s.apply(&MetaCommand::SetPlacement { shard, replicas });
                        }
                    }
                    assert_replicated(&s, rf);
                    let counts = per_node(&s);
                    let (min, max) = (counts.values().min(), counts.values().max());
                    assert!(
                        max.zip(min).is_some_and(|(max, min)| max - min <= 1),
                        "{nodes} nodes, rf {rf}, {shards} shards: {counts:?}"
                    );
                    assert_eq!(
                        counts.values().sum::<usize>(),
                        shards as usize * rf.min(nodes as usize)
                    );
                }
            }
        }
    }

    #[test]
    fn a_move_sets_the_target_and_is_forgotten_only_when_its_voters_match() {
        let mut s = state_with(&[1, 2, 3, 4], 2);
        settle(&mut s, 3);
        let start = |add, remove| MetaCommand::StartMove {
            shard: 0,
            add,
            remove,
            reason: MoveReason::Balance,
            started_ms: 5,
        };
        s.apply(&start(4, Some(1)));
        assert_eq!(s.placement[&0], vec![2, 3, 4]);
        assert!(
            s.holds(0, 1),
            "the replica moving away runs until the move is done"
        );
        assert!(s.holds(0, 4) && !s.holds(0, 9));
        assert_eq!(s.held_by(1), vec![0, 1]);
        // One move per shard at a time; a second is ignored.
        s.apply(&start(1, Some(2)));
        assert_eq!(s.placement[&0], vec![2, 3, 4]);
        assert_eq!(s.in_flight().len(), 1);
        // Voters other than the placement: not done.
        s.apply(&MetaCommand::FinishMove {
            shard: 0,
            replicas: vec![1, 2, 3],
        });
        assert_eq!(s.moves.len(), 1);
        s.apply(&MetaCommand::FinishMove {
            shard: 0,
            replicas: vec![4, 3, 2],
        });
        assert!(s.moves.is_empty());
        assert!(!s.holds(0, 1));
        assert_eq!(s.held_by(1), vec![1]);
        // Abort forgets the move and keeps the placement.
        s.apply(&start(1, Some(4)));
        s.apply(&MetaCommand::AbortMove { shard: 0 });
        assert!(s.moves.is_empty());
        assert_eq!(s.placement[&0], vec![2, 3, 1]);
    }

    #[test]
    fn a_node_is_removed_only_once_nothing_is_placed_or_moving_on_it() {
        let mut s = state_with(&[1, 2, 3, 4], 1);
        s.apply(&MetaCommand::SetPlacement {
            shard: 0,
            replicas: vec![1, 2, 4],
        });
        s.apply(&MetaCommand::Drain { node: 4 });
        s.apply(&MetaCommand::Drain { node: 9 });
        assert_eq!(s.draining, BTreeSet::from([4]), "only members drain");
        s.apply(&MetaCommand::RemoveNode { id: 4 });
        assert!(s.nodes.contains_key(&4), "still placed");
        s.apply(&MetaCommand::StartMove {
            shard: 0,
            add: 3,
            remove: Some(4),
            reason: MoveReason::Drain,
            started_ms: 0,
        });
        assert_eq!(s.replicas_on(4), 1, "moving away");
        s.apply(&MetaCommand::RemoveNode { id: 4 });
        assert!(s.nodes.contains_key(&4), "still moving");
        s.apply(&MetaCommand::FinishMove {
            shard: 0,
            replicas: vec![1, 2, 3],
        });
        s.apply(&MetaCommand::RemoveNode { id: 4 });
        assert!(!s.nodes.contains_key(&4) && s.draining.is_empty());
    }
}
