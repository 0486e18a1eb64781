//! The node's configuration: a TOML file (`--config`), `CAIRN_*` environment variables and
//! command-line flags, in that order of increasing precedence, over built-in defaults.
//! `deploy/cairn.example.toml` documents every key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use cairn_model::units;
use cairn_model::{RetentionOverride, RetentionPolicy, retention_policy};
use cairn_query::{QueryCacheConfig, QueryConfig};
use cairn_storage::StorageConfig;
use serde::{Deserialize, Serialize};

mod maintenance_config;
mod rebalance_config;
pub use maintenance_config::MaintenanceConfig;
pub use rebalance_config::RebalanceConfig;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// This node's id in the cluster (1 for a single node).
    pub node_id: u64,
    /// HTTP API listen address.
    pub http_addr: SocketAddr,
    /// gRPC listen address for node-to-node traffic (Raft, forwarded writes, joins).
    pub grpc_addr: SocketAddr,
    /// The HTTP address other nodes and clients are told (`host:port`; a name is fine), when
    /// it differs from the one bound (a wildcard, or behind NAT); default: the bound address.
    pub advertise_http_addr: Option<String>,
    /// The gRPC address the other members dial (`host:port`, a name is resolved at every
    /// connect: a Kubernetes pod's stable DNS name survives the pod's new IP); default: the
    /// bound address.
    pub advertise_grpc_addr: Option<String>,
    /// A member's gRPC address (`host:port`) to join an existing cluster through, on first
    /// start. Without it (and with an empty data dir) the node bootstraps a new cluster.
    pub join: Option<String>,
    /// Data directory (RocksDB, snapshots).
    pub data_dir: PathBuf,
    /// Log filter in `RUST_LOG` syntax, e.g. `"info"` or `"info,cairn_storage=debug"`.
    pub log: String,
    pub storage: StorageConfig,
    pub limits: LimitsConfig,
    pub tenancy: TenancyConfig,
    /// PromQL evaluation limits (owned by `cairn-query`).
    pub query: QueryConfig,
    pub query_cache: QueryCacheConfig,
    pub cluster: ClusterConfig,
    pub rules: RulesConfig,
    pub retention: RetentionConfig,
    pub maintenance: MaintenanceConfig,
    pub rebalance: RebalanceConfig,
    /// A development clock: the node's time can be moved ahead through
    /// `POST /api/v1/admin/clock` (`--dev-clock`), so tests age data by days in seconds.
    /// Never for production: alerts, retention and written timestamps all follow it.
    pub dev_clock: bool,
}

/// The cluster's default retention per storage tier (`[retention]`); tenants override it
/// through the API. `raw` also has the older spellings `[storage] retention` and
/// `--retention`: `load` settles them into `raw` and mirrors it back into the storage table.
/// A rollup tier left unset is the built-in default (30d, 365d), raised to the tier below when
/// that is longer, so `--retention 0s` alone still keeps everything forever.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Raw samples; unset: `[storage] retention` (7d).
    #[serde(skip_serializing_if = "Option::is_none", with = "optional_duration_ms")]
    pub raw: Option<i64>,
    /// 5-minute rollups.
    #[serde(skip_serializing_if = "Option::is_none", with = "optional_duration_ms")]
    pub rollup_5m: Option<i64>,
    /// 1-hour rollups.
    #[serde(skip_serializing_if = "Option::is_none", with = "optional_duration_ms")]
    pub rollup_1h: Option<i64>,
}

impl RetentionConfig {
    /// The policy: the keys set here over the built-in defaults (raw from
    /// `storage_retention_ms` when unset), unset rollup tiers lifted, checked.
    pub fn policy(
        &self,
        storage_retention_ms: i64,
    ) -> Result<RetentionPolicy, retention_policy::RetentionError> {
        let set = RetentionOverride {
            raw_ms: Some(self.raw.unwrap_or(storage_retention_ms)),
            rollup_5m_ms: self.rollup_5m,
            rollup_1h_ms: self.rollup_1h,
        };
        Ok(set.apply_checked(&RetentionPolicy::default())?.policy)
    }
}

/// `Option<i64>` milliseconds as an optional duration string.
mod optional_duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(ms) => s.serialize_str(&cairn_model::units::format_duration_ms(*ms)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let text = String::deserialize(d)?;
        cairn_model::units::parse_duration_ms(&text)
            .map(Some)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{text:?} is not a duration (e.g. 7d, 12h, 0s for forever)"
                ))
            })
    }
}

/// Rule evaluation on the meta leader (`[rules]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// How often a group without its own `interval` is evaluated (Prometheus'
    /// `evaluation_interval`).
    #[serde(rename = "evaluation_interval", with = "units::duration_ms_u64")]
    pub evaluation_interval_ms: u64,
    /// Group status (health, last error, last evaluation) is committed to the meta group at
    /// once when a rule's health or error changes, otherwise at most this often.
    #[serde(rename = "status_interval", with = "units::duration_ms_u64")]
    pub status_interval_ms: u64,
    /// This cluster's labels (Prometheus' `external_labels`): rule templates see them as
    /// `$externalLabels`.
    pub external_labels: BTreeMap<String, String>,
    /// The URL templates see as `$externalURL` (and alerts link to); empty: the node's own
    /// HTTP URL.
    pub external_url: String,
    /// Longest one rule's query may run.
    #[serde(rename = "query_timeout", with = "units::duration_ms_u64")]
    pub query_timeout_ms: u64,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            evaluation_interval_ms: 60_000,
            status_interval_ms: 15_000,
            external_labels: BTreeMap::new(),
            external_url: String::new(),
            query_timeout_ms: 2 * 60_000,
        }
    }
}

impl RulesConfig {
    /// `$externalURL`: the configured one, or this node's HTTP URL.
    pub fn external_url_or(&self, http_addr: SocketAddr) -> String {
        if self.external_url.is_empty() {
            format!("http://{http_addr}")
        } else {
            self.external_url.clone()
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.evaluation_interval_ms == 0 {
            bail!("[rules] evaluation_interval must be positive");
        }
        if self.status_interval_ms == 0 {
            bail!("[rules] status_interval must be positive");
        }
        if self.query_timeout_ms == 0 {
            bail!("[rules] query_timeout must be positive");
        }
        for name in self.external_labels.keys() {
            if !valid_label_name(name) {
                bail!(
                    "[rules] external_labels: {name:?} is not a valid label name \
                     ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"
                );
            }
        }
        let url = &self.external_url;
        let http = url.starts_with("http://") || url.starts_with("https://");
        if !url.is_empty() && !http {
            bail!(
                "[rules] external_url {:?} must start with http:// or https://",
                self.external_url
            );
        }
        Ok(())
    }
}

/// Prometheus' label name syntax; names starting with `__` are reserved.
fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.starts_with("__")
}

/// Replication and Raft timing (`[cluster]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Replicas per shard (fewer while the cluster has fewer nodes).
    pub replication_factor: u32,
    /// How often a Raft leader heartbeats its followers (per group).
    #[serde(rename = "heartbeat_interval", with = "units::duration_ms_u64")]
    pub heartbeat_interval_ms: u64,
    /// A follower that hears nothing from its leader for between this and twice this starts
    /// an election.
    #[serde(rename = "election_timeout", with = "units::duration_ms_u64")]
    pub election_timeout_ms: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            replication_factor: 3,
            heartbeat_interval_ms: 300,
            election_timeout_ms: 1_200,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest accepted request body (after `Content-Encoding` is removed: 4x this).
    #[serde(with = "units::bytes")]
    pub max_body_bytes: u64,
    /// How long a write may wait to be committed and applied on every shard it touches before
    /// the client gets 503 naming the shards (no leader or no quorum).
    #[serde(rename = "write_timeout", with = "units::duration_ms_u64")]
    pub write_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TenancyConfig {
    /// Shards each tenant's series spread over (K of the S shards; docs/design.md shuffle sharding).
    pub shards_per_tenant: u32,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            node_id: 1,
            http_addr: "127.0.0.1:7480".parse().expect("valid literal"),
            grpc_addr: "127.0.0.1:7481".parse().expect("valid literal"),
            join: None,
            advertise_http_addr: None,
            advertise_grpc_addr: None,
            data_dir: PathBuf::from("./cairn-data"),
            log: "info".into(),
            storage: StorageConfig::default(),
            limits: LimitsConfig::default(),
            tenancy: TenancyConfig::default(),
            query: QueryConfig::default(),
            query_cache: QueryCacheConfig::default(),
            cluster: ClusterConfig::default(),
            rules: RulesConfig::default(),
            retention: RetentionConfig::default(),
            maintenance: MaintenanceConfig::default(),
            rebalance: RebalanceConfig::default(),
            dev_clock: false,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: 16 << 20,
            write_timeout_ms: 5_000,
        }
    }
}

impl Default for TenancyConfig {
    fn default() -> Self {
        TenancyConfig {
            shards_per_tenant: 4,
        }
    }
}

/// Values given on the command line or in `CAIRN_*` variables (clap reads both).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub node_id: Option<u64>,
    pub http_addr: Option<SocketAddr>,
    pub grpc_addr: Option<SocketAddr>,
    pub advertise_http_addr: Option<String>,
    pub advertise_grpc_addr: Option<String>,
    pub join: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub retention: Option<String>,
    pub shards: Option<u32>,
    pub log: Option<String>,
    pub dev_clock: bool,
}

impl NodeConfig {
    /// Defaults, then the file (if any), then the overrides; validated.
    pub fn load(file: Option<&Path>, o: &Overrides) -> anyhow::Result<NodeConfig> {
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str::<NodeConfig>(&text)
                    .with_context(|| format!("config file {}", path.display()))?
            }
            None => NodeConfig::default(),
        };
        if let Some(v) = o.node_id {
            cfg.node_id = v;
        }
        if let Some(v) = o.http_addr {
            cfg.http_addr = v;
        }
        if let Some(v) = o.grpc_addr {
            cfg.grpc_addr = v;
        }
        if let Some(v) = &o.join {
            cfg.join = Some(v.clone());
        }
        if let Some(v) = &o.advertise_http_addr {
            cfg.advertise_http_addr = Some(v.clone());
        }
        if let Some(v) = &o.advertise_grpc_addr {
            cfg.advertise_grpc_addr = Some(v.clone());
        }
        if let Some(v) = &o.data_dir {
            cfg.data_dir = v.clone();
        }
        if let Some(v) = &o.retention {
            cfg.retention.raw = Some(units::parse_duration_ms(v).with_context(|| {
                format!("--retention {v:?}: expected a duration like 7d, 12h or 0s")
            })?);
        }
        if let Some(v) = o.shards {
            cfg.storage.shards = v;
        }
        if let Some(v) = &o.log {
            cfg.log = v.clone();
        }
        cfg.dev_clock |= o.dev_clock;
        cfg.storage.data_dir = cfg.data_dir.clone();
        cfg.settle_retention();
        cfg.validate()?;
        Ok(cfg)
    }

    /// One raw retention: `--retention` (already in `[retention] raw`) over `[retention] raw`
    /// over `[storage] retention` (the older key, still honoured) over 7d; every tier made
    /// explicit, and raw mirrored into `[storage] retention`, which the storage engine and
    /// `/api/v1/status/flags` read. An invalid `[retention]` is left for `validate` to report.
    pub fn settle_retention(&mut self) {
        if let Ok(p) = self.retention.policy(self.storage.retention_ms) {
            self.retention = RetentionConfig {
                raw: Some(p.raw_ms),
                rollup_5m: Some(p.rollup_5m_ms),
                rollup_1h: Some(p.rollup_1h_ms),
            };
            self.storage.retention_ms = p.raw_ms;
        }
    }

    /// The cluster's default retention policy (valid once `load` has succeeded; the built-in
    /// defaults otherwise).
    pub fn retention_defaults(&self) -> RetentionPolicy {
        self.retention
            .policy(self.storage.retention_ms)
            .unwrap_or_default()
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.storage
            .validate()
            .map_err(|e| anyhow::anyhow!("[storage] {e}"))?;
        if self.limits.max_body_bytes == 0 {
            bail!("[limits] max_body_bytes must be positive");
        }
        if self.tenancy.shards_per_tenant == 0 {
            bail!("[tenancy] shards_per_tenant must be at least 1");
        }
        self.maintenance.validate()?;
        self.rebalance.validate()?;
        // QueryConfig's messages already name the table and key ("[query] timeout: ...").
        self.query.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        if self.node_id == 0 {
            bail!("node_id must be at least 1");
        }
        for (name, v) in [
            ("advertise_http_addr", &self.advertise_http_addr),
            ("advertise_grpc_addr", &self.advertise_grpc_addr),
        ] {
            if let Some(v) = v {
                let port = v
                    .rsplit_once(':')
                    .map(|(host, port)| (host, port.parse::<u16>()));
                if !matches!(port, Some((host, Ok(p))) if !host.is_empty() && p != 0) {
                    bail!("{name} {v:?}: expected HOST:PORT, e.g. cairn-0.cairn:7481");
                }
            }
        }
        if self.cluster.replication_factor == 0 {
            bail!("[cluster] replication_factor must be at least 1");
        }
        if self.cluster.heartbeat_interval_ms == 0
            || self.cluster.election_timeout_ms < 3 * self.cluster.heartbeat_interval_ms
        {
            bail!(
                "[cluster] election_timeout must be at least three heartbeat_intervals, and both positive"
            );
        }
        self.query_cache
            .validate()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        self.rules.validate()?;
        self.retention
            .policy(self.storage.retention_ms)
            .map_err(|e| anyhow::anyhow!("[retention] {e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_overrides_then_file_then_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "data_dir = \"/from/file\"\nhttp_addr = \"127.0.0.1:9000\"\n[storage]\nretention = \"30d\"\n",
        )
        .unwrap();
        let cfg = NodeConfig::load(Some(&file), &Overrides::default()).unwrap();
        assert_eq!(cfg.data_dir, PathBuf::from("/from/file"));
        assert_eq!(cfg.storage.retention_ms, 30 * 86_400_000);
        assert_eq!(cfg.grpc_addr.port(), 7481, "default kept");
        let o = Overrides {
            data_dir: Some("/from/flag".into()),
            retention: Some("0s".into()),
            ..Default::default()
        };
        let cfg = NodeConfig::load(Some(&file), &o).unwrap();
        assert_eq!(cfg.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(cfg.storage.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(cfg.storage.retention_ms, 0);
        assert_eq!(cfg.http_addr.port(), 9000);
        let o = Overrides {
            http_addr: Some("127.0.0.1:9001".parse().unwrap()),
            ..Default::default()
        };
        let cfg = NodeConfig::load(Some(&file), &o).unwrap();
        assert_eq!(cfg.http_addr.port(), 9001);
        assert_eq!(cfg.data_dir, PathBuf::from("/from/file"));
        // Flags and `CAIRN_*` variables reach `load` as one set of overrides (clap reads both,
        // flags first); tests/tests/single_node.rs checks all three levels with the binary.
    }

    #[test]
    fn an_advertised_address_must_be_host_and_port() {
        let o = Overrides {
            advertise_grpc_addr: Some(
                "cairn-0.cairn-headless.default.svc.cluster.local:7481".into(),
            ),
            ..Default::default()
        };
        let cfg = NodeConfig::load(None, &o).unwrap();
        assert_eq!(
            cfg.advertise_grpc_addr.as_deref(),
            Some("cairn-0.cairn-headless.default.svc.cluster.local:7481")
        );
        for bad in ["cairn-0", ":7481", "cairn-0:http", "cairn-0:0"] {
            let o = Overrides {
                advertise_http_addr: Some(bad.into()),
                ..Default::default()
            };
            let e = format!("{:#}", NodeConfig::load(None, &o).unwrap_err());
            assert!(e.contains("advertise_http_addr") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn unknown_keys_and_bad_units_are_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "colour = 1\n").unwrap();
        let e = format!(
            "{:#}",
            NodeConfig::load(Some(&file), &Overrides::default()).unwrap_err()
        );
        assert!(e.contains("colour"), "{e}");
        std::fs::write(&file, "[storage]\nretention = \"soon\"\n").unwrap();
        let e = format!(
            "{:#}",
            NodeConfig::load(Some(&file), &Overrides::default()).unwrap_err()
        );
        assert!(e.contains("soon"), "{e}");
        let o = Overrides {
            retention: Some("7x".into()),
            ..Default::default()
        };
        let e = format!("{:#}", NodeConfig::load(None, &o).unwrap_err());
        assert!(e.contains("--retention"), "{e}");
    }

    #[test]
    fn query_limits_come_from_the_query_table_and_are_validated() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[query]\nmax_samples = 1000\ntimeout = \"30s\"\nmax_concurrent = 2\n",
        )
        .unwrap();
        let cfg = NodeConfig::load(Some(&file), &Overrides::default()).unwrap();
        assert_eq!(cfg.query.max_samples, 1000);
        assert_eq!(cfg.query.timeout_ms, 30_000);
        assert_eq!(cfg.query.max_concurrent, 2);
        assert_eq!(cfg.query.max_queued, QueryConfig::default().max_queued);
        std::fs::write(&file, "[query]\nmax_concurrent = 0\n").unwrap();
        let e = format!(
            "{:#}",
            NodeConfig::load(Some(&file), &Overrides::default()).unwrap_err()
        );
        assert!(e.contains("max_concurrent"), "{e}");
    }

    #[test]
    fn the_query_cache_table_takes_human_units() {
        let cfg: NodeConfig =
            toml::from_str("[query_cache]\nmin_age = \"30m\"\nmax_bytes = \"1GiB\"\n").unwrap();
        assert_eq!(cfg.query_cache.min_age_ms, 30 * 60_000);
        assert_eq!(cfg.query_cache.max_bytes, 1 << 30);
        let d = NodeConfig::default().query_cache;
        assert_eq!((d.min_age_ms, d.max_bytes), (600_000, 256 << 20));
        let e = toml::from_str::<NodeConfig>("[query_cache]\nmin_age = \"soon\"\n").unwrap_err();
        assert!(e.to_string().contains("soon"), "{e}");
    }

    #[test]
    fn the_rules_table_takes_durations_and_a_label_map_and_is_validated() {
        let cfg: NodeConfig = toml::from_str(
            "[rules]\nevaluation_interval = \"1s\"\nstatus_interval = \"5s\"\n\
             external_labels = { cluster = \"eu1\" }\nquery_timeout = \"30s\"\n",
        )
        .unwrap();
        assert_eq!(cfg.rules.evaluation_interval_ms, 1_000);
        assert_eq!(cfg.rules.status_interval_ms, 5_000);
        assert_eq!(cfg.rules.query_timeout_ms, 30_000);
        assert_eq!(cfg.rules.external_labels["cluster"], "eu1");
        cfg.validate().unwrap();
        let addr: SocketAddr = "127.0.0.1:7480".parse().unwrap();
        assert_eq!(cfg.rules.external_url_or(addr), "http://127.0.0.1:7480");
        let d = RulesConfig::default();
        assert_eq!(
            (d.evaluation_interval_ms, d.status_interval_ms),
            (60_000, 15_000)
        );
        for (bad, names) in [
            ("evaluation_interval = \"0s\"", "evaluation_interval"),
            ("external_labels = { \"1x\" = \"a\" }", "1x"),
            ("external_labels = { __x = \"a\" }", "__x"),
            ("external_url = \"example.com\"", "external_url"),
        ] {
            let cfg: NodeConfig = toml::from_str(&format!("[rules]\n{bad}\n")).unwrap();
            let e = format!("{:#}", cfg.validate().unwrap_err());
            assert!(e.contains(names), "{bad}: {e}");
        }
    }

    #[test]
    fn the_example_config_parses_and_equals_the_defaults() {
        let text = include_str!("../../deploy/cairn.example.toml");
        let cfg: NodeConfig = toml::from_str(text).unwrap();
        let mut cfg = cfg;
        cfg.settle_retention();
        let mut want = NodeConfig::default();
        want.storage.data_dir = cfg.storage.data_dir.clone();
        want.settle_retention();
        assert_eq!(cfg, want);
    }

    #[test]
    fn retention_tiers_come_from_the_retention_table_with_raw_aliases() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        let load = |text: &str, o: &Overrides| {
            std::fs::write(&file, text).unwrap();
            NodeConfig::load(Some(&file), o)
        };
        let day = 86_400_000;
        let none = Overrides::default();
        let d = load("", &none).unwrap().retention_defaults();
        assert_eq!(d, RetentionPolicy::default());
        let cfg = load(
            "[retention]\nraw = \"14d\"\nrollup_5m = \"60d\"\nrollup_1h = \"0s\"\n",
            &none,
        )
        .unwrap();
        assert_eq!(
            cfg.retention_defaults(),
            RetentionPolicy {
                raw_ms: 14 * day,
                rollup_5m_ms: 60 * day,
                rollup_1h_ms: 0
            }
        );
        assert_eq!(
            cfg.storage.retention_ms,
            14 * day,
            "mirrored for the engine"
        );
        // The older key still sets raw; the new one wins over it; the flag over both.
        let cfg = load("[storage]\nretention = \"3d\"\n", &none).unwrap();
        assert_eq!(cfg.retention_defaults().raw_ms, 3 * day);
        let both = "[storage]\nretention = \"3d\"\n[retention]\nraw = \"5d\"\n";
        assert_eq!(
            load(both, &none).unwrap().retention_defaults().raw_ms,
            5 * day
        );
        let flag = Overrides {
            retention: Some("2d".into()),
            ..Default::default()
        };
        let cfg = load(both, &flag).unwrap();
        assert_eq!(cfg.retention_defaults().raw_ms, 2 * day);
        assert_eq!(cfg.storage.retention_ms, 2 * day);
        // Unset rollup tiers follow a longer raw up (`--retention 0s` keeps everything).
        let cfg = load("[retention]\nraw = \"60d\"\n", &none).unwrap();
        assert_eq!(cfg.retention_defaults().rollup_5m_ms, 60 * day);
        let forever = Overrides {
            retention: Some("0s".into()),
            ..Default::default()
        };
        let p = load("", &forever).unwrap().retention_defaults();
        assert_eq!((p.raw_ms, p.rollup_5m_ms, p.rollup_1h_ms), (0, 0, 0));
        // Set ones are checked like a tenant's policy, naming the table and the key.
        let e = format!(
            "{:#}",
            load("[retention]\nraw = \"60d\"\nrollup_5m = \"30d\"\n", &none).unwrap_err()
        );
        assert!(
            e.contains("[retention] rollup_5m: 30d is shorter than raw (60d)"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            load("[retention]\nrollup_1h = \"1 year\"\n", &none).unwrap_err()
        );
        assert!(e.contains("rollup_1h") && e.contains("1 year"), "{e}");
        let e = format!(
            "{:#}",
            load("[retention]\nraw = \"x\"\n", &none).unwrap_err()
        );
        assert!(e.contains("raw") && e.contains("\"x\""), "{e}");
    }
}
