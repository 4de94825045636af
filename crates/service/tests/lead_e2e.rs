//! The service end to end through HTTP against both emulators: OAuth through the
//! emulators' consent pages (state mismatch and replay refused), an agency with two
//! installed locations each paired with its own Sellsy account and synced side by side
//! with no crossover, the pairs API, INSTALL / UNINSTALL webhooks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hlbridge_accounts::Budgets;
use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator, LocationSpec};
use hlbridge_emulator::sellsy::{SellsyConfig, SellsyEmulator};
use hlbridge_service::api::{GhlApp, SellsyApp};
use hlbridge_service::server::{self, ServerOptions};
use hlbridge_service::ServiceConfig;
use reqwest::{redirect::Policy, StatusCode};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery staple";

struct World {
    ghl: GhlEmulator,
    ghl_cfg: GhlConfig,
    sellsy_a: SellsyEmulator,
    sellsy_b: SellsyEmulator,
    sellsy_cfg: SellsyConfig,
    sellsy_b_cfg: SellsyConfig,
    base: String,
    dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<Result<(), hlbridge_service::ServiceError>>,
}

fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("hlb-lead-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sellsy_config(seed: usize) -> SellsyConfig {
    SellsyConfig {
        seed_contacts: seed,
        quota_per_second: 1_000_000,
        quota_per_minute: 10_000_000,
        quota_per_day: 100_000_000,
        quota_per_month: 1_000_000_000,
        ..SellsyConfig::default()
    }
}

async fn start(tag: &str) -> World {
    let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let dir = temp_dir(tag);
    // The server's port is needed for the emulator's webhook URL: bind it first.
    let listener = tokio::net::TcpListener::bind(local).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let ghl_cfg = GhlConfig {
        rate_max: 1_000_000,
        daily_limit: 10_000_000,
        extra_locations: vec![LocationSpec::new("loc-second")],
        webhook_url: Some(format!("{base}/webhooks/ghl")),
        ..GhlConfig::default()
    };
    let ghl = hlbridge_emulator::ghl::start(ghl_cfg.clone(), local)
        .await
        .unwrap();
    let sellsy_cfg = sellsy_config(0);
    let sellsy_a = hlbridge_emulator::sellsy::start(sellsy_cfg.clone(), local)
        .await
        .unwrap();
    // A second Sellsy account (another corp id).
    let sellsy_b_cfg = SellsyConfig {
        corp_id: 515151,
        ..sellsy_config(0)
    };
    let sellsy_b = hlbridge_emulator::sellsy::start(sellsy_b_cfg.clone(), local)
        .await
        .unwrap();
    let db_path = dir.join("state.sqlite");
    let mut service = ServiceConfig::new(addr, db_path.clone(), None);
    service.ghl_public_key_pem = Some(ghl.public_key_pem.clone());
    // The admin password, as `hlbridge admin set-password` would store it.
    let db = hlbridge_service::Db::open(&db_path).unwrap();
    db.call_blocking(|c| {
        hlbridge_service::db::migrate(c).unwrap();
        hlbridge_service::admin::init_admin(c, Some(PASSWORD)).unwrap();
    });
    drop(db);
    let opts = ServerOptions {
        service,
        ghl_app: Some(GhlApp {
            client_id: ghl_cfg.client_id.clone(),
            client_secret: ghl_cfg.client_secret.clone(),
            base_url: ghl.base_url.clone(),
            authorize_url: format!("{}/oauth/chooselocation", ghl.base_url),
            scopes: "contacts.readonly contacts.write locations.readonly locations/customFields.readonly locations/tasks.readonly oauth.readonly oauth.write".into(),
        }),
        sellsy_app: Some(SellsyApp {
            client_id: sellsy_cfg.client_id.clone(),
            client_secret: Some(sellsy_cfg.client_secret.clone()),
            base_url: sellsy_a.base_url.clone(),
            authorize_url: hlbridge_sellsy::oauth::authorize_url_for(&sellsy_a.base_url),
            token_url: hlbridge_sellsy::oauth::token_url_for(&sellsy_a.base_url),
        }),
        budgets: Budgets::default(),
        max_concurrent: 2,
        drain: Duration::from_secs(10),
        interval_override: Some(Duration::from_millis(300)),
        on_cycle: None,
        flow_tick: None,
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
        sellsy_a,
        sellsy_b,
        sellsy_cfg,
        sellsy_b_cfg,
        base,
        dir,
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

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), &mut self.server).await;
        self.sellsy_a.shutdown().await;
        self.sellsy_b.shutdown().await;
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
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
    let token = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a CSRF token in the sign-in form")
        .to_string();
    let res = c
        .post(w.url("/login"))
        .form(&[("password", PASSWORD), ("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "sign-in refused");
}

/// Walk a consent flow: our `/connect/...` → the provider's page (auto-approved) →
/// our callback. Returns the callback URL and the callback's answer.
async fn consent(w: &World, c: &reqwest::Client, start: &str) -> (String, reqwest::Response) {
    let go = c.get(w.url(start)).send().await.unwrap();
    assert_eq!(
        go.status(),
        StatusCode::FOUND,
        "{start} redirects to the provider"
    );
    let authorize = location(&go);
    assert!(authorize.contains("state="), "{authorize}");
    let approved = c
        .get(format!("{authorize}&approve=true"))
        .send()
        .await
        .unwrap();
    assert!(
        approved.status().is_redirection(),
        "the consent page approves"
    );
    let callback = location(&approved);
    assert!(callback.starts_with(&w.base), "{callback}");
    let answer = c.get(&callback).send().await.unwrap();
    (callback, answer)
}

async fn api(
    w: &World,
    c: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = c.request(method, w.url(path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    // Cookie-authenticated writes carry the session's CSRF token.
    let page = c
        .get(w.url("/connections"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    if let Some(t) = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
    {
        req = req.header("x-csrf-token", t);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn oauth_both_apps_through_the_consent_pages_state_is_single_use() {
    let w = start("oauth").await;
    let c = browser();
    // Signed out: /connect/ghl sends to the sign-in page.
    let r = c.get(w.url("/connect/ghl")).send().await.unwrap();
    assert_eq!(location(&r), "/login");
    sign_in(&w, &c).await;

    let (callback, answer) = consent(&w, &c, "/connect/ghl").await;
    assert_eq!(
        answer.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        answer.text().await
    );
    assert_eq!(location(&answer), "/connections");
    // The same callback again (replay): refused, nothing new stored.
    let replay = c.get(&callback).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.text().await.unwrap().contains("already used"));
    // A state that was never issued.
    let forged = callback.replace("state=", "state=00");
    let r = c.get(&forged).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // The provider's refusal in plain words.
    let r = c
        .get(w.url(
            "/oauth/ghl/callback?error=access_denied&error_description=The+user+denied+access",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("The user denied access"));

    let (_, answer) = consent(&w, &c, "/connect/sellsy").await;
    assert_eq!(
        answer.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        answer.text().await
    );

    let (status, conns) = api(&w, &c, reqwest::Method::GET, "/api/connections", None).await;
    assert_eq!(status, StatusCode::OK);
    let conns = conns.as_array().unwrap().clone();
    assert_eq!(conns.len(), 2, "{conns:?}");
    let ghl = conns.iter().find(|c| c["app"] == "ghl").unwrap();
    assert_eq!(ghl["kind"], "oauth-location");
    assert_eq!(ghl["account"], w.ghl_cfg.location_id.as_str());
    assert_eq!(ghl["status"], "ok");
    let sellsy = conns.iter().find(|c| c["app"] == "sellsy").unwrap();
    assert_eq!(sellsy["kind"], "oauth");
    let text = serde_json::to_string(&conns).unwrap();
    assert!(!text.contains("access_token") && !text.contains(&w.sellsy_cfg.client_secret));

    // The stored OAuth connection works: pair it and sync one contact across.
    let (status, created) = api(
        &w,
        &c,
        reqwest::Method::POST,
        "/api/pairs",
        Some(json!({"ghl": ghl["id"], "sellsy": sellsy["id"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let pair = created["id"].as_str().unwrap().to_string();
    create_ghl_contact(
        &w.ghl.base_url,
        &w.ghl_cfg.token,
        &w.ghl_cfg.location_id,
        "Oauth",
        "oauth@example.com",
    )
    .await;
    wait_for_sellsy_email(&w.sellsy_a.base_url, &w.sellsy_cfg, "oauth@example.com").await;
    let (status, st) = api(
        &w,
        &c,
        reqwest::Method::GET,
        &format!("/api/pairs/{pair}/status"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(st["run"]["cycles"].as_u64().unwrap() >= 1, "{st}");
    // What happened to that contact: its create on Sellsy, with the fields it carried.
    let (status, hist) = api(
        &w,
        &c,
        reqwest::Method::GET,
        "/api/history?record=oauth@example.com",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let hist = hist.as_array().unwrap().clone();
    let create = hist
        .iter()
        .find(|h| h["side"] == "sellsy" && h["op"] == "create" && h["kind"] == "contact")
        .unwrap_or_else(|| panic!("no Sellsy create in {hist:?}"));
    assert_eq!(create["pair"], pair.as_str());
    assert_eq!(create["outcome"], "applied");
    assert!(
        create["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "email"),
        "{create}"
    );
    // Metrics: the pair's lag and outbox depth, each account's budget left.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = c
            .get(w.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let lag = format!("hlbridge_sync_lag_seconds{{pair=\"{pair}\"}}");
        if text.contains(&lag)
            && text.contains("hlbridge_outbox_depth")
            && text.contains("hlbridge_budget_remaining")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "metrics never showed the pair:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    w.stop().await;
}

async fn create_ghl_contact(
    base: &str,
    token: &str,
    location: &str,
    first: &str,
    email: &str,
) -> String {
    let res = reqwest::Client::new()
        .post(format!("{base}/contacts/"))
        .bearer_auth(token)
        .header("Version", "2021-07-28")
        .json(&json!({"locationId": location, "firstName": first, "lastName": "Pair", "email": email}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{:?}", res.text().await);
    let body: Value = res.json().await.unwrap();
    body["contact"]["id"].as_str().unwrap().to_string()
}

async fn sellsy_token(base: &str, cfg: &SellsyConfig) -> String {
    let url = hlbridge_sellsy::oauth::token_url_for(base);
    let body: Value = reqwest::Client::new()
        .post(url)
        .json(&json!({"grant_type": "client_credentials", "client_id": cfg.client_id, "client_secret": cfg.client_secret}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

async fn sellsy_emails(base: &str, cfg: &SellsyConfig) -> Vec<String> {
    let token = sellsy_token(base, cfg).await;
    let body: Value = reqwest::Client::new()
        .get(format!("{base}/contacts?limit=100"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c["email"].as_str().map(str::to_string))
        .collect()
}

async fn wait_for_sellsy_email(base: &str, cfg: &SellsyConfig, email: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if sellsy_emails(base, cfg).await.iter().any(|e| e == email) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{email} never reached Sellsy at {base}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn agency_with_two_locations_each_paired_syncs_without_crossover() {
    let w = start("agency").await;
    let c = browser();
    sign_in(&w, &c).await;
    let (_, answer) = consent(&w, &c, "/connect/ghl?agency=1").await;
    assert_eq!(
        answer.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        answer.text().await
    );
    let (_, conns) = api(&w, &c, reqwest::Method::GET, "/api/connections", None).await;
    let conns = conns.as_array().unwrap().clone();
    let agency = conns
        .iter()
        .find(|c| c["kind"] == "oauth-agency")
        .expect("an agency connection");
    assert_eq!(agency["account"], w.ghl_cfg.company_id.as_str());
    let locations: Vec<&Value> = conns
        .iter()
        .filter(|c| c["kind"] == "agency-location")
        .collect();
    let mut accounts: Vec<&str> = locations
        .iter()
        .map(|c| c["account"].as_str().unwrap())
        .collect();
    accounts.sort();
    assert_eq!(accounts, vec![w.ghl_cfg.location_id.as_str(), "loc-second"]);

    // Each location with its own Sellsy account (two emulators), by client credentials.
    let accounts_api = hlbridge_accounts::Accounts::new(
        std::sync::Arc::new(
            hlbridge_accounts::Registry::open(&w.dir.join("state.sqlite")).unwrap(),
        ),
        Budgets::default(),
    );
    let sa = accounts_api
        .add_sellsy_client(
            &w.sellsy_cfg.client_id,
            &w.sellsy_cfg.client_secret,
            &w.sellsy_a.base_url,
            None,
        )
        .await
        .unwrap();
    let sb = accounts_api
        .add_sellsy_client(
            &w.sellsy_b_cfg.client_id,
            &w.sellsy_b_cfg.client_secret,
            &w.sellsy_b.base_url,
            None,
        )
        .await
        .unwrap();
    assert_ne!(sa.id, sb.id);
    assert_eq!(sb.account, "515151");
    let loc_a = locations
        .iter()
        .find(|c| c["account"] == w.ghl_cfg.location_id.as_str())
        .unwrap();
    let loc_b = locations
        .iter()
        .find(|c| c["account"] == "loc-second")
        .unwrap();
    for (g, s) in [(loc_a, &sa.id), (loc_b, &sb.id)] {
        let (status, body) = api(
            &w,
            &c,
            reqwest::Method::POST,
            "/api/pairs",
            Some(json!({"ghl": g["id"], "sellsy": s})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let tok_b = w.ghl_cfg.extra_locations[0]
        .token
        .clone()
        .unwrap_or_else(|| "pit-loc-second".into());
    create_ghl_contact(
        &w.ghl.base_url,
        &w.ghl_cfg.token,
        &w.ghl_cfg.location_id,
        "Alpha",
        "alpha@example.com",
    )
    .await;
    create_ghl_contact(
        &w.ghl.base_url,
        &tok_b,
        "loc-second",
        "Beta",
        "beta@example.com",
    )
    .await;
    wait_for_sellsy_email(&w.sellsy_a.base_url, &w.sellsy_cfg, "alpha@example.com").await;
    wait_for_sellsy_email(&w.sellsy_b.base_url, &w.sellsy_b_cfg, "beta@example.com").await;
    // No crossover: each Sellsy account holds only its own location's contact.
    assert_eq!(
        sellsy_emails(&w.sellsy_a.base_url, &w.sellsy_cfg).await,
        vec!["alpha@example.com"]
    );
    assert_eq!(
        sellsy_emails(&w.sellsy_b.base_url, &w.sellsy_b_cfg).await,
        vec!["beta@example.com"]
    );
    // And the other way: a Sellsy contact of account B reaches loc-second only.
    let token = sellsy_token(&w.sellsy_b.base_url, &w.sellsy_b_cfg).await;
    let res = reqwest::Client::new()
        .post(format!("{}/contacts", w.sellsy_b.base_url))
        .bearer_auth(token)
        .json(&json!({"first_name": "Gamma", "last_name": "Back", "email": "gamma@example.com"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let in_b = ghl_has_email(&w.ghl.base_url, &tok_b, "loc-second", "gamma@example.com").await;
        if in_b {
            break;
        }
        assert!(Instant::now() < deadline, "gamma never reached loc-second");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        !ghl_has_email(
            &w.ghl.base_url,
            &w.ghl_cfg.token,
            &w.ghl_cfg.location_id,
            "gamma@example.com"
        )
        .await
    );
    assert!(!ghl_has_email(&w.ghl.base_url, &tok_b, "loc-second", "alpha@example.com").await);
    w.stop().await;
}

async fn ghl_has_email(base: &str, token: &str, location: &str, email: &str) -> bool {
    let body: Value = reqwest::Client::new()
        .post(format!("{base}/contacts/search"))
        .bearer_auth(token)
        .header("Version", "2021-07-28")
        .json(&json!({"locationId": location, "pageLimit": 100}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["contacts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .any(|c| c["email"].as_str() == Some(email))
}

async fn connection_accounts(w: &World, c: &reqwest::Client) -> Vec<(String, String)> {
    let (_, conns) = api(w, c, reqwest::Method::GET, "/api/connections", None).await;
    conns
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap_or_default().to_string(),
                c["account"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn install_and_uninstall_webhooks_add_and_remove_location_connections() {
    let w = start("install").await;
    let c = browser();
    sign_in(&w, &c).await;
    let (_, answer) = consent(&w, &c, "/connect/ghl?agency=1").await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let http = reqwest::Client::new();
    // The app is installed on a new location: GHL sends INSTALL (signed).
    let res = http
        .post(format!("{}/emulator/locations", w.ghl.base_url))
        .json(&json!({"id": "loc-third", "name": "Third"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
    let has = |list: &[(String, String)], acc: &str| {
        list.iter().any(|(k, a)| k == "agency-location" && a == acc)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !has(&connection_accounts(&w, &c).await, "loc-third") {
        assert!(Instant::now() < deadline, "INSTALL did not add loc-third");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Uninstalled: GHL sends UNINSTALL and the connection goes.
    let res = http
        .delete(format!("{}/emulator/locations/loc-third", w.ghl.base_url))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while has(&connection_accounts(&w, &c).await, "loc-third") {
        assert!(
            Instant::now() < deadline,
            "UNINSTALL did not remove loc-third"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The other locations stay connected.
    assert!(has(&connection_accounts(&w, &c).await, "loc-second"));
    w.stop().await;
}

#[tokio::test]
async fn pairs_api_validates_and_answers_json_errors() {
    let w = start("pairsapi").await;
    let c = browser();
    sign_in(&w, &c).await;
    let (_, answer) = consent(&w, &c, "/connect/ghl").await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let (_, answer) = consent(&w, &c, "/connect/sellsy").await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let (_, conns) = api(&w, &c, reqwest::Method::GET, "/api/connections", None).await;
    let conns = conns.as_array().unwrap().clone();
    let g = conns.iter().find(|c| c["app"] == "ghl").unwrap()["id"].clone();
    let s = conns.iter().find(|c| c["app"] == "sellsy").unwrap()["id"].clone();
    // Bad input: 4xx with {"error","detail"}.
    let (status, body) = api(
        &w,
        &c,
        reqwest::Method::POST,
        "/api/pairs",
        Some(json!({"ghl": g})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"].as_str().unwrap().contains("sellsy"),
        "{body}"
    );
    let (status, body) = api(
        &w,
        &c,
        reqwest::Method::POST,
        "/api/pairs",
        Some(json!({"ghl": s, "sellsy": g})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = api(
        &w,
        &c,
        reqwest::Method::POST,
        "/api/pairs",
        Some(json!({"ghl": "ghl-nope", "sellsy": s})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, created) = api(
        &w,
        &c,
        reqwest::Method::POST,
        "/api/pairs",
        Some(json!({"ghl": g, "sellsy": s})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap().to_string();
    let (status, _) = api(
        &w,
        &c,
        reqwest::Method::POST,
        "/api/pairs",
        Some(json!({"ghl": g, "sellsy": s})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Config: refused with the key named, accepted when valid, read back.
    let (status, body) = api(
        &w,
        &c,
        reqwest::Method::PUT,
        &format!("/api/pairs/{id}/config"),
        Some(json!({"config": "[sync]\npoll_interval_minutes = 99\n"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("poll_interval_minutes"),
        "{body}"
    );
    let (status, body) = api(
        &w,
        &c,
        reqwest::Method::PUT,
        &format!("/api/pairs/{id}/config"),
        Some(json!({"config": "[sync]\nbogus = 1\n"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["detail"].as_str().unwrap().contains("bogus"), "{body}");
    let good = "[sync]\npoll_interval_minutes = 2\n";
    let (status, _) = api(
        &w,
        &c,
        reqwest::Method::PUT,
        &format!("/api/pairs/{id}/config"),
        Some(json!({"config": good})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = api(
        &w,
        &c,
        reqwest::Method::GET,
        &format!("/api/pairs/{id}/config"),
        None,
    )
    .await;
    assert_eq!(body["config"], good);
    let (status, body) = api(
        &w,
        &c,
        reqwest::Method::POST,
        "/api/pairs/pair-nope/sync",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    let (status, body) = api(
        &w,
        &c,
        reqwest::Method::POST,
        &format!("/api/pairs/{id}/sync"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // The document lists the routes, from the handlers.
    let doc: Value = reqwest::get(w.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/connections",
        "/api/connections/{id}",
        "/api/pairs",
        "/api/pairs/{id}/config",
        "/api/pairs/{id}/sync",
        "/api/pairs/{id}/status",
        "/api/history",
        "/api/conflicts",
        "/api/conflicts/{id}/resolve",
        "/api/ops",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} in the OpenAPI document"
        );
    }
    let (status, ops) = api(
        &w,
        &c,
        reqwest::Method::GET,
        "/api/ops?app=ghl&kind=action",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ops
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["id"] == "contacts.create-contact"));
    let (status, _) = api(&w, &c, reqwest::Method::GET, "/api/ops?app=zoho", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Conflicts and history answer JSON arrays; a malformed conflict id is a 400.
    let (status, body) = api(&w, &c, reqwest::Method::GET, "/api/conflicts", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_array());
    let (status, _) = api(
        &w,
        &c,
        reqwest::Method::POST,
        "/api/conflicts/7/resolve",
        Some(json!({"take": "ghl"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api(
        &w,
        &c,
        reqwest::Method::POST,
        &format!("/api/conflicts/{id}:1/resolve"),
        Some(json!({"take": "both"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    w.stop().await;
}
