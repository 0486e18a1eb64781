//! Three real `cairn server` processes on loopback, joined into one cluster: replication,
//! read-your-writes on every node, and faults (kill -9, restart, two nodes down, partition),
//! each followed by a check that every node holds the same data; and `cairn cluster local`,
//! which starts such a cluster for a user, from start to Ctrl-C.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use cairn_tests::test_cluster::{SHARDS, status};
use cairn_tests::writer::{Writer, check_replicas_agree, line, wait_more_acks};
use cairn_tests::{
    TestCluster, cairn_bin, client, export, free_port, wait_for, without_cairn_env, write_lines,
};

/// Each shard's applied index on the node at `url`.
fn applied_indexes(url: &str) -> anyhow::Result<BTreeMap<u64, u64>> {
    let s = status(url)?;
    s["shards"]
        .as_array()
        .context("no shards in the status")?
        .iter()
        .map(|sh| {
            sh["id"]
                .as_u64()
                .zip(sh["last_applied"].as_u64())
                .with_context(|| format!("shard without id or applied index: {sh}"))
        })
        .collect()
}

/// The leader of `shard` as the node at `url` sees it.
fn shard_leader(url: &str, shard: u64) -> anyhow::Result<u64> {
    let s = status(url)?;
    s["shards"]
        .as_array()
        .and_then(|a| a.iter().find(|sh| sh["id"].as_u64() == Some(shard)))
        .and_then(|sh| sh["leader"].as_u64())
        .with_context(|| format!("no leader of shard {shard} in {s}"))
}

#[test]
fn three_nodes_replicate_and_every_node_reads_its_writes() {
    let c = TestCluster::start(3).unwrap();
    // Healthy as node 2 sees it too (it may apply the last membership change a moment later).
    let s = c.wait_healthy(2, 3).unwrap();
    assert_eq!(s["shard_count"], 4);
    // Started without --shards (16 by default), the joiners laid out their data dirs for 4.
    for id in [2, 3] {
        let log = c.members[id - 1].process.as_ref().unwrap().log_text();
        assert!(
            log.contains("joining a cluster of 4 shards"),
            "node {id}: {log}"
        );
    }
    for shard in s["shards"].as_array().unwrap() {
        let voters: BTreeSet<u64> = shard["voters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(voters, BTreeSet::from([1, 2, 3]), "{shard}");
        assert!(shard["leader"].as_u64().is_some(), "{shard}");
    }
    // Read-your-writes across nodes: acknowledged by one node, visible on the others at once.
    for (i, (w, r)) in [(1u64, 3u64), (3, 2), (2, 1)].into_iter().enumerate() {
        let t = 1_700_000_000_000 + i as i64 * 1000;
        write_lines(&c.url(w), None, "ms", &line("rw", t, i as f64)).unwrap();
        let got = export(&c.url(r), None, r#"load_v{host="rw"}"#).unwrap();
        assert!(
            got.iter()
                .any(|e| e.samples.contains(&(t, (i as f64).to_bits()))),
            "written on node {w}, not yet visible on node {r}: {got:?}"
        );
    }
    // PromQL on another node sees it too.
    let (code, v) = cairn_tests::prom_api(
        &c.url(2),
        None,
        false,
        "/api/v1/query",
        &[("query", "count(load_v)"), ("time", "1700000000.002")],
    )
    .unwrap();
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["result"][0]["value"][1], "1", "{v}");
    let acked: Vec<(i64, f64)> = (0..3)
        .map(|i| (1_700_000_000_000 + i * 1000, i as f64))
        .collect();
    check_replicas_agree(&c, &acked, &[]).unwrap();
    // Raft metrics are exported.
    let m = client()
        .get(format!("{}/metrics", c.url(1)))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(m.contains("cairn_raft_commit_seconds_count"), "{m}");
    assert!(m.contains("cairn_raft_term{group=\"0\"}"), "{m}");
    // Node 1 leads groups with followers: its AppendEntries went in batch calls, each call
    // carrying at least one request.
    let counter = |name: &str| -> u64 {
        m.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {m}"))
    };
    let calls = counter("cairn_raft_append_batches_total");
    let requests = counter("cairn_raft_append_batch_requests_total");
    assert!(
        calls > 0 && requests >= calls,
        "{calls} calls, {requests} requests"
    );
    // The CLI prints the status as tables.
    let (ok, out, err) =
        cairn_tests::cairn_cli(&["cluster", "status", "--url", &c.url(3)]).unwrap();
    assert!(ok, "{err}");
    assert!(out.starts_with("cluster: healthy"), "{out}");
    assert!(out.contains("SHARD  LEADER"), "{out}");
}

/// Longest pause of acknowledged writes allowed when one node of three dies, with the default
/// timings: an election takes about 4 s (a follower first honours the dead leader's lease),
/// a write retries for up to `write_timeout` (5 s) before the writer turns to another node.
const MAX_WRITE_GAP: Duration = Duration::from_secs(10);

/// One writer, two faults, each found through `/api/v1/cluster/status`: first the leader of
/// the shard being written, then the meta leader. Writes go on within `MAX_WRITE_GAP` of each
/// kill; each killed node restarts and catches up (the first by snapshot), and every node ends
/// with exactly what was written.
#[test]
fn kill_nine_a_shard_leader_then_the_meta_leader_while_writing() {
    let mut c = TestCluster::start(3).unwrap();
    let before = applied_indexes(&c.url(1)).unwrap();
    let urls = (1..=3).map(|id| c.url(id)).collect();
    let w = Writer::start(urls, "k9", 1_700_000_000_000);
    wait_more_acks(&w, 300).unwrap();
    // The writer's series lives on the shard whose applied index grew the most (30 entries).
    let after = applied_indexes(&c.url(1)).unwrap();
    let shard = *after
        .keys()
        .max_by_key(|s| after[*s].saturating_sub(before.get(*s).copied().unwrap_or(0)))
        .unwrap();

    // Phase 1: the shard's leader.
    let victim = shard_leader(&c.url(1), shard).unwrap();
    let killed_at = Instant::now();
    c.node(victim).kill9();
    wait_more_acks(&w, 100).unwrap();
    let recovered_in = killed_at.elapsed();
    let survivors: Vec<u64> = (1..=3).filter(|&id| id != victim).collect();
    // The survivors checkpoint and purge their logs: the victim can only catch up by snapshot.
    for &id in &survivors {
        let r = client()
            .post(format!("{}/api/v1/admin/flush", c.url(id)))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{}", r.text().unwrap_or_default());
    }
    // Restarted with the same flags, it rejoins and catches up.
    c.node(victim).start().unwrap();
    c.wait_healthy(survivors[0], 3).unwrap();
    wait_more_acks(&w, 50).unwrap();
    let gap = w.take_longest_gap();
    eprintln!(
        "kill -9 of node {victim} (leader of shard {shard}, written to): longest gap between acknowledged writes {gap:?}; {} samples acknowledged; 100 more within {recovered_in:?}",
        w.count()
    );
    assert!(
        gap < MAX_WRITE_GAP,
        "writes stopped for {gap:?} after node {victim}, leader of shard {shard}, was killed"
    );
    wait_for(
        "the restarted node to catch up by snapshot",
        Duration::from_secs(60),
        || {
            let m = client()
                .get(format!("{}/metrics", c.url(victim)))
                .send()
                .ok()?
                .text()
                .ok()?;
            let n: f64 = m
                .lines()
                .find_map(|l| l.strip_prefix("cairn_raft_snapshots_installed_total "))
                .and_then(|v| v.trim().parse().ok())?;
            (n >= 1.0).then_some(n)
        },
    )
    .unwrap();

    // Phase 2: the meta leader (perhaps elected because of phase 1).
    let meta_leader = status(&c.url(survivors[0])).unwrap()["meta_leader"]
        .as_u64()
        .expect("a meta leader");
    let killed_at = Instant::now();
    c.node(meta_leader).kill9();
    let others: Vec<u64> = (1..=3).filter(|&id| id != meta_leader).collect();
    // Writes going on, and a new meta leader among the others.
    wait_more_acks(&w, 100).unwrap();
    let recovered_in = killed_at.elapsed();
    wait_for("a new meta leader", Duration::from_secs(30), || {
        let s = status(&c.url(others[0])).ok()?;
        let leader = s["meta_leader"].as_u64()?;
        (leader != meta_leader).then_some(leader)
    })
    .unwrap();
    c.node(meta_leader).start().unwrap();
    c.wait_healthy(others[0], 3).unwrap();
    wait_more_acks(&w, 50).unwrap();
    let gap = w.take_longest_gap();
    let (acked, unacked) = w.finish();
    eprintln!(
        "kill -9 of node {meta_leader} (meta leader): longest gap between acknowledged writes {gap:?}; {} samples acknowledged; 100 more within {recovered_in:?}",
        acked.len()
    );
    assert!(
        gap < MAX_WRITE_GAP,
        "writes stopped for {gap:?} after node {meta_leader}, the meta leader, was killed"
    );
    wait_for("every node caught up", Duration::from_secs(60), || {
        check_replicas_agree(&c, &acked, &unacked).ok()
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e:#}: {:?}",
            check_replicas_agree(&c, &acked, &unacked).unwrap_err()
        )
    });
}

#[test]
fn two_of_three_down_fails_fast_then_recovers_without_loss() {
    let mut c = TestCluster::start(3).unwrap();
    let body: String = (0..20)
        .map(|i| line("two", 1_700_000_000_000 + i * 1000, i as f64))
        .collect();
    write_lines(&c.url(1), None, "ms", &body).unwrap();
    let mut acked: Vec<(i64, f64)> = (0..20)
        .map(|i| (1_700_000_000_000 + i * 1000, i as f64))
        .collect();
    c.node(2).kill9();
    c.node(3).kill9();
    let started = Instant::now();
    let resp = client()
        .post(format!("{}/write?precision=ms", c.url(1)))
        .body(line("two", 1_700_000_100_000, 1.5))
        .send()
        .unwrap();
    let took = started.elapsed();
    let code = resp.status().as_u16();
    let text = resp.text().unwrap();
    assert_eq!(code, 503, "{text}");
    assert!(text.contains("shard"), "names the shard: {text}");
    assert!(took < Duration::from_secs(15), "failed in {took:?}");
    eprintln!("with two of three nodes down a write failed in {took:?}: {text}");
    // Node 1's status says since when nodes 2 and 3 have been unreachable.
    let down_since = |s: &serde_json::Value, id: u64| {
        s["nodes"]
            .as_array()
            .and_then(|n| n.iter().find(|n| n["id"] == id))
            .and_then(|n| n["down_since_ms"].as_i64())
    };
    let s = wait_for(
        "nodes 2 and 3 reported down",
        Duration::from_secs(30),
        || {
            let s = status(&c.url(1)).ok()?;
            (down_since(&s, 2).is_some() && down_since(&s, 3).is_some()).then_some(s)
        },
    )
    .unwrap();
    let me = s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == 1)
        .unwrap();
    assert!(
        me["up_since_ms"].as_i64().is_some() && me["down_since_ms"].is_null(),
        "{me}"
    );
    // One node back: a majority again.
    c.node(2).start().unwrap();
    wait_for("writes accepted again", Duration::from_secs(60), || {
        write_lines(&c.url(1), None, "ms", &line("two", 1_700_000_200_000, 2.5)).ok()
    })
    .unwrap();
    acked.push((1_700_000_200_000, 2.5));
    c.node(3).start().unwrap();
    c.wait_healthy(1, 3).unwrap();
    // The write that got 503 was appended to the leader's log and may have committed since.
    let unacked = [(1_700_000_100_000, 1.5)];
    wait_for("replicas agree", Duration::from_secs(60), || {
        check_replicas_agree(&c, &acked, &unacked).ok()
    })
    .unwrap();
}

#[test]
fn a_partitioned_node_takes_no_writes_and_agrees_after_healing() {
    let c = TestCluster::start(3).unwrap();
    let block = |id: u64, peers: &str| {
        let r = client()
            .post(format!("{}/api/v1/debug/faults?block={peers}", c.url(id)))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    };
    block(3, "1,2");
    block(1, "3");
    block(2, "3");
    let mut acked = Vec::new();
    // The majority side keeps taking writes (once leadership settles there).
    wait_for("majority side writes", Duration::from_secs(30), || {
        write_lines(&c.url(1), None, "ms", &line("part", 1_700_000_000_000, 1.0)).ok()
    })
    .unwrap();
    acked.push((1_700_000_000_000, 1.0));
    // The minority side takes none.
    let r = client()
        .post(format!("{}/write?precision=ms", c.url(3)))
        .body(line("part", 1_700_000_001_000, 2.0))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 503, "{}", r.text().unwrap_or_default());
    for id in 1..=3 {
        let r = client()
            .post(format!("{}/api/v1/debug/faults?unblock=all", c.url(id)))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    c.wait_healthy(3, 3).unwrap();
    wait_for(
        "replicas agree after healing",
        Duration::from_secs(60),
        || check_replicas_agree(&c, &acked, &[(1_700_000_001_000, 2.0)]).ok(),
    )
    .unwrap();
    let got = export(&c.url(3), None, r#"load_v{host="part"}"#).unwrap();
    let ts: BTreeMap<i64, u64> = got.iter().flat_map(|e| e.samples.iter().copied()).collect();
    assert!(ts.contains_key(&1_700_000_000_000));
}

/// A fourth node holds no replica (every shard already has three): it still takes writes
/// (forwarded to the leaders) and answers every read through the other nodes' replicas.
#[test]
fn a_node_without_replicas_serves_writes_and_reads_through_the_others() {
    // Without rebalancing, the fourth node gets no replica and reads everything remotely.
    let mut c = TestCluster::start_with_config(3, "[rebalance]\nenabled = false\n").unwrap();
    let four = c.add_member().unwrap();
    c.wait_healthy(1, 4).unwrap();
    let s = c.wait_healthy(four, 4).unwrap();
    for shard in s["shards"].as_array().unwrap() {
        assert_eq!(
            shard["local"], false,
            "node {four} holds a replica: {shard}"
        );
    }
    let mut acked = Vec::new();
    for i in 0..20i64 {
        let t = 1_700_000_000_000 + i * 1000;
        let body = format!("{}{}", line("n4", t, i as f64), line("other", t, -1.0));
        write_lines(&c.url(four), None, "ms", &body).unwrap();
        acked.extend([(t, i as f64), (t, -1.0)]);
    }
    // Every node, node 4 included, exports the same series and samples.
    check_replicas_agree(&c, &acked, &[]).unwrap();
    // Metadata and PromQL answers on node 4 are node 1's.
    let asks: [(&str, Vec<(&str, &str)>); 5] = [
        ("/api/v1/series", vec![("match[]", "load_v")]),
        ("/api/v1/labels", vec![]),
        ("/api/v1/label/host/values", vec![("match[]", "load_v")]),
        (
            "/api/v1/query",
            vec![("query", "sum by (host) (load_v)"), ("time", "1700000019")],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "max_over_time(load_v[5s])"),
                ("start", "1700000000"),
                ("end", "1700000019"),
                ("step", "3"),
            ],
        ),
    ];
    for (path, params) in asks {
        let (code4, v4) = cairn_tests::prom_api(&c.url(four), None, false, path, &params).unwrap();
        let (code1, v1) = cairn_tests::prom_api(&c.url(1), None, false, path, &params).unwrap();
        assert_eq!((code4, code1), (200, 200), "{path}: {v4} / {v1}");
        assert_eq!(v4["data"], v1["data"], "{path}");
    }
    let (_, v) =
        cairn_tests::prom_api(&c.url(four), None, false, "/api/v1/label/host/values", &[]).unwrap();
    assert_eq!(v["data"], serde_json::json!(["n4", "other"]), "{v}");
    let (_, v) = cairn_tests::prom_api(
        &c.url(four),
        None,
        false,
        "/api/v1/query",
        &[("query", "load_v{host=\"n4\"}"), ("time", "1700000019")],
    )
    .unwrap();
    assert_eq!(v["data"]["result"][0]["value"][1], "19", "{v}");
}

/// `cairn cluster local` as a user runs it, and the node processes it started.
struct LocalCluster {
    process: Child,
    stdout: std::sync::mpsc::Receiver<String>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl LocalCluster {
    /// The node processes: the command's children, from /proc.
    fn nodes(&self) -> Vec<i32> {
        children_of(self.process.id() as i32)
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }
}

impl Drop for LocalCluster {
    /// On a failing test, no process is left behind: the nodes first (they would outlive a
    /// killed parent), then the command.
    fn drop(&mut self) {
        for pid in self.nodes() {
            // SAFETY: kill(2) on a process this test started (through the command).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Pids of the live children of `parent` (Linux: the 4th field of /proc/<pid>/stat).
fn children_of(parent: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
                let mut after = stat
                    .rsplit_once(')')
                    .map_or("", |(_, a)| a)
                    .split_whitespace();
                let (state, ppid) = (after.next(), after.next());
                state != Some("Z") && ppid == Some(parent.to_string().as_str())
            })
        })
        .collect()
}

/// A base port for `cairn cluster local --nodes 3`: node i listens on base + 10·(i−1) (HTTP)
/// and one above (gRPC), so all six must be free.
fn free_base_port() -> u16 {
    let ports = |base: u16| [0, 1, 10, 11, 20, 21].map(|off| base + off);
    let free = |port: u16| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
    (0..100)
        .map(|_| free_port())
        .find(|&base| base < 65_000 && ports(base).into_iter().all(free))
        .expect("six free ports for cluster local")
}

/// `cairn cluster local --nodes 3` (the real command, with its own data dir and free ports)
/// comes up healthy, serves a write through one node and the read through another, and
/// Ctrl-C stops it and every node cleanly.
#[test]
fn cluster_local_runs_three_nodes_until_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("local");
    let base = free_base_port();
    let mut cmd = Command::new(cairn_bin());
    cmd.args(["cluster", "local", "--nodes", "3", "--shards", SHARDS])
        .arg("--data-dir")
        .arg(&data)
        .args(["--base-port", &base.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    without_cairn_env(&mut cmd);
    let mut process = cmd.spawn().unwrap();
    let (tx, stdout) = std::sync::mpsc::channel();
    let out = process.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let (err, lines) = (process.stderr.take().unwrap(), stderr.clone());
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            lines.lock().unwrap().push(line);
        }
    });
    let mut local = LocalCluster {
        process,
        stdout,
        stderr,
    };

    // It prints the nodes' addresses once the cluster is healthy.
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut urls = BTreeMap::new();
    while urls.len() < 3 {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = local.stdout.recv_timeout(left).unwrap_or_else(|_| {
            panic!(
                "no healthy cluster within 180 s; printed {urls:?}; stderr:\n{}",
                local.stderr()
            )
        });
        if let Some((id, url)) = line
            .trim()
            .strip_prefix("node ")
            .and_then(|l| l.split_once(": "))
        {
            urls.insert(id.parse::<u64>().unwrap(), url.to_string());
        }
    }
    assert_eq!(urls[&1], format!("http://127.0.0.1:{base}"));
    assert_eq!(urls[&3], format!("http://127.0.0.1:{}", base + 20));
    let nodes = local.nodes();
    assert_eq!(nodes.len(), 3, "node processes: {nodes:?}");
    let s = status(&urls[&2]).unwrap();
    assert_eq!(s["healthy"], true, "{s}");
    assert_eq!(s["shard_count"], 4, "{s}");

    // Written through node 1, read through node 3.
    // Now, as a user writes: `cluster local` keeps the default retention (7 days).
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    write_lines(&urls[&1], None, "ms", &line("local", t, 42.5)).unwrap();
    let got = export(&urls[&3], None, r#"load_v{host="local"}"#).unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].samples, vec![(t, 42.5f64.to_bits())]);

    // Ctrl-C: the command stops every node (SIGTERM: each checkpoints) and exits.
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(local.process.id() as i32, libc::SIGINT) };
    let status = wait_for("cluster local to exit", Duration::from_secs(90), || {
        local.process.try_wait().unwrap()
    })
    .unwrap();
    assert!(status.success(), "{status}; stderr:\n{}", local.stderr());
    for pid in &nodes {
        wait_for("no node process left", Duration::from_secs(10), || {
            (!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(())
        })
        .unwrap();
    }
    for off in [0, 1, 10, 11, 20, 21] {
        let port = base + off;
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is still taken"
        );
    }
    // Each node shut down by itself (a node still running after 30 s would have been killed).
    for id in 1..=3 {
        let log = std::fs::read_to_string(data.join(format!("node{id}.log"))).unwrap();
        assert!(
            log.contains("shutdown complete"),
            "node {id} did not shut down cleanly:\n{log}"
        );
        assert!(
            local.stderr().contains(&format!("node {id} stopped")),
            "{}",
            local.stderr()
        );
    }
}

/// Nodes that advertise DNS names (`--advertise-grpc-addr`, `--advertise-http-addr`) rather
/// than the addresses they bind, as pods of the Kubernetes StatefulSet do: the others join,
/// replicate and forward through the names.
#[test]
fn members_reach_each_other_by_advertised_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = Vec::new();
    let mut seed = String::new();
    for id in 1..=3u64 {
        let (http, grpc) = (free_port(), free_port());
        let name = |port: u16| format!("localhost:{port}");
        let mut args: Vec<String> = [
            "--node-id".to_string(),
            id.to_string(),
            "--http-addr".into(),
            format!("127.0.0.1:{http}"),
            "--grpc-addr".into(),
            format!("127.0.0.1:{grpc}"),
            "--advertise-http-addr".into(),
            name(http),
            "--advertise-grpc-addr".into(),
            name(grpc),
            "--shards".into(),
            SHARDS.into(),
        ]
        .to_vec();
        if id == 1 {
            seed = name(grpc);
        } else {
            args.extend(["--join".to_string(), seed.clone()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        nodes.push(
            cairn_tests::CairnProcess::start_args(&dir.path().join(format!("n{id}")), &args, &[])
                .unwrap(),
        );
    }
    let s = wait_for("a healthy cluster", Duration::from_secs(90), || {
        let s = status(&nodes[0].url).ok()?;
        (s["healthy"] == true && s["nodes"].as_array()?.len() == 3).then_some(s)
    })
    .unwrap();
    for n in s["nodes"].as_array().unwrap() {
        assert!(
            n["grpc_addr"].as_str().unwrap().starts_with("localhost:")
                && n["http_addr"].as_str().unwrap().starts_with("localhost:"),
            "{n}"
        );
    }
    write_lines(
        &nodes[2].url,
        None,
        "ms",
        &line("named", 1_700_000_000_000, 7.0),
    )
    .unwrap();
    let got = export(&nodes[1].url, None, r#"load_v{host="named"}"#).unwrap();
    assert_eq!(got[0].samples, vec![(1_700_000_000_000, 7f64.to_bits())]);
}
