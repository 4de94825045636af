//! The webhook inbox through real HTTP: refusals store nothing, duplicates are
//! answered without effect, every stored event reaches the handler exactly once,
//! restarts pick up leftovers, and a full queue answers 429.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use common::{eventually, Options, Server, SELLSY_SECRET};
use futures::future::BoxFuture;
use hlbridge_service::{EventHandler, Outcome, ProcessorOptions, StoredEvent};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<StoredEvent>>,
    /// Failures still to return, per webhook id.
    failures: Mutex<HashMap<String, u32>>,
    delay: Option<Duration>,
}

impl Recorder {
    fn ids(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.webhook_id.clone())
            .collect()
    }
}

impl EventHandler for Recorder {
    fn handle<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Result<Outcome, String>> {
        Box::pin(async move {
            if let Some(d) = self.delay {
                tokio::time::sleep(d).await;
            }
            {
                let mut failures = self.failures.lock().unwrap();
                if let Some(left) = failures.get_mut(&event.webhook_id) {
                    if *left > 0 {
                        *left -= 1;
                        return Err(format!("simulated failure of {}", event.webhook_id));
                    }
                }
            }
            self.seen.lock().unwrap().push(event.clone());
            if event.event_type.as_deref() == Some("OpportunityCreate") {
                Ok(Outcome::Ignored)
            } else {
                Ok(Outcome::Done)
            }
        })
    }
}

fn fast() -> ProcessorOptions {
    ProcessorOptions {
        concurrency: 3,
        max_attempts: 3,
        retry_base: Duration::from_millis(10),
    }
}

fn ghl_event(id: &str, at: chrono::DateTime<Utc>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "ContactCreate",
        "locationId": "loc-1",
        "id": format!("contact-{id}"),
        "email": "ann@example.com",
        "timestamp": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "webhookId": id,
    }))
    .unwrap()
}

async fn post_ghl(server: &Server, body: &[u8], signature: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(server.url("/webhooks/ghl"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(sig) = signature {
        req = req.header("x-ghl-signature", sig);
    }
    req.send().await.unwrap()
}

async fn signed_ghl(server: &Server, body: &[u8]) -> reqwest::Response {
    let sig = server.sign_ghl(body);
    post_ghl(server, body, Some(&sig)).await
}

fn sellsy_sig(body: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(SELLSY_SECRET.as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

async fn post_sellsy(
    server: &Server,
    body: &[u8],
    content_type: &str,
    sig: Option<String>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(server.url("/webhooks/sellsy"))
        .header("content-type", content_type)
        .body(body.to_vec());
    if let Some(sig) = sig {
        req = req.header("x-webhook-signature", sig);
    }
    req.send().await.unwrap()
}

fn stored(server: &Server) -> Vec<(String, String, i64)> {
    server.state.db.call_blocking(|c| {
        let mut stmt = c
            .prepare("SELECT webhook_id, status, attempts FROM webhook_events ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    })
}

async fn error_of(res: reqwest::Response) -> String {
    let body: Value = res.json().await.unwrap();
    assert!(body["detail"].is_string(), "{body}");
    body["error"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn refused_events_store_nothing() {
    let server = Server::start(Options::default()).await;
    let now = Utc::now();
    let body = ghl_event("w-1", now);

    let res = post_ghl(&server, &body, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "unsigned");
    let other = server.sign_ghl(b"{}");
    let res = post_ghl(&server, &body, Some(&other)).await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "signature of another body"
    );
    let res = post_ghl(&server, &body, Some("bm90IGEgc2lnbmF0dXJl")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "garbage signature");
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'a').unwrap();
    tampered[at] = b'b';
    let res = post_ghl(&server, &tampered, Some(&server.sign_ghl(&body))).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "tampered body");
    assert_eq!(error_of(res).await, "bad_signature");

    let stale = ghl_event("w-stale", now - chrono::Duration::minutes(6));
    let res = signed_ghl(&server, &stale).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_of(res).await, "stale");
    let old = ghl_event("w-2019", "2019-05-01T10:00:00.000Z".parse().unwrap());
    assert_eq!(
        signed_ghl(&server, &old).await.status(),
        StatusCode::BAD_REQUEST
    );
    let future = ghl_event("w-future", now + chrono::Duration::minutes(6));
    let res = signed_ghl(&server, &future).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_of(res).await, "stale");
    let epoch_stale = serde_json::to_vec(&json!({
        "type": "ContactCreate", "webhookId": "w-ms",
        "timestamp": (now - chrono::Duration::minutes(10)).timestamp_millis(),
    }))
    .unwrap();
    assert_eq!(
        signed_ghl(&server, &epoch_stale).await.status(),
        StatusCode::BAD_REQUEST
    );

    let res = signed_ghl(&server, b"{\"type\": \"ContactCreate\",").await;
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "malformed JSON after a valid signature"
    );
    assert_eq!(error_of(res).await, "bad_request");
    let res = signed_ghl(&server, b"[1, 2]").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let bad_ts =
        serde_json::to_vec(&json!({"type": "X", "webhookId": "w-ts", "timestamp": "yesterday"}))
            .unwrap();
    assert_eq!(
        signed_ghl(&server, &bad_ts).await.status(),
        StatusCode::BAD_REQUEST
    );

    let big = serde_json::to_vec(&json!({
        "type": "ContactCreate", "webhookId": "w-big",
        "timestamp": now.to_rfc3339(), "notes": "x".repeat(20 * 1024),
    }))
    .unwrap();
    let res = signed_ghl(&server, &big).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "oversized");

    let sellsy = br#"{"eventType":"people.updated","relatedid":"42","corpid":"7"}"#;
    assert_eq!(
        post_sellsy(&server, sellsy, "application/json", None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post_sellsy(&server, sellsy, "application/json", Some("00".repeat(20)))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let junk = b"neither json nor a form";
    assert_eq!(
        post_sellsy(&server, junk, "text/plain", Some(sellsy_sig(junk)))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );

    assert!(
        stored(&server).is_empty(),
        "nothing stored: {:?}",
        stored(&server)
    );
    let text = server.state.metrics.encode();
    assert!(
        text.contains(r#"hlbridge_webhook_events_total{app="ghl",outcome="forged"} 4"#),
        "{text}"
    );
    assert!(
        text.contains(r#"hlbridge_webhook_events_total{app="ghl",outcome="stale"} 4"#),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn each_event_reaches_the_handler_once_and_replays_are_duplicates() {
    let mut server = Server::start(Options::default()).await;
    let recorder = Arc::new(Recorder::default());
    server.start_processor(recorder.clone(), fast());

    let body = ghl_event("w-once", Utc::now());
    let res = signed_ghl(&server, &body).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "queued"})
    );
    let res = signed_ghl(&server, &body).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "duplicate"})
    );

    // 20 events, each delivered twice at the same time.
    let mut sends = Vec::new();
    for i in 0..20 {
        let body = ghl_event(&format!("w-{i}"), Utc::now());
        for _ in 0..2 {
            let sig = server.sign_ghl(&body);
            let url = server.url("/webhooks/ghl");
            let body = body.clone();
            sends.push(tokio::spawn(async move {
                reqwest::Client::new()
                    .post(url)
                    .header("x-ghl-signature", sig)
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()["status"]
                    .as_str()
                    .unwrap()
                    .to_string()
            }));
        }
    }
    let mut answers = HashMap::<String, usize>::new();
    for s in sends {
        *answers.entry(s.await.unwrap()).or_default() += 1;
    }
    assert_eq!(answers.get("queued"), Some(&20), "{answers:?}");
    assert_eq!(answers.get("duplicate"), Some(&20), "{answers:?}");

    eventually("21 events handled", || {
        let r = recorder.clone();
        async move { r.ids().len() >= 21 }
    })
    .await;
    eventually("every row done", || {
        let rows = stored(&server);
        async move { rows.iter().all(|(_, s, _)| s == "done") }
    })
    .await;
    let mut ids = recorder.ids();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "an event was handled twice");
    assert_eq!(ids.len(), 21);
    let first = recorder
        .seen
        .lock()
        .unwrap()
        .iter()
        .find(|e| e.webhook_id == "w-once")
        .cloned()
        .unwrap();
    assert_eq!(first.app, "ghl");
    assert_eq!(first.location_id.as_deref(), Some("loc-1"));
    assert_eq!(first.event_type.as_deref(), Some("ContactCreate"));
    assert_eq!(first.json()["id"], "contact-w-once");
    assert_eq!(first.attempts, 1);
    server.stop().await;
}

#[tokio::test]
async fn sellsy_json_and_form_notifications_are_queued_and_deduplicated() {
    let mut server = Server::start(Options::default()).await;
    let recorder = Arc::new(Recorder::default());
    server.start_processor(recorder.clone(), fast());
    let json_body =
        br#"{"eventType":"people.updated","relatedtype":"people","relatedid":"42","corpid":7}"#;
    let res = post_sellsy(
        &server,
        json_body,
        "application/json",
        Some(sellsy_sig(json_body)),
    )
    .await;
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "queued"})
    );
    let res = post_sellsy(
        &server,
        json_body,
        "application/json",
        Some(sellsy_sig(json_body)),
    )
    .await;
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "duplicate"})
    );
    let form = b"notif=%7B%22eventType%22%3A%22task.created%22%2C%22relatedid%22%3A%227%22%7D";
    let res = post_sellsy(
        &server,
        form,
        "application/x-www-form-urlencoded",
        Some(sellsy_sig(form)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "queued"})
    );
    eventually("two Sellsy events handled", || {
        let r = recorder.clone();
        async move { r.ids().len() == 2 }
    })
    .await;
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen[0].app, "sellsy");
    assert_eq!(seen[0].location_id.as_deref(), Some("7"));
    assert_eq!(seen[0].event_type.as_deref(), Some("people.updated"));
    assert_eq!(
        seen[1].json()["eventType"],
        "task.created",
        "the notif field's JSON is stored"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_restart_processes_leftover_events() {
    let dir = common::temp_dir("restart");
    let server = Server::start(Options {
        dir: Some(dir.clone()),
        ..Options::default()
    })
    .await;
    let key = server.ghl_key.clone();
    for i in 0..3 {
        let res = signed_ghl(&server, &ghl_event(&format!("left-{i}"), Utc::now())).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    // One of them was being processed when the process died.
    server.state.db.call_blocking(|c| {
        c.execute(
            "UPDATE webhook_events SET status = 'processing' WHERE webhook_id = 'left-1'",
            [],
        )
        .unwrap()
    });
    server.stop().await;

    let mut again = Server::start(Options {
        dir: Some(dir),
        ghl_key: Some(key),
        ..Options::default()
    })
    .await;
    let recorder = Arc::new(Recorder::default());
    again.start_processor(recorder.clone(), fast());
    eventually("the three leftovers handled", || {
        let r = recorder.clone();
        async move { r.ids().len() == 3 }
    })
    .await;
    let mut ids = recorder.ids();
    ids.sort();
    assert_eq!(ids, ["left-0", "left-1", "left-2"]);
    // Still deduplicated across the restart.
    let res = signed_ghl(&again, &ghl_event("left-0", Utc::now())).await;
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "duplicate"})
    );
    again.stop().await;
}

#[tokio::test]
async fn a_full_queue_answers_429_and_stores_nothing_more() {
    let server = Server::start(Options {
        queue_max: 2,
        ..Options::default()
    })
    .await;
    for i in 0..2 {
        let res = signed_ghl(&server, &ghl_event(&format!("q-{i}"), Utc::now())).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = signed_ghl(&server, &ghl_event("q-2", Utc::now())).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(error_of(res).await, "rate_limited");
    // A replay of a stored event is still a duplicate, not a refusal.
    let res = signed_ghl(&server, &ghl_event("q-0", Utc::now())).await;
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "duplicate"})
    );
    assert_eq!(stored(&server).len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn failures_are_retried_then_marked_failed() {
    let mut server = Server::start(Options::default()).await;
    let recorder = Arc::new(Recorder::default());
    recorder.failures.lock().unwrap().insert("flaky".into(), 2);
    recorder
        .failures
        .lock()
        .unwrap()
        .insert("broken".into(), 99);
    server.start_processor(recorder.clone(), fast());
    for id in ["flaky", "broken"] {
        assert_eq!(
            signed_ghl(&server, &ghl_event(id, Utc::now()))
                .await
                .status(),
            StatusCode::OK
        );
    }
    let mut ignored = serde_json::from_slice::<Value>(&ghl_event("skip", Utc::now())).unwrap();
    ignored["type"] = json!("OpportunityCreate");
    let ignored = serde_json::to_vec(&ignored).unwrap();
    assert_eq!(signed_ghl(&server, &ignored).await.status(), StatusCode::OK);
    eventually("final states", || {
        let rows = stored(&server);
        async move {
            rows.iter()
                .all(|(_, s, _)| s != "queued" && s != "processing")
        }
    })
    .await;
    let rows = stored(&server);
    assert_eq!(rows[0], ("flaky".to_string(), "done".to_string(), 3));
    assert_eq!(rows[1], ("broken".to_string(), "failed".to_string(), 3));
    assert_eq!(rows[2], ("skip".to_string(), "ignored".to_string(), 1));
    let error: String = server.state.db.call_blocking(|c| {
        c.query_row(
            "SELECT error FROM webhook_events WHERE webhook_id = 'broken'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    });
    assert_eq!(error, "simulated failure of broken");
    let mut seen = recorder.ids();
    seen.sort();
    assert_eq!(
        seen,
        ["flaky", "skip"],
        "the failing event never succeeded; the others once"
    );
    server.stop().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_events_finish() {
    let mut server = Server::start(Options::default()).await;
    let recorder = Arc::new(Recorder {
        delay: Some(Duration::from_millis(150)),
        ..Recorder::default()
    });
    server.start_processor(recorder.clone(), fast());
    assert_eq!(
        signed_ghl(&server, &ghl_event("slow", Utc::now()))
            .await
            .status(),
        StatusCode::OK
    );
    eventually("the event is in flight", || {
        let rows = stored(&server);
        async move { rows.first().is_some_and(|(_, s, _)| s == "processing") }
    })
    .await;
    let state = server.state.clone();
    server.stop().await;
    assert_eq!(recorder.ids(), ["slow"]);
    let status: String = state.db.call_blocking(|c| {
        c.query_row("SELECT status FROM webhook_events", [], |r| r.get(0))
            .unwrap()
    });
    assert_eq!(status, "done");
}
