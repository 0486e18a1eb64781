//! Raft metrics for `/metrics`: per group term, leader, log and apply lag from each group's
//! status, plus counters the node keeps (proposals, commit latency, leader changes).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cairn_consensus::NodeId;

use super::Cluster;

/// Upper bounds (seconds) of the commit latency histogram's buckets: fine enough between
/// 1 ms and 300 ms (where commits fall) for percentiles read off them to mean something.
const BUCKETS: [f64; 20] = [
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15,
    0.2, 0.3, 0.5, 1.0, 2.0, 5.0,
];

#[derive(Default)]
pub struct RaftCounters {
    pub proposals: AtomicU64,
    pub proposals_failed: AtomicU64,
    pub forwarded: AtomicU64,
    commit_buckets: [AtomicU64; BUCKETS.len()],
    commit_count: AtomicU64,
    commit_micros: AtomicU64,
    leader_changes: AtomicU64,
    /// Per group: its leader at the last observation, and since when it has been observed.
    leaders: Mutex<HashMap<u64, (Option<NodeId>, std::time::Instant)>>,
}

impl RaftCounters {
    /// Records one committed-and-applied proposal made on this node.
    pub fn committed(&self, took: Duration) {
        let secs = took.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.commit_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.commit_count.fetch_add(1, Ordering::Relaxed);
        self.commit_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// Notes the leader a group has now; counts a change from the last one noted.
    pub fn observe_leader(&self, group: u64, leader: Option<NodeId>) {
        let mut m = self.leaders.lock().unwrap_or_else(|p| p.into_inner());
        match m.get(&group) {
            Some((before, _)) if *before == leader => {}
            before => {
                if before.is_some() && leader.is_some() {
                    self.leader_changes.fetch_add(1, Ordering::Relaxed);
                }
                m.insert(group, (leader, std::time::Instant::now()));
            }
        }
    }

    /// How long `group` has had the leader it has now, as observed (`None`: not observed).
    pub fn leader_for(&self, group: u64) -> Option<Duration> {
        let m = self.leaders.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&group).map(|(_, since)| since.elapsed())
    }
}

impl Cluster {
    /// Notes every group's current leader (the reconcile job calls this every pass), counting
    /// leader changes for `cairn_raft_leader_changes_total`.
    pub fn observe_leaders(&self) {
        let c = &self.counters;
        c.observe_leader(cairn_consensus::META_GROUP, self.groups.meta().leader());
        for g in self.groups.local_shards() {
            c.observe_leader(g.group(), g.leader());
        }
    }

    /// Appends the Raft metrics to `o` in the text exposition format.
    pub fn render_metrics(&self, o: &mut String) {
        let c = &self.counters;
        let mut metrics = vec![self.groups.meta().status()];
        metrics.extend(self.groups.local_shards().iter().map(|g| g.status()));
        let _ = writeln!(
            o,
            "# HELP cairn_raft_term Current Raft term, per group (0 is the meta group).\n# TYPE cairn_raft_term gauge"
        );
        for m in &metrics {
            let _ = writeln!(o, "cairn_raft_term{{group=\"{}\"}} {}", m.group, m.term);
        }
        let _ = writeln!(
            o,
            "# HELP cairn_raft_is_leader 1 if this node leads the group.\n# TYPE cairn_raft_is_leader gauge"
        );
        for m in &metrics {
            let lead = (m.leader == Some(self.node_id())) as u8;
            let _ = writeln!(o, "cairn_raft_is_leader{{group=\"{}\"}} {lead}", m.group);
        }
        let _ = writeln!(
            o,
            "# HELP cairn_raft_apply_lag_entries Log entries this replica has but has not applied.\n# TYPE cairn_raft_apply_lag_entries gauge"
        );
        for m in &metrics {
            let (g, lag) = (m.group, m.apply_lag());
            let _ = writeln!(o, "cairn_raft_apply_lag_entries{{group=\"{g}\"}} {lag}");
        }
        let _ = writeln!(
            o,
            "# HELP cairn_raft_log_entries Entries in the group's log (not yet purged).\n# TYPE cairn_raft_log_entries gauge"
        );
        for m in &metrics {
            let (g, n) = (m.group, m.log_entries());
            let _ = writeln!(o, "cairn_raft_log_entries{{group=\"{g}\"}} {n}");
        }
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let batches = self.groups.network().batch_counters();
        let counters: [(&str, &str, &AtomicU64); 6] = [
            (
                "cairn_raft_leader_changes_total",
                "Leader changes seen on this node's groups (sampled every second).",
                &c.leader_changes,
            ),
            (
                "cairn_raft_proposals_total",
                "Write batches proposed by this node as a shard leader.",
                &c.proposals,
            ),
            (
                "cairn_raft_proposals_failed_total",
                "Proposals that were not committed (no quorum in time, leadership lost).",
                &c.proposals_failed,
            ),
            (
                "cairn_raft_append_batches_total",
                "AppendEntriesBatch calls this node sent (each carries several groups' AppendEntries to one peer).",
                &batches.calls,
            ),
            (
                "cairn_raft_append_batch_requests_total",
                "AppendEntries requests (appends and heartbeats) sent in those calls.",
                &batches.requests,
            ),
            (
                "cairn_raft_forwarded_writes_total",
                "Write batches this node forwarded to a shard leader elsewhere.",
                &c.forwarded,
            ),
        ];
        for (name, help, v) in counters {
            let v = load(v);
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        }
        let _ = writeln!(
            o,
            "# HELP cairn_raft_commit_seconds From proposal to applied on the leader.\n# TYPE cairn_raft_commit_seconds histogram"
        );
        for (i, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                o,
                "cairn_raft_commit_seconds_bucket{{le=\"{le}\"}} {}",
                load(&c.commit_buckets[i])
            );
        }
        let n = load(&c.commit_count);
        let _ = writeln!(
            o,
            "cairn_raft_commit_seconds_bucket{{le=\"+Inf\"}} {n}\ncairn_raft_commit_seconds_sum {}\ncairn_raft_commit_seconds_count {n}",
            load(&c.commit_micros) as f64 / 1e6
        );
    }
}
