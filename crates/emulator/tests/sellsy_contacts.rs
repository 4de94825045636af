//! Contacts through the emulator: CRUD, partial updates, verify, validation errors,
//! search filters, embeds and field projection.

mod sellsy_support;

use sellsy_support::{id_of, Api};
use serde_json::json;

#[tokio::test]
async fn create_then_search_by_email_and_updated_range() {
    let api = Api::with_seed(20).await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(2);
    let created = api
        .post("/contacts", json!({"last_name": "Durand", "first_name": "Anne", "email": "anne.durand@example.org"}))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = id_of(&created);
    assert_eq!(created.body["last_name"], "Durand");
    assert!(created.body["created"]
        .as_str()
        .unwrap()
        .ends_with("+00:00"));
    assert_eq!(created.body["owner"], json!({"id": 1, "type": "staff"}));

    let by_email = api
        .post(
            "/contacts/search",
            json!({"filters": {"email": "anne.durand@example.org"}}),
        )
        .await;
    assert_eq!(by_email.status, 200);
    assert_eq!(by_email.body["pagination"]["total"], 1);
    assert_eq!(by_email.body["data"][0]["id"], id);
    for key in ["limit", "count", "total", "offset"] {
        assert!(
            by_email.body["pagination"].get(key).is_some(),
            "pagination.{key}"
        );
    }

    let start = before.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let by_updated = api
        .post(
            "/contacts/search",
            json!({"filters": {"updated": {"start": start}}}),
        )
        .await;
    assert_eq!(by_updated.status, 200);
    let ids: Vec<i64> = by_updated.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![id],
        "only the new contact was updated after {start}"
    );

    let old = api
        .post(
            "/contacts/search",
            json!({"filters": {"updated": {"end": "2000-01-01T00:00:00+00:00"}}}),
        )
        .await;
    assert_eq!(old.body["pagination"]["total"], 0);
}

#[tokio::test]
async fn partial_update_verify_and_delete() {
    let api = Api::with_seed(0).await;
    let id = id_of(
        &api.post(
            "/contacts",
            json!({"last_name": "Leroy", "email": "l@example.org", "note": "n"}),
        )
        .await,
    );

    let updated = api
        .put(&format!("/contacts/{id}"), json!({"first_name": "Paul"}))
        .await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.body["first_name"], "Paul");
    assert_eq!(updated.body["email"], "l@example.org", "PUT is partial");

    let verified = api
        .put(
            &format!("/contacts/{id}?verify=true"),
            json!({"first_name": "Jacques"}),
        )
        .await;
    assert_eq!(verified.status, 204);
    assert_eq!(
        api.get(&format!("/contacts/{id}")).await.body["first_name"],
        "Paul"
    );

    let count = api.emu.state().store().contacts.len();
    let dry = api
        .post("/contacts?verify=true", json!({"last_name": "Ghost"}))
        .await;
    assert_eq!(dry.status, 204);
    assert_eq!(
        api.emu.state().store().contacts.len(),
        count,
        "verify saves nothing"
    );

    assert_eq!(api.delete(&format!("/contacts/{id}")).await.status, 204);
    let gone = api.get(&format!("/contacts/{id}")).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.body["error"]["code"], 404);
}

#[tokio::test]
async fn validation_errors_name_the_fields() {
    let api = Api::with_seed(0).await;
    let missing = api
        .post("/contacts", json!({"first_name": "No last name"}))
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.body["error"]["code"], 400);
    assert!(missing.body["error"]["details"]["last_name"].is_string());

    let bad = api
        .post("/contacts", json!({"last_name": "X", "email": "not-an-email", "civility": "dr", "birth_date": "1990-13-45"}))
        .await;
    assert_eq!(bad.status, 400);
    let details = &bad.body["error"]["details"];
    for field in ["email", "civility", "birth_date"] {
        assert!(details[field].is_string(), "{field} in {details}");
    }

    let too_long = api
        .post("/contacts", json!({"last_name": "x".repeat(201)}))
        .await;
    assert_eq!(too_long.status, 400);

    let not_json = api
        .http
        .post(format!("{}/contacts", api.emu.base_url))
        .bearer_auth(&api.token)
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let body: serde_json::Value = not_json.json().await.unwrap();
    assert_eq!(body["error"]["code"], 400);

    let huge = api
        .http
        .post(format!("{}/contacts", api.emu.base_url))
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body(format!(
            "{{\"last_name\": \"{}\"}}",
            "x".repeat(3 * 1024 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    let body: serde_json::Value = huge.json().await.unwrap();
    assert_eq!(body["error"]["code"], 413);

    let search_without_filters = api.post("/contacts/search", json!({})).await;
    assert_eq!(search_without_filters.status, 400);
    assert!(search_without_filters.body["error"]["details"]["filters"].is_string());
}

#[tokio::test]
async fn embeds_and_field_projection() {
    let api = Api::with_seed(0).await;
    let id = id_of(
        &api.post(
            "/contacts",
            json!({"last_name": "Roux", "email": "r@example.org"}),
        )
        .await,
    );
    let address = api
        .post(
            &format!("/contacts/{id}/addresses"),
            json!({"name": "Siège", "address_line_1": "1 rue A", "postal_code": "75001", "city": "Paris", "country_code": "fr"}),
        )
        .await;
    assert_eq!(address.status, 201);
    assert_eq!(address.body["country_code"], "FR");
    assert_eq!(address.body["is_invoicing_address"], true);

    let got = api
        .get(&format!("/contacts/{id}?embed[]=invoicing_address&embed[]=acl&field[]=id&field[]=last_name&field[]=_embed"))
        .await;
    assert_eq!(got.status, 200);
    let obj = got.body.as_object().unwrap();
    assert_eq!(obj.len(), 3, "{obj:?}");
    assert_eq!(got.body["_embed"]["invoicing_address"]["city"], "Paris");
    assert_eq!(got.body["_embed"]["acl"]["can_be_updated"], true);

    let no_embed = api.get(&format!("/contacts/{id}")).await;
    assert!(no_embed.body.get("_embed").is_none());
    assert_eq!(no_embed.body["invoicing_address_id"], address.body["id"]);

    let bad = api.get(&format!("/contacts/{id}?embed[]=nonsense")).await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn smart_tags_link_by_value_and_embed_caps_at_twenty() {
    let api = Api::with_seed(0).await;
    let id = id_of(&api.post("/contacts", json!({"last_name": "Tagged"})).await);
    let tags: Vec<_> = (0..25)
        .map(|i| json!({"value": format!("tag-{i:02}")}))
        .collect();
    let linked = api
        .post(&format!("/contacts/{id}/smart-tags"), json!(tags))
        .await;
    assert_eq!(linked.status, 200);
    assert_eq!(linked.body["pagination"]["total"], 25);

    let again = api
        .post(
            &format!("/contacts/{id}/smart-tags"),
            json!([{"value": "TAG-00"}]),
        )
        .await;
    assert_eq!(
        again.body["pagination"]["total"], 25,
        "matching ignores case"
    );

    let embedded = api.get(&format!("/contacts/{id}?embed[]=smart_tags")).await;
    let shown = embedded.body["_embed"]["smart_tags"].as_array().unwrap();
    assert_eq!(shown.len(), 20);
    assert_eq!(shown[0]["value"], "tag-00");
    assert_eq!(shown[19]["value"], "tag-19");
}
