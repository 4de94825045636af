//! Webhooks: flat payloads, Ed25519 signatures over the raw body, 429-only retries.

#[path = "ghl_support.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use hlbridge_emulator::ghl::{DeliveryStatus, GhlConfig};
use serde_json::{json, Value};
use support::{client, emulator, roomy, Api};

/// A delivery as received: raw body and `x-ghl-signature`.
type Received = (Vec<u8>, String);

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Answer 429 to this many first deliveries.
    refuse: Arc<AtomicUsize>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if r.refuse.load(Ordering::SeqCst) > 0 {
        r.refuse.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::TOO_MANY_REQUESTS;
    }
    let sig = headers
        .get("x-ghl-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    r.got.lock().unwrap().push((body.to_vec(), sig));
    StatusCode::OK
}

async fn receiver(refuse: usize) -> (String, Receiver) {
    let r = Receiver {
        refuse: Arc::new(AtomicUsize::new(refuse)),
        ..Receiver::default()
    };
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), r)
}

async fn wait_for(r: &Receiver, n: usize) -> Vec<Received> {
    for _ in 0..200 {
        if r.got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    r.got.lock().unwrap().clone()
}

#[tokio::test]
async fn events_are_flat_signed_and_verifiable() {
    let (url, r) = receiver(0).await;
    let emu = emulator(GhlConfig {
        webhook_url: Some(url),
        ..roomy()
    })
    .await;
    let api = Api::new(&emu);
    let id = api
        .create_contact(json!({"firstName": "Hook", "email": "hook@x.io", "tags": ["a"]}))
        .await;
    api.put(
        &format!("/contacts/{id}"),
        json!({"tags": ["b"], "city": "Lyon"}),
    )
    .await;
    let (_, task) = api
        .post(
            &format!("/contacts/{id}/tasks"),
            json!({"title": "t", "dueDate": "2030-01-01T00:00:00Z", "completed": false}),
        )
        .await;
    let task_id = task["task"]["id"].as_str().unwrap();
    api.put(
        &format!("/contacts/{id}/tasks/{task_id}/completed"),
        json!({"completed": true}),
    )
    .await;
    api.post(
        &format!("/contacts/{id}/notes"),
        json!({"body": "hello", "title": "not in webhook"}),
    )
    .await;
    api.delete(&format!("/contacts/{id}"), None).await;

    let got = wait_for(&r, 7).await;
    let pem = client()
        .get(format!("{}/emulator/webhook-public-key", emu.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(pem, emu.public_key_pem);
    let key = VerifyingKey::from_public_key_pem(&pem).unwrap();
    let mut types = Vec::new();
    for (body, sig) in &got {
        let sig = base64::engine::general_purpose::STANDARD
            .decode(sig)
            .unwrap();
        key.verify(body, &Signature::from_slice(&sig).unwrap())
            .expect("signature verifies over raw body");
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["locationId"], "loc-emulator");
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(v["webhookId"].as_str().unwrap().len(), 36);
        types.push(v["type"].as_str().unwrap().to_string());
        match v["type"].as_str().unwrap() {
            "ContactCreate" => {
                assert_eq!(v["id"], id.as_str());
                assert_eq!(v["email"], "hook@x.io");
                assert_eq!(v["tags"], json!(["a"]));
            }
            "TaskComplete" => assert_eq!(v["contactId"], id.as_str()),
            "NoteCreate" => {
                assert_eq!(v["body"], "hello");
                assert!(
                    v.get("title").is_none(),
                    "note events carry a fixed allowlist"
                );
            }
            _ => {}
        }
    }
    assert_eq!(
        types,
        vec![
            "ContactCreate",
            "ContactUpdate",
            "ContactTagUpdate",
            "TaskCreate",
            "TaskComplete",
            "NoteCreate",
            "ContactDelete"
        ]
    );
    let records = emu.state().webhook_records();
    assert!(records
        .iter()
        .all(|r| matches!(r.status, DeliveryStatus::Delivered { status: 200 })));
}

#[tokio::test]
async fn only_429_is_retried() {
    let (url, r) = receiver(2).await;
    let emu = emulator(GhlConfig {
        webhook_url: Some(url),
        webhook_retry_base: Duration::from_millis(30),
        ..roomy()
    })
    .await;
    let api = Api::new(&emu);
    api.create_contact(json!({"firstName": "Retry"})).await;
    let got = wait_for(&r, 1).await;
    assert_eq!(got.len(), 1);
    let records = emu.state().webhook_records();
    assert_eq!(records[0].attempts, 3);
    assert_eq!(emu.state().stats().webhooks.retries, 2);

    // Any other failure (here: nobody listening) is final after one attempt.
    let emu = emulator(GhlConfig {
        webhook_url: Some("http://127.0.0.1:9/nothing".into()),
        ..roomy()
    })
    .await;
    Api::new(&emu)
        .create_contact(json!({"firstName": "Lost"}))
        .await;
    for _ in 0..100 {
        if emu
            .state()
            .webhook_records()
            .iter()
            .all(|r| r.status != DeliveryStatus::Pending)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let records = emu.state().webhook_records();
    assert!(
        matches!(records[0].status, DeliveryStatus::Failed { .. }),
        "{:?}",
        records[0].status
    );
    assert_eq!(records[0].attempts, 1);
}
