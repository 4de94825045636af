//! Shared set-up of the template end-to-end tests: both emulators in process, a run
//! store and the engine's store (for the notes archive) on a temporary SQLite file, an
//! executor over both apps; webhook items taken from the events the emulators really
//! emitted (GHL's webhook log, Sellsy's delivery log).
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hlbridge_core::call::CallInput;
use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator};
use hlbridge_emulator::sellsy::{SellsyConfig, SellsyEmulator};
use hlbridge_engine::store::{sqlite::SqliteStore, StateStore};
use hlbridge_flows::model::Flow;
use hlbridge_flows::run::{Apps, Executor, RunOutcome, RunStore, TriggerItem};
use hlbridge_flows::template::Templates;
use hlbridge_flows::{catalog, validate};
use serde_json::{json, Value};

/// Every Sellsy event the tests may need, subscribed on a webhook at start.
const SELLSY_EVENTS: &[&str] = &[
    "people.created",
    "people.updated",
    "client.created",
    "client.updated",
    "prospect.created",
    "prospect.updated",
    "task.created",
    "task.updated",
    "comment.created",
    "comment.updated",
];

pub struct World {
    pub ghl: GhlEmulator,
    pub ghl_cfg: GhlConfig,
    pub sellsy: SellsyEmulator,
    pub dir: PathBuf,
    pub exec: Executor,
    pub outbox: Arc<dyn StateStore>,
    ghl_client: hlbridge_ghl::GhlClient,
    sellsy_client: hlbridge_sellsy::SellsyClient,
}

fn local() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().expect("address")
}

pub async fn world() -> World {
    let ghl_cfg = GhlConfig {
        rate_max: 1_000_000,
        rate_interval: Duration::from_secs(10),
        daily_limit: 10_000_000,
        ..GhlConfig::default()
    };
    let sellsy_cfg = SellsyConfig {
        seed_contacts: 0,
        quota_per_second: 1_000_000,
        quota_per_minute: 10_000_000,
        quota_per_day: 100_000_000,
        quota_per_month: 1_000_000_000,
        ..SellsyConfig::default()
    };
    let ghl = hlbridge_emulator::ghl::start(ghl_cfg.clone(), local())
        .await
        .expect("ghl emulator");
    let sellsy = hlbridge_emulator::sellsy::start(sellsy_cfg, local())
        .await
        .expect("sellsy emulator");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("hlb-tpl-e2e-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join("state.sqlite");
    let ghl_client = || {
        hlbridge_ghl::GhlClient::builder()
            .base_url(&ghl.base_url)
            .auth(hlbridge_ghl::GhlAuth::LocationToken(ghl_cfg.token.clone()))
            .location_id(&ghl_cfg.location_id)
            .build()
            .expect("ghl client")
    };
    let token = sellsy.state().mint_access_token();
    let sellsy_client = || {
        hlbridge_sellsy::SellsyClient::builder()
            .base_url(&sellsy.base_url)
            .auth(hlbridge_sellsy::SellsyAuth::Token(token.clone()))
            .build()
            .expect("sellsy client")
    };
    let outbox: Arc<dyn StateStore> = Arc::new(SqliteStore::open(&db).expect("state store"));
    let apps = Apps {
        ghl: Some(ghl_client()),
        sellsy: Some(sellsy_client()),
        outbox: Some(outbox.clone()),
        pair: None,
    };
    let store = Arc::new(RunStore::open(&db).expect("run store"));
    let exec = Executor::new(apps, store, Arc::new(Templates::new()));
    let w = World {
        ghl_client: ghl_client(),
        sellsy_client: sellsy_client(),
        ghl,
        ghl_cfg,
        sellsy,
        dir,
        exec,
        outbox,
    };
    // A webhook for every event, as an admin would set it up; the endpoint is never
    // reached, the emulator's delivery log keeps each notification's exact body.
    let configuration: Vec<Value> = SELLSY_EVENTS
        .iter()
        .map(|e| json!({"id": e, "is_enabled": true}))
        .collect();
    w.sellsy(
        "webhooks.create-webhook",
        &[],
        Some(json!({
            "type": "http", "is_enabled": true, "endpoint": "http://127.0.0.1:9/hook",
            "configuration": configuration, "json_content_type": true,
            "object_in_payload": true,
        })),
    )
    .await;
    w
}

/// A template's flow (or a companion's), validated as shipped.
pub fn flow(name: &str) -> Flow {
    let t = catalog::get(name)
        .or_else(|| {
            catalog::names()
                .into_iter()
                .filter_map(catalog::companion_of)
                .find(|c| c.name == name)
        })
        .unwrap_or_else(|| panic!("no template {name}"));
    flow_from(name, t.text)
}

pub fn flow_from(name: &str, text: &str) -> Flow {
    validate::validate(&format!("{name}.flow.yaml"), text)
        .unwrap_or_else(|p| panic!("{name} does not validate: {p:?}"))
}

impl World {
    /// Run `flow` for one webhook item and return the outcome (must not error).
    pub async fn run(&self, flow: &Flow, key: &str, payload: &Value) -> RunOutcome {
        let item = TriggerItem {
            key: key.to_string(),
            payload: payload.clone(),
            previous: None,
        };
        self.exec
            .start(flow, 1, item)
            .await
            .unwrap_or_else(|e| panic!("{}: run failed to start: {e}", flow.name))
    }

    /// Run and require status `ok`, printing the steps when it is not.
    pub async fn run_ok(&self, flow: &Flow, key: &str, payload: &Value) -> RunOutcome {
        let out = self.run(flow, key, payload).await;
        assert_eq!(
            out.status,
            "ok",
            "{} ({key}): {:?} at {:?}\nsteps: {:#?}",
            flow.name,
            out.error,
            out.failed_step,
            self.exec.store().steps(out.run_id).ok()
        );
        out
    }

    pub async fn ghl(&self, op: &str, params: &[(&str, &str)], body: Option<Value>) -> Value {
        let mut input = CallInput::new();
        for (k, v) in params {
            input = input.param(k, v);
        }
        input.body = body;
        self.ghl_client
            .call(op, input)
            .await
            .unwrap_or_else(|e| panic!("ghl {op}: {e}"))
    }

    pub async fn sellsy(&self, op: &str, params: &[(&str, &str)], body: Option<Value>) -> Value {
        let mut input = CallInput::new();
        for (k, v) in params {
            input = input.param(k, v);
        }
        input.body = body;
        self.sellsy_client
            .call(op, input)
            .await
            .unwrap_or_else(|e| panic!("sellsy {op}: {e}"))
    }

    /// The last GHL webhook event of `kind` about record `id` (at `field`), as sent.
    pub fn ghl_event(&self, kind: &str, field: &str, id: &str) -> Value {
        self.ghl
            .state()
            .webhook_records()
            .iter()
            .rev()
            .filter(|r| r.event_type == kind)
            .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .find(|b| json_at(b, field).as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no GHL {kind} event with {field} = {id}"))
    }

    /// The last Sellsy notification `event` about record `id`, as sent (waits for the
    /// emulator's delivery task).
    pub async fn sellsy_event(&self, event: &str, id: i64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let hit = self
                .sellsy
                .state()
                .deliveries()
                .iter()
                .rev()
                .filter(|d| d.event == event)
                .filter_map(|d| serde_json::from_str::<Value>(&d.body).ok())
                .find(|b| b["relatedid"] == json!(id.to_string()));
            if let Some(b) = hit {
                return b;
            }
            assert!(Instant::now() < deadline, "no Sellsy {event} for {id}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// GHL contacts with this e-mail (rendered).
    pub fn ghl_contacts_with(&self, email: &str) -> Vec<Value> {
        let s = self.ghl.state();
        s.contact_ids()
            .iter()
            .filter_map(|id| s.contact(id))
            .filter(|c| c["email"].as_str().map(str::to_lowercase) == Some(email.to_lowercase()))
            .collect()
    }

    /// Sellsy contacts with this e-mail.
    pub async fn sellsy_contacts_with(&self, email: &str) -> Vec<Value> {
        let r = self
            .sellsy(
                "contacts.search-contacts",
                &[("limit", "100")],
                Some(json!({"filters": {"email": email}})),
            )
            .await;
        r["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c["email"].as_str().map(str::to_lowercase) == Some(email.to_lowercase()))
            .collect()
    }

    pub async fn sellsy_list(&self, op: &str, filters: Value) -> Vec<Value> {
        let r = self
            .sellsy(op, &[("limit", "100")], Some(json!({ "filters": filters })))
            .await;
        r["data"].as_array().cloned().unwrap_or_default()
    }

    /// A Sellsy contact created through the API; returns (id, its people.created event).
    pub async fn sellsy_person(&self, first: &str, last: &str, email: &str) -> (i64, Value) {
        let c = self
            .sellsy(
                "contacts.create-contact",
                &[],
                Some(json!({"first_name": first, "last_name": last, "email": email})),
            )
            .await;
        let id = c["id"].as_i64().expect("contact id");
        let event = self.sellsy_event("people.created", id).await;
        (id, event)
    }

    /// A GHL contact created through the API; returns (id, its ContactCreate event).
    pub async fn ghl_person(&self, body: Value) -> (String, Value) {
        let c = self.ghl("contacts.create-contact", &[], Some(body)).await;
        let id = c["contact"]["id"].as_str().expect("contact id").to_string();
        let event = self.ghl_event("ContactCreate", "id", &id);
        (id, event)
    }

    pub fn cleanup(self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// The text at a dotted path of `v` (`appointment.id`).
fn json_at(v: &Value, path: &str) -> Option<String> {
    let mut cur = v;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A run that found its record: the step's recorded output says `created: false`.
pub fn step_output(w: &World, out: &RunOutcome, path: &str) -> Value {
    w.exec
        .store()
        .steps(out.run_id)
        .expect("steps")
        .into_iter()
        .find(|s| s.step_path == path)
        .and_then(|s| s.output)
        .unwrap_or(Value::Null)
}
