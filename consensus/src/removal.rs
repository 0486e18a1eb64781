//! Whether a node may be removed (`cairn cluster remove`, `DELETE /api/v1/cluster/nodes/{id}`),
//! and if not, why, naming what would break. Pure: the caller passes what it knows of the
//! meta group's voters and of which nodes are up.
//!
//! ```text
//!  state + node + rf + meta voters + nodes up ─► check_removal ─► Ok: drain it
//!                                                              └► Refusal (its Display is the
//!                                                                 message the user reads)
//! ```
//! A removal drains first: every replica on the node moves to another node (add a learner,
//! catch up, change voters), and only then does the node leave the meta group. So it is
//! refused when the replicas have nowhere to go (fewer other nodes than the replication
//! factor), when a shard's membership change could not commit (too few of its replicas up),
//! or when the meta group would be left without a quorum.

use std::collections::BTreeSet;
use std::fmt;

use crate::cluster_state::ClusterState;
use crate::member::NodeId;

/// Why a removal is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotMember {
        node: NodeId,
    },
    /// Fewer nodes than `rf` would be left to hold the node's shards.
    NowhereToGo {
        node: NodeId,
        shards: Vec<u32>,
        rf: usize,
        others: usize,
    },
    /// These shards have too few replicas up to commit the change of voters.
    ShardQuorum {
        node: NodeId,
        shards: Vec<u32>,
    },
    /// The meta group would have no quorum of voters up (or no voter at all).
    MetaQuorum {
        node: NodeId,
        voters: Vec<NodeId>,
        up: Vec<NodeId>,
    },
}

fn list<T: fmt::Display>(v: &[T]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotMember { node } => write!(f, "node {node} is not a member of the cluster"),
            Refusal::NowhereToGo {
                node,
                shards,
                rf,
                others,
            } => write!(
                f,
                "removing node {node} would leave shards {} with fewer than {rf} replicas \
                 (the replication factor): only {others} other node(s) could hold them; add a \
                 node first",
                list(shards)
            ),
            Refusal::ShardQuorum { node, shards } => write!(
                f,
                "removing node {node} now would leave shards {} without a quorum: too few of \
                 their other replicas are up to move the replica; bring them back first",
                list(shards)
            ),
            Refusal::MetaQuorum { node, voters, up } => write!(
                f,
                "removing node {node} would leave the meta group without a quorum: its voters \
                 would be {} and of them only {} up",
                if voters.is_empty() {
                    "none".to_string()
                } else {
                    list(voters)
                },
                if up.is_empty() {
                    "none".to_string()
                } else {
                    list(up)
                }
            ),
        }
    }
}

fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// Whether `node` may be drained and removed now (see the module docs). A node already
/// draining passes again (the request is idempotent).
pub fn check_removal(
    state: &ClusterState,
    node: NodeId,
    rf: usize,
    meta_voters: &BTreeSet<NodeId>,
    up: &BTreeSet<NodeId>,
) -> Result<(), Refusal> {
    if !state.nodes.contains_key(&node) {
        return Err(Refusal::NotMember { node });
    }
    let held: Vec<u32> = state
        .placement
        .iter()
        .filter(|(_, r)| r.contains(&node))
        .map(|(&s, _)| s)
        .collect();
    let others = state
        .nodes
        .keys()
        .filter(|&&n| n != node && !state.draining.contains(&n))
        .count();
    if !held.is_empty() && others < rf {
        return Err(Refusal::NowhereToGo {
            node,
            shards: held,
            rf,
            others,
        });
    }
    // Each move is a joint change from the current voters to them with a new node instead of
    // this one: a majority of both must be up (the new node is, or it is not picked).
    let stuck: Vec<u32> = held
        .iter()
        .copied()
        .filter(|s| {
            let old = &state.placement[s];
            let up_old = old.iter().filter(|n| up.contains(n)).count();
            let up_new = old
                .iter()
                .filter(|&&n| n != node && up.contains(&n))
                .count()
                + 1;
            up_old < majority(old.len()) || up_new < majority(old.len())
        })
        .collect();
    if !stuck.is_empty() {
        return Err(Refusal::ShardQuorum {
            node,
            shards: stuck,
        });
    }
    if meta_voters.contains(&node) {
        let voters: Vec<NodeId> = meta_voters.iter().copied().filter(|&n| n != node).collect();
        let up_after: Vec<NodeId> = voters.iter().copied().filter(|n| up.contains(n)).collect();
        let up_before = meta_voters.iter().filter(|n| up.contains(n)).count();
        if voters.is_empty()
            || up_after.len() < majority(voters.len())
            || up_before < majority(meta_voters.len())
        {
            return Err(Refusal::MetaQuorum {
                node,
                voters,
                up: up_after,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::cluster_state::MetaCommand;
    use crate::member::Node;

    fn state(nodes: &[NodeId], placement: &[(u32, &[NodeId])]) -> ClusterState {
        let mut s = ClusterState::default();
        s.apply(&MetaCommand::Init {
            shards: placement.len() as u32,
            shards_per_tenant: 1,
        });
        for &n in nodes {
            s.apply(&MetaCommand::AddNode {
                id: n,
                node: Node::default(),
            });
        }
        s.placement = placement
            .iter()
            .map(|(s, r)| (*s, r.to_vec()))
            .collect::<BTreeMap<_, _>>();
        s
    }

    fn set(ids: &[NodeId]) -> BTreeSet<NodeId> {
        ids.iter().copied().collect()
    }

    #[test]
    fn a_fourth_node_may_go_but_not_one_of_three() {
        let four = state(&[1, 2, 3, 4], &[(0, &[1, 2, 3]), (1, &[2, 3, 4])]);
        let all = set(&[1, 2, 3, 4]);
        assert_eq!(check_removal(&four, 4, 3, &all, &all), Ok(()));
        let three = state(&[1, 2, 3], &[(0, &[1, 2, 3]), (1, &[1, 2, 3])]);
        let e = check_removal(&three, 2, 3, &set(&[1, 2, 3]), &set(&[1, 2, 3])).unwrap_err();
        assert_eq!(
            e,
            Refusal::NowhereToGo {
                node: 2,
                shards: vec![0, 1],
                rf: 3,
                others: 2
            }
        );
        assert!(e.to_string().contains("shards 0, 1"), "{e}");
        assert_eq!(
            check_removal(&three, 9, 3, &set(&[1, 2, 3]), &set(&[1, 2, 3])),
            Err(Refusal::NotMember { node: 9 })
        );
    }

    #[test]
    fn another_draining_node_is_no_home_for_replicas() {
        let mut s = state(&[1, 2, 3, 4], &[(0, &[1, 2, 3])]);
        s.apply(&MetaCommand::Drain { node: 4 });
        let all = set(&[1, 2, 3, 4]);
        assert!(matches!(
            check_removal(&s, 1, 3, &all, &all),
            Err(Refusal::NowhereToGo { others: 2, .. })
        ));
    }

    #[test]
    fn shards_without_a_quorum_up_are_named() {
        let s = state(
            &[1, 2, 3, 4, 5],
            &[(0, &[1, 2, 3]), (1, &[1, 4, 5]), (2, &[2, 3, 4])],
        );
        let voters = set(&[1, 2, 3, 4, 5]);
        // Nodes 2 and 3 are down: shard 0 (on 1, 2, 3) cannot change its voters.
        let e = check_removal(&s, 1, 3, &voters, &set(&[1, 4, 5])).unwrap_err();
        assert_eq!(
            e,
            Refusal::ShardQuorum {
                node: 1,
                shards: vec![0]
            }
        );
        assert!(e.to_string().contains("shards 0 "), "{e}");
        // A dead node itself may be removed while its shards' other replicas are up.
        assert_eq!(
            check_removal(&s, 1, 3, &voters, &set(&[2, 3, 4, 5])),
            Ok(())
        );
    }

    #[test]
    fn the_meta_group_keeps_a_quorum() {
        let s = state(&[1, 2, 3, 4], &[]);
        let voters = set(&[1, 2, 3, 4]);
        // Removing 4 leaves voters 1, 2, 3 of which only 1 is up.
        let e = check_removal(&s, 4, 3, &voters, &set(&[1, 4])).unwrap_err();
        assert!(matches!(e, Refusal::MetaQuorum { .. }), "{e:?}");
        assert!(e.to_string().contains("1, 2, 3"), "{e}");
        assert_eq!(check_removal(&s, 4, 3, &voters, &set(&[1, 2, 4])), Ok(()));
        let one = state(&[1], &[]);
        assert!(matches!(
            check_removal(&one, 1, 3, &set(&[1]), &set(&[1])),
            Err(Refusal::MetaQuorum { .. })
        ));
    }
}
