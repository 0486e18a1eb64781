//! Notification endpoints: a tenant's `alertmanager.yml`, its silences and Alertmanager's API
//! v2 (so `amtool` and Grafana's Alertmanager data source work against Cairn), and alerts
//! posted from outside. Everything is kept in the meta group's key-value space
//! (`cairn_alerting::notify::notify_keys`); the decisions are pure functions of
//! `cairn_alerting::notify`, these handlers read, call them and propose.
//!
//! ```text
//!  PUT|GET|DELETE /api/v1/alerts/config  ─► am_config    ─► amconfig/{tenant}
//!  GET|POST /api/v2/silences, GET|DELETE /api/v2/silence/{id}
//!                                        ─► silences     ─► silences/{tenant}/{id}
//!  GET /api/v2/status, /api/v2/receivers ─► am_status    ◄─ amconfig/{tenant}
//!                                                        ◄─ the meta leader's senders' status
//!  GET /api/v2/alerts, /api/v2/alerts/groups
//!                                        ─► am_alerts    ◄─ the meta leader's board and planner
//!  (what only the meta leader knows: leader_forward sends other nodes' requests to it)
//!  POST /api/v1/alerts/external          ─► external_alerts (HMAC, allow-list)
//!                                                        ─► extalerts/{tenant}/{fp}
//! ```
//! Writes go through `Cluster::propose_kv` (forwarded to the meta leader); reads answer from
//! what this node has applied.

pub mod am_alerts;
pub mod am_config;
pub mod am_error;
pub mod am_status;
pub mod external_alerts;
pub mod leader_forward;
pub mod silences;
pub mod tenant_notify;

pub use am_error::AmError;
pub use tenant_notify::TenantNotify;
