//! The seed `cairn restore` leaves in a data dir (`restore.json`): the restored cluster's
//! shards per tenant and the backed-up meta key-value space (rules, alert state, tenants'
//! retention, silences). The node that starts on that dir bootstraps a new cluster with it and
//! puts the keys back, then deletes the file.
//!
//! ```text
//!  cairn restore ─► <data dir>/db (every shard's data) + <data dir>/restore.json
//!  cairn server (no --join) ─► bootstrap(shards_per_tenant) ─► checkpoint + purge every
//!      shard (new replicas then catch up by snapshot) ─► Kv puts, 500 a command ─► rm
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context;
use cairn_consensus::{KvOp, MetaCommand};
use serde::{Deserialize, Serialize};

use super::Cluster;

/// Keys put back per meta command (each is one Raft entry).
const KEYS_PER_COMMAND: usize = 500;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RestoreSeed {
    pub shards: u32,
    pub shards_per_tenant: u32,
    pub kv: Vec<(String, String)>,
}

impl RestoreSeed {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("restore.json")
    }

    /// The seed in `data_dir`, if `cairn restore` left one.
    pub fn read(data_dir: &Path) -> anyhow::Result<Option<RestoreSeed>> {
        let path = RestoreSeed::path(data_dir);
        match std::fs::read(&path) {
            Ok(bytes) => {
                Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                    format!("{} is not a restore seed", path.display())
                })?))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn write(&self, data_dir: &Path) -> anyhow::Result<()> {
        let path = RestoreSeed::path(data_dir);
        std::fs::write(&path, serde_json::to_vec(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }
}

impl Cluster {
    /// Checkpoints every shard and purges its log, so that a replica added later catches up
    /// by a snapshot of the restored data (from the log alone it would get only what was
    /// written since); puts the seed's keys back into the meta group (forwarded to its leader
    /// if need be); then deletes the seed: a crash before that does it all again (puts are
    /// absolute).
    pub async fn apply_restore_seed(
        &self,
        seed: &RestoreSeed,
        data_dir: &Path,
    ) -> anyhow::Result<()> {
        // Right after the bootstrap a group may not have applied its first entry yet, and a
        // checkpoint needs something applied.
        for g in self.groups.local_shards() {
            g.wait_applied(0, std::time::Duration::from_secs(30))
                .await
                .with_context(|| format!("shard {} applying its first entry", g.shard()))?;
        }
        self.groups
            .flush()
            .await
            .context("checkpointing the restored shards")?;
        for chunk in seed.kv.chunks(KEYS_PER_COMMAND) {
            let ops = chunk
                .iter()
                .map(|(key, value)| KvOp::Put {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect();
            self.propose_meta(
                MetaCommand::Kv { ops },
                "restoring the meta key-value space",
            )
            .await?;
        }
        std::fs::remove_file(RestoreSeed::path(data_dir))
            .with_context(|| format!("removing {}", RestoreSeed::path(data_dir).display()))?;
        tracing::info!(
            keys = seed.kv.len(),
            shards = self.groups.local_shards().len(),
            "restored the meta key-value space from a backup; every shard checkpointed"
        );
        Ok(())
    }
}
