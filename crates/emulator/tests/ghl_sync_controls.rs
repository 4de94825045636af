//! What an at-scale two-way sync is tested against on the GHL side: writes that land
//! but whose answers are lost (`commit_drop`), a lagging search index, truncated
//! listings, signing crafted webhook events, and 429s in the stats.

#[path = "ghl_support.rs"]
mod support;

use std::time::Duration;

use base64::Engine;
use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use hlbridge_emulator::faults::FaultConfig;
use hlbridge_emulator::ghl::GhlConfig;
use reqwest::Method;
use serde_json::{json, Value};
use support::{client, emulator, roomy, Api};

async fn control(base: &str, path: &str, body: Value) -> (u16, Value) {
    let resp = client()
        .post(format!("{base}/emulator/{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

async fn search(api: &Api, body: Value) -> Value {
    let mut body = body;
    body["locationId"] = json!(api.location);
    let (status, v) = api.post("/contacts/search", body).await;
    assert_eq!(status, 200, "{v}");
    v
}

fn names(v: &Value) -> Vec<String> {
    v["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["firstName"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A request that must end in a transport error (no usable answer).
async fn lost(api: &Api, method: Method, path: &str, body: Option<Value>) {
    let mut req = api
        .client
        .request(method, format!("{}{}", api.base, path))
        .bearer_auth(&api.token)
        .header("Version", support::VERSION);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let outcome = match req.send().await {
        Ok(resp) => resp.bytes().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(outcome.is_err(), "{path}: the answer must be lost");
}

#[tokio::test]
async fn commit_drop_applies_writes_and_loses_their_answers() {
    let emu = emulator(GhlConfig {
        faults: "commit_drop=1".parse().unwrap(),
        ..roomy()
    })
    .await;
    let api = Api::new(&emu);
    let body = json!({"locationId": api.location, "firstName": "Ada", "email": "ada@x.io"});
    lost(&api, Method::POST, "/contacts/", Some(body.clone())).await;
    assert_eq!(emu.state().contact_count(), 1, "the create landed");
    let id = emu.state().contact_ids()[0].clone();

    // Reads are served: search (a POST) and a direct read.
    assert_eq!(search(&api, json!({"pageLimit": 10})).await["total"], 1);
    let (status, got) = api.get(&format!("/contacts/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(got["contact"]["email"], "ada@x.io");

    // Updates and deletes land the same way.
    lost(
        &api,
        Method::PUT,
        &format!("/contacts/{id}"),
        Some(json!({"lastName": "Lovelace"})),
    )
    .await;
    assert_eq!(emu.state().contact(&id).unwrap()["lastName"], "Lovelace");
    lost(&api, Method::DELETE, &format!("/contacts/{id}"), None).await;
    assert_eq!(emu.state().contact_count(), 0);
    let events: Vec<String> = emu
        .state()
        .webhook_records()
        .iter()
        .map(|r| r.event_type.clone())
        .collect();
    assert_eq!(events, ["ContactCreate", "ContactUpdate", "ContactDelete"]);

    let stats = emu.state().stats();
    assert_eq!(stats.faults.commit_dropped, 3);
    assert_eq!(stats.by_status.get(&0), Some(&3), "lost answers count as 0");

    // Runtime settings take the same spec; off again, answers come back.
    let (status, settings) = control(
        &emu.base_url,
        "settings",
        json!({"faults": "commit_drop=0"}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(settings["faults"]
        .as_str()
        .unwrap()
        .contains("commit_drop=0"));
    api.create_contact(json!({"firstName": "Bob"})).await;
    assert_eq!(emu.state().contact_count(), 1);
}

#[tokio::test]
async fn search_sees_writes_late_and_direct_reads_at_once() {
    let lag = Duration::from_millis(600);
    let emu = emulator(GhlConfig {
        search_lag: lag,
        seed_contacts: 2,
        ..roomy()
    })
    .await;
    let api = Api::new(&emu);
    assert_eq!(
        search(&api, json!({"pageLimit": 10})).await["total"],
        2,
        "what exists at start is indexed"
    );
    let id = api
        .create_contact(json!({"firstName": "Ada", "email": "lag@x.io"}))
        .await;
    let (status, direct) = api.get(&format!("/contacts/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(direct["contact"]["firstName"], "Ada");
    let filter = json!({"pageLimit": 10, "filters": [{"field": "email", "operator": "eq", "value": "lag@x.io"}]});
    assert_eq!(
        search(&api, filter.clone()).await["total"],
        0,
        "not indexed yet"
    );
    let list_path = format!("/contacts/?locationId={}", api.location);
    assert_eq!(api.get(&list_path).await.1["meta"]["total"], 2);
    let dup_path = format!(
        "/contacts/search/duplicate?locationId={}&email=lag@x.io",
        api.location
    );
    assert_eq!(api.get(&dup_path).await.1["contact"], Value::Null);
    // Duplicate checks on create read the database: immediate.
    let (status, _) = api
        .post(
            "/contacts/",
            json!({"locationId": api.location, "email": "lag@x.io"}),
        )
        .await;
    assert_eq!(status, 400);

    tokio::time::sleep(lag + Duration::from_millis(100)).await;
    assert_eq!(names(&search(&api, filter.clone()).await), ["Ada"]);
    assert_eq!(api.get(&list_path).await.1["meta"]["total"], 3);
    assert_eq!(api.get(&dup_path).await.1["contact"]["id"], id.as_str());

    // An update: search shows the previous version until the lag has passed.
    let (status, _) = api
        .put(&format!("/contacts/{id}"), json!({"firstName": "Ann"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        api.get(&format!("/contacts/{id}")).await.1["contact"]["firstName"],
        "Ann"
    );
    assert_eq!(names(&search(&api, filter.clone()).await), ["Ada"]);
    tokio::time::sleep(lag + Duration::from_millis(100)).await;
    assert_eq!(names(&search(&api, filter.clone()).await), ["Ann"]);

    // A delete: gone for direct reads at once, for search after the lag.
    api.delete(&format!("/contacts/{id}"), None).await;
    assert_eq!(api.get(&format!("/contacts/{id}")).await.0, 400);
    assert_eq!(names(&search(&api, filter.clone()).await), ["Ann"]);
    tokio::time::sleep(lag + Duration::from_millis(100)).await;
    assert_eq!(search(&api, filter.clone()).await["total"], 0);

    // The lag is a runtime setting too.
    let (_, settings) = control(&emu.base_url, "settings", json!({"searchLagMs": 0})).await;
    assert_eq!(settings["searchLagMs"], 0);
    api.create_contact(json!({"firstName": "Now", "email": "now@x.io"}))
        .await;
    let now = json!({"pageLimit": 10, "filters": [{"field": "email", "operator": "eq", "value": "now@x.io"}]});
    assert_eq!(names(&search(&api, now).await), ["Now"]);
}

#[tokio::test]
async fn truncated_listings_end_early_until_lifted() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            api.create_contact(json!({"firstName": format!("C{i}")}))
                .await,
        );
    }
    for id in &ids[..2] {
        for t in 0..2 {
            let (status, _) = api
                .post(
                    &format!("/contacts/{id}/tasks"),
                    json!({"title": format!("t{t}"), "dueDate": "2030-01-01T00:00:00Z", "completed": false}),
                )
                .await;
            assert_eq!(status, 201);
        }
    }
    let (status, answer) = control(&emu.base_url, "truncate", json!({"after": 5})).await;
    assert_eq!((status, answer), (200, json!({"after": 5})));

    // page paging: total says 5, the third page is the last.
    let mut seen = 0;
    for (page, expected) in [(1, 2), (2, 2), (3, 1), (4, 0)] {
        let v = search(&api, json!({"pageLimit": 2, "page": page})).await;
        assert_eq!(v["total"], 5);
        assert_eq!(
            v["contacts"].as_array().unwrap().len(),
            expected,
            "page {page}"
        );
        seen += expected;
    }
    assert_eq!(seen, 5);
    // searchAfter paging ends at the same place.
    let mut after: Option<Value> = None;
    let mut got = 0;
    loop {
        let mut body = json!({"pageLimit": 3});
        if let Some(a) = &after {
            body["searchAfter"] = a.clone();
        }
        let v = search(&api, body).await;
        let page = v["contacts"].as_array().unwrap();
        if page.is_empty() {
            break;
        }
        got += page.len();
        after = Some(page.last().unwrap()["searchAfter"].clone());
    }
    assert_eq!(got, 5);
    // The deprecated list: no next page once 5 are out.
    let (_, first) = api
        .get(&format!("/contacts/?locationId={}&limit=3", api.location))
        .await;
    assert_eq!(first["meta"]["total"], 5);
    assert_eq!(first["contacts"].as_array().unwrap().len(), 3);
    let next = first["meta"]["nextPageUrl"].as_str().unwrap();
    let next_path = next.strip_prefix(&emu.base_url).unwrap();
    let (_, second) = api.get(next_path).await;
    assert_eq!(second["contacts"].as_array().unwrap().len(), 2);
    assert_eq!(second["meta"]["nextPageUrl"], Value::Null);
    assert_eq!(second["meta"]["nextPage"], Value::Null);
    // Location task search and per-contact tasks are cut too.
    let tasks_path = format!("/locations/{}/tasks/search", api.location);
    let (_, tasks) = api.post(&tasks_path, json!({"limit": 50})).await;
    assert_eq!(tasks["tasks"].as_array().unwrap().len(), 4);
    control(&emu.base_url, "truncate", json!({"after": 1})).await;
    let (_, tasks) = api.post(&tasks_path, json!({"limit": 50})).await;
    assert_eq!(tasks["tasks"].as_array().unwrap().len(), 1);
    let (_, own) = api.get(&format!("/contacts/{}/tasks", ids[0])).await;
    assert_eq!(own["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(emu.state().contact_count(), 7, "nothing is deleted");

    let (status, answer) = control(&emu.base_url, "truncate", json!({"after": null})).await;
    assert_eq!((status, answer), (200, json!({"after": null})));
    assert_eq!(search(&api, json!({"pageLimit": 100})).await["total"], 7);
    let (status, refused) = control(&emu.base_url, "truncate", json!({"after": -2})).await;
    assert_eq!(status, 400);
    assert_eq!(refused["statusCode"], 400);
    let (status, _) = control(&emu.base_url, "truncate", json!({})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn crafted_events_are_signed_like_sent_ones() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    api.create_contact(json!({"firstName": "Signed"})).await;
    let record = emu.state().webhook_records().remove(0);
    let sign = |body: Vec<u8>| {
        let url = format!("{}/emulator/webhooks/sign", emu.base_url);
        async move {
            let resp = client().post(url).body(body).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let v: Value = resp.json().await.unwrap();
            v["signature"].as_str().unwrap().to_string()
        }
    };
    // Ed25519 is deterministic: the same bytes get the signature that was sent.
    assert_eq!(
        sign(record.body.clone().into_bytes()).await,
        record.signature
    );
    let crafted = br#"{"type":"ContactDelete","locationId":"loc-emulator","id":"x"}"#.to_vec();
    let signature = sign(crafted.clone()).await;
    assert_eq!(signature, emu.state().sign_webhook(&crafted));
    let key = VerifyingKey::from_public_key_pem(&emu.public_key_pem).unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&signature)
        .unwrap();
    let sig = Signature::from_slice(&raw).unwrap();
    assert!(key.verify(&crafted, &sig).is_ok());
    assert!(key.verify(b"{}", &sig).is_err());
}

#[tokio::test]
async fn stats_count_every_429_answered() {
    let emu = emulator(GhlConfig {
        rate_max: 2,
        ..GhlConfig::default()
    })
    .await;
    let api = Api::new(&emu);
    let path = format!("/contacts/?locationId={}", api.location);
    for _ in 0..3 {
        api.get(&path).await;
    }
    emu.set_faults(FaultConfig {
        rate_429: 1.0,
        ..FaultConfig::default()
    });
    assert_eq!(api.get(&path).await.0, 429);
    let resp = client()
        .get(format!("{}/emulator/stats", emu.base_url))
        .send()
        .await
        .unwrap();
    let stats: Value = resp.json().await.unwrap();
    assert_eq!(stats["rateLimited"], 2, "{stats}");
    assert_eq!(stats["byStatus"]["429"], 2);
    assert_eq!(stats["byStatus"]["200"], 2);
    assert_eq!(stats["faults"]["too_many_requests"], 1);
    assert_eq!(stats["byOperation"]["contacts.get-contacts"], 3);
}
