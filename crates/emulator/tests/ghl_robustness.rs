//! Hostile input everywhere: every table operation with odd paths, queries and bodies.
//! The emulator must never answer 500 or drop the connection, and must keep serving.

#[path = "ghl_support.rs"]
mod support;

use hlbridge_emulator::ghl::GhlConfig;
use reqwest::Method;
use serde_json::{json, Value};
use support::{emulator, roomy, Api};

fn odd_bodies() -> Vec<Option<Value>> {
    let mut deep = json!({"filters": []});
    for _ in 0..60 {
        deep = json!({"group": "OR", "filters": [deep]});
    }
    vec![
        None,
        Some(json!(null)),
        Some(json!([1, 2, 3])),
        Some(json!("text")),
        Some(json!({})),
        Some(
            json!({"locationId": "loc-emulator", "pageLimit": 1e300, "page": -1, "searchAfter": [null, 1, {}],
            "filters": [{"group": "XOR"}, {"field": "tags", "operator": "range", "value": 3}], "sort": "x"}),
        ),
        Some(json!({"locationId": "loc-emulator", "pageLimit": 10, "filters": [deep]})),
        Some(
            json!({"locationId": "loc-emulator", "email": "x", "phone": "abc", "dateOfBirth": {"a": 1},
            "customFields": [1, {"id": 5}, {"key": "lead_score", "field_value": [1]}], "tags": [null, 1],
            "dndSettings": {"SMS": "on"}}),
        ),
        Some(
            json!({"title": "t", "dueDate": "9999999-99-99", "completed": "yes", "body": 1, "tags": "a",
            "contacts": "a", "followers": [1], "client_id": 1, "grant_type": "password"}),
        ),
    ]
}

#[tokio::test]
async fn no_input_makes_the_server_fail() {
    let emu = emulator(GhlConfig {
        seed_contacts: 3,
        agency_token: Some("pit-agency".into()),
        ..roomy()
    })
    .await;
    let contact = emu.state().contact_ids()[0].clone();
    let api = Api::new(&emu);
    let bodies = odd_bodies();
    let mut calls = 0;
    for op in hlbridge_ghl::TABLE.distinct() {
        let path = op
            .render_path(|name| {
                Some(if name == "contactId" {
                    contact.clone()
                } else {
                    format!("odd {name}/%")
                })
            })
            .unwrap_or_else(|_| op.path.to_string());
        let method = Method::from_bytes(op.method.as_str().as_bytes()).unwrap();
        let queries = [
            "",
            "?locationId=loc-emulator&limit=abc&skip=-1&startAfter=NaN&startAfterId=zz",
            "?%ZZ=1&&=",
        ];
        for (i, body) in bodies.iter().enumerate() {
            let query = queries[i % queries.len()];
            for token in [api.token.as_str(), "pit-agency"] {
                let resp = Api::new(&emu)
                    .with_token(token)
                    .raw(method.clone(), &format!("{path}{query}"), body.clone())
                    .await;
                let status = resp.status().as_u16();
                let text = resp.text().await.expect("a complete response");
                calls += 1;
                assert!(
                    status < 500 || status == 501,
                    "{} {} {path}{query} with {body:?} → {status} {text}",
                    op.id,
                    op.method
                );
            }
        }
    }
    assert!(calls > 5_000, "{calls}");
    // The fuzzing deleted the contact along the way; the server still answers.
    let (status, body) = api.get(&format!("/contacts/{contact}")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["message"], "Contact not found");
    let (status, _) = api.get("/contacts/?locationId=loc-emulator").await;
    assert_eq!(status, 200, "still serving");
}

#[tokio::test]
async fn malformed_json_and_forms_are_400_not_500() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    for (ct, raw) in [
        ("application/json", "{\"locationId\": "),
        ("application/json", "\u{0}\u{1}"),
        (
            "application/x-www-form-urlencoded",
            "locationId=%ZZ&&firstName",
        ),
        ("text/plain", "hello"),
    ] {
        let resp = api
            .client
            .post(format!("{}/contacts/", api.base))
            .bearer_auth(&api.token)
            .header("Version", support::VERSION)
            .header("content-type", ct)
            .body(raw)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        // A form body decodes (`%ZZ` stays literal) and names another location: 403.
        assert!(matches!(status, 400 | 403 | 422), "{ct} {raw:?} → {status}");
    }
    assert_eq!(emu.state().contact_count(), 0);
}
