//! `cairn server`: opens storage, starts the node's Raft groups and gRPC server (bootstrapping,
//! joining or rejoining a cluster), starts the background jobs (rule evaluation among them),
//! serves the HTTP API, and shuts down gracefully on SIGTERM or Ctrl-C (in-flight requests
//! and rule evaluations finish, every shard replica checkpoints, groups stop).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cairn_alerting::group_eval::GroupEvaluator;
use cairn_model::{Clock, SystemClock};
use cairn_storage::Engine;
use tokio::net::TcpListener;

use crate::alerting::{RuleManager, RuleManagerSettings};
use crate::api::{self, AppState};
use crate::cluster::Cluster;
use crate::config::NodeConfig;
use crate::jobs::{
    CheckpointJob, MaintenanceJob, NotifyJob, RebalanceJob, ReconcileJob, RuleEvalJob, Supervisor,
    Trigger,
};
use crate::metrics::Metrics;
use crate::notify::{AlertBoard, NotifyManager, NotifyManagerSettings, Senders};
use crate::query::QueryService;

pub async fn run(cfg: NodeConfig) -> anyhow::Result<()> {
    let mut storage_cfg = cfg.storage.clone();
    let data_dir = cfg.data_dir.clone();
    // A node joining with a new data dir lays it out for the cluster's shard count, whatever
    // its own --shards says (a data dir's count is fixed once made).
    if let Some(seed) = &cfg.join
        && !storage_cfg.data_dir.join("db").join("CURRENT").exists()
    {
        match crate::cluster::cluster_shard_count(seed, Duration::from_secs(60)).await {
            Some(n) if n != storage_cfg.shards => {
                tracing::info!(
                    shards = n,
                    "joining a cluster of {n} shards: using its count"
                );
                storage_cfg.shards = n;
            }
            Some(_) => {}
            None => tracing::warn!(
                seed = %seed,
                "could not learn the cluster's shard count; using --shards {}",
                storage_cfg.shards
            ),
        }
    }
    tracing::info!(data_dir = %data_dir.display(), shards = storage_cfg.shards, "opening storage");
    // The node's one clock: storage times checkpoints with it, handlers and jobs read it.
    // With `--dev-clock` it is a system clock that `POST /api/v1/admin/clock` moves ahead.
    let dev_clock = cfg
        .dev_clock
        .then(|| Arc::new(cairn_model::OffsetClock::new()));
    let clock: Arc<dyn Clock> = match &dev_clock {
        Some(c) => {
            tracing::warn!("development clock on: POST /api/v1/admin/clock moves this node's time");
            c.clone()
        }
        None => Arc::new(SystemClock),
    };
    let engine_clock = clock.clone();
    let engine =
        tokio::task::spawn_blocking(move || Engine::open_with_clock(storage_cfg, engine_clock))
            .await
            .context("storage open task")?
            .with_context(|| format!("opening storage in {}", data_dir.display()))?;
    let engine = Arc::new(engine);
    // Bound before the cluster starts, so that the address members record is the one served.
    let listener = TcpListener::bind(cfg.http_addr)
        .await
        .with_context(|| format!("binding the HTTP address {}", cfg.http_addr))?;
    let addr = listener.local_addr()?;
    let mut cluster_cfg = cfg.clone();
    cluster_cfg.http_addr = addr;
    let metrics = Metrics::default();
    let query = QueryService::new(
        cfg.query.clone(),
        &cfg.query_cache,
        metrics.query_cache.clone(),
        clock.clone(),
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let cluster = Cluster::start(
        &cluster_cfg,
        engine.clone(),
        Some(query.cache_invalidator()),
        stop_rx,
    )
    .await?;
    // The rule groups' current alerts: the rule manager publishes, notifications read.
    let alert_board = Arc::new(AlertBoard::default());
    let rules = Arc::new(rule_manager(
        &cfg,
        addr,
        &cluster,
        clock.clone(),
        &metrics,
        alert_board.clone(),
    ));
    let notify = Arc::new(NotifyManager::new(
        cluster.clone(),
        alert_board.clone(),
        Arc::new(Senders::new(metrics.notify.clone())),
        clock.clone(),
        NotifyManagerSettings {
            external_url: cfg.rules.external_url_or(addr),
            nflog_window: Duration::from_millis(5),
        },
    ));
    let (jobs_stop_tx, jobs_stop_rx) = tokio::sync::watch::channel(false);
    let jobs = Arc::new(start_jobs(
        &cfg,
        &metrics,
        &cluster,
        &rules,
        &notify,
        clock.clone(),
        jobs_stop_rx,
    ));
    let state = Arc::new(AppState {
        engine: engine.clone(),
        cluster: cluster.clone(),
        metrics,
        query,
        jobs: jobs.clone(),
        started_at_ms: clock.now_ms(),
        clock,
        dev_clock,
        cfg,
        alert_board,
        notify: notify.clone(),
    });
    tracing::info!(
        series = engine.series_count(),
        retention = %cairn_model::units::format_duration_ms(state.cfg.storage.retention_ms),
        "storage ready"
    );
    // Tests and scripts read this line to learn the port when started with port 0.
    tracing::info!("cairn HTTP API listening on http://{addr}");
    // With the peer's address: `external_alerts.allowed_ips` is checked against it.
    axum::serve(
        listener,
        api::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("serving HTTP")?;
    tracing::info!("HTTP server stopped; checkpointing and stopping the Raft groups");
    let _ = jobs_stop_tx.send(true);
    jobs.stopped().await;
    // Rule evaluations in flight finish (their writes and commits need the cluster).
    rules.stopped().await;
    notify.stopped().await;
    cluster.shutdown().await;
    let _ = stop_tx.send(true);
    tokio::task::spawn_blocking(move || engine.shutdown())
        .await
        .context("storage shutdown task")?;
    tracing::info!("shutdown complete");
    Ok(())
}

/// The rule evaluation driver, configured from `[rules]` (and `[query]` for everything but
/// the timeout); `http_addr` is the address served, the default `$externalURL`.
fn rule_manager(
    cfg: &NodeConfig,
    http_addr: std::net::SocketAddr,
    cluster: &Arc<Cluster>,
    clock: Arc<dyn Clock>,
    metrics: &Metrics,
    alert_board: Arc<AlertBoard>,
) -> RuleManager {
    let r = &cfg.rules;
    let mut query = cfg.query.clone();
    query.timeout_ms = r.query_timeout_ms;
    let evaluator = GroupEvaluator {
        engine: cairn_query::QueryEngine::new(query),
        external_labels: r.external_labels.clone(),
        external_url: r.external_url_or(http_addr),
    };
    let settings = RuleManagerSettings {
        default_interval_ms: i64::try_from(r.evaluation_interval_ms).unwrap_or(i64::MAX),
        status_interval: Duration::from_millis(r.status_interval_ms),
    };
    RuleManager::new(
        cluster.clone(),
        evaluator,
        settings,
        clock,
        metrics.rules.clone(),
        alert_board,
    )
}

/// The node's background jobs under one supervisor: checkpoints, reconciliation (also woken
/// by every change of the cluster state), rule evaluation and notifications (also woken by
/// every change of the meta group's key-value space).
fn start_jobs(
    cfg: &NodeConfig,
    metrics: &Metrics,
    cluster: &Arc<Cluster>,
    rules: &Arc<RuleManager>,
    notify: &Arc<NotifyManager>,
    clock: Arc<dyn Clock>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Supervisor {
    let jobs = Supervisor::new(clock.clone(), stop.clone());
    jobs.spawn(Arc::new(CheckpointJob::new(cluster.groups().clone())));
    let reconcile = jobs.spawn(Arc::new(ReconcileJob::new(cluster.clone())));
    let rebalance = jobs.spawn(Arc::new(RebalanceJob::new(
        cluster.clone(),
        cfg.rebalance.clone(),
    )));
    let rules = jobs.spawn(Arc::new(RuleEvalJob::new(rules.clone())));
    let notify_trigger = jobs.spawn(Arc::new(NotifyJob::new(notify.clone())));
    let maintenance = Arc::new(MaintenanceJob::new(
        cluster.clone(),
        clock.clone(),
        cfg.maintenance.clone(),
        cfg.retention_defaults(),
        cfg.storage.ooo_window_ms,
        metrics.maintenance.clone(),
    ));
    maintenance.set_trigger(jobs.spawn(maintenance.clone()));
    notify.set_trigger(notify_trigger.clone());
    let meta = cluster.groups().meta();
    wake_on_change(meta.watch(), reconcile, stop.clone());
    wake_on_change(meta.watch(), rebalance, stop.clone());
    wake_on_change(meta.kv_watch(), rules, stop.clone());
    wake_on_change(meta.kv_watch(), notify_trigger, stop);
    jobs
}

/// Fires `trigger` at every change `changes` signals, until shutdown.
fn wake_on_change<T: Send + Sync + 'static>(
    mut changes: tokio::sync::watch::Receiver<T>,
    trigger: Trigger,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                r = changes.changed() => match r {
                    Ok(()) => trigger.fire(),
                    Err(_) => return,
                },
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => tracing::info!("received Ctrl-C, shutting down"),
        _ = term => tracing::info!("received SIGTERM, shutting down"),
    }
}
