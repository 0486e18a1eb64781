//! Helpers for the alerting tests: rule groups through the rules API, the time, instant
//! queries.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use crate::{client, prom_api};

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `PUT /api/v1/rules/{name}` with one group in YAML, as `tenant`; fails unless 2xx.
pub fn put_group(url: &str, tenant: &str, name: &str, yaml: &str) -> anyhow::Result<()> {
    let resp = client()
        .put(format!("{url}/api/v1/rules/{name}"))
        .header("X-Scope-OrgID", tenant)
        .header("Content-Type", "application/yaml")
        .body(yaml.to_string())
        .send()
        .context("sending the rule group")?;
    let status = resp.status();
    if !status.is_success() {
        bail!(
            "PUT /api/v1/rules/{name}: {status}: {}",
            resp.text().unwrap_or_default()
        );
    }
    Ok(())
}

/// The instant vector `query` returns for `tenant` now (empty on any failure).
pub fn vector(url: &str, tenant: &str, query: &str) -> Vec<serde_json::Value> {
    match prom_api(
        url,
        Some(tenant),
        false,
        "/api/v1/query",
        &[("query", query)],
    ) {
        Ok((200, v)) => v["data"]["result"].as_array().cloned().unwrap_or_default(),
        _ => Vec::new(),
    }
}
