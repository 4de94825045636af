//! The set-up of `ui_mapping`: both emulators, `serve`, a signed-in browser client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hlbridge_accounts::{Accounts, App, Budgets, Registry};
use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator};
use hlbridge_emulator::sellsy::{SellsyConfig, SellsyEmulator};
use hlbridge_service::server::{self, ServerOptions};
use hlbridge_service::ServiceConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};

pub const PASSWORD: &str = "correct horse battery staple";

pub struct World {
    pub ghl: GhlEmulator,
    pub ghl_cfg: GhlConfig,
    pub sellsy: SellsyEmulator,
    pub base: String,
    pub dir: PathBuf,
    pub token: String,
    pub accounts: Accounts,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub server: tokio::task::JoinHandle<Result<(), hlbridge_service::ServiceError>>,
}

pub fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Both emulators (no webhooks: the pair syncs only when asked) and `serve` with the
/// Sellsy connection stored as `connections add` stores it; GHL is added by the test.
pub async fn start() -> World {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("hlb-ui-map-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let listener = tokio::net::TcpListener::bind(local()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let ghl_cfg = GhlConfig {
        rate_max: 1_000_000,
        daily_limit: 10_000_000,
        seed_contacts: 0,
        ..GhlConfig::default()
    };
    let ghl = hlbridge_emulator::ghl::start(ghl_cfg.clone(), local())
        .await
        .unwrap();
    let sellsy_cfg = SellsyConfig {
        seed_contacts: 0,
        quota_per_second: 1_000_000,
        quota_per_minute: 10_000_000,
        quota_per_day: 100_000_000,
        quota_per_month: 1_000_000_000,
        ..SellsyConfig::default()
    };
    let sellsy = hlbridge_emulator::sellsy::start(sellsy_cfg.clone(), local())
        .await
        .unwrap();
    let db_path = dir.join("state.sqlite");
    let service = ServiceConfig::new(addr, db_path.clone(), None);
    let db = hlbridge_service::Db::open(&db_path).unwrap();
    let token = db
        .call_blocking(|c| {
            hlbridge_service::db::migrate(c).unwrap();
            hlbridge_service::admin::init_admin(c, Some(PASSWORD)).unwrap();
            hlbridge_service::api_tokens::create(c, "ui-mapping-test")
        })
        .unwrap()
        .1;
    drop(db);
    let accounts = Accounts::new(
        Arc::new(Registry::open(&db_path).unwrap()),
        Budgets::default(),
    );
    accounts
        .add_sellsy_client(
            &sellsy_cfg.client_id,
            &sellsy_cfg.client_secret,
            &sellsy.base_url,
            None,
        )
        .await
        .unwrap();
    let opts = ServerOptions {
        service,
        ghl_app: None,
        sellsy_app: None,
        budgets: Budgets::default(),
        max_concurrent: 2,
        drain: Duration::from_secs(10),
        // A pair's first cycle runs at once; later ones only when asked.
        interval_override: Some(Duration::from_secs(3600)),
        on_cycle: None,
        flow_tick: Some(Duration::from_secs(3600)),
    };
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::run(
        opts,
        listener,
        async move {
            let _ = rx.await;
        },
        |_| {},
    ));
    let w = World {
        ghl,
        ghl_cfg,
        sellsy,
        base,
        dir,
        token,
        accounts,
        stop: Some(stop),
        server,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while reqwest::get(w.url("/healthz"))
        .await
        .map(|r| r.status())
        .ok()
        != Some(StatusCode::OK)
    {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    w
}

impl World {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = reqwest::Client::new()
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn ghl(&self) -> hlbridge_ghl::GhlClient {
        hlbridge_ghl::GhlClient::builder()
            .base_url(&self.ghl.base_url)
            .auth(hlbridge_ghl::GhlAuth::LocationToken(
                self.ghl_cfg.token.clone(),
            ))
            .location_id(&self.ghl_cfg.location_id)
            .build()
            .unwrap()
    }

    pub fn conn_id(&self, app: App) -> Option<String> {
        self.accounts
            .registry
            .list()
            .unwrap()
            .into_iter()
            .find(|c| c.app == app)
            .map(|c| c.id)
    }

    /// Everything a write to either emulator would change.
    pub fn snapshot(&self) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
        let state = self.sellsy.state();
        let store = state.store();
        let contacts = store
            .contacts
            .rows
            .values()
            .map(|r| Value::Object(r.clone()))
            .collect();
        let values = store
            .custom_field_values
            .iter()
            .map(|((_, id, f), v)| json!([id, f, v]))
            .collect();
        drop(store);
        let ghl = self.ghl.state();
        let ghl_contacts = ghl
            .contact_ids()
            .iter()
            .filter_map(|id| ghl.contact(id))
            .collect();
        (contacts, values, ghl_contacts)
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), &mut self.server).await;
        self.sellsy.shutdown().await;
        self.ghl.shutdown();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

pub fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a CSRF token in the page")
        .to_string()
}

pub async fn sign_in(w: &World, c: &reqwest::Client) -> String {
    let page = c
        .get(w.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_of(&page);
    let res = c
        .post(w.url("/login"))
        .form(&[("password", PASSWORD), ("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "sign-in refused");
    let home = c
        .get(w.url("/home"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    csrf_of(&home)
}

pub async fn page(w: &World, c: &reqwest::Client, path: &str) -> String {
    let res = c.get(w.url(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    res.text().await.unwrap()
}

pub async fn post(
    w: &World,
    c: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    c.post(w.url(path)).form(form).send().await.unwrap()
}

pub async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
