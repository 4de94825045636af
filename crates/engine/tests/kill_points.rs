//! A run killed at a chosen point loses no edit. The Sellsy emulator sits behind a
//! proxy that, when armed, forwards one write (so Sellsy applies it) and never answers
//! it: the engine waits on the answer, and the test aborts its task there, as a
//! SIGKILL between "the write landed" and "the sync recorded it" would. Then an edit
//! is made on GHL, a later one on Sellsy (so Sellsy holds the newest update time), and
//! a fresh engine on the same state must carry the GHL edit across, not take the
//! value it wrote itself for a Sellsy edit.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use hlbridge_emulator::faults::FaultConfig;
use hlbridge_engine::store::{sqlite::SqliteStore, StateStore};
use hlbridge_engine::{Budgets, Engine};
use serde_json::{json, Value};
use tokio::sync::Notify;

/// Which request the proxy holds: a method and a path ending.
type Rule = (Method, fn(&str) -> bool);

#[derive(Clone)]
struct Proxy {
    upstream: String,
    client: reqwest::Client,
    armed: Arc<Mutex<Option<Rule>>>,
    applied: Arc<Notify>,
}

async fn forward(
    State(p): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    let hold = {
        let mut armed = p.armed.lock().unwrap_or_else(|e| e.into_inner());
        let hit = armed
            .as_ref()
            .is_some_and(|(m, ends)| *m == method && ends(uri.path()));
        if hit {
            *armed = None;
        }
        hit
    };
    let mut req = p
        .client
        .request(method, format!("{}{path}", p.upstream))
        .body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            req = req.header(name, value);
        }
    }
    let answer = match req.send().await {
        Ok(a) => a,
        Err(e) => {
            return Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Body::from(format!("proxy: {e}")))
                .expect("response")
        }
    };
    if hold {
        // Sellsy has applied the write; its answer never reaches the engine.
        p.applied.notify_one();
        std::future::pending::<()>().await;
    }
    let mut out = Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            out = out.header(name.as_str(), value.as_bytes());
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    out.body(Body::from(bytes)).expect("response")
}

impl Proxy {
    /// Serve a proxy to `upstream` (an emulator's `http://host:port`); returns it and
    /// its base URL, ending with `suffix` (the API's path prefix).
    async fn start(upstream: String, suffix: &str) -> (Proxy, String) {
        let proxy = Proxy {
            upstream,
            client: reqwest::Client::new(),
            armed: Arc::new(Mutex::new(None)),
            applied: Arc::new(Notify::new()),
        };
        let listener = tokio::net::TcpListener::bind(common::local())
            .await
            .expect("proxy listens");
        let addr = listener.local_addr().expect("proxy address");
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(proxy.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (proxy, format!("http://{addr}{suffix}"))
    }

    async fn sellsy(env: &common::Env) -> (Proxy, String) {
        Proxy::start(format!("http://{}", env.sellsy.addr), "/v2").await
    }

    async fn ghl(env: &common::Env) -> (Proxy, String) {
        Proxy::start(format!("http://{}", env.ghl.addr), "").await
    }

    fn arm(&self, rule: Rule) {
        *self.armed.lock().unwrap_or_else(|e| e.into_inner()) = Some(rule);
    }
}

/// The API base URLs an engine talks to (a proxy or the emulator itself).
struct Bases {
    ghl: String,
    sellsy: String,
}

impl Bases {
    fn sellsy_via(env: &common::Env, sellsy: &str) -> Bases {
        Bases {
            ghl: env.ghl.base_url.clone(),
            sellsy: sellsy.to_string(),
        }
    }

    fn ghl_via(env: &common::Env, ghl: &str) -> Bases {
        Bases {
            ghl: ghl.to_string(),
            sellsy: env.sellsy.base_url.clone(),
        }
    }
}

async fn engine_via(env: &common::Env, bases: &Bases) -> Engine {
    let mut cfg = env.config("");
    cfg.ghl.base_url = Some(bases.ghl.clone());
    cfg.sellsy.base_url = Some(bases.sellsy.clone());
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open(&env.db_path()).expect("store"));
    Engine::connect_with(cfg, store, Budgets::default())
        .await
        .expect("engine connects")
}

/// Run one cycle in a task and abort it (a kill) once the held write was applied.
async fn kill_after_held_write(env: &common::Env, proxy: &Proxy, bases: &Bases) {
    let engine = engine_via(env, bases).await;
    let applied = proxy.applied.notified();
    tokio::pin!(applied);
    applied.as_mut().enable();
    let task = tokio::spawn(async move {
        let progress = common::quiet();
        let _ = engine.run_once(false, &progress).await;
    });
    tokio::time::timeout(Duration::from_secs(60), applied)
        .await
        .expect("the held write was applied");
    task.abort();
    assert!(
        task.await.is_err_and(|e| e.is_cancelled()),
        "the run was killed"
    );
}

/// Wait until the wall clock enters its next second: Sellsy's update times have a
/// one-second resolution, so an edit after this is newer than anything before.
async fn next_second() {
    let start = chrono::Utc::now().timestamp();
    while chrono::Utc::now().timestamp() == start {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn sellsy_contact(env: &common::Env, id: i64) -> Value {
    Value::Object(
        env.sellsy
            .state()
            .store()
            .contacts
            .get(id)
            .cloned()
            .expect("Sellsy contact"),
    )
}

fn is_contact_put(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|id| id.parse::<i64>().is_ok())
        && path
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .ends_with("/contacts/")
}

fn is_contact_create(path: &str) -> bool {
    path.trim_end_matches('/').ends_with("/contacts")
}

async fn edit_ghl_first_name(env: &common::Env, id: &str, name: &str) {
    env.ghl_client()
        .contacts()
        .update(
            id,
            &hlbridge_ghl::ContactInput {
                first_name: Some(name.into()),
                ..Default::default()
            },
        )
        .await
        .expect("GHL edit");
}

/// Killed after Sellsy took the update that carried a GHL edit, before the sync
/// recorded it as agreed: a later GHL edit still wins over the value the sync wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ghl_edit_survives_a_kill_after_the_sellsy_update_landed() {
    let env = common::start(1, 0, FaultConfig::default()).await;
    let (proxy, base) = Proxy::sellsy(&env).await;
    let bases = Bases::sellsy_via(&env, &base);
    let engine = engine_via(&env, &bases).await;
    let r = engine
        .run_once(false, &common::quiet())
        .await
        .expect("first run");
    assert!(r.is_clean(), "{r:#?}");
    let gid = env.ghl.state().contact_ids()[0].clone();
    let sid: i64 = env.partner(&engine, &gid).parse().expect("Sellsy id");
    drop(engine);

    edit_ghl_first_name(&env, &gid, "Kill1").await;
    proxy.arm((Method::PUT, is_contact_put));
    kill_after_held_write(&env, &proxy, &bases).await;
    assert_eq!(
        sellsy_contact(&env, sid)["first_name"],
        "Kill1",
        "the write landed"
    );

    edit_ghl_first_name(&env, &gid, "Kill2").await;
    next_second().await;
    env.sellsy_client()
        .update_contact(sid, &json!({ "website": "https://later.example" }))
        .await
        .expect("Sellsy edit");

    let engine = engine_via(&env, &bases).await;
    let r = engine
        .run_once(false, &common::quiet())
        .await
        .expect("rerun");
    assert!(r.is_clean(), "{r:#?}");
    let g = env.ghl.state().contact(&gid).expect("GHL contact");
    assert_eq!(
        sellsy_contact(&env, sid)["first_name"],
        "Kill2",
        "GHL edit lost"
    );
    assert_eq!(g["firstName"], "Kill2", "the sync's own write came back");
    assert_eq!(g["website"], "https://later.example", "Sellsy edit lost");
    env.cleanup();
}

/// Killed after Sellsy made the contact the sync asked for, before the sync linked
/// it: the contact is found again, and a GHL edit made since wins over the value the
/// create carried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ghl_edit_survives_a_kill_after_the_sellsy_create_landed() {
    let env = common::start(0, 0, FaultConfig::default()).await;
    let (proxy, base) = Proxy::sellsy(&env).await;
    let bases = Bases::sellsy_via(&env, &base);
    let created = env
        .ghl_client()
        .contacts()
        .create(&hlbridge_ghl::ContactInput {
            location_id: Some(env.ghl_cfg.location_id.clone()),
            first_name: Some("Kill1".into()),
            last_name: Some("Crash".into()),
            email: Some("kill-create@crash.example".into()),
            ..Default::default()
        })
        .await
        .expect("GHL contact");
    proxy.arm((Method::POST, is_contact_create));
    kill_after_held_write(&env, &proxy, &bases).await;
    let sid = {
        let state = env.sellsy.state();
        let store = state.store();
        let ids: Vec<i64> = store.contacts.rows.keys().copied().collect();
        assert_eq!(ids.len(), 1, "the create landed");
        ids[0]
    };

    edit_ghl_first_name(&env, &created.id, "Kill2").await;
    next_second().await;
    env.sellsy_client()
        .update_contact(sid, &json!({ "website": "https://later.example" }))
        .await
        .expect("Sellsy edit");

    let engine = engine_via(&env, &bases).await;
    let r = engine
        .run_once(false, &common::quiet())
        .await
        .expect("rerun");
    assert!(r.is_clean(), "{r:#?}");
    assert_eq!(env.sellsy_contacts().len(), 1, "no second Sellsy contact");
    assert_eq!(env.partner(&engine, &created.id), sid.to_string());
    let g = env.ghl.state().contact(&created.id).expect("GHL contact");
    assert_eq!(
        sellsy_contact(&env, sid)["first_name"],
        "Kill2",
        "GHL edit lost"
    );
    assert_eq!(g["firstName"], "Kill2", "the sync's own write came back");
    assert_eq!(g["website"], "https://later.example", "Sellsy edit lost");
    env.cleanup();
}

/// Killed after GHL made the contact the sync asked for from a Sellsy contact,
/// before the sync linked it: the contact is recognised by its marker, and a Sellsy
/// edit made since wins over the value the create carried, although GHL was edited
/// last (on another field).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sellsy_edit_survives_a_kill_after_the_ghl_create_landed() {
    let env = common::start(0, 1, FaultConfig::default()).await;
    let (proxy, base) = Proxy::ghl(&env).await;
    let bases = Bases::ghl_via(&env, &base);
    let sid = *env
        .sellsy
        .state()
        .store()
        .contacts
        .rows
        .keys()
        .next()
        .expect("seeded Sellsy contact");
    let sc = env.sellsy_client();
    sc.update_contact(sid, &json!({ "website": "https://kill1.example" }))
        .await
        .expect("Sellsy website");
    proxy.arm((Method::POST, is_contact_create));
    kill_after_held_write(&env, &proxy, &bases).await;
    let ids = env.ghl.state().contact_ids();
    assert_eq!(ids.len(), 1, "the create landed");
    let gid = ids[0].clone();
    assert_eq!(
        env.ghl.state().contact(&gid).expect("GHL contact")["website"],
        "https://kill1.example"
    );

    sc.update_contact(sid, &json!({ "website": "https://kill2.example" }))
        .await
        .expect("Sellsy edit");
    next_second().await;
    edit_ghl_first_name(&env, &gid, "Later").await;

    let engine = engine_via(&env, &bases).await;
    let r = engine
        .run_once(false, &common::quiet())
        .await
        .expect("rerun");
    assert!(r.is_clean(), "{r:#?}");
    assert_eq!(
        env.ghl.state().contact_ids().len(),
        1,
        "no second GHL contact"
    );
    assert_eq!(env.partner(&engine, &gid), sid.to_string());
    let g = env.ghl.state().contact(&gid).expect("GHL contact");
    assert_eq!(g["website"], "https://kill2.example", "Sellsy edit lost");
    assert_eq!(
        sellsy_contact(&env, sid)["website"],
        "https://kill2.example"
    );
    assert_eq!(
        sellsy_contact(&env, sid)["first_name"],
        "Later",
        "GHL edit lost"
    );
    env.cleanup();
}
