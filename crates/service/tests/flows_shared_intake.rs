//! One poll of a resource serves the sync and every flow that watches it: `serve` runs
//! a pair's sync and a deployed flow polling GHL contacts (`on: new`). The flow takes
//! its baseline and its items from the sync's intake feed: a contact created in the
//! GHL emulator is linked by the sync AND becomes one run of the flow, while the
//! emulator counts no contacts search the sync did not send. A flow whose poll has a
//! query the intake does not send polls by itself (the count sees its read).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hlbridge_accounts::{Accounts, Budgets, Registry};
use hlbridge_core::call::CallInput;
use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator};
use hlbridge_emulator::sellsy::{SellsyConfig, SellsyEmulator};
use hlbridge_engine::intake::feed::{FeedSource, IntakeFeed};
use hlbridge_service::server::{self, ServerOptions};
use hlbridge_service::ServiceConfig;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const SEARCH: &str = "contacts.search-contacts-advanced";

struct World {
    ghl: GhlEmulator,
    ghl_cfg: GhlConfig,
    sellsy: SellsyEmulator,
    base: String,
    dir: PathBuf,
    db_path: PathBuf,
    token: String,
    accounts: Accounts,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<Result<(), hlbridge_service::ServiceError>>,
}

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// `serve` with both emulators; the sync's own interval is an hour (cycles run only
/// when asked, after the first), the flows loop ticks every 200 ms.
async fn start(ghl_seed: usize) -> World {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir =
        std::env::temp_dir().join(format!("hlb-shared-intake-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let listener = tokio::net::TcpListener::bind(local()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let ghl_cfg = GhlConfig {
        rate_max: 1_000_000,
        daily_limit: 10_000_000,
        seed_contacts: ghl_seed,
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
            hlbridge_service::api_tokens::create(c, "shared-intake-test")
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
        interval_override: Some(Duration::from_secs(3600)),
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
        base: format!("http://{addr}"),
        dir,
        db_path,
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

    /// The contacts searches the GHL emulator served (the sync's and any flow's).
    fn searches(&self) -> u64 {
        self.ghl
            .state()
            .stats()
            .by_operation
            .get(SEARCH)
            .copied()
            .unwrap_or(0)
    }

    async fn deploy(&self, name: &str, text: &str) {
        let (s, v) = self
            .api(
                Method::PUT,
                &format!("/api/flows/{name}"),
                Some(json!({ "text": text })),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, v) = self
            .api(Method::POST, &format!("/api/flows/{name}/deploy"), None)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }

    /// The Sellsy contacts searches the emulator served.
    fn sellsy_searches(&self) -> u64 {
        self.sellsy
            .state()
            .stats()
            .by_operation
            .get("contacts.search-contacts")
            .copied()
            .unwrap_or(0)
    }

    async fn sellsy_call(&self, op: &str, input: CallInput) -> Value {
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

    async fn add_pair(&self) -> String {
        let conns = self.accounts.registry.list().unwrap();
        let id_of = |app| conns.iter().find(|c| c.app == app).unwrap().id.clone();
        let (s, created) = self
            .api(
                Method::POST,
                "/api/pairs",
                Some(json!({"ghl": id_of(hlbridge_accounts::App::Ghl), "sellsy": id_of(hlbridge_accounts::App::Sellsy)})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{created}");
        created["id"].as_str().unwrap().to_string()
    }

    /// Ask for a cycle of `pair` and wait until it is the `n`th one finished.
    async fn cycle(&self, pair: &str, n: u64) {
        let (s, v) = self
            .api(Method::POST, &format!("/api/pairs/{pair}/sync"), None)
            .await;
        assert!(s.is_success(), "{s}: {v}");
        self.cycles_done(pair, n).await;
    }

    /// The pair's intake feed.
    fn feed(&self, pair: &str) -> IntakeFeed {
        IntakeFeed::open(&self.accounts.registry.pair_state_path(pair)).unwrap()
    }

    /// Nothing published while no flow reads `source`; then the flow's first walk asks
    /// for it, and the next cycle (`n`) fills the feed with a whole read.
    async fn fill_for_reader(&self, pair: &str, source: FeedSource, n: u64) {
        let feed = self.feed(pair);
        assert!(
            feed.since(source, 0, 10).unwrap().is_empty() && !feed.complete(source).unwrap(),
            "no reader yet: nothing published"
        );
        eventually(20, || async { feed.wanted(source).unwrap().then_some(()) }).await;
        self.cycle(pair, n).await;
        assert!(feed.complete(source).unwrap(), "the cycle filled the feed");
    }

    async fn runs(&self, flow: &str) -> Vec<Value> {
        let (_, runs) = self
            .api(Method::GET, &format!("/api/runs?flow={flow}"), None)
            .await;
        runs.as_array().cloned().unwrap_or_default()
    }

    /// Whether the flow's poll trigger has recorded its baseline.
    fn started(&self, flow_text: &str) -> bool {
        use hlbridge_engine::triggers::TriggerStore;
        let flow = hlbridge_flows::validate::validate("f.flow.yaml", flow_text).unwrap();
        let hlbridge_flows::model::Trigger::Poll(p) = &flow.trigger else {
            panic!("a poll flow");
        };
        let key = hlbridge_flows::triggers::poll_state_key(&flow.name, p);
        hlbridge_engine::triggers::SqliteTriggerStore::open(&self.db_path)
            .and_then(|s| s.started(&key))
            .unwrap_or(false)
    }

    /// Wait until the pair has finished `cycles` cycles and is idle.
    async fn cycles_done(&self, pair: &str, cycles: u64) {
        eventually(60, || async {
            // Also while the first cycle creates the pair's database.
            let (s, st) = self
                .api(Method::GET, &format!("/api/pairs/{pair}/status"), None)
                .await;
            assert_eq!(s, StatusCode::OK, "GET /api/pairs/{pair}/status: {st}");
            let run = &st["run"];
            (run["cycles"].as_u64().unwrap_or(0) >= cycles && run["running"] == false).then_some(())
        })
        .await;
    }

    fn sellsy_emails(&self) -> Vec<String> {
        let state = self.sellsy.state();
        let store = state.store();
        store
            .contacts
            .rows
            .values()
            .filter_map(|c| c.get("email").and_then(Value::as_str).map(str::to_string))
            .collect()
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

async fn eventually<T, F, Fut>(secs: u64, mut f: F) -> T
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
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const WATCH: &str = r#"schema_version: 1
name: new-ghl-contacts
trigger:
  poll: { operation: "ghl:contacts.search-contacts-advanced", every: 1m, on: new }
steps:
  - id: seen
    map:
      email: "{{ trigger.email }}"
"#;

const OWN: &str = r#"schema_version: 1
name: queried-ghl-contacts
trigger:
  poll:
    operation: "ghl:contacts.search-contacts-advanced"
    every: 1m
    on: new
    body: { query: "nobody-matches-this" }
steps:
  - id: seen
    map:
      email: "{{ trigger.email }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_watching_ghl_contacts_is_served_by_the_sync_intake() {
    let w = start(3).await;
    let pair = w.add_pair().await;
    // The first cycle reads every GHL contact; no flow reads the feed yet.
    w.cycles_done(&pair, 1).await;
    assert!(w.searches() >= 1, "the sync read the contacts");

    // A flow watching new GHL contacts: the sync's next cycle fills the feed for it,
    // and the flow takes its baseline from the feed: no request of its own.
    w.deploy("new-ghl-contacts", WATCH).await;
    w.fill_for_reader(&pair, FeedSource::GhlContacts, 2).await;
    let before = w.searches();
    eventually(20, || async { w.started(WATCH).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(1200)).await; // six flow ticks
    assert_eq!(
        w.searches(),
        before,
        "no contacts search was sent for the flow while no sync cycle ran"
    );
    let runs = w.runs("new-ghl-contacts").await;
    assert!(
        runs.is_empty(),
        "the seeded contacts are the baseline: {runs:?}"
    );

    // A new GHL contact: the sync's next cycle links it, and the flow runs once for it.
    let ghl = hlbridge_ghl::GhlClient::builder()
        .base_url(&w.ghl.base_url)
        .auth(hlbridge_ghl::GhlAuth::LocationToken(
            w.ghl_cfg.token.clone(),
        ))
        .location_id(&w.ghl_cfg.location_id)
        .build()
        .unwrap();
    ghl.call(
        "contacts.create-contact",
        CallInput::new()
            .body(json!({"firstName": "Ida", "lastName": "Intake", "email": "ida@example.com"})),
    )
    .await
    .unwrap();
    w.cycle(&pair, 3).await;
    let after_cycle = w.searches();
    assert!(after_cycle > before, "the sync's cycle searched");
    eventually(30, || async {
        w.sellsy_emails()
            .iter()
            .any(|e| e == "ida@example.com")
            .then_some(())
    })
    .await;
    let runs = eventually(30, || async {
        let runs = w.runs("new-ghl-contacts").await;
        runs.iter().any(|r| r["status"] == "ok").then_some(runs)
    })
    .await;
    assert_eq!(runs.len(), 1, "one run for the one new contact: {runs:?}");
    let (_, run) = w
        .api(Method::GET, &format!("/api/runs/{}", runs[0]["id"]), None)
        .await;
    assert_eq!(
        run["steps"][0]["output"]["email"], "ida@example.com",
        "{run}"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        w.searches(),
        after_cycle,
        "the flow's items came from the sync's read, not from its own"
    );
    assert_eq!(w.runs("new-ghl-contacts").await.len(), 1, "each item once");

    // Control: a poll with a query the intake does not send reads by itself, and the
    // emulator's count sees it.
    w.deploy("queried-ghl-contacts", OWN).await;
    eventually(20, || async { (w.searches() > after_cycle).then_some(()) }).await;
    w.stop().await;
}

const UPDATED: &str = r#"schema_version: 1
name: changed-sellsy-contacts
trigger:
  poll: { operation: "sellsy:contacts.search-contacts", every: 1m, on: updated }
steps:
  - id: seen
    map:
      last: "{{ trigger.last_name }}"
      before: "{{ previous.last_name | default('none') }}"
"#;

/// `on: updated` over the Sellsy contacts the sync reads: a new contact, then a real
/// change with the contact as last seen as `previous`, each once, and no search of the
/// flow's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_watching_sellsy_contact_changes_is_served_by_the_sync_intake() {
    let w = start(0).await;
    let pair = w.add_pair().await;
    w.cycles_done(&pair, 1).await;
    w.deploy("changed-sellsy-contacts", UPDATED).await;
    w.fill_for_reader(&pair, FeedSource::SellsyContacts, 2)
        .await;
    let before = w.sellsy_searches();
    eventually(20, || async { w.started(UPDATED).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(1000)).await; // five flow ticks
    assert_eq!(
        w.sellsy_searches(),
        before,
        "the baseline came from the feed"
    );

    let made = w
        .sellsy_call(
            "contacts.create-contact",
            CallInput::new().body(
                json!({"first_name": "Una", "last_name": "Before", "email": "una@example.com"}),
            ),
        )
        .await;
    let id = made["id"].as_i64().unwrap();
    w.cycle(&pair, 3).await;
    let has = |runs: &[Value], last: &str, before: &str| {
        runs.iter().any(|r| {
            r["status"] == "ok" && r["trigger"]["payload"]["last_name"] == last && {
                let prev = &r["trigger"]["previous"];
                (before == "none" && prev.is_null()) || prev["last_name"] == before
            }
        })
    };
    eventually(30, || async {
        let runs = w.runs("changed-sellsy-contacts").await;
        has(&runs, "Before", "none").then_some(())
    })
    .await;
    w.sellsy_call(
        "contacts.update-contact-info",
        CallInput::new()
            .param("id", id.to_string())
            .body(json!({"last_name": "After"})),
    )
    .await;
    w.cycle(&pair, 4).await;
    let after_cycle = w.sellsy_searches();
    let runs = eventually(30, || async {
        let runs = w.runs("changed-sellsy-contacts").await;
        has(&runs, "After", "Before").then_some(runs)
    })
    .await;
    let of_una: Vec<&Value> = runs
        .iter()
        .filter(|r| r["trigger"]["payload"]["email"] == "una@example.com")
        .collect();
    assert_eq!(
        of_una.len(),
        2,
        "created, then changed: each once: {runs:?}"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        w.sellsy_searches(),
        after_cycle,
        "no search of the flow's own"
    );
    assert_eq!(w.runs("changed-sellsy-contacts").await.len(), runs.len());
    w.stop().await;
}
