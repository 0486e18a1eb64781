//! Built-in alerting on real processes. One node: a recording rule's series becomes
//! queryable and an alerting rule goes pending, then firing, for its tenant only, and a
//! restarted node resumes the committed state. Three nodes: rule groups put through any node,
//! evaluated by the meta leader, alert state committed to the meta group; the meta leader is
//! killed (-9) while an alert is pending, while it is firing and while `keep_firing_for` holds
//! it, and the whole cluster is restarted; every time the surviving nodes must report the same
//! `activeAt`, fire at the original `activeAt + for`, never go back to pending and never forget
//! `keep_firing_for`. Recording rules are read from every node, and a tenant's rules see only
//! that tenant's data.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use cairn_tests::rules::{now_ms, put_group, vector};
use cairn_tests::test_cluster::status;
use cairn_tests::{CairnProcess, TestCluster, client, export, prom_api, wait_for, write_lines};
use serde_json::Value;

/// Evaluation interval of every group here (`interval:` in the group).
const EVAL_MS: i64 = 1_000;

/// The alerts `GET /api/v1/alerts` lists for `tenant`, by alert name.
fn alerts(url: &str, tenant: &str) -> anyhow::Result<BTreeMap<String, Value>> {
    let (code, body) = prom_api(url, Some(tenant), false, "/api/v1/alerts", &[])?;
    if code != 200 {
        bail!("GET /api/v1/alerts: {code}: {body}");
    }
    let mut out = BTreeMap::new();
    for a in body["data"]["alerts"].as_array().context("data.alerts")? {
        let name = a["labels"]["alertname"].as_str().unwrap_or("").to_string();
        out.insert(name, a.clone());
    }
    Ok(out)
}

fn meta_leader(c: &TestCluster) -> anyhow::Result<u64> {
    for m in &c.members {
        if m.process.is_some()
            && let Ok(s) = status(&m.url)
            && let Some(l) = s["meta_leader"].as_u64()
        {
            return Ok(l);
        }
    }
    bail!("no live node knows a meta leader")
}

/// Kills (-9) the meta leader of a three-node cluster and waits until the others elect a new
/// one; returns the killed node and the survivors.
fn kill_the_meta_leader(c: &mut TestCluster) -> (u64, Vec<u64>) {
    let leader = meta_leader(c).unwrap();
    c.node(leader).kill9();
    let survivors: Vec<u64> = (1..=3).filter(|&id| id != leader).collect();
    wait_for("a new meta leader", Duration::from_secs(30), || {
        let l = status(&c.url(survivors[0])).ok()?["meta_leader"].as_u64()?;
        (l != leader).then_some(l)
    })
    .unwrap();
    (leader, survivors)
}

fn live_urls(c: &TestCluster) -> Vec<String> {
    c.members
        .iter()
        .filter(|m| m.process.is_some())
        .map(|m| m.url.clone())
        .collect()
}

/// Every (node, alert, state, activeAt) that a live node reported, in the order seen, polled
/// in the background until dropped: the test then checks that no node ever showed an alert go
/// from firing back to pending, and that every node showed one activeAt.
/// (node URL, alert name, state, activeAt).
type Observation = (String, String, String, String);

struct Watcher {
    seen: Arc<Mutex<Vec<Observation>>>,
    urls: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    fn start(tenant: &'static str, urls: Vec<String>) -> Watcher {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let urls = Arc::new(Mutex::new(urls));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, u, st) = (seen.clone(), urls.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let list = u.lock().map(|l| l.clone()).unwrap_or_default();
                for url in list {
                    if let Ok(a) = alerts(&url, tenant) {
                        let mut s = s.lock().unwrap_or_else(|p| p.into_inner());
                        for (name, v) in a {
                            let state = v["state"].as_str().unwrap_or("").to_string();
                            let active = v["activeAt"].as_str().unwrap_or("").to_string();
                            s.push((url.clone(), name, state, active));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Watcher {
            seen,
            urls,
            stop,
            thread: Some(thread),
        }
    }

    fn set_urls(&self, urls: Vec<String>) {
        *self.urls.lock().unwrap_or_else(|p| p.into_inner()) = urls;
    }

    /// Fails if a node showed `alert` go back from firing to pending, or if two observations
    /// (any nodes) disagree on its activeAt. Returns how many observations there were.
    fn check(&self, alert: &str) -> anyhow::Result<usize> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut fired: BTreeMap<&str, bool> = BTreeMap::new();
        let mut active: Option<&str> = None;
        let mut n = 0;
        for (url, name, state, at) in seen.iter().filter(|(_, n, _, _)| n == alert) {
            n += 1;
            let f = fired.entry(url.as_str()).or_default();
            match state.as_str() {
                "firing" => *f = true,
                "pending" if *f => bail!("{url} showed {name} back to pending after firing"),
                _ => {}
            }
            match active {
                None => active = Some(at),
                Some(a) if a != at => bail!("{name}'s activeAt changed from {a} to {at} ({url})"),
                Some(_) => {}
            }
        }
        Ok(n)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The timestamp (ms) of the first `ALERTS{alertname, alertstate}` sample, read on `url`.
fn first_alerts_sample(url: &str, tenant: &str, alert: &str, state: &str) -> Option<i64> {
    let sel = format!(r#"ALERTS{{alertname="{alert}",alertstate="{state}"}}"#);
    let got = export(url, Some(tenant), &sel).ok()?;
    got.iter()
        .flat_map(|e| e.samples.iter())
        .filter(|(_, bits)| !f64::from_bits(*bits).is_nan())
        .map(|(t, _)| *t)
        .min()
}

/// `ALERTS_FOR_STATE` of `alert` now: the alert's activeAt in seconds, as Prometheus writes it.
fn active_at_s(url: &str, tenant: &str, alert: &str) -> Option<f64> {
    let q = format!(r#"ALERTS_FOR_STATE{{alertname="{alert}"}}"#);
    let (code, body) = prom_api(
        url,
        Some(tenant),
        false,
        "/api/v1/query",
        &[("query", q.as_str())],
    )
    .ok()?;
    if code != 200 {
        return None;
    }
    body["data"]["result"].as_array()?.first()?["value"][1]
        .as_str()?
        .parse()
        .ok()
}

fn state_of(url: &str, tenant: &str, alert: &str) -> Option<String> {
    alerts(url, tenant).ok()?.get(alert)?["state"]
        .as_str()
        .map(str::to_string)
}

/// An alert that stays active for the whole test: one sample of `load` above 10 now, visible
/// to instant queries for the 5-minute lookback.
fn write_high_load(url: &str, tenant: &str) -> anyhow::Result<()> {
    write_lines(
        url,
        Some(tenant),
        "ms",
        &format!("load,host=h1 value=50 {}\n", now_ms()),
    )
}

const HIGH_LOAD: &str = r#"
name: load
interval: 1s
rules:
  - alert: HighLoad
    expr: load > 10
    for: 20s
    labels:
      severity: page
    annotations:
      summary: "load {{ $value }} on {{ $labels.host }}"
"#;

/// Waits until `HighLoad` is pending on `url`; returns its `activeAt` as the API shows it and
/// as `ALERTS_FOR_STATE` holds it (seconds).
fn wait_pending(url: &str, tenant: &str) -> (String, f64) {
    let pending_at = wait_for("HighLoad pending", Duration::from_secs(30), || {
        let a = alerts(url, tenant).ok()?;
        let h = a.get("HighLoad")?;
        (h["state"] == "pending").then(|| h["activeAt"].as_str().map(str::to_string))?
    })
    .unwrap();
    let active_s = wait_for("ALERTS_FOR_STATE", Duration::from_secs(10), || {
        active_at_s(url, tenant, "HighLoad")
    })
    .unwrap();
    (pending_at, active_s)
}

/// (a) kill -9 of the meta leader while the alert is pending, then again while it is firing.
#[test]
fn alert_state_survives_killing_the_meta_leader_while_pending_and_firing() {
    let mut c = TestCluster::start(3).unwrap();
    let tenant = "ops";
    put_group(&c.url(1), tenant, "load", HIGH_LOAD).unwrap();
    write_high_load(&c.url(2), tenant).unwrap();
    let watcher = Watcher::start(tenant, live_urls(&c));
    let (pending_at, active_s) = wait_pending(&c.url(1), tenant);

    // Kill the meta leader while pending.
    let (leader, survivors) = kill_the_meta_leader(&mut c);
    watcher.set_urls(live_urls(&c));
    // It fires, on every survivor, with the activeAt it had.
    for &id in &survivors {
        wait_for("HighLoad firing", Duration::from_secs(60), || {
            (state_of(&c.url(id), tenant, "HighLoad")? == "firing").then_some(())
        })
        .unwrap();
        let a = alerts(&c.url(id), tenant).unwrap();
        assert_eq!(
            a["HighLoad"]["activeAt"].as_str(),
            Some(pending_at.as_str())
        );
    }
    // At the original activeAt + for, within one evaluation interval.
    let fired = wait_for(
        "the first firing ALERTS sample",
        Duration::from_secs(10),
        || first_alerts_sample(&c.url(survivors[0]), tenant, "HighLoad", "firing"),
    )
    .unwrap();
    let due = (active_s * 1000.0) as i64 + 20_000;
    assert!(
        fired >= due - 1_000 && fired <= due + EVAL_MS + 1_000,
        "fired at {fired}, due at {due} (activeAt {active_s} s + for 20 s)"
    );
    c.node(leader).start().unwrap();
    c.wait_healthy(survivors[0], 3).unwrap();
    watcher.set_urls(live_urls(&c));

    // Kill the meta leader while firing: it stays firing with the same activeAt.
    let (_, others) = kill_the_meta_leader(&mut c);
    watcher.set_urls(live_urls(&c));
    // The new leader has evaluated (ALERTS written after the election) and it is still firing.
    let after = now_ms() + 2 * EVAL_MS;
    wait_for(
        "a firing ALERTS sample from the new leader",
        Duration::from_secs(30),
        || {
            let sel = r#"ALERTS{alertname="HighLoad",alertstate="firing"}"#;
            let got = export(&c.url(others[0]), Some(tenant), sel).ok()?;
            got.iter()
                .flat_map(|e| e.samples.iter())
                .any(|&(t, bits)| t >= after && f64::from_bits(bits) == 1.0)
                .then_some(())
        },
    )
    .unwrap();
    for &id in &others {
        let a = alerts(&c.url(id), tenant).unwrap();
        assert_eq!(a["HighLoad"]["state"], "firing");
        assert_eq!(
            a["HighLoad"]["activeAt"].as_str(),
            Some(pending_at.as_str())
        );
    }
    // No pending sample after it first fired.
    let sel = r#"ALERTS{alertname="HighLoad",alertstate="pending"}"#;
    for e in export(&c.url(others[0]), Some(tenant), sel).unwrap() {
        for &(t, bits) in &e.samples {
            assert!(
                t < fired || f64::from_bits(bits).is_nan(),
                "a pending ALERTS sample at {t}, after firing at {fired}"
            );
        }
    }
    assert!(watcher.check("HighLoad").unwrap() > 0);
}

/// (b) the same across a kill -9 of all three nodes while pending.
#[test]
fn alert_state_survives_a_restart_of_the_whole_cluster() {
    let mut c = TestCluster::start(3).unwrap();
    let tenant = "ops";
    put_group(&c.url(1), tenant, "load", HIGH_LOAD).unwrap();
    write_high_load(&c.url(1), tenant).unwrap();
    let (pending_at, active_s) = wait_pending(&c.url(1), tenant);
    for id in 1..=3 {
        c.node(id).kill9();
    }
    for id in 1..=3 {
        c.node(id).start().unwrap();
    }
    c.wait_healthy(1, 3).unwrap();
    let watcher = Watcher::start(tenant, live_urls(&c));
    for id in 1..=3 {
        wait_for(
            "HighLoad firing after the restart",
            Duration::from_secs(60),
            || (state_of(&c.url(id), tenant, "HighLoad")? == "firing").then_some(()),
        )
        .unwrap();
        let a = alerts(&c.url(id), tenant).unwrap();
        assert_eq!(
            a["HighLoad"]["activeAt"].as_str(),
            Some(pending_at.as_str())
        );
    }
    let fired = first_alerts_sample(&c.url(2), tenant, "HighLoad", "firing").unwrap();
    let due = (active_s * 1000.0) as i64 + 20_000;
    // The restart may outlast `for`: then it fires at the first evaluation after it.
    assert!(fired >= due - 1_000, "fired at {fired}, before {due}");
    assert!(watcher.check("HighLoad").unwrap() > 0);
}

/// (c) `keep_firing_for` holds an alert whose condition has cleared, across a leader change,
/// for exactly its duration from when the condition cleared.
#[test]
fn keep_firing_for_is_kept_across_a_meta_leader_change() {
    let mut c = TestCluster::start(3).unwrap();
    let tenant = "ops";
    put_group(
        &c.url(1),
        tenant,
        "flag",
        r#"
name: flag
interval: 1s
rules:
  - alert: FlagUp
    expr: flag > 0
    keep_firing_for: 25s
"#,
    )
    .unwrap();
    let t0 = now_ms();
    write_lines(
        &c.url(1),
        Some(tenant),
        "ms",
        &format!("flag,host=h1 value=1 {t0}\n"),
    )
    .unwrap();
    wait_for("FlagUp firing", Duration::from_secs(30), || {
        (state_of(&c.url(1), tenant, "FlagUp")? == "firing").then_some(())
    })
    .unwrap();
    // The condition clears: a 0 after the 1.
    write_lines(
        &c.url(1),
        Some(tenant),
        "ms",
        &format!("flag,host=h1 value=0 {}\n", now_ms()),
    )
    .unwrap();
    let since = wait_for("keepFiringSince", Duration::from_secs(30), || {
        let a = alerts(&c.url(1), tenant).ok()?;
        a.get("FlagUp")?["keepFiringSince"]
            .as_str()
            .map(str::to_string)
    })
    .unwrap();
    let cleared_at = now_ms();
    let (_, others) = kill_the_meta_leader(&mut c);
    // Still firing with the same keepFiringSince after the election...
    for &id in &others {
        let a = alerts(&c.url(id), tenant).unwrap();
        let f = &a["FlagUp"];
        assert_eq!(f["state"], "firing", "{f}");
        assert_eq!(f["keepFiringSince"].as_str(), Some(since.as_str()));
    }
    // ...and resolved about 25 s after the condition cleared, not 25 s after the election.
    wait_for("FlagUp resolved", Duration::from_secs(60), || {
        let a = alerts(&c.url(others[0]), tenant).ok()?;
        (!a.contains_key("FlagUp")).then_some(())
    })
    .unwrap();
    let resolved = now_ms();
    assert!(
        resolved - cleared_at < 25_000 + 10_000,
        "resolved {} ms after the condition cleared",
        resolved - cleared_at
    );
    assert!(
        resolved - cleared_at >= 25_000 - 3_000,
        "resolved after only {} ms of keep_firing_for 25s",
        resolved - cleared_at
    );
}

/// (d) recording rules' output is readable from every node; (e) a tenant's rules see only that
/// tenant's data.
#[test]
fn recording_rules_are_read_on_every_node_and_stay_in_their_tenant() {
    let c = TestCluster::start(3).unwrap();
    let group = r#"
name: counts
interval: 1s
rules:
  - record: hosts:up:count
    expr: count(up)
"#;
    put_group(&c.url(2), "alpha", "counts", group).unwrap();
    let t = now_ms();
    let alpha: String = (0..3)
        .map(|h| format!("up,host=a{h} value=1 {t}\n"))
        .collect();
    let beta: String = (0..5)
        .map(|h| format!("up,host=b{h} value=1 {t}\n"))
        .collect();
    write_lines(&c.url(1), Some("alpha"), "ms", &alpha).unwrap();
    write_lines(&c.url(1), Some("beta"), "ms", &beta).unwrap();
    for id in 1..=3 {
        let v = wait_for(
            "hosts:up:count on every node",
            Duration::from_secs(30),
            || {
                let (code, body) = prom_api(
                    &c.url(id),
                    Some("alpha"),
                    false,
                    "/api/v1/query",
                    &[("query", "hosts:up:count")],
                )
                .ok()?;
                (code == 200).then_some(())?;
                body["data"]["result"].as_array()?.first()?["value"][1]
                    .as_str()
                    .map(str::to_string)
            },
        )
        .unwrap();
        assert_eq!(
            v, "3",
            "node {id}: alpha's rule counts only alpha's 3 hosts"
        );
    }
    // beta has no rules, so no recorded series; and alpha's series is not in beta.
    let (_, body) = prom_api(
        &c.url(3),
        Some("beta"),
        false,
        "/api/v1/query",
        &[("query", "hosts:up:count")],
    )
    .unwrap();
    assert_eq!(body["data"]["result"], serde_json::json!([]));
    // Every node lists the same rules and the same (empty) alerts for alpha.
    let rules: Vec<Value> = (1..=3)
        .map(|id| {
            let (code, body) =
                prom_api(&c.url(id), Some("alpha"), false, "/api/v1/rules", &[]).unwrap();
            assert_eq!(code, 200);
            body["data"]["groups"][0]["rules"][0]["query"].clone()
        })
        .collect();
    assert!(rules.iter().all(|q| q == "count(up)"), "{rules:?}");
}

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

/// One node: a recording rule's series becomes queryable, an alerting rule with `for` goes
/// pending then firing as `ALERTS`, for the group's tenant only, reported in `/metrics`; and a
/// restarted node resumes the committed alert state (same activeAt, no second pending phase).
#[test]
fn one_node_records_series_raises_alerts_and_resumes_after_a_restart() {
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
