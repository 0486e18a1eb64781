//! `GET /api/v1/alerts`: the tenant's active (pending and firing) alerts in Prometheus' JSON
//! (`AlertDiscovery`), from the alert state committed to the meta group, so every node
//! answers the same.

use axum::extract::{Request, State};
use axum::response::Response;

use super::rules::rules_json::alert_discovery;
use super::rules::success_typed;
use super::rules::tenant_rules::TenantRules;
use super::{ApiError, SharedState, tenant_of};

/// `GET|POST /api/v1/alerts`
pub async fn list(State(st): State<SharedState>, req: Request) -> Result<Response, ApiError> {
    let tenant = tenant_of(req.headers())?;
    let current = TenantRules::read(st.cluster.groups().meta(), tenant.as_str());
    Ok(success_typed(alert_discovery(&current)))
}
