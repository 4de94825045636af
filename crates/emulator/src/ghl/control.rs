//! Emulator control endpoints under `/emulator/` (not part of GHL; never faulted, never
//! rate limited, no token needed):
//!
//! | route | what |
//! |---|---|
//! | `GET /emulator/health` | `{"status":"ok"}` |
//! | `GET /emulator/stats` | request counts by status and operation, 429s served, faults injected, webhook deliveries, state sizes |
//! | `POST /emulator/expire-tokens` | expire every issued OAuth access token → `{"expired": n}` |
//! | `GET /emulator/webhook-public-key` | the Ed25519 public key (PEM) that verifies `x-ghl-signature` |
//! | `GET /emulator/webhooks` | every emitted event: body, signature, delivery status |
//! | `GET /emulator/settings` | current runtime settings |
//! | `POST /emulator/settings` | JSON `{allowDuplicateContacts?, faults?: "429=0.1,…", rateMax?, rateIntervalMs?, dailyLimit?}` |
//! | `POST /emulator/reset-rate-limits` | forget consumed rate budgets |

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::state::GhlState;
use crate::faults::FaultConfig;

pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn stats(State(state): State<Arc<GhlState>>) -> Json<Value> {
    Json(serde_json::to_value(state.stats()).unwrap_or(Value::Null))
}

pub async fn expire_tokens(State(state): State<Arc<GhlState>>) -> Json<Value> {
    Json(json!({"expired": state.expire_tokens()}))
}

pub async fn public_key(State(state): State<Arc<GhlState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        state.public_key_pem(),
    )
        .into_response()
}

pub async fn webhooks(State(state): State<Arc<GhlState>>) -> Json<Value> {
    Json(json!({"events": state.webhook_records()}))
}

pub async fn settings(State(state): State<Arc<GhlState>>) -> Json<Value> {
    Json(state.settings_json())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsUpdate {
    allow_duplicate_contacts: Option<bool>,
    faults: Option<String>,
    rate_max: Option<u32>,
    rate_interval_ms: Option<u64>,
    daily_limit: Option<u32>,
}

pub async fn update_settings(
    State(state): State<Arc<GhlState>>,
    body: axum::body::Bytes,
) -> Response {
    let update: SettingsUpdate = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"statusCode": 400, "message": e.to_string()})),
            )
                .into_response()
        }
    };
    if let Some(spec) = &update.faults {
        match FaultConfig::parse(spec) {
            Ok(f) => state.set_faults(f),
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"statusCode": 400, "message": e.to_string()})),
                )
                    .into_response()
            }
        }
    }
    if let Some(allow) = update.allow_duplicate_contacts {
        state.set_allow_duplicate_contacts(allow);
    }
    if update.rate_max.is_some()
        || update.rate_interval_ms.is_some()
        || update.daily_limit.is_some()
    {
        let current = state.limiter.settings();
        state.set_rate_limits(
            update.rate_max.unwrap_or(current.max),
            update
                .rate_interval_ms
                .map(Duration::from_millis)
                .unwrap_or(current.interval),
            update.daily_limit.unwrap_or(current.daily),
        );
    }
    Json(state.settings_json()).into_response()
}

pub async fn reset_rate_limits(State(state): State<Arc<GhlState>>) -> Json<Value> {
    state.reset_rate_limits();
    Json(json!({"reset": true}))
}
