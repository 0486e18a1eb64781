//! `cairn bench notify`: how fast notifications leave a notifier, measured at a webhook sink
//! the tool runs itself. The same tool measures Cairn and Alertmanager (and Prometheus
//! through Alertmanager), so both sides are counted by the same code.
//!
//! ```text
//!  --mode push:  N alerts (alertname=BenchAlert, instance=0..N-1) in --batch batches,
//!                --concurrency POSTs in flight ─► Cairn  POST /api/v1/alerts/external (signed)
//!                                                 Alertmanager POST /api/v2/alerts
//!                each batch's acknowledgement time ─┐
//!  --mode sink:  nothing sent; latency from each alert's startsAt (the evaluation that fired it)
//!                                                   │
//!  sink (axum, --listen): POST any path ─► arrival time + body ─► channel ─► tally
//!     alerts[] with status firing, first arrival per alert ─► until all N (or --expect) came
//!     ─► one JSON line on stdout (notifications/s, alerts/s, latency p50/p99/max), text on stderr
//!  Cairn only: GET /api/v1/cluster/status `meta_last_applied` before and after (settled)
//!     ─► the meta group's Raft entries per notification
//! ```
//!
//! The sink answers every POST with 200 before looking at the body (the handler only stamps
//! the arrival and queues the bytes), so a notifier is never held up by the measurement.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use cairn_alerting::notify::am_time;
use cairn_alerting::notify::signature::{SIGNATURE_HEADER, sign};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::ingest::parse_duration;

/// What the run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Post alerts to the target and wait for their notifications.
    Push,
    /// Only run the sink (alerts come from rule evaluation elsewhere).
    Sink,
}

/// Which API the alerts are posted to in push mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// `POST /api/v1/alerts/external`, signed with `--secret`, as `--tenant`.
    Cairn,
    /// Alertmanager's `POST /api/v2/alerts`.
    Alertmanager,
}

/// Notification throughput and latency at a webhook sink.
#[derive(Debug, Clone, clap::Args)]
pub struct NotifyArgs {
    /// `push`: post --alerts alerts to --url and measure their notifications; `sink`: only
    /// receive notifications until --expect alerts arrived.
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// The webhook sink's listen address (the notifier's webhook URL points here, any path).
    #[arg(long, default_value = "127.0.0.1:9095")]
    pub listen: SocketAddr,
    /// Push mode: the notifier's API.
    #[arg(long, value_enum, default_value_t = Target::Cairn)]
    pub target: Target,
    /// Push mode: the notifier's base URL.
    #[arg(long, default_value = "http://127.0.0.1:7480", env = "CAIRN_URL")]
    pub url: String,
    /// Push mode: distinct firing alerts to post.
    #[arg(long, default_value_t = 10_000)]
    pub alerts: usize,
    /// Push mode: alerts per POST.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Push mode: POSTs in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Cairn: the tenant (X-Scope-OrgID).
    #[arg(long, default_value = "default", env = "CAIRN_TENANT")]
    pub tenant: String,
    /// Cairn push mode: the tenant's `external_alerts.secret`, to sign the posts.
    #[arg(long)]
    pub secret: Option<String>,
    /// Sink mode: distinct firing alerts to wait for.
    #[arg(long)]
    pub expect: Option<usize>,
    /// Sink mode: a Cairn node whose meta group's entries are counted from start to end.
    #[arg(long)]
    pub meta_url: Option<String>,
    /// Give up (and report what arrived, exiting 1) after this long.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// One notification as the sink saw it.
struct Arrival {
    at: Instant,
    wall_ms: i64,
    body: Bytes,
}

/// An alert's first notification.
struct Seen {
    at: Instant,
    wall_ms: i64,
    /// `startsAt` in Unix ms (None when absent or the zero time).
    starts_at_ms: Option<i64>,
}

/// What arrived so far: the alerts keyed by `instance` (push) or by their whole label set.
#[derive(Default)]
struct Tally {
    notifications: u64,
    /// Alerts in notifications, repeats and resolved ones included.
    alert_entries: u64,
    resolved_entries: u64,
    /// Bodies that were not a webhook payload.
    bad_bodies: u64,
    seen: HashMap<String, Seen>,
    first_arrival: Option<Instant>,
    last_arrival: Option<Instant>,
    /// When the last alert not seen before arrived.
    completed_at: Option<Instant>,
}

impl Tally {
    fn record(&mut self, a: Arrival, key_by_instance: bool) {
        self.notifications += 1;
        self.first_arrival.get_or_insert(a.at);
        self.last_arrival = Some(a.at);
        let Ok(v) = serde_json::from_slice::<Value>(&a.body) else {
            self.bad_bodies += 1;
            return;
        };
        let Some(alerts) = v.get("alerts").and_then(Value::as_array) else {
            self.bad_bodies += 1;
            return;
        };
        for alert in alerts {
            self.alert_entries += 1;
            if alert.get("status").and_then(Value::as_str) != Some("firing") {
                self.resolved_entries += 1;
                continue;
            }
            let labels = alert.get("labels").and_then(Value::as_object);
            let key = match (key_by_instance, labels) {
                (true, Some(l)) => match l.get("instance").and_then(Value::as_str) {
                    Some(i) => i.to_string(),
                    None => continue,
                },
                // serde_json's map is ordered by key: the same label set, the same text.
                (false, Some(l)) => Value::Object(l.clone()).to_string(),
                (_, None) => continue,
            };
            if self.seen.contains_key(&key) {
                continue;
            }
            let starts_at_ms = alert
                .get("startsAt")
                .and_then(Value::as_str)
                .and_then(|s| am_time::parse_ms(s).ok().flatten());
            self.seen.insert(
                key,
                Seen {
                    at: a.at,
                    wall_ms: a.wall_ms,
                    starts_at_ms,
                },
            );
            self.completed_at = Some(a.at);
        }
    }
}

/// Latency percentiles over a set of samples in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// Nearest-rank percentiles; None for no samples.
    fn of(mut ms: Vec<f64>) -> Option<Latency> {
        if ms.is_empty() {
            return None;
        }
        ms.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let i = ((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1;
            ms[i]
        };
        Some(Latency {
            p50_ms: rank(0.50),
            p99_ms: rank(0.99),
            max_ms: ms[ms.len() - 1],
        })
    }
}

/// Runs `cairn bench notify`: binds the sink, runs the mode, prints the summary.
pub async fn notify(args: NotifyArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding the webhook sink to {}", args.listen))?;
    let summary = run(&args, listener).await?;
    eprintln!("{}", human(&summary));
    println!("{summary}");
    if summary["complete"] != json!(true) {
        bail!("not every alert was notified within {:?}", args.timeout);
    }
    Ok(())
}

/// The run on an already bound sink; returns the summary (also when the deadline passed,
/// with `complete: false`).
pub async fn run(args: &NotifyArgs, listener: TcpListener) -> anyhow::Result<Value> {
    let want = match args.mode {
        Mode::Push => {
            ensure!(args.alerts >= 1, "--alerts must be at least 1");
            ensure!(args.batch >= 1, "--batch must be at least 1");
            ensure!(args.concurrency >= 1, "--concurrency must be at least 1");
            if args.target == Target::Cairn {
                ensure!(args.secret.is_some(), "--target cairn needs --secret");
            }
            args.alerts
        }
        Mode::Sink => args.expect.context("--mode sink needs --expect N")?,
    };
    let addr = listener.local_addr()?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Arrival>();
    let app = Router::new()
        .route("/ready", get(|| async { "ok" }))
        .fallback(post(receive))
        .with_state(tx);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    eprintln!("webhook sink listening on http://{addr}/");
    let deadline = tokio::time::Instant::now() + args.timeout;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let meta_url = match (args.mode, args.target) {
        (Mode::Push, Target::Cairn) => Some(args.url.clone()),
        (Mode::Push, Target::Alertmanager) => None,
        (Mode::Sink, _) => args.meta_url.clone(),
    };
    let meta_before = match &meta_url {
        Some(u) => Some(meta_applied(&http, u).await?),
        None => None,
    };

    let mut tally = Tally::default();
    let key_by_instance = args.mode == Mode::Push;
    let started = Instant::now();
    let push = match args.mode {
        Mode::Push => Some(tokio::spawn(push_alerts(args.clone(), http.clone()))),
        Mode::Sink => None,
    };
    let mut progress = tokio::time::interval(Duration::from_secs(5));
    progress.tick().await;
    let mut pushed: Option<Pushed> = None;
    let mut push = push;
    while tally.seen.len() < want {
        tokio::select! {
            a = rx.recv() => match a {
                Some(a) => tally.record(a, key_by_instance),
                None => bail!("the webhook sink stopped"),
            },
            r = async { push.as_mut().unwrap().await }, if push.is_some() => {
                push = None;
                pushed = Some(r.context("the push task")??);
            }
            _ = progress.tick() => eprintln!(
                "  {:.0} s: {} notifications, {} of {want} alerts",
                started.elapsed().as_secs_f64(), tally.notifications, tally.seen.len()
            ),
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    if let Some(p) = push.take() {
        // Every alert was notified before the last POST's answer came back (a notifier may
        // send before it answers); the acknowledgements are still needed.
        pushed = Some(
            tokio::time::timeout_at(deadline, p)
                .await
                .context("the push task")???,
        );
    }
    let complete = tally.seen.len() >= want;
    // Entries the notifier commits after sending (its notification log) land a moment later:
    // read the meta group once it has been still for a second.
    let meta_after = match &meta_url {
        Some(u) => Some(settled_meta_applied(&http, u).await?),
        None => None,
    };
    server.abort();
    // Anything that arrived while waiting still counts as a notification (repeats, if any).
    while let Ok(a) = rx.try_recv() {
        tally.record(a, key_by_instance);
    }
    Ok(summarize(
        args,
        want,
        complete,
        &tally,
        pushed.as_ref(),
        meta_before.zip(meta_after),
    ))
}

/// What the push task did: when it started and when each batch was acknowledged.
struct Pushed {
    started: Instant,
    /// Per batch: when its POST was first sent, and when it was acknowledged.
    sent: Vec<Instant>,
    acks: Vec<Instant>,
    posts: u64,
}

/// The sink's handler: stamp, queue, answer.
async fn receive(State(tx): State<mpsc::UnboundedSender<Arrival>>, body: Bytes) -> StatusCode {
    let a = Arrival {
        at: Instant::now(),
        wall_ms: now_ms(),
        body,
    };
    match tx.send(a) {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Posts the alerts in batches, `--concurrency` at a time; each batch's acknowledgement
/// time in order of the batches.
async fn push_alerts(args: NotifyArgs, http: reqwest::Client) -> anyhow::Result<Pushed> {
    let batches = args.alerts.div_ceil(args.batch);
    let bodies: Vec<Bytes> = (0..batches)
        .map(|b| {
            let lo = b * args.batch;
            let hi = (lo + args.batch).min(args.alerts);
            let alerts: Vec<Value> = (lo..hi)
                .map(|i| {
                    json!({
                        "labels": {"alertname": "BenchAlert", "instance": i.to_string()},
                        "annotations": {"summary": format!("bench alert {i}")},
                    })
                })
                .collect();
            Bytes::from(serde_json::to_vec(&alerts).unwrap_or_default())
        })
        .collect();
    let url = match args.target {
        Target::Cairn => format!("{}/api/v1/alerts/external", args.url.trim_end_matches('/')),
        Target::Alertmanager => format!("{}/api/v2/alerts", args.url.trim_end_matches('/')),
    };
    let bodies = Arc::new(bodies);
    let sent = Arc::new(Mutex::new(vec![None::<Instant>; batches]));
    let acks = Arc::new(Mutex::new(vec![None::<Instant>; batches]));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency.min(batches) {
        let (bodies, sent, acks, next, http, url, args) = (
            bodies.clone(),
            sent.clone(),
            acks.clone(),
            next.clone(),
            http.clone(),
            url.clone(),
            args.clone(),
        );
        workers.spawn(async move {
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(b) else {
                    return anyhow::Ok(());
                };
                sent.lock().unwrap_or_else(|p| p.into_inner())[b] = Some(Instant::now());
                post_batch(&http, &url, &args, body).await?;
                acks.lock().unwrap_or_else(|p| p.into_inner())[b] = Some(Instant::now());
            }
        });
    }
    while let Some(r) = workers.join_next().await {
        r.context("a push worker")??;
    }
    let times = |v: &Mutex<Vec<Option<Instant>>>| -> Vec<Instant> {
        let v = v.lock().unwrap_or_else(|p| p.into_inner());
        v.iter().map(|a| a.unwrap_or(started)).collect()
    };
    Ok(Pushed {
        started,
        sent: times(&sent),
        acks: times(&acks),
        posts: batches as u64,
    })
}

/// One POST, retried a few times on 5xx and transport errors (a node that just started may
/// not have a meta leader yet).
async fn post_batch(
    http: &reqwest::Client,
    url: &str,
    args: &NotifyArgs,
    body: &Bytes,
) -> anyhow::Result<()> {
    let mut last = String::new();
    for attempt in 0..5u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
        let mut req = http
            .post(url)
            .header("Content-Type", "application/json")
            .body(body.clone());
        if args.target == Target::Cairn {
            let secret = args.secret.as_deref().unwrap_or_default();
            req = req
                .header("X-Scope-OrgID", &args.tenant)
                .header(SIGNATURE_HEADER, sign(secret.as_bytes(), body));
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) if r.status().is_server_error() => {
                last = format!("{}: {}", r.status(), r.text().await.unwrap_or_default());
            }
            Ok(r) => bail!(
                "POST {url}: {}: {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ),
            Err(e) => last = e.to_string(),
        }
    }
    bail!("POST {url}: {last}")
}

/// The meta group's last applied index from a Cairn node's cluster status.
async fn meta_applied(http: &reqwest::Client, url: &str) -> anyhow::Result<u64> {
    let u = format!("{}/api/v1/cluster/status", url.trim_end_matches('/'));
    let body = http
        .get(&u)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let v: Value = serde_json::from_slice(&body).with_context(|| format!("{u}: not JSON"))?;
    // The API wraps documents in {"status": ..., "data": ...}.
    v["data"]["meta_last_applied"]
        .as_u64()
        .with_context(|| format!("{u}: no meta_last_applied in {v}"))
}

/// `meta_applied` once it has not moved for a second (at most 15 s).
async fn settled_meta_applied(http: &reqwest::Client, url: &str) -> anyhow::Result<u64> {
    let until = Instant::now() + Duration::from_secs(15);
    let mut last = meta_applied(http, url).await?;
    let mut still_since = Instant::now();
    while Instant::now() < until && still_since.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = meta_applied(http, url).await?;
        if now != last {
            last = now;
            still_since = Instant::now();
        }
    }
    Ok(last)
}

fn summarize(
    args: &NotifyArgs,
    want: usize,
    complete: bool,
    t: &Tally,
    pushed: Option<&Pushed>,
    meta: Option<(u64, u64)>,
) -> Value {
    let secs = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64();
    let mut latencies = Vec::with_capacity(t.seen.len());
    let mut from_sent = Vec::new();
    let mut early = 0u64;
    for (key, s) in &t.seen {
        let ms = match pushed {
            Some(p) => {
                let Some(i) = key.parse::<usize>().ok().filter(|&i| i < args.alerts) else {
                    continue;
                };
                let ack = p.acks[i / args.batch];
                from_sent.push(
                    s.at.saturating_duration_since(p.sent[i / args.batch])
                        .as_secs_f64()
                        * 1e3,
                );
                // A notifier may send before its answer to the POST arrives here.
                if s.at < ack {
                    early += 1;
                    -(ack - s.at).as_secs_f64() * 1e3
                } else {
                    (s.at - ack).as_secs_f64() * 1e3
                }
            }
            None => match s.starts_at_ms {
                Some(st) => (s.wall_ms - st) as f64,
                None => continue,
            },
        };
        latencies.push(ms);
    }
    let measured = latencies.len();
    let latency = Latency::of(latencies);
    // Push: from the first POST to the notification that completed the set. Sink: from the
    // first notification to that one (the alerts' own start is in the latency).
    let start = pushed.map(|p| p.started).or(t.first_arrival);
    let end = t.completed_at.or(t.last_arrival);
    let elapsed = match (start, end) {
        (Some(a), Some(b)) => secs(a, b),
        _ => 0.0,
    };
    let per_s = |n: f64| if elapsed > 0.0 { n / elapsed } else { 0.0 };
    let mut v = json!({
        "mode": match args.mode { Mode::Push => "push", Mode::Sink => "sink" },
        "target": match (args.mode, args.target) {
            (Mode::Sink, _) => Value::Null,
            (_, Target::Cairn) => json!("cairn"),
            (_, Target::Alertmanager) => json!("alertmanager"),
        },
        "complete": complete,
        "alerts_expected": want,
        "alerts_notified": t.seen.len(),
        "alert_entries": t.alert_entries,
        "resolved_entries": t.resolved_entries,
        "notifications": t.notifications,
        "bad_bodies": t.bad_bodies,
        "elapsed_s": round3(elapsed),
        "notifications_per_s": round3(per_s(t.notifications as f64)),
        "alerts_per_s": round3(per_s(t.seen.len() as f64)),
        "latency_measured": measured,
        "latency_p50_ms": latency.map(|l| round3(l.p50_ms)),
        "latency_p99_ms": latency.map(|l| round3(l.p99_ms)),
        "latency_max_ms": latency.map(|l| round3(l.max_ms)),
    });
    if let Some(p) = pushed {
        v["posts"] = json!(p.posts);
        // How long posting took: when the notifier's API, not its notifying, is the limit.
        let last_ack = p.acks.iter().max().copied().unwrap_or(p.started);
        v["posting_s"] = json!(round3(secs(p.started, last_ack)));
        // Latencies above are from the acknowledgement and negative for these.
        v["notified_before_ack"] = json!(early);
        let l = Latency::of(from_sent);
        v["latency_from_post_p50_ms"] = json!(l.map(|l| round3(l.p50_ms)));
        v["latency_from_post_p99_ms"] = json!(l.map(|l| round3(l.p99_ms)));
    }
    if let Some((before, after)) = meta {
        let entries = after.saturating_sub(before);
        let per = |n: u64| {
            if t.notifications > 0 {
                json!(round3(n as f64 / t.notifications as f64))
            } else {
                Value::Null
            }
        };
        v["meta_entries"] = json!(entries);
        v["meta_entries_per_notification"] = per(entries);
        if let Some(p) = pushed {
            // Each accepted POST is one entry (its alerts in one Kv command): without them,
            // what notifying itself writes.
            v["meta_entries_per_notification_without_posts"] = per(entries.saturating_sub(p.posts));
        }
    }
    v
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The summary as a sentence for people.
fn human(v: &Value) -> String {
    let f = |k: &str| v[k].as_f64().map_or("-".to_string(), |x| format!("{x:.1}"));
    let mut s = format!(
        "{} notifications covering {} of {} alerts in {} s: {} notifications/s, {} alerts/s; \
         latency p50 {} ms, p99 {} ms, max {} ms",
        v["notifications"],
        v["alerts_notified"],
        v["alerts_expected"],
        f("elapsed_s"),
        f("notifications_per_s"),
        f("alerts_per_s"),
        f("latency_p50_ms"),
        f("latency_p99_ms"),
        f("latency_max_ms"),
    );
    if v.get("meta_entries").is_some() {
        s.push_str(&format!(
            "; meta group: {} entries, {} per notification",
            v["meta_entries"], v["meta_entries_per_notification"]
        ));
    }
    if v["complete"] != json!(true) {
        s.push_str(" (INCOMPLETE: the deadline passed)");
    }
    s
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink_args(expect: usize) -> NotifyArgs {
        NotifyArgs {
            mode: Mode::Sink,
            listen: "127.0.0.1:0".parse().unwrap(),
            target: Target::Cairn,
            url: String::new(),
            alerts: 0,
            batch: 1,
            concurrency: 1,
            tenant: "default".into(),
            secret: None,
            expect: Some(expect),
            meta_url: None,
            timeout: Duration::from_secs(30),
        }
    }

    fn webhook(alerts: &[(&str, &str, &str)]) -> String {
        let alerts: Vec<Value> = alerts
            .iter()
            .map(|(instance, status, starts)| {
                json!({
                    "status": status,
                    "labels": {"alertname": "BenchAlert", "instance": instance},
                    "annotations": {},
                    "startsAt": starts,
                    "endsAt": "0001-01-01T00:00:00Z",
                })
            })
            .collect();
        json!({"version": "4", "status": "firing", "receiver": "sink", "alerts": alerts})
            .to_string()
    }

    #[tokio::test]
    async fn the_sink_counts_hand_posted_notifications_until_it_has_every_alert() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let args = sink_args(3);
        let run = tokio::spawn(async move { run(&args, listener).await });
        let http = reqwest::Client::new();
        // Started a minute ago: the latency is about 60 s.
        let starts = am_time::format_ms(now_ms() - 60_000);
        let bodies = [
            webhook(&[("a", "firing", &starts), ("b", "firing", &starts)]),
            // A repeat of `a` and a resolved alert count as entries, not as new alerts.
            webhook(&[("a", "firing", &starts), ("z", "resolved", &starts)]),
            "not json".to_string(),
            webhook(&[("c", "firing", &starts)]),
        ];
        for body in bodies {
            let r = http.post(&url).body(body).send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
        let v = run.await.unwrap().unwrap();
        assert_eq!(v["complete"], json!(true), "{v}");
        assert_eq!(v["notifications"], json!(4), "{v}");
        assert_eq!(v["alerts_notified"], json!(3), "{v}");
        assert_eq!(v["alert_entries"], json!(5), "{v}");
        assert_eq!(v["resolved_entries"], json!(1), "{v}");
        assert_eq!(v["bad_bodies"], json!(1), "{v}");
        assert_eq!(v["latency_measured"], json!(3), "{v}");
        let p50 = v["latency_p50_ms"].as_f64().unwrap();
        assert!((60_000.0..90_000.0).contains(&p50), "{v}");
    }

    #[tokio::test]
    async fn an_incomplete_run_reports_what_arrived_at_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let mut args = sink_args(2);
        args.timeout = Duration::from_millis(1500);
        let run = tokio::spawn(async move { run(&args, listener).await });
        let starts = am_time::format_ms(now_ms());
        let body = webhook(&[("a", "firing", &starts)]);
        let r = reqwest::Client::new().post(&url).body(body).send().await;
        assert_eq!(r.unwrap().status(), 200);
        let v = run.await.unwrap().unwrap();
        assert_eq!(v["complete"], json!(false), "{v}");
        assert_eq!(v["alerts_notified"], json!(1), "{v}");
    }

    #[test]
    fn nearest_rank_percentiles() {
        let l = Latency::of((1..=100).map(f64::from).collect()).unwrap();
        assert_eq!((l.p50_ms, l.p99_ms, l.max_ms), (50.0, 99.0, 100.0));
        assert_eq!(Latency::of(vec![]), None);
        let one = Latency::of(vec![7.0]).unwrap();
        assert_eq!((one.p50_ms, one.p99_ms), (7.0, 7.0));
    }
}
