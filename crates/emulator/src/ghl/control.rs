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
//! | `POST /emulator/webhooks/sign` | body = the raw bytes of an event → `{"signature": "<base64 Ed25519>"}`, the `x-ghl-signature` value GHL would send |
//! | `GET /emulator/settings` | current runtime settings |
//! | `POST /emulator/settings` | JSON `{allowDuplicateContacts?, faults?: "429=0.1,…", rateMax?, rateIntervalMs?, dailyLimit?, searchLagMs?}` |
//! | `POST /emulator/reset-rate-limits` | forget consumed rate budgets |
//! | `GET /emulator/locations` | the company's locations → `{"locations": [{id, name, installed, installedAt, primary}]}` (never tokens) |
//! | `POST /emulator/locations` | JSON `{"id", "name"?, "token"?}`: add a location (token default `pit-<id>`) or reinstall an uninstalled one, and send a signed `INSTALL` webhook → 201 `{"location": …}`; 409 when already installed |
//! | `DELETE /emulator/locations/{id}` | uninstall the app from a location: its tokens answer 401 from then on, `installedLocations` reports `isInstalled: false`, a signed `UNINSTALL` webhook is sent → `{"location": …}`; 404 unknown, 409 not installed |
//! | `POST /emulator/truncate` | `{"after": N}`: every list and search returns at most N items in total across its pages, until `{"after": null}` → `{"after": N\|null}` |
//!
//! Truncation (to test a sync's mass-deletion guard) cuts a listing after sorting and
//! before paging, so the page that reaches N is the last one: `total`/`count` say N,
//! `nextPageUrl`/`nextPage` are null, later pages are empty. It applies to contact
//! search and the deprecated list, contacts by business, location task search,
//! per-contact tasks and notes, opportunity searches, and the generic layer's lists.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::state::GhlState;
use super::tenants::{LocationError, LocationSpec};
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
    search_lag_ms: Option<u64>,
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
    if let Some(ms) = update.search_lag_ms {
        state.set_search_lag(Duration::from_millis(ms));
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

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"statusCode": 400, "message": message.into()})),
    )
        .into_response()
}

/// `POST /emulator/truncate` with `{"after": N}` or `{"after": null}`.
pub async fn truncate(State(state): State<Arc<GhlState>>, body: axum::body::Bytes) -> Response {
    match crate::control::parse_truncate(&body) {
        Ok(after) => {
            state.set_truncate_after(after);
            Json(json!({ "after": after })).into_response()
        }
        Err(message) => bad_request(message),
    }
}

/// `POST /emulator/webhooks/sign`: the signature of the raw body.
pub async fn sign_webhook(
    State(state): State<Arc<GhlState>>,
    body: axum::body::Bytes,
) -> Json<Value> {
    Json(json!({ "signature": state.sign_webhook(&body) }))
}

pub async fn reset_rate_limits(State(state): State<Arc<GhlState>>) -> Json<Value> {
    state.reset_rate_limits();
    Json(json!({"reset": true}))
}

pub async fn locations(State(state): State<Arc<GhlState>>) -> Json<Value> {
    Json(json!({ "locations": state.locations() }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewLocation {
    id: String,
    name: Option<String>,
    token: Option<String>,
}

fn location_error(e: &LocationError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        Json(json!({"statusCode": status.as_u16(), "message": e.to_string()})),
    )
        .into_response()
}

/// `POST /emulator/locations` with `{"id", "name"?, "token"?}`.
pub async fn add_location(State(state): State<Arc<GhlState>>, body: axum::body::Bytes) -> Response {
    let new: NewLocation = match serde_json::from_slice(&body) {
        Ok(n) => n,
        Err(e) => {
            return bad_request(format!(
            "body must be {{\"id\": \"<location id>\", \"name\"?: \"…\", \"token\"?: \"…\"}}: {e}"
        ))
        }
    };
    let mut spec = LocationSpec::new(new.id);
    spec.name = new.name;
    spec.token = new.token;
    match state.install_location(spec) {
        Ok(info) => (StatusCode::CREATED, Json(json!({ "location": info }))).into_response(),
        Err(e) => location_error(&e),
    }
}

/// `DELETE /emulator/locations/{id}`.
pub async fn remove_location(
    State(state): State<Arc<GhlState>>,
    Path(id): Path<String>,
) -> Response {
    match state.uninstall_location(&id) {
        Ok(info) => Json(json!({ "location": info })).into_response(),
        Err(e) => location_error(&e),
    }
}
