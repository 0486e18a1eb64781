//! `cairn backup --url U --to DIR` and `cairn restore --from DIR --data-dir D`: a whole
//! cluster's data (every shard, from one replica each) and its meta key-value space, and a new
//! cluster's first node seeded from them.
//!
//! ```text
//!  backup:  GET /api/v1/cluster/status (shards, placement, nodes)
//!           GET /api/v1/admin/backup/meta ─► DIR/meta.json
//!           per shard, from a node in its placement (the next one if it fails):
//!           GET /api/v1/admin/backup/shards/{s} ─► DIR/shard-{s}.dump (streamed)
//!           ─► DIR/manifest.json last (a backup without it is incomplete)
//!  restore: DIR ─► Engine::restore_shard_from per shard into D/db, D/restore.json (the seed)
//!           ─► `cairn server --data-dir D` (no --join) bootstraps a new cluster on them
//! ```
//! Writes go on during a backup; each shard's dump holds every write acknowledged before its
//! request (the node serving it waits for the shard's read index first).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cluster::restore_seed::RestoreSeed;

/// `cairn backup`
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Any node of the cluster.
    #[arg(long, default_value = "http://127.0.0.1:7480", env = "CAIRN_URL")]
    pub url: String,
    /// A new directory for the backup.
    #[arg(long)]
    pub to: PathBuf,
}

/// `cairn restore`
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// A backup made by `cairn backup`.
    #[arg(long)]
    pub from: PathBuf,
    /// The data dir of the new cluster's first node (must not hold a database yet).
    #[arg(long)]
    pub data_dir: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    created_ms: i64,
    shards: u32,
    shards_per_tenant: u32,
    files: Vec<ShardFile>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ShardFile {
    shard: u32,
    node: u64,
    bytes: u64,
    file: String,
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / 1_048_576.0)
}

pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let base = args.url.trim_end_matches('/');
    let client = reqwest::Client::new();
    let status = super::get_data(&client, &format!("{base}/api/v1/cluster/status")).await?;
    if args.to.exists() && std::fs::read_dir(&args.to)?.next().is_some() {
        bail!("{} exists and is not empty", args.to.display());
    }
    std::fs::create_dir_all(&args.to).with_context(|| format!("creating {}", args.to.display()))?;
    let http: std::collections::BTreeMap<u64, String> = status["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| Some((n["id"].as_u64()?, n["http_addr"].as_str()?.to_string())))
        .collect();
    let up = |id: u64| {
        status["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|n| n["id"] == id && n["state"] == "up")
    };
    let meta = super::get_data(&client, &format!("{base}/api/v1/admin/backup/meta")).await?;
    std::fs::write(args.to.join("meta.json"), serde_json::to_vec(&meta)?)?;
    let shards = status["shard_count"].as_u64().context("no shard count")? as u32;
    let mut files = Vec::new();
    let mut total = 0u64;
    for s in &status["shards"].as_array().cloned().unwrap_or_default() {
        let shard = s["id"].as_u64().context("shard id")? as u32;
        let mut holders: Vec<u64> = s["placement"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .collect();
        // Nodes that are up first.
        holders.sort_by_key(|&n| !up(n));
        let file = format!("shard-{shard}.dump");
        let mut last = None;
        let mut done = None;
        for node in holders {
            let Some(addr) = http.get(&node) else {
                continue;
            };
            let url = format!("http://{addr}/api/v1/admin/backup/shards/{shard}");
            match fetch(&client, &url, &args.to.join(&file), shard, shards, node).await {
                Ok(bytes) => {
                    done = Some((node, bytes));
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let Some((node, bytes)) = done else {
            bail!(
                "no replica of shard {shard} could be backed up: {:#}",
                last.unwrap_or_else(|| anyhow::anyhow!("no node holds it"))
            );
        };
        total += bytes;
        files.push(ShardFile {
            shard,
            node,
            bytes,
            file,
        });
    }
    let manifest = Manifest {
        format: 1,
        created_ms: crate::timeparse::wall_ms(),
        shards,
        shards_per_tenant: status["shards_per_tenant"].as_u64().unwrap_or(4) as u32,
        files,
    };
    std::fs::write(
        args.to.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest)?,
    )?;
    println!(
        "backed up {shards} shards ({}) and {} meta keys to {} in {:.1} s",
        mib(total),
        meta["kv"].as_array().map_or(0, Vec::len),
        args.to.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Streams one shard's dump into `path` (through a `.part` file, renamed when whole), with a
/// progress line.
async fn fetch(
    client: &reqwest::Client,
    url: &str,
    path: &Path,
    shard: u32,
    shards: u32,
    node: u64,
) -> anyhow::Result<u64> {
    let mut resp = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("asking {url}"))?;
    if !resp.status().is_success() {
        let code = resp.status();
        bail!("{url}: {code}: {}", resp.text().await.unwrap_or_default());
    }
    let part = path.with_extension("part");
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&part).with_context(|| format!("creating {}", part.display()))?,
    );
    let mut bytes = 0u64;
    while let Some(chunk) = resp
        .chunk()
        .await
        .with_context(|| format!("reading shard {shard} from node {node}"))?
    {
        out.write_all(&chunk)?;
        bytes += chunk.len() as u64;
        eprint!(
            "\rshard {}/{shards} from node {node}: {}   ",
            shard + 1,
            mib(bytes)
        );
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&part, path)?;
    eprintln!();
    Ok(bytes)
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let read = |name: &str| -> anyhow::Result<Vec<u8>> {
        let p = args.from.join(name);
        std::fs::read(&p).with_context(|| {
            format!(
                "reading {} (a backup has manifest.json, meta.json and the shards)",
                p.display()
            )
        })
    };
    let manifest: Manifest =
        serde_json::from_slice(&read("manifest.json")?).context("manifest.json")?;
    let meta: Value = serde_json::from_slice(&read("meta.json")?).context("meta.json")?;
    if args.data_dir.join("db").exists() {
        bail!(
            "{} already holds a database: restore into a new data dir",
            args.data_dir.display()
        );
    }
    let kv: Vec<(String, String)> =
        serde_json::from_value(meta["kv"].clone()).context("meta.json kv")?;
    let dir = args.data_dir.clone();
    let shards = manifest.shards;
    let from = args.from.clone();
    let files: Vec<(u32, String)> = manifest
        .files
        .iter()
        .map(|f| (f.shard, f.file.clone()))
        .collect();
    let total = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        let engine = cairn_storage::Engine::open(cairn_storage::StorageConfig {
            data_dir: dir,
            shards,
            retention_ms: 0,
            ..Default::default()
        })?;
        let mut total = 0;
        for (shard, file) in files {
            let path = from.join(&file);
            let mut input = std::io::BufReader::new(
                std::fs::File::open(&path)
                    .with_context(|| format!("opening {}", path.display()))?,
            );
            total += engine
                .restore_shard_from(shard, &mut input)
                .with_context(|| format!("restoring shard {shard} from {}", path.display()))?;
            eprint!("\rshard {}/{shards} restored: {}   ", shard + 1, mib(total));
        }
        eprintln!();
        engine.shutdown();
        Ok(total)
    })
    .await??;
    RestoreSeed {
        shards,
        shards_per_tenant: manifest.shards_per_tenant,
        kv,
    }
    .write(&args.data_dir)?;
    println!(
        "restored {shards} shards ({}) into {} in {:.1} s; start the new cluster's first node on it \
         with `cairn server --data-dir {} --node-id 1 ...` (no --join), then join the others to it",
        mib(total),
        args.data_dir.display(),
        started.elapsed().as_secs_f64(),
        args.data_dir.display()
    );
    Ok(())
}
