//! Sending webhook notifications for changes, signed `hex(sha1(secret + body))`.
//!
//! Notifications are queued while the data lock is held (so they follow the order of
//! the changes) and posted by one background task per emulator.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use hlbridge_sellsy::webhook::signature;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use super::super::state::{Delivery, ME};
use super::super::store::Store;
use super::super::{clock, SellsyState};

/// Something that changed, as a webhook sees it.
#[derive(Debug, Clone)]
pub struct Change {
    /// Event entity: `people`, `client`, `prospect`, `supplier`, `task`, `comment`.
    entity: String,
    /// Payload `relatedtype`: `people`, `third`, `task`, `comment`.
    relatedtype: String,
    thirdtype: Option<String>,
    individual: bool,
    action: &'static str,
    id: i64,
    object: Value,
}

impl Change {
    pub fn new(
        entity: &str,
        relatedtype: &str,
        action: &'static str,
        id: i64,
        object: Value,
    ) -> Self {
        Change {
            entity: entity.to_string(),
            relatedtype: relatedtype.to_string(),
            thirdtype: None,
            individual: false,
            action,
            id,
            object,
        }
    }

    /// Mark a company (`individual = false`) or individual change with its third type.
    pub fn third(mut self, thirdtype: &str, individual: bool) -> Self {
        self.thirdtype = Some(thirdtype.to_string());
        self.individual = individual;
        self
    }

    /// `people.created`, `client.updated`, ...
    pub fn event_id(&self) -> String {
        format!("{}.{}", self.entity, self.action)
    }

    fn payload(&self, corp_id: i64, with_object: bool) -> Value {
        let mut p = Map::new();
        p.insert("eventType".into(), json!(self.event_id()));
        p.insert("event".into(), json!(self.action));
        p.insert("relatedtype".into(), json!(self.relatedtype));
        p.insert("relatedid".into(), json!(self.id.to_string()));
        if let Some(t) = &self.thirdtype {
            p.insert("thirdtype".into(), json!(t));
        }
        p.insert("ownertype".into(), json!("staff"));
        p.insert("ownerid".into(), json!(ME.to_string()));
        p.insert("corpid".into(), json!(corp_id.to_string()));
        p.insert(
            "timestamp".into(),
            json!(clock::now().timestamp().to_string()),
        );
        p.insert("individual".into(), json!(self.individual));
        if with_object {
            p.insert("relatedobject".into(), self.object.clone());
        }
        Value::Object(p)
    }
}

struct Outgoing {
    delivery: Delivery,
}

/// The queue of notifications and the log of those sent.
#[derive(Default)]
pub struct Outbox {
    sender: Mutex<Option<mpsc::UnboundedSender<Outgoing>>>,
    sent: Arc<Mutex<Vec<Delivery>>>,
}

impl Outbox {
    pub fn sent(&self) -> Vec<Delivery> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn enqueue(&self, state: Weak<SellsyState>, outgoing: Outgoing) {
        let mut sender = self.sender.lock().unwrap_or_else(|e| e.into_inner());
        if sender.is_none() {
            if tokio::runtime::Handle::try_current().is_err() {
                return;
            }
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(deliver_all(rx, state, self.sent.clone()));
            *sender = Some(tx);
        }
        if let Some(tx) = sender.as_ref() {
            let _ = tx.send(outgoing);
        }
    }
}

async fn deliver_all(
    mut queue: mpsc::UnboundedReceiver<Outgoing>,
    state: Weak<SellsyState>,
    sent: Arc<Mutex<Vec<Delivery>>>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    while let Some(Outgoing { mut delivery }) = queue.recv().await {
        let response = http
            .post(&delivery.endpoint)
            .header("content-type", &delivery.content_type)
            .header("x-webhook-signature", &delivery.signature)
            .body(delivery.body.clone())
            .send()
            .await;
        delivery.status = response.ok().map(|r| r.status().as_u16());
        let succeeded = delivery.status.is_some_and(|s| (200..300).contains(&s));
        if let Some(state) = state.upgrade() {
            let mut store = state.store();
            if let Some(hook) = store.webhooks.get_mut(delivery.webhook_id) {
                let now = Value::String(clock::now_string());
                if succeeded {
                    hook.insert("last_succeeded".into(), now);
                } else {
                    hook.insert("last_failed".into(), now);
                    let failures = hook
                        .get("nb_failures")
                        .and_then(Value::as_i64)
                        .unwrap_or_default();
                    hook.insert("nb_failures".into(), json!(failures + 1));
                }
            }
        }
        if let Ok(mut log) = sent.lock() {
            log.push(delivery);
        }
    }
}

/// Does webhook `hook` subscribe to `event`?
fn subscribed(hook: &Map<String, Value>, event: &str) -> bool {
    hook.get("is_enabled") == Some(&Value::Bool(true))
        && hook.get("type").and_then(Value::as_str) == Some("http")
        && hook
            .get("configuration")
            .and_then(Value::as_array)
            .is_some_and(|items| {
                items.iter().any(|c| {
                    c.get("id").and_then(Value::as_str) == Some(event)
                        && c.get("is_enabled") != Some(&Value::Bool(false))
                })
            })
}

impl SellsyState {
    /// Queue a notification of `change` to every webhook subscribed to it.
    pub(in super::super) fn notify(self: &Arc<Self>, store: &Store, change: Change) {
        let event = change.event_id();
        for hook in store
            .webhooks
            .rows
            .values()
            .filter(|h| subscribed(h, &event))
        {
            let flag = |k: &str| hook.get(k) == Some(&Value::Bool(true));
            let payload = change
                .payload(self.corp_id(), flag("object_in_payload"))
                .to_string();
            let (content_type, body) = if flag("json_content_type") {
                ("application/json", payload)
            } else {
                let form = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("notif", &payload)
                    .finish();
                ("application/x-www-form-urlencoded", form)
            };
            let delivery = Delivery {
                webhook_id: hook.get("id").and_then(Value::as_i64).unwrap_or_default(),
                endpoint: hook
                    .get("endpoint")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                event: event.clone(),
                content_type: content_type.to_string(),
                signature: signature(self.webhook_secret(), body.as_bytes()),
                body,
                status: None,
            };
            self.outbox
                .enqueue(Arc::downgrade(self), Outgoing { delivery });
        }
    }

    /// Wait until at least `count` notifications were sent (or `timeout` passes).
    pub async fn wait_for_deliveries(&self, count: usize, timeout: Duration) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let sent = self.deliveries();
            if sent.len() >= count || tokio::time::Instant::now() >= deadline {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
