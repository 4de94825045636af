//! Webhook-driven sync: with webhooks enabled (and a 15-minute poll), a change on
//! either side propagates without waiting for the poll; a forged signature is
//! rejected and changes nothing.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hlbridge_emulator::faults::FaultConfig;
use hlbridge_emulator::ghl::GhlConfig;
use hlbridge_engine::store::sqlite::SqliteStore;
use hlbridge_engine::{Engine, Progress};
use hlbridge_ghl::ContactInput;
use hlbridge_sellsy::CallInput;
use serde_json::json;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(15);
    while Instant::now() < until {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 15 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_events_sync_at_once_and_forgeries_change_nothing() {
    let port = free_port();
    let receiver = format!("http://127.0.0.1:{port}");
    let mut env = common::start(0, 0, FaultConfig::default()).await;
    // Restart GHL with its webhooks pointed at the receiver, and a few contacts.
    let ghl_cfg = GhlConfig {
        webhook_url: Some(format!("{receiver}/webhooks/ghl")),
        seed_contacts: 5,
        ..env.ghl_cfg.clone()
    };
    env.ghl = hlbridge_emulator::ghl::start(ghl_cfg.clone(), common::local())
        .await
        .unwrap();
    env.ghl_cfg = ghl_cfg;
    let sc = env.sellsy_client();
    for i in 0..5 {
        let c = hlbridge_sellsy::Contact {
            last_name: Some(format!("Hook{i}")),
            email: Some(format!("hook{i}@sellsy.example")),
            ..Default::default()
        };
        sc.create_contact(&c).await.unwrap();
    }
    let events: Vec<_> = [
        "people.created",
        "people.updated",
        "people.deleted",
        "task.created",
        "task.updated",
        "comment.created",
    ]
    .iter()
    .map(|e| json!({"id": e, "is_enabled": true}))
    .collect();
    sc.call(
        "webhooks.create-webhook",
        CallInput::new().body(json!({
            "type": "http", "is_enabled": true, "endpoint": format!("{receiver}/webhooks/sellsy"),
            "configuration": events,
        })),
    )
    .await
    .unwrap();

    let mut cfg = env.config("[sync]\npoll_interval_minutes = 15\n");
    cfg.webhooks.listen = Some(format!("127.0.0.1:{port}"));
    cfg.webhooks.ghl_public_key = Some(env.ghl.public_key_pem.clone());
    cfg.webhooks.sellsy_secret = Some(env.sellsy.webhook_secret().to_string());
    let store = Arc::new(SqliteStore::open(&env.db_path()).unwrap());
    let engine = Engine::connect_with(cfg, store, Default::default())
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let progress = move |p: Progress| {
        if let Progress::Cycle(r) = p {
            let _ = tx.send(r);
        }
    };
    let runner = engine.run_continuous(&progress, async {
        let _ = stopped.await;
    });
    let checks = async {
        let first = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(first.is_clean(), "{first:#?}");
        assert_eq!(env.ghl.state().contact_count(), 10);

        // GHL change → Sellsy, long before the 15-minute poll.
        let g = env.ghl.state().contact_ids()[0].clone();
        let sid: i64 = env.partner(&engine, &g).parse().unwrap();
        env.ghl_client()
            .contacts()
            .update(
                &g,
                &ContactInput {
                    first_name: Some("Hooked".into()),
                    ..ContactInput::default()
                },
            )
            .await
            .unwrap();
        let st = env.sellsy.state().clone();
        eventually("GHL change reached Sellsy", || {
            st.store()
                .contacts
                .get(sid)
                .and_then(|c| c.get("first_name").cloned())
                == Some(json!("Hooked"))
        })
        .await;
        // Sellsy change → GHL.
        let s_other = engine
            .store()
            .link_by(
                hlbridge_engine::store::Kind::Contact,
                hlbridge_engine::store::Side::Sellsy,
                "1",
            )
            .unwrap()
            .unwrap()
            .ghl_id;
        sc.update_contact(1, &json!({"website": "https://hooked.example"}))
            .await
            .unwrap();
        let gs = env.ghl.state();
        eventually("Sellsy change reached GHL", || {
            gs.contact(&s_other).map(|c| c["website"].clone())
                == Some(json!("https://hooked.example"))
        })
        .await;

        // Forged events: refused, and no targeted sync follows.
        tokio::time::sleep(Duration::from_millis(500)).await;
        while rx.try_recv().is_ok() {}
        let reads_before = gs
            .stats()
            .by_operation
            .get("contacts.get-contact")
            .copied()
            .unwrap_or(0);
        let http = reqwest::Client::new();
        let forged_ghl = http
            .post(format!("{receiver}/webhooks/ghl"))
            .header("x-ghl-signature", "bm90IGEgc2lnbmF0dXJl")
            .body(
                json!({"type": "ContactUpdate", "id": g, "locationId": "loc-emulator"}).to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(forged_ghl.status().as_u16(), 401);
        let forged_sellsy = http
            .post(format!("{receiver}/webhooks/sellsy"))
            .header(
                "X-Webhook-Signature",
                "0000000000000000000000000000000000000000",
            )
            .body(
                json!({"eventType": "people.updated", "relatedtype": "people", "relatedid": "1"})
                    .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(forged_sellsy.status().as_u16(), 401);
        let unsigned = http
            .post(format!("{receiver}/webhooks/ghl"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(unsigned.status().as_u16(), 401);
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert!(rx.try_recv().is_err(), "a forged event triggered a sync");
        assert_eq!(
            gs.stats()
                .by_operation
                .get("contacts.get-contact")
                .copied()
                .unwrap_or(0),
            reads_before
        );

        let _ = stop.send(());
    };
    let (ran, ()) = tokio::join!(runner, checks);
    ran.unwrap();
    env.cleanup();
}
