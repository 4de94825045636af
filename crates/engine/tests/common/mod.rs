//! Shared set-up of the engine's end-to-end tests: both emulators on free ports with
//! raised limits, an engine on a temporary SQLite file.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hlbridge_emulator::faults::FaultConfig;
use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator};
use hlbridge_emulator::sellsy::{SellsyConfig, SellsyEmulator};
use hlbridge_engine::store::{sqlite::SqliteStore, StateStore};
use hlbridge_engine::{Budgets, Engine, EngineConfig};
use serde_json::{json, Value};

pub struct Env {
    pub ghl: GhlEmulator,
    pub sellsy: SellsyEmulator,
    pub dir: PathBuf,
    pub ghl_cfg: GhlConfig,
    pub sellsy_cfg: SellsyConfig,
}

pub fn local() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().expect("address")
}

pub async fn start(ghl_seed: usize, sellsy_seed: usize, faults: FaultConfig) -> Env {
    start_with(ghl_seed, sellsy_seed, faults, |_, _| {}).await
}

/// As [`start`], with the emulators' configurations adjusted first.
pub async fn start_with(
    ghl_seed: usize,
    sellsy_seed: usize,
    faults: FaultConfig,
    tweak: impl FnOnce(&mut GhlConfig, &mut SellsyConfig),
) -> Env {
    let mut ghl_cfg = GhlConfig {
        seed_contacts: ghl_seed,
        rate_max: 1_000_000,
        rate_interval: Duration::from_secs(10),
        daily_limit: 10_000_000,
        faults: faults.clone(),
        ..GhlConfig::default()
    };
    let mut sellsy_cfg = SellsyConfig {
        seed_contacts: sellsy_seed,
        quota_per_second: 1_000_000,
        quota_per_minute: 10_000_000,
        quota_per_day: 100_000_000,
        quota_per_month: 1_000_000_000,
        faults,
        ..SellsyConfig::default()
    };
    tweak(&mut ghl_cfg, &mut sellsy_cfg);
    let ghl = hlbridge_emulator::ghl::start(ghl_cfg.clone(), local())
        .await
        .expect("ghl emulator");
    let sellsy = hlbridge_emulator::sellsy::start(sellsy_cfg.clone(), local())
        .await
        .expect("sellsy emulator");
    let dir = std::env::temp_dir().join(format!("hlbridge-engine-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    Env {
        ghl,
        sellsy,
        dir,
        ghl_cfg,
        sellsy_cfg,
    }
}

impl Env {
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("state.sqlite")
    }

    pub fn config(&self, extra_toml: &str) -> EngineConfig {
        let mut cfg = EngineConfig::from_toml(extra_toml).expect("config");
        cfg.ghl.base_url = Some(self.ghl.base_url.clone());
        cfg.ghl.token = Some(self.ghl_cfg.token.clone());
        cfg.ghl.location_id = Some(self.ghl_cfg.location_id.clone());
        cfg.sellsy.base_url = Some(self.sellsy.base_url.clone());
        cfg.sellsy.client_id = Some(self.sellsy_cfg.client_id.clone());
        cfg.sellsy.client_secret = Some(self.sellsy_cfg.client_secret.clone());
        cfg.database.url = Some(format!("sqlite://{}", self.db_path().display()));
        cfg
    }

    /// Environment variables pointing the `hlbridge` binary at these emulators.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        vec![
            ("HLBRIDGE_GHL_BASE_URL".into(), self.ghl.base_url.clone()),
            ("HLBRIDGE_GHL_TOKEN".into(), self.ghl_cfg.token.clone()),
            (
                "HLBRIDGE_GHL_LOCATION_ID".into(),
                self.ghl_cfg.location_id.clone(),
            ),
            (
                "HLBRIDGE_SELLSY_BASE_URL".into(),
                self.sellsy.base_url.clone(),
            ),
            (
                "HLBRIDGE_SELLSY_CLIENT_ID".into(),
                self.sellsy_cfg.client_id.clone(),
            ),
            (
                "HLBRIDGE_SELLSY_CLIENT_SECRET".into(),
                self.sellsy_cfg.client_secret.clone(),
            ),
            (
                "HLBRIDGE_DATABASE_URL".into(),
                format!("sqlite://{}", self.db_path().display()),
            ),
        ]
    }

    pub async fn engine(&self, extra_toml: &str) -> Engine {
        let store: Arc<dyn StateStore> =
            Arc::new(SqliteStore::open(&self.db_path()).expect("store"));
        Engine::connect_with(self.config(extra_toml), store, Budgets::default())
            .await
            .expect("engine connects")
    }

    /// Give the first `n` Sellsy contacts the e-mail of the first `n` GHL contacts.
    pub fn overlap_emails(&self, n: usize) -> Vec<String> {
        let ghl = self.ghl.state();
        let emails: Vec<String> = ghl
            .contact_ids()
            .iter()
            .take(n)
            .filter_map(|id| ghl.contact(id)?.get("email")?.as_str().map(str::to_string))
            .collect();
        let state = self.sellsy.state();
        let mut store = state.store();
        let ids: Vec<i64> = store.contacts.rows.keys().take(n).copied().collect();
        for (id, email) in ids.iter().zip(&emails) {
            if let Some(c) = store.contacts.get_mut(*id) {
                c.insert("email".into(), json!(email));
            }
        }
        emails
    }

    /// Every GHL contact (rendered) by id.
    pub fn ghl_contacts(&self) -> Vec<Value> {
        let ghl = self.ghl.state();
        ghl.contact_ids()
            .iter()
            .filter_map(|id| ghl.contact(id))
            .collect()
    }

    pub fn sellsy_contacts(&self) -> Vec<Value> {
        let state = self.sellsy.state();
        let store = state.store();
        store
            .contacts
            .rows
            .values()
            .map(|r| Value::Object(r.clone()))
            .collect()
    }

    pub fn cleanup(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Lower-cased e-mails of a list of contacts, with duplicates counted.
pub fn email_counts(contacts: &[Value]) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for c in contacts {
        if let Some(e) = c.get("email").and_then(Value::as_str) {
            *m.entry(e.to_lowercase()).or_insert(0) += 1;
        }
    }
    m
}

pub fn quiet() -> impl Fn(hlbridge_engine::Progress) + Send + Sync {
    |_| {}
}

/// Progress printed with the elapsed time (for timing investigations).
pub fn timed() -> impl Fn(hlbridge_engine::Progress) + Send + Sync {
    let start = std::time::Instant::now();
    move |p| eprintln!("{:>7.2}s {p:?}", start.elapsed().as_secs_f64())
}

impl Env {
    pub fn ghl_client(&self) -> hlbridge_ghl::GhlClient {
        hlbridge_ghl::GhlClient::builder()
            .base_url(&self.ghl.base_url)
            .auth(hlbridge_ghl::GhlAuth::LocationToken(
                self.ghl_cfg.token.clone(),
            ))
            .location_id(&self.ghl_cfg.location_id)
            .build()
            .expect("ghl client")
    }

    pub fn sellsy_client(&self) -> hlbridge_sellsy::SellsyClient {
        hlbridge_sellsy::SellsyClient::builder()
            .base_url(&self.sellsy.base_url)
            .auth(hlbridge_sellsy::SellsyAuth::Token(
                self.sellsy.state().mint_access_token(),
            ))
            .build()
            .expect("sellsy client")
    }

    /// The Sellsy contact linked to GHL contact `ghl_id`, through the engine's store.
    pub fn partner(&self, engine: &Engine, ghl_id: &str) -> String {
        engine
            .store()
            .link_by(
                hlbridge_engine::store::Kind::Contact,
                hlbridge_engine::store::Side::Ghl,
                ghl_id,
            )
            .expect("store")
            .expect("linked")
            .sellsy_id
    }

    /// Sellsy tasks related to a contact, as stored.
    pub fn sellsy_tasks_of(&self, contact: i64) -> Vec<Value> {
        let state = self.sellsy.state();
        let store = state.store();
        store
            .tasks
            .rows
            .values()
            .filter(|t| t.get("contact_id").and_then(Value::as_i64) == Some(contact))
            .map(|t| Value::Object(t.clone()))
            .collect()
    }

    pub fn sellsy_comments_of(&self, contact: i64) -> Vec<Value> {
        let state = self.sellsy.state();
        let store = state.store();
        store
            .comments
            .rows
            .values()
            .filter(|t| t.get("contact_id").and_then(Value::as_i64) == Some(contact))
            .map(|t| Value::Object(t.clone()))
            .collect()
    }
}
