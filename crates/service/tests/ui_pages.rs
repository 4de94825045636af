//! The web UI over HTTP against both emulators: signed out every page goes to
//! `/login`; signed in, `/home` links every section and a crawl of its links finds
//! only same-origin, 200 HTML pages; a template deployed through the gallery form,
//! disabled through the flows page (state read back from `/api/flows`); a run from a
//! won opportunity listed in `/ui/runs` with its steps; a POST without CSRF refused.

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
use serde_json::{json, Value};

const FLOW: &str = "ghl-opportunity-won-to-sellsy-task";
const PASSWORD: &str = "correct horse battery staple";

struct World {
    ghl: GhlEmulator,
    ghl_cfg: GhlConfig,
    sellsy: SellsyEmulator,
    base: String,
    dir: PathBuf,
    token: String,
    accounts: Accounts,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<Result<(), hlbridge_service::ServiceError>>,
}

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn start() -> World {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("hlb-ui-pages-{}-{nanos}", std::process::id()));
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
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn api(
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

    async fn sellsy_tasks(&self) -> Vec<Value> {
        let conn = self
            .accounts
            .registry
            .list()
            .unwrap()
            .into_iter()
            .find(|c| c.app == hlbridge_accounts::App::Sellsy)
            .unwrap();
        let client = self.accounts.sellsy_client(&conn).unwrap();
        let out = client
            .call("tasks.get-list", CallInput::new().param("limit", 100))
            .await
            .unwrap();
        out["data"].as_array().cloned().unwrap_or_default()
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

/// A GHL contact with an opportunity in the first pipeline; returns the opportunity id.
async fn opportunity(w: &World, email: &str) -> String {
    let ghl = w.ghl();
    let contact = ghl
        .call(
            "contacts.create-contact",
            CallInput::new().body(json!({"firstName": "Ada", "lastName": "Won", "email": email})),
        )
        .await
        .unwrap();
    let contact_id = contact["contact"]["id"].as_str().unwrap().to_string();
    let pipelines = ghl
        .call("opportunities.get-pipelines", CallInput::new())
        .await
        .unwrap();
    let pipeline = &pipelines["pipelines"][0];
    let opp = ghl
        .call(
            "opportunities.create-opportunity",
            CallInput::new().body(json!({
                "pipelineId": pipeline["id"],
                "pipelineStageId": pipeline["stages"][0]["id"],
                "name": "Big deal",
                "status": "open",
                "contactId": contact_id,
                "monetaryValue": 1200,
            })),
        )
        .await
        .unwrap();
    opp["opportunity"]["id"].as_str().unwrap().to_string()
}

async fn win(w: &World, opp: &str) {
    set_status(w, opp, "won").await
}

async fn set_status(w: &World, opp: &str, status: &str) {
    w.ghl()
        .call(
            "opportunities.update-opportunity-status",
            CallInput::new()
                .param("id", opp)
                .body(json!({ "status": status })),
        )
        .await
        .unwrap();
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn sign_in(w: &World, c: &reqwest::Client) {
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

fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a CSRF token in the page")
        .to_string()
}

/// Every `attr="..."` value in `html`.
fn attrs(html: &str, attr: &str) -> Vec<String> {
    let pat = format!("{attr}=\"");
    html.split(&pat)
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|s| s.replace("&amp;", "&"))
        .collect()
}

async fn page(w: &World, c: &reqwest::Client, path: &str) -> String {
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

async fn post_form(w: &World, c: &reqwest::Client, path: &str, token: &str) -> reqwest::Response {
    c.post(w.url(path))
        .form(&[("csrf_token", token)])
        .send()
        .await
        .unwrap()
}

const PAGES: [&str; 7] = [
    "/ui/history",
    "/home",
    "/ui/flows",
    "/ui/templates",
    "/ui/runs",
    "/ui/runs/1",
    "/ui/assets/app.css",
];

#[tokio::test]
async fn ui_pages_signed_out_signed_in_crawl_deploy_disable_runs_csrf() {
    use reqwest::Method;
    let w = start().await;
    let c = browser();
    for p in PAGES {
        let res = c.get(w.url(p)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed out {p}");
        assert!(
            location(&res).starts_with("/login"),
            "signed out {p}: {}",
            location(&res)
        );
    }
    let res = c.get(w.url("/")).send().await.unwrap();
    assert!(location(&res).starts_with("/login"));
    // The icon is served to anyone (browsers ask every origin for it), as an SVG.
    let icon = c.get(w.url("/favicon.ico")).send().await.unwrap();
    assert_eq!(icon.status(), StatusCode::OK, "/favicon.ico signed out");
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    assert!(icon.text().await.unwrap().starts_with("<svg"));
    sign_in(&w, &c).await;
    let home = page(&w, &c, "/home").await;
    for link in [
        "/connections",
        "/ui/flows",
        "/ui/templates",
        "/ui/runs",
        "/ui/history",
    ] {
        assert!(
            home.contains(&format!("href=\"{link}\"")),
            "/home links {link}"
        );
    }
    assert!(home.contains("lang=\"en\"") && home.contains("<nav") && home.contains("<main"));

    // Deploy a template through the gallery's form.
    let gallery = page(&w, &c, "/ui/templates").await;
    let action = format!("/ui/templates/{FLOW}/use");
    assert!(
        gallery.contains(&format!("action=\"{action}\"")),
        "gallery has {FLOW}"
    );
    let token = csrf_of(&gallery);
    let no_csrf = c.post(w.url(&action)).send().await.unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN, "POST without CSRF");
    let (_, flows) = w.api(Method::GET, "/api/flows", None).await;
    assert!(
        flows.as_array().unwrap().iter().all(|f| f["name"] != FLOW),
        "nothing deployed by the refused POST: {flows}"
    );
    let used = post_form(&w, &c, &action, &token).await;
    assert_eq!(used.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&used), "/ui/flows");
    let flows_page = page(&w, &c, "/ui/flows").await;
    assert!(flows_page.contains(FLOW), "{FLOW} on /ui/flows");
    let (_, f) = w
        .api(Method::GET, &format!("/api/flows/{FLOW}"), None)
        .await;
    assert_eq!(f["enabled"], true, "{f}");

    // A won opportunity: a run, listed with its steps.
    let opp = opportunity(&w, "ada.ui@example.com").await;
    win(&w, &opp).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let run_href = loop {
        let runs = page(&w, &c, &format!("/ui/runs?flow={FLOW}&status=ok")).await;
        if let Some(h) = attrs(&runs, "href")
            .into_iter()
            .find(|h| h.starts_with("/ui/runs/"))
        {
            break h;
        }
        assert!(Instant::now() < deadline, "no run listed: {runs}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let run_page = page(&w, &c, &run_href).await;
    let id: i64 = run_href.trim_start_matches("/ui/runs/").parse().unwrap();
    let (_, run) = w.api(Method::GET, &format!("/api/runs/{id}"), None).await;
    let steps = run["steps"].as_array().cloned().unwrap_or_default();
    assert!(!steps.is_empty(), "the run has steps: {run}");
    for s in &steps {
        let path = s["step_path"].as_str().unwrap();
        assert!(run_page.contains(path), "run page shows step {path}");
    }
    assert!(
        !w.sellsy_tasks().await.is_empty(),
        "the flow created a Sellsy task"
    );

    // Crawl every same-origin link from /home.
    let mut seen = std::collections::HashSet::new();
    let mut queue = std::collections::VecDeque::from([String::from("/home")]);
    while let Some(p) = queue.pop_front() {
        if !seen.insert(p.clone()) {
            continue;
        }
        let html = page(&w, &c, &p).await;
        for v in attrs(&html, "src").into_iter().chain(attrs(&html, "href")) {
            assert!(
                v.starts_with('/') && !v.starts_with("//") || v.starts_with('#'),
                "{p} references another origin: {v}"
            );
        }
        for h in attrs(&html, "href") {
            let h = h.split('#').next().unwrap_or_default().to_string();
            // Consent links leave for the provider; the stylesheet is checked below and
            // the icon above.
            if h.is_empty()
                || h.starts_with("/connect/")
                || h.starts_with("/ui/assets/")
                || h == "/favicon.ico"
            {
                continue;
            }
            if !seen.contains(&h) {
                queue.push_back(h);
            }
        }
    }
    for must in [
        "/connections",
        "/ui/flows",
        "/ui/templates",
        "/ui/runs",
        "/ui/history",
        run_href.as_str(),
    ] {
        assert!(seen.contains(must), "{must} reachable from /home: {seen:?}");
    }
    // The history search echoes its query escaped (autoescape on).
    let hist = page(&w, &c, "/ui/history?record=%3Cb%3Eada%40example.com").await;
    assert!(hist.contains("&lt;b&gt;ada@example.com") && !hist.contains("<b>ada"));
    assert!(hist.contains("<label for=\"record\">"));
    let css = c.get(w.url("/ui/assets/app.css")).send().await.unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.text().await.unwrap().contains(":focus-visible"));

    // Disable it through the flows page.
    let flows_page = page(&w, &c, "/ui/flows").await;
    let token = csrf_of(&flows_page);
    let off = format!("/ui/flows/{FLOW}/disable");
    assert!(flows_page.contains(&format!("action=\"{off}\"")));
    let res = c.post(w.url(&off)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "disable without CSRF");
    let (_, f) = w
        .api(Method::GET, &format!("/api/flows/{FLOW}"), None)
        .await;
    assert_eq!(
        f["enabled"], true,
        "still enabled after the refused POST: {f}"
    );
    let res = post_form(&w, &c, &off, &token).await;
    assert_eq!(location(&res), "/ui/flows");
    let (_, f) = w
        .api(Method::GET, &format!("/api/flows/{FLOW}"), None)
        .await;
    assert_eq!(f["enabled"], false, "disabled through the UI: {f}");
    let flows_page = page(&w, &c, "/ui/flows").await;
    assert!(flows_page.contains(&format!("action=\"/ui/flows/{FLOW}/enable\"")));
    w.stop().await;
}
