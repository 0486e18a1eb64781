//! `cairn cluster status`: the status endpoint as tables (nodes, replica moves with the
//! snapshot progress gathered from every node, shards, maintenance, retention), or as JSON.

use std::time::Duration;

use serde_json::Value;

/// `cairn cluster status`
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Any node of the cluster.
    #[arg(long, default_value = "http://127.0.0.1:7480", env = "CAIRN_URL")]
    pub url: String,
    /// Print the JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Prints the status of the cluster `args.url` belongs to.
pub async fn status(args: StatusArgs) -> anyhow::Result<()> {
    let url = format!("{}/api/v1/cluster/status", args.url.trim_end_matches('/'));
    let mut d = super::get_data(&reqwest::Client::new(), &url).await?;
    add_snapshot_progress(&mut d).await;
    let d = &d;
    if args.json {
        println!("{}", serde_json::to_string_pretty(d)?);
        return Ok(());
    }
    print!("{}", render_status(d));
    Ok(())
}

/// Adds to each move under way the snapshot its shard's leader is sending to the new replica
/// (`snapshot: {bytes_sent, total, ...}`), asked of every node: only the sender knows it.
pub async fn add_snapshot_progress(d: &mut Value) {
    let Some(moves) = d["moves"].as_array().filter(|m| !m.is_empty()) else {
        return;
    };
    let mut moves = moves.clone();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap_or_default();
    let addrs: Vec<String> = d["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["http_addr"].as_str().map(str::to_string))
        .collect();
    let asks = addrs.iter().map(|a| {
        let url = format!("http://{a}/api/v1/cluster/status");
        let client = &client;
        async move {
            let d = super::get_data(client, &url).await.ok()?;
            Some(d["snapshot_sends"].clone())
        }
    });
    let sends: Vec<Value> = futures_util::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_array().cloned())
        .flatten()
        .collect();
    for m in &mut moves {
        // The latest send of this shard to the move's new node.
        if let Some(s) = sends
            .iter()
            .filter(|s| s["shard"] == m["shard"] && s["target"] == m["add"])
            .max_by_key(|s| s["started_ms"].as_i64().unwrap_or(0))
        {
            m["snapshot"] = s.clone();
        }
    }
    d["moves"] = Value::Array(moves);
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "-".into(),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let mut s = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect::<Vec<_>>()
            .join("  ");
        s.truncate(s.trim_end().len());
        s + "\n"
    };
    let mut out = line(head.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out += &line(r.clone());
    }
    out
}

/// The status document as text: a summary line, the nodes, the shards.
pub fn render_status(d: &Value) -> String {
    let mut out = format!(
        "cluster: {} · answered by node {} · meta leader {} (term {}) · {} shards, {} per tenant, RF {}\n\n",
        if d["healthy"] == true {
            "healthy"
        } else {
            "DEGRADED"
        },
        cell(&d["node_id"]),
        cell(&d["meta_leader"]),
        cell(&d["meta_term"]),
        cell(&d["shard_count"]),
        cell(&d["shards_per_tenant"]),
        cell(&d["replication_factor"]),
    );
    let nodes: Vec<Vec<String>> = d["nodes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| {
                    let state = if n["draining"] == true {
                        format!("{}, draining", cell(&n["state"]))
                    } else {
                        cell(&n["state"])
                    };
                    vec![
                        cell(&n["id"]),
                        state,
                        cell(&n["replicas"]),
                        cell(&n["http_addr"]),
                        cell(&n["grpc_addr"]),
                        n["last_contact_ms"]
                            .as_u64()
                            .map_or("-".into(), |ms| format!("{ms} ms")),
                        if n["meta_voter"] == true {
                            "voter"
                        } else {
                            "learner"
                        }
                        .into(),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    out += &table(
        &[
            "NODE",
            "STATE",
            "REPLICAS",
            "HTTP",
            "GRPC",
            "LAST CONTACT",
            "META",
        ],
        &nodes,
    );
    out.push('\n');
    out += &render_moves(&d["moves"]);
    let shards: Vec<Vec<String>> = d["shards"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    vec![
                        cell(&s["id"]),
                        cell(&s["leader"]),
                        cell(&s["term"]),
                        cell(&s["voters"]),
                        cell(&s["learners"]),
                        cell(&s["placement"]),
                        cell(&s["last_applied"]),
                        cell(&s["log_entries"]),
                        built_to(&s["rollup"]["5m"]),
                        built_to(&s["rollup"]["1h"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    out += &table(
        &[
            "SHARD",
            "LEADER",
            "TERM",
            "VOTERS",
            "LEARNERS",
            "PLACEMENT",
            "APPLIED",
            "LOG",
            "5M BUILT TO",
            "1H BUILT TO",
        ],
        &shards,
    );
    out += &render_maintenance(&d["maintenance"]);
    out += &render_retention(&d["retention"]);
    out
}

/// The replica moves under way, with the snapshot progress when known; nothing when none.
fn render_moves(moves: &Value) -> String {
    let Some(moves) = moves.as_array().filter(|m| !m.is_empty()) else {
        return String::new();
    };
    let now = crate::timeparse::wall_ms();
    let rows: Vec<Vec<String>> = moves
        .iter()
        .map(|m| {
            let age = m["started_ms"]
                .as_i64()
                .map_or("-".into(), |t| format!("{}s", (now - t).max(0) / 1000));
            let s = &m["snapshot"];
            let mib = |b: u64| format!("{:.1} MiB", b as f64 / 1_048_576.0);
            let snapshot = match (s["bytes_sent"].as_u64(), s["total"].as_u64()) {
                (Some(sent), Some(total)) if total > 0 => format!(
                    "{} / {} ({}%){}",
                    mib(sent),
                    mib(total),
                    sent * 100 / total,
                    if s["finished"] == true { " sent" } else { "" }
                ),
                (Some(sent), _) => format!("{} sent", mib(sent)),
                _ => "-".into(),
            };
            vec![
                cell(&m["shard"]),
                cell(&m["add"]),
                cell(&m["remove"]),
                cell(&m["reason"]),
                age,
                snapshot,
            ]
        })
        .collect();
    let mut out = format!("{} replica move(s) under way:\n", moves.len());
    out += &table(&["SHARD", "TO", "FROM", "REASON", "AGE", "SNAPSHOT"], &rows);
    out.push('\n');
    out
}

/// A rollup tier's watermark as a time (`-` before the first window), `+N dirty` after it
/// when late samples changed built windows.
fn built_to(tier: &Value) -> String {
    let at = tier["built_to_ms"]
        .as_i64()
        .map_or("-".to_string(), crate::timeparse::format_rfc3339_ms);
    match tier["dirty"].as_u64() {
        Some(n) if n > 0 => format!("{at} +{n} dirty"),
        _ => at,
    }
}

/// One line on what this node's maintenance did. Nothing for a node that does not report it.
fn render_maintenance(m: &Value) -> String {
    if m.is_null() {
        return String::new();
    }
    format!(
        "
maintenance on this node: {} shard(s) led, lag 5m {}s / 1h {}s; applied: {} windows rolled, {} days deleted (~{} bytes), {} series dropped\n",
        m["shards_led"],
        m["5m"]["lag_seconds"],
        m["1h"]["lag_seconds"],
        m["windows_rolled"],
        m["days_deleted"],
        m["bytes_deleted"],
        m["series_dropped"]
    )
}

/// The retention defaults on one line, then a table of the tenants that override them
/// (`*` marks a value the tenant set). Nothing for a node that does not report retention.
fn render_retention(r: &Value) -> String {
    if r.is_null() {
        return String::new();
    }
    let mut out = format!(
        "\nretention defaults: {}\n",
        super::tenant::render_retention(&r["defaults"], false)
    );
    let tenants = r["tenants"].as_array().cloned().unwrap_or_default();
    if tenants.is_empty() {
        out += "no tenant overrides\n";
        return out;
    }
    let rows: Vec<Vec<String>> = tenants
        .iter()
        .map(|t| {
            let mut row = vec![cell(&t["tenant"])];
            if let Some(e) = t["error"].as_str() {
                row.extend([format!("error: {e}"), String::new(), String::new()]);
                return row;
            }
            for tier in ["raw", "rollup_5m", "rollup_1h"] {
                let v = &t["retention"][tier];
                let value = match v["value"].as_str() {
                    Some("0s") => "forever".to_string(),
                    other => other.unwrap_or("?").to_string(),
                };
                let mark = if v["source"] == "tenant" { "*" } else { "" };
                row.push(format!("{value}{mark}"));
            }
            row
        })
        .collect();
    out += &table(&["TENANT", "RAW", "ROLLUP_5M", "ROLLUP_1H"], &rows);
    out += "(* set for the tenant; the others follow the defaults)\n";
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_renders_as_aligned_tables() {
        let d = serde_json::json!({
            "node_id": 2, "meta_leader": 1, "meta_term": 3, "shard_count": 2,
            "shards_per_tenant": 1, "replication_factor": 3, "healthy": false,
            "nodes": [
                {"id": 1, "state": "up", "http_addr": "127.0.0.1:7480", "grpc_addr": "127.0.0.1:7481",
                 "last_contact_ms": 12, "meta_voter": true, "replicas": 2},
                {"id": 2, "state": "unreachable", "http_addr": "127.0.0.1:7490",
                 "grpc_addr": "127.0.0.1:7491", "last_contact_ms": null, "meta_voter": false,
                 "replicas": 1, "draining": true}
            ],
            "moves": [
                {"shard": 1, "add": 1, "remove": 2, "reason": "drain", "started_ms": 0,
                 "snapshot": {"bytes_sent": 512, "total": 2048, "finished": false}}
            ],
            "shards": [
                {"id": 0, "leader": 1, "term": 2, "voters": [1, 2], "learners": [],
                 "placement": [1, 2], "last_applied": 40, "log_entries": 7},
                {"id": 1, "leader": null, "placement": [2]}
            ]
        });
        let text = render_status(&d);
        assert!(text.starts_with("cluster: DEGRADED · answered by node 2 · meta leader 1"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[2],
            "NODE  STATE                  REPLICAS  HTTP            GRPC            LAST CONTACT  META"
        );
        assert_eq!(
            lines[3],
            "1     up                     2         127.0.0.1:7480  127.0.0.1:7481  12 ms         voter"
        );
        assert_eq!(
            lines[4],
            "2     unreachable, draining  1         127.0.0.1:7490  127.0.0.1:7491  -             learner"
        );
        assert_eq!(lines[6], "1 replica move(s) under way:");
        // The age column is as wide as the move's age (here since the epoch).
        assert!(
            lines[7].starts_with("SHARD  TO  FROM  REASON  AGE ")
                && lines[7].ends_with(" SNAPSHOT"),
            "{}",
            lines[7]
        );
        assert!(
            lines[8].starts_with("1      1   2     drain   ") && lines[8].ends_with("(25%)"),
            "{}",
            lines[8]
        );
        assert!(
            lines[11].starts_with("0      1       2     1,2     "),
            "{}",
            lines[11]
        );
        assert!(
            lines[12].starts_with("1      -       -     -       -"),
            "{}",
            lines[12]
        );
        assert_eq!(lines.len(), 13, "no retention section without one");
    }

    #[test]
    fn retention_renders_defaults_and_overriding_tenants() {
        let tier = |v: &str, s: &str| serde_json::json!({"value": v, "source": s});
        let r = serde_json::json!({
            "defaults": {"raw": tier("7d", "default"), "rollup_5m": tier("30d", "default"),
                         "rollup_1h": tier("365d", "default")},
            "tenants": [{"tenant": "acme", "retention": {
                "raw": tier("14d", "tenant"), "rollup_5m": tier("30d", "default"),
                "rollup_1h": tier("0s", "tenant")}}]
        });
        let text = render_retention(&r);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[1],
            "retention defaults: raw 7d · rollup_5m 30d · rollup_1h 365d"
        );
        assert_eq!(lines[2], "TENANT  RAW   ROLLUP_5M  ROLLUP_1H");
        assert_eq!(lines[3], "acme    14d*  30d        forever*");
        let none = serde_json::json!({"defaults": r["defaults"], "tenants": []});
        assert!(render_retention(&none).ends_with("no tenant overrides\n"));
    }
}
