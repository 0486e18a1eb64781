//! Rule evaluation on real nodes: a rule group applied through the rules API is evaluated
//! by the meta leader, a recording rule's series becomes queryable, and an alerting rule
//! with `for` goes pending, then firing, visible as `ALERTS` — all for the tenant the group
//! belongs to, and reported in `/metrics`. A restarted node, and in a cluster a new meta
//! leader after the old one is killed, resume the committed alert state: same activeAt, no
//! second pending phase.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use cairn_tests::*;

const TENANT: &str = "team-a";

const GROUP: &str = r#"name: cpu
interval: 1s
rules:
  - record: host:cpu_usage:max
    expr: max by (host) (cpu_usage)
  - alert: HighCpu
    expr: cpu_usage > 0.9
    for: 3s
    labels:
      severity: page
    annotations:
      summary: "{{ $labels.host }} at {{ $value }}"
"#;

/// `PUT /api/v1/rules/{group}` as `tenant`; fails unless 2xx.
fn put_group(url: &str, tenant: &str, name: &str, yaml: &str) -> anyhow::Result<()> {
    let resp = client()
        .put(format!("{url}/api/v1/rules/{name}"))
        .header("X-Scope-OrgID", tenant)
        .header("Content-Type", "application/yaml")
        .body(yaml.to_string())
        .send()
        .context("sending the rule group")?;
    let status = resp.status();
    if !status.is_success() {
        bail!("PUT rules: {status}: {}", resp.text().unwrap_or_default());
    }
    Ok(())
}

/// The instant vector `query` returns for `tenant` now (empty on any failure).
fn vector(url: &str, tenant: &str, query: &str) -> Vec<serde_json::Value> {
    match prom_api(
        url,
        Some(tenant),
        false,
        "/api/v1/query",
        &[("query", query)],
    ) {
        Ok((200, v)) => v["data"]["result"].as_array().cloned().unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// How many `ALERTS{alertstate="pending"}` samples the last 30 minutes hold.
fn pending_samples(url: &str) -> f64 {
    let v = vector(
        url,
        TENANT,
        r#"count_over_time(ALERTS{alertstate="pending"}[30m])"#,
    );
    v.first()
        .and_then(|s| s["value"][1].as_str()?.parse().ok())
        .unwrap_or(0.0)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[test]
fn the_leader_records_series_and_raises_alerts_through_pending_to_firing() {
    let dir = tempfile::tempdir().unwrap();
    let node = CairnProcess::start_with_config(
        dir.path(),
        "[rules]\nevaluation_interval = \"1s\"\nstatus_interval = \"1s\"\n",
        &[],
    )
    .unwrap();
    let url = node.url.clone();
    let t = now_ms();
    write_lines(
        &url,
        Some(TENANT),
        "ms",
        &format!("cpu,host=a usage=0.95 {t}\ncpu,host=b usage=0.2 {t}\n"),
    )
    .unwrap();
    put_group(&url, TENANT, "cpu", GROUP).unwrap();

    // The recording rule's output, written through the replicated path, is queryable.
    let recorded = wait_for(
        "the recording rule's series",
        Duration::from_secs(60),
        || {
            let v = vector(&url, TENANT, "host:cpu_usage:max");
            (v.len() == 2).then_some(v)
        },
    )
    .unwrap();
    let a = recorded
        .iter()
        .find(|s| s["metric"]["host"] == "a")
        .expect("host a recorded");
    assert_eq!(a["metric"]["__name__"], "host:cpu_usage:max");
    assert_eq!(a["value"][1], "0.95");

    // The alert is pending first (for: 3s), then firing.
    let pending = wait_for("a pending HighCpu alert", Duration::from_secs(60), || {
        let v = vector(&url, TENANT, r#"ALERTS{alertstate="pending"}"#);
        (!v.is_empty()).then_some(v)
    })
    .unwrap();
    assert_eq!(pending.len(), 1, "only host a is over 0.9: {pending:?}");
    let m = &pending[0]["metric"];
    assert_eq!(m["alertname"], "HighCpu");
    assert_eq!(m["host"], "a");
    assert_eq!(m["severity"], "page");
    let pending_seen = now_ms();
    let firing = wait_for("the HighCpu alert firing", Duration::from_secs(60), || {
        let v = vector(&url, TENANT, r#"ALERTS{alertstate="firing"}"#);
        (!v.is_empty()).then_some(v)
    })
    .unwrap();
    assert_eq!(firing[0]["metric"]["host"], "a");
    assert!(
        now_ms() - pending_seen >= 1_000,
        "firing only after the `for` duration has passed since pending"
    );
    // ALERTS_FOR_STATE carries the time the alert became active (seconds), before now.
    let for_state = vector(&url, TENANT, "ALERTS_FOR_STATE");
    assert_eq!(for_state.len(), 1, "{for_state:?}");
    let active_at: f64 = for_state[0]["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("a number");
    assert!(active_at * 1e3 <= now_ms() as f64 && active_at * 1e3 >= (t - 60_000) as f64);

    // Another tenant sees none of it.
    assert!(vector(&url, "other", "ALERTS").is_empty());
    assert!(vector(&url, "other", "host:cpu_usage:max").is_empty());

    // The driver's metrics name the group.
    let metrics = client()
        .get(format!("{url}/metrics"))
        .send()
        .and_then(|r| r.text())
        .unwrap();
    let sample = |prefix: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in\n{metrics}"))
    };
    let labels = format!("{{tenant=\"{TENANT}\",rule_group=");
    assert!(sample(&format!("cairn_rule_group_iterations_total{labels}")) >= 4.0);
    assert_eq!(sample(&format!("cairn_rule_group_rules{labels}")), 2.0);
    assert_eq!(
        sample(&format!("cairn_rule_group_interval_seconds{labels}")),
        1.0
    );
    assert!(sample("cairn_rule_evaluations_total ") >= 8.0);
    // Pending and firing are two committed alert state changes at least.
    assert!(sample("cairn_alert_state_commits_total ") >= 2.0);
    assert!(sample("cairn_alert_state_commit_bytes_total ") > 0.0);

    // A restarted node leads again and resumes from the committed alert state: the alert
    // fires on at once, with the same activeAt, and never goes through pending again.
    let pending_before = pending_samples(&url);
    assert!(pending_before >= 1.0);
    let extra = node.extra_args();
    node.terminate().unwrap();
    let restarted_at = now_ms();
    let node = CairnProcess::restart_same(&dir.path().join("data"), &extra).unwrap();
    let url = node.url.clone();
    wait_for(
        "a firing ALERTS sample written after the restart",
        Duration::from_secs(60),
        || {
            let v = vector(&url, TENANT, r#"timestamp(ALERTS{alertstate="firing"})"#);
            let t: f64 = v.first()?["value"][1].as_str()?.parse().ok()?;
            (t * 1e3 >= restarted_at as f64).then_some(())
        },
    )
    .unwrap();
    let for_state = vector(&url, TENANT, "ALERTS_FOR_STATE");
    assert_eq!(
        for_state[0]["value"][1].as_str(),
        Some(&*active_at.to_string())
    );
    assert_eq!(
        pending_samples(&url),
        pending_before,
        "no pending evaluation after the restart"
    );
    node.terminate().unwrap();
}

/// `GET /api/v1/cluster/status` of the node at `url`.
fn cluster_status(url: &str) -> Option<serde_json::Value> {
    let text = client()
        .get(format!("{url}/api/v1/cluster/status"))
        .send()
        .ok()?
        .text()
        .ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(v["data"].clone())
}

/// The value and the sample time (ms) of the single series `query` returns, if one.
fn single(url: &str, query: &str) -> Option<(String, i64)> {
    let v = vector(url, TENANT, query);
    let value = v.first()?["value"][1].as_str()?.to_string();
    let t = vector(url, TENANT, &format!("timestamp({query})"));
    let secs: f64 = t.first()?["value"][1].as_str()?.parse().ok()?;
    Some((value, (secs * 1e3).round() as i64))
}

#[test]
fn a_new_meta_leader_resumes_the_for_timer_of_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cairn.toml");
    std::fs::write(
        &config,
        "[rules]\nevaluation_interval = \"1s\"\nstatus_interval = \"1s\"\n",
    )
    .unwrap();
    let config = config.to_string_lossy().into_owned();
    let mut nodes: Vec<Option<CairnProcess>> = Vec::new();
    let mut seed = String::new();
    for id in 1..=3u64 {
        let grpc = format!("127.0.0.1:{}", free_port());
        let mut args = vec![
            "--node-id".to_string(),
            id.to_string(),
            "--http-addr".into(),
            format!("127.0.0.1:{}", free_port()),
            "--grpc-addr".into(),
            grpc.clone(),
            "--config".into(),
            config.clone(),
        ];
        if id == 1 {
            args.extend(["--shards".to_string(), "4".into()]);
            seed = grpc;
        } else {
            args.extend(["--join".to_string(), seed.clone()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let data = dir.path().join(format!("node{id}"));
        nodes.push(Some(CairnProcess::start_args(&data, &args, &[]).unwrap()));
    }
    let urls: Vec<String> = nodes.iter().flatten().map(|n| n.url.clone()).collect();
    wait_for("a healthy cluster of 3", Duration::from_secs(120), || {
        let s = cluster_status(&urls[0])?;
        (s["healthy"] == true && s["nodes"].as_array()?.len() == 3).then_some(())
    })
    .unwrap();
    let t = now_ms();
    write_lines(
        &urls[1],
        Some(TENANT),
        "ms",
        &format!("cpu,host=a usage=0.95 {t}\n"),
    )
    .unwrap();
    // Long enough a `for` that the leader dies while the alert is pending.
    let group = GROUP.replace("for: 3s", "for: 10s");
    put_group(&urls[2], TENANT, "cpu", &group).unwrap();
    let (active_at, _) = wait_for("a pending alert", Duration::from_secs(60), || {
        vector(&urls[0], TENANT, r#"ALERTS{alertstate="pending"}"#)
            .first()
            .and(single(&urls[0], "ALERTS_FOR_STATE"))
    })
    .unwrap();
    let leader = cluster_status(&urls[0]).unwrap()["meta_leader"]
        .as_u64()
        .expect("a meta leader");
    let killed_at = now_ms();
    nodes[leader as usize - 1].take().unwrap().kill9();
    let survivor = urls[if leader == 1 { 1 } else { 0 }].clone();
    // The new leader's own evaluations carry the old leader's activeAt on: its `for` timer
    // did not restart.
    let (resumed, _) = wait_for(
        "ALERTS_FOR_STATE written by the new leader",
        Duration::from_secs(90),
        || single(&survivor, "ALERTS_FOR_STATE").filter(|(_, at)| *at > killed_at),
    )
    .unwrap();
    assert_eq!(resumed, active_at);
    // ALERTS_FOR_STATE holds activeAt in whole seconds.
    let active_at_ms = active_at.parse::<f64>().unwrap() as i64 * 1_000;
    let first_firing = wait_for("the alert firing", Duration::from_secs(90), || {
        let got = export(&survivor, Some(TENANT), r#"ALERTS{alertstate="firing"}"#).ok()?;
        got.first()?.samples.first().map(|&(t, _)| t)
    })
    .unwrap();
    assert!(
        first_firing >= active_at_ms + 10_000,
        "fires once `for` has passed since the first pending evaluation \
         (activeAt {active_at_ms}, first firing sample {first_firing})"
    );
    for n in nodes.into_iter().flatten() {
        n.terminate().unwrap();
    }
}
