//! `GET /api/v2/alerts` and `GET /api/v2/alerts/groups` (Alertmanager API v2), per tenant.
//!
//! ```text
//!  meta leader:  AlertBoard (rule alerts, with annotations) + extalerts/{tenant}/…
//!                + silences + config ─► alert_listing::list_alerts
//!                NotifyManager::alert_groups ─► alert_listing::list_groups
//!  other nodes:  the same request, forwarded to the meta leader's HTTP address
//! ```
//! Why forward rather than answer locally: annotations (summaries) and aggregation groups live
//! only on the meta leader, which evaluates the rules and runs the pipeline; the meta group
//! stores alert state without annotations, so a follower could not list them as `amtool alert
//! query` shows them.

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use cairn_alerting::notify::NotifyAlert;
use cairn_alerting::notify::alert_listing::{self, AlertFilter, ListingContext};
use cairn_alerting::notify::parse_matchers;

use super::leader_forward::{Forward, forward_to_leader};
use super::{AmError, TenantNotify};
use crate::api::{Params, SharedState, tenant_of};

/// `GET /api/v2/alerts`
pub async fn alerts(State(st): State<SharedState>, req: Request) -> Result<Response, AmError> {
    if let Some(forwarded) = forward_to_leader(&st, Forward::of(&req)).await? {
        return Ok(forwarded);
    }
    let tenant = tenant_of(req.headers())?;
    let filter = filter_of(&Params::from_request_query(&req))?;
    let view = TenantView::read(&st, tenant.as_str())?;
    let ctx = view.context(st.clock.now_ms());
    Ok(Json(alert_listing::list_alerts(&view.alerts, &ctx, &filter)).into_response())
}

/// `GET /api/v2/alerts/groups`
pub async fn groups(State(st): State<SharedState>, req: Request) -> Result<Response, AmError> {
    if let Some(forwarded) = forward_to_leader(&st, Forward::of(&req)).await? {
        return Ok(forwarded);
    }
    let tenant = tenant_of(req.headers())?;
    let filter = filter_of(&Params::from_request_query(&req))?;
    let view = TenantView::read(&st, tenant.as_str())?;
    let ctx = view.context(st.clock.now_ms());
    let groups = st.notify.alert_groups(tenant.as_str());
    Ok(Json(alert_listing::list_groups(&groups, &ctx, &filter)).into_response())
}

/// What a listing reads on the meta leader.
struct TenantView {
    alerts: Vec<NotifyAlert>,
    config: Option<cairn_alerting::notify::AlertmanagerConfig>,
    silences: Vec<cairn_alerting::notify::Silence>,
}

impl TenantView {
    fn read(st: &SharedState, tenant: &str) -> Result<TenantView, AmError> {
        let kv = TenantNotify::new(st.cluster.groups().meta(), tenant);
        let mut alerts = st.alert_board.tenant_alerts(tenant);
        alerts.extend(kv.external_alerts().into_iter().map(|(_, a)| a.to_alert()));
        let config = kv.config()?.map(|(_, c)| c);
        let silences = kv
            .silences()
            .iter()
            .filter_map(|s| s.to_silence().ok())
            .collect();
        Ok(TenantView {
            alerts,
            config,
            silences,
        })
    }

    fn context(&self, now_ms: i64) -> ListingContext<'_> {
        ListingContext {
            config: self.config.as_ref(),
            silences: &self.silences,
            all_alerts: &self.alerts,
            now_ms,
        }
    }
}

/// The API's filter parameters; a bad one is 400 naming it.
fn filter_of(params: &Params) -> Result<AlertFilter, AmError> {
    let flag = |name: &str| -> Result<bool, AmError> {
        match params.get(name) {
            None => Ok(true),
            Some(v) => v
                .parse::<bool>()
                .map_err(|_| AmError::bad_request(format!("{name}: {v:?} is not true or false"))),
        }
    };
    let mut matchers = Vec::new();
    for f in params.all("filter") {
        matchers
            .extend(parse_matchers(f).map_err(|e| AmError::bad_request(format!("filter: {e}")))?);
    }
    let receiver = params
        .get("receiver")
        .map(AlertFilter::receiver_regex)
        .transpose()
        .map_err(AmError::bad_request)?;
    Ok(AlertFilter {
        active: flag("active")?,
        silenced: flag("silenced")?,
        inhibited: flag("inhibited")?,
        matchers,
        receiver,
    })
}
