//! The webhook inbox: `POST /webhooks/ghl` and `POST /webhooks/sellsy`. A verified,
//! fresh, new event is stored in `webhook_events` before the 200 answer; the
//! [`processor`] works through the table. Answers:
//! - 200 `{"status":"queued"}` (stored) or `{"status":"duplicate"}` (already had it);
//! - 401 forged or unsigned, 400 malformed or stale, 413 too large (nothing stored);
//! - 429 with `Retry-After` when the queue is full or the row cannot be stored (GHL
//!   retries only 429);
//! - 404 when the app's key or secret is not configured.

pub mod processor;
pub mod store;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::AppState;
pub use processor::{spawn_processor, EventHandler, Outcome, ProcessorHandle, ProcessorOptions};
pub use store::StoredEvent;
use store::{Enqueued, NewEvent};

/// The answer to an accepted webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookAck {
    /// `queued` (stored for processing) or `duplicate` (already received).
    pub status: String,
}

/// Seconds a sender is told to wait when the queue is full.
const RETRY_AFTER_SECS: u64 = 60;

/// Parse GHL's webhook public key (Ed25519, PEM `PUBLIC KEY`).
pub fn parse_ghl_public_key(pem: &str) -> Result<VerifyingKey, String> {
    VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| {
        format!("ghl_public_key_pem: not an Ed25519 public key in PEM ({e}); paste GHL's published webhook key")
    })
}

/// When the event was sent: ISO 8601, or epoch milliseconds (number or digits).
fn parse_timestamp(v: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    let ms = match v {
        Value::String(s) => {
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
                return Some(t.with_timezone(&chrono::Utc));
            }
            s.trim().parse::<i64>().ok()?
        }
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))?,
        _ => return None,
    };
    // Ten digits or fewer: seconds.
    let ms = if ms.abs() < 100_000_000_000 {
        ms * 1000
    } else {
        ms
    };
    chrono::DateTime::from_timestamp_millis(ms)
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn refuse(state: &AppState, app: &str, outcome: &str, err: ApiError) -> Response {
    state.metrics.record_webhook(app, outcome);
    err.into_response()
}

async fn store_event(state: &AppState, ev: NewEvent) -> Response {
    let app = ev.app;
    let max = state.config.queue_max;
    match state.db.call(move |c| store::enqueue(c, &ev, max)).await {
        Ok(Enqueued::Queued(id)) => {
            tracing::debug!(event = id, app, "webhook event queued");
            state.metrics.record_webhook(app, "queued");
            state.events.notify_one();
            if let Ok(depth) = state.db.call(|c| store::depth(c)).await {
                state.metrics.set_queue_depth(depth);
            }
            ack("queued")
        }
        Ok(Enqueued::Duplicate) => {
            state.metrics.record_webhook(app, "duplicate");
            ack("duplicate")
        }
        Ok(Enqueued::Full) => refuse(
            state,
            app,
            "refused",
            ApiError::too_many_requests(
                format!("the event queue holds {max} events; retry later"),
                RETRY_AFTER_SECS,
            ),
        ),
        Err(e) => {
            tracing::error!(error = %e, app, "cannot store a webhook event");
            refuse(
                state,
                app,
                "refused",
                ApiError::too_many_requests(
                    "the event could not be stored; retry later",
                    RETRY_AFTER_SECS,
                ),
            )
        }
    }
}

fn ack(status: &str) -> Response {
    (
        StatusCode::OK,
        Json(WebhookAck {
            status: status.into(),
        }),
    )
        .into_response()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn bad_signature(detail: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", detail)
}

/// Receive a GHL webhook event.
#[utoipa::path(
    post,
    path = "/webhooks/ghl",
    tag = "webhooks",
    request_body(content = String, content_type = "application/json",
        description = "The event, signed with Ed25519 over the raw body (header `x-ghl-signature`, base64)"),
    params(("x-ghl-signature" = String, Header, description = "Base64 Ed25519 signature of the raw body")),
    responses(
        (status = 200, description = "Stored for processing, or already received", body = WebhookAck),
        (status = 400, description = "Not JSON, or `timestamp` more than 5 minutes off", body = ErrorBody),
        (status = 401, description = "Signature missing or wrong; nothing stored", body = ErrorBody),
        (status = 404, description = "No GHL public key configured", body = ErrorBody),
        (status = 413, description = "Body larger than the webhook limit"),
        (status = 429, description = "Queue full or storage unavailable; retry later", body = ErrorBody),
    ),
    security(())
)]
pub async fn ghl_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(key) = state.ghl_key.as_deref() else {
        return refuse(
            &state,
            "ghl",
            "refused",
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_configured",
                "GHL webhooks are off: start the server with the GHL webhook public key (PEM)",
            ),
        );
    };
    let Some(sig) = header(&headers, "x-ghl-signature") else {
        return refuse(
            &state,
            "ghl",
            "forged",
            bad_signature("header x-ghl-signature is missing"),
        );
    };
    if !hlbridge_engine::webhooks::verify_ghl(key, &body, sig) {
        return refuse(
            &state,
            "ghl",
            "forged",
            bad_signature("x-ghl-signature does not match the body for GHL's public key"),
        );
    }
    let event: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return refuse(
                &state,
                "ghl",
                "malformed",
                ApiError::bad_request("the body must be a JSON object"),
            )
        }
        Err(e) => {
            return refuse(
                &state,
                "ghl",
                "malformed",
                ApiError::bad_request(format!("the body is not JSON: {e}")),
            )
        }
    };
    if let Some(ts) = event.get("timestamp") {
        let Some(at) = parse_timestamp(ts) else {
            return refuse(&state, "ghl", "malformed", ApiError::bad_request(
                "timestamp: expected ISO 8601 (e.g. 2026-01-01T12:00:00.000Z) or epoch milliseconds",
            ));
        };
        let skew = (chrono::Utc::now() - at).num_seconds().unsigned_abs();
        let max = state.config.webhook_max_skew.as_secs();
        if skew > max {
            return refuse(&state, "ghl", "stale", ApiError::new(
                StatusCode::BAD_REQUEST,
                "stale",
                format!("timestamp {at} is {skew} s from the server's clock (more than {max} s): replayed or the sender's clock is wrong"),
            ));
        }
    }
    let webhook_id = text(&event, "webhookId")
        .unwrap_or_else(|| format!("ghl:sha256:{}", hex::encode(Sha256::digest(&body))));
    let ev = NewEvent {
        app: "ghl",
        webhook_id,
        location_id: text(&event, "locationId"),
        event_type: text(&event, "type"),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    store_event(&state, ev).await
}

/// The JSON of a Sellsy notification: the body itself, or its form field `notif`.
fn sellsy_json(body: &[u8]) -> Option<Value> {
    if let Ok(v @ Value::Object(_)) = serde_json::from_slice::<Value>(body) {
        return Some(v);
    }
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "notif")
        .and_then(|(_, v)| serde_json::from_str::<Value>(&v).ok())
        .filter(Value::is_object)
}

/// Receive a Sellsy webhook notification.
#[utoipa::path(
    post,
    path = "/webhooks/sellsy",
    tag = "webhooks",
    request_body(content = String, description = "JSON, or form-encoded with the JSON in field `notif`; signed with `X-Webhook-Signature` = hex(sha1(secret + raw body))"),
    params(("x-webhook-signature" = String, Header, description = "hex(sha1(secret + raw body))")),
    responses(
        (status = 200, description = "Stored for processing, or already received", body = WebhookAck),
        (status = 400, description = "Neither JSON nor a form with `notif`", body = ErrorBody),
        (status = 401, description = "Signature missing or wrong; nothing stored", body = ErrorBody),
        (status = 404, description = "No Sellsy webhook secret configured", body = ErrorBody),
        (status = 413, description = "Body larger than the webhook limit"),
        (status = 429, description = "Queue full or storage unavailable; retry later", body = ErrorBody),
    ),
    security(())
)]
pub async fn sellsy_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(secret) = state.config.sellsy_webhook_secret.as_deref() else {
        return refuse(
            &state,
            "sellsy",
            "refused",
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_configured",
                "Sellsy webhooks are off: start the server with the Sellsy webhook secret",
            ),
        );
    };
    let Some(sig) = header(&headers, "x-webhook-signature") else {
        return refuse(
            &state,
            "sellsy",
            "forged",
            bad_signature("header X-Webhook-Signature is missing"),
        );
    };
    if !hlbridge_engine::webhooks::verify_sellsy(secret, &body, sig) {
        return refuse(
            &state,
            "sellsy",
            "forged",
            bad_signature("X-Webhook-Signature does not match the body for the configured secret"),
        );
    }
    let Some(event) = sellsy_json(&body) else {
        return refuse(
            &state,
            "sellsy",
            "malformed",
            ApiError::bad_request(
                "the body must be a JSON object, or a form with the JSON object in field notif",
            ),
        );
    };
    let ev = NewEvent {
        app: "sellsy",
        webhook_id: format!("sellsy:sha256:{}", hex::encode(Sha256::digest(&body))),
        location_id: text(&event, "corpid"),
        event_type: text(&event, "eventType"),
        body: event.to_string(),
    };
    store_event(&state, ev).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_iso_and_epoch() {
        let iso = parse_timestamp(&json!("2026-03-01T10:00:00.123Z")).unwrap();
        assert_eq!(iso.timestamp_millis(), 1_772_359_200_123);
        let ms = parse_timestamp(&json!(1_772_359_200_123i64)).unwrap();
        assert_eq!(ms, iso);
        let digits = parse_timestamp(&json!("1772359200123")).unwrap();
        assert_eq!(digits, iso);
        let secs = parse_timestamp(&json!(1_772_359_200)).unwrap();
        assert_eq!(secs.timestamp(), 1_772_359_200);
        assert!(parse_timestamp(&json!("yesterday")).is_none());
        assert!(parse_timestamp(&json!(true)).is_none());
    }

    #[test]
    fn sellsy_bodies() {
        assert!(sellsy_json(br#"{"eventType":"people.updated"}"#).is_some());
        let form = b"notif=%7B%22eventType%22%3A%22task.created%22%7D";
        assert_eq!(sellsy_json(form).unwrap()["eventType"], "task.created");
        assert!(sellsy_json(b"hello").is_none());
        assert!(sellsy_json(b"[1,2]").is_none());
    }
}
