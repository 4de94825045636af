//! Error answers in GHL's shapes.
//!
//! The bodies follow `common/common-schemas.json` and the NestJS defaults GHL runs on:
//! - 400 `{"statusCode":400,"message":"…"}` (duplicate contacts add `meta`);
//! - 401 `{"statusCode":401,"message":"…","error":"Unauthorized"}`;
//! - 404 for unknown routes: NestJS `{"statusCode":404,"message":"Cannot GET /x","error":"Not Found"}`;
//! - 422 `{"statusCode":422,"message":["…"],"error":"Unprocessable Entity"}`;
//! - 429 `{"statusCode":429,"message":"Too Many Requests"}`;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// Message of the 401 for a missing, unknown or expired token.
pub const INVALID_TOKEN: &str = "Invalid token: access token is invalid";
/// Message of the 401 for a wrong token type or a missing scope.
pub const NOT_AUTHORIZED_FOR_SCOPE: &str = "The token is not authorized for this scope.";
/// Message of the 400 for a duplicate contact.
pub const DUPLICATE_CONTACT: &str = "This location does not allow duplicated contacts.";

/// Every way a GHL request can fail.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    #[error("Cannot {method} {path}")]
    RouteNotFound { method: String, path: String },
    #[error("{INVALID_TOKEN}")]
    InvalidToken,
    #[error("{NOT_AUTHORIZED_FOR_SCOPE}")]
    NotAuthorizedForScope,
    #[error("The token does not have access to this location.")]
    LocationForbidden,
    #[error("Too Many Requests")]
    RateLimited,
    #[error("{0}")]
    BadRequest(String),
    #[error("{DUPLICATE_CONTACT}")]
    DuplicateContact {
        contact_id: String,
        contact_name: String,
        matching_field: &'static str,
    },
    #[error("validation failed: {}", .0.join("; "))]
    Unprocessable(Vec<String>),
    /// OAuth token-endpoint errors: RFC 6749 `error`/`error_description` plus the
    /// `statusCode`/`message` pair GHL's other errors carry.
    #[error("{description}")]
    OAuth {
        status: u16,
        error: &'static str,
        description: String,
    },
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(message.into())
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        ApiError::Unprocessable(vec![message.into()])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::RouteNotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::InvalidToken | ApiError::NotAuthorizedForScope => StatusCode::UNAUTHORIZED,
            ApiError::LocationForbidden => StatusCode::FORBIDDEN,
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadRequest(_) | ApiError::DuplicateContact { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::OAuth { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn body(&self) -> Value {
        let code = self.status().as_u16();
        match self {
            ApiError::RouteNotFound { .. } => {
                json!({"statusCode": code, "message": self.to_string(), "error": "Not Found"})
            }
            ApiError::InvalidToken | ApiError::NotAuthorizedForScope => {
                json!({"statusCode": code, "message": self.to_string(), "error": "Unauthorized"})
            }
            ApiError::LocationForbidden => {
                json!({"statusCode": code, "message": self.to_string(), "error": "Forbidden"})
            }
            ApiError::DuplicateContact {
                contact_id,
                contact_name,
                matching_field,
            } => json!({
                "statusCode": code,
                "message": DUPLICATE_CONTACT,
                "meta": {"contactId": contact_id, "contactName": contact_name, "matchingField": matching_field},
            }),
            ApiError::Unprocessable(messages) => {
                json!({"statusCode": code, "message": messages, "error": "Unprocessable Entity"})
            }
            ApiError::OAuth {
                error, description, ..
            } => json!({
                "statusCode": code,
                "message": description,
                "error": error,
                "error_description": description,
            }),
            ApiError::Internal(_) => {
                json!({"statusCode": code, "message": "Internal server error"})
            }
            ApiError::RateLimited | ApiError::BadRequest(_) => {
                json!({"statusCode": code, "message": self.to_string()})
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // GHL returns a traceId with every response, errors included.
        let mut body = self.body();
        if let Value::Object(map) = &mut body {
            map.entry("traceId")
                .or_insert_with(|| Value::String(super::ids::trace_id()));
        }
        (self.status(), Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_the_common_schemas() {
        assert_eq!(
            ApiError::InvalidToken.body(),
            json!({"statusCode":401,"message":"Invalid token: access token is invalid","error":"Unauthorized"})
        );
        assert_eq!(
            ApiError::RouteNotFound {
                method: "GET".into(),
                path: "/x".into()
            }
            .body(),
            json!({"statusCode":404,"message":"Cannot GET /x","error":"Not Found"})
        );
        assert_eq!(
            ApiError::unprocessable("property gender should not exist").body()["message"],
            json!(["property gender should not exist"])
        );
        let dup = ApiError::DuplicateContact {
            contact_id: "c1".into(),
            contact_name: "Ada".into(),
            matching_field: "email",
        };
        assert_eq!(dup.status(), StatusCode::BAD_REQUEST);
        assert_eq!(dup.body()["meta"]["matchingField"], "email");
    }
}
