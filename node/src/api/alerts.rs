//! `GET /api/v1/alerts`: the tenant's active (pending and firing) alerts in Prometheus' JSON
//! (`AlertDiscovery`), from the alert state committed to the meta group, so every node
//! answers the same. Alerts posted from outside (`POST /api/v1/alerts/external`) that have
//! not resolved are listed after them, as firing.

use axum::extract::{Request, State};
use axum::response::Response;

use super::notify::TenantNotify;
use super::rules::rules_json::{AlertJson, alert_discovery};
use super::rules::success_typed;
use super::rules::tenant_rules::TenantRules;
use super::{ApiError, SharedState, tenant_of};
use crate::timeparse::format_rfc3339_ms;

/// `GET|POST /api/v1/alerts`
pub async fn list(State(st): State<SharedState>, req: Request) -> Result<Response, ApiError> {
    let tenant = tenant_of(req.headers())?;
    let meta = st.cluster.groups().meta();
    let current = TenantRules::read(meta, tenant.as_str());
    let mut discovery = alert_discovery(&current);
    let now = st.clock.now_ms();
    for (_, a) in TenantNotify::new(meta, tenant.as_str()).external_alerts() {
        if a.ends_at_ms <= now {
            continue;
        }
        discovery.alerts.push(AlertJson {
            labels: a.labels,
            annotations: a.annotations,
            state: "firing",
            active_at: format_rfc3339_ms(a.starts_at_ms),
            keep_firing_since: None,
            // An external alert has no sample value; Prometheus writes 0 as this.
            value: "0e+00".to_string(),
        });
    }
    Ok(success_typed(discovery))
}
