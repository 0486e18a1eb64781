//! `cairn cluster local`: N node processes on loopback, for trying a cluster out.
//! `cairn cluster status` is in `cluster_status.rs`, `cairn cluster remove` in
//! `cluster_remove.rs`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

/// `cairn cluster local`
#[derive(Debug, clap::Args)]
pub struct LocalArgs {
    /// Number of node processes.
    #[arg(long, default_value_t = 3)]
    pub nodes: u32,
    /// Parent of the nodes' data dirs (node1, node2, ...) and log files.
    #[arg(long, default_value = "./cairn-data/local")]
    pub data_dir: PathBuf,
    /// Shards of the new cluster (used when node 1 bootstraps).
    #[arg(long)]
    pub shards: Option<u32>,
    /// HTTP port of node 1; node i listens on this + 10·(i−1), its gRPC port one above.
    #[arg(long, default_value_t = 7480)]
    pub base_port: u16,
    /// How long to wait for the cluster to become healthy.
    #[arg(long, default_value = "120s")]
    pub wait: String,
}

struct Child {
    id: u32,
    http: String,
    process: tokio::process::Child,
}

/// Starts the nodes, waits until the cluster is healthy, prints where they listen, and stops
/// them all (SIGTERM, so each checkpoints) on Ctrl-C or when one exits.
pub async fn local(args: LocalArgs) -> anyhow::Result<()> {
    if args.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    let wait = cairn_model::units::parse_duration_ms(&args.wait)
        .with_context(|| format!("--wait {:?}", args.wait))?;
    // Listening before any node starts: SIGINT's and SIGTERM's default action would end this
    // process and leave the nodes running. A Ctrl-C (or `kill`) during start-up stops them
    // once they are up.
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let exe = std::env::current_exe().context("finding the cairn binary")?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let port = |i: u32, off: u16| args.base_port + 10 * (i as u16 - 1) + off;
    let mut children: Vec<Child> = Vec::new();
    for i in 1..=args.nodes {
        let dir = args.data_dir.join(format!("node{i}"));
        let log_path = args.data_dir.join(format!("node{i}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let mut cmd = tokio::process::Command::new(&exe);
        cmd.arg("server")
            .arg("--node-id")
            .arg(i.to_string())
            .arg("--http-addr")
            .arg(format!("127.0.0.1:{}", port(i, 0)))
            .arg("--grpc-addr")
            .arg(format!("127.0.0.1:{}", port(i, 1)))
            .arg("--data-dir")
            .arg(&dir);
        if i > 1 {
            cmd.arg("--join").arg(format!("127.0.0.1:{}", port(1, 1)));
        }
        if let Some(s) = args.shards {
            cmd.arg("--shards").arg(s.to_string());
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let process = cmd.spawn().with_context(|| format!("starting node {i}"))?;
        let http = format!("http://127.0.0.1:{}", port(i, 0));
        eprintln!(
            "started node {i}: http {http}, grpc 127.0.0.1:{}, data {}, log {}",
            port(i, 1),
            dir.display(),
            log_path.display()
        );
        children.push(Child {
            id: i,
            http,
            process,
        });
        if i == 1 {
            // The others join through node 1: let it bootstrap first.
            wait_until(&mut children, Duration::from_millis(wait as u64), |v| {
                v["meta_leader"].as_u64() == Some(1)
            })
            .await?;
        }
    }
    wait_until(&mut children, Duration::from_millis(wait as u64), |v| {
        v["healthy"] == true && v["nodes"].as_array().map(|n| n.len()) == Some(args.nodes as usize)
    })
    .await?;
    println!("cluster of {} nodes is healthy:", args.nodes);
    for c in &children {
        println!("  node {}: {}", c.id, c.http);
    }
    println!("try: cairn cluster status --url {}", children[0].http);
    println!("Ctrl-C stops every node.");
    let exited = async {
        loop {
            for c in children.iter_mut() {
                if let Ok(Some(status)) = c.process.try_wait() {
                    return (c.id, status);
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    tokio::select! {
        _ = interrupt.recv() => eprintln!("stopping the nodes"),
        _ = terminate.recv() => eprintln!("terminated: stopping the nodes"),
        (id, status) = exited => eprintln!("node {id} exited ({status}); stopping the others"),
    }
    stop_all(&mut children).await;
    Ok(())
}

async fn stop_all(children: &mut [Child]) {
    for c in children.iter() {
        if let Some(pid) = c.process.id() {
            // SAFETY: sending a signal to a child process we started.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
    }
    for c in children.iter_mut() {
        match tokio::time::timeout(Duration::from_secs(30), c.process.wait()).await {
            Ok(_) => eprintln!("node {} stopped", c.id),
            Err(_) => {
                let _ = c.process.kill().await;
                eprintln!("node {} killed after 30 s", c.id);
            }
        }
    }
}

/// Polls node 1's status until `ok` holds, failing if a node exits or time runs out.
async fn wait_until(
    children: &mut [Child],
    limit: Duration,
    ok: impl Fn(&Value) -> bool,
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/cluster/status", children[0].http);
    let started = Instant::now();
    loop {
        let exited = children
            .iter_mut()
            .find_map(|c| match c.process.try_wait() {
                Ok(Some(status)) => Some((c.id, status)),
                _ => None,
            });
        if let Some((id, status)) = exited {
            stop_all(children).await;
            bail!("node {id} exited while starting ({status}); see its log");
        }
        if let Ok(resp) = client.get(&url).send().await
            && let Ok(text) = resp.text().await
            && let Ok(v) = serde_json::from_str::<Value>(&text)
            && ok(&v["data"])
        {
            return Ok(());
        }
        if started.elapsed() > limit {
            stop_all(children).await;
            bail!("the cluster was not healthy within {limit:?}; see the nodes' logs");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
