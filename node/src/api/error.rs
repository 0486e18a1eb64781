//! Error responses: Prometheus' JSON error format for the query and metadata API, and
//! InfluxDB's for the write endpoints.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error of the Prometheus-style API: `{"status":"error","errorType":...,"error":...}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn bad_data(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "bad_data",
            message: message.into(),
        }
    }

    /// 422: a valid query that cannot be evaluated (or is over a limit).
    pub fn execution(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            kind: "execution",
            message: message.into(),
        }
    }

    /// 503: the query ran out of time.
    pub fn timeout(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            kind: "timeout",
            message: message.into(),
        }
    }

    /// 404: what was asked for does not exist (or is switched off).
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            kind: "not_found",
            message: message.into(),
        }
    }

    /// 409: the request is understood but the cluster's state forbids it now.
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::CONFLICT,
            kind: "conflict",
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "internal",
            message: message.into(),
        }
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            kind: "unavailable",
            message: message.into(),
        }
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            kind: "bad_data",
            message: message.into(),
        }
    }
}

impl From<cairn_model::Error> for ApiError {
    fn from(e: cairn_model::Error) -> Self {
        if e.is_bad_input() {
            ApiError::bad_data(e.to_string())
        } else {
            tracing::error!(error = %e, "corrupt data");
            ApiError::internal(e.to_string())
        }
    }
}

impl From<cairn_storage::Error> for ApiError {
    fn from(e: cairn_storage::Error) -> Self {
        match e {
            cairn_storage::Error::Model(m) => m.into(),
            cairn_storage::Error::ShutDown => ApiError::unavailable(e.to_string()),
            other => {
                tracing::error!(error = %other, "storage error");
                ApiError::internal(other.to_string())
            }
        }
    }
}

/// A failure on the way to the Raft groups or peers: 503 naming the shard when asking again
/// can help (a leader change, no quorum yet, a peer down), 400 for a bad label set, else a
/// logged 500.
impl From<crate::error::Error> for ApiError {
    fn from(e: crate::error::Error) -> Self {
        use crate::error::Error as E;
        match e {
            E::Model(m) => m.into(),
            E::Storage(s) => s.into(),
            e if e.is_retryable() => ApiError::unavailable(e.naming_the_shard()),
            other => {
                tracing::error!(error = %other, "request failed");
                ApiError::internal(other.to_string())
            }
        }
    }
}

/// Prometheus' mapping: bad input is `bad_data` (400), a valid query that cannot be evaluated
/// or is over a limit is `execution` (422), running out of time is `timeout` (503).
impl From<cairn_query::Error> for ApiError {
    fn from(e: cairn_query::Error) -> Self {
        use cairn_query::Error as E;
        match e {
            E::Model(m) => m.into(),
            E::Unavailable { .. } => ApiError::unavailable(e.to_string()),
            E::Read { .. } => {
                tracing::error!(error = %e, "reading series failed");
                ApiError::internal(e.to_string())
            }
            E::Parse { .. } | E::InvalidSelector { .. } => ApiError::bad_data(e.to_string()),
            E::Execution { .. } | E::Unsupported { .. } | E::Limit { .. } => {
                ApiError::execution(e.to_string())
            }
            E::Timeout { .. } => ApiError::timeout(e.to_string()),
        }
    }
}

/// 400 for input that failed validation with several errors (rule files, an
/// `alertmanager.yml`): Prometheus' error shape, every error's text joined in `error`, and
/// each one as a record (file, line, key...) in `errors`.
pub fn invalid_response<E: std::fmt::Display>(
    errors: &[E],
    record: impl Fn(&E) -> serde_json::Value,
) -> Response {
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let records: Vec<serde_json::Value> = errors.iter().map(record).collect();
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "status": "error",
            "errorType": "bad_data",
            "error": text.join("\n"),
            "errors": records,
        })),
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, error = %self.message, "request failed");
        }
        (
            self.status,
            Json(json!({"status": "error", "errorType": self.kind, "error": self.message})),
        )
            .into_response()
    }
}

/// An error of the write endpoints, in InfluxDB's shape plus Cairn's counts:
/// `{"code":"invalid","message":...,"line":N,"written":K,"rejected":R}`.
#[derive(Debug)]
pub struct WriteError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub line: Option<usize>,
    pub written: u64,
    pub rejected: u64,
}

impl WriteError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        WriteError {
            status,
            code,
            message: message.into(),
            line: None,
            written: 0,
            rejected: 0,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message)
    }
}

impl From<ApiError> for WriteError {
    fn from(e: ApiError) -> Self {
        let code = match e.status {
            StatusCode::PAYLOAD_TOO_LARGE => "request too large",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            s if s.is_client_error() => "invalid",
            _ => "internal error",
        };
        WriteError::new(e.status, code, e.message)
    }
}

impl IntoResponse for WriteError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, error = %self.message, "write failed");
        }
        (
            self.status,
            Json(json!({
                "code": self.code,
                "message": self.message,
                "line": self.line,
                "written": self.written,
                "rejected": self.rejected,
            })),
        )
            .into_response()
    }
}
