//! `/api/v1/status/*`: what Prometheus reports about itself, in its shape, filled with what a
//! Cairn node knows (Go-specific fields get the nearest Rust equivalent or their zero value).

use axum::extract::State;
use axum::response::Response;
use serde_json::json;

use super::{SharedState, success};
use crate::timeparse::format_rfc3339_ms;

/// `GET /api/v1/status/buildinfo`
pub async fn buildinfo() -> Response {
    success(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "revision": "",
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    }))
}

/// `GET /api/v1/status/runtimeinfo`
pub async fn runtimeinfo(State(st): State<SharedState>) -> Response {
    let rt = tokio::runtime::Handle::current().metrics();
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let retention = match st.cfg.storage.retention_ms {
        0 => "unlimited".to_string(),
        ms => cairn_model::units::format_duration_ms(ms),
    };
    let started = format_rfc3339_ms(st.started_at_ms);
    success(json!({
        "startTime": started,
        "CWD": cwd,
        "hostname": hostname,
        "serverTime": format_rfc3339_ms(st.clock.now_ms()),
        // The configuration is read once at start; there is no reload yet.
        "reloadConfigSuccess": true,
        "lastConfigTime": started,
        "corruptionCount": 0,
        // Tokio's tasks and workers stand in for goroutines and GOMAXPROCS.
        "goroutineCount": rt.num_alive_tasks(),
        "GOMAXPROCS": rt.num_workers(),
        "GOMEMLIMIT": i64::MAX,
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": retention,
    }))
}
