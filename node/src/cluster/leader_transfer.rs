//! Leader transfers (issue 19: "shard leaders are spread"). openraft 0.9 has no TimeoutNow,
//! so a leader hands over the way Raft's thesis (§3.10) describes, from the outside:
//!
//! ```text
//!  meta leader: plan_leader_transfers ─► Cluster.TransferLeader(shard, to) on the leader L
//!  L: prepare_handover(to): proposals held, wait until to's log matches L's
//!     ─► Cluster.Campaign(shard) on `to` ─► to stands for election with a complete log
//!     ─► L grants its vote (openraft's leader does not refuse a vote by lease once it has led
//!        longer than the lease) and steps down; to has a majority (itself and L)
//!     ─► proposals released: on L now a follower, they fail with NotLeader naming `to`, and
//!        the write path retries them there
//! ```
//! The pause is the time to catch `to` up and one vote round trip. A leader that has led for
//! less than `MIN_LEADERSHIP` refuses: its own lease would make it refuse `to`'s vote, and
//! `to`'s higher term would then unseat it with a full election among all replicas.

use std::time::Duration;

use cairn_consensus::NodeId;
use cairn_proto::cluster::{CampaignRequest, TransferLeaderRequest};

use super::{Cluster, call};
use crate::error::{Error, Result};

/// How long the leader waits for its successor to catch up, and then to win.
const HANDOVER_WAIT: Duration = Duration::from_secs(3);

/// How long the meta leader waits for a transfer it asked for: the leader's two waits and
/// a margin.
const ASK_WAIT: Duration = Duration::from_secs(10);

/// A leader hands over only after leading this long (more than openraft's leader lease, the
/// longest election timeout: 2.4 s by default).
const MIN_LEADERSHIP: Duration = Duration::from_secs(5);

impl Cluster {
    /// As the leader of `shard`: hands leadership to its voter `to` (see the module docs) and
    /// returns the leader once done (`to`).
    pub async fn transfer_leader(&self, shard: u32, to: NodeId) -> Result<NodeId> {
        let g = self
            .groups
            .shard(shard)
            .ok_or(cairn_consensus::Error::NoReplica { shard })?;
        if g.leader() == Some(to) {
            return Ok(to);
        }
        let led = self.counters.leader_for(g.group()).unwrap_or_default();
        if led < MIN_LEADERSHIP {
            return Err(Error::TooNewLeader { shard, led });
        }
        let guard = g.prepare_handover(to, HANDOVER_WAIT).await?;
        let mut client = self.client_of(to)?;
        call(
            to,
            HANDOVER_WAIT,
            client.campaign(CampaignRequest { shard }),
        )
        .await?;
        let won = g.wait_leader(to, HANDOVER_WAIT).await;
        drop(guard);
        won?;
        tracing::info!(shard, to, "handed the shard's leadership over");
        Ok(to)
    }

    /// Asks the leader of `shard`, node `leader`, to hand its leadership to `to`
    /// (`Cluster.TransferLeader`, answered by [`Cluster::transfer_leader`] there); returns
    /// the leader once the call ended.
    pub async fn ask_transfer(&self, shard: u32, leader: NodeId, to: NodeId) -> Result<NodeId> {
        let mut client = self.client_of(leader)?;
        let req = TransferLeaderRequest { shard, to };
        let r = call(leader, ASK_WAIT, client.transfer_leader(req)).await?;
        Ok(r.leader)
    }

    /// Notes the shards node `id` said it leads (its answer to a ping).
    pub fn record_leading(&self, id: NodeId, shards: Vec<u32>) {
        let mut m = self.leading.lock().unwrap_or_else(|p| p.into_inner());
        m.insert(id, (shards, std::time::Instant::now()));
    }

    /// Each shard's leader as the members last said (this node's own replicas as they are),
    /// from answers at most `fresh` old; a shard two nodes claim is left out (an election was
    /// under way).
    pub fn known_leaders(&self, fresh: Duration) -> std::collections::BTreeMap<u32, NodeId> {
        use std::collections::btree_map::Entry;
        let me = self.node_id();
        let mut claims: Vec<(u32, NodeId)> = self
            .groups
            .local_shards()
            .iter()
            .filter(|g| g.is_leader())
            .map(|g| (g.shard(), me))
            .collect();
        let m = self.leading.lock().unwrap_or_else(|p| p.into_inner());
        for (&id, (shards, at)) in m.iter() {
            if id != me && at.elapsed() <= fresh {
                claims.extend(shards.iter().map(|&s| (s, id)));
            }
        }
        let mut out = std::collections::BTreeMap::new();
        let mut contested = std::collections::BTreeSet::new();
        for (s, id) in claims {
            match out.entry(s) {
                Entry::Vacant(e) => {
                    e.insert(id);
                }
                Entry::Occupied(e) if *e.get() != id => {
                    contested.insert(s);
                }
                Entry::Occupied(_) => {}
            }
        }
        out.retain(|s, _| !contested.contains(s));
        out
    }
}
