//! Test support for Cairn's integration tests: real `cairn` processes on loopback ports, real
//! data dirs, and helpers to write and read over HTTP. Waits are on conditions with deadlines,
//! never fixed sleeps.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub mod alertmanager;
pub mod capture_server;
pub mod rules;
pub mod smtp_sink;
pub mod test_cert;
pub mod test_cluster;
pub mod writer;
pub use capture_server::{CaptureServer, CapturedRequest, Reply};
pub use smtp_sink::{ReceivedMail, SmtpSink, SmtpSinkOptions};
pub use test_cert::TestCa;
pub use test_cluster::{Member, TestCluster};

/// The workspace root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The conformance suites the project keeps (`tests/conformance/`: Prometheus' PromQL scripts
/// and rule tests, InfluxData's line-protocol corpus; unchanged copies, see its README).
pub fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

/// Path to the `cairn` binary of this build, building it if needed.
pub fn cairn_bin() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut guard = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = guard.as_ref() {
        return p.clone();
    }
    // target/<profile>/deps/<test-binary> → target/<profile>/cairn
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("test binary lives in target/<profile>/deps");
    let bin = profile_dir.join("cairn");
    let status = Command::new(env!("CARGO"))
        // With test faults: the partition tests block peers through `/api/v1/debug/faults`.
        .args([
            "build",
            "-p",
            "cairn-node",
            "--bin",
            "cairn",
            "--features",
            "test-faults",
        ])
        .current_dir(workspace_root())
        .status()
        .expect("running cargo build");
    assert!(status.success(), "building the cairn binary failed");
    assert!(bin.exists(), "cairn binary not found at {}", bin.display());
    *guard = Some(bin.clone());
    bin
}

/// Removes every `CAIRN_*` variable of this process' environment from `cmd`'s, so that a test
/// of defaults or precedence sees only what it sets.
pub fn without_cairn_env(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CAIRN_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// A running `cairn server` process.
pub struct CairnProcess {
    child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    pub log: Arc<Mutex<Vec<String>>>,
    extra: Vec<String>,
}

impl CairnProcess {
    /// Starts a server on a free loopback port with `data_dir`, waiting until it listens.
    pub fn start(data_dir: &Path, extra: &[&str]) -> anyhow::Result<CairnProcess> {
        let mut args = vec!["--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        CairnProcess::start_args(data_dir, &args, &[])
    }

    /// Starts a server with exactly `args` after `--data-dir` (addresses included) and the
    /// extra environment `env`, waiting until it listens.
    pub fn start_args(
        data_dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<CairnProcess> {
        let mut cmd = Command::new(cairn_bin());
        cmd.arg("server")
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            // Test data is written at fixed timestamps long past (t = 1000 ms and the like),
            // which a default raw retention of 7 days refuses: nodes of tests keep data forever
            // unless a test sets `--retention` (flags win over this) or `[retention]` itself.
            .env("CAIRN_RETENTION", "0s")
            .envs(env.iter().copied())
            .env_remove("CAIRN_CONFIG")
            // CAIRN_TEST_NODE_LOG (e.g. "info,openraft=debug") makes the nodes log more.
            .env(
                "CAIRN_LOG",
                std::env::var("CAIRN_TEST_NODE_LOG").unwrap_or_else(|_| "info".into()),
            );
        let mut p = CairnProcess::start_command(cmd, data_dir)?;
        p.extra = args.iter().map(|s| s.to_string()).collect();
        Ok(p)
    }

    /// Starts `cmd`, a `cairn server` command whose data goes to `data_dir`, exactly as given
    /// (arguments, environment, working directory), waiting until it listens. Fails with the
    /// process' log if it exits first.
    pub fn start_command(mut cmd: Command, data_dir: &Path) -> anyhow::Result<CairnProcess> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().context("spawning cairn server")?;
        let stderr = child.stderr.take().context("stderr pipe")?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && let Some(i) = line.find("listening on http://") {
                    let url = line[i + "listening on ".len()..].trim().to_string();
                    let _ = tx.send(url);
                    sent = true;
                }
                log2.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(u) => u,
            Err(e) => {
                let _ = child.kill();
                let status = child.wait();
                let lines = log.lock().unwrap_or_else(|p| p.into_inner()).join("\n");
                match e {
                    RecvTimeoutError::Disconnected => {
                        bail!("cairn exited ({status:?}) before listening; log:\n{lines}")
                    }
                    RecvTimeoutError::Timeout => {
                        bail!("cairn did not start listening within 120 s; log:\n{lines}")
                    }
                }
            }
        };
        Ok(CairnProcess {
            child,
            url,
            data_dir: data_dir.to_path_buf(),
            log,
            extra: Vec::new(),
        })
    }

    /// Starts a server whose config file holds `toml`, with data in `dir/data` and the
    /// file at `dir/cairn.toml`.
    pub fn start_with_config(
        dir: &Path,
        toml: &str,
        extra: &[&str],
    ) -> anyhow::Result<CairnProcess> {
        let file = dir.join("cairn.toml");
        std::fs::write(&file, toml).with_context(|| format!("writing {}", file.display()))?;
        let file = file.to_string_lossy().into_owned();
        let mut args = vec!["--config", file.as_str()];
        args.extend_from_slice(extra);
        CairnProcess::start(&dir.join("data"), &args)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait (up to 60 s) for a clean exit; returns the exit status.
    pub fn terminate(mut self) -> anyhow::Result<std::process::ExitStatus> {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("cairn did not exit within 60 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts a new process on the same data dir and flags (addresses included).
    pub fn restart_same(data_dir: &Path, extra: &[String]) -> anyhow::Result<CairnProcess> {
        let args: Vec<&str> = extra.iter().map(String::as_str).collect();
        CairnProcess::start_args(data_dir, &args, &[])
    }

    pub fn extra_args(&self) -> Vec<String> {
        self.extra.clone()
    }

    pub fn log_text(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }
}

impl Drop for CairnProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking HTTP client with sane timeouts.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

/// Waits until `f` returns Some, or fails after `timeout` naming `what`.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One exported series: labels, and samples as (timestamp, value bits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub metric: std::collections::BTreeMap<String, String>,
    pub samples: Vec<(i64, u64)>,
}

/// Reads `/api/v1/export` for `selector` (all time) and parses every line.
pub fn export(url: &str, tenant: Option<&str>, selector: &str) -> anyhow::Result<Vec<Exported>> {
    let mut req = client()
        .get(format!("{url}/api/v1/export"))
        .query(&[("match[]", selector)]);
    if let Some(t) = tenant {
        req = req.header("X-Scope-OrgID", t);
    }
    let resp = req.send()?;
    let status = resp.status();
    let text = resp.text()?;
    if !status.is_success() {
        bail!("export {selector}: {status}: {text}");
    }
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("export line {line:?}"))?;
        let metric = v["metric"]
            .as_object()
            .context("metric")?
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        let values = v["values"].as_array().context("values")?;
        let ts = v["timestamps"].as_array().context("timestamps")?;
        let samples = values
            .iter()
            .zip(ts)
            .map(|(v, t)| {
                let bits = match v {
                    serde_json::Value::String(s) if s == "NaN" => f64::NAN.to_bits(),
                    serde_json::Value::String(s) if s == "StaleNaN" => 0x7ff0_0000_0000_0002,
                    serde_json::Value::String(s) if s == "+Inf" => f64::INFINITY.to_bits(),
                    serde_json::Value::String(s) if s == "-Inf" => f64::NEG_INFINITY.to_bits(),
                    other => other.as_f64().unwrap_or(f64::NAN).to_bits(),
                };
                (t.as_i64().unwrap_or(i64::MIN), bits)
            })
            .collect();
        out.push(Exported { metric, samples });
    }
    Ok(out)
}

/// Writes line protocol (`precision` n, u, ms or s) as `tenant`, failing unless it is a 204.
pub fn write_lines(
    url: &str,
    tenant: Option<&str>,
    precision: &str,
    body: &str,
) -> anyhow::Result<()> {
    let mut req = client()
        .post(format!("{url}/write?precision={precision}"))
        .body(body.to_string());
    if let Some(t) = tenant {
        req = req.header("X-Scope-OrgID", t);
    }
    let resp = req.send()?;
    let status = resp.status();
    if status.as_u16() != 204 {
        bail!("write: {status}: {}", resp.text().unwrap_or_default());
    }
    Ok(())
}

/// A Prometheus API call as `tenant`: GET with a query string, or POST as a form when `post`.
/// Returns the status code and the JSON body (a JSON string if the body is not JSON).
pub fn prom_api(
    url: &str,
    tenant: Option<&str>,
    post: bool,
    path: &str,
    params: &[(&str, &str)],
) -> anyhow::Result<(u16, serde_json::Value)> {
    let (code, text) = prom_api_text(url, tenant, post, path, params)?;
    Ok((
        code,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    ))
}

/// [`prom_api`] returning the raw body, for checks of the exact JSON text.
pub fn prom_api_text(
    url: &str,
    tenant: Option<&str>,
    post: bool,
    path: &str,
    params: &[(&str, &str)],
) -> anyhow::Result<(u16, String)> {
    let c = client();
    let mut req = if post {
        let body: String = form_urlencoded_pairs(params);
        c.post(format!("{url}{path}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
    } else {
        c.get(format!("{url}{path}")).query(params)
    };
    if let Some(t) = tenant {
        req = req.header("X-Scope-OrgID", t);
    }
    let resp = req.send().with_context(|| format!("sending {path}"))?;
    let code = resp.status().as_u16();
    Ok((code, resp.text()?))
}

fn form_urlencoded_pairs(params: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                b => format!("%{b:02X}"),
            })
            .collect()
    };
    params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Runs the `cairn` binary with `args` (a client command such as `cairn query`) and returns
/// (exit success, stdout, stderr).
pub fn cairn_cli(args: &[&str]) -> anyhow::Result<(bool, String, String)> {
    let out = Command::new(cairn_bin())
        .args(args)
        .env_remove("CAIRN_URL")
        .env_remove("CAIRN_TENANT")
        .stdin(Stdio::null())
        .output()
        .context("running cairn")?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// Gzips bytes (for Content-Encoding tests).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("in-memory gzip");
    e.finish().expect("in-memory gzip")
}

/// Runs the project's setup script to install Debian packages a test needs.
pub fn ensure_installed(binary: &str, package: &str) -> anyhow::Result<PathBuf> {
    let find = || {
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(binary))
                .find(|f| f.exists())
        })
    };
    if let Some(p) = find() {
        return Ok(p);
    }
    let status = Command::new(workspace_root().join("scripts/setup.sh"))
        .arg(package)
        .status()
        .context("running scripts/setup.sh")?;
    if !status.success() {
        bail!("scripts/setup.sh {package} failed");
    }
    find().with_context(|| format!("{binary} not on PATH after installing {package}"))
}

/// A free loopback TCP port (bound and released; fine for tests on one machine).
pub fn free_port() -> u16 {
    // Below Linux's ephemeral range (32768+): a port the kernel hands out for port 0 is also
    // the local port of outgoing connections, so a node killed and restarted on it could find
    // it taken by some client's connection meanwhile. Never the same port twice in a process,
    // as tests run in parallel and restart nodes on their ports.
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ (u64::from(std::process::id()) << 32);
    for _ in 0..10_000 {
        // xorshift: a different walk in each process.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = 20_000 + (x % 12_000) as u16;
        if !given.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
    panic!("no free port in 20000..32000");
}
