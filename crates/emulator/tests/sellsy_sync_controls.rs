//! What an at-scale two-way sync is tested against on the Sellsy side: lost answers of
//! applied writes (`commit_drop`), configurable (or lifted) quotas, `GET
//! /emulator/stats`, truncated listings, signing crafted notifications, and the bulk
//! reads (comments by `updated`, tasks of many contacts).

mod sellsy_support;

use hlbridge_emulator::faults::FaultConfig;
use hlbridge_emulator::sellsy::SellsyConfig;
use sellsy_support::{id_of, Api};
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

fn roomy() -> SellsyConfig {
    SellsyConfig {
        quota_per_second: 1_000,
        ..SellsyConfig::default()
    }
}

fn root(api: &Api) -> String {
    format!("http://{}", api.emu.addr)
}

async fn stats(api: &Api) -> Value {
    let resp = api
        .http
        .get(format!("{}/emulator/stats", root(api)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn truncate(api: &Api, after: Value) -> (u16, Value) {
    let resp = api
        .http
        .post(format!("{}/emulator/truncate", root(api)))
        .json(&json!({ "after": after }))
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn commit_drop_applies_writes_and_loses_their_answers() {
    let api = Api::start(SellsyConfig {
        faults: "commit_drop=1".parse().unwrap(),
        ..roomy()
    })
    .await;
    let sent = api
        .http
        .post(format!("{}/contacts", api.emu.base_url))
        .bearer_auth(&api.token)
        .json(&json!({"last_name": "Lost", "email": "lost@x.io"}))
        .send()
        .await;
    let outcome = match sent {
        Ok(resp) => resp.bytes().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(outcome.is_err(), "the answer is lost");
    assert_eq!(
        api.emu.state().store().contacts.len(),
        1,
        "the write landed"
    );
    // Reads (a search is a POST) are served.
    let found = api
        .post(
            "/contacts/search",
            json!({"filters": {"email": "lost@x.io"}}),
        )
        .await;
    assert_eq!(found.status, 200);
    assert_eq!(found.body["pagination"]["total"], 1);
    assert_eq!(
        api.get("/contacts").await.body["data"][0]["last_name"],
        "Lost"
    );
    let s = stats(&api).await;
    assert_eq!(s["faults"]["commit_dropped"], 1, "{s}");
    assert_eq!(s["byStatus"]["0"], 1);
    assert_eq!(s["byOperation"]["contacts.create-contact"], 1);
    api.emu.state().faults().set_config(FaultConfig::default());
    assert_eq!(
        api.post("/contacts", json!({"last_name": "Kept"}))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn quotas_follow_the_config_and_can_be_lifted() {
    let api = Api::start(SellsyConfig {
        quota_per_second: 1_000,
        quota_per_minute: 3,
        ..SellsyConfig::default()
    })
    .await;
    for expected in [2, 1, 0] {
        let r = api.get("/contacts").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-quota-remaining-by-minute"), Some(expected));
    }
    let refused = api.get("/contacts").await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("x-quota-remaining-by-minute"), Some(0));
    let s = stats(&api).await;
    assert_eq!(s["quotaRefused"], 1, "{s}");
    assert_eq!(s["rateLimited"], 1);
    assert_eq!(s["byStatus"]["429"], 1);
    assert_eq!(s["requests"], 4, "the stats endpoint counts no request");

    let lifted = u32::MAX;
    let api = Api::start(SellsyConfig {
        quota_per_second: lifted,
        quota_per_minute: lifted,
        quota_per_day: lifted,
        quota_per_month: lifted,
        ..SellsyConfig::default()
    })
    .await;
    let mut last = None;
    for _ in 0..60 {
        let r = api.get("/contacts").await;
        assert_eq!(r.status, 200);
        last = r.header("x-quota-remaining-by-month");
    }
    assert_eq!(last, Some(i64::from(lifted) - 60));
    let quotas = api.get("/quotas").await;
    assert_eq!(quotas.body["api_rate_seconds"]["limit"], lifted);
}

#[tokio::test]
async fn stats_name_table_operations_and_ignore_faults() {
    let api = Api::start(roomy()).await;
    let id = id_of(&api.post("/contacts", json!({"last_name": "Stat"})).await);
    api.get(&format!("/contacts/{id}")).await;
    api.get("/contacts/999999").await;
    api.post("/tasks/search", json!({"filters": {}})).await;
    api.get("/nowhere").await;
    api.emu.state().faults().set_config(FaultConfig {
        rate_5xx: 1.0,
        ..FaultConfig::default()
    });
    assert!(api.get("/contacts").await.status >= 500);
    let s = stats(&api).await;
    let ops = &s["byOperation"];
    assert_eq!(ops["contacts.create-contact"], 1, "{s}");
    assert_eq!(ops["contacts.get-informations"], 2, "found or not");
    assert_eq!(ops["tasks.search-tasks"], 1);
    assert_eq!(ops["contacts.get-list"], 1);
    assert_eq!(s["requests"], 6);
    assert_eq!(s["byStatus"]["201"], 1);
    assert_eq!(s["byStatus"]["404"], 2);
    assert_eq!(s["faults"]["server_error"], 1);
    assert_eq!(s["contacts"], 1);
    assert_eq!(
        serde_json::to_value(api.emu.state().stats()).unwrap()["requests"],
        6
    );
}

#[tokio::test]
async fn truncated_listings_end_early_until_lifted() {
    let api = Api::start(roomy()).await;
    for i in 0..7 {
        api.post("/contacts", json!({"last_name": format!("T{i}")}))
            .await;
    }
    assert_eq!(truncate(&api, json!(5)).await, (200, json!({"after": 5})));
    // Seek paging: total 5, the walk ends after 5 rows.
    let mut offset: Option<String> = None;
    let mut seen = 0;
    loop {
        let path = match &offset {
            Some(o) => format!("/contacts?limit=2&offset={o}"),
            None => "/contacts?limit=2".to_string(),
        };
        let page = api.get(&path).await;
        assert_eq!(page.body["pagination"]["total"], 5);
        let n = page.body["data"].as_array().unwrap().len();
        if n == 0 {
            break;
        }
        seen += n;
        offset = page.body["pagination"]["offset"]
            .as_str()
            .map(str::to_string);
    }
    assert_eq!(seen, 5);
    // Numeric offsets and searches are cut the same way.
    assert_eq!(
        api.get("/contacts?limit=2&offset=4").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        api.get("/contacts?limit=2&offset=6").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let found = api
        .post("/contacts/search?limit=100", json!({"filters": {}}))
        .await;
    assert_eq!(found.body["data"].as_array().unwrap().len(), 5);
    assert_eq!(
        api.emu.state().store().contacts.len(),
        7,
        "nothing is deleted"
    );

    assert_eq!(
        truncate(&api, Value::Null).await,
        (200, json!({"after": null}))
    );
    assert_eq!(
        api.get("/contacts?limit=100").await.body["pagination"]["total"],
        7
    );
    assert_eq!(api.emu.state().truncate_after(), None);
    let (status, body) = truncate(&api, json!("five")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], 400);
}

#[tokio::test]
async fn crafted_notifications_get_the_sellsy_signature() {
    let api = Api::start(roomy()).await;
    let body = br#"{"eventType":"people.created","relatedid":"1"}"#;
    let resp = api
        .http
        .post(format!("{}/emulator/webhooks/sign", root(&api)))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let mut hasher = Sha1::new();
    hasher.update(api.emu.webhook_secret().as_bytes());
    hasher.update(body);
    let expected = hex::encode(hasher.finalize());
    assert_eq!(v, json!({ "signature": expected }));
    assert_eq!(api.emu.state().sign_webhook(body), expected);
}

#[tokio::test]
async fn comments_by_updated_range() {
    let api = Api::start(roomy()).await;
    let contact = id_of(&api.post("/contacts", json!({"last_name": "C"})).await);
    let mut ids = Vec::new();
    for i in 0..3 {
        let r = api
            .post(
                "/comments",
                json!({"description": format!("c{i}"), "related": [{"type": "contact", "id": contact}]}),
            )
            .await;
        ids.push(id_of(&r));
    }
    {
        let mut store = api.emu.state().store();
        for (id, when) in ids.iter().zip([
            "2020-01-01T10:00:00+00:00",
            "2020-06-01T10:00:00+00:00",
            "2021-01-01T10:00:00+00:00",
        ]) {
            store
                .comments
                .get_mut(*id)
                .unwrap()
                .insert("updated".into(), json!(when));
        }
    }
    let edited = api
        .put(
            &format!("/comments/{}", ids[0]),
            json!({"description": "edited"}),
        )
        .await;
    assert_eq!(edited.status, 200);
    let search = |range: Value| {
        let api = &api;
        async move {
            let r = api
                .post(
                    "/comments/search?order=updated&direction=asc",
                    json!({"filters": {"updated": range}}),
                )
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            r.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        search(json!({"start": "2024-01-01T00:00:00+00:00"})).await,
        [ids[0]]
    );
    assert_eq!(
        search(json!({"start": "2020-03-01T00:00:00+00:00", "end": "2021-01-01T10:00:00+00:00"}))
            .await,
        [ids[1], ids[2]],
        "both ends inclusive"
    );
    assert_eq!(
        search(json!({"end": "2020-12-31T00:00:00+02:00"})).await,
        [ids[1]]
    );
    let bad = api
        .post(
            "/comments/search",
            json!({"filters": {"updated": {"start": "yesterday"}}}),
        )
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn tasks_of_many_contacts_in_one_search() {
    let api = Api::start(roomy()).await;
    let mut contacts = Vec::new();
    for i in 0..5 {
        contacts.push(id_of(
            &api.post("/contacts", json!({"last_name": format!("K{i}")}))
                .await,
        ));
    }
    for (i, c) in contacts.iter().enumerate() {
        for t in 0..2 {
            let r = api
                .post(
                    "/tasks",
                    json!({"title": format!("k{i}-{t}"), "label_id": 1, "due_date": "2031-05-01T09:00:00+02:00", "related": [{"type": "contact", "id": c}]}),
                )
                .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
        }
    }
    let wanted = [contacts[0], contacts[2], contacts[4]];
    let all = api
        .post(
            "/tasks/search?limit=100",
            json!({"filters": {"contacts": wanted}}),
        )
        .await;
    assert_eq!(all.body["pagination"]["total"], 6);
    let owners: Vec<i64> = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["contact_id"].as_i64().unwrap())
        .collect();
    assert!(owners.iter().all(|o| wanted.contains(o)), "{owners:?}");
    let related: Vec<Value> = wanted
        .iter()
        .map(|id| json!({"type": "contact", "id": id}))
        .collect();
    let by_related = api
        .post(
            "/tasks/search?limit=100",
            json!({"filters": {"related_objects": related}}),
        )
        .await;
    assert_eq!(by_related.body["pagination"]["total"], 6);
    // Seek paging over the filtered set: 6 rows, 4 per page.
    let first = api
        .post(
            "/tasks/search?limit=4",
            json!({"filters": {"contacts": wanted}}),
        )
        .await;
    assert_eq!(first.body["data"].as_array().unwrap().len(), 4);
    let token = first.body["pagination"]["offset"].as_str().unwrap();
    let second = api
        .post(
            &format!("/tasks/search?limit=4&offset={token}"),
            json!({"filters": {"contacts": wanted}}),
        )
        .await;
    assert_eq!(second.body["data"].as_array().unwrap().len(), 2);
    let numeric = api
        .post(
            "/tasks/search?limit=4&offset=4",
            json!({"filters": {"contacts": wanted}}),
        )
        .await;
    assert_eq!(numeric.body["data"], second.body["data"]);
}

#[tokio::test]
async fn testkit_helpers_reach_both_emulators() {
    use hlbridge_emulator::ghl::{start, GhlConfig};
    let sellsy = Api::start(roomy()).await;
    let ghl = start(GhlConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    for root in [root(&sellsy), ghl.base_url.clone()] {
        hlbridge_testkit::truncate_listings(&root, Some(3)).await;
        assert!(hlbridge_testkit::emulator_stats(&root).await["requests"].is_u64());
        assert!(!hlbridge_testkit::sign_webhook_body(&root, b"{}")
            .await
            .is_empty());
    }
    assert_eq!(sellsy.emu.state().truncate_after(), Some(3));
    assert_eq!(ghl.state().settings_json()["truncateAfter"], 3);
    hlbridge_testkit::truncate_listings(&root(&sellsy), None).await;
    assert_eq!(sellsy.emu.state().truncate_after(), None);
    assert_eq!(
        hlbridge_testkit::sign_webhook_body(&ghl.base_url, b"{}").await,
        ghl.state().sign_webhook(b"{}")
    );
}
