//! The rules API: a tenant's rule groups, kept in the meta group's key-value space.
//!
//! ```text
//!  PUT    /api/v1/rules/{group}[?file=]  one group (YAML, Mimir's ruler format) ─┐
//!  PUT    /api/v1/rules                  {"files":[{name, content}]}: all groups ├► rule_ops ─► one Kv
//!  DELETE /api/v1/rules/{group}[?file=]  a group, its alerts and status         ─┘   command
//!                                            ─► Cluster::propose_kv (the meta leader, forwarded)
//!  GET    /api/v1/rules                  Prometheus' RuleDiscovery (rules_json) ◄─ TenantRules
//!  GET    /api/v1/cluster/rules          every tenant's groups (for `cairn rules list`)
//! ```
//! Reads answer from the meta KV as this node has applied it (a write answered by any node
//! has been applied on that node before it answers). Bad rules are a 400 listing every
//! error with its file, line, group and rule.

pub mod rule_ops;
pub mod rules_json;
pub mod tenant_rules;

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_alerting::RuleGroup;
use cairn_alerting::rule_file::{self, RuleError, RuleFileError};
use cairn_alerting::state_keys;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiError, Params, SharedState, invalid_response, tenant_of};
use rule_ops::GroupChange;
use rules_json::RulesFilter;
use tenant_rules::TenantRules;

/// The file recorded for a group written through `PUT /api/v1/rules/{group}` without `?file=`.
pub const API_FILE: &str = "api";

/// A failed rules request: an API error, or rule files that do not validate (400 with every
/// error, as text and as records).
#[derive(Debug)]
pub enum RulesError {
    Api(ApiError),
    Invalid(Vec<RuleError>),
}

impl From<ApiError> for RulesError {
    fn from(e: ApiError) -> Self {
        RulesError::Api(e)
    }
}

impl From<crate::error::Error> for RulesError {
    fn from(e: crate::error::Error) -> Self {
        RulesError::Api(e.into())
    }
}

impl From<RuleFileError> for RulesError {
    fn from(e: RuleFileError) -> Self {
        RulesError::Invalid(e.errors)
    }
}

impl IntoResponse for RulesError {
    fn into_response(self) -> Response {
        match self {
            RulesError::Api(e) => e.into_response(),
            RulesError::Invalid(errors) => invalid_response(&errors, |e| {
                json!({
                            "file": e.file,
                            "line": e.line,
                            "column": e.column,
                            "group": e.group,
                            "ruleIndex": e.rule_index,
                            "rule": e.rule_name,
                            "message": e.message,
                })
            }),
        }
    }
}

/// `{"status":"success","data":...}` with `data`'s fields in their declared order.
#[derive(Serialize)]
struct Success<T: Serialize> {
    status: &'static str,
    data: T,
}

pub(crate) fn success_typed<T: Serialize>(data: T) -> Response {
    Json(Success {
        status: "success",
        data,
    })
    .into_response()
}

#[derive(Serialize)]
struct Changes {
    groups: Vec<GroupChange>,
}

/// `PUT /api/v1/rules/{group}[?file=F]`: the body is one group in YAML; it replaces the
/// tenant's group of key `F;{group}` (F defaults to `api`).
pub async fn put_group(
    State(st): State<SharedState>,
    Path(name): Path<String>,
    req: Request,
) -> Result<Response, RulesError> {
    let tenant = tenant_of(req.headers())?;
    let params = Params::from_request_query(&req);
    let file = file_param(&params)?.unwrap_or(API_FILE).to_string();
    let text = body_text(&st, req).await?;
    let group = rule_file::parse_group(&file, &text)?;
    if group.name != name {
        return Err(ApiError::bad_data(format!(
            "the path names group {name:?} but the body's group is named {:?}",
            group.name
        ))
        .into());
    }
    let current = TenantRules::read(st.cluster.groups().meta(), tenant.as_str());
    let (ops, change) = rule_ops::replace_group(&current, &group);
    if !ops.is_empty() {
        st.cluster.propose_kv(ops).await?;
    }
    Ok(success_typed(Changes {
        groups: vec![change],
    }))
}

/// `DELETE /api/v1/rules/{group}[?file=F]`: deletes the group with its alerts and status.
/// Without `?file=`, the group of that name in whichever file (400 if several files have
/// one); 404 if there is none.
pub async fn delete_group(
    State(st): State<SharedState>,
    Path(name): Path<String>,
    req: Request,
) -> Result<Response, RulesError> {
    let tenant = tenant_of(req.headers())?;
    let params = Params::from_request_query(&req);
    let file = file_param(&params)?;
    let current = TenantRules::read(st.cluster.groups().meta(), tenant.as_str());
    let found: Vec<&RuleGroup> = current
        .groups
        .iter()
        .filter(|g| g.name == name && file.is_none_or(|f| g.file == f))
        .collect();
    let group = match found.as_slice() {
        [] => {
            return Err(ApiError {
                status: StatusCode::NOT_FOUND,
                kind: "not_found",
                message: match file {
                    Some(f) => format!("no rule group {name:?} in file {f:?}"),
                    None => format!("no rule group {name:?}"),
                },
            }
            .into());
        }
        [g] => *g,
        several => {
            let files: Vec<&str> = several.iter().map(|g| g.file.as_str()).collect();
            return Err(ApiError::bad_data(format!(
                "rule group {name:?} is in several files ({}): say which with ?file=",
                files.join(", ")
            ))
            .into());
        }
    };
    let (ops, change) = rule_ops::delete_group(tenant.as_str(), group);
    st.cluster.propose_kv(ops).await?;
    Ok(success_typed(Changes {
        groups: vec![change],
    }))
}

/// The body of `PUT /api/v1/rules`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFiles {
    pub files: Vec<NamedFile>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NamedFile {
    pub name: String,
    pub content: String,
}

/// `PUT /api/v1/rules`: validates every file (all their errors in one 400), then makes
/// their groups all of the tenant's groups in one command.
pub async fn put_all(State(st): State<SharedState>, req: Request) -> Result<Response, RulesError> {
    let tenant = tenant_of(req.headers())?;
    let text = body_text(&st, req).await?;
    let body: RuleFiles = serde_json::from_str(&text)
        .map_err(|e| ApiError::bad_data(format!("request body: {e}")))?;
    let groups = parse_files(&body.files)?;
    let current = TenantRules::read(st.cluster.groups().meta(), tenant.as_str());
    let (ops, changes) = rule_ops::replace_all(&current, &groups);
    if !ops.is_empty() {
        st.cluster.propose_kv(ops).await?;
    }
    Ok(success_typed(Changes { groups: changes }))
}

/// Every group of `files`, or every error of every file.
pub fn parse_files(files: &[NamedFile]) -> Result<Vec<RuleGroup>, RulesError> {
    let mut seen = BTreeSet::new();
    let mut groups = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        if f.name.is_empty() {
            return Err(ApiError::bad_data("a file without a name").into());
        }
        if !seen.insert(f.name.as_str()) {
            return Err(ApiError::bad_data(format!("file {:?} is given twice", f.name)).into());
        }
        match rule_file::parse_rule_file(&f.name, &f.content) {
            Ok(parsed) => groups.extend(parsed.groups),
            Err(e) => errors.extend(e.errors),
        }
    }
    if !errors.is_empty() {
        return Err(RulesError::Invalid(errors));
    }
    Ok(groups)
}

/// `GET|POST /api/v1/rules`: Prometheus' rule listing, with its filters.
pub async fn list(State(st): State<SharedState>, req: Request) -> Result<Response, ApiError> {
    let tenant = tenant_of(req.headers())?;
    let params = Params::from_request(req, st.cfg.limits.max_body_bytes as usize).await?;
    let filter = rules_filter(&params)?;
    let current = TenantRules::read(st.cluster.groups().meta(), tenant.as_str());
    Ok(success_typed(rules_json::rule_discovery(
        &current,
        &filter,
        st.cfg.rules.evaluation_interval_ms as i64,
    )))
}

/// The filters of `/api/v1/rules`, refused as Prometheus refuses them.
pub fn rules_filter(params: &Params) -> Result<RulesFilter, ApiError> {
    let mut f = RulesFilter::default();
    match params.get("type").map(str::to_lowercase).as_deref() {
        None | Some("") => {}
        Some("alert") => f.alerting_only = true,
        Some("record") => f.recording_only = true,
        Some(other) => {
            return Err(ApiError::bad_data(format!(
                "invalid parameter \"type\": not supported value {other:?}"
            )));
        }
    }
    let set = |name: &str| -> BTreeSet<String> {
        params.all(name).into_iter().map(str::to_string).collect()
    };
    f.rule_names = set("rule_name[]");
    f.groups = set("rule_group[]");
    f.files = set("file[]");
    f.matchers = params
        .all("match[]")
        .into_iter()
        .map(|s| cairn_query::parse_selector(s).map_err(ApiError::from))
        .collect::<Result<_, _>>()?;
    f.exclude_alerts = match params.get("exclude_alerts").map(str::to_lowercase).as_deref() {
        None | Some("") => false,
        Some(v) => parse_go_bool(v).ok_or_else(|| {
            ApiError::bad_data(format!(
                "invalid parameter \"exclude_alerts\": error converting exclude_alerts: strconv.ParseBool: parsing {v:?}: invalid syntax"
            ))
        })?,
    };
    Ok(f)
}

/// Go's `strconv.ParseBool` (on a lowercased value).
fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "true" => Some(true),
        "0" | "f" | "false" => Some(false),
        _ => None,
    }
}

/// One group in the cluster-wide listing.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct ClusterGroup {
    pub tenant: String,
    pub file: String,
    pub group: String,
    pub rules: usize,
    /// Seconds.
    pub interval: f64,
}

/// `GET /api/v1/cluster/rules`: every tenant's groups. Cluster-wide: the coming auth must
/// allow it to admins only.
pub async fn cluster_list(State(st): State<SharedState>) -> Response {
    let entries = st.cluster.groups().meta().kv_scan(state_keys::RULES);
    let default_ms = st.cfg.rules.evaluation_interval_ms as i64;
    let mut groups: Vec<ClusterGroup> = entries
        .iter()
        .filter_map(|(key, value)| {
            let tenant = key.strip_prefix(state_keys::RULES)?.split_once('/')?.0;
            let g: RuleGroup = serde_json::from_str(value)
                .inspect_err(
                    |e| tracing::warn!(key, error = %e, "a rule group that does not parse"),
                )
                .ok()?;
            Some(ClusterGroup {
                tenant: tenant.to_string(),
                file: g.file,
                group: g.name,
                rules: g.rules.len(),
                interval: g.interval_ms.unwrap_or(default_ms) as f64 / 1000.0,
            })
        })
        .collect();
    groups.sort_by(|a, b| (&a.tenant, &a.file, &a.group).cmp(&(&b.tenant, &b.file, &b.group)));
    success_typed(json!({ "groups": groups }))
}

fn file_param(params: &Params) -> Result<Option<&str>, ApiError> {
    match params.get("file") {
        Some("") => Err(ApiError::bad_data("invalid parameter \"file\": empty")),
        other => Ok(other),
    }
}

async fn body_text(st: &SharedState, req: Request) -> Result<String, ApiError> {
    let max = st.cfg.limits.max_body_bytes as usize;
    let bytes = axum::body::to_bytes(req.into_body(), max)
        .await
        .map_err(|e| ApiError::too_large(format!("reading the body: {e}")))?;
    String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::bad_data("the body is not UTF-8"))
}
