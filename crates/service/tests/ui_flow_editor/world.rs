//! The set-up of `ui_flow_editor.rs`: both emulators, the service with its
//! connections, a signed-in browser-like client (as in `ui_pages.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hlbridge_accounts::{Accounts, Budgets, Registry};
use hlbridge_core::call::CallInput;
use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator};
use hlbridge_emulator::sellsy::{SellsyConfig, SellsyEmulator};
use hlbridge_service::server::{self, ServerOptions};
use hlbridge_service::ServiceConfig;
use reqwest::StatusCode;
use serde_json::Value;

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
pub const FLOW: &str = "ghl-opportunity-won-to-sellsy-task";

pub fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub async fn start() -> World {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("hlb-ui-editor-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let listener = tokio::net::TcpListener::bind(local()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let ghl_cfg = GhlConfig {
        rate_max: 1_000_000,
        daily_limit: 10_000_000,
        webhook_url: Some(format!("{base}/webhooks/ghl")),
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
    let mut service = ServiceConfig::new(addr, db_path.clone(), None);
    service.ghl_public_key_pem = Some(ghl.public_key_pem.clone());
    let db = hlbridge_service::Db::open(&db_path).unwrap();
    let token = db
        .call_blocking(|c| {
            hlbridge_service::db::migrate(c).unwrap();
            hlbridge_service::admin::init_admin(c, Some(PASSWORD)).unwrap();
            hlbridge_service::api_tokens::create(c, "ui-test")
        })
        .unwrap()
        .1;
    drop(db);
    // The connections, as `hlbridge connections add` stores them.
    let accounts = Accounts::new(
        Arc::new(Registry::open(&db_path).unwrap()),
        Budgets::default(),
    );
    accounts
        .add_ghl_pit(&ghl_cfg.token, &ghl_cfg.location_id, &ghl.base_url)
        .await
        .unwrap();
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
        interval_override: Some(Duration::from_millis(300)),
        on_cycle: None,
        flow_tick: Some(Duration::from_millis(200)),
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

    pub async fn sellsy(&self, op: &str, input: CallInput) -> Value {
        let conn = self
            .accounts
            .registry
            .list()
            .unwrap()
            .into_iter()
            .find(|c| c.app == hlbridge_accounts::App::Sellsy)
            .unwrap();
        let client = self.accounts.sellsy_client(&conn).unwrap();
        client.call(op, input).await.unwrap()
    }

    pub async fn sellsy_tasks(&self) -> Vec<Value> {
        let out = self
            .sellsy("tasks.get-list", CallInput::new().param("limit", 100))
            .await;
        out["data"].as_array().cloned().unwrap_or_default()
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

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn sign_in(w: &World, c: &reqwest::Client) {
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
    let landed = c.get(w.url(&location(&res))).send().await.unwrap();
    assert_eq!(location(&landed), "/home", "sign-in lands on /home");
}

pub fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a CSRF token in the page")
        .to_string()
}

pub async fn page(w: &World, c: &reqwest::Client, path: &str) -> String {
    let res = c.get(w.url(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ct.starts_with("text/html"), "GET {path}: {ct}");
    res.text().await.unwrap()
}
