//! A cluster of real `cairn server` processes on loopback for tests: node 1 bootstraps, the
//! others join it; members can be killed, restarted and inspected. On a failing test it prints
//! every node's view of the shards and the end of its log.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use crate::{CairnProcess, client, free_port, wait_for};

pub const SHARDS: &str = "4";

pub struct Member {
    pub id: u64,
    pub dir: PathBuf,
    pub args: Vec<String>,
    pub url: String,
    pub process: Option<CairnProcess>,
}

pub struct TestCluster {
    pub root: tempfile::TempDir,
    pub members: Vec<Member>,
    /// Flags every member gets (e.g. `--config FILE`).
    pub extra: Vec<String>,
}

impl TestCluster {
    /// Node 1 bootstraps, the others join through it; returns once the status is healthy.
    pub fn start(n: u64) -> anyhow::Result<TestCluster> {
        TestCluster::start_with(n, &[])
    }

    /// [`start`](Self::start) with `extra` flags for every member.
    pub fn start_with(n: u64, extra: &[String]) -> anyhow::Result<TestCluster> {
        let mut c = TestCluster {
            root: tempfile::tempdir()?,
            members: Vec::new(),
            extra: extra.to_vec(),
        };
        for _ in 1..=n {
            c.add_member()?;
        }
        c.wait_healthy(1, n as usize)?;
        Ok(c)
    }

    /// [`start`](Self::start) with a config file of `toml` for every member.
    pub fn start_with_config(n: u64, toml: &str) -> anyhow::Result<TestCluster> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("cairn.toml");
        std::fs::write(&path, toml)?;
        let mut c = TestCluster {
            root: dir,
            members: Vec::new(),
            extra: vec!["--config".into(), path.display().to_string()],
        };
        for _ in 1..=n {
            c.add_member()?;
        }
        c.wait_healthy(1, n as usize)?;
        Ok(c)
    }

    /// Starts the next node (id = members + 1): node 1 bootstraps, later ones join node 1.
    pub fn add_member(&mut self) -> anyhow::Result<u64> {
        let id = self.members.len() as u64 + 1;
        let (http, grpc) = (free_port(), free_port());
        let mut args: Vec<String> = [
            "--node-id".to_string(),
            id.to_string(),
            "--http-addr".into(),
            format!("127.0.0.1:{http}"),
            "--grpc-addr".into(),
            format!("127.0.0.1:{grpc}"),
        ]
        .to_vec();
        // Joining nodes are not told the shard count: they adopt the cluster's.
        if self.members.is_empty() {
            args.extend(["--shards".to_string(), SHARDS.into()]);
        }
        if let Some(first) = self.members.first() {
            let seed =
                first.args[first.args.iter().position(|a| a == "--grpc-addr").unwrap() + 1].clone();
            args.extend(["--join".to_string(), seed]);
        }
        args.extend(self.extra.iter().cloned());
        let mut m = Member {
            id,
            dir: self.root.path().join(format!("node{id}")),
            args,
            url: format!("http://127.0.0.1:{http}"),
            process: None,
        };
        m.start()?;
        self.members.push(m);
        Ok(id)
    }

    pub fn node(&mut self, id: u64) -> &mut Member {
        &mut self.members[id as usize - 1]
    }

    pub fn url(&self, id: u64) -> String {
        self.members[id as usize - 1].url.clone()
    }

    /// Waits until node `via` reports a healthy cluster of `nodes` members.
    pub fn wait_healthy(&self, via: u64, nodes: usize) -> anyhow::Result<Value> {
        let url = self.url(via);
        wait_for("a healthy cluster", Duration::from_secs(90), || {
            let s = status(&url).ok()?;
            (s["healthy"] == true && s["nodes"].as_array()?.len() == nodes).then_some(s)
        })
        .with_context(|| format!("last status: {:?}", status(&url).ok()))
    }
}

impl Drop for TestCluster {
    /// On a failing test, shows every live node's view of the shards and the end of every
    /// node's log (the whole log goes to `$CAIRN_TEST_LOG_DIR/node<N>.log` when that is set).
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let log_dir = std::env::var_os("CAIRN_TEST_LOG_DIR").map(PathBuf::from);
        for m in &self.members {
            if let Some(p) = &m.process {
                if let Ok(s) = status(&p.url) {
                    eprintln!("--- node {} status: {}", m.id, s["shards"]);
                }
                let log = p.log_text();
                if let Some(d) = &log_dir {
                    let _ = std::fs::create_dir_all(d);
                    let _ = std::fs::write(d.join(format!("node{}.log", m.id)), &log);
                }
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                eprintln!("--- node {} (last lines) ---", m.id);
                for l in tail.into_iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
    }
}

impl Member {
    pub fn start(&mut self) -> anyhow::Result<()> {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let p = CairnProcess::start_args(&self.dir, &args, &[])?;
        self.url = p.url.clone();
        self.process = Some(p);
        Ok(())
    }

    pub fn kill9(&mut self) {
        if let Some(p) = self.process.take() {
            p.kill9();
        }
    }
}

pub fn status(url: &str) -> anyhow::Result<Value> {
    let text = client()
        .get(format!("{url}/api/v1/cluster/status"))
        .send()?
        .text()?;
    let v: Value = serde_json::from_str(&text)?;
    Ok(v["data"].clone())
}
