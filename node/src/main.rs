//! The `cairn` binary: one command for the server and its tools.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use cairn_node::config::{NodeConfig, Overrides};

#[derive(Parser)]
#[command(
    name = "cairn",
    version,
    about = "Cairn: a clustered time-series database with built-in alerting"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a node. With no flags: a single node on 127.0.0.1:7480 with data in ./cairn-data.
    Server(ServerArgs),
    /// Send line protocol from a file or stdin to a node.
    Write(cairn_node::cli::WriteArgs),
    /// Run a PromQL query on a node and print the result as a table.
    Query(cairn_node::cli::QueryArgs),
    /// Clusters: start one on loopback, or show one's status.
    Cluster {
        #[command(subcommand)]
        cmd: ClusterCmd,
    },
    /// Rule files: check and unit-test them locally, apply them to a tenant, list a cluster's.
    Rules {
        #[command(subcommand)]
        cmd: cairn_node::cli::rules::RulesCmd,
    },
    /// Notifications: a tenant's Alertmanager configuration (check, apply, show).
    Alerts {
        #[command(subcommand)]
        cmd: cairn_node::cli::alerts::AlertsCmd,
    },
    /// Tenants: per-tenant settings (retention per storage tier).
    Tenant {
        #[command(subcommand)]
        cmd: cairn_node::cli::tenant::TenantCmd,
    },
    /// Back up a whole cluster (every shard from one replica, and the meta group) into a directory, while it takes writes.
    Backup(cairn_node::cli::backup::BackupArgs),
    /// Seed a new cluster's first node from a backup (its data dir; start it without --join, then join others to it).
    Restore(cairn_node::cli::backup::RestoreArgs),
    /// Benchmarks against a running node.
    Bench {
        #[command(subcommand)]
        cmd: BenchCmd,
    },
}

#[derive(Subcommand)]
enum ClusterCmd {
    /// Start N nodes on loopback (HTTP 7480, 7490, ...; gRPC one port above), wait until the cluster is healthy, print the addresses; Ctrl-C stops them all.
    Local(cairn_node::cli::cluster::LocalArgs),
    /// Show the cluster's nodes and shards (leaders, voters, applied index, log size) and the replica moves under way.
    Status(cairn_node::cli::cluster_status::StatusArgs),
    /// Remove a node: its replicas move to the other nodes first, then it leaves the cluster; follows the drain until done.
    Remove(cairn_node::cli::cluster_remove::RemoveArgs),
}

#[derive(Subcommand)]
enum BenchCmd {
    /// TSBS cpu-only-like ingest load: generates hosts' metrics and writes them as fast as the node takes them.
    Ingest(cairn_node::bench::IngestArgs),
    /// Notifications: posts alerts to Cairn or Alertmanager (or waits for rule-evaluated ones) and measures, at a webhook sink it runs, notifications/s and latency.
    Notify(cairn_node::bench::NotifyArgs),
}

/// Flags override `CAIRN_*` environment variables, which override the config file.
#[derive(clap::Args)]
struct ServerArgs {
    /// TOML config file (see deploy/cairn.example.toml for every key).
    #[arg(long, env = "CAIRN_CONFIG")]
    config: Option<PathBuf>,
    /// This node's id in the cluster [default: 1].
    #[arg(long, env = "CAIRN_NODE_ID")]
    node_id: Option<u64>,
    /// HTTP API listen address [default: 127.0.0.1:7480].
    #[arg(long, env = "CAIRN_HTTP_ADDR")]
    http_addr: Option<SocketAddr>,
    /// gRPC listen address for node-to-node traffic (Raft, forwarded writes) [default: 127.0.0.1:7481].
    #[arg(long, env = "CAIRN_GRPC_ADDR")]
    grpc_addr: Option<SocketAddr>,
    /// The HTTP address (HOST:PORT, a DNS name is fine) other nodes and clients are told, when not the bound one [default: --http-addr].
    #[arg(long, env = "CAIRN_ADVERTISE_HTTP_ADDR")]
    advertise_http_addr: Option<String>,
    /// The gRPC address (HOST:PORT, a DNS name is fine) the other members dial, when not the bound one (a wildcard, a pod IP that changes) [default: --grpc-addr].
    #[arg(long, env = "CAIRN_ADVERTISE_GRPC_ADDR")]
    advertise_grpc_addr: Option<String>,
    /// On first start, join the cluster of the member at this gRPC address (HOST:GRPC_PORT) instead of bootstrapping a new one; ignored once the data dir belongs to a cluster.
    #[arg(long, env = "CAIRN_JOIN")]
    join: Option<String>,
    /// Data directory [default: ./cairn-data].
    #[arg(long, env = "CAIRN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Raw sample retention ([retention] raw), e.g. 7d, 12h; 0s keeps data forever [default: 7d].
    #[arg(long, env = "CAIRN_RETENTION")]
    retention: Option<String>,
    /// Number of shards of a new cluster, fixed at bootstrap [default: 16].
    #[arg(long, env = "CAIRN_SHARDS")]
    shards: Option<u32>,
    /// Log filter in RUST_LOG syntax, e.g. info or debug [default: info].
    #[arg(long, env = "CAIRN_LOG")]
    log: Option<String>,
    /// A development clock that POST /api/v1/admin/clock?advance=30d moves ahead (tests age
    /// data by days in seconds; never in production).
    #[arg(long, env = "CAIRN_DEV_CLOCK")]
    dev_clock: bool,
}

fn main() -> std::process::ExitCode {
    tune_malloc();
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// glibc's malloc raises its mmap threshold (up to 32 MiB) each time a mapped block is freed;
/// after that, RocksDB's 1 MiB memtable arena blocks come from the heap, where freeing them
/// rarely returns memory to the system. Fixing the threshold at 1 MiB keeps those blocks in
/// their own mappings. With 100,000 series (`compare.sh --memory`) the RSS above the idle base
/// fell from 1,141 to 958 bytes per series, and ingest CPU did not change. A 256 KiB threshold
/// cost ~0.08 CPU-s per million samples, because request-sized buffers were mapped and
/// faulted in on every request. mimalloc held more memory, and a single malloc arena helped
/// less.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it runs before any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn run() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let ok = |r: anyhow::Result<()>| r.map(|()| std::process::ExitCode::SUCCESS);
    match cli.cmd {
        Cmd::Server(a) => {
            let o = Overrides {
                node_id: a.node_id,
                http_addr: a.http_addr,
                grpc_addr: a.grpc_addr,
                advertise_http_addr: a.advertise_http_addr,
                advertise_grpc_addr: a.advertise_grpc_addr,
                join: a.join,
                data_dir: a.data_dir,
                retention: a.retention,
                shards: a.shards,
                log: a.log,
                dev_clock: a.dev_clock,
            };
            let cfg = NodeConfig::load(a.config.as_deref(), &o)?;
            init_logging(&cfg.log);
            let result = rt.block_on(cairn_node::server::run(cfg));
            // Drop every task (and with them the last handles on the database) before main
            // returns: RocksDB must close before the C++ static destructors run.
            rt.shutdown_timeout(std::time::Duration::from_secs(10));
            ok(result)
        }
        Cmd::Write(a) => {
            init_logging("warn");
            ok(rt.block_on(cairn_node::cli::write(a)))
        }
        Cmd::Query(a) => {
            init_logging("warn");
            ok(rt.block_on(cairn_node::cli::query(a)))
        }
        Cmd::Cluster { cmd } => {
            init_logging("warn");
            ok(match cmd {
                ClusterCmd::Local(a) => rt.block_on(cairn_node::cli::cluster::local(a)),
                ClusterCmd::Status(a) => rt.block_on(cairn_node::cli::cluster_status::status(a)),
                ClusterCmd::Remove(a) => rt.block_on(cairn_node::cli::cluster_remove::remove(a)),
            })
        }
        Cmd::Rules { cmd } => {
            init_logging("warn");
            rt.block_on(cairn_node::cli::rules::run(cmd))
        }
        Cmd::Alerts { cmd } => {
            init_logging("warn");
            rt.block_on(cairn_node::cli::alerts::run(cmd))
        }
        Cmd::Tenant { cmd } => {
            init_logging("warn");
            ok(rt.block_on(cairn_node::cli::tenant::run(cmd)))
        }
        Cmd::Backup(a) => {
            init_logging("warn");
            ok(rt.block_on(cairn_node::cli::backup::backup(a)))
        }
        Cmd::Restore(a) => {
            init_logging("warn");
            ok(rt.block_on(cairn_node::cli::backup::restore(a)))
        }
        Cmd::Bench {
            cmd: BenchCmd::Ingest(a),
        } => {
            init_logging("warn");
            ok(rt.block_on(cairn_node::bench::ingest(a)))
        }
        Cmd::Bench {
            cmd: BenchCmd::Notify(a),
        } => {
            init_logging("warn");
            ok(rt.block_on(cairn_node::bench::notify(a)))
        }
    }
}

fn init_logging(filter: &str) {
    // openraft logs every vote and replication step at info, and routine races (a reply to
    // an outdated vote or membership) at warn: quiet unless asked for.
    let filter = if filter.contains("openraft") {
        filter.to_string()
    } else {
        format!("{filter},openraft=error")
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
