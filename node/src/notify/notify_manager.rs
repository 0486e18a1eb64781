//! `NotifyManager`: sends every tenant's notifications while this node is the meta leader,
//! and only then. It is the thin driver around `cairn_alerting::notify`'s dispatch planner:
//! the planner decides what to send and when, the manager reads its inputs, builds payloads,
//! sends, commits the notification log and keeps the timers.
//!
//! ```text
//!  sync (the `notify` job: every second, on every kv_watch change, and when a group is due)
//!    leader? ─no─► forget every tenant's groups (a new leader starts from the log)
//!       │yes (new leader: an empty KV command first, so all the old leader logged is here)
//!       ▼
//!    per tenant with amconfig/{tenant}: config + templates (parsed again only on change)
//!      alerts = AlertBoard (rule groups) + extalerts/{tenant}/ ; silences/{tenant}/ ;
//!      nflog/{tenant}/ ─► DispatchState::step ─► Flushes
//!    per Flush: Deliveries::start (one send per integration and group in flight)
//!      per notification: payload::build ─► task: leader? ─► Senders::send (deadline: the
//!        group_interval) ─► NflogWriter::commit (batched, at once) ─► Deliveries::finish
//!        ─► all of the flush's succeeded: DispatchState::delivered
//!    every minute: delete nflog entries past 120h and external alerts resolved 15m ago
//!    arm a wake-up for the earliest group due
//! ```
//! A notification the receiver accepted but that its leader could not log (it died) is sent
//! again by the next leader with the same `X-Cairn-Notification-Id`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cairn_alerting::notify::nflog::NflogEntry;
use cairn_alerting::notify::notify_keys::{self, StoredAlert, StoredConfig, StoredSilence};
use cairn_alerting::notify::payload::{self, NotificationInput, Templates};
use cairn_alerting::notify::{
    AlertmanagerConfig, DispatchConfig, DispatchInput, DispatchState, Flush, GroupView,
    Notification, NotificationLog, Outgoing, Silence, notify_gc,
};
use cairn_consensus::KvOp;
use cairn_model::Clock;
use tokio::task::JoinHandle;

use super::alert_board::AlertBoard;
use super::deliveries::Deliveries;
use super::nflog_writer::NflogWriter;
use super::parsed_scan::ParsedScan;
use super::sender::{SendTarget, Senders};
use crate::cluster::Cluster;
use crate::jobs::Trigger;

/// How often expired notification state is collected.
const GC_INTERVAL: Duration = Duration::from_secs(60);
/// At most this many deletions per command.
const GC_BATCH: usize = 1000;

/// What the manager needs from the node's configuration.
#[derive(Debug, Clone)]
pub struct NotifyManagerSettings {
    /// `.ExternalURL` in notification templates (`[rules] external_url`).
    pub external_url: String,
    /// How long the log writer waits for more entries to commit with the first.
    pub nflog_window: Duration,
}

/// Counters of the manager's work (the senders count the sends themselves).
#[derive(Debug, Default)]
pub struct NotifyStats {
    /// Aggregation groups flushed (each flush may notify nothing: deduplicated or muted).
    pub flushes: AtomicU64,
    /// Notifications delivered and logged (log-only ones included).
    pub delivered: AtomicU64,
    /// Notifications whose payload, send or log commit failed.
    pub failed: AtomicU64,
    /// Payloads that could not be built (a subset of `failed`).
    pub payload_errors: AtomicU64,
    /// Notifications not started because the same integration still sent for the group.
    pub skipped_in_flight: AtomicU64,
    /// Keys deleted by the garbage collection.
    pub gc_deleted: AtomicU64,
}

/// A tenant's parsed configuration.
struct Loaded {
    config: Arc<AlertmanagerConfig>,
    templates: Result<Arc<Templates>, String>,
}

struct TenantState {
    /// The stored configuration's JSON, to notice a change.
    stored: String,
    loaded: Result<Arc<Loaded>, String>,
    dispatch: DispatchState,
    external: ParsedScan<StoredAlert>,
    silences: ParsedScan<StoredSilence>,
    nflog: ParsedScan<NflogEntry>,
}

struct Shared {
    cluster: Arc<Cluster>,
    board: Arc<AlertBoard>,
    senders: Arc<Senders>,
    clock: Arc<dyn Clock>,
    settings: NotifyManagerSettings,
    writer: NflogWriter,
    tenants: Mutex<BTreeMap<String, TenantState>>,
    deliveries: Mutex<Deliveries>,
    trigger: OnceLock<Trigger>,
    stats: NotifyStats,
}

/// The shortest time between the starts of two passes.
const MIN_PASS_GAP: Duration = Duration::from_millis(50);

#[derive(Default)]
struct Pass {
    /// When the last pass started: passes are spaced by at least `MIN_PASS_GAP`.
    last_start: Option<Instant>,
    leading: bool,
    last_gc: Option<Instant>,
    wake: Option<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
}

pub struct NotifyManager {
    sh: Arc<Shared>,
    pass: tokio::sync::Mutex<Pass>,
}

impl NotifyManager {
    /// A manager that sends nothing yet; the `notify` job's passes ([`NotifyManager::sync`])
    /// do the work. Call inside the runtime.
    pub fn new(
        cluster: Arc<Cluster>,
        board: Arc<AlertBoard>,
        senders: Arc<Senders>,
        clock: Arc<dyn Clock>,
        settings: NotifyManagerSettings,
    ) -> NotifyManager {
        let writer = NflogWriter::start(cluster.clone(), settings.nflog_window);
        NotifyManager {
            sh: Arc::new(Shared {
                cluster,
                board,
                senders,
                clock,
                settings,
                writer,
                tenants: Mutex::new(BTreeMap::new()),
                deliveries: Mutex::new(Deliveries::default()),
                trigger: OnceLock::new(),
                stats: NotifyStats::default(),
            }),
            pass: tokio::sync::Mutex::new(Pass::default()),
        }
    }

    /// The `notify` job's trigger: the manager fires it when a group falls due.
    pub fn set_trigger(&self, trigger: Trigger) {
        let _ = self.sh.trigger.set(trigger);
    }

    /// The pipeline's counters in Prometheus' text format (`/metrics`).
    pub fn render_metrics(&self, o: &mut String) {
        use std::fmt::Write;
        let s = &self.sh.stats;
        for (name, help, v) in [
            (
                "cairn_notify_flushes_total",
                "Aggregation groups flushed by the notification pipeline.",
                &s.flushes,
            ),
            (
                "cairn_notify_delivered_total",
                "Notifications delivered and logged in the meta group (log-only ones included).",
                &s.delivered,
            ),
            (
                "cairn_notify_failed_total",
                "Notifications whose payload, send or log commit failed.",
                &s.failed,
            ),
            (
                "cairn_notify_skipped_in_flight_total",
                "Notifications not started because the integration still sent for the group.",
                &s.skipped_in_flight,
            ),
            (
                "cairn_notify_gc_deleted_total",
                "Notification log entries and external alerts deleted by garbage collection.",
                &s.gc_deleted,
            ),
        ] {
            let _ = write!(
                o,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                v.load(Relaxed)
            );
        }
    }

    pub fn stats(&self) -> &NotifyStats {
        &self.sh.stats
    }

    /// A tenant's aggregation groups as the planner holds them (`GET /api/v2/alerts/groups`);
    /// empty on a node that does not lead the meta group.
    pub fn alert_groups(&self, tenant: &str) -> Vec<GroupView> {
        lock(&self.sh.tenants)
            .get(tenant)
            .map(|t| t.dispatch.groups())
            .unwrap_or_default()
    }

    /// One pass: while leading, flushes every tenant's due groups and starts their sends.
    pub async fn sync(&self) -> crate::Result<()> {
        let sh = &self.sh;
        let meta = sh.cluster.groups().meta();
        let mut pass = self.pass.lock().await;
        // Why: every commit to the meta KV (each alert post, each batch of log entries) wakes
        // the job, and a pass reads all of a tenant's alerts and log; under a burst, passes back
        // to back would spend the CPU the sends and commits need. Waiting out the gap lets the
        // wake-ups that arrive meanwhile fold into one pass (a due group waits at most the gap).
        if let Some(last) = pass.last_start {
            let gap = last + MIN_PASS_GAP;
            if gap > Instant::now() {
                tokio::time::sleep_until(gap.into()).await;
            }
        }
        pass.last_start = Some(Instant::now());
        let leader = meta.is_leader();
        if leader && !pass.leading {
            // Everything the old leader logged must be here before the first dedup.
            meta.propose_kv(Vec::new()).await?;
            tracing::info!("leading the meta group: sending notifications");
        } else if !leader && pass.leading {
            tracing::info!("no longer leading the meta group: notifications stop");
        }
        pass.leading = leader;
        pass.tasks.retain(|t| !t.is_finished());
        if !leader {
            lock(&sh.tenants).clear();
            return Ok(());
        }
        let now = sh.clock.now_ms();
        for (tenant, flush, loaded) in self.step_tenants(now) {
            let started = lock(&sh.deliveries).start(&tenant, flush.clone());
            if started.skipped > 0 {
                sh.stats
                    .skipped_in_flight
                    .fetch_add(started.skipped as u64, Relaxed);
            }
            let deadline = Instant::now()
                + Duration::from_millis(u64::try_from(flush.group_interval_ms).unwrap_or(0));
            for n in started.start {
                match outgoing(sh, &loaded, &n) {
                    Ok(out) => {
                        let task = tokio::spawn(deliver_task(
                            sh.clone(),
                            tenant.clone(),
                            started.flush_id,
                            n,
                            out,
                            deadline,
                        ));
                        pass.tasks.push(task);
                    }
                    Err(e) => {
                        tracing::warn!(tenant = %tenant, receiver = %n.receiver, integration = %n.kind, group = %n.group_key, error = %e, "notification payload not built");
                        sh.stats.payload_errors.fetch_add(1, Relaxed);
                        finished(sh, &tenant, started.flush_id, &n, false);
                    }
                }
            }
        }
        if pass.last_gc.is_none_or(|t| t.elapsed() >= GC_INTERVAL) {
            pass.last_gc = Some(Instant::now());
            self.collect_garbage(now).await;
        }
        self.arm_wakeup(&mut pass, now);
        Ok(())
    }

    /// Reads each tenant's inputs and steps its planner; the flushes to carry out.
    fn step_tenants(&self, now: i64) -> Vec<(String, Flush, Arc<Loaded>)> {
        let sh = &self.sh;
        let meta = sh.cluster.groups().meta();
        let configs = meta.kv_scan(notify_keys::AM_CONFIG);
        let mut tenants = lock(&sh.tenants);
        tenants.retain(|t, _| {
            let kept = configs
                .iter()
                .any(|(k, _)| k.strip_prefix(notify_keys::AM_CONFIG) == Some(t));
            if !kept {
                // Its configuration was deleted: none of its receivers is shown any more.
                sh.senders.metrics().retain_receivers(t, &[]);
            }
            kept
        });
        let mut out = Vec::new();
        for (key, value) in &configs {
            let Some(tenant) = key.strip_prefix(notify_keys::AM_CONFIG) else {
                continue;
            };
            let state = tenants
                .entry(tenant.to_string())
                .and_modify(|s| {
                    if s.stored != *value {
                        // As Alertmanager rebuilds its dispatcher on a reload; the log keeps
                        // the new groups from notifying again at once.
                        *s = load(tenant, value);
                        forget_removed_receivers(sh, tenant, s);
                    }
                })
                .or_insert_with(|| {
                    let s = load(tenant, value);
                    forget_removed_receivers(sh, tenant, &s);
                    s
                });
            let Ok(loaded) = &state.loaded else {
                continue;
            };
            let mut alerts = sh.board.tenant_alerts(tenant);
            alerts.extend(
                state
                    .external
                    .refresh(
                        meta.kv_scan(&notify_keys::tenant_external_alerts_prefix(tenant)),
                        "external alert",
                    )
                    .iter()
                    .map(StoredAlert::to_alert),
            );
            let silences: Vec<Silence> = state
                .silences
                .refresh(
                    meta.kv_scan(&notify_keys::tenant_silences_prefix(tenant)),
                    "silence",
                )
                .iter()
                .filter_map(|s| {
                    s.to_silence()
                        .map_err(|e| tracing::debug!(tenant, error = %e, "silence skipped"))
                        .ok()
                })
                .collect();
            let nflog = NotificationLog::new(state.nflog.refresh(
                meta.kv_scan(&notify_keys::tenant_nflog_prefix(tenant)),
                "notification log entry",
            ));
            let before = state.dispatch.flush_count();
            let flushes = state.dispatch.step(
                DispatchConfig::of(&loaded.config),
                DispatchInput {
                    alerts: &alerts,
                    silences: &silences,
                    nflog: &nflog,
                },
                now,
            );
            self.sh
                .stats
                .flushes
                .fetch_add(state.dispatch.flush_count() - before, Relaxed);
            out.extend(
                flushes
                    .into_iter()
                    .map(|f| (tenant.to_string(), f, loaded.clone())),
            );
        }
        out
    }

    /// Deletes expired notification log entries and long-resolved external alerts.
    async fn collect_garbage(&self, now: i64) {
        let meta = self.sh.cluster.groups().meta();
        let doomed = notify_gc::expired_keys(
            &meta.kv_scan(notify_keys::NFLOG),
            &meta.kv_scan(notify_keys::EXTERNAL_ALERTS),
            now,
        );
        for chunk in doomed.chunks(GC_BATCH) {
            let ops: Vec<KvOp> = chunk
                .iter()
                .map(|key| KvOp::Delete { key: key.clone() })
                .collect();
            match meta.propose_kv(ops).await {
                Ok(_) => {
                    self.sh
                        .stats
                        .gc_deleted
                        .fetch_add(chunk.len() as u64, Relaxed);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "collecting expired notification state failed");
                    return;
                }
            }
        }
    }

    /// Fires the job's trigger when the earliest group is due.
    fn arm_wakeup(&self, pass: &mut Pass, now: i64) {
        if let Some(w) = pass.wake.take() {
            w.abort();
        }
        let Some(trigger) = self.sh.trigger.get().cloned() else {
            return;
        };
        let due = lock(&self.sh.tenants)
            .values()
            .filter_map(|t| t.dispatch.next_wakeup())
            .min();
        if let Some(due) = due {
            let wait = Duration::from_millis(u64::try_from(due - now).unwrap_or(0));
            pass.wake = Some(tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                trigger.fire();
            }));
        }
    }

    /// Stops the sends in flight (at shutdown, after the `notify` job has stopped). A send
    /// cut short is not logged: the next leader sends it again, with the same id.
    pub async fn stopped(&self) {
        let mut pass = self.pass.lock().await;
        if let Some(w) = pass.wake.take() {
            w.abort();
        }
        for t in pass.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A tenant's stored configuration, parsed.
fn load(tenant: &str, stored: &str) -> TenantState {
    let loaded = serde_json::from_str::<StoredConfig>(stored)
        .map_err(|e| format!("unreadable stored configuration: {e}"))
        .and_then(|s| {
            AlertmanagerConfig::parse(&s.alertmanager_config, s.template_files).map_err(|errs| {
                errs.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        })
        .map(|config| {
            let templates = Templates::new(&config).map(Arc::new);
            if let Err(e) = &templates {
                tracing::warn!(tenant, error = %e, "notification templates not loaded; notifications fail until they are");
            }
            Arc::new(Loaded {
                config: Arc::new(config),
                templates,
            })
        });
    if let Err(e) = &loaded {
        tracing::warn!(tenant, error = %e, "notification configuration not loaded; no notifications for this tenant");
    }
    TenantState {
        stored: stored.to_string(),
        loaded,
        dispatch: DispatchState::new(tenant),
        external: ParsedScan::default(),
        silences: ParsedScan::default(),
        nflog: ParsedScan::default(),
    }
}

/// Drops the integration status of `tenant`'s receivers that its new configuration no longer
/// has, so that a receiver removed and later added again does not show a stale error.
fn forget_removed_receivers(sh: &Shared, tenant: &str, state: &TenantState) {
    let keep: Vec<&str> = match &state.loaded {
        Ok(l) => l.config.receivers.iter().map(|r| r.name.as_str()).collect(),
        // Nothing is sent for an unreadable configuration: no status to show.
        Err(_) => Vec::new(),
    };
    sh.senders.metrics().retain_receivers(tenant, &keep);
}

/// The request or e-mail for a notification; None when there is nothing to send (only the
/// log entry to write).
fn outgoing(sh: &Shared, loaded: &Loaded, n: &Notification) -> Result<Option<Outgoing>, String> {
    if !n.send {
        return Ok(None);
    }
    let integration = loaded
        .config
        .receiver(&n.receiver)
        .and_then(|r| r.integrations.get(n.integration))
        .ok_or_else(|| format!("receiver {:?} has no such integration", n.receiver))?;
    let templates = loaded.templates.as_ref().map_err(Clone::clone)?;
    let input = NotificationInput {
        receiver: n.receiver.clone(),
        group_key: n.group_key.clone(),
        group_labels: n.group_labels.clone(),
        alerts: n.alerts.clone(),
        now_ms: n.flushed_at_ms,
        external_url: sh.settings.external_url.clone(),
        notification_id: n.notification_id.clone(),
        resend_ends_at_ms: n.flushed_at_ms + 4 * n.group_interval_ms,
    };
    let read_file = |path: &str| std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"));
    payload::build(integration, &input, templates, &read_file).map(Some)
}

/// One notification's task: send (while leading), then log.
async fn deliver_task(
    sh: Arc<Shared>,
    tenant: String,
    flush_id: u64,
    n: Notification,
    out: Option<Outgoing>,
    deadline: Instant,
) {
    let ok = deliver(&sh, &tenant, &n, out, deadline).await;
    finished(&sh, &tenant, flush_id, &n, ok);
}

async fn deliver(
    sh: &Shared,
    tenant: &str,
    n: &Notification,
    out: Option<Outgoing>,
    deadline: Instant,
) -> bool {
    if let Some(out) = out {
        // Leadership may have moved since the flush: the new leader sends now.
        if !sh.cluster.groups().meta().is_leader() {
            tracing::debug!(tenant, receiver = %n.receiver, "not leading any more: notification left to the new leader");
            return false;
        }
        let target = SendTarget {
            tenant,
            receiver: &n.receiver,
            integration: &n.kind,
            index: n.idx as usize,
        };
        let send = sh.senders.send_to(target, &out, deadline);
        let result = match tokio::time::timeout_at(deadline.into(), send).await {
            Ok(r) => r.map_err(|e| e.message),
            Err(_) => Err("deadline (the group_interval) passed".to_string()),
        };
        if let Err(e) = result {
            tracing::warn!(tenant, receiver = %n.receiver, integration = %n.kind, group = %n.group_key, error = %e, "notification failed");
            return false;
        }
    }
    let entry = n.nflog_entry(sh.clock.now_ms());
    match sh.writer.commit(tenant, entry).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(tenant, receiver = %n.receiver, integration = %n.kind, group = %n.group_key, error = %e, "notification sent but not logged; the next flush may send it again");
            false
        }
    }
}

/// Books the end of a notification, and reports its flush to the planner when the flush was
/// delivered whole.
fn finished(sh: &Shared, tenant: &str, flush_id: u64, n: &Notification, ok: bool) {
    let counter = if ok {
        &sh.stats.delivered
    } else {
        &sh.stats.failed
    };
    counter.fetch_add(1, Relaxed);
    let done = lock(&sh.deliveries).finish(flush_id, tenant, n, ok);
    if let Some((tenant, flush)) = done
        && let Some(t) = lock(&sh.tenants).get_mut(&tenant)
    {
        t.dispatch.delivered(&flush, sh.clock.now_ms());
    }
}
