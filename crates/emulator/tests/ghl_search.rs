//! Search, the deprecated list and the business list: paging without gaps or repeats.

#[path = "ghl_support.rs"]
mod support;

use std::collections::HashSet;

use hlbridge_emulator::ghl::GhlConfig;
use serde_json::{json, Value};
use support::{emulator, roomy, Api};

const SEEDED: usize = 1_200;

fn ids(body: &Value) -> Vec<String> {
    body["contacts"]
        .as_array()
        .expect("contacts array")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn page_paging_covers_everything_once() {
    let emu = emulator(GhlConfig {
        seed_contacts: SEEDED,
        ..roomy()
    })
    .await;
    let api = Api::new(&emu);
    let mut seen = Vec::new();
    for page in 1.. {
        let (status, body) = api
            .post(
                "/contacts/search",
                json!({"locationId": api.location, "pageLimit": 100, "page": page}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["total"], SEEDED);
        let got = ids(&body);
        if got.is_empty() {
            break;
        }
        seen.extend(got);
    }
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(seen.len(), SEEDED);
    assert_eq!(unique.len(), SEEDED);
}

#[tokio::test]
async fn search_after_covers_everything_once_in_order() {
    let emu = emulator(GhlConfig {
        seed_contacts: SEEDED,
        ..roomy()
    })
    .await;
    let api = Api::new(&emu);
    let mut seen: Vec<String> = Vec::new();
    let mut updated: Vec<String> = Vec::new();
    let mut cursor: Option<Value> = None;
    loop {
        let mut body = json!({"locationId": api.location, "pageLimit": 500,
            "sort": [{"field": "dateUpdated", "direction": "asc"}]});
        if let Some(c) = &cursor {
            body["searchAfter"] = c.clone();
        }
        let (status, body) = api.post("/contacts/search", body).await;
        assert_eq!(status, 200, "{body}");
        let contacts = body["contacts"].as_array().unwrap().clone();
        if contacts.is_empty() {
            break;
        }
        for c in &contacts {
            seen.push(c["id"].as_str().unwrap().to_string());
            updated.push(c["dateUpdated"].as_str().unwrap().to_string());
            assert_eq!(c["searchAfter"].as_array().unwrap().len(), 2);
        }
        cursor = contacts.last().map(|c| c["searchAfter"].clone());
    }
    assert_eq!(seen.len(), SEEDED);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), SEEDED);
    let mut sorted = updated.clone();
    sorted.sort();
    assert_eq!(updated, sorted, "dateUpdated ascending");
}

#[tokio::test]
async fn search_validates_its_body() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let (status, body) = api.post("/contacts/search", json!({})).await;
    assert_eq!(status, 422);
    let messages = body["message"].as_array().unwrap();
    assert!(
        messages.contains(&json!("locationId should not be empty")),
        "{messages:?}"
    );
    assert!(
        messages.contains(&json!("pageLimit should not be empty")),
        "{messages:?}"
    );
    let (status, body) = api
        .post(
            "/contacts/search",
            json!({"locationId": api.location, "pageLimit": 501}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        json!(["pageLimit must not be greater than 500"])
    );
    let (status, body) = api
        .post(
            "/contacts/search",
            json!({"locationId": api.location, "pageLimit": 10,
            "filters": [{"field": "email", "operator": "like", "value": "x"}]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = api
        .post(
            "/contacts/search",
            json!({"locationId": api.location, "pageLimit": 500, "page": 21}),
        )
        .await;
    assert_eq!(status, 400, "page paging stops at 10k records");
}

#[tokio::test]
async fn filters_sort_and_query_see_writes_immediately() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let ada = api.create_contact(json!({"firstName": "Ada", "email": "ada@x.io", "tags": ["vip"], "companyName": "Acme"})).await;
    // Distinct creation times: the default order (newest first) is then unambiguous.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let bob = api
        .create_contact(json!({"firstName": "Bob", "email": "bob@y.io", "tags": ["lead"]}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let cy = api
        .create_contact(json!({"firstName": "Cy", "email": "cy@x.io", "tags": ["vip", "lead"]}))
        .await;
    let search = |filters: Value, extra: Value| {
        let mut body = json!({"locationId": api.location, "pageLimit": 50, "filters": filters});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        api.post("/contacts/search", body)
    };
    let (_, body) = search(
        json!([{"field": "tags", "operator": "eq", "value": "vip"}]),
        json!({}),
    )
    .await;
    assert_eq!(body["total"], 2);
    let (_, body) = search(
        json!([{"group": "OR", "filters": [
            {"field": "firstName", "operator": "eq", "value": "bob"},
            {"field": "companyName", "operator": "exists"}]}]),
        json!({"sort": [{"field": "firstName", "direction": "desc"}]}),
    )
    .await;
    assert_eq!(ids(&body), vec![bob.clone(), ada.clone()]);
    let (_, body) = search(
        json!([{"field": "email", "operator": "contains", "value": "@x."}]),
        json!({"query": "cy"}),
    )
    .await;
    assert_eq!(ids(&body), vec![cy.clone()]);
    // Default order: newest first.
    let (_, body) = search(json!([]), json!({})).await;
    assert_eq!(ids(&body), vec![cy.clone(), bob.clone(), ada.clone()]);
    // A write is visible at once.
    api.post(&format!("/contacts/{bob}/tags"), json!({"tags": ["vip"]}))
        .await;
    let (_, body) = search(
        json!([{"field": "tags", "operator": "eq", "value": "vip"}]),
        json!({}),
    )
    .await;
    assert_eq!(body["total"], 3);
    let (_, body) = search(
        json!([{"field": "id", "operator": "eq", "value": ada}]),
        json!({}),
    )
    .await;
    assert_eq!(body["total"], 1);
}

#[tokio::test]
async fn deprecated_list_pages_with_start_after() {
    let emu = emulator(GhlConfig {
        seed_contacts: 250,
        ..roomy()
    })
    .await;
    let api = Api::new(&emu);
    let mut seen = Vec::new();
    let mut path = format!("/contacts/?locationId={}&limit=100", api.location);
    let mut pages = 0;
    loop {
        let (status, body) = api.get(&path).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        let meta = &body["meta"];
        assert_eq!(meta["total"], 250);
        assert_eq!(meta["currentPage"], pages);
        seen.extend(ids(&body));
        match meta["nextPageUrl"].as_str() {
            Some(next) => {
                assert_eq!(meta["nextPage"], pages + 1);
                path = next.trim_start_matches(&api.base).to_string();
            }
            None => {
                assert_eq!(meta["nextPage"], Value::Null);
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 250);
    assert_eq!(seen, emu.state().contact_ids(), "oldest first, no gaps");
    let (status, body) = api
        .get(&format!("/contacts/?locationId={}&limit=101", api.location))
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        json!(["limit must not be greater than 100"])
    );
    let (status, _) = api
        .get(&format!(
            "/contacts/?locationId={}&limit=10&colour=red",
            api.location
        ))
        .await;
    assert_eq!(status, 422, "unknown query parameters are refused");
}

#[tokio::test]
async fn business_list_uses_skip_and_limit() {
    let emu = emulator(GhlConfig {
        seed_contacts: 30,
        ..roomy()
    })
    .await;
    let api = Api::new(&emu);
    let all = emu.state().contact_ids();
    let members: Vec<String> = all.iter().take(12).cloned().collect();
    let (status, body) = api
        .post(
            "/contacts/bulk/business",
            json!({"locationId": api.location, "ids": members, "businessId": "biz1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ids"].as_array().unwrap().len(), 12);
    let (status, body) = api
        .get(&format!(
            "/contacts/business/biz1?locationId={}&limit=5&skip=10",
            api.location
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 12);
    assert_eq!(ids(&body), members[10..].to_vec());
    let (_, body) = api
        .post(
            "/contacts/search",
            json!({"locationId": api.location, "pageLimit": 100,
            "filters": [{"field": "businessId", "operator": "eq", "value": "biz1"}]}),
        )
        .await;
    assert_eq!(body["total"], 12);
}
