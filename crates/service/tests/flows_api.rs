//! Flows inside `hlbridge serve`, through HTTP against both emulators: a template
//! stored and deployed over `/api/flows`, an opportunity won in the GHL emulator (its
//! signed webhook reaches the server), the run visible in `/api/runs` and the task in
//! the Sellsy emulator — once, even when the event is delivered again. Also: invalid
//! flow text refused with positions, the dry run writes nothing, a disabled flow does
//! not run, a failed run replayed, every flows route in the OpenAPI document.

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
    let dir = std::env::temp_dir().join(format!("hlb-flows-api-{}-{nanos}", std::process::id()));
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
            hlbridge_service::api_tokens::create(c, "flows-test")
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

    async fn get(&self, path: &str) -> Value {
        let (s, v) = self.api(reqwest::Method::GET, path, None).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        v
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

async fn runs_until(w: &World, path: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let runs = w.get(path).await.as_array().cloned().unwrap_or_default();
        if done(&runs) {
            return runs;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: runs never got there: {runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn marked(tasks: &[Value], opp: &str) -> usize {
    let marker = format!("[ghl-opportunity:{opp}]");
    tasks
        .iter()
        .filter(|t| {
            t["description"]
                .as_str()
                .is_some_and(|d| d.contains(&marker))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployed_template_runs_on_a_real_webhook_once() {
    let w = start().await;
    use reqwest::Method;

    // The gallery, then the template's text stored as a version and deployed.
    let templates = w.get("/api/templates").await;
    let text = templates
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == FLOW)
        .expect("the template in the gallery")["text"]
        .as_str()
        .unwrap()
        .to_string();
    // Invalid text first: 400 with FILE:LINE:COL.
    let bad = text.replace(
        "events: [OpportunityStatusUpdate]",
        "events: [OpportunityWon]",
    );
    let (s, v) = w
        .api(
            Method::PUT,
            &format!("/api/flows/{FLOW}"),
            Some(json!({"text": bad})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"], "invalid");
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(&format!("{FLOW}.flow.yaml:")) && detail.contains("OpportunityWon"),
        "{detail}"
    );
    let (s, v) = w
        .api(
            Method::PUT,
            &format!("/api/flows/{FLOW}"),
            Some(json!({"text": text})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 1);
    let (s, v) = w
        .api(Method::POST, &format!("/api/flows/{FLOW}/deploy"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["enabled"], true);
    assert!(v["trigger"]
        .as_str()
        .unwrap()
        .contains("OpportunityStatusUpdate"));

    // The dry run on a won-opportunity item: the task is only printed.
    let opp_dry = opportunity(&w, "dry@example.com").await;
    let before = w.sellsy_tasks().await.len();
    let (s, v) = w
        .api(
            Method::POST,
            &format!("/api/flows/{FLOW}/test"),
            Some(json!({"item": {"type": "OpportunityStatusUpdate", "id": opp_dry, "status": "won",
                "locationId": w.ghl_cfg.location_id, "name": "Big deal",
                "contactId": w.ghl().call("contacts.search-contacts-advanced",
                    CallInput::new().body(json!({"query": "dry@example.com", "pageLimit": 1}))).await.unwrap()["contacts"][0]["id"]}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(!v["writes"].as_array().unwrap().is_empty(), "{v}");
    assert_eq!(
        w.sellsy_tasks().await.len(),
        before,
        "the dry run wrote nothing"
    );

    // A real win: the emulator's signed webhook reaches the server, the flow runs.
    let opp = opportunity(&w, "ada.won@example.com").await;
    win(&w, &opp).await;
    let runs = runs_until(&w, &format!("/api/runs?flow={FLOW}"), |r| {
        r.iter().any(|x| x["status"] == "ok")
    })
    .await;
    let run = runs.iter().find(|x| x["status"] == "ok").unwrap();
    let tasks = w.sellsy_tasks().await;
    assert_eq!(
        marked(&tasks, &opp),
        1,
        "one Sellsy task for the win: {tasks:?}"
    );
    let detail = w.get(&format!("/api/runs/{}", run["id"])).await;
    let steps = detail["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["step_path"] == "task"), "{detail}");

    // Reopened (a run skipped by the filter), then won again: the flow finds its task
    // by its marker and makes no second one.
    set_status(&w, &opp, "open").await;
    runs_until(&w, &format!("/api/runs?flow={FLOW}&status=skipped"), |r| {
        !r.is_empty()
    })
    .await;
    win(&w, &opp).await;
    runs_until(&w, &format!("/api/runs?flow={FLOW}&status=ok"), |r| {
        r.len() >= 2
    })
    .await;
    assert_eq!(marked(&w.sellsy_tasks().await, &opp), 1, "still one task");

    // Disabled: a win starts no run.
    let (s, _) = w
        .api(Method::POST, &format!("/api/flows/{FLOW}/disable"), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let count = w
        .get(&format!("/api/runs?flow={FLOW}"))
        .await
        .as_array()
        .unwrap()
        .len();
    let opp2 = opportunity(&w, "ignored@example.com").await;
    win(&w, &opp2).await;
    // The event is processed (its webhook row settles) without a run.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        w.get(&format!("/api/runs?flow={FLOW}"))
            .await
            .as_array()
            .unwrap()
            .len(),
        count
    );
    assert_eq!(marked(&w.sellsy_tasks().await, &opp2), 0);

    // Replay from the start of the first ok run: the task is found, not doubled.
    let (s, v) = w
        .api(
            Method::POST,
            &format!("/api/runs/{}/replay", run["id"]),
            Some(json!({"from_failed_step": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(marked(&w.sellsy_tasks().await, &opp), 1);
    // From the failed step of an ok run: refused, with the reason.
    let (s, v) = w
        .api(
            Method::POST,
            &format!("/api/runs/{}/replay", run["id"]),
            Some(json!({"from_failed_step": true})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");

    // Every flows route is in the OpenAPI document.
    let doc = reqwest::get(w.url("/api/openapi.json")).await.unwrap();
    let doc: Value = if doc.status() == StatusCode::OK {
        doc.json().await.unwrap()
    } else {
        w.get("/api/openapi.json").await
    };
    for path in [
        "/api/flows",
        "/api/flows/{name}",
        "/api/flows/{name}/deploy",
        "/api/flows/{name}/enable",
        "/api/flows/{name}/disable",
        "/api/flows/{name}/test",
        "/api/runs",
        "/api/runs/{id}",
        "/api/runs/{id}/replay",
        "/api/templates",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    w.stop().await;
}

/// Two deployed flows polling the same Sellsy read: one fetch per poll serves both,
/// and a new contact becomes one run of each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployed_poll_flows_share_their_read() {
    let w = start().await;
    use reqwest::Method;
    for name in ["poll-a", "poll-b"] {
        let text = format!(
            "schema_version: 1\nname: {name}\ntrigger:\n  poll: {{ operation: \"sellsy:contacts.get-list\", every: 1m }}\nsteps:\n  - id: seen\n    map:\n      last: \"{{{{ trigger.last_name }}}}\"\n"
        );
        let (s, v) = w
            .api(
                Method::PUT,
                &format!("/api/flows/{name}"),
                Some(json!({ "text": text })),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, v) = w
            .api(Method::POST, &format!("/api/flows/{name}/deploy"), None)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    // Let both record their baseline (a few polls), then count the list reads.
    let list_reads = || {
        w.sellsy
            .state()
            .stats()
            .by_operation
            .iter()
            .filter(|(op, _)| op.as_str() == "contacts.get-list")
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let conn = w
        .accounts
        .registry
        .list()
        .unwrap()
        .into_iter()
        .find(|c| c.app == hlbridge_accounts::App::Sellsy)
        .unwrap();
    let client = w.accounts.sellsy_client(&conn).unwrap();
    client
        .call(
            "contacts.create-contact",
            CallInput::new().body(json!({"first_name": "Polly", "last_name": "Shared"})),
        )
        .await
        .unwrap();
    for name in ["poll-a", "poll-b"] {
        let runs = runs_until(&w, &format!("/api/runs?flow={name}"), |r| {
            r.iter().any(|x| x["status"] == "ok")
        })
        .await;
        assert_eq!(
            runs.len(),
            1,
            "{name}: one run for the one new contact: {runs:?}"
        );
        let run = w.get(&format!("/api/runs/{}", runs[0]["id"])).await;
        assert_eq!(run["steps"][0]["output"]["last"], "Shared", "{run}");
    }
    // Over a few more polls, the reads are one per poll, not one per flow per poll.
    // A poll is due every 300 ms and the loop ticks every 200 ms: about one poll per
    // 400 ms, so 2 s make about 5 shared reads (about 10 if each flow read its own).
    let before = list_reads();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let polls = list_reads() - before;
    assert!(polls >= 1, "polls went on: {polls}");
    assert!(
        polls <= 7,
        "{polls} list reads in 2 s: the two flows share them"
    );
    w.stop().await;
}
