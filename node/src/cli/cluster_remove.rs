//! `cairn cluster remove NODE_ID`: asks the cluster to drain a node (`DELETE
//! /api/v1/cluster/nodes/{id}`), then follows the drain until the node has left the cluster
//! state, printing the replicas left on it; the node's process can then be stopped.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

/// `cairn cluster remove`
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// The node to remove (its --node-id).
    pub node_id: u64,
    /// Any node of the cluster (best another than the one removed).
    #[arg(long, default_value = "http://127.0.0.1:7480", env = "CAIRN_URL")]
    pub url: String,
    /// How long to follow the drain before giving up waiting (the drain goes on).
    #[arg(long, default_value = "1h")]
    pub wait: String,
    /// Start the drain and return at once.
    #[arg(long)]
    pub no_wait: bool,
}

pub async fn remove(args: RemoveArgs) -> anyhow::Result<()> {
    let base = args.url.trim_end_matches('/');
    let wait = cairn_model::units::parse_duration_ms(&args.wait)
        .with_context(|| format!("--wait {:?}", args.wait))?;
    let client = reqwest::Client::new();
    let url = format!("{base}/api/v1/cluster/nodes/{}", args.node_id);
    let resp = super::send(client.delete(&url), None, &args.url).await?;
    let code = resp.status();
    let text = resp
        .text()
        .await
        .context("reading the answer to the removal")?;
    let body: Value = serde_json::from_str(&text)
        .with_context(|| format!("the answer to the removal is not JSON: {text}"))?;
    if !code.is_success() {
        bail!(
            "{code}: {}",
            body["error"].as_str().unwrap_or("the removal was refused")
        );
    }
    let n = args.node_id;
    println!(
        "node {n} is draining: {} replica(s) to move off",
        body["data"]["replicas"]
    );
    if args.no_wait {
        return Ok(());
    }
    let status_url = format!("{base}/api/v1/cluster/status");
    let started = Instant::now();
    let mut last = None;
    loop {
        // A node that does not answer for a moment (an election) is asked again.
        if let Ok(d) = super::get_data(&client, &status_url).await {
            let node = d["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|x| x["id"] == n)
                .cloned();
            let Some(node) = node else {
                println!("node {n} has left the cluster: its process can be stopped");
                return Ok(());
            };
            let left = node["replicas"].as_u64();
            if left != last {
                let moves = d["moves"].as_array().map_or(0, Vec::len);
                println!(
                    "node {n}: {} replica(s) left, {moves} move(s) under way",
                    node["replicas"]
                );
                last = left;
            }
        }
        if started.elapsed() > Duration::from_millis(wait as u64) {
            bail!(
                "node {n} is still draining after {}; the drain goes on (see `cairn cluster status`)",
                args.wait
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
