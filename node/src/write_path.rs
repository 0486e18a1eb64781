//! The replicated write path shared by everything on the node that stores samples: the HTTP
//! write endpoints and the rule evaluation driver (recording rules, `ALERTS`). A write is
//! already split by shard ([`WriteBatchBuilder::finish_sharded`]); each part is committed
//! through its shard's Raft group, concurrently.
//!
//! ```text
//!  Vec<(shard, WriteBatch)> ─► Cluster::write(shard, …) per part (join_all)
//!                               ├─ all committed ─► Ok(ApplyOutcome summed over the parts)
//!                               ├─ some part not committed in time ─► Unavailable (retry)
//!                               └─ a part failed for good ─► Failed (a bug or a damaged replica)
//! ```
//!
//! [`WriteBatchBuilder::finish_sharded`]: cairn_model::WriteBatchBuilder::finish_sharded

use cairn_model::WriteBatch;
use cairn_storage::ApplyOutcome;

use crate::cluster::Cluster;

/// Why a write was not (wholly) committed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Some parts were not committed within the write timeout (no leader, no quorum). Parts
    /// that were are kept: retrying the whole write is safe, as identical samples are
    /// idempotent.
    #[error(
        "write not acknowledged by {}; {written} samples in other shards were written; retrying the request is safe",
        failed.join(", ")
    )]
    Unavailable {
        /// One message per failed part, each naming its shard.
        failed: Vec<String>,
        /// Samples of the parts that were committed.
        written: u64,
    },
    /// Not a leadership or quorum problem: a bug or a damaged replica.
    #[error(transparent)]
    Failed(#[from] crate::Error),
}

impl CommitError {
    /// Whether writing again later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, CommitError::Unavailable { .. })
    }
}

/// Commits every part through its shard's Raft group (concurrently) and sums what the
/// leaders applied. Returns once every part is committed and applied on its leader.
pub async fn commit(
    cluster: &Cluster,
    parts: Vec<(u32, WriteBatch)>,
) -> Result<ApplyOutcome, CommitError> {
    let writes = parts.into_iter().map(|(shard, batch)| {
        let min_t = batch.min_t();
        let bytes = bytes::Bytes::from(batch.into_bytes());
        cluster.write(shard, bytes, min_t)
    });
    let mut total = ApplyOutcome::default();
    let mut failed = Vec::new();
    for r in futures_util::future::join_all(writes).await {
        match r {
            Ok(report) => total.add(&ApplyOutcome {
                written: report.written,
                duplicates: report.duplicates,
                rejected_too_old: report.rejected_too_old,
                rejected_conflict: report.rejected_conflict,
                ..Default::default()
            }),
            Err(e) if e.is_retryable() => failed.push(e.naming_the_shard()),
            Err(e) => return Err(CommitError::Failed(e)),
        }
    }
    if failed.is_empty() {
        Ok(total)
    } else {
        Err(CommitError::Unavailable {
            failed,
            written: total.written,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unavailable_write_names_its_shards_and_is_retryable() {
        let e = CommitError::Unavailable {
            failed: vec!["shard 3: no leader of shard 3 is known".into()],
            written: 12,
        };
        assert!(e.is_retryable());
        assert_eq!(
            e.to_string(),
            "write not acknowledged by shard 3: no leader of shard 3 is known; 12 samples in \
             other shards were written; retrying the request is safe"
        );
        let bug = CommitError::from(crate::Error::BadReply {
            shard: 1,
            reason: "no samples",
        });
        assert!(!bug.is_retryable());
    }
}
