//! Webhook receiver: GHL events (Ed25519 `x-ghl-signature` over the raw body) and
//! Sellsy notifications (`X-Webhook-Signature` = hex(sha1(secret + raw body))). A
//! verified event becomes a [`Hint`] for an immediate, targeted sync of that record;
//! a forged or unsigned one is answered 401 and changes nothing. Events are hints
//! only: the record is re-read from the API before anything is written.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;
use sha1::{Digest, Sha1};
use tokio::sync::mpsc;

use crate::error::{EngineError, Result};

/// What a verified event asks to sync now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    GhlContact(String),
    SellsyContact(String),
    /// Tasks or notes of a GHL contact.
    GhlActivities(String),
    /// A Sellsy task or comment (its contact is looked up).
    SellsyTask(String),
    SellsyComment(String),
}

#[derive(Clone)]
struct Receiver {
    ghl_key: Option<VerifyingKey>,
    sellsy_secret: Option<String>,
    hints: mpsc::UnboundedSender<Hint>,
}

/// Check a GHL signature (base64 Ed25519 over the raw body).
pub fn verify_ghl(key: &VerifyingKey, body: &[u8], signature_b64: &str) -> bool {
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(signature_b64.trim()) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(&raw) else {
        return false;
    };
    key.verify_strict(body, &sig).is_ok()
}

/// Check a Sellsy signature: hex(sha1(secret + body)), compared in constant time.
pub fn verify_sellsy(secret: &str, body: &[u8], signature_hex: &str) -> bool {
    let mut h = Sha1::new();
    h.update(secret.as_bytes());
    h.update(body);
    let expected = hex::encode(h.finalize());
    let given = signature_hex.trim().to_ascii_lowercase();
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The hint of a GHL event body.
pub fn ghl_hint(event: &Value) -> Option<Hint> {
    let kind = event.get("type")?.as_str()?;
    let text = |k: &str| event.get(k).and_then(Value::as_str).map(str::to_string);
    if kind.starts_with("Contact") {
        text("id")
            .or_else(|| text("contactId"))
            .map(Hint::GhlContact)
    } else if kind.starts_with("Task") || kind.starts_with("Note") {
        text("contactId").map(Hint::GhlActivities)
    } else {
        None
    }
}

/// The hint of a Sellsy notification (JSON body, or form-encoded `notif`).
pub fn sellsy_hint(body: &[u8]) -> Option<Hint> {
    let json: Value = serde_json::from_slice(body).ok().or_else(|| {
        url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "notif")
            .and_then(|(_, v)| serde_json::from_str(&v).ok())
    })?;
    let id = match json.get("relatedid")? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let event = json
        .get("eventType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let entity = event.split('.').next().unwrap_or_default();
    match (entity, json.get("relatedtype").and_then(Value::as_str)) {
        ("people", _) | (_, Some("people")) => Some(Hint::SellsyContact(id)),
        ("task", _) => Some(Hint::SellsyTask(id)),
        ("comment", _) => Some(Hint::SellsyComment(id)),
        _ => None,
    }
}

async fn ghl_event(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let Some(key) = &r.ghl_key else {
        return StatusCode::NOT_FOUND;
    };
    let sig = headers
        .get("x-ghl-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !verify_ghl(key, &body, sig) {
        return StatusCode::UNAUTHORIZED;
    }
    if let Some(hint) = serde_json::from_slice(&body)
        .ok()
        .as_ref()
        .and_then(ghl_hint)
    {
        let _ = r.hints.send(hint);
    }
    StatusCode::OK
}

async fn sellsy_event(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(secret) = &r.sellsy_secret else {
        return StatusCode::NOT_FOUND;
    };
    let sig = headers
        .get("x-webhook-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !verify_sellsy(secret, &body, sig) {
        return StatusCode::UNAUTHORIZED;
    }
    if let Some(hint) = sellsy_hint(&body) {
        let _ = r.hints.send(hint);
    }
    StatusCode::OK
}

/// The receiver's routes: `POST /webhooks/ghl`, `POST /webhooks/sellsy`.
pub fn router(
    ghl_public_key_pem: Option<&str>,
    sellsy_secret: Option<&str>,
    hints: mpsc::UnboundedSender<Hint>,
) -> Result<Router> {
    let ghl_key = match ghl_public_key_pem {
        Some(pem) => Some(VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| {
            EngineError::Config(format!(
                "webhooks.ghl_public_key: not an Ed25519 public key in PEM ({e}); paste GHL's published key"
            ))
        })?),
        None => None,
    };
    let state = Arc::new(Receiver {
        ghl_key,
        sellsy_secret: sellsy_secret.map(str::to_string),
        hints,
    });
    Ok(Router::new()
        .route("/webhooks/ghl", post(ghl_event))
        .route("/webhooks/sellsy", post(sellsy_event))
        .with_state(state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sellsy_signatures_and_payloads() {
        let body = br#"{"eventType":"people.updated","relatedtype":"people","relatedid":"42"}"#;
        let mut h = Sha1::new();
        h.update(b"s3cret");
        h.update(body);
        let sig = hex::encode(h.finalize());
        assert!(verify_sellsy("s3cret", body, &sig));
        assert!(!verify_sellsy("other", body, &sig));
        assert!(!verify_sellsy("s3cret", b"{}", &sig));
        assert_eq!(sellsy_hint(body), Some(Hint::SellsyContact("42".into())));
        let form = b"notif=%7B%22eventType%22%3A%22task.created%22%2C%22relatedid%22%3A%227%22%7D";
        assert_eq!(sellsy_hint(form), Some(Hint::SellsyTask("7".into())));
    }

    #[test]
    fn ghl_events_map_to_hints() {
        assert_eq!(
            ghl_hint(&json!({"type": "ContactUpdate", "id": "c1"})),
            Some(Hint::GhlContact("c1".into()))
        );
        assert_eq!(
            ghl_hint(&json!({"type": "NoteCreate", "id": "n1", "contactId": "c1"})),
            Some(Hint::GhlActivities("c1".into()))
        );
        assert_eq!(ghl_hint(&json!({"type": "OpportunityCreate"})), None);
    }
}
