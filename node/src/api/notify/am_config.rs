//! `PUT|GET|DELETE /api/v1/alerts/config`: a tenant's notification configuration.
//!
//! ```text
//!  PUT  body: alertmanager.yml, or Mimir's {alertmanager_config, template_files} (YAML)
//!       ─► ConfigUpload::validate (the file, templates, allowed_ips): 400 with every error
//!       ─► one Put of StoredConfig at amconfig/{tenant} (replaced atomically)
//!  GET  ─► Mimir's form (YAML), 404 without one;  DELETE ─► removed
//! ```

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_alerting::notify::config::ConfigError;
use cairn_alerting::notify::config_upload::ConfigUpload;
use cairn_alerting::notify::notify_keys::{self, StoredConfig};
use cairn_consensus::KvOp;
use serde_json::json;

use super::TenantNotify;
use crate::api::{ApiError, SharedState, invalid_response, success, tenant_of};

/// A failed configuration request: an API error, or a configuration that does not validate
/// (400 with every error, as text and as records).
#[derive(Debug)]
pub enum ConfigRequestError {
    Api(ApiError),
    Invalid(Vec<ConfigError>),
}

impl From<ApiError> for ConfigRequestError {
    fn from(e: ApiError) -> Self {
        ConfigRequestError::Api(e)
    }
}

impl From<crate::error::Error> for ConfigRequestError {
    fn from(e: crate::error::Error) -> Self {
        ConfigRequestError::Api(e.into())
    }
}

impl IntoResponse for ConfigRequestError {
    fn into_response(self) -> Response {
        match self {
            ConfigRequestError::Api(e) => e.into_response(),
            ConfigRequestError::Invalid(errors) => invalid_response(&errors, |e| {
                json!({
                            "path": e.path,
                            "line": e.line,
                            "column": e.column,
                            "message": e.message,
                })
            }),
        }
    }
}

/// `PUT /api/v1/alerts/config`
pub async fn put(
    State(st): State<SharedState>,
    req: Request,
) -> Result<Response, ConfigRequestError> {
    let tenant = tenant_of(req.headers())?;
    let text = body_text(&st, req).await?;
    let upload =
        ConfigUpload::from_body(&text).map_err(|e| ConfigRequestError::Invalid(vec![e]))?;
    let config = upload.validate().map_err(ConfigRequestError::Invalid)?;
    let stored = StoredConfig {
        alertmanager_config: upload.alertmanager_config,
        template_files: upload.template_files,
        applied_at_ms: st.clock.now_ms(),
    };
    let value = serde_json::to_string(&stored)
        .map_err(|e| ApiError::internal(format!("encoding the configuration: {e}")))?;
    st.cluster
        .propose_kv(vec![KvOp::Put {
            key: notify_keys::config_key(tenant.as_str()),
            value,
        }])
        .await?;
    let receivers: Vec<&str> = config.receivers.iter().map(|r| r.name.as_str()).collect();
    Ok(success(json!({
        "receivers": receivers,
        "templateFiles": stored.template_files.keys().collect::<Vec<_>>(),
    })))
}

/// `GET /api/v1/alerts/config`: Mimir's form, as YAML.
pub async fn get(State(st): State<SharedState>, req: Request) -> Result<Response, ApiError> {
    let tenant = tenant_of(req.headers())?;
    let Some(stored) =
        TenantNotify::new(st.cluster.groups().meta(), tenant.as_str()).stored_config()?
    else {
        return Err(no_config(tenant.as_str()));
    };
    let upload = ConfigUpload {
        alertmanager_config: stored.alertmanager_config,
        template_files: stored.template_files,
    };
    Ok((
        [(header::CONTENT_TYPE, "application/yaml")],
        upload.to_yaml(),
    )
        .into_response())
}

/// `DELETE /api/v1/alerts/config`: the tenant has no configuration afterwards (a success
/// when it had none, as Mimir answers).
pub async fn delete(State(st): State<SharedState>, req: Request) -> Result<Response, ApiError> {
    let tenant = tenant_of(req.headers())?;
    st.cluster
        .propose_kv(vec![KvOp::Delete {
            key: notify_keys::config_key(tenant.as_str()),
        }])
        .await?;
    Ok(success(json!({})))
}

pub fn no_config(tenant: &str) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        kind: "not_found",
        message: format!("tenant {tenant:?} has no alerting configuration"),
    }
}

pub async fn body_text(st: &SharedState, req: Request) -> Result<String, ApiError> {
    let bytes = body_bytes(st, req).await?;
    String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::bad_data("the body is not UTF-8"))
}

pub async fn body_bytes(st: &SharedState, req: Request) -> Result<bytes::Bytes, ApiError> {
    let max = st.cfg.limits.max_body_bytes as usize;
    axum::body::to_bytes(req.into_body(), max)
        .await
        .map_err(|e| ApiError::too_large(format!("reading the body: {e}")))
}
