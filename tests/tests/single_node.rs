//! One real `cairn server` process per test, driven over HTTP as a user would: writes in line
//! protocol and remote_write, reads back without PromQL, crashes and restarts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_tests::*;
use serde_json::Value;

/// A reader over chunks, so reqwest sends the body chunked (no Content-Length).
struct ChunkReader {
    chunks: std::collections::VecDeque<Vec<u8>>,
}

impl ChunkReader {
    fn new(chunks: Vec<Result<Vec<u8>, std::io::Error>>) -> Self {
        ChunkReader {
            chunks: chunks.into_iter().filter_map(Result::ok).collect(),
        }
    }
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(front) = self.chunks.front_mut() else {
            return Ok(0);
        };
        let n = buf.len().min(front.len());
        buf[..n].copy_from_slice(&front[..n]);
        front.drain(..n);
        if front.is_empty() {
            self.chunks.pop_front();
        }
        Ok(n)
    }
}

fn post(url: &str, path: &str, body: Vec<u8>) -> reqwest::blocking::RequestBuilder {
    client().post(format!("{url}{path}")).body(body)
}

fn json(resp: reqwest::blocking::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// GET `path` with query parameters, as (status, JSON body).
fn get_json(url: &str, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
    json(
        client()
            .get(format!("{url}{path}"))
            .query(query)
            .send()
            .unwrap(),
    )
}

fn metrics_text(url: &str) -> String {
    client()
        .get(format!("{url}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap()
}

fn metric<'a>(pairs: &[(&'a str, &'a str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn line_protocol_is_mapped_stored_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let node = CairnProcess::start(dir.path(), &[]).unwrap();
    let url = node.url.clone();
    let body = "\
# a comment, then a blank line

cpu,host=a,region=eu usage_user=1.5,usage_idle=98i 1700000000000
cpu,host=a,region=eu usage_user=2.5,usage_idle=97i 1700000010000
weather,city=Z\\ ürich,note=a\\,b\\=c value=21.5,ok=true 1700000000000
";
    let r = post(&url, "/write?db=telegraf&precision=ms", body.into())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204, "{}", r.text().unwrap_or_default());

    let s = export(&url, None, r#"{__name__=~"cpu_.*"}"#).unwrap();
    assert_eq!(s.len(), 2);
    let user = s
        .iter()
        .find(|e| e.metric["__name__"] == "cpu_usage_user")
        .unwrap();
    assert_eq!(
        user.metric,
        metric(&[
            ("__name__", "cpu_usage_user"),
            ("host", "a"),
            ("region", "eu"),
            ("db", "telegraf")
        ])
    );
    assert_eq!(
        user.samples,
        [
            (1_700_000_000_000, 1.5f64.to_bits()),
            (1_700_000_010_000, 2.5f64.to_bits())
        ]
    );
    // The field `value` gives the bare measurement; escapes and UTF-8 arrive verbatim.
    let w = export(&url, None, "weather").unwrap();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].metric["city"], "Z ürich");
    assert_eq!(w[0].metric["note"], "a,b=c");
    assert_eq!(w[0].samples, [(1_700_000_000_000, 21.5f64.to_bits())]);
    let ok = export(&url, None, "weather_ok").unwrap();
    assert_eq!(ok[0].samples[0].1, 1.0f64.to_bits());

    // Metadata endpoints, GET and POST form.
    let (code, v) = get_json(&url, "/api/v1/series", &[("match[]", "cpu_usage_idle")]);
    assert_eq!(code, 200);
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"][0]["__name__"], "cpu_usage_idle");
    let (_, v) = json(
        client()
            .post(format!("{url}/api/v1/labels"))
            .form(&[("match[]", "weather")])
            .send()
            .unwrap(),
    );
    assert_eq!(
        v["data"],
        serde_json::json!(["__name__", "city", "db", "note"])
    );
    let (_, v) = get_json(&url, "/api/v1/label/__name__/values", &[]);
    assert_eq!(
        v["data"],
        serde_json::json!(["cpu_usage_idle", "cpu_usage_user", "weather", "weather_ok"])
    );
    // start/end are honoured: nothing was written in 2001.
    let (_, v) = get_json(
        &url,
        "/api/v1/series",
        &[
            ("match[]", "weather"),
            ("start", "2001-01-01T00:00:00Z"),
            ("end", "1000000000"),
        ],
    );
    assert_eq!(v["data"], serde_json::json!([]));
    // Bad selectors and times are Prometheus-style 400s.
    let (code, v) = get_json(&url, "/api/v1/series", &[("match[]", "cpu{")]);
    assert_eq!(code, 400);
    assert_eq!(v["errorType"], "bad_data");
    let (code, v) = get_json(&url, "/api/v1/labels", &[("start", "yesterday")]);
    assert_eq!(code, 400);
    assert!(v["error"].as_str().unwrap().contains("start"), "{v}");
    let (code, _) = get_json(&url, "/api/v1/series", &[]);
    assert_eq!(code, 400, "match[] is required");
}

#[test]
fn v2_gzip_precision_and_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let node = CairnProcess::start(dir.path(), &[]).unwrap();
    let url = node.url.clone();
    let r = post(
        &url,
        "/api/v2/write?org=o&bucket=b1&precision=s",
        gzip(b"m,h=x f=1 1700000000\n"),
    )
    .header("Content-Encoding", "gzip")
    .header("X-Scope-OrgID", "tenant-a")
    .send()
    .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = post(
        &url,
        "/api/v2/write?bucket=b2&precision=us",
        b"m,h=y f=2 1700000000000001\n".to_vec(),
    )
    .header("X-Scope-OrgID", "tenant-b")
    .send()
    .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let a = export(&url, Some("tenant-a"), "m_f").unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(
        a[0].metric,
        metric(&[("__name__", "m_f"), ("db", "b1"), ("h", "x")])
    );
    assert_eq!(a[0].samples, [(1_700_000_000_000, 1.0f64.to_bits())]);
    let b = export(&url, Some("tenant-b"), "m_f").unwrap();
    assert_eq!(b.len(), 1, "tenant b sees only its own series");
    assert_eq!(
        b[0].samples[0].0, 1_700_000_000_000,
        "microseconds floor to milliseconds"
    );
    assert!(
        export(&url, None, "m_f").unwrap().is_empty(),
        "the default tenant sees neither"
    );
    let (code, v) = json(
        post(&url, "/write", b"m f=1\n".to_vec())
            .header("X-Scope-OrgID", "bad tenant!")
            .send()
            .unwrap(),
    );
    assert_eq!(code, 400);
    assert!(
        v["message"].as_str().unwrap().contains("X-Scope-OrgID"),
        "{v}"
    );
    let (code, v) = json(
        post(&url, "/write?precision=fortnight", b"m f=1\n".to_vec())
            .send()
            .unwrap(),
    );
    assert_eq!(code, 400);
    assert!(v["message"].as_str().unwrap().contains("precision"), "{v}");
}

#[test]
fn bad_lines_are_named_and_good_lines_kept() {
    let dir = tempfile::tempdir().unwrap();
    let node = CairnProcess::start(dir.path(), &[]).unwrap();
    let url = node.url.clone();
    let body = "good,h=1 v=1 1700000000000000000\nbroken,h=2 1700000000000000000\ngood,h=3 v=3 1700000000000000000\ntext,h=4 msg=\"hi\",n=4 1700000000000000000\n";
    let (code, v) = json(post(&url, "/write", body.into()).send().unwrap());
    assert_eq!(code, 400, "{v}");
    assert_eq!(v["code"], "invalid");
    assert_eq!(v["line"], 2, "{v}");
    assert_eq!(
        v["written"], 3,
        "two good lines and the numeric field of line 4: {v}"
    );
    assert_eq!(v["rejected"], 2, "the bad line and the string field: {v}");
    assert!(v["message"].as_str().unwrap().contains("line 2"), "{v}");
    assert_eq!(export(&url, None, "good_v").unwrap().len(), 2);
    assert_eq!(export(&url, None, "text_n").unwrap().len(), 1);
    assert!(export(&url, None, "text_msg").unwrap().is_empty());

    // Over 16 MiB: 413 straight from the Content-Length, before the body is read, and
    // nothing of it is written. (Raw socket: an HTTP client would still be sending the body
    // when the server answers and closes.)
    {
        use std::io::{Read, Write};
        let addr = url.trim_start_matches("http://");
        let mut sock = std::net::TcpStream::connect(addr).unwrap();
        write!(
            sock,
            "POST /write HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\nhuge,h=1 v=1 1700000000000000000\n",
            (16 << 20) + 10
        )
        .unwrap();
        let mut resp = String::new();
        let _ = sock.read_to_string(&mut resp);
        assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
        assert!(resp.contains("exceeds the limit"), "{resp}");
    }
    // Without a Content-Length (chunked), the limit applies while reading.
    let mut big = Vec::with_capacity(17 << 20);
    while big.len() < (16 << 20) + 10 {
        big.extend_from_slice(b"huge,h=1 v=1 1700000000000000000\n");
    }
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(1 << 20).map(|c| Ok(c.to_vec())).collect();
    let r = client()
        .post(format!("{url}/write"))
        .body(reqwest::blocking::Body::new(ChunkReader::new(chunks)))
        .send();
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 413);
    }
    assert!(export(&url, None, "huge_v").unwrap().is_empty());
    // A body that is not gzip but says so is a clear 400.
    let (code, v) = json(
        post(&url, "/write", b"m v=1\n".to_vec())
            .header("Content-Encoding", "gzip")
            .send()
            .unwrap(),
    );
    assert_eq!(code, 400);
    assert!(v["message"].as_str().unwrap().contains("decompress"), "{v}");
}

/// Writers keep writing random values; each acknowledged batch is remembered. The process is
/// killed with SIGKILL (or stopped with SIGTERM) mid-stream, restarted, and every
/// acknowledged sample must come back bit for bit.
fn no_acknowledged_write_is_lost(stop: fn(CairnProcess)) {
    let dir = tempfile::tempdir().unwrap();
    let node = CairnProcess::start(dir.path(), &[]).unwrap();
    let url = node.url.clone();
    let extra = node.extra_args();
    let acked: Arc<Mutex<Vec<(String, i64, u64)>>> = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let mut writers = Vec::new();
    for w in 0..4u64 {
        let (url, acked, running) = (url.clone(), acked.clone(), running.clone());
        writers.push(std::thread::spawn(move || {
            let c = client();
            let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ (w + 1);
            let mut t = 1_700_000_000_000i64;
            while running.load(Ordering::Relaxed) {
                let mut body = String::new();
                let mut batch = Vec::new();
                for i in 0..50 {
                    // xorshift: full-precision values, no two alike.
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let v = f64::from_bits(seed >> 2) * 1e-300;
                    let v = if v.is_finite() { v } else { 1.0 };
                    let host = format!("w{w}h{}", i % 5);
                    body.push_str(&format!("crash,host={host} v={v:?} {t}\n"));
                    batch.push((host, t, v.to_bits()));
                    t += 1;
                }
                let resp = c
                    .post(format!("{url}/write?precision=ms"))
                    .body(body)
                    .send();
                match resp {
                    Ok(r) if r.status().as_u16() == 204 => acked.lock().unwrap().extend(batch),
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => break, // the server went away mid-request: not acknowledged
                }
            }
        }));
    }
    wait_for("some acknowledged writes", Duration::from_secs(60), || {
        (acked.lock().unwrap().len() >= 20_000).then_some(())
    })
    .unwrap();
    stop(node);
    running.store(false, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let node = CairnProcess::restart_same(dir.path(), &extra).unwrap();
    let got = export(&node.url, None, "crash_v").unwrap();
    let mut stored: std::collections::HashMap<(String, i64), u64> = Default::default();
    for s in got {
        for (t, bits) in s.samples {
            stored.insert((s.metric["host"].clone(), t), bits);
        }
    }
    let mut missing = 0;
    for (host, t, bits) in &acked {
        match stored.get(&(host.clone(), *t)) {
            Some(b) if b == bits => {}
            Some(b) => panic!("{host}@{t}: stored bits {b:x} differ from acknowledged {bits:x}"),
            None => missing += 1,
        }
    }
    assert_eq!(
        missing,
        0,
        "{missing} of {} acknowledged samples lost",
        acked.len()
    );
    eprintln!(
        "{} acknowledged samples all present after restart",
        acked.len()
    );
}

#[test]
fn kill_9_loses_no_acknowledged_write() {
    no_acknowledged_write_is_lost(|node| node.kill9());
}

#[test]
fn sigterm_finishes_in_flight_writes_and_exits_cleanly() {
    no_acknowledged_write_is_lost(|node| {
        let status = node.terminate().unwrap();
        assert!(status.success(), "cairn exited with {status} after SIGTERM");
    });
}

#[test]
fn admin_flush_snapshot_metrics_and_health() {
    let dir = tempfile::tempdir().unwrap();
    let node = CairnProcess::start(dir.path(), &[]).unwrap();
    let url = node.url.clone();
    let mut body = String::new();
    for i in 0..500 {
        body.push_str(&format!(
            "disk,host=h{} used={}.25 {}\n",
            i % 10,
            i,
            1_700_000_000_000i64 + i * 10_000
        ));
    }
    let r = post(&url, "/write?precision=ms", body.into())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (code, v) = json(post(&url, "/api/v1/admin/flush", vec![]).send().unwrap());
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["samples"], 500, "{v}");
    assert!(
        v["data"]["sst_bytes"].as_u64().unwrap() > 0,
        "flushed data is in SST files: {v}"
    );
    let (code, v) = json(post(&url, "/api/v1/admin/snapshot", vec![]).send().unwrap());
    assert_eq!(code, 200, "{v}");
    let path = v["data"]["path"].as_str().unwrap().to_string();
    assert!(
        std::path::Path::new(&path).join("CURRENT").exists(),
        "{path} is a RocksDB checkpoint"
    );

    let text = metrics_text(&url);
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name) && !l.starts_with('#'))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
    };
    assert_eq!(value("cairn_samples_ingested_total"), 500.0);
    assert_eq!(value("cairn_series_created_total"), 10.0);
    assert!(value("cairn_chunk_bytes_written_total") > 0.0);
    assert!(value("process_resident_memory_bytes") > 0.0);
    assert!(
        text.contains("cairn_http_requests_total{handler=\"/write\",code=\"204\"} 1"),
        "{text}"
    );
    assert!(text.contains("cairn_http_request_duration_seconds_bucket{handler=\"/write\""));
    assert!(text.contains("cairn_samples_rejected_total{reason=\"too_old\"} 0"));
    assert_eq!(
        client()
            .get(format!("{url}/health"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        client()
            .get(format!("{url}/ready"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    // Samples survive a restart after a flush (read from chunks, not the log).
    let extra = node.extra_args();
    node.terminate().unwrap();
    let node = CairnProcess::restart_same(dir.path(), &extra).unwrap();
    let got = export(&node.url, None, "disk_used").unwrap();
    assert_eq!(got.iter().map(|s| s.samples.len()).sum::<usize>(), 500);
}

#[test]
fn too_old_samples_are_rejected_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let node = CairnProcess::start(dir.path(), &[]).unwrap();
    let url = node.url.clone();
    let now = 1_700_000_000_000i64;
    let r = post(
        &url,
        "/write?precision=ms",
        format!("ooo v=1 {now}\n").into(),
    )
    .send()
    .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let body = format!("ooo v=2 {}\nooo v=3 {}\n", now - 60_000, now - 7_200_000);
    let (code, v) = json(
        post(&url, "/write?precision=ms", body.into())
            .send()
            .unwrap(),
    );
    assert_eq!(code, 400, "{v}");
    assert_eq!(v["written"], 1);
    assert_eq!(v["rejected"], 1);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("out-of-order window"),
        "{v}"
    );
    let got = export(&url, None, "ooo_v").unwrap();
    assert_eq!(
        got[0].samples.iter().map(|s| s.0).collect::<Vec<_>>(),
        [now - 60_000, now]
    );
    let text = metrics_text(&url);
    assert!(
        text.contains("cairn_samples_rejected_total{reason=\"too_old\"} 1"),
        "{text}"
    );
}

#[test]
fn server_help_documents_every_flag() {
    let out = std::process::Command::new(cairn_bin())
        .args(["server", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--data-dir",
        "--http-addr",
        "--grpc-addr",
        "--config",
        "--retention",
        "--node-id",
        "--shards",
    ] {
        assert!(
            text.contains(flag),
            "{flag} missing from `cairn server --help`:\n{text}"
        );
    }
    // A bad flag value is a clear error, not a panic.
    let out = std::process::Command::new(cairn_bin())
        .args([
            "server",
            "--retention",
            "soon",
            "--data-dir",
            "/nonexistent/never",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--retention"));
}

/// What one level of configuration (file, environment or flags) would set: a data dir, an
/// HTTP port and a retention, each different from every other level's.
struct Level {
    data_dir: std::path::PathBuf,
    port: u16,
    retention: &'static str,
}

/// The node's effective data dir, HTTP port and retention: where its RocksDB is, where it
/// listens, what `runtimeinfo` reports.
fn effective(node: &CairnProcess, levels: &[&Level]) -> (std::path::PathBuf, u16, String) {
    let with_db: Vec<_> = levels
        .iter()
        .filter(|l| l.data_dir.join("db/CURRENT").exists())
        .map(|l| l.data_dir.clone())
        .collect();
    assert_eq!(
        with_db.len(),
        1,
        "exactly one data dir is used: {with_db:?}"
    );
    let port = node
        .url
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap();
    let (code, v) = get_json(&node.url, "/api/v1/status/runtimeinfo", &[]);
    assert_eq!(code, 200, "{v}");
    let retention = v["data"]["storageRetention"].as_str().unwrap().to_string();
    (with_db[0].clone(), port, retention)
}

/// Flags beat `CAIRN_*` variables, which beat the TOML file, which beats the defaults: for
/// the data dir, the HTTP address and the retention, each set at every level in turn, with
/// the real binary (clap reads the variables; `NodeConfig::load` puts them over the file).
#[test]
fn flags_beat_environment_which_beats_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for run in 0..3 {
        let root = dir.path().join(format!("run{run}"));
        let level = |name: &str, retention| Level {
            data_dir: root.join(name),
            port: free_port(),
            retention,
        };
        let (file, env, flag) = (
            level("from-file", "3d"),
            level("from-env", "12h"),
            level("from-flag", "45m"),
        );
        std::fs::create_dir_all(&root).unwrap();
        let config = root.join("cairn.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = {:?}\nhttp_addr = \"127.0.0.1:{}\"\ngrpc_addr = \"127.0.0.1:0\"\n\
                 [storage]\nretention = {:?}\n",
                file.data_dir, file.port, file.retention
            ),
        )
        .unwrap();
        let mut cmd = std::process::Command::new(cairn_bin());
        without_cairn_env(&mut cmd);
        cmd.arg("server").arg("--config").arg(&config);
        // Key k is set in the file, the environment and a flag; key k+1 in the file and the
        // environment; key k+2 in the file only. Each run shifts k, so every key is set at
        // every level once.
        let key = |i: usize| (run + i) % 3;
        for (i, by_flag) in [(0, true), (1, false)] {
            let (name, flag_name, value_env, value_flag) = match key(i) {
                0 => (
                    "CAIRN_DATA_DIR",
                    "--data-dir",
                    env.data_dir.display().to_string(),
                    flag.data_dir.display().to_string(),
                ),
                1 => (
                    "CAIRN_HTTP_ADDR",
                    "--http-addr",
                    format!("127.0.0.1:{}", env.port),
                    format!("127.0.0.1:{}", flag.port),
                ),
                _ => (
                    "CAIRN_RETENTION",
                    "--retention",
                    env.retention.to_string(),
                    flag.retention.to_string(),
                ),
            };
            cmd.env(name, value_env);
            if by_flag {
                cmd.arg(flag_name).arg(value_flag);
            }
        }
        let winner = |k: usize| match (0..3).find(|&i| key(i) == k).unwrap() {
            0 => &flag,
            1 => &env,
            _ => &file,
        };
        let node = CairnProcess::start_command(cmd, &root).unwrap();
        let got = effective(&node, &[&file, &env, &flag]);
        assert_eq!(
            got,
            (
                winner(0).data_dir.clone(),
                winner(1).port,
                winner(2).retention.to_string()
            ),
            "run {run}: (data dir, HTTP port, retention)"
        );
        node.terminate().unwrap();
    }
}

/// `make run` starts `cairn server` with no flags: in a fresh working directory, with no
/// `CAIRN_*` variable, it listens on 127.0.0.1:7480 (gRPC 7481) and keeps its data in
/// `./cairn-data`. If something else holds those ports on this machine, the node must fail
/// naming the default address it tried.
#[test]
fn with_no_flags_the_server_uses_the_documented_defaults() {
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(cairn_bin());
    without_cairn_env(&mut cmd);
    cmd.arg("server").current_dir(cwd.path());
    let data_dir = cwd.path().join("cairn-data");
    match CairnProcess::start_command(cmd, &data_dir) {
        Ok(node) => {
            assert_eq!(node.url, "http://127.0.0.1:7480");
            assert!(
                node.log_text()
                    .contains("cairn gRPC listening on 127.0.0.1:7481"),
                "{}",
                node.log_text()
            );
            assert!(data_dir.join("db/CURRENT").exists(), "no ./cairn-data/db");
            let (code, v) = get_json(&node.url, "/api/v1/status/runtimeinfo", &[]);
            assert_eq!(code, 200, "{v}");
            assert_eq!(v["data"]["storageRetention"], "7d", "{v}");
            let (_, v) = get_json(&node.url, "/api/v1/cluster/status", &[]);
            assert_eq!(v["data"]["shard_count"], 16, "{v}");
            node.terminate().unwrap();
        }
        Err(e) => {
            // Only a port taken by someone else may stop it, and the error names the default.
            let e = format!("{e:#}");
            assert!(
                e.contains("binding the HTTP address 127.0.0.1:7480")
                    || e.contains("binding the gRPC address 127.0.0.1:7481"),
                "{e}"
            );
            // Storage opens before the ports are bound.
            assert!(data_dir.join("db/CURRENT").exists(), "no ./cairn-data/db");
            eprintln!("ports 7480/7481 are taken here: checked the defaults through the error");
        }
    }
}
