//! Bearer-token check for `/v2`: the token must be one of our HS256 JWTs, unexpired.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::jwt::Rejection;
use super::SellsyState;

pub async fn require_bearer(
    State(state): State<Arc<SellsyState>>,
    request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(token) = token else {
        return ApiError::unauthorized("Missing bearer access token").into_response();
    };
    match state.verify_access_token(token) {
        Ok(_) => next.run(request).await,
        Err(Rejection::Expired) => {
            ApiError::unauthorized("The access token has expired").into_response()
        }
        Err(Rejection::BadSignature | Rejection::Malformed) => {
            ApiError::unauthorized("The access token is invalid").into_response()
        }
    }
}
