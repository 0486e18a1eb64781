use super::*;

const MIN: i64 = 60_000;

fn cfg() -> MovePlanConfig {
    MovePlanConfig {
        rf: 3,
        max_concurrent: 2,
        dead_after_ms: 10 * MIN,
        stable_after_ms: MIN,
    }
}

/// `shards` shards on nodes `1..=n`, round robin, `rf` each.
fn placement(shards: u32, n: u64, rf: usize) -> BTreeMap<u32, Vec<NodeId>> {
    (0..shards)
        .map(|s| {
            let r = (0..rf as u64).map(|i| (s as u64 + i) % n + 1).collect();
            (s, r)
        })
        .collect()
}

fn up_nodes(ids: &[NodeId], since: i64) -> BTreeMap<NodeId, NodeView> {
    ids.iter().map(|&n| (n, NodeView::up(since))).collect()
}

fn apply(p: &mut BTreeMap<u32, Vec<NodeId>>, m: &Move) {
    let r = p.get_mut(&m.shard).unwrap();
    assert!(
        !r.contains(&m.add),
        "{m:?} adds a replica the shard has: {r:?}"
    );
    r.push(m.add);
    if let Some(x) = m.remove {
        assert!(
            r.contains(&x),
            "{m:?} removes a replica the shard lacks: {r:?}"
        );
        r.retain(|n| *n != x);
    }
}

/// Replicas per node: `nodes` (zero if none), and any other node holding one.
fn counts(p: &BTreeMap<u32, Vec<NodeId>>, nodes: &[NodeId]) -> BTreeMap<NodeId, usize> {
    let mut c: BTreeMap<NodeId, usize> = nodes.iter().map(|&n| (n, 0)).collect();
    for r in p.values() {
        for n in r {
            *c.entry(*n).or_default() += 1;
        }
    }
    c
}

/// Plans and completes moves (two at a time, as the driver would) until none is planned;
/// returns how many moves it took. Checks every plan as it goes.
fn settle(
    p: &mut BTreeMap<u32, Vec<NodeId>>,
    nodes: &BTreeMap<NodeId, NodeView>,
    now: i64,
    cfg: &MovePlanConfig,
) -> usize {
    let mut total = 0;
    for _ in 0..1_000 {
        let moves = plan_moves(p, nodes, &[], now, cfg);
        check_plan(p, nodes, &[], now, cfg, &moves);
        if moves.is_empty() {
            return total;
        }
        for m in &moves {
            apply(p, m);
        }
        total += moves.len();
    }
    panic!("no fixed point after 1,000 rounds: {p:?}");
}

/// What every plan must satisfy.
fn check_plan(
    p: &BTreeMap<u32, Vec<NodeId>>,
    nodes: &BTreeMap<NodeId, NodeView>,
    in_flight: &[Move],
    now: i64,
    cfg: &MovePlanConfig,
    moves: &[Move],
) {
    assert!(in_flight.len() + moves.len() <= cfg.max_concurrent.max(in_flight.len()));
    let mut shards = BTreeSet::new();
    for m in moves {
        assert!(
            shards.insert(m.shard),
            "two moves of shard {}: {moves:?}",
            m.shard
        );
        assert!(
            !in_flight.iter().any(|f| f.shard == m.shard),
            "shard {} already moving",
            m.shard
        );
        let v = nodes[&m.add];
        assert!(!v.draining, "{m:?} targets a draining node");
        assert!(
            v.up_since.is_some_and(|u| now - u >= cfg.stable_after_ms),
            "{m:?} targets a node not stably up"
        );
        let r = &p[&m.shard];
        assert!(!r.contains(&m.add), "{m:?}: two replicas on one node");
        assert!(
            m.remove.is_none_or(|x| r.contains(&x)),
            "{m:?}: removes what {r:?} lacks"
        );
        // A move adds one replica (on a stable target, checked above) before it removes at
        // most one, so a shard never has fewer live replicas than before; `settle` checks
        // that every shard ends with rf of them.
        if m.reason == MoveReason::Balance {
            assert!(
                m.remove.is_some(),
                "{m:?}: a balance move removes what it adds"
            );
        }
    }
}

#[test]
fn a_joining_node_gets_its_share_once_stable() {
    let mut p = placement(16, 3, 3);
    let mut nodes = up_nodes(&[1, 2, 3], 0);
    nodes.insert(4, NodeView::up(10 * MIN));
    // Not stable yet: nothing moves to it.
    assert!(plan_moves(&p, &nodes, &[], 10 * MIN + 1_000, &cfg()).is_empty());
    let now = 12 * MIN;
    let moves = plan_moves(&p, &nodes, &[], now, &cfg());
    assert_eq!(moves.len(), 2, "at most max_concurrent: {moves:?}");
    assert!(
        moves
            .iter()
            .all(|m| m.add == 4 && m.reason == MoveReason::Balance)
    );
    let n = settle(&mut p, &nodes, now, &cfg());
    let c = counts(&p, &[1, 2, 3, 4]);
    // 48 replicas over 4 nodes: 12 each, reached with the fewest moves (12 onto node 4).
    assert!(c.values().all(|&k| k == 12), "{c:?}");
    assert_eq!(n, 12, "no move more than needed");
    assert!(p.values().all(|r| r.len() == 3));
}

#[test]
fn a_node_down_is_replaced_only_after_dead_after() {
    let mut p = placement(12, 4, 3);
    let mut nodes = up_nodes(&[1, 2, 3, 4], 0);
    nodes.insert(2, NodeView::down(20 * MIN));
    let c = cfg();
    // Down for less than dead_after: nothing (a restart or a short partition).
    assert!(plan_moves(&p, &nodes, &[], 29 * MIN, &c).is_empty());
    let now = 31 * MIN;
    let moves = plan_moves(&p, &nodes, &[], now, &c);
    assert!(!moves.is_empty());
    assert!(
        moves
            .iter()
            .all(|m| m.remove == Some(2) && m.reason == MoveReason::Repair)
    );
    settle(&mut p, &nodes, now, &c);
    let cnt = counts(&p, &[1, 3, 4]);
    assert!(p.values().all(|r| r.len() == 3 && !r.contains(&2)), "{p:?}");
    assert!(cnt.values().all(|&k| k == 12), "{cnt:?}");
}

#[test]
fn a_flapping_node_causes_no_moves_and_a_returning_one_waits_to_be_stable() {
    let p = placement(12, 4, 3);
    let c = cfg();
    // Down 9 minutes, up 1, down 9 again: never dead.
    let mut nodes = up_nodes(&[1, 2, 3, 4], 0);
    for (down, up) in [(10 * MIN, 19 * MIN), (20 * MIN, 29 * MIN)] {
        nodes.insert(3, NodeView::down(down));
        assert!(plan_moves(&p, &nodes, &[], down + 9 * MIN, &c).is_empty());
        nodes.insert(3, NodeView::up(up));
        assert!(plan_moves(&p, &nodes, &[], up + 30_000, &c).is_empty());
    }
    // Node 4 died and was replaced; back now, it is not a target until stable.
    let mut p = placement(12, 4, 3);
    let mut nodes = up_nodes(&[1, 2, 3, 4], 0);
    nodes.insert(4, NodeView::down(MIN));
    settle(&mut p, &nodes, 20 * MIN, &c);
    assert!(p.values().all(|r| !r.contains(&4)));
    nodes.insert(4, NodeView::up(30 * MIN));
    assert!(plan_moves(&p, &nodes, &[], 30 * MIN + 10_000, &c).is_empty());
    settle(&mut p, &nodes, 32 * MIN, &c);
    let cnt = counts(&p, &[1, 2, 3, 4]);
    assert!(cnt.values().all(|&k| k == 9), "{cnt:?}");
}

#[test]
fn a_draining_node_empties_and_receives_nothing() {
    let mut p = placement(10, 5, 3);
    let mut nodes = up_nodes(&[1, 2, 3, 4, 5], 0);
    nodes.get_mut(&5).unwrap().draining = true;
    let moves = plan_moves(&p, &nodes, &[], MIN, &cfg());
    assert!(
        moves
            .iter()
            .all(|m| m.remove == Some(5) && m.reason == MoveReason::Drain)
    );
    settle(&mut p, &nodes, MIN, &cfg());
    assert!(p.values().all(|r| r.len() == 3 && !r.contains(&5)));
    let cnt = counts(&p, &[1, 2, 3, 4]);
    assert!(
        cnt.values().max().unwrap() - cnt.values().min().unwrap() <= 1,
        "{cnt:?}"
    );
}

#[test]
fn moves_in_flight_count_and_their_shards_wait() {
    let p = placement(16, 3, 3);
    let mut nodes = up_nodes(&[1, 2, 3], 0);
    nodes.insert(4, NodeView::up(0));
    let c = cfg();
    let first = plan_moves(&p, &nodes, &[], MIN, &c);
    assert_eq!(first.len(), 2);
    // Both in flight: nothing more may start.
    assert!(plan_moves(&p, &nodes, &first, MIN, &c).is_empty());
    // One in flight: one more, of another shard, planned against the state after it.
    let next = plan_moves(&p, &nodes, &first[..1], MIN, &c);
    check_plan(&p, &nodes, &first[..1], MIN, &c, &next);
    assert_eq!(next.len(), 1);
    assert_ne!(next[0].shard, first[0].shard);
}

#[test]
fn a_shard_short_of_replicas_gains_one_without_removing() {
    let mut p = placement(4, 3, 3);
    p.insert(2, vec![1, 2]);
    let nodes = up_nodes(&[1, 2, 3], 0);
    let moves = plan_moves(&p, &nodes, &[], MIN, &cfg());
    assert_eq!(
        moves,
        vec![Move {
            shard: 2,
            add: 3,
            remove: None,
            reason: MoveReason::Repair
        }]
    );
}

/// A small deterministic generator for the property test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn every_plan_keeps_rf_and_distinct_nodes_and_settles_balanced() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for case in 0..400 {
        let n = 3 + rng.below(6); // 3..=8 nodes
        let shards = 1 + rng.below(24) as u32;
        let rf = 3usize;
        let c = MovePlanConfig {
            rf,
            max_concurrent: 1 + rng.below(4) as usize,
            ..cfg()
        };
        // A valid but uneven placement: rf distinct nodes per shard, skewed to low ids.
        let mut p = BTreeMap::new();
        for s in 0..shards {
            let mut r: Vec<NodeId> = Vec::new();
            while r.len() < rf {
                let x = 1 + rng.below(n).min(rng.below(n));
                if !r.contains(&x) {
                    r.push(x);
                }
            }
            p.insert(s, r);
        }
        // Node states: most up and stable, some dead, one maybe draining, one maybe new.
        let now = 100 * MIN;
        let mut nodes = BTreeMap::new();
        for id in 1..=n {
            let v = match rng.below(10) {
                0 => NodeView::down(now - 20 * MIN),
                1 => NodeView::down(now - MIN),
                2 => NodeView::up(now - 10_000),
                3 => NodeView {
                    draining: true,
                    ..NodeView::up(0)
                },
                _ => NodeView::up(0),
            };
            nodes.insert(id, v);
        }
        let targets: Vec<NodeId> = nodes
            .iter()
            .filter(|(_, v)| {
                !v.draining && v.up_since.is_some_and(|u| now - u >= c.stable_after_ms)
            })
            .map(|(&id, _)| id)
            .collect();
        // Replicas may stay on a node down for less than dead_after or up but not yet stable.
        let keep: Vec<NodeId> = nodes
            .iter()
            .filter(|(_, v)| !v.draining && v.down_since.is_none_or(|d| now - d < c.dead_after_ms))
            .map(|(&id, _)| id)
            .collect();
        settle(&mut p, &nodes, now, &c);
        for (s, r) in &p {
            let distinct: BTreeSet<_> = r.iter().collect();
            assert_eq!(distinct.len(), r.len(), "case {case} shard {s}: {r:?}");
            assert!(r.len() >= rf.min(r.len()), "case {case}");
        }
        if targets.len() >= rf {
            // Enough targets: nothing left on dead or draining nodes, rf replicas each, and
            // counts on the targets within one of each other (replicas on a node briefly
            // down or not yet stable stay where they are).
            for (s, r) in &p {
                assert_eq!(r.len(), rf, "case {case} shard {s}: {r:?}");
                assert!(
                    r.iter().all(|x| keep.contains(x)),
                    "case {case} shard {s}: {r:?} not on {keep:?}"
                );
            }
            let mut cnt = counts(&p, &targets);
            cnt.retain(|n, _| targets.contains(n));
            let (lo, hi) = (cnt.values().min().unwrap(), cnt.values().max().unwrap());
            assert!(
                hi - lo <= 1,
                "case {case}: {cnt:?} {p:?} {nodes:?} {:?}",
                plan_moves(&p, &nodes, &[], now, &c)
            );
        }
    }
}

#[test]
fn leaders_spread_within_one_of_each_other() {
    let p = placement(16, 4, 3);
    let live: BTreeSet<NodeId> = [1, 2, 3, 4].into();
    // Every shard led by its first replica's node 1 where it can be.
    let mut leaders: BTreeMap<u32, NodeId> = p
        .iter()
        .map(|(&s, r)| (s, if r.contains(&1) { 1 } else { r[0] }))
        .collect();
    let moves = plan_leader_transfers(&p, &leaders, &live);
    for &(s, to) in &moves {
        assert!(p[&s].contains(&to), "shard {s} led by a non-voter {to}");
        leaders.insert(s, to);
    }
    let mut cnt: BTreeMap<NodeId, usize> = live.iter().map(|&n| (n, 0)).collect();
    for l in leaders.values() {
        *cnt.get_mut(l).unwrap() += 1;
    }
    assert!(cnt.values().all(|&c| c == 4), "{cnt:?}");
    assert!(plan_leader_transfers(&p, &leaders, &live).is_empty());
}
