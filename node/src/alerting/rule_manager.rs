//! `RuleManager`: evaluates every tenant's rule groups while this node is the meta leader,
//! and only then. It is the thin driver around `cairn-alerting`: the evaluator decides, it
//! carries the decisions out (sleeping, reading, writing, committing).
//!
//! ```text
//!  sync (the `rules` job: every 500 ms and on every kv_watch change)
//!    leader? ─no─► stop every task
//!       │yes (new leader: an empty KV command first, so all the old leader committed is here)
//!       ▼
//!    rule_groups(kv_scan "rules/") ─► plan_tasks(running, wanted) ─► start / stop / replace
//!    every status_interval: the groups' changed status, one propose_kv
//!
//!  task per (tenant, group)
//!    restore GroupState from alerts/… (rule_index_of), delete state no rule takes back
//!    loop: sleep to the group's next slot (Prometheus' offset; overruns counted, not stacked)
//!          spawn_blocking: ClusterRuleStore::open (read barrier) ─► GroupEvaluator::eval
//!          report.changes (+ status if a rule's health/error changed) ─► one propose_kv
//!          commit failed ─► drop GroupState, reload from the KV before the next evaluation
//! ```
//! After each evaluation a task publishes its group's alerts to the [`AlertBoard`] (what the
//! notification driver sends, Prometheus' `sendAlerts`), and withdraws them when it ends.
//! A replaced group's new task (or a group's task started again after it was stopped) waits
//! for the old one to end, then restores what the old one committed. Time comes from the node's [`Clock`]; sleeps are Tokio's.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_alerting::RuleGroup;
use cairn_alerting::group_eval::{GroupEvaluator, GroupReport, GroupState};
use cairn_alerting::notify::rule_alert::{RuleAlertContext, rule_notify_alerts};
use cairn_alerting::schedule::{GroupSchedule, NextEval};
use cairn_alerting::state_keys::{self, GroupStatus, RuleStatus};
use cairn_consensus::KvOp;
use cairn_model::{Clock, Tenant};
use cairn_storage::Engine;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::cluster_rule_store::ClusterRuleStore;
use super::rule_kv::{self, GroupId};
use super::status_board::StatusBoard;
use crate::cluster::Cluster;
use crate::metrics::RuleMetrics;
use crate::notify::AlertBoard;

/// What the manager needs from the node's configuration.
#[derive(Debug, Clone)]
pub struct RuleManagerSettings {
    /// A group's interval when it sets none (`[rules] evaluation_interval`).
    pub default_interval_ms: i64,
    /// `[rules] status_interval`.
    pub status_interval: Duration,
}

/// What every group task shares.
struct Shared {
    cluster: Arc<Cluster>,
    engine: Arc<Engine>,
    evaluator: GroupEvaluator,
    settings: RuleManagerSettings,
    clock: Arc<dyn Clock>,
    metrics: Arc<RuleMetrics>,
    runtime: Handle,
    board: Mutex<StatusBoard>,
    /// The groups' current alerts, for the notification driver.
    alerts: Arc<AlertBoard>,
    alert_context: RuleAlertContext,
}

/// A running group task.
struct Running {
    group: Arc<RuleGroup>,
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

#[derive(Default)]
struct Tasks {
    /// Whether the last sync found this node leading (and had caught up with the KV).
    leading: bool,
    running: BTreeMap<GroupId, Running>,
    /// Tasks told to stop that may not have ended yet: a group started again (applied anew,
    /// or leadership regained) waits for its old task, as a replacement does.
    stopping: BTreeMap<GroupId, JoinHandle<()>>,
    last_flush: Option<Instant>,
    /// The last scan of the rule records and the groups read from it: alert commits change
    /// the key-value space far more often than rules do, and each wakes a sync.
    scanned: Vec<(String, String)>,
    wanted: BTreeMap<GroupId, RuleGroup>,
}

pub struct RuleManager {
    shared: Arc<Shared>,
    tasks: tokio::sync::Mutex<Tasks>,
}

/// What a sync changes in the running tasks.
#[derive(Debug, Default, PartialEq)]
pub struct TaskPlan {
    /// Groups to start a task for.
    pub start: Vec<GroupId>,
    /// Groups whose task ends (deleted, or this node no longer leads).
    pub stop: Vec<GroupId>,
    /// Groups whose definition changed: the task ends and a new one takes over its state.
    pub replace: Vec<GroupId>,
}

/// The tasks to start, stop and replace so that exactly the `wanted` groups run.
pub fn plan_tasks<'a>(
    running: impl IntoIterator<Item = (&'a GroupId, &'a RuleGroup)>,
    wanted: &BTreeMap<GroupId, RuleGroup>,
) -> TaskPlan {
    let mut plan = TaskPlan::default();
    let running: BTreeMap<&GroupId, &RuleGroup> = running.into_iter().collect();
    for (id, group) in &running {
        match wanted.get(*id) {
            None => plan.stop.push((*id).clone()),
            Some(w) if w != *group => plan.replace.push((*id).clone()),
            Some(_) => {}
        }
    }
    plan.start = wanted
        .keys()
        .filter(|id| !running.contains_key(id))
        .cloned()
        .collect();
    plan
}

/// A group's status after an evaluation at `ts_ms`, as `/api/v1/rules` reports it.
pub fn status_of(report: &GroupReport, ts_ms: i64) -> GroupStatus {
    GroupStatus {
        last_evaluation_ms: ts_ms,
        evaluation_seconds: report.duration.as_secs_f64(),
        rules: report
            .rules
            .iter()
            .map(|r| RuleStatus {
                health: r.health.as_str().to_string(),
                last_error: r.error.clone().unwrap_or_default(),
                last_evaluation_ms: ts_ms,
                evaluation_seconds: r.duration.as_secs_f64(),
            })
            .collect(),
    }
}

/// The status of a group none of whose rules could run at `ts_ms` (its tenant's data could
/// not be read): every rule `err` with `reason`.
pub fn failed_status(group: &RuleGroup, ts_ms: i64, reason: &str) -> GroupStatus {
    GroupStatus {
        last_evaluation_ms: ts_ms,
        evaluation_seconds: 0.0,
        rules: group
            .rules
            .iter()
            .map(|_| RuleStatus {
                health: "err".into(),
                last_error: reason.to_string(),
                last_evaluation_ms: ts_ms,
                evaluation_seconds: 0.0,
            })
            .collect(),
    }
}

impl RuleManager {
    /// A manager with no tasks yet; the `rules` job's passes ([`RuleManager::sync`]) start
    /// them. Its groups publish their alerts to `alerts`. Call inside the runtime.
    pub fn new(
        cluster: Arc<Cluster>,
        evaluator: GroupEvaluator,
        settings: RuleManagerSettings,
        clock: Arc<dyn Clock>,
        metrics: Arc<RuleMetrics>,
        alerts: Arc<AlertBoard>,
    ) -> RuleManager {
        let alert_context = RuleAlertContext {
            external_labels: evaluator.external_labels.clone(),
            external_url: evaluator.external_url.clone(),
        };
        RuleManager {
            shared: Arc::new(Shared {
                alerts,
                alert_context,
                engine: cluster.groups().engine().clone(),
                cluster,
                evaluator,
                settings,
                clock,
                metrics,
                runtime: Handle::current(),
                board: Mutex::new(StatusBoard::default()),
            }),
            tasks: tokio::sync::Mutex::new(Tasks::default()),
        }
    }

    /// One pass: runs exactly the committed groups while leading (none otherwise), and
    /// flushes group status when `status_interval` has passed.
    pub async fn sync(&self) -> crate::Result<()> {
        let meta = self.shared.cluster.groups().meta();
        let mut guard = self.tasks.lock().await;
        // One reborrow, so the fields borrow apart.
        let tasks = &mut *guard;
        let leader = meta.is_leader();
        if leader && !tasks.leading {
            // A new leader may not have applied everything its predecessor committed (alert
            // state above all); an empty command, once applied here, comes after all of it.
            meta.propose_kv(Vec::new()).await?;
            tracing::info!("leading the meta group: evaluating rules");
        } else if !leader && tasks.leading {
            tracing::info!("no longer leading the meta group: rule evaluation stops");
        }
        if leader {
            let scan = meta.kv_scan(state_keys::RULES);
            if scan != tasks.scanned {
                let (groups, bad) = rule_kv::rule_groups(&scan);
                for b in &bad {
                    tracing::warn!(key = %b.key, reason = %b.reason, "unreadable rule group skipped");
                }
                tasks.scanned = scan;
                tasks.wanted = groups;
            }
        } else {
            tasks.scanned.clear();
            tasks.wanted.clear();
        }
        let wanted = &tasks.wanted;
        let plan = plan_tasks(
            tasks.running.iter().map(|(id, r)| (id, r.group.as_ref())),
            wanted,
        );
        tasks.stopping.retain(|_, h| !h.is_finished());
        for id in &plan.stop {
            if let Some(r) = tasks.running.remove(id) {
                let _ = r.stop.send(true);
                tasks.stopping.insert(id.clone(), r.handle);
            }
        }
        for id in plan.replace.iter().chain(&plan.start) {
            let previous = match tasks.running.remove(id) {
                Some(r) => {
                    let _ = r.stop.send(true);
                    Some(r.handle)
                }
                None => tasks.stopping.remove(id),
            };
            let Some(group) = wanted.get(id) else {
                continue;
            };
            let group = Arc::new(group.clone());
            let (stop, stop_rx) = watch::channel(false);
            let handle = tokio::spawn(run_group(
                self.shared.clone(),
                id.clone(),
                group.clone(),
                stop_rx,
                previous,
            ));
            tasks.running.insert(
                id.clone(),
                Running {
                    group,
                    stop,
                    handle,
                },
            );
        }
        tasks.leading = leader;
        let due = tasks
            .last_flush
            .is_none_or(|t| t.elapsed() >= self.shared.settings.status_interval);
        if leader && due {
            tasks.last_flush = Some(Instant::now());
            let groups: BTreeMap<GroupId, Arc<RuleGroup>> = tasks
                .running
                .iter()
                .map(|(id, r)| (id.clone(), r.group.clone()))
                .collect();
            drop(guard);
            self.flush_status(&groups).await?;
        }
        Ok(())
    }

    /// Commits the status of every running group that changed since it was last committed,
    /// as one command.
    async fn flush_status(&self, groups: &BTreeMap<GroupId, Arc<RuleGroup>>) -> crate::Result<()> {
        let sh = &self.shared;
        let dirty: Vec<(GroupId, GroupStatus)> = lock(&sh.board)
            .dirty()
            .into_iter()
            .filter(|(id, _)| groups.contains_key(id))
            .collect();
        let mut ops = Vec::with_capacity(dirty.len());
        for (id, status) in &dirty {
            match rule_kv::status_op(&id.0, &groups[id], status) {
                Ok(op) => ops.push(op),
                Err(e) => {
                    tracing::warn!(tenant = %id.0, group = %id.1, error = %e, "group status not serializable")
                }
            }
        }
        if ops.is_empty() {
            return Ok(());
        }
        commit(sh, ops).await?;
        let mut board = lock(&sh.board);
        for (id, status) in &dirty {
            board.committed(id, status);
        }
        Ok(())
    }

    /// Stops every group task and waits for them to end (at shutdown, after the `rules` job
    /// has stopped).
    pub async fn stopped(&self) {
        let (running, stopping) = {
            let mut tasks = self.tasks.lock().await;
            (
                std::mem::take(&mut tasks.running),
                std::mem::take(&mut tasks.stopping),
            )
        };
        for r in running.values() {
            let _ = r.stop.send(true);
        }
        let handles = running.into_values().map(|r| r.handle);
        for h in handles.chain(stopping.into_values()) {
            let _ = h.await;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Proposes `ops` as one meta-group command, counted in the alert state metrics; false if
/// an `Expect` of it did not hold (nothing applied).
async fn commit(sh: &Shared, ops: Vec<KvOp>) -> crate::Result<bool> {
    let bytes = rule_kv::ops_bytes(&ops);
    let applied = sh.cluster.groups().meta().propose_kv(ops).await?;
    use std::sync::atomic::Ordering::Relaxed;
    sh.metrics.state_commits.fetch_add(1, Relaxed);
    sh.metrics.state_commit_bytes.fetch_add(bytes, Relaxed);
    Ok(applied)
}

/// The group's state as committed: its alerts, by rule; state no rule of this version of
/// the group takes back is deleted.
async fn load_state(sh: &Shared, tenant: &str, group: &RuleGroup) -> crate::Result<GroupState> {
    let prefix = state_keys::group_alerts_prefix(tenant, group);
    let (alerts, bad) =
        rule_kv::restore_alerts(&prefix, &sh.cluster.groups().meta().kv_scan(&prefix));
    for b in &bad {
        tracing::warn!(key = %b.key, reason = %b.reason, "unreadable alert state dropped");
    }
    let (keep, stale) = rule_kv::split_restorable(group, alerts);
    let doomed: Vec<KvOp> = stale
        .into_iter()
        .chain(bad.into_iter().map(|b| b.key))
        .map(|key| KvOp::Delete { key })
        .collect();
    if !doomed.is_empty() {
        tracing::info!(tenant, group = %group.key(), alerts = doomed.len(), "deleting alert state no rule of the group takes back");
        commit(sh, doomed).await?;
    }
    Ok(GroupState::restore(group, keep))
}

/// One group's task: restore, then evaluate on the group's schedule until stopped.
async fn run_group(
    sh: Arc<Shared>,
    id: GroupId,
    group: Arc<RuleGroup>,
    mut stop: watch::Receiver<bool>,
    previous: Option<JoinHandle<()>>,
) {
    // The replaced group's task may be committing its last evaluation: restore after it.
    if let Some(p) = previous {
        let _ = p.await;
    }
    let (tenant_name, key) = (&id.0, &id.1);
    let Ok(tenant) = Tenant::new(tenant_name) else {
        return;
    };
    let interval_ms = group
        .interval_ms
        .filter(|&i| i > 0)
        .unwrap_or(sh.settings.default_interval_ms);
    sh.metrics.update(tenant_name, key, |f| {
        f.interval_seconds = interval_ms as f64 / 1e3;
        f.rules = group.rules.len();
    });
    let meta = sh.cluster.groups().meta();
    let committed_status = meta
        .kv_get(&state_keys::status_key(tenant_name, &group))
        .and_then(|v| serde_json::from_str::<GroupStatus>(&v).ok());
    lock(&sh.board).track(id.clone(), committed_status);
    let mut state: Option<GroupState> = None;
    let slots = GroupSchedule::new(&group.file, &group.name, interval_ms);
    let mut next = NextEval {
        ts_ms: slots.first(sh.clock.now_ms()),
        missed: 0,
    };
    loop {
        let wait = next.ts_ms - sh.clock.now_ms();
        if wait > 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        } else if *stop.borrow() {
            break;
        }
        let (ts, missed) = (next.ts_ms, next.missed);
        sh.metrics.update(tenant_name, key, |f| {
            f.iterations += 1 + missed;
            f.iterations_missed += missed;
        });
        if missed > 0 {
            tracing::warn!(tenant = %tenant_name, group = %key, missed, "rule group evaluation overran its interval");
        }
        let current = match state.take() {
            Some(s) => s,
            None => match load_state(&sh, tenant_name, &group).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(tenant = %tenant_name, group = %key, error = %e, "restoring alert state failed; skipping this evaluation");
                    next = slots.after(ts, sh.clock.now_ms());
                    continue;
                }
            },
        };
        state = evaluate_once(&sh, &id, &tenant, &group, current, ts, interval_ms).await;
        next = slots.after(ts, sh.clock.now_ms());
    }
    // The group's alerts are no longer sent: the notification pipeline keeps what it has
    // until it resolves (by its `ends_at`), as Alertmanager does when Prometheus stops.
    sh.alerts.withdraw(tenant_name, key);
    lock(&sh.board).forget(&id);
    sh.metrics.remove(tenant_name, key);
}

/// Evaluates the group at `ts`, commits what changed; the state to carry on with (`None`:
/// reload it from the KV before the next evaluation).
async fn evaluate_once(
    sh: &Arc<Shared>,
    id: &GroupId,
    tenant: &Tenant,
    group: &Arc<RuleGroup>,
    mut state: GroupState,
    ts: i64,
    interval_ms: i64,
) -> Option<GroupState> {
    let (tenant_name, key) = (&id.0, &id.1);
    let eval = {
        let (sh, tenant, group) = (sh.clone(), tenant.clone(), group.clone());
        tokio::task::spawn_blocking(move || {
            let store = ClusterRuleStore::open(
                sh.engine.clone(),
                sh.cluster.clone(),
                tenant,
                sh.runtime.clone(),
            );
            let mut store = match store {
                Ok(s) => s,
                Err(e) => return (state, Err(e)),
            };
            let report = sh.evaluator.eval(&group, &mut state, &mut store, ts);
            (state, Ok(report))
        })
    };
    let (state, report) = match eval.await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(tenant = %tenant_name, group = %key, error = %e, "rule group evaluation aborted");
            return None;
        }
    };
    use std::sync::atomic::Ordering::Relaxed;
    let rules = group.rules.len() as u64;
    sh.metrics.evaluations.fetch_add(rules, Relaxed);
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            let reason = format!("reading the tenant's data: {e}");
            tracing::warn!(tenant = %tenant_name, group = %key, error = %e, "rule group not evaluated");
            sh.metrics.evaluation_failures.fetch_add(rules, Relaxed);
            let status = failed_status(group, ts, &reason);
            if lock(&sh.board).record(id, status.clone()) {
                commit_status(sh, id, group, status).await;
            }
            return Some(state);
        }
    };
    sh.alerts.publish(
        tenant_name,
        key,
        group_notify_alerts(&sh.alert_context, group, &state, ts, interval_ms),
    );
    let failures = report.rules.iter().filter(|r| r.error.is_some()).count() as u64;
    sh.metrics.evaluation_failures.fetch_add(failures, Relaxed);
    sh.metrics.update(tenant_name, key, |f| {
        f.last_duration_seconds = report.duration.as_secs_f64();
        f.last_evaluation_ms = ts;
    });
    let status = status_of(&report, ts);
    let status_now = lock(&sh.board).record(id, status.clone());
    let mut ops = match rule_kv::alert_ops(
        tenant_name,
        group,
        report
            .changes
            .iter()
            .map(|(i, c)| (*i, c.fingerprint, c.alert.as_ref())),
    ) {
        Ok(ops) => ops,
        Err(e) => {
            tracing::error!(tenant = %tenant_name, group = %key, error = %e, "alert state not serializable");
            return None;
        }
    };
    let alert_changes = !ops.is_empty();
    if status_now {
        match rule_kv::status_op(tenant_name, group, &status) {
            Ok(op) => ops.push(op),
            Err(e) => {
                tracing::warn!(tenant = %tenant_name, group = %key, error = %e, "group status not serializable")
            }
        }
    }
    if ops.is_empty() {
        return Some(state);
    }
    // A group deleted or replaced while it was evaluated keeps no state from this task:
    // the deletion removed its keys, and a replacement moved its alerts to the new rule
    // indexes; committing would write keys for the version that is gone. The check here
    // saves a proposal; the `Expect` makes it exact (the group may change between the two).
    let meta = sh.cluster.groups().meta();
    let group_key = state_keys::group_key(tenant_name, group);
    let committed = meta.kv_get(&group_key)?;
    if serde_json::from_str::<RuleGroup>(&committed).ok().as_ref() != Some(group.as_ref()) {
        return None;
    }
    ops.insert(
        0,
        KvOp::Expect {
            key: group_key,
            value: Some(committed),
        },
    );
    match commit(sh, ops).await {
        Ok(false) => None,
        Ok(true) => {
            if status_now {
                lock(&sh.board).committed(id, &status);
            }
            Some(state)
        }
        Err(e) => {
            tracing::warn!(tenant = %tenant_name, group = %key, error = %e, "committing alert state failed; reloading it before the next evaluation");
            // The in-memory state is ahead of the committed one: start again from what was
            // committed, as a new leader would.
            if alert_changes { None } else { Some(state) }
        }
    }
}

/// A group's alerts for the notification pipeline after the evaluation at `ts`.
pub fn group_notify_alerts(
    ctx: &RuleAlertContext,
    group: &RuleGroup,
    state: &GroupState,
    ts: i64,
    interval_ms: i64,
) -> Vec<cairn_alerting::notify::NotifyAlert> {
    group
        .rules
        .iter()
        .zip(&state.rules)
        .filter_map(|(rule, rs)| match rule {
            cairn_alerting::Rule::Alerting(r) => Some(rule_notify_alerts(
                ctx,
                &r.expr,
                rs.alerts.values(),
                ts,
                interval_ms,
            )),
            cairn_alerting::Rule::Recording(_) => None,
        })
        .flatten()
        .collect()
}

/// Commits a group's status alone (an evaluation that changed no alert).
async fn commit_status(sh: &Shared, id: &GroupId, group: &RuleGroup, status: GroupStatus) {
    let op = match rule_kv::status_op(&id.0, group, &status) {
        Ok(op) => op,
        Err(e) => {
            tracing::warn!(tenant = %id.0, group = %id.1, error = %e, "group status not serializable");
            return;
        }
    };
    match commit(sh, vec![op]).await {
        Ok(_) => lock(&sh.board).committed(id, &status),
        Err(e) => {
            tracing::debug!(tenant = %id.0, group = %id.1, error = %e, "committing group status failed")
        }
    }
}

#[cfg(test)]
#[path = "rule_manager/rule_manager_test.rs"]
mod tests;
