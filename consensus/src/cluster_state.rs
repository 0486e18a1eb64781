//! `ClusterState`: what the meta group (group 0) agrees on — the cluster's shape, its nodes
//! and where every shard's replicas live — and the pure rules that change it.
//!
//! ```text
//!  MetaCommand ──apply──► ClusterState { shards, shards_per_tenant, nodes, placement }
//!  plan_placement(state, rf) ──► the placement the meta leader proposes next (or nothing)
//! ```
//! No I/O here: the meta state machine persists the state, the node's reconciler proposes the
//! planner's decisions and each shard's leader carries them out as membership changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::member::{Node, NodeId};
use crate::meta_kv::KvOp;

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
        }
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
}
