//! The Sellsy error envelope: `{"error":{"code","message","context","details"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// Field path → human message, as Sellsy puts it in `error.details`.
pub type Details = Map<String, Value>;

/// An error answered with Sellsy's JSON envelope.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub context: String,
    pub details: Box<Details>,
}

impl ApiError {
    pub fn new(status: StatusCode, context: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            context: context.to_string(),
            details: Box::default(),
        }
    }

    /// 400 naming the offending fields.
    pub fn invalid(details: Details) -> Self {
        let fields: Vec<&str> = details.keys().map(String::as_str).collect();
        let message = format!("Invalid or missing fields: {}", fields.join(", "));
        ApiError {
            details: Box::new(details),
            ..ApiError::new(StatusCode::BAD_REQUEST, "validation_error", message)
        }
    }

    /// 400 for one field.
    pub fn invalid_field(field: &str, problem: impl Into<String>) -> Self {
        let mut details = Details::new();
        details.insert(field.to_string(), Value::String(problem.into()));
        ApiError::invalid(details)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} {id} not found"),
        )
    }

    pub fn route_not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "route_not_found", "No such endpoint")
    }

    pub fn method_not_allowed() -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed on this endpoint",
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "authentication", message)
    }

    pub fn quota_exceeded(window: &str) -> Self {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "quota_exceeded",
            format!("API request quota reached for the current {window}"),
        )
    }

    pub fn plan_limit(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::PAYMENT_REQUIRED, "plan_quota_reached", message)
    }

    pub fn too_large() -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Request body too large",
        )
    }

    pub fn body(&self) -> Value {
        json!({
            "error": {
                "code": self.status.as_u16(),
                "message": self.message,
                "context": self.context,
                "details": Value::Object((*self.details).clone()),
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// Builds a [`Details`] map as validation goes.
#[derive(Debug, Default)]
pub struct Problems {
    details: Details,
}

impl Problems {
    pub fn add(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.details
            .entry(field.into())
            .or_insert_with(|| Value::String(problem.into()));
    }

    pub fn into_result(self) -> Result<(), ApiError> {
        if self.details.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(self.details))
        }
    }
}
