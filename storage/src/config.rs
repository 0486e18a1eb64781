//! The storage engine's configuration (the `[storage]` table of the node's TOML file): the
//! settings, their defaults and their checks (`validate`). It must not read files, flags or
//! the environment: the node assembles the configuration and hands it over.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Where the node's RocksDB lives (set from the node's top-level `data_dir`).
    #[serde(skip)]
    pub data_dir: PathBuf,
    /// Number of shards (fixed when the data dir is created).
    pub shards: u32,
    /// Raw sample retention (`"7d"`); `"0s"` keeps data forever. Stored only, for now.
    #[serde(rename = "retention", with = "cairn_model::units::duration_ms")]
    pub retention_ms: i64,
    /// Samples older than a series' newest sample by more than this are rejected.
    #[serde(rename = "ooo_window", with = "cairn_model::units::duration_ms")]
    pub ooo_window_ms: i64,
    /// A head chunk is sealed after this many samples...
    pub chunk_max_samples: usize,
    /// ...or when a sample crosses a boundary of this span (aligned to the epoch).
    #[serde(rename = "chunk_span", with = "cairn_model::units::duration_ms")]
    pub chunk_span_ms: i64,
    /// Write a checkpoint (sealed chunks, head index, flushed index) when this much
    /// write-ahead log has accumulated in a shard since its last one...
    #[serde(with = "cairn_model::units::bytes")]
    pub checkpoint_wal_bytes: u64,
    /// ...or after this long.
    #[serde(
        rename = "checkpoint_interval",
        with = "cairn_model::units::duration_ms_u64"
    )]
    pub checkpoint_interval_ms: u64,
    /// Sealed chunks a shard keeps in memory until the next checkpoint, at most: when they
    /// reach this much, `apply` writes them out at once (a bound whatever the ingest rate).
    #[serde(rename = "sealed_memory", with = "cairn_model::units::bytes")]
    pub sealed_memory_bytes: u64,
    /// RocksDB block cache for index and chunk reads.
    #[serde(rename = "block_cache", with = "cairn_model::units::bytes")]
    pub block_cache_bytes: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            data_dir: PathBuf::from("./cairn-data"),
            shards: 16,
            retention_ms: 7 * 86_400_000,
            ooo_window_ms: 3_600_000,
            chunk_max_samples: 120,
            chunk_span_ms: 2 * 3_600_000,
            checkpoint_wal_bytes: 256 << 20,
            checkpoint_interval_ms: 10 * 60_000,
            sealed_memory_bytes: 8 << 20,
            block_cache_bytes: 64 << 20,
        }
    }
}

impl StorageConfig {
    pub fn validate(&self) -> Result<()> {
        let err = |field, reason: &str| {
            Err(Error::Config {
                field,
                reason: reason.to_string(),
            })
        };
        if self.shards == 0 || self.shards > u16::MAX as u32 {
            return err("shards", "must be between 1 and 65535");
        }
        if self.retention_ms < 0 {
            return err("retention", "must not be negative");
        }
        if self.ooo_window_ms < 0 {
            return err("ooo_window", "must not be negative");
        }
        if self.chunk_max_samples == 0 || self.chunk_max_samples > 65_535 {
            return err("chunk_max_samples", "must be between 1 and 65535");
        }
        // tsz's delta-of-delta is an i32: a chunk must span less than 2^31 ms.
        if self.chunk_span_ms <= 0 || self.chunk_span_ms >= 86_400_000 {
            return err("chunk_span", "must be positive and under one day");
        }
        if 86_400_000 % self.chunk_span_ms != 0 {
            return err(
                "chunk_span",
                "must divide a day, so chunks never cross a day",
            );
        }
        Ok(())
    }

    pub fn checkpoint_interval(&self) -> Duration {
        Duration::from_millis(self.checkpoint_interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        StorageConfig::default().validate().unwrap();
        let c = StorageConfig {
            chunk_span_ms: 7_000_000,
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("chunk_span"));
        let c = StorageConfig {
            shards: 0,
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("shards"));
    }
}
