//! Outgoing webhook events, signed like GHL's.
//!
//! Payloads are flat JSON: `type` (event name), `locationId` (the location the change
//! happened in; app events `INSTALL`/`UNINSTALL` carry their own), the entity's fields at the
//! top level, `timestamp` (ISO) and `webhookId` (uuid). The raw body bytes are signed
//! with Ed25519 and the base64 signature is sent in `x-ghl-signature`; the public key
//! (PEM) is in [`WebhookSigner::public_key_pem`] and served at
//! `GET /emulator/webhook-public-key`.
//!
//! Delivery is asynchronous (a queue and one worker, so requests never wait and events
//! leave in order). As GHL does, a delivery is retried only when the receiver answers
//! 429 (up to 6 retries, exponential backoff from `retry_base` with jitter); any other
//! status or a transport error is final. Every event is kept in a bounded log with its
//! delivery status, even when no URL is configured (`GET /emulator/webhooks`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::EncodePublicKey;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand::Rng;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::ids::iso;
use super::state::lock;

/// Retries after a 429 from the receiver.
pub const MAX_RETRIES: u32 = 6;
/// Events kept in the log.
const LOG_CAPACITY: usize = 10_000;

/// One state change to announce.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Event name, e.g. `ContactCreate`.
    pub kind: &'static str,
    /// The entity's fields (flat).
    pub fields: Map<String, Value>,
}

impl Event {
    pub fn new(kind: &'static str, fields: Map<String, Value>) -> Self {
        Event { kind, fields }
    }
}

/// The Ed25519 key pair generated at start.
pub struct WebhookSigner {
    key: SigningKey,
    public_pem: String,
}

impl std::fmt::Debug for WebhookSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSigner")
            .field("public_pem", &self.public_pem)
            .finish_non_exhaustive()
    }
}

impl WebhookSigner {
    pub fn generate() -> Self {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let public_pem = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default();
        WebhookSigner { key, public_pem }
    }

    /// Base64 Ed25519 signature of `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        STANDARD.encode(self.key.sign(body).to_bytes())
    }

    pub fn public_key_pem(&self) -> &str {
        &self.public_pem
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }
}

/// Where an event's delivery stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum DeliveryStatus {
    /// No webhook URL configured: logged only.
    NotConfigured,
    Pending,
    Delivered {
        status: u16,
    },
    Failed {
        reason: String,
    },
}

/// One emitted event, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookRecord {
    pub webhook_id: String,
    pub event_type: String,
    /// The exact body bytes that were signed (UTF-8 JSON).
    pub body: String,
    pub signature: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
}

/// Delivery counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookCounts {
    pub emitted: u64,
    pub delivered: u64,
    pub failed: u64,
    pub retries: u64,
}

#[derive(Debug, Default)]
struct Counters {
    emitted: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
}

struct Outgoing {
    webhook_id: String,
    body: Vec<u8>,
    signature: String,
}

#[derive(Clone)]
struct Delivery {
    url: String,
    client: reqwest::Client,
    log: Arc<Mutex<VecDeque<WebhookRecord>>>,
    counters: Arc<Counters>,
    retry_base: Duration,
}

/// The event emitter: signs, logs and queues.
pub struct Webhooks {
    signer: WebhookSigner,
    location_id: String,
    sender: Option<mpsc::UnboundedSender<Outgoing>>,
    log: Arc<Mutex<VecDeque<WebhookRecord>>>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("location_id", &self.location_id)
            .field("delivering", &self.sender.is_some())
            .finish_non_exhaustive()
    }
}

impl Webhooks {
    /// Start the delivery worker when `url` is set and a Tokio runtime is running.
    pub fn new(url: Option<String>, location_id: &str, retry_base: Duration) -> Self {
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let counters = Arc::new(Counters::default());
        let sender = match (url, tokio::runtime::Handle::try_current()) {
            (Some(url), Ok(handle)) => {
                let (tx, rx) = mpsc::unbounded_channel();
                let delivery = Delivery {
                    url,
                    client: reqwest::Client::builder()
                        .timeout(Duration::from_secs(10))
                        .build()
                        .unwrap_or_default(),
                    log: log.clone(),
                    counters: counters.clone(),
                    retry_base,
                };
                handle.spawn(worker(rx, delivery));
                Some(tx)
            }
            _ => None,
        };
        Webhooks {
            signer: WebhookSigner::generate(),
            location_id: location_id.to_string(),
            sender,
            log,
            counters,
        }
    }

    pub fn signer(&self) -> &WebhookSigner {
        &self.signer
    }

    /// Build, sign, log and queue the events of the primary location (never blocks).
    pub fn emit(&self, events: Vec<Event>) {
        self.emit_in(Some(&self.location_id), events);
    }

    /// Build, sign, log and queue events; `location_id` is the `locationId` of every
    /// payload (`None`: only the events' own fields, as app-level events such as
    /// `INSTALL`/`UNINSTALL` carry).
    pub fn emit_in(&self, location_id: Option<&str>, events: Vec<Event>) {
        for event in events {
            let webhook_id = uuid::Uuid::new_v4().to_string();
            let mut payload = Map::new();
            payload.insert("type".into(), Value::String(event.kind.to_string()));
            if let Some(location_id) = location_id {
                payload.insert("locationId".into(), Value::String(location_id.to_string()));
            }
            for (k, v) in event.fields {
                payload.entry(k).or_insert(v);
            }
            payload.insert("timestamp".into(), Value::String(iso(chrono::Utc::now())));
            payload.insert("webhookId".into(), Value::String(webhook_id.clone()));
            let body = Value::Object(payload).to_string().into_bytes();
            let signature = self.signer.sign(&body);
            self.counters.emitted.fetch_add(1, Ordering::Relaxed);
            let status = if self.sender.is_some() {
                DeliveryStatus::Pending
            } else {
                DeliveryStatus::NotConfigured
            };
            {
                let mut log = lock(&self.log);
                if log.len() >= LOG_CAPACITY {
                    log.pop_front();
                }
                log.push_back(WebhookRecord {
                    webhook_id: webhook_id.clone(),
                    event_type: event.kind.to_string(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                    signature: signature.clone(),
                    status,
                    attempts: 0,
                });
            }
            if let Some(tx) = &self.sender {
                // The worker only stops with the runtime; a failed send means shutdown.
                let _ = tx.send(Outgoing {
                    webhook_id,
                    body,
                    signature,
                });
            }
        }
    }

    pub fn records(&self) -> Vec<WebhookRecord> {
        lock(&self.log).iter().cloned().collect()
    }

    pub fn counts(&self) -> WebhookCounts {
        let c = &self.counters;
        WebhookCounts {
            emitted: c.emitted.load(Ordering::Relaxed),
            delivered: c.delivered.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
        }
    }
}

async fn worker(mut rx: mpsc::UnboundedReceiver<Outgoing>, delivery: Delivery) {
    while let Some(item) = rx.recv().await {
        let item = Arc::new(item);
        if let Some(retry_after) = delivery.attempt(&item, 0).await {
            // Retries run on their own so one slow receiver does not hold the queue.
            let delivery = delivery.clone();
            tokio::spawn(async move {
                let mut wait = retry_after;
                for attempt in 1..=MAX_RETRIES {
                    tokio::time::sleep(wait).await;
                    delivery.counters.retries.fetch_add(1, Ordering::Relaxed);
                    match delivery.attempt(&item, attempt).await {
                        Some(next) => wait = next,
                        None => return,
                    }
                }
                delivery.finish(
                    &item.webhook_id,
                    MAX_RETRIES + 1,
                    DeliveryStatus::Failed {
                        reason: "receiver kept answering 429".into(),
                    },
                );
            });
        }
    }
}

impl Delivery {
    /// One POST. Returns the wait before a retry when the receiver answered 429 and
    /// retries remain; `None` when the delivery is settled.
    async fn attempt(&self, item: &Outgoing, attempt: u32) -> Option<Duration> {
        let result = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-ghl-signature", &item.signature)
            .header("user-agent", "hlbridge-emulator-webhooks")
            .body(item.body.clone())
            .send()
            .await;
        let attempts = attempt + 1;
        match result {
            Ok(resp) if resp.status().as_u16() == 429 && attempt < MAX_RETRIES => {
                self.update(&item.webhook_id, attempts, DeliveryStatus::Pending);
                let base = self.retry_base.saturating_mul(2u32.saturating_pow(attempt));
                let jitter = rand::thread_rng().gen_range(0.0..0.25);
                Some(
                    Duration::try_from_secs_f64(base.as_secs_f64() * (1.0 + jitter))
                        .unwrap_or(base),
                )
            }
            Ok(resp) if resp.status().is_success() => {
                self.finish(
                    &item.webhook_id,
                    attempts,
                    DeliveryStatus::Delivered {
                        status: resp.status().as_u16(),
                    },
                );
                None
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                self.finish(
                    &item.webhook_id,
                    attempts,
                    DeliveryStatus::Failed {
                        reason: format!("receiver answered {status}"),
                    },
                );
                None
            }
            Err(e) => {
                self.finish(
                    &item.webhook_id,
                    attempts,
                    DeliveryStatus::Failed {
                        reason: e.to_string(),
                    },
                );
                None
            }
        }
    }

    fn finish(&self, webhook_id: &str, attempts: u32, status: DeliveryStatus) {
        match status {
            DeliveryStatus::Delivered { .. } => {
                self.counters.delivered.fetch_add(1, Ordering::Relaxed)
            }
            _ => self.counters.failed.fetch_add(1, Ordering::Relaxed),
        };
        self.update(webhook_id, attempts, status);
    }

    fn update(&self, webhook_id: &str, attempts: u32, status: DeliveryStatus) {
        let mut log = lock(&self.log);
        if let Some(record) = log.iter_mut().rev().find(|r| r.webhook_id == webhook_id) {
            record.attempts = attempts;
            record.status = status;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::pkcs8::DecodePublicKey;
    use ed25519_dalek::{Signature, Verifier};

    #[test]
    fn signatures_verify_with_the_published_pem() {
        let signer = WebhookSigner::generate();
        let body = br#"{"type":"ContactCreate"}"#;
        let sig = STANDARD.decode(signer.sign(body)).unwrap();
        let key = VerifyingKey::from_public_key_pem(signer.public_key_pem()).unwrap();
        let sig = Signature::from_slice(&sig).unwrap();
        assert!(key.verify(body, &sig).is_ok());
        assert!(key.verify(b"tampered", &sig).is_err());
    }

    #[test]
    fn events_are_logged_flat_without_a_url() {
        let hooks = Webhooks::new(None, "loc1", Duration::from_millis(10));
        let mut fields = Map::new();
        fields.insert("id".into(), Value::String("n1".into()));
        hooks.emit(vec![Event::new("NoteCreate", fields)]);
        let records = hooks.records();
        assert_eq!(records.len(), 1);
        let body: Value = serde_json::from_str(&records[0].body).unwrap();
        assert_eq!(body["type"], "NoteCreate");
        assert_eq!(body["locationId"], "loc1");
        assert_eq!(body["id"], "n1");
        assert_eq!(body["webhookId"], records[0].webhook_id.as_str());
        assert_eq!(records[0].status, DeliveryStatus::NotConfigured);
    }
}
