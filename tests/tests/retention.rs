//! Retention and downsampling end to end: three real `cairn server` processes whose
//! development clocks (`--dev-clock`) are moved ahead by days, so data ages raw → 5 m → 1 h →
//! gone in seconds. After each step every node answers the queries it answered from raw data
//! (now from rollups), every shard's replicas hold byte-identical rollups
//! (`/api/v1/admin/rollups`), and what retention removed is gone from every node. A second
//! test kills a shard leader in the middle of rolling up and checks nothing is lost or doubled.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use cairn_tests::test_cluster::status;
use cairn_tests::{TestCluster, client, wait_for, write_lines};
use serde_json::Value;

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// A config that plans often and works flat out, so a test waits seconds, not minutes.
fn config(dir: &std::path::Path, series_per_piece: u64, cpu_share: f64) -> Result<String> {
    let path = dir.join("cairn.toml");
    std::fs::write(
        &path,
        format!(
            "[maintenance]\ninterval = \"200ms\"\ncpu_share = {cpu_share:?}\nseries_per_piece = {series_per_piece}\n\
             # The fourth node must stay without replicas: it reads everything remotely.\n\
             [rebalance]\nenabled = false\n"
        ),
    )?;
    Ok(path.display().to_string())
}

/// A GET's body as JSON.
fn get_json(url: &str, query: &[(&str, &str)]) -> Result<Value> {
    let text = client().get(url).query(query).send()?.text()?;
    serde_json::from_str(&text).with_context(|| format!("{url}: not JSON: {text}"))
}

/// The flags of every node: a development clock, the config, and the default raw retention
/// set explicitly (the test harness keeps data forever unless a test says otherwise).
fn retention_flags(cfg: String) -> Vec<String> {
    ["--dev-clock", "--retention", "7d", "--config"]
        .iter()
        .map(|s| s.to_string())
        .chain([cfg])
        .collect()
}

fn now_ms(url: &str) -> Result<i64> {
    let v = get_json(&format!("{url}/api/v1/admin/clock"), &[])?;
    v["data"]["now_ms"].as_i64().context("now_ms")
}

/// Moves every live node's clock ahead by `by` (e.g. "8d").
fn advance(c: &TestCluster, by: &str) -> Result<()> {
    for m in &c.members {
        let Some(p) = &m.process else { continue };
        let r = client()
            .post(format!("{}/api/v1/admin/clock?advance={by}", p.url))
            .send()?;
        ensure!(
            r.status().is_success(),
            "advancing node {}: {}",
            m.id,
            r.text()?
        );
    }
    Ok(())
}

/// Line protocol for `hosts` hosts, a counter and a gauge each, one sample a minute in
/// `[from, to)`.
fn data(hosts: usize, from: i64, to: i64) -> String {
    let mut out = String::new();
    for h in 0..hosts {
        let mut total = 0.0;
        let mut t = from;
        let mut i = 0u64;
        while t < to {
            // A counter with a reset every ~17 hours, and a gauge wandering in [10, 40].
            total = if i % 1_000 == 999 {
                3.0
            } else {
                total + ((i * 7 + h as u64) % 11) as f64
            };
            let temp = 10.0 + ((i * 13 + h as u64 * 5) % 31) as f64 + 0.25;
            out += &format!(
                "reqs_total,host=h{h} value={total} {t}\ntemp,host=h{h} value={temp} {t}\n"
            );
            t += MIN;
            i += 1;
        }
    }
    out
}

/// A range query's answer: series (labels as JSON text) to points; and the resolution header.
type Answer = BTreeMap<String, Vec<(i64, f64)>>;

fn range_query(
    url: &str,
    expr: &str,
    (start, end, step): (i64, i64, i64),
    resolution: &str,
) -> Result<(String, Answer)> {
    let resp = client()
        .get(format!("{url}/api/v1/query_range"))
        .query(&[
            ("query", expr.to_string()),
            ("start", (start / 1000).to_string()),
            ("end", (end / 1000).to_string()),
            ("step", format!("{}s", step / 1000)),
            ("resolution", resolution.to_string()),
            ("nocache", "1".to_string()),
        ])
        .send()?;
    let header = resp
        .headers()
        .get("x-cairn-resolution")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let code = resp.status();
    let v: Value = serde_json::from_str(&resp.text()?)?;
    ensure!(code.is_success(), "{expr}: {code}: {v}");
    let mut out = Answer::new();
    for s in v["data"]["result"].as_array().context("result")? {
        let points = s["values"]
            .as_array()
            .context("values")?
            .iter()
            .map(|p| {
                let t = (p[0].as_f64().unwrap_or(0.0) * 1000.0).round() as i64;
                let v: f64 = p[1].as_str().unwrap_or("NaN").parse().unwrap_or(f64::NAN);
                (t, v)
            })
            .collect();
        out.insert(s["metric"].to_string(), points);
    }
    Ok((header, out))
}

/// Same series, same timestamps, values equal within a relative 1e-9.
fn same_answer(what: &str, want: &Answer, got: &Answer) -> Result<()> {
    ensure!(
        want.keys().eq(got.keys()),
        "{what}: series differ: {:?} vs {:?}",
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    for (k, w) in want {
        let g = &got[k];
        ensure!(
            w.len() == g.len(),
            "{what} {k}: {} points vs {}",
            w.len(),
            g.len()
        );
        for (a, b) in w.iter().zip(g) {
            let close = a.1 == b.1 || (a.1 - b.1).abs() <= 1e-9 * a.1.abs().max(b.1.abs());
            ensure!(a.0 == b.0 && close, "{what} {k}: {a:?} vs {b:?}");
        }
    }
    Ok(())
}

/// The queries checked at each age, with the tier they should read while raw data exists.
const QUERIES: &[(&str, i64, &str)] = &[
    ("rate(reqs_total[1h])", HOUR, "1h"),
    ("increase(reqs_total[2h])", HOUR, "1h"),
    ("avg_over_time(temp[1h])", HOUR, "1h"),
    ("max_over_time(temp[1h])", HOUR, "1h"),
    ("sum(temp)", HOUR, "1h"),
    ("count_over_time(temp[5m])", 5 * MIN, "5m"),
    ("delta(temp[10m])", 5 * MIN, "5m"),
];

/// Waits until every node has built both rollup tiers of every shard holding data up to
/// `to` (the 5m tier to `to`, the 1h tier to `to`'s day).
fn wait_rolled_up(c: &TestCluster, to: i64) -> Result<()> {
    wait_for("rollups on every node", Duration::from_secs(180), || {
        c.members
            .iter()
            .filter_map(|m| m.process.as_ref())
            .all(|p| {
                let Ok(s) = status(&p.url) else { return false };
                let Some(shards) = s["shards"].as_array() else {
                    return false;
                };
                shards
                    .iter()
                    .filter(|sh| sh["local"] == true && sh["rollup"]["series"].as_u64() > Some(0))
                    .all(|sh| {
                        let r = &sh["rollup"];
                        r["5m"]["built_to_ms"].as_i64().is_some_and(|w| w >= to)
                            && r["1h"]["built_to_ms"]
                                .as_i64()
                                .is_some_and(|w| w >= to.div_euclid(DAY) * DAY)
                            && r["5m"]["dirty"] == 0
                            && r["1h"]["dirty"] == 0
                    })
            })
            .then_some(())
    })
}

/// Every shard's replicas report the same rollup digest at the same applied index.
fn rollups_identical(c: &TestCluster) -> Result<()> {
    let mut last = BTreeMap::new();
    let r = wait_for(
        "identical rollups on every replica",
        Duration::from_secs(60),
        || {
            let mut by_shard: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
            for m in &c.members {
                let p = m.process.as_ref()?;
                let v = get_json(&format!("{}/api/v1/admin/rollups", p.url), &[]).ok()?;
                for s in v["data"]["shards"].as_array()? {
                    by_shard
                        .entry(s["shard"].as_u64()?)
                        .or_default()
                        .push(s.clone());
                }
            }
            // Every live node with a replica (three: the replication factor) reports it.
            let live = c
                .members
                .iter()
                .filter(|m| m.process.is_some())
                .count()
                .min(3);
            let agree = by_shard
                .values()
                .all(|reps| reps.len() == live && reps.windows(2).all(|w| w[0] == w[1]));
            let some_blocks = by_shard.values().any(|reps| {
                ["5m", "1h"]
                    .iter()
                    .any(|t| reps[0][*t]["blocks"].as_u64() > Some(0))
            });
            last = by_shard;
            (agree && some_blocks).then_some(())
        },
    );
    r.with_context(|| format!("last digests by shard: {last:?}"))
}

/// Waits (up to a minute) until `ok` holds on every live node, given its URL.
fn every_node(c: &TestCluster, what: &str, ok: impl Fn(&str) -> bool) -> Result<()> {
    wait_for(what, Duration::from_secs(60), || {
        c.members
            .iter()
            .filter_map(|m| m.process.as_ref())
            .all(|p| ok(&p.url))
            .then_some(())
    })
}

fn series_count(url: &str, selector: &str) -> Result<usize> {
    let v = get_json(&format!("{url}/api/v1/series"), &[("match[]", selector)])?;
    Ok(v["data"].as_array().context("series data")?.len())
}

fn metric(url: &str, name: &str) -> Result<f64> {
    let text = client().get(format!("{url}/metrics")).send()?.text()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .with_context(|| format!("{name} not in /metrics"))
}

#[test]
fn data_ages_raw_then_5m_then_1h_then_gone_identically_on_every_replica() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let cfg = config(dir.path(), 2_000, 1.0)?;
    let mut c = TestCluster::start_with(3, &retention_flags(cfg))?;
    let url = c.url(1);
    let now = now_ms(&url)?;
    // Two days of data ending on a 2-hour boundary at least an hour (the out-of-order window)
    // old, so every window of it is eligible for rolling up at once.
    let to = (now - HOUR).div_euclid(2 * HOUR) * 2 * HOUR;
    let from = to - 2 * DAY;
    write_lines(&url, None, "ms", &data(4, from, to))?;
    // Whole hours strictly inside the data, so every window is full.
    let span = (from + 2 * HOUR, to);
    let mut raw = Vec::new();
    for &(q, step, _) in QUERIES {
        let (h, a) = range_query(&url, q, (span.0, span.1, step), "raw")?;
        ensure!(
            h == "raw" && !a.is_empty(),
            "{q}: raw read {h:?}, {} series",
            a.len()
        );
        raw.push(a);
    }
    wait_rolled_up(&c, to)?;
    rollups_identical(&c)?;
    // Every node answers from rollups what raw data answered.
    let expected = |q: &str| QUERIES.iter().find(|e| e.0 == q).unwrap().2.to_string();
    check_all(&c, &raw, span, &expected)?;

    // Eight days on: raw is past its 7 days and deleted on every replica; the rollups answer.
    advance(&c, "8d")?;
    every_node(&c, "raw data deleted on every node", |u| {
        range_query(u, "temp", (span.0, span.1, HOUR), "raw").is_ok_and(|(_, a)| a.is_empty())
    })?;
    check_all(&c, &raw, span, &expected)?;
    // A fourth node holds no replica: it reads every shard's rollups (and the tenant's
    // cut-offs) from the nodes that do, and answers the same.
    let four = c.add_member()?;
    c.wait_healthy(four, 4)?;
    check_all(&c, &raw, span, &expected)?;
    for m in c.members.iter().take(3) {
        let u = &m.process.as_ref().unwrap().url;
        ensure!(
            metric(u, "cairn_retention_days_deleted_total")? > 0.0,
            "node {}",
            m.id
        );
        ensure!(
            metric(u, "cairn_retention_bytes_deleted_total")? > 0.0,
            "node {}",
            m.id
        );
    }
    // A write older than raw retention is refused, and says so.
    let old = client()
        .post(format!("{url}/write?precision=ms"))
        .body(format!("temp,host=late value=1 {}", from + HOUR))
        .send()?;
    ensure!(
        old.status().as_u16() == 400,
        "an expired write: {}",
        old.status()
    );
    let body = old.text()?;
    ensure!(body.contains("raw retention"), "{body}");
    rollups_identical(&c)?;

    // A month on: the 5-minute tier has expired too; the 5-minute queries now read 1-hour
    // buckets (snapped, flagged approximate), the hourly ones still exact.
    advance(&c, "31d")?;
    every_node(&c, "5m rollups deleted on every node", |u| {
        range_query(
            u,
            "avg_over_time(temp[5m])",
            (span.0, span.1, 5 * MIN),
            "5m",
        )
        .is_ok_and(|(_, a)| a.is_empty())
    })?;
    for m in &c.members {
        let u = &m.process.as_ref().unwrap().url;
        for (&(q, step, tier), want) in QUERIES.iter().zip(&raw) {
            let (h, got) = range_query(u, q, (span.0, span.1, step), "auto")?;
            if tier == "1h" {
                same_answer(&format!("node {} {q}", m.id), want, &got)?;
                ensure!(h == "1h", "node {} {q}: read {h:?}", m.id);
            } else {
                ensure!(
                    h == "1h,approximate" && !got.is_empty(),
                    "node {} {q}: {h:?}",
                    m.id
                );
            }
        }
    }
    rollups_identical(&c)?;

    // A year on: nothing is left in any tier, and the series are gone from the index.
    advance(&c, "366d")?;
    every_node(&c, "series dropped on every node", |u| {
        series_count(u, "{__name__=~\"temp|reqs_total\"}").is_ok_and(|n| n == 0)
    })?;
    for m in &c.members {
        let u = &m.process.as_ref().unwrap().url;
        let (_, a) = range_query(u, "avg_over_time(temp[1h])", (span.0, span.1, HOUR), "auto")?;
        ensure!(a.is_empty(), "node {}: {a:?}", m.id);
        let v = get_json(&format!("{u}/api/v1/label/host/values"), &[])?;
        ensure!(v["data"] == serde_json::json!([]), "node {}: {v}", m.id);
        // The three replicas dropped them (node 4 holds none).
        ensure!(
            m.id == four || metric(u, "cairn_retention_series_dropped_total")? >= 8.0,
            "node {}",
            m.id
        );
    }
    Ok(())
}

/// Every live node answers the queries as raw data did, reading the tiers `tiers` names.
fn check_all(
    c: &TestCluster,
    raw: &[Answer],
    span: (i64, i64),
    tiers: &dyn Fn(&str) -> String,
) -> Result<()> {
    for m in &c.members {
        let u = &m.process.as_ref().context("node down")?.url;
        for (&(q, step, _), want) in QUERIES.iter().zip(raw) {
            let (h, got) = range_query(u, q, (span.0, span.1, step), "auto")?;
            same_answer(&format!("node {} {q}", m.id), want, &got)?;
            ensure!(
                h == tiers(q),
                "node {} {q}: read {h:?}, not {:?}",
                m.id,
                tiers(q)
            );
        }
    }
    Ok(())
}

/// The node leading most shards, by node 1's view of the shards.
fn busiest_leader(url: &str) -> Result<u64> {
    let s = status(url)?;
    let mut led: BTreeMap<u64, usize> = BTreeMap::new();
    for sh in s["shards"].as_array().context("shards")? {
        if let Some(l) = sh["leader"].as_u64() {
            *led.entry(l).or_default() += 1;
        }
    }
    led.into_iter()
        .max_by_key(|&(_, n)| n)
        .map(|(id, _)| id)
        .context("no shard leader")
}

#[test]
fn a_shard_leader_killed_in_the_middle_of_a_rollup_loses_and_doubles_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    // One series per command and a quarter of a core: rolling a day up takes many
    // commands, so the kill lands in the middle of it.
    let cfg = config(dir.path(), 1, 0.25)?;
    let mut c = TestCluster::start_with(3, &retention_flags(cfg))?;
    let url = c.url(1);
    let now = now_ms(&url)?;
    let to = (now - HOUR).div_euclid(2 * HOUR) * 2 * HOUR;
    let from = to - DAY;
    write_lines(&url, None, "ms", &data(12, from, to))?;
    let span = (from + 2 * HOUR, to);
    let mut raw = Vec::new();
    for &(q, step, _) in QUERIES {
        raw.push(range_query(&url, q, (span.0, span.1, step), "raw")?.1);
    }
    let victim = busiest_leader(&url)?;
    let victim_url = c.url(victim);
    // Under way: the victim's shards have begun rolling up, and not all have finished.
    let under_way = |url: &str| -> Option<bool> {
        let s = status(url).ok()?;
        let mut started = false;
        let mut unfinished = false;
        for sh in s["shards"].as_array()? {
            if sh["leader"].as_u64() != Some(victim) || sh["rollup"]["series"] == 0 {
                continue;
            }
            let wm = sh["rollup"]["5m"]["built_to_ms"].as_i64();
            started |= wm.is_some();
            unfinished |= wm.is_none_or(|w| w < to);
        }
        Some(started && unfinished)
    };
    wait_for("the rollup under way", Duration::from_secs(60), || {
        under_way(&victim_url)?.then_some(())
    })?;
    c.node(victim).kill9();
    let survivor = c.members.iter().find(|m| m.process.is_some()).unwrap().id;
    wait_rolled_up(&c, to)?;
    for (&(q, step, _), want) in QUERIES.iter().zip(&raw) {
        let (_, got) = range_query(&c.url(survivor), q, (span.0, span.1, step), "auto")?;
        same_answer(&format!("after the kill, {q}"), want, &got)?;
    }
    // Back again: the restarted node catches up from the log or a snapshot and holds the
    // same rollups as the others.
    c.node(victim).start()?;
    c.wait_healthy(survivor, 3)?;
    wait_rolled_up(&c, to)?;
    rollups_identical(&c)?;
    for (&(q, step, _), want) in QUERIES.iter().zip(&raw) {
        let (_, got) = range_query(&c.url(victim), q, (span.0, span.1, step), "auto")?;
        same_answer(&format!("restarted node, {q}"), want, &got)?;
    }
    Ok(())
}
