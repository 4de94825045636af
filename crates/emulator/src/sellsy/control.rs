//! Emulator control endpoints under `/emulator/` (not part of Sellsy; beside `/v2`, so
//! never faulted, never counted against the quotas, no token needed):
//!
//! | route | what |
//! |---|---|
//! | `GET /emulator/health` | `{"status":"ok"}` |
//! | `GET /emulator/stats` | requests by status and by operation id (`hlbridge_sellsy::TABLE`), 429s served (`rateLimited`) and quota refusals among them (`quotaRefused`), faults injected, webhook deliveries, state sizes — the shape of the GHL emulator's |
//! | `POST /emulator/truncate` | `{"after": N}`: every list and search returns at most N items in total across its pages, until `{"after": null}` → `{"after": N\|null}` |
//! | `POST /emulator/webhooks/sign` | body = the raw bytes of a notification → `{"signature": "<hex sha1(secret + body)>"}`, the `X-Webhook-Signature` value Sellsy would send |
//!
//! Truncation (to test a sync's mass-deletion guard) cuts every listing after sorting
//! and before paging: `pagination.total` is at most N and the page that reaches N is
//! the last (a seek past it or an offset beyond N answers no rows).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::error::ApiError;
use super::paging;
use super::SellsyState;

pub fn routes() -> Router<Arc<SellsyState>> {
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/stats", get(stats))
        .route("/truncate", post(truncate))
        .route("/webhooks/sign", post(sign))
}

async fn stats(State(state): State<Arc<SellsyState>>) -> Json<Value> {
    Json(serde_json::to_value(state.stats()).unwrap_or(Value::Null))
}

async fn truncate(State(state): State<Arc<SellsyState>>, body: Bytes) -> Response {
    match crate::control::parse_truncate(&body) {
        Ok(after) => {
            state.set_truncate_after(after);
            Json(json!({ "after": after })).into_response()
        }
        Err(message) => ApiError::bad_request(message).into_response(),
    }
}

async fn sign(State(state): State<Arc<SellsyState>>, body: Bytes) -> Json<Value> {
    Json(json!({ "signature": state.sign_webhook(&body) }))
}

/// Middleware on `/v2`: listings served during the request honour the truncation.
pub async fn truncation(
    State(state): State<Arc<SellsyState>>,
    request: Request,
    next: Next,
) -> Response {
    paging::with_truncation(state.truncate_after(), next.run(request)).await
}
