//! `cairn bench ingest`: loads a server with TSBS cpu-only data over HTTP (line protocol, or
//! Prometheus remote_write with `--protocol remote-write`) and reports samples/s, and the server's CPU-seconds per million samples and RSS when its
//! `/metrics` shows them (Cairn's and VictoriaMetrics' both do).
//!
//! ```text
//!  blocking thread: CpuGenerator | --input file ─► Batch ─► bounded channel
//!                   (remote-write: lines ─► snappy WriteRequest)   │
//!                                                              │
//!  async: dispatcher ─► up to --concurrency POSTs in flight ◄──┘ ─► retry 5xx/429/transport
//!         progress ticker (stderr)       /metrics before & after ─► report (text or --json)
//! ```
//!
//! With `--out FILE` nothing is sent: the data set is written to the file, so a comparison can
//! load byte-identical input into several systems with `--input FILE`.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::remote_write;
use crate::timeparse::parse_time_ms;
use cairn_tsbs::{CpuGenerator, FIELDS, Steps, TsbsConfig};

/// Attempts per batch before the run fails (the first try plus retries).
const MAX_ATTEMPTS: u32 = 6;
/// Lines per write when generating into a file.
const FILE_CHUNK_LINES: usize = 4096;

/// TSBS cpu-only load: `--hosts` hosts × 10 fields every `--interval` over `--duration`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Server to load (its `/metrics` is read before and after).
    #[arg(long, default_value = "http://127.0.0.1:7480", env = "CAIRN_URL")]
    pub url: String,
    /// Hosts simulated; each is 10 series (one per usage_* field).
    #[arg(long, default_value_t = 100)]
    pub hosts: u32,
    /// Time span of the generated data, e.g. 1d, 12h, 90s.
    #[arg(long, default_value = "1d", value_parser = parse_duration)]
    pub duration: Duration,
    /// Step between a host's samples, e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Seed of the generator; the same seed and flags give the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Distribution of the random walks' steps: `normal` (TSBS') or `uniform` in [-1, 1],
    /// whose 2-decimal values have less entropy (0.957 instead of 1.084 bytes per sample).
    #[arg(long, default_value_t = Steps::Normal)]
    pub steps: Steps,
    /// Requests in flight at once. 16 keep a single node or a 3-node cluster busy (as many
    /// collectors writing at once do); with few, a cluster's Raft round trips, not its CPU,
    /// bound the rate (`benches/cluster.sh` shows both).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Lines per request (each line is 10 samples).
    #[arg(long, default_value_t = 1000)]
    pub batch_lines: usize,
    /// First timestamp, RFC 3339 or Unix seconds [default: now − duration, aligned down to
    /// the interval, so that servers with a retention accept it].
    #[arg(long)]
    pub start: Option<String>,
    /// Tenant (sent as X-Scope-OrgID).
    #[arg(long, env = "CAIRN_TENANT")]
    pub tenant: Option<String>,
    /// Write the generated line protocol to FILE instead of sending it.
    #[arg(long, value_name = "FILE", conflicts_with = "input")]
    pub out: Option<PathBuf>,
    /// Send this line-protocol file instead of generating data (split into --batch-lines).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// How batches are sent: `influx` posts the lines as they are; `remote-write` converts
    /// each batch into a Prometheus remote_write 1.0 request (one series per field and tag
    /// set, Cairn's mapping), e.g. for Prometheus' remote-write receiver.
    #[arg(long, value_enum, default_value_t = Protocol::Influx)]
    pub protocol: Protocol,
    /// Path and query of the write endpoint, e.g. /write?precision=ns or /api/v2/write
    /// [default: /write for influx, /api/v1/write for remote-write].
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The wire format of the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// InfluxDB line protocol, nanosecond timestamps.
    Influx,
    /// Prometheus remote_write 1.0: snappy-compressed protobuf, millisecond timestamps.
    RemoteWrite,
}

impl Protocol {
    fn default_endpoint(self) -> &'static str {
        match self {
            Protocol::Influx => "/write",
            Protocol::RemoteWrite => "/api/v1/write",
        }
    }
}

/// Runs `cairn bench ingest`.
pub async fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    ensure!(args.concurrency >= 1, "--concurrency must be at least 1");
    ensure!(args.batch_lines >= 1, "--batch-lines must be at least 1");
    if args.out.is_some() {
        let cfg = tsbs_config(&args, now_ns())?;
        return generate_to_file(&args, cfg).await;
    }
    let source = match &args.input {
        Some(path) => {
            let size = std::fs::metadata(path)
                .with_context(|| format!("reading {}", path.display()))?
                .len();
            Source::File(path.clone(), size)
        }
        None => Source::Generate(tsbs_config(&args, now_ns())?),
    };
    load(&args, source).await
}

/// Parses a duration like `1d`, `12h`, `90s`, `1h30m` or `250ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    match cairn_model::units::parse_duration_ms(s) {
        Some(ms) if ms >= 0 => Ok(Duration::from_millis(ms as u64)),
        _ => Err(format!(
            "{s:?} is not a duration: expected e.g. 1d, 12h, 90s, 1h30m or 250ms"
        )),
    }
}

/// The generator's configuration from the flags; `now_ns` places the default start.
fn tsbs_config(args: &IngestArgs, now_ns: i64) -> anyhow::Result<TsbsConfig> {
    let interval_ns = i64::try_from(args.interval.as_nanos()).unwrap_or(i64::MAX);
    let duration_ns = i64::try_from(args.duration.as_nanos()).unwrap_or(i64::MAX);
    ensure!(interval_ns > 0, "--interval must be greater than 0");
    ensure!(duration_ns > 0, "--duration must be greater than 0");
    ensure!(args.hosts > 0, "--hosts must be at least 1");
    let start_ns = match &args.start {
        Some(s) => parse_time_ms(s)
            .and_then(|ms| ms.checked_mul(1_000_000))
            .with_context(|| {
                format!("--start {s:?}: expected RFC 3339 (2024-01-02T03:04:05Z) or Unix seconds")
            })?,
        None => default_start_ns(now_ns, duration_ns, interval_ns),
    };
    Ok(TsbsConfig {
        hosts: args.hosts,
        start_ns,
        interval_ns,
        points: TsbsConfig::points_for(duration_ns, interval_ns),
        seed: args.seed,
        steps: args.steps,
    })
}

/// `now − duration`, aligned down to a multiple of the interval: recent enough for servers
/// that reject data older than their retention (VictoriaMetrics), and never in the future.
fn default_start_ns(now_ns: i64, duration_ns: i64, interval_ns: i64) -> i64 {
    let start = now_ns.saturating_sub(duration_ns);
    start - start.rem_euclid(interval_ns)
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Where the load comes from.
enum Source {
    Generate(TsbsConfig),
    /// A line-protocol file and its size in bytes.
    File(PathBuf, u64),
}

/// One request body: whole lines, or their remote_write conversion.
struct Batch {
    body: Bytes,
    lines: u64,
    samples: u64,
    /// Bytes of line protocol the body holds (progress counts input, not wire, bytes).
    input_bytes: u64,
}

/// Counters shared by the sender tasks, the producer and the progress ticker.
#[derive(Default)]
struct Progress {
    samples: AtomicU64,
    lines: AtomicU64,
    bytes: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
}

impl Progress {
    fn add(&self, lines: u64, samples: u64, bytes: u64) {
        self.lines.fetch_add(lines, Ordering::Relaxed);
        self.samples.fetch_add(samples, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// What 100 % means: known samples when generating, file bytes when reading a file.
#[derive(Clone, Copy)]
enum Total {
    Samples(u64),
    Bytes(u64),
}

impl Total {
    fn fraction(self, p: &Progress) -> f64 {
        let (done, total) = match self {
            Total::Samples(t) => (p.samples.load(Ordering::Relaxed), t),
            Total::Bytes(t) => (p.bytes.load(Ordering::Relaxed), t),
        };
        if total == 0 {
            1.0
        } else {
            (done as f64 / total as f64).min(1.0)
        }
    }
}

/// Prints the progress line until stopped: rewritten in place every 250 ms on a terminal,
/// else one line every 5 s (logs stay readable).
struct Ticker {
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
}

impl Ticker {
    fn start(progress: Arc<Progress>, total: Total, verb: &'static str) -> Ticker {
        let tty = std::io::stderr().is_terminal();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let period = if tty {
            Duration::from_millis(250)
        } else {
            Duration::from_secs(5)
        };
        let started = Instant::now();
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            let mut shown = false;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = &mut stopped => {
                        // Leave the terminal's last progress line complete and end it, so the
                        // report starts on a line of its own.
                        if tty && shown {
                            let line = progress_line(&progress, total, started.elapsed(), verb);
                            eprintln!("\r{line}\x1b[K");
                        }
                        return;
                    }
                }
                let line = progress_line(&progress, total, started.elapsed(), verb);
                if tty {
                    eprint!("\r{line}\x1b[K");
                } else {
                    eprintln!("{line}");
                }
                shown = true;
            }
        });
        Ticker { stop, handle }
    }

    async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.handle.await;
    }
}

fn progress_line(p: &Progress, total: Total, elapsed: Duration, verb: &str) -> String {
    let frac = total.fraction(p);
    let samples = p.samples.load(Ordering::Relaxed);
    let secs = elapsed.as_secs_f64().max(1e-9);
    let eta = if frac > 0.0 {
        format_secs(secs * (1.0 - frac) / frac)
    } else {
        "?".into()
    };
    format!(
        "{:5.1}%  {} samples {verb}  {}/s  ETA {eta}",
        frac * 100.0,
        group_digits(samples),
        group_digits((samples as f64 / secs) as u64),
    )
}

/// `--out`: the data set into a file, with the generator's own speed as the report.
async fn generate_to_file(args: &IngestArgs, cfg: TsbsConfig) -> anyhow::Result<()> {
    let Some(path) = args.out.clone() else {
        bail!("no --out file");
    };
    let progress = Arc::new(Progress::default());
    let ticker = Ticker::start(
        progress.clone(),
        Total::Samples(cfg.total_samples()),
        "written",
    );
    let started = Instant::now();
    let p2 = progress.clone();
    let path2 = path.clone();
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let file = File::create(&path2).with_context(|| format!("creating {}", path2.display()))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let mut g = CpuGenerator::new(cfg);
        let mut buf = Vec::with_capacity(FILE_CHUNK_LINES * 400);
        loop {
            buf.clear();
            let lines = g.fill(&mut buf, FILE_CHUNK_LINES) as u64;
            if lines == 0 {
                break;
            }
            w.write_all(&buf)
                .with_context(|| format!("writing {}", path2.display()))?;
            p2.add(lines, lines * FIELDS.len() as u64, buf.len() as u64);
        }
        w.flush()
            .with_context(|| format!("writing {}", path2.display()))?;
        Ok(())
    })
    .await;
    ticker.finish().await;
    result.context("the generator thread panicked")??;
    let secs = started.elapsed().as_secs_f64();
    let samples = progress.samples.load(Ordering::Relaxed);
    let lines = progress.lines.load(Ordering::Relaxed);
    let bytes = progress.bytes.load(Ordering::Relaxed);
    let rate = samples as f64 / secs.max(1e-9);
    if args.json {
        println!(
            "{}",
            json!({
                "file": path.display().to_string(),
                "hosts": cfg.hosts,
                "start_ns": cfg.start_ns,
                "interval_ns": cfg.interval_ns,
                "points": cfg.points,
                "seed": cfg.seed,
                "steps": format!("{:?}", cfg.steps).to_lowercase(),
                "samples": samples,
                "lines": lines,
                "bytes": bytes,
                "seconds": secs,
                "samples_per_second": rate,
            })
        );
    } else {
        println!(
            "generated {} samples ({} lines, {:.1} MiB) into {} in {secs:.2} s: {} samples/s",
            group_digits(samples),
            group_digits(lines),
            bytes as f64 / 1048576.0,
            path.display(),
            group_digits(rate as u64),
        );
    }
    Ok(())
}

/// The server's own numbers from its `/metrics`.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct ServerStats {
    cpu_seconds: Option<f64>,
    rss_bytes: Option<f64>,
    active_series: Option<f64>,
}

/// Reads the unlabelled samples we need from a Prometheus text exposition.
fn parse_server_stats(text: &str) -> ServerStats {
    let mut s = ServerStats::default();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut it = line.split_whitespace();
        let (Some(name), Some(value)) = (it.next(), it.next()) else {
            continue;
        };
        let Ok(v) = value.parse::<f64>() else {
            continue;
        };
        match name {
            "process_cpu_seconds_total" => s.cpu_seconds = Some(v),
            "process_resident_memory_bytes" => s.rss_bytes = Some(v),
            "cairn_active_series" => s.active_series = Some(v),
            _ => {}
        }
    }
    s
}

/// Best effort: a server without `/metrics` just gets no server numbers in the report.
async fn scrape(client: &reqwest::Client, base: &str) -> ServerStats {
    let resp = match client.get(format!("{base}/metrics")).send().await {
        Ok(r) if r.status().is_success() => r,
        _ => return ServerStats::default(),
    };
    match resp.text().await {
        Ok(t) => parse_server_stats(&t),
        Err(_) => ServerStats::default(),
    }
}

/// What every sender task needs.
struct Target {
    client: reqwest::Client,
    url: String,
    protocol: Protocol,
    tenant: Option<String>,
    progress: Arc<Progress>,
}

/// Sends the load and prints the report.
async fn load(args: &IngestArgs, source: Source) -> anyhow::Result<()> {
    let base = args.url.trim_end_matches('/').to_string();
    let endpoint = args
        .endpoint
        .as_deref()
        .unwrap_or(args.protocol.default_endpoint());
    let endpoint = if endpoint.starts_with('/') {
        endpoint.to_string()
    } else {
        format!("/{endpoint}")
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(300))
        .build()
        .context("building the HTTP client")?;
    let progress = Arc::new(Progress::default());
    let target = Arc::new(Target {
        client: client.clone(),
        url: format!("{base}{endpoint}"),
        protocol: args.protocol,
        tenant: args.tenant.clone(),
        progress: progress.clone(),
    });

    let before = scrape(&client, &base).await;
    let total = match &source {
        Source::Generate(cfg) => Total::Samples(cfg.total_samples()),
        Source::File(_, size) => Total::Bytes(*size),
    };
    // Two batches per sender queued: generation overlaps sending without piling up memory.
    let (tx, mut rx) = mpsc::channel::<Batch>(args.concurrency * 2);
    let (batch_lines, protocol) = (args.batch_lines, args.protocol);
    let producer = tokio::task::spawn_blocking(move || produce(source, batch_lines, protocol, tx));

    let ticker = Ticker::start(progress.clone(), total, "sent");
    let started = Instant::now();
    let sent = async {
        let mut inflight: JoinSet<anyhow::Result<()>> = JoinSet::new();
        while let Some(batch) = rx.recv().await {
            while inflight.len() >= args.concurrency {
                join_one(&mut inflight).await?;
            }
            inflight.spawn(send_batch(target.clone(), batch));
        }
        while !inflight.is_empty() {
            join_one(&mut inflight).await?;
        }
        anyhow::Ok(())
    }
    .await;
    let secs = started.elapsed().as_secs_f64();
    // On a send error this drops the receiver, which stops the producer at its next batch.
    drop(rx);
    ticker.finish().await;
    sent?;
    producer.await.context("the producer thread panicked")??;
    let after = scrape(&client, &base).await;
    report(args, &progress, secs, before, after);
    Ok(())
}

async fn join_one(set: &mut JoinSet<anyhow::Result<()>>) -> anyhow::Result<()> {
    match set.join_next().await {
        Some(r) => r.context("a sender task panicked")?,
        None => Ok(()),
    }
}

/// Fills the channel with batches until the source ends or the receiver goes away.
fn produce(
    source: Source,
    batch_lines: usize,
    protocol: Protocol,
    tx: mpsc::Sender<Batch>,
) -> anyhow::Result<()> {
    let mut number = 0u64;
    // One batch of lines in the wire format; the sample count is the conversion's own when
    // there is one (it is exact; the line count's is a fast estimate).
    let mut make = |buf: Vec<u8>, lines: u64, samples: u64| -> anyhow::Result<Batch> {
        number += 1;
        let input_bytes = buf.len() as u64;
        Ok(match protocol {
            Protocol::Influx => Batch {
                body: Bytes::from(buf),
                lines,
                samples,
                input_bytes,
            },
            Protocol::RemoteWrite => {
                let enc = remote_write::encode_lines(&buf, now_ns().div_euclid(1_000_000))
                    .with_context(|| format!("converting batch {number} to remote_write"))?;
                Batch {
                    body: Bytes::from(enc.body),
                    lines,
                    samples: enc.samples,
                    input_bytes,
                }
            }
        })
    };
    match source {
        Source::Generate(cfg) => {
            let mut g = CpuGenerator::new(cfg);
            let mut cap = 0;
            loop {
                let mut buf = Vec::with_capacity(cap);
                let lines = g.fill(&mut buf, batch_lines) as u64;
                if lines == 0 {
                    return Ok(());
                }
                cap = buf.len() + buf.len() / 8;
                let batch = make(buf, lines, lines * FIELDS.len() as u64)?;
                if tx.blocking_send(batch).is_err() {
                    return Ok(());
                }
            }
        }
        Source::File(path, _) => {
            let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
            let mut r = BufReader::with_capacity(1 << 20, file);
            let mut cap = 0;
            loop {
                let mut buf = Vec::with_capacity(cap);
                let (lines, samples) = read_batch(&mut r, &mut buf, batch_lines)
                    .with_context(|| format!("reading {}", path.display()))?;
                if buf.is_empty() {
                    return Ok(());
                }
                cap = buf.len() + buf.len() / 8;
                let batch = make(buf, lines, samples)?;
                if tx.blocking_send(batch).is_err() {
                    return Ok(());
                }
            }
        }
    }
}

/// Appends whole lines from `r` to `buf` until it holds `max_lines` lines of data or the input
/// ends; returns (lines, samples). Blank lines are dropped; a last line without a newline gets
/// one, so every batch is whole lines.
fn read_batch<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max_lines: usize,
) -> std::io::Result<(u64, u64)> {
    let (mut lines, mut samples) = (0u64, 0u64);
    while (lines as usize) < max_lines {
        let start = buf.len();
        if r.read_until(b'\n', buf)? == 0 {
            break;
        }
        if buf[start..].iter().all(u8::is_ascii_whitespace) {
            buf.truncate(start);
            continue;
        }
        if buf.last() != Some(&b'\n') {
            buf.push(b'\n');
        }
        lines += 1;
        samples += count_fields(&buf[start..]);
    }
    Ok((lines, samples))
}

/// Fields (= samples) of one line-protocol line: the field set starts after the first
/// unescaped space and ends at the next unescaped space outside a quoted string value.
fn count_fields(line: &[u8]) -> u64 {
    if line.first() == Some(&b'#') {
        return 0;
    }
    // Fast path for lines without escapes or string values (all of TSBS'): the fields lie
    // between the first two spaces.
    if memchr::memchr2(b'\\', b'"', line).is_none() {
        let Some(a) = memchr::memchr(b' ', line) else {
            return 0;
        };
        let rest = &line[a + 1..];
        let end = memchr::memchr3(b' ', b'\n', b'\r', rest).unwrap_or(rest.len());
        let set = &rest[..end];
        if set.is_empty() {
            return 0;
        }
        return 1 + set.iter().filter(|&&b| b == b',').count() as u64;
    }
    let mut in_fields = false;
    let mut quoted = false;
    let mut fields = 0u64;
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'\\' => i += 1,
            b'"' if in_fields => quoted = !quoted,
            b',' if in_fields && !quoted => fields += 1,
            b' ' if !quoted => {
                if in_fields {
                    break;
                }
                in_fields = true;
                fields = 1;
            }
            b'\n' | b'\r' if !quoted => break,
            _ => {}
        }
        i += 1;
    }
    fields
}

/// POSTs one batch; retries 5xx, 429 and transport errors with backoff, fails on other 4xx
/// with the server's message.
async fn send_batch(t: Arc<Target>, batch: Batch) -> anyhow::Result<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut req = t.client.post(&t.url).body(batch.body.clone());
        req = match t.protocol {
            Protocol::Influx => {
                req.header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            }
            Protocol::RemoteWrite => req
                .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
                .header(reqwest::header::CONTENT_ENCODING, "snappy")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0"),
        };
        if let Some(tenant) = &t.tenant {
            req = req.header("X-Scope-OrgID", tenant);
        }
        t.progress.requests.fetch_add(1, Ordering::Relaxed);
        let why = match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                let body = resp.bytes().await.unwrap_or_default();
                if status.is_success() {
                    t.progress
                        .add(batch.lines, batch.samples, batch.input_bytes);
                    return Ok(());
                }
                let msg = server_message(&body);
                if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                    format!("{status}: {msg}")
                } else {
                    bail!(
                        "{} rejected a batch of {} lines with {status}: {msg}",
                        t.url,
                        batch.lines
                    );
                }
            }
            Err(e) => format!("{e}"),
        };
        if attempt >= MAX_ATTEMPTS {
            bail!(
                "{}: giving up on a batch after {attempt} attempts: {why}",
                t.url
            );
        }
        t.progress.retries.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(attempt, error = %why, "retrying a batch");
        tokio::time::sleep(backoff(attempt)).await;
    }
}

/// 100 ms, 200 ms, ... capped at 5 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((100u64 << attempt.saturating_sub(1).min(6)).min(5000))
}

/// The error text of a write response: InfluxDB's `message`, Prometheus' `error`, or the body.
fn server_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
        let m = v["message"].as_str().or(v["error"].as_str());
        if let Some(m) = m {
            return match v["line"].as_u64() {
                Some(line) => format!("{m} (line {line} of the batch)"),
                None => m.to_string(),
            };
        }
    }
    let t = text.trim();
    match t.char_indices().nth(500) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None if t.is_empty() => "(empty body)".into(),
        None => t.to_string(),
    }
}

fn report(args: &IngestArgs, p: &Progress, secs: f64, before: ServerStats, after: ServerStats) {
    let samples = p.samples.load(Ordering::Relaxed);
    let rate = samples as f64 / secs.max(1e-9);
    let cpu = match (before.cpu_seconds, after.cpu_seconds) {
        (Some(b), Some(a)) => Some(a - b),
        _ => None,
    };
    let cpu_per_million = cpu
        .filter(|_| samples > 0)
        .map(|c| c / (samples as f64 / 1e6));
    if args.json {
        println!(
            "{}",
            json!({
                "url": args.url,
                "samples": samples,
                "lines": p.lines.load(Ordering::Relaxed),
                "bytes": p.bytes.load(Ordering::Relaxed),
                "requests": p.requests.load(Ordering::Relaxed),
                "retries": p.retries.load(Ordering::Relaxed),
                "seconds": secs,
                "samples_per_second": rate,
                "server_cpu_seconds": cpu,
                "server_cpu_seconds_per_million_samples": cpu_per_million,
                "server_rss_bytes": after.rss_bytes,
                "server_rss_bytes_before": before.rss_bytes,
                "server_active_series": after.active_series,
            })
        );
        return;
    }
    println!(
        "ingest: {} samples ({} lines, {:.1} MiB, {} requests, {} retries) in {secs:.2} s: {} samples/s",
        group_digits(samples),
        group_digits(p.lines.load(Ordering::Relaxed)),
        p.bytes.load(Ordering::Relaxed) as f64 / 1048576.0,
        group_digits(p.requests.load(Ordering::Relaxed)),
        p.retries.load(Ordering::Relaxed),
        group_digits(rate as u64),
    );
    match cpu_per_million {
        Some(c) => println!("server: {c:.3} CPU-seconds per million samples"),
        None => println!(
            "server: no process_cpu_seconds_total on {}/metrics",
            args.url
        ),
    }
    if let Some(rss) = after.rss_bytes {
        println!("server: RSS {:.1} MiB at the end", rss / 1048576.0);
    }
    if let Some(n) = after.active_series {
        println!("server: {} active series", group_digits(n as u64));
    }
}

/// 8640000 → `8,640,000`.
fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// 65.3 → `1m05s`.
fn format_secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: IngestArgs,
    }

    fn parse(argv: &[&str]) -> IngestArgs {
        Cli::try_parse_from(std::iter::once("bench").chain(argv.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn durations_parse_in_human_units() {
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("1x").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn flags_and_defaults() {
        let a = parse(&[]);
        assert_eq!(a.url, "http://127.0.0.1:7480");
        assert_eq!(
            (a.hosts, a.seed, a.concurrency, a.batch_lines),
            (100, 1, 16, 1000)
        );
        assert_eq!(a.duration, Duration::from_secs(86_400));
        assert_eq!(a.interval, Duration::from_secs(10));
        assert_eq!(a.protocol, Protocol::Influx);
        assert_eq!(a.endpoint, None);
        assert_eq!(a.protocol.default_endpoint(), "/write");
        let a = parse(&["--protocol", "remote-write"]);
        assert_eq!(a.protocol, Protocol::RemoteWrite);
        assert_eq!(a.protocol.default_endpoint(), "/api/v1/write");
        let a = parse(&[
            "--hosts",
            "3",
            "--duration",
            "90s",
            "--interval",
            "1s",
            "--start",
            "1700000000",
        ]);
        let cfg = tsbs_config(&a, 0).unwrap();
        assert_eq!(cfg.hosts, 3);
        assert_eq!(cfg.points, 90);
        assert_eq!(cfg.start_ns, 1_700_000_000_000_000_000);
        assert_eq!(cfg.interval_ns, 1_000_000_000);
        let a = parse(&["--start", "2023-11-14T22:13:20Z"]);
        assert_eq!(
            tsbs_config(&a, 0).unwrap().start_ns,
            1_700_000_000_000_000_000
        );
        assert!(tsbs_config(&parse(&["--start", "yesterday"]), 0).is_err());
        assert!(tsbs_config(&parse(&["--interval", "0s"]), 0).is_err());
        assert!(Cli::try_parse_from(["bench", "--out", "a", "--input", "b"]).is_err());
    }

    #[test]
    fn default_start_is_recent_and_aligned() {
        let s = 1_000_000_000i64;
        let now = 1_700_000_123 * s + 456;
        let start = default_start_ns(now, 86_400 * s, 10 * s);
        assert_eq!(start % (10 * s), 0);
        assert!(start <= now - 86_400 * s && start > now - 86_400 * s - 10 * s);
        let a = parse(&["--duration", "1h"]);
        let cfg = tsbs_config(&a, now).unwrap();
        // The last timestamp is in the past.
        assert!(cfg.start_ns + (cfg.points as i64 - 1) * cfg.interval_ns < now);
    }

    #[test]
    fn input_files_split_into_batches_on_line_boundaries() {
        let input = "cpu,host=a usage_user=1,usage_system=2 1\n\
                     \n\
                     cpu,host=b x=1 2\n\
                     m,t=a\\ b s=\"a, b c\",n=1i 3\n\
                     # a comment\n\
                     last v=1 4";
        let mut r = std::io::Cursor::new(input.as_bytes());
        let mut batches = Vec::new();
        loop {
            let mut buf = Vec::new();
            let (lines, samples) = read_batch(&mut r, &mut buf, 2).unwrap();
            if buf.is_empty() {
                break;
            }
            assert_eq!(buf.iter().filter(|&&b| b == b'\n').count() as u64, lines);
            assert!(buf.ends_with(b"\n"));
            batches.push((String::from_utf8(buf).unwrap(), lines, samples));
        }
        assert_eq!(batches.len(), 3);
        assert_eq!(
            batches[0],
            (
                "cpu,host=a usage_user=1,usage_system=2 1\ncpu,host=b x=1 2\n".into(),
                2,
                3
            )
        );
        assert_eq!(
            batches[1],
            ("m,t=a\\ b s=\"a, b c\",n=1i 3\n# a comment\n".into(), 2, 2)
        );
        assert_eq!(batches[2], ("last v=1 4\n".into(), 1, 1));
    }

    #[test]
    fn fields_are_counted_with_and_without_escapes() {
        assert_eq!(
            count_fields(b"cpu,host=a usage_user=1,usage_system=2 1\n"),
            2
        );
        assert_eq!(count_fields(b"cpu value=1"), 1);
        assert_eq!(count_fields(b"cpu value=1\r\n"), 1);
        assert_eq!(count_fields(b"cpu\n"), 0);
        assert_eq!(count_fields(b"# cpu value=1 2\n"), 0);
        assert_eq!(count_fields(b"m,t=a\\ b s=\"a, b c\",n=1i 3\n"), 2);
        assert_eq!(count_fields(b"m f\\,g=1,h=2 3\n"), 2);
    }

    #[test]
    fn a_generated_file_reads_back_with_every_sample() {
        let cfg = TsbsConfig {
            hosts: 4,
            start_ns: 0,
            interval_ns: 10,
            points: 25,
            seed: 3,
            steps: Steps::Uniform,
        };
        let mut g = CpuGenerator::new(cfg);
        let mut data = Vec::new();
        while g.fill(&mut data, 7) > 0 {}
        let mut r = std::io::Cursor::new(&data);
        let (mut lines, mut samples, mut joined) = (0, 0, Vec::new());
        loop {
            let mut buf = Vec::new();
            let (l, s) = read_batch(&mut r, &mut buf, 33).unwrap();
            if buf.is_empty() {
                break;
            }
            assert!(l <= 33);
            lines += l;
            samples += s;
            joined.extend_from_slice(&buf);
        }
        assert_eq!(joined, data);
        assert_eq!(lines, cfg.total_lines());
        assert_eq!(samples, cfg.total_samples());
    }

    #[test]
    fn server_stats_come_from_unlabelled_samples() {
        let text = "# HELP process_cpu_seconds_total x\n\
                    process_cpu_seconds_total 12.5\n\
                    process_resident_memory_bytes 1.048576e+06\n\
                    cairn_active_series 1000\n\
                    cairn_http_requests_total{handler=\"/write\",code=\"204\"} 3\n";
        assert_eq!(
            parse_server_stats(text),
            ServerStats {
                cpu_seconds: Some(12.5),
                rss_bytes: Some(1_048_576.0),
                active_series: Some(1000.0),
            }
        );
        assert_eq!(parse_server_stats("up 1\n"), ServerStats::default());
    }

    #[test]
    fn server_messages_and_helpers() {
        assert_eq!(
            server_message(br#"{"code":"invalid","message":"bad field","line":3}"#),
            "bad field (line 3 of the batch)"
        );
        assert_eq!(
            server_message(br#"{"status":"error","error":"nope"}"#),
            "nope"
        );
        assert_eq!(server_message(b"  plain text\n"), "plain text");
        assert_eq!(server_message(b""), "(empty body)");
        assert_eq!(group_digits(8_640_000), "8,640,000");
        assert_eq!(group_digits(999), "999");
        assert_eq!(format_secs(65.3), "1m05s");
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(20), Duration::from_millis(5000));
    }
}
