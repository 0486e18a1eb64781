//! The real Prometheus server (Debian's `prometheus` package, installed by scripts/setup.sh)
//! scrapes itself and remote-writes to a real Cairn node; its series must arrive.

use std::process::{Command, Stdio};
use std::time::Duration;

use cairn_tests::*;

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prometheus_remote_write_lands_in_cairn() {
    let prometheus = ensure_installed("prometheus", "prometheus").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let node = CairnProcess::start(&dir.path().join("cairn"), &[]).unwrap();
    let port = free_port();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n\
         remote_write:\n  - url: {}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n      min_backoff: 100ms\n      max_backoff: 1s\n",
        node.url
    );
    let cfg_path = dir.path().join("prometheus.yml");
    std::fs::write(&cfg_path, config).unwrap();
    let _prom = KillOnDrop(
        Command::new(prometheus)
            .arg(format!("--config.file={}", cfg_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("prom").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting prometheus"),
    );
    let series = |sel: &str| -> Vec<serde_json::Value> {
        client()
            .get(format!("{}/api/v1/series", node.url))
            .query(&[("match[]", sel)])
            .send()
            .ok()
            .and_then(|r| r.text().ok())
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["data"].as_array().cloned())
            .unwrap_or_default()
    };
    let up = wait_for(
        "Prometheus' `up` series in Cairn",
        Duration::from_secs(90),
        || {
            let s = series(r#"up{job="prometheus"}"#);
            (!s.is_empty()).then_some(s)
        },
    )
    .unwrap();
    assert_eq!(up[0]["instance"], format!("127.0.0.1:{port}"));
    let info = wait_for(
        "prometheus_build_info in Cairn",
        Duration::from_secs(60),
        || {
            let s = series("prometheus_build_info");
            (!s.is_empty()).then_some(s)
        },
    )
    .unwrap();
    assert!(
        info[0]["version"]
            .as_str()
            .is_some_and(|v| v.starts_with('2')),
        "{info:?}"
    );
    // The samples themselves arrive too: `up` is 1 while Prometheus scrapes itself.
    let exported = wait_for("samples of up", Duration::from_secs(30), || {
        export(&node.url, None, r#"up{job="prometheus"}"#)
            .ok()
            .filter(|e| e.first().is_some_and(|s| !s.samples.is_empty()))
    })
    .unwrap();
    assert!(
        exported[0]
            .samples
            .iter()
            .all(|(_, bits)| *bits == 1.0f64.to_bits())
    );
}
