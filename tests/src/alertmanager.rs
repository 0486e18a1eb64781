//! The real Alertmanager (Debian's `prometheus-alertmanager`, 0.25) as a test peer: started on
//! a free loopback port with its own config and storage, gossip off, killed on drop.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use crate::{client, free_port, wait_for};

pub const ALERTMANAGER_BIN: &str = "/usr/bin/prometheus-alertmanager";

pub struct Alertmanager {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Starts one with `config` (an alertmanager.yml) and waits until it is ready.
    pub fn start(config: &str) -> anyhow::Result<Alertmanager> {
        if !Path::new(ALERTMANAGER_BIN).exists() {
            anyhow::bail!("{ALERTMANAGER_BIN} is not installed: run scripts/setup.sh alertmanager");
        }
        let dir = tempfile::tempdir()?;
        let cfg = dir.path().join("alertmanager.yml");
        std::fs::write(&cfg, config)?;
        let port = free_port();
        let child = Command::new(ALERTMANAGER_BIN)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting Alertmanager")?;
        let am = Alertmanager {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        wait_for("Alertmanager ready", Duration::from_secs(30), || {
            let r = client().get(format!("{}/-/ready", am.url)).send().ok()?;
            r.status().is_success().then_some(())
        })?;
        Ok(am)
    }

    /// Its `GET /api/v2/alerts` (active, unsilenced, uninhibited alerts).
    pub fn alerts(&self) -> anyhow::Result<Vec<Value>> {
        let text = client()
            .get(format!("{}/api/v2/alerts", self.url))
            .send()?
            .text()?;
        let v: Value = serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
