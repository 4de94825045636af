//! Contact writes: validation, duplicates, upsert, tags, custom fields, delete.

#[path = "ghl_support.rs"]
mod support;

use hlbridge_emulator::ghl::GhlConfig;
use serde_json::{json, Value};
use support::{emulator, roomy, Api};

#[tokio::test]
async fn create_returns_full_contact_and_stores_it() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let (status, body) = api
        .post(
            "/contacts/",
            json!({"locationId": api.location, "firstName": "Ada", "lastName": "Lovelace",
                "email": "Ada@Example.com", "phone": "+1 888-555-0101", "tags": ["VIP", "lead"],
                "dateOfBirth": "12/10/1815", "source": "public api"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let c = &body["contact"];
    let id = c["id"].as_str().unwrap();
    assert_eq!(id.len(), 20);
    assert!(id.chars().all(|ch| ch.is_ascii_alphanumeric()));
    assert_eq!(c["phone"], "+18885550101");
    assert_eq!(c["emailLowerCase"], "ada@example.com");
    assert_eq!(c["tags"], json!(["vip", "lead"]));
    assert_eq!(c["dateOfBirth"], "1815-12-10T00:00:00.000Z");
    assert_eq!(c["locationId"], api.location.as_str());
    let added = c["dateAdded"].as_str().unwrap();
    assert!(
        added.ends_with('Z') && added.len() == 24,
        "ISO with ms: {added}"
    );
    let stored = emu.state().contact(id).expect("stored");
    assert_eq!(stored["name"], "Ada Lovelace");
    assert_eq!(emu.state().contact_count(), 1);
}

#[tokio::test]
async fn whitelisting_and_required_fields_answer_422() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let (status, body) = api
        .post("/contacts/", json!({"firstName": 3, "shoeSize": 44}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"], "Unprocessable Entity");
    let messages: Vec<&str> = body["message"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        messages.contains(&"property shoeSize should not exist"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"locationId should not be empty"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"firstName must be a string"),
        "{messages:?}"
    );

    let id = api.create_contact(json!({"firstName": "Bo"})).await;
    // Update has no `gender` in its DTO.
    let (status, body) = api
        .put(&format!("/contacts/{id}"), json!({"gender": "male"}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["message"], json!(["property gender should not exist"]));
    // Nested whitelisting.
    let (status, body) = api
        .put(
            &format!("/contacts/{id}"),
            json!({"dndSettings": {"SMS": {"status": "maybe", "extra": 1}}}),
        )
        .await;
    assert_eq!(status, 422);
    let messages = body["message"].as_array().unwrap();
    assert!(
        messages.contains(&json!("dndSettings.SMS.property extra should not exist")),
        "{messages:?}"
    );
    assert!(
        messages.contains(&json!("dndSettings.SMS.status must be one of the following values: active, inactive, permanent")),
        "{messages:?}"
    );
    assert_eq!(emu.state().contact_count(), 1);
}

#[tokio::test]
async fn duplicates_are_refused_with_meta_unless_allowed() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let id = api.create_contact(json!({"firstName": "Ada", "lastName": "L", "email": "ada@x.io", "phone": "+15550001111"})).await;
    let (status, body) = api
        .post(
            "/contacts/",
            json!({"locationId": api.location, "email": "ADA@X.IO"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["traceId"].is_string(), "every error carries a traceId");
    let mut body = body;
    body.as_object_mut().unwrap().remove("traceId");
    assert_eq!(
        body,
        json!({"statusCode": 400, "message": "This location does not allow duplicated contacts.",
            "meta": {"contactId": id, "contactName": "Ada L", "matchingField": "email"}})
    );
    let (status, body) = api
        .post(
            "/contacts/",
            json!({"locationId": api.location, "phone": "(555) 000-1111"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["meta"]["matchingField"], "phone");
    assert_eq!(emu.state().contact_count(), 1);

    emu.set_allow_duplicate_contacts(true);
    let (status, _) = api
        .post(
            "/contacts/",
            json!({"locationId": api.location, "email": "ada@x.io"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(emu.state().contact_count(), 2);
}

#[tokio::test]
async fn duplicate_lookup_finds_by_email_then_phone() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let id = api
        .create_contact(json!({"email": "a+b@x.io", "phone": "+15550002222"}))
        .await;
    let (status, body) = api
        .get(&format!(
            "/contacts/search/duplicate?locationId={}&email=A%2Bb%40x.io",
            api.location
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["contact"]["id"], id.as_str());
    let (_, body) = api
        .get(&format!(
            "/contacts/search/duplicate?locationId={}&number=%2B15550002222",
            api.location
        ))
        .await;
    assert_eq!(body["contact"]["id"], id.as_str());
    let (_, body) = api
        .get(&format!(
            "/contacts/search/duplicate?locationId={}&email=none%40x.io",
            api.location
        ))
        .await;
    assert_eq!(body["contact"], Value::Null);
}

#[tokio::test]
async fn upsert_creates_then_updates_the_same_contact() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let (status, body) = api
        .post(
            "/contacts/upsert",
            json!({"locationId": api.location, "email": "u@x.io", "firstName": "U", "tags": ["a"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["new"], true);
    assert!(body["traceId"].is_string());
    let id = body["contact"]["id"].as_str().unwrap().to_string();
    let (status, body) = api
        .post("/contacts/upsert", json!({"locationId": api.location, "email": "U@X.io", "lastName": "Pdated", "tags": ["b"]}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["new"], false);
    assert_eq!(body["contact"]["id"], id.as_str());
    assert_eq!(emu.state().contact_count(), 1);
    let stored = emu.state().contact(&id).unwrap();
    assert_eq!(stored["firstName"], "U");
    assert_eq!(stored["lastName"], "Pdated");
    assert_eq!(stored["tags"], json!(["b"]), "tags in upsert overwrite");
}

#[tokio::test]
async fn upsert_prefers_email_and_ignores_a_phone_owned_by_another() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let a = api.create_contact(json!({"email": "a@x.io"})).await;
    let b = api.create_contact(json!({"phone": "+15550003333"})).await;
    let (status, body) = api
        .post(
            "/contacts/upsert",
            json!({"locationId": api.location, "email": "a@x.io", "phone": "+15550003333"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["contact"]["id"], a.as_str());
    assert!(emu.state().contact(&a).unwrap().get("phone").is_none());
    assert_eq!(emu.state().contact(&b).unwrap()["phone"], "+15550003333");
}

#[tokio::test]
async fn tags_overwrite_on_update_and_patch_on_tag_endpoints() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let id = api
        .create_contact(json!({"firstName": "T", "tags": ["one", "two"]}))
        .await;
    let (status, body) = api
        .put(&format!("/contacts/{id}"), json!({"tags": ["three"]}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["succeded"], true);
    assert_eq!(emu.state().contact(&id).unwrap()["tags"], json!(["three"]));

    let (status, body) = api
        .post(
            &format!("/contacts/{id}/tags"),
            json!({"tags": ["Four", "three"]}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["tags"], json!(["three", "four"]));
    let (status, body) = api
        .delete(
            &format!("/contacts/{id}/tags"),
            Some(json!({"tags": ["three"]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["tags"], json!(["four"]));
    assert_eq!(emu.state().contact(&id).unwrap()["tags"], json!(["four"]));

    let (status, body) = api.post(&format!("/contacts/{id}/tags"), json!({})).await;
    assert_eq!(status, 422);
    assert_eq!(body["message"], json!(["tags should not be empty"]));
}

#[tokio::test]
async fn bulk_tag_update_reports_per_contact() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let a = api
        .create_contact(json!({"firstName": "A", "tags": ["x"]}))
        .await;
    let b = api.create_contact(json!({"firstName": "B"})).await;
    let (status, body) = api
        .post(
            "/contacts/bulk/tags/update/add",
            json!({"locationId": api.location, "contacts": [a, b, "short"], "tags": ["Y"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["errorCount"], 1);
    assert_eq!(body["succeded"], false);
    assert_eq!(
        body["responses"][2]["message"],
        "contact id is not a valid firebase id"
    );
    assert_eq!(emu.state().contact(&a).unwrap()["tags"], json!(["x", "y"]));
    assert_eq!(emu.state().contact(&b).unwrap()["tags"], json!(["y"]));

    let (status, _) = api
        .post(
            "/contacts/bulk/tags/update/remove",
            json!({"locationId": api.location, "contacts": [a], "tags": [], "removeAllTags": true}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(emu.state().contact(&a).unwrap()["tags"], json!([]));
    let (status, body) = api
        .post(
            "/contacts/bulk/tags/update/swap",
            json!({"locationId": api.location, "contacts": [a], "tags": ["z"]}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        json!(["type must be one of the following values: add, remove"])
    );
}

#[tokio::test]
async fn custom_fields_by_id_or_key() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let (status, body) = api
        .get(&format!("/locations/{}/customFields", api.location))
        .await;
    assert_eq!(status, 200, "{body}");
    let fields = body["customFields"].as_array().unwrap();
    let score = fields
        .iter()
        .find(|f| f["fieldKey"] == "contact.lead_score")
        .unwrap();
    let colour = fields
        .iter()
        .find(|f| f["fieldKey"] == "contact.favourite_colour")
        .unwrap();
    let id = api
        .create_contact(json!({"customFields": [
            {"id": score["id"], "field_value": "7"},
            {"key": "favourite_colour", "field_value": "blue"}
        ]}))
        .await;
    let stored = emu.state().contact(&id).unwrap();
    let cf = stored["customFields"].as_array().unwrap();
    assert!(
        cf.contains(&json!({"id": score["id"], "value": 7.0})),
        "{cf:?}"
    );
    assert!(
        cf.contains(&json!({"id": colour["id"], "value": "blue"})),
        "{cf:?}"
    );

    let (status, body) = api
        .put(
            &format!("/contacts/{id}"),
            json!({"customFields": [{"id": "doesNotExist", "field_value": "x"}]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = api
        .put(
            &format!("/contacts/{id}"),
            json!({"customFields": [{"key": "favourite_colour", "field_value": "pink"}]}),
        )
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn delete_answers_succeded_and_removes_everything() {
    let emu = emulator(GhlConfig {
        seed_contacts: 1,
        ..roomy()
    })
    .await;
    let api = Api::new(&emu);
    let id = emu.state().contact_ids()[0].clone();
    assert!(emu.state().task_count() > 0);
    let (status, body) = api.delete(&format!("/contacts/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"succeded": true}));
    assert_eq!(emu.state().contact_count(), 0);
    assert_eq!(emu.state().task_count(), 0);
    let (status, body) = api.get(&format!("/contacts/{id}")).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "Contact not found");
}

#[tokio::test]
async fn campaigns_and_followers_are_recorded() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let id = api.create_contact(json!({"firstName": "C"})).await;
    let (status, body) = api
        .post(&format!("/contacts/{id}/campaigns/camp1"), json!({}))
        .await;
    assert_eq!((status, body), (201, json!({"succeded": true})));
    api.post(&format!("/contacts/{id}/campaigns/camp2"), json!({}))
        .await;
    assert_eq!(emu.state().campaigns_of(&id), vec!["camp1", "camp2"]);
    let (status, _) = api
        .delete(&format!("/contacts/{id}/campaigns/camp1"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(emu.state().campaigns_of(&id), vec!["camp2"]);
    let (status, _) = api
        .delete(&format!("/contacts/{id}/campaigns/removeAll"), None)
        .await;
    assert_eq!(status, 200);
    assert!(emu.state().campaigns_of(&id).is_empty());

    let (status, body) = api
        .post(
            &format!("/contacts/{id}/followers"),
            json!({"followers": ["u1", "u2"]}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["followersAdded"], json!(["u1", "u2"]));
    let (_, body) = api.get(&format!("/contacts/{id}/appointments")).await;
    assert_eq!(body, json!({"events": []}));
}
