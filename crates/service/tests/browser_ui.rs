//! The web UI in headless Chromium (Debian `chromium` driven by playwright-core,
//! `tests/browser/ui.mjs`): both emulators and the service run here, with the GHL and
//! Sellsy OAuth apps on the emulators' consent pages and no stored connection, so the
//! browser connects both. The script signs in, crawls every page (axe-core, screenshots
//! at 1280 and 390 px under `target/browser-artifacts`, no console error, no 5xx, no
//! other origin), connects, pairs, deploys a template, wins an opportunity, syncs a
//! Sellsy contact. Then this test checks the resulting state on both emulators itself.
//!
//! Needs chromium and `npm ci` in `tests/browser`: `.ci/run` installs both; elsewhere
//! the test says what is missing and returns, unless `CI` is set (then it fails).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hlbridge_accounts::Budgets;
use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator};
use hlbridge_emulator::sellsy::{SellsyConfig, SellsyEmulator};
use hlbridge_service::api::{GhlApp, SellsyApp};
use hlbridge_service::server::{self, ServerOptions};
use hlbridge_service::ServiceConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};

const PASSWORD: &str = "browser test admin password";
const INSTALL: &str = "apt-get install -y --no-install-recommends chromium && (cd tests/browser && npm ci --no-audit --no-fund)";

struct World {
    ghl: GhlEmulator,
    ghl_cfg: GhlConfig,
    sellsy: SellsyEmulator,
    sellsy_cfg: SellsyConfig,
    base: String,
    dir: PathBuf,
    token: String,
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
    let dir = std::env::temp_dir().join(format!("hlb-browser-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The server's port is needed for the emulator's webhook URL: bind it first.
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
    // The admin password, as `hlbridge admin set-password` stores it, and an API token
    // for this test's own checks. No connection: the browser makes both.
    let db = hlbridge_service::Db::open(&db_path).unwrap();
    let token = db
        .call_blocking(|c| {
            hlbridge_service::db::migrate(c).unwrap();
            hlbridge_service::admin::init_admin(c, Some(PASSWORD)).unwrap();
            hlbridge_service::api_tokens::create(c, "browser-test")
        })
        .unwrap()
        .1;
    drop(db);
    let opts = ServerOptions {
        service,
        ghl_app: Some(GhlApp {
            client_id: ghl_cfg.client_id.clone(),
            client_secret: ghl_cfg.client_secret.clone(),
            base_url: ghl.base_url.clone(),
            authorize_url: format!("{}/oauth/chooselocation", ghl.base_url),
            scopes: "contacts.readonly contacts.write locations.readonly locations/customFields.readonly locations/tasks.readonly opportunities.readonly opportunities.write oauth.readonly oauth.write".into(),
        }),
        sellsy_app: Some(SellsyApp {
            client_id: sellsy_cfg.client_id.clone(),
            client_secret: Some(sellsy_cfg.client_secret.clone()),
            base_url: sellsy.base_url.clone(),
            authorize_url: hlbridge_sellsy::oauth::authorize_url_for(&sellsy.base_url),
            token_url: hlbridge_sellsy::oauth::token_url_for(&sellsy.base_url),
        }),
        budgets: Budgets::default(),
        max_concurrent: 2,
        drain: Duration::from_secs(10),
        interval_override: Some(Duration::from_millis(500)),
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
        sellsy_cfg,
        base,
        dir,
        token,
        stop: Some(stop),
        server,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while reqwest::get(format!("{}/healthz", w.base))
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
    async fn api(&self, path: &str) -> Value {
        let res = reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.json().await.unwrap()
    }

    /// GET on the Sellsy emulator's API with a client-credentials token of its own.
    async fn sellsy_get(&self, path: &str) -> Value {
        let oauth = hlbridge_sellsy::oauth::token_url_for(&self.sellsy.base_url);
        let c = reqwest::Client::new();
        let t: Value = c
            .post(oauth)
            .json(&json!({"grant_type": "client_credentials",
                "client_id": self.sellsy_cfg.client_id, "client_secret": self.sellsy_cfg.client_secret}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let res = c
            .get(format!("{}{path}", self.sellsy.base_url))
            .bearer_auth(t["access_token"].as_str().expect("a Sellsy token"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "Sellsy GET {path}");
        res.json().await.unwrap()
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

/// Why the browser test cannot run here, if it cannot.
fn missing(root: &Path, chromium: &str) -> Option<String> {
    if !Path::new(chromium).exists() {
        return Some(format!("no chromium at {chromium} (HLBRIDGE_CHROMIUM)"));
    }
    for m in ["playwright-core", "axe-core"] {
        if !root.join("tests/browser/node_modules").join(m).exists() {
            return Some(format!("tests/browser/node_modules/{m} is missing"));
        }
    }
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Some("node is not on PATH".into());
    }
    None
}

fn marker(opp: &str) -> String {
    format!("[ghl-opportunity:{opp}]")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_ui_scenarios_in_headless_chromium() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let chromium =
        std::env::var("HLBRIDGE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if let Some(why) = missing(&root, &chromium) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install the browser test's needs first ({why}): {INSTALL}"
        );
        eprintln!("skipped here: {why}; install with: {INSTALL}");
        return;
    }
    let artifacts = std::env::var("HLBRIDGE_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target/browser-artifacts"));
    std::fs::create_dir_all(&artifacts).unwrap();
    let result_file = artifacts.join("result.json");
    let _ = std::fs::remove_file(&result_file);

    let w = start().await;
    // A Sellsy custom field made in the account (Sellsy's API has no route for it: an
    // admin adds it in Sellsy's settings), for the mapping editor to list live.
    let tier_field = w.sellsy.state().store().custom_fields.insert(
        json!({"id": 0, "name": "Browser tier", "code": "browser-tier", "description": "",
               "type": "simple-text", "mandatory": false, "rank": 98,
               "related_object": ["contact"], "customfield_group": null, "parameters": {}})
        .as_object()
        .cloned()
        .unwrap(),
    );
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg("tests/browser/ui.mjs")
        .current_dir(&root)
        .env("HLBRIDGE_UI_BASE", &w.base)
        .env("HLBRIDGE_UI_PASSWORD", PASSWORD)
        .env("HLBRIDGE_CHROMIUM", &chromium)
        .env("HLBRIDGE_ARTIFACTS", &artifacts)
        .env("HLBRIDGE_GHL_BASE", &w.ghl.base_url)
        .env("HLBRIDGE_GHL_TOKEN", &w.ghl_cfg.token)
        .env("HLBRIDGE_GHL_LOCATION", &w.ghl_cfg.location_id)
        .env("HLBRIDGE_SELLSY_BASE", &w.sellsy.base_url)
        .env("HLBRIDGE_SELLSY_CLIENT_ID", &w.sellsy_cfg.client_id)
        .env("HLBRIDGE_SELLSY_CLIENT_SECRET", &w.sellsy_cfg.client_secret)
        .kill_on_drop(true);
    // stdout and stderr are inherited: the script's progress streams as it runs.
    let status = tokio::time::timeout(Duration::from_secs(240), cmd.status())
        .await
        .expect("the browser scenarios finish within 4 minutes")
        .expect("node starts");
    assert!(
        status.success(),
        "the browser scenarios failed ({status}); see the [browser] lines above and the screenshots in {}",
        artifacts.display()
    );
    let made: Value = serde_json::from_str(
        &std::fs::read_to_string(&result_file).expect("ui.mjs writes result.json"),
    )
    .unwrap();

    // From this side: both connections made through the consent pages (OAuth, not a
    // private token or client credentials), the pair between them.
    let conns = w.api("/api/connections").await;
    let conns = conns.as_array().unwrap();
    let ghl = conns
        .iter()
        .find(|c| c["app"] == "ghl")
        .expect("a GHL connection");
    let sellsy = conns
        .iter()
        .find(|c| c["app"] == "sellsy")
        .expect("a Sellsy connection");
    assert_eq!(ghl["kind"], "oauth-location", "{ghl}");
    assert_eq!(ghl["account"], w.ghl_cfg.location_id.as_str());
    assert_eq!(sellsy["kind"], "oauth", "{sellsy}");
    assert_eq!(made["ghlConnection"], ghl["id"]);
    assert_eq!(made["sellsyConnection"], sellsy["id"]);
    let pairs = w.api("/api/pairs").await;
    assert!(
        pairs
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == made["pair"]
                && p["ghl"] == ghl["id"]
                && p["sellsy"] == sellsy["id"]),
        "{pairs}"
    );

    // The deployed flow's run and the Sellsy task it made, read on the emulator.
    let run = w.api(&format!("/api/runs/{}", made["okRun"])).await;
    assert_eq!(run["run"]["status"], "ok", "{run}");
    assert!(!run["steps"].as_array().unwrap().is_empty(), "{run}");
    let won = made["wonOpportunity"].as_str().unwrap();
    let task = w
        .sellsy_get(&format!("/tasks/{}", made["sellsyTask"]))
        .await;
    assert!(
        task["description"]
            .as_str()
            .unwrap_or_default()
            .contains(&marker(won)),
        "the Sellsy task is for the won opportunity {won}: {task}"
    );
    let tasks = w.sellsy_get("/tasks?limit=100").await;
    let tasks = tasks["data"].as_array().cloned().unwrap_or_default();
    let dry = made["dryOpportunity"].as_str().unwrap();
    let count = |m: &str| {
        tasks
            .iter()
            .filter(|t| t["description"].as_str().is_some_and(|d| d.contains(m)))
            .count()
    };
    assert_eq!(count(&marker(won)), 1, "one task for the win");
    assert_eq!(count(&marker(dry)), 0, "the dry run wrote no task");

    // The Sellsy contact synced to GHL, read on the GHL emulator.
    let email = made["syncedEmail"].as_str().unwrap();
    let gc = w
        .ghl
        .state()
        .contact(made["ghlContact"].as_str().unwrap())
        .expect("the synced contact exists in the GHL emulator");
    assert_eq!(
        gc.get("email").and_then(Value::as_str),
        Some(email),
        "{gc:?}"
    );
    let sc = w
        .sellsy_get(&format!("/contacts/{}", made["sellsyContact"]))
        .await;
    assert_eq!(sc["email"], email, "{sc}");

    // The custom field mapped in the editor (GHL "Browser tier" → Sellsy
    // "browser-tier"): the value set in GHL after the save reached the Sellsy contact.
    let tier_email = made["tierEmail"].as_str().expect("mapping.mjs's tierEmail");
    // Through the row's uppercase transform.
    let tier_value = made["tierSellsy"].clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = {
            let state = w.sellsy.state();
            let store = state.store();
            let id = store
                .contacts
                .rows
                .iter()
                .find(|(_, r)| r.get("email") == Some(&json!(tier_email)))
                .map(|(id, _)| *id);
            id.and_then(|id| {
                store
                    .custom_field_values
                    .get(&(hlbridge_emulator::sellsy::Owner::Contact, id, tier_field))
                    .cloned()
            })
        };
        if found.as_ref() == Some(&tier_value) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the Sellsy contact {tier_email} has browser-tier {tier_value}: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // activity.mjs: the conflict resolved through /ui/conflicts kept Sellsy's website on
    // the GHL contact; the replayed run's note is on the lost deal's contact, once.
    let kept = made["keptWebsite"]
        .as_str()
        .expect("activity.mjs's keptWebsite");
    let gc = w.ghl.state().contact(made["ghlContact"].as_str().unwrap());
    assert_eq!(
        gc.as_ref().map(|c| &c["website"]),
        Some(&json!(kept)),
        "{gc:?}"
    );
    let lost = made["lostOpportunity"]
        .as_str()
        .expect("activity.mjs's lostOpportunity");
    let notes = w
        .ghl
        .state()
        .notes_of(made["lostContact"].as_str().unwrap());
    let marked: Vec<&Value> = notes
        .iter()
        .filter(|n| {
            n["body"]
                .as_str()
                .is_some_and(|b| b.contains(&format!("[ghl-lost:{lost}]")))
        })
        .collect();
    assert_eq!(marked.len(), 1, "one note for the lost deal: {notes:?}");
    w.stop().await;
}
