//! The activity side of the web UI over HTTP against both emulators.
//!
//! World 1 (no GHL webhooks; cycles only when asked): the catalog lists both apps and
//! filters by `?q=&app=`; "Try it" reads a GHL contact through the stored connection
//! and shows the emulator's data; a GHL create asks for confirmation first and only
//! then makes the contact; a pair's cycles appear on `/ui/activity` (and its filters
//! hold them back); a field changed on both sides between two cycles (policy
//! `manual`) shows both values on `/ui/conflicts`, and keeping Sellsy's through the
//! page writes it to the GHL emulator; `/ui/budgets` draws an SVG with the GHL
//! location's requests.
//!
//! World 2 (GHL webhooks on): a template's run and a failing flow's run appear on the
//! timeline, filtered by flow and status; the failed run is on `/ui/dead-letters`
//! with its replay form.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hlbridge_accounts::{Accounts, Budgets, Registry};
use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator};
use hlbridge_emulator::sellsy::{SellsyConfig, SellsyEmulator};
use hlbridge_service::server::{self, ServerOptions};
use hlbridge_service::ServiceConfig;
use reqwest::{Method, StatusCode};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";
const FLOW: &str = "ghl-opportunity-won-to-sellsy-task";

struct World {
    ghl: GhlEmulator,
    ghl_cfg: GhlConfig,
    sellsy: SellsyEmulator,
    base: String,
    dir: PathBuf,
    token: String,
    accounts: Accounts,
    c: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<Result<(), hlbridge_service::ServiceError>>,
}

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn start(webhooks: bool, interval: Duration) -> World {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("hlb-ui-act-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let listener = tokio::net::TcpListener::bind(local()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let ghl_cfg = GhlConfig {
        rate_max: 1_000_000,
        daily_limit: 10_000_000,
        webhook_url: webhooks.then(|| format!("{base}/webhooks/ghl")),
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
        interval_override: Some(interval),
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
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let w = World {
        ghl,
        ghl_cfg,
        sellsy,
        base,
        dir,
        token,
        accounts,
        c,
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
    w.sign_in().await;
    w
}

fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a CSRF token in the page")
        .to_string()
}

fn attrs(html: &str, attr: &str) -> Vec<String> {
    let pat = format!("{attr}=\"");
    html.split(&pat)
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|s| s.replace("&amp;", "&"))
        .collect()
}

/// A page's text with the entities the HTML escaping writes turned back into characters.
pub fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The decoded text of a response.
pub async fn text(res: reqwest::Response) -> String {
    unescape(&res.text().await.unwrap())
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

impl World {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn sign_in(&self) {
        let page = self.c.get(self.url("/login")).send().await.unwrap();
        let token = csrf_of(&page.text().await.unwrap());
        let res = self
            .c
            .post(self.url("/login"))
            .form(&[("password", PASSWORD), ("csrf_token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "sign-in refused");
    }

    async fn page(&self, path: &str) -> String {
        let res = self.c.get(self.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        text(res).await
    }

    /// A form POST with the session's CSRF token (taken from `/home`).
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = csrf_of(&self.page("/home").await);
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        form.extend_from_slice(fields);
        self.c
            .post(self.url(path))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    async fn api(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
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

    /// Poll `path` until `cond` holds on its HTML.
    async fn page_until(&self, path: &str, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let html = self.page(path).await;
            if cond(&html) {
                return html;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {path} never did: {html}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn ghl(&self) -> hlbridge_ghl::GhlClient {
        hlbridge_ghl::GhlClient::builder()
            .base_url(&self.ghl.base_url)
            .auth(hlbridge_ghl::GhlAuth::LocationToken(
                self.ghl_cfg.token.clone(),
            ))
            .location_id(&self.ghl_cfg.location_id)
            .build()
            .unwrap()
    }

    fn sellsy(&self) -> hlbridge_sellsy::SellsyClient {
        let conn = self.conn("sellsy");
        self.accounts.sellsy_client(&conn).unwrap()
    }

    fn conn(&self, app: &str) -> hlbridge_accounts::Connection {
        self.accounts
            .registry
            .list()
            .unwrap()
            .into_iter()
            .find(|c| c.app.as_str() == app)
            .unwrap()
    }

    fn ghl_contact_by_email(&self, email: &str) -> Option<Value> {
        let st = self.ghl.state();
        st.contact_ids()
            .into_iter()
            .filter_map(|id| st.contact(&id))
            .find(|c| c["email"] == email)
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), &mut self.server).await;
        self.sellsy.shutdown().await;
        self.ghl.shutdown();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

#[path = "ui_activity/world1.rs"]
mod world1;
#[path = "ui_activity/world2.rs"]
mod world2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_catalog_try_it_activity_conflicts_budgets_dead_letters() {
    // One test: the request observer that counts budgets is process-global.
    let w = start(false, Duration::from_secs(3600)).await;
    world1::catalog_and_try_it(&w).await;
    world1::cycles_conflict_budgets(&w).await;
    w.stop().await;
    let w = start(true, Duration::from_millis(300)).await;
    world2::runs_and_dead_letters(&w).await;
    w.stop().await;
}
