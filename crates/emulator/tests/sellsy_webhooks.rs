//! Webhooks: CRUD, and signed notifications delivered to a local receiver on changes
//! to contacts, companies, tasks and comments.

mod sellsy_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use sellsy_support::{id_of, Api};
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A local endpoint recording what it receives.
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), received)
}

async fn wait_for(received: &Received, n: usize) -> Vec<(HeaderMap, Bytes)> {
    for _ in 0..250 {
        if received.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    received.lock().unwrap().clone()
}

fn sha1_hex(secret: &str, body: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(secret.as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

fn payload(headers: &HeaderMap, body: &[u8]) -> Value {
    let ct = headers["content-type"].to_str().unwrap();
    if ct.starts_with("application/json") {
        serde_json::from_slice(body).unwrap()
    } else {
        let notif = url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "notif")
            .unwrap()
            .1;
        serde_json::from_str(&notif).unwrap()
    }
}

#[tokio::test]
async fn crud_and_events_catalogue() {
    let api = Api::with_seed(0).await;
    let events = api.get("/webhooks/events").await;
    let ids: Vec<&str> = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"people") && ids.contains(&"client") && ids.contains(&"task"));

    let created = api
        .post(
            "/webhooks",
            json!({"type": "http", "endpoint": "http://127.0.0.1:9/x",
                                 "configuration": [{"id": "people.created", "is_enabled": true}]}),
        )
        .await;
    assert_eq!(created.status, 201);
    let id = id_of(&created);
    assert_eq!(created.body["nb_failures"], 0);
    let bad = api
        .post(
            "/webhooks",
            json!({"endpoint": "http://x/y", "configuration": [{"id": "nope.created"}]}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body["error"]["details"]["configuration[0].id"].is_string());
    let edited = api
        .put(&format!("/webhooks/{id}"), json!({"is_enabled": false}))
        .await;
    assert_eq!(edited.body["is_enabled"], false);
    assert_eq!(edited.body["endpoint"], "http://127.0.0.1:9/x");
    let found = api
        .post(
            "/webhooks/search",
            json!({"filters": {"is_enabled": false}}),
        )
        .await;
    assert_eq!(found.body["pagination"]["total"], 1);
    assert_eq!(api.delete(&format!("/webhooks/{id}")).await.status, 204);
    assert_eq!(api.get(&format!("/webhooks/{id}")).await.status, 404);
}

#[tokio::test]
async fn notifications_are_signed_and_describe_the_change() {
    let api = Api::with_seed(0).await;
    let (endpoint, received) = receiver().await;
    let events = [
        "people.created",
        "people.updated",
        "client.created",
        "task.created",
        "comment.created",
    ];
    let configuration: Vec<Value> = events
        .iter()
        .map(|e| json!({"id": e, "is_enabled": true}))
        .collect();
    api.post(
        "/webhooks",
        json!({"type": "http", "endpoint": endpoint, "configuration": configuration}),
    )
    .await;
    api.post(
        "/webhooks",
        json!({"type": "http", "endpoint": endpoint, "json_content_type": true, "object_in_payload": true,
               "configuration": [{"id": "people.created"}]}),
    )
    .await;

    let contact = id_of(&api.post("/contacts", json!({"last_name": "Hooked"})).await);
    api.put(
        &format!("/contacts/{contact}"),
        json!({"first_name": "Now"}),
    )
    .await;
    let company = id_of(
        &api.post("/companies", json!({"name": "Acme", "type": "client"}))
            .await,
    );
    let task = api
        .post(
            "/tasks",
            json!({"title": "Call", "label_id": 1, "due_date": "2030-01-01T10:00:00+01:00",
                   "related": [{"type": "company", "id": company}]}),
        )
        .await;
    assert_eq!(task.status, 201, "{:?}", task.body);
    let comment = api
        .post(
            "/comments",
            json!({"description": "Hi", "related": [{"type": "contact", "id": contact}]}),
        )
        .await;
    assert_eq!(comment.status, 201, "{:?}", comment.body);

    let got = wait_for(&received, 6).await;
    assert_eq!(got.len(), 6);
    let secret = api.emu.webhook_secret().to_string();
    let mut seen = Vec::new();
    for (headers, body) in &got {
        let signature = headers["x-webhook-signature"].to_str().unwrap();
        assert_eq!(
            signature,
            sha1_hex(&secret, body),
            "signature over the raw body"
        );
        let p = payload(headers, body);
        assert_eq!(p["corpid"], api.emu.state().corp_id().to_string());
        seen.push(p["eventType"].as_str().unwrap().to_string());
        if headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
        {
            assert_eq!(p["relatedobject"]["last_name"], "Hooked");
        }
    }
    assert_eq!(seen.iter().filter(|e| *e == "people.created").count(), 2);
    for e in [
        "people.updated",
        "client.created",
        "task.created",
        "comment.created",
    ] {
        assert!(seen.iter().any(|s| s == e), "{e} in {seen:?}");
    }
    let third = got
        .iter()
        .map(|(h, b)| payload(h, b))
        .find(|p| p["eventType"] == "client.created")
        .unwrap();
    assert_eq!(third["thirdtype"], "client");
    assert_eq!(third["relatedtype"], "third");
    assert_eq!(third["relatedid"], company.to_string());
    let deliveries = api
        .emu
        .state()
        .wait_for_deliveries(6, Duration::from_secs(5))
        .await;
    assert!(deliveries.iter().all(|d| d.status == Some(200)));
}
