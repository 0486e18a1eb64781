//! `cairn bench notify`, the binary as `benches/notify.sh` runs it: the sink mode counting a
//! hand-made webhook POST, and the push mode against a real node whose notification
//! pipeline sends every alert to the tool's sink. Keeps the benchmark tool from rotting.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use cairn_tests::{CairnProcess, cairn_bin, client, free_port, wait_for};
use serde_json::{Value, json};

/// Runs `cairn bench notify ARGS` in the background (stdout: the JSON summary).
fn spawn_bench(args: &[&str]) -> Result<Child> {
    Command::new(cairn_bin())
        .args(["bench", "notify"])
        .args(args)
        .env_remove("CAIRN_URL")
        .env_remove("CAIRN_TENANT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting cairn bench notify")
}

/// Waits for the tool to exit; its summary and whether it succeeded.
fn summary(child: Child) -> Result<(bool, Value)> {
    let out = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let v: Value = serde_json::from_str(stdout.trim())
        .with_context(|| format!("no JSON summary; stdout {stdout:?}, stderr {stderr}"))?;
    Ok((out.status.success(), v))
}

#[test]
fn the_sink_mode_reports_a_hand_posted_notification() -> Result<()> {
    let sink = format!("127.0.0.1:{}", free_port());
    let child = spawn_bench(&["--mode", "sink", "--listen", &sink, "--expect", "2"])?;
    let http = client();
    wait_for("the sink to listen", Duration::from_secs(30), || {
        http.get(format!("http://{sink}/ready"))
            .send()
            .ok()
            .filter(|r| r.status().is_success())
    })?;
    let body = json!({
        "version": "4",
        "status": "firing",
        "alerts": [
            {"status": "firing", "labels": {"alertname": "A", "instance": "1"},
             "startsAt": "2020-01-01T00:00:00Z"},
            {"status": "firing", "labels": {"alertname": "A", "instance": "2"},
             "startsAt": "2020-01-01T00:00:00Z"},
        ],
    });
    let r = http
        .post(format!("http://{sink}/any/path"))
        .body(body.to_string())
        .send()?;
    assert_eq!(r.status(), 200);
    let (ok, v) = summary(child)?;
    assert!(ok, "{v}");
    assert_eq!(v["mode"], "sink", "{v}");
    assert_eq!(v["complete"], true, "{v}");
    assert_eq!(v["notifications"], 1, "{v}");
    assert_eq!(v["alerts_notified"], 2, "{v}");
    // Started in 2020: years of latency, measured from startsAt.
    assert!(v["latency_p50_ms"].as_f64().unwrap() > 1e10, "{v}");
    Ok(())
}

#[test]
fn the_push_mode_measures_a_nodes_notifications() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start(dir.path(), &[])?;
    let sink = format!("127.0.0.1:{}", free_port());
    let config = format!(
        "route:\n  receiver: sink\n  group_by: [alertname, instance]\n  group_wait: 0s\n\
         \x20 group_interval: 1m\n  repeat_interval: 1h\nreceivers:\n  - name: sink\n\
         \x20   webhook_configs:\n      - url: http://{sink}/hook\n        send_resolved: false\n\
         external_alerts:\n  secret: s3cret\n"
    );
    let r = client()
        .put(format!("{}/api/v1/alerts/config", node.url))
        .header("X-Scope-OrgID", "bench")
        .body(config)
        .send()?;
    assert_eq!(r.status(), 200, "{}", r.text()?);
    let child = spawn_bench(&[
        "--mode",
        "push",
        "--target",
        "cairn",
        "--url",
        &node.url,
        "--tenant",
        "bench",
        "--secret",
        "s3cret",
        "--listen",
        &sink,
        "--alerts",
        "30",
        "--batch",
        "7",
        "--timeout",
        "60s",
    ])?;
    let (ok, v) = summary(child)?;
    assert!(ok, "{v}\n{}", node.log_text());
    assert_eq!(v["complete"], true, "{v}");
    // Every alert is its own group: one notification each.
    assert_eq!(v["alerts_notified"], 30, "{v}");
    assert_eq!(v["notifications"], 30, "{v}");
    assert_eq!(v["posts"], 5, "{v}");
    // The five posts are meta entries at least; the notification log adds more.
    assert!(v["meta_entries"].as_u64().unwrap() >= 5, "{v}");
    assert!(
        v["latency_from_post_p99_ms"].as_f64().unwrap() >= 0.0,
        "{v}"
    );
    Ok(())
}
