//! Cairn's own metrics in the Prometheus text exposition format: HTTP requests and latencies
//! (recorded by a middleware), ingest counters, PromQL queries, and the storage engine's
//! statistics, rule evaluation (`metrics/rule_metrics.rs`) and notifications
//! (`metrics/notify_metrics.rs`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_storage::Engine;

pub mod maintenance_metrics;
pub mod notify_metrics;
pub mod rule_metrics;

pub use maintenance_metrics::MaintenanceMetrics;
pub use notify_metrics::NotifyMetrics;
pub use rule_metrics::RuleMetrics;

/// Upper bounds (seconds) of the request latency histogram.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A histogram of one label set; `Default` has the request latency buckets.
pub(crate) struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::with_bounds(BUCKETS)
    }
}

impl Histogram {
    /// A histogram with these upper bounds (seconds, ascending).
    pub(crate) fn with_bounds(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    pub(crate) fn observe(&mut self, secs: f64) {
        for (i, b) in self.bounds.iter().enumerate() {
            if secs <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }

    /// Writes `<name>_bucket`, `_sum` and `_count` lines for one label set (`label="value"`).
    pub(crate) fn render(&self, o: &mut String, name: &str, labels: &str) {
        for (b, n) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(o, "{name}_bucket{{{labels},le=\"{b}\"}} {n}");
        }
        let _ = writeln!(
            o,
            "{name}_bucket{{{labels},le=\"+Inf\"}} {}\n\
             {name}_sum{{{labels}}} {}\n\
             {name}_count{{{labels}}} {}",
            self.count, self.sum, self.count
        );
    }
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// Line-protocol lines and fields rejected before reaching storage.
    pub ingest_rejected_invalid: AtomicU64,
    /// Requests carrying samples, by protocol.
    pub influx_requests: AtomicU64,
    pub remote_write_requests: AtomicU64,
    /// PromQL queries by (endpoint, outcome), outcome being `success` or the error type.
    queries: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    query_latency: Mutex<BTreeMap<&'static str, Histogram>>,
    /// Raw samples read from storage by PromQL queries.
    pub query_samples_loaded: AtomicU64,
    /// Queries refused or stopped by a limit, by the limit's configuration name.
    query_limit_hits: Mutex<BTreeMap<&'static str, u64>>,
    pub query_cache: Arc<cairn_query::result_cache::CacheCounters>,
    /// Rule evaluation (the driver on the meta leader updates it).
    pub rules: Arc<RuleMetrics>,
    /// Notifications (the senders update it).
    pub notify: Arc<NotifyMetrics>,
    /// Retention and downsampling (the maintenance job updates it).
    pub maintenance: Arc<MaintenanceMetrics>,
}

impl Metrics {
    pub fn observe(&self, handler: &str, code: u16, elapsed: Duration) {
        {
            let mut r = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            *r.entry((handler.to_string(), code)).or_default() += 1;
        }
        let mut l = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        l.entry(handler.to_string())
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one PromQL query of `endpoint` (`query`, `query_range`) and its duration.
    pub fn observe_query(
        &self,
        endpoint: &'static str,
        outcome: &'static str,
        elapsed: Duration,
        samples_loaded: u64,
    ) {
        {
            let mut q = self.queries.lock().unwrap_or_else(|p| p.into_inner());
            *q.entry((endpoint, outcome)).or_default() += 1;
        }
        self.query_samples_loaded
            .fetch_add(samples_loaded, Ordering::Relaxed);
        let mut l = self.query_latency.lock().unwrap_or_else(|p| p.into_inner());
        l.entry(endpoint)
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a query refused or stopped by `limit` (`max_samples`, `timeout`, ...).
    pub fn query_limit_hit(&self, limit: &'static str) {
        let mut m = self
            .query_limit_hits
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *m.entry(limit).or_default() += 1;
    }

    /// Renders every metric in the text exposition format (version 0.0.4).
    pub fn render(&self, engine: &Engine) -> String {
        let mut o = String::with_capacity(8192);
        let s = engine.stats();
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let counter = |o: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            &mut o,
            "cairn_samples_ingested_total",
            "Samples written to storage.",
            c(&s.samples_written),
        );
        counter(
            &mut o,
            "cairn_samples_duplicate_total",
            "Samples identical to one already stored (idempotent retries), not written again.",
            c(&s.samples_duplicate),
        );
        let _ = writeln!(
            o,
            "# HELP cairn_samples_rejected_total Samples and lines rejected, by reason.\n\
             # TYPE cairn_samples_rejected_total counter\n\
             cairn_samples_rejected_total{{reason=\"too_old\"}} {}\n\
             cairn_samples_rejected_total{{reason=\"duplicate_timestamp\"}} {}\n\
             cairn_samples_rejected_total{{reason=\"invalid\"}} {}",
            c(&s.samples_rejected_too_old),
            c(&s.samples_rejected_conflict),
            c(&self.ingest_rejected_invalid)
        );
        counter(
            &mut o,
            "cairn_samples_out_of_order_total",
            "Samples older than their series' newest, kept in the out-of-order buffer.",
            c(&s.samples_out_of_order),
        );
        counter(
            &mut o,
            "cairn_series_created_total",
            "Series created.",
            c(&s.series_created),
        );
        counter(
            &mut o,
            "cairn_applied_entries_total",
            "Raft log entries applied to storage (every shard replica on this node).",
            c(&s.applied_entries),
        );
        counter(
            &mut o,
            "cairn_applied_bytes_total",
            "Bytes of the write batches applied to storage.",
            c(&s.applied_bytes),
        );
        counter(
            &mut o,
            "cairn_checkpoints_total",
            "Shard checkpoints written.",
            c(&s.checkpoints),
        );
        counter(
            &mut o,
            "cairn_chunks_written_total",
            "Chunks written to disk.",
            c(&s.chunks_written),
        );
        counter(
            &mut o,
            "cairn_chunk_bytes_written_total",
            "Compressed chunk bytes written.",
            c(&s.chunk_bytes_written),
        );
        for (name, help, v) in [
            (
                "cairn_rollup_windows_total",
                "Rollup windows (5m: 2 hours, 1h: a day) completed by this node's shard replicas.",
                &s.maintenance_windows_rolled,
            ),
            (
                "cairn_rollup_blocks_written_total",
                "Rollup blocks (one series, one window) written by this node's shard replicas.",
                &s.maintenance_blocks_written,
            ),
            (
                "cairn_retention_days_deleted_total",
                "Shard-days of a tier deleted by retention on this node.",
                &s.maintenance_days_deleted,
            ),
            (
                "cairn_retention_bytes_deleted_total",
                "Estimated bytes deleted by retention on this node (before compaction).",
                &s.maintenance_bytes_deleted,
            ),
            (
                "cairn_retention_series_dropped_total",
                "Series dropped from the index once no tier held data of them.",
                &s.maintenance_series_dropped,
            ),
        ] {
            counter(&mut o, name, help, c(v));
        }
        counter(
            &mut o,
            "cairn_raft_snapshots_sent_total",
            "Shard snapshots dumped to send to a lagging or new replica.",
            c(&s.snapshots_dumped),
        );
        counter(
            &mut o,
            "cairn_raft_snapshots_installed_total",
            "Shard snapshots received and installed.",
            c(&s.snapshots_installed),
        );
        counter(
            &mut o,
            "cairn_raft_snapshot_install_writes_total",
            "RocksDB writes of shard snapshot installs (a batch of at most 4 MiB each).",
            c(&s.snapshot_install_batches),
        );
        counter(
            &mut o,
            "cairn_raft_snapshots_torn_total",
            "Shards found at start with a snapshot install cut off midway (emptied, sent again).",
            c(&s.snapshots_torn),
        );
        let gauge = |o: &mut String, name: &str, help: &str, v: f64| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        gauge(
            &mut o,
            "cairn_active_series",
            "Series with an open head chunk.",
            engine.active_series() as f64,
        );
        gauge(
            &mut o,
            "cairn_series",
            "Series known to this node.",
            engine.series_count() as f64,
        );
        gauge(
            &mut o,
            "cairn_head_bytes",
            "Approximate heap memory of the heads.",
            engine.head_bytes() as f64,
        );
        gauge(
            &mut o,
            "cairn_storage_sst_bytes",
            "Bytes of RocksDB SST files.",
            engine.sst_bytes() as f64,
        );
        gauge(
            &mut o,
            "cairn_chunk_sst_bytes",
            "Bytes of SST files of the chunks column family.",
            engine.chunk_sst_bytes() as f64,
        );
        if let Some((rss, cpu)) = process_stats() {
            gauge(
                &mut o,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                rss,
            );
            let _ = writeln!(
                o,
                "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n\
                 # TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {cpu}"
            );
        }
        let _ = writeln!(
            o,
            "# HELP cairn_build_info Cairn's version.\n# TYPE cairn_build_info gauge\n\
             cairn_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        {
            let r = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            let _ = writeln!(
                o,
                "# HELP cairn_http_requests_total HTTP requests by handler and status code.\n\
                 # TYPE cairn_http_requests_total counter"
            );
            for ((h, code), v) in r.iter() {
                let _ = writeln!(
                    o,
                    "cairn_http_requests_total{{handler=\"{h}\",code=\"{code}\"}} {v}"
                );
            }
        }
        let l = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(
            o,
            "# HELP cairn_http_request_duration_seconds HTTP request latency by handler.\n\
             # TYPE cairn_http_request_duration_seconds histogram"
        );
        for (h, hist) in l.iter() {
            hist.render(
                &mut o,
                "cairn_http_request_duration_seconds",
                &format!("handler=\"{h}\""),
            );
        }
        drop(l);
        self.render_queries(&mut o);
        self.rules.render(&mut o);
        self.notify.render(&mut o);
        self.maintenance.render(&mut o);
        o
    }

    fn render_queries(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "# HELP cairn_queries_total PromQL queries by endpoint and outcome (success or error type).\n\
             # TYPE cairn_queries_total counter"
        );
        for ((e, outcome), v) in self
            .queries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                o,
                "cairn_queries_total{{endpoint=\"{e}\",outcome=\"{outcome}\"}} {v}"
            );
        }
        let _ = writeln!(
            o,
            "# HELP cairn_query_duration_seconds PromQL query latency by endpoint, queueing included.\n\
             # TYPE cairn_query_duration_seconds histogram"
        );
        for (e, hist) in self
            .query_latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            hist.render(
                o,
                "cairn_query_duration_seconds",
                &format!("endpoint=\"{e}\""),
            );
        }
        let _ = writeln!(
            o,
            "# HELP cairn_query_samples_loaded_total Raw samples read from storage by PromQL queries.\n\
             # TYPE cairn_query_samples_loaded_total counter\n\
             cairn_query_samples_loaded_total {}",
            self.query_samples_loaded.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            o,
            "# HELP cairn_query_limit_hits_total PromQL queries refused or stopped by a [query] limit.\n\
             # TYPE cairn_query_limit_hits_total counter"
        );
        for (limit, v) in self
            .query_limit_hits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(o, "cairn_query_limit_hits_total{{limit=\"{limit}\"}} {v}");
        }
        let qc = &self.query_cache;
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
        for (name, help, kind, v) in [
            (
                "cairn_query_cache_hits_total",
                "Queries answered wholly from the result cache.",
                "counter",
                c(&qc.hits),
            ),
            (
                "cairn_query_cache_misses_total",
                "Cacheable queries evaluated in full (no usable cache entry).",
                "counter",
                c(&qc.misses),
            ),
            (
                "cairn_query_cache_partial_total",
                "Queries answered partly from the result cache, the newer steps evaluated.",
                "counter",
                c(&qc.partial),
            ),
            (
                "cairn_query_cache_invalidations_total",
                "Writes into the cached past that discarded their tenant's cache entries.",
                "counter",
                c(&qc.invalidations),
            ),
            (
                "cairn_query_cache_bytes",
                "Approximate memory of the query result cache.",
                "gauge",
                c(&qc.bytes),
            ),
        ] {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        }
    }
}

/// (resident bytes, CPU seconds) of this process, from /proc.
pub fn process_stats() -> Option<(f64, f64)> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as f64;
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((pages * page, (utime + stime) / tck))
}
