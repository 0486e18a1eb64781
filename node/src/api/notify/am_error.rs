//! Errors of Alertmanager's API v2 as Alertmanager writes them: the status code and the
//! message as a JSON string (go-swagger's payload), which `amtool` prints.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::api::ApiError;

#[derive(Debug)]
pub struct AmError {
    pub status: StatusCode,
    pub message: String,
}

impl AmError {
    pub fn bad_request(message: impl Into<String>) -> AmError {
        AmError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> AmError {
        AmError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

/// The tenant header, a body too large, the meta group unavailable: the same status, the
/// message in Alertmanager's form.
impl From<ApiError> for AmError {
    fn from(e: ApiError) -> Self {
        AmError {
            status: e.status,
            message: e.message,
        }
    }
}

impl From<crate::error::Error> for AmError {
    fn from(e: crate::error::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for AmError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, error = %self.message, "request failed");
        }
        (self.status, Json(self.message)).into_response()
    }
}
