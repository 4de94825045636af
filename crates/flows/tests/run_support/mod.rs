//! Shared set-up of the executor's end-to-end tests: both emulators in-process, clients
//! without their own retries (so a step's `retry` is what is tested), the run store and
//! the engine's store on one temporary state database.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hlbridge_core::auth::{MemoryTokenStore, TokenManager};
use hlbridge_core::call::CallInput;
use hlbridge_core::retry::RetryPolicy;
use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator};
use hlbridge_emulator::sellsy::{SellsyConfig, SellsyEmulator};
use hlbridge_engine::store::{sqlite::SqliteStore, StateStore};
use hlbridge_flows::model::Flow;
use hlbridge_flows::run::{Apps, Executor, RunStore, TriggerItem};
use hlbridge_flows::template::Templates;
use hlbridge_ghl::{GhlAuth, GhlClient};
use hlbridge_sellsy::{SellsyAuth, SellsyClient};
use serde_json::{json, Value};

pub struct World {
    pub ghl: GhlEmulator,
    pub ghl_cfg: GhlConfig,
    pub sellsy: SellsyEmulator,
    pub sellsy_cfg: SellsyConfig,
    pub dir: PathBuf,
    pub store: Arc<RunStore>,
    pub engine_store: Arc<dyn StateStore>,
}

fn local() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().expect("address")
}

pub async fn world(tag: &str) -> World {
    let ghl_cfg = GhlConfig {
        rate_max: 1_000_000,
        rate_interval: Duration::from_secs(10),
        daily_limit: 10_000_000,
        ..GhlConfig::default()
    };
    let sellsy_cfg = SellsyConfig {
        quota_per_second: 1_000_000,
        quota_per_minute: 10_000_000,
        quota_per_day: 100_000_000,
        quota_per_month: 1_000_000_000,
        ..SellsyConfig::default()
    };
    let ghl = hlbridge_emulator::ghl::start(ghl_cfg.clone(), local())
        .await
        .expect("ghl emulator");
    let sellsy = hlbridge_emulator::sellsy::start(sellsy_cfg.clone(), local())
        .await
        .expect("sellsy emulator");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("hlb-run-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join("state.sqlite");
    let engine_store: Arc<dyn StateStore> = Arc::new(SqliteStore::open(&db).expect("engine store"));
    let store = Arc::new(RunStore::open(&db).expect("run store"));
    World {
        ghl,
        ghl_cfg,
        sellsy,
        sellsy_cfg,
        dir,
        store,
        engine_store,
    }
}

/// One attempt per call: the step's own `retry` decides.
fn no_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 1,
        base: Duration::from_millis(10),
        max_delay: Duration::from_millis(10),
    }
}

impl World {
    pub fn ghl_client(&self) -> GhlClient {
        GhlClient::builder()
            .base_url(&self.ghl.base_url)
            .auth(GhlAuth::LocationToken(self.ghl_cfg.token.clone()))
            .location_id(&self.ghl_cfg.location_id)
            .retry(no_retry())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("ghl client")
    }

    pub async fn sellsy_client(&self) -> SellsyClient {
        let token_url = hlbridge_sellsy::oauth::token_url_for(&self.sellsy.base_url);
        let oauth = Arc::new(
            hlbridge_sellsy::oauth::SellsyOAuth::new(
                &token_url,
                &self.sellsy_cfg.client_id,
                Some(&self.sellsy_cfg.client_secret),
            )
            .expect("oauth"),
        );
        let tokens = oauth.client_credentials().await.expect("sellsy token");
        let manager = TokenManager::create(
            "sellsy:test",
            Arc::new(MemoryTokenStore::default()),
            Some(oauth),
            tokens,
        )
        .expect("token manager");
        SellsyClient::builder()
            .base_url(&self.sellsy.base_url)
            .auth(SellsyAuth::OAuth(Arc::new(manager)))
            .retry(no_retry())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("sellsy client")
    }

    pub async fn apps(&self) -> Apps {
        Apps {
            ghl: Some(self.ghl_client()),
            sellsy: Some(self.sellsy_client().await),
            outbox: Some(self.engine_store.clone()),
            pair: Some("default".into()),
        }
    }

    /// An executor knowing `flows` (for call_flow and resume_all), each at version 1.
    pub async fn executor(&self, flows: &[Flow]) -> Executor {
        let known: Vec<Flow> = flows.to_vec();
        Executor::new(
            self.apps().await,
            self.store.clone(),
            Arc::new(Templates::new()),
        )
        .with_flows(Box::new(move |name: &str| {
            known
                .iter()
                .find(|f| f.name == name)
                .map(|f| (f.clone(), 1))
        }))
    }

    /// GHL contacts whose e-mail is `email`.
    pub fn ghl_contacts_with(&self, email: &str) -> Vec<Value> {
        let state = self.ghl.state();
        state
            .contact_ids()
            .iter()
            .filter_map(|id| state.contact(id))
            .filter(|c| c.get("email").and_then(Value::as_str) == Some(email))
            .collect()
    }

    /// Sellsy contacts whose e-mail is `email`.
    pub fn sellsy_contacts_with(&self, email: &str) -> Vec<Value> {
        let state = self.sellsy.state();
        let store = state.store();
        store
            .contacts
            .rows
            .values()
            .filter(|c| c.get("email").and_then(Value::as_str) == Some(email))
            .map(|c| Value::Object(c.clone()))
            .collect()
    }

    /// The bodies of a GHL contact's notes.
    pub fn ghl_note_bodies(&self, contact_id: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .ghl
            .state()
            .notes_of(contact_id)
            .iter()
            .filter_map(|n| n.get("body").and_then(Value::as_str).map(str::to_string))
            .collect();
        out.sort();
        out
    }

    /// Create a GHL contact directly (set-up), returning its id.
    pub async fn make_ghl_contact(&self, email: &str, last: &str) -> String {
        let out = self
            .ghl_client()
            .call(
                "contacts.create-contact",
                CallInput {
                    params: Default::default(),
                    body: Some(json!({"email": email, "lastName": last})),
                },
            )
            .await
            .expect("create GHL contact");
        out["contact"]["id"]
            .as_str()
            .expect("contact id")
            .to_string()
    }

    /// Create a Sellsy contact directly (set-up), returning its id.
    pub async fn make_sellsy_contact(&self, email: &str, last: &str) -> i64 {
        let out = self
            .sellsy_client()
            .await
            .call(
                "contacts.create-contact",
                CallInput {
                    params: Default::default(),
                    body: Some(json!({"email": email, "last_name": last})),
                },
            )
            .await
            .expect("create Sellsy contact");
        out["id"].as_i64().expect("contact id")
    }
}

/// Parse and validate a flow written in a test.
pub fn flow(text: &str) -> Flow {
    match hlbridge_flows::validate::validate("test.flow.yaml", text) {
        Ok(f) => f,
        Err(problems) => panic!(
            "test flow invalid:\n{}",
            problems
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

pub fn item(key: &str, payload: Value) -> TriggerItem {
    TriggerItem {
        key: key.into(),
        payload,
        previous: None,
    }
}

/// Poll `f` until it returns `Some`, for at most `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met within {secs}s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
