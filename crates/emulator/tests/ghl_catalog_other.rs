//! Conversations & Messages and the "Other" catalog category (locations, custom fields,
//! company, associations and relations, blogs): every operation against the emulator,
//! asserting the state it leaves behind.

#[path = "ghl_support.rs"]
mod support;

use std::collections::HashSet;

use hlbridge_core::schema_check::{check_value, Strictness};
use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator};
use serde_json::{json, Value};
use support::{emulator, roomy, Api};

const AGENCY: &str = "pit-agency-catalog";

fn config(seed: usize) -> GhlConfig {
    GhlConfig {
        seed_contacts: seed,
        agency_token: Some(AGENCY.into()),
        ..roomy()
    }
}

async fn setup(seed: usize) -> (GhlEmulator, Api) {
    let emu = emulator(config(seed)).await;
    let api = Api::new(&emu);
    (emu, api)
}

/// Assert `v` matches the operation's documented success response (undeclared
/// properties allowed, as a schema-driven client reads it).
#[track_caller]
fn conforms(op_id: &str, v: &Value) {
    let table = &hlbridge_ghl::TABLE;
    let op = table.get(op_id).expect("operation");
    let ty = op.response.expect("response type");
    let bad = check_value(table, &ty, v, Strictness::Open);
    assert!(bad.is_empty(), "{op_id}: {bad:?} in {v}");
}

fn ids(items: &Value) -> Vec<String> {
    items
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v["id"].as_str().expect("id").to_string())
        .collect()
}

fn events(emu: &GhlEmulator, kind: &str) -> Vec<Value> {
    emu.state()
        .webhook_records()
        .into_iter()
        .filter(|r| r.event_type == kind)
        .map(|r| serde_json::from_str(&r.body).expect("json"))
        .collect()
}

/// Every conversation of the location, through `startAfterDate` paging.
async fn all_conversations(api: &Api, limit: usize) -> (Vec<Value>, u64) {
    let base = format!(
        "/conversations/search?locationId={}&limit={limit}",
        api.location
    );
    let mut out = Vec::new();
    let mut path = base.clone();
    let total;
    loop {
        let (status, body) = api.get(&path).await;
        assert_eq!(status, 200, "{body}");
        conforms("conversations.search-conversation", &body);
        let page = body["conversations"].as_array().expect("list").clone();
        let n = page.len();
        let last = page.last().map(|c| c["sort"][0].clone());
        out.extend(page);
        match last {
            Some(sort) if n == limit => path = format!("{base}&startAfterDate={sort}"),
            _ => {
                total = body["total"].as_u64().expect("total");
                break;
            }
        }
    }
    (out, total)
}

/// Every message of a conversation, through `lastMessageId` paging.
async fn all_messages(api: &Api, conversation: &str, limit: usize) -> Vec<Value> {
    let base = format!("/conversations/{conversation}/messages?limit={limit}");
    let mut out = Vec::new();
    let mut path = base.clone();
    loop {
        let (status, body) = api.get(&path).await;
        assert_eq!(status, 200, "{body}");
        conforms("conversations.get-messages", &body);
        let nested = &body["messages"];
        let page = nested["messages"].as_array().expect("nested messages");
        assert!(page.len() <= limit);
        out.extend(page.iter().cloned());
        if nested["nextPage"] == true {
            path = format!(
                "{base}&lastMessageId={}",
                nested["lastMessageId"].as_str().unwrap()
            );
        } else {
            break;
        }
    }
    out
}

async fn seeded_messages(api: &Api) -> Vec<Value> {
    let (convs, _) = all_conversations(api, 50).await;
    let mut out = Vec::new();
    for c in convs {
        out.extend(all_messages(api, c["id"].as_str().unwrap(), 50).await);
    }
    out
}

#[tokio::test]
async fn search_conversations_pages_with_start_after_date() {
    let (_emu, api) = setup(30).await;
    let (convs, total) = all_conversations(&api, 4).await;
    assert_eq!(total, 15, "every second seeded contact has a conversation");
    assert_eq!(convs.len(), 15);
    let unique: HashSet<_> = convs.iter().map(|c| c["id"].clone()).collect();
    assert_eq!(unique.len(), 15, "no conversation twice");
    let sorts: Vec<i64> = convs
        .iter()
        .map(|c| c["sort"][0].as_i64().unwrap())
        .collect();
    assert!(
        sorts.windows(2).all(|w| w[0] > w[1]),
        "newest first: {sorts:?}"
    );
    for c in &convs {
        assert_eq!(c["lastMessageDate"], c["sort"][0]);
        assert!(c["lastMessageBody"].is_string());
        assert!(c["email"].as_str().unwrap().contains('@'));
        assert_eq!(c["fullName"], c["contactName"]);
    }

    // Ascending order and filters.
    let (status, body) = api
        .get(&format!(
            "/conversations/search?locationId={}&sort=asc&limit=100",
            api.location
        ))
        .await;
    assert_eq!(status, 200);
    let asc: Vec<i64> = body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sort"][0].as_i64().unwrap())
        .collect();
    assert!(asc.windows(2).all(|w| w[0] < w[1]));
    let first = &convs[3];
    let (_, body) = api
        .get(&format!(
            "/conversations/search?locationId={}&contactId={}",
            api.location,
            first["contactId"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        ids(&body["conversations"]),
        vec![first["id"].as_str().unwrap()]
    );
    let (_, unread) = api
        .get(&format!(
            "/conversations/search?locationId={}&status=unread&limit=100",
            api.location
        ))
        .await;
    assert!(unread["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["unreadCount"].as_i64().unwrap() > 0));
    let (_, calls) = api
        .get(&format!(
            "/conversations/search?locationId={}&lastMessageType=TYPE_CALL&limit=100",
            api.location
        ))
        .await;
    assert!(calls["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["lastMessageType"] == "TYPE_CALL"));
    let (status, _) = api
        .get("/conversations/search?locationId=someOtherLocation000")
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn conversation_and_messages_by_id() {
    let (_emu, api) = setup(12).await;
    let (convs, _) = all_conversations(&api, 20).await;
    let conv = &convs[0];
    let conv_id = conv["id"].as_str().unwrap();
    let (status, body) = api.get(&format!("/conversations/{conv_id}")).await;
    assert_eq!(status, 200, "{body}");
    conforms("conversations.get-conversation", &body);
    assert_eq!(body["id"], conv_id);
    assert_eq!(body["contactId"], conv["contactId"]);
    assert_eq!(body["deleted"], false);
    assert!(body["type"].is_number());

    let by_two = all_messages(&api, conv_id, 2).await;
    let at_once = all_messages(&api, conv_id, 100).await;
    assert!(by_two.len() >= 2);
    assert_eq!(
        ids(&json!(by_two)),
        ids(&json!(at_once)),
        "paging neither skips nor repeats"
    );
    let dates: Vec<&str> = at_once
        .iter()
        .map(|m| m["dateAdded"].as_str().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert_eq!(at_once[0]["body"], conv["lastMessageBody"]);

    let m = &at_once[0];
    let (status, body) = api
        .get(&format!(
            "/conversations/messages/{}",
            m["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(&body, m);
    conforms("conversations.get-message", &body);
    assert_eq!(body["conversationId"], conv_id);

    let (status, body) = api.get("/conversations/unknownConversation0").await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "Conversation not found");
    let (status, _) = api
        .get("/conversations/messages/unknownMessage000000")
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .get(&format!(
            "/conversations/{conv_id}/messages?lastMessageId=nope"
        ))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn emails_by_id() {
    let (_emu, api) = setup(16).await;
    let messages = seeded_messages(&api).await;
    let email = messages
        .iter()
        .find(|m| m["messageType"] == "TYPE_EMAIL")
        .expect("a seeded email");
    let email_id = email["meta"]["email"]["messageIds"][0].as_str().unwrap();
    let (status, body) = api
        .get(&format!("/conversations/messages/email/{email_id}"))
        .await;
    assert_eq!(status, 200, "{body}");
    conforms("conversations.get-email-by-id", &body);
    assert_eq!(body["id"], email_id);
    assert_eq!(body["conversationId"], email["conversationId"]);
    assert_eq!(body["body"], email["body"]);
    assert!(body["to"].as_array().unwrap()[0]
        .as_str()
        .unwrap()
        .contains('@'));
    assert!(body["threadId"].is_string());
    let (status, _) = api
        .get(&format!(
            "/conversations/messages/email/{}",
            email["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 400, "a message id is not an email id");
}

#[tokio::test]
async fn recordings_and_transcriptions_of_calls() {
    let (_emu, api) = setup(24).await;
    let messages = seeded_messages(&api).await;
    let call = messages
        .iter()
        .find(|m| m["messageType"] == "TYPE_CALL" && m["meta"]["callStatus"] == "completed")
        .expect("an answered call");
    let id = call["id"].as_str().unwrap();
    let loc = api.location.clone();

    let resp = api
        .raw(
            reqwest::Method::GET,
            &format!("/conversations/messages/{id}/locations/{loc}/recording"),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "audio/x-wav");
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("audio.wav"));
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");

    let (status, body) = api
        .get(&format!(
            "/conversations/locations/{loc}/messages/{id}/transcription"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    conforms("conversations.get-message-transcription", &body);
    let sentences = body.as_array().expect("array of sentences");
    assert!(sentences.len() >= 2);
    for (i, s) in sentences.iter().enumerate() {
        assert_eq!(s["sentenceIndex"], i);
        assert!(s["endTime"].as_f64() > s["startTime"].as_f64());
        assert!(s["transcript"].as_str().unwrap().len() > 3);
    }

    let resp = api
        .raw(
            reqwest::Method::GET,
            &format!("/conversations/locations/{loc}/messages/{id}/transcription/download"),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/plain");
    let text = resp.text().await.unwrap();
    assert_eq!(text.lines().count(), sentences.len());
    assert!(text.contains(sentences[0]["transcript"].as_str().unwrap()));

    let sms = messages
        .iter()
        .find(|m| m["messageType"] == "TYPE_SMS")
        .unwrap();
    let sms_id = sms["id"].as_str().unwrap();
    let (status, _) = api
        .get(&format!(
            "/conversations/messages/{sms_id}/locations/{loc}/recording"
        ))
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .get(&format!(
            "/conversations/locations/{loc}/messages/{sms_id}/transcription"
        ))
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .get(&format!(
            "/conversations/locations/otherLocation0000000/messages/{id}/transcription"
        ))
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn update_message_status_for_provider_messages() {
    let (_emu, api) = setup(24).await;
    let messages = seeded_messages(&api).await;
    let custom = messages
        .iter()
        .find(|m| m["messageType"] == "TYPE_CUSTOM_PROVIDER_SMS")
        .expect("a custom provider message");
    let id = custom["id"].as_str().unwrap();
    assert_eq!(custom["status"], "pending");
    let (status, body) = api
        .put(
            &format!("/conversations/messages/{id}/status"),
            json!({"status": "delivered"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    conforms("conversations.update-message-status", &body);
    assert_eq!(body["messageId"], id);
    assert_eq!(body["conversationId"], custom["conversationId"]);
    let (_, after) = api.get(&format!("/conversations/messages/{id}")).await;
    assert_eq!(after["status"], "delivered");

    let (status, _) = api
        .put(
            &format!("/conversations/messages/{id}/status"),
            json!({"status": "lost"}),
        )
        .await;
    assert_eq!(status, 422);
    let sms = messages
        .iter()
        .find(|m| m["messageType"] == "TYPE_SMS")
        .unwrap();
    let (status, _) = api
        .put(
            &format!(
                "/conversations/messages/{}/status",
                sms["id"].as_str().unwrap()
            ),
            json!({"status": "read"}),
        )
        .await;
    assert_eq!(status, 400, "not a custom provider message");
    let (status, _) = api
        .put(
            "/conversations/messages/unknownMessage000000/status",
            json!({"status": "read"}),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn create_conversation_send_messages_and_typing() {
    let (emu, api) = setup(0).await;
    let contact = api
        .create_contact(
            json!({"firstName": "Chat", "email": "chat@example.com", "phone": "+15551230000"}),
        )
        .await;
    let (status, body) = api
        .post(
            "/conversations/",
            json!({"locationId": api.location, "contactId": contact}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    conforms("conversations.create-conversation", &body);
    assert_eq!(body["success"], true);
    let conv = body["conversation"]["id"].as_str().unwrap().to_string();
    let (status, _) = api
        .post(
            "/conversations/",
            json!({"locationId": api.location, "contactId": contact}),
        )
        .await;
    assert_eq!(status, 400, "one conversation per contact");

    let (status, body) = api
        .post(
            "/conversations/messages",
            json!({"type": "SMS", "subType": "SMS", "status": "pending", "contactId": contact, "message": "Hello there"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    conforms("conversations.send-a-new-message", &body);
    assert_eq!(body["conversationId"], conv.as_str());
    let sms_id = body["messageId"].as_str().unwrap().to_string();
    let (status, body) = api
        .post(
            "/conversations/messages",
            json!({"type": "Email", "subType": "Email", "status": "pending", "contactId": contact, "html": "<b>Hi</b>", "subject": "Welcome"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let email_id = body["emailMessageId"].as_str().unwrap().to_string();

    let (_, email) = api
        .get(&format!("/conversations/messages/email/{email_id}"))
        .await;
    assert_eq!(email["subject"], "Welcome");
    assert_eq!(email["to"], json!(["chat@example.com"]));
    let messages = all_messages(&api, &conv, 10).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["id"], sms_id.as_str());
    assert_eq!(messages[1]["direction"], "outbound");
    let (_, found) = api
        .get(&format!(
            "/conversations/search?locationId={}&contactId={contact}",
            api.location
        ))
        .await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["conversations"][0]["lastMessageBody"], "<b>Hi</b>");
    assert_eq!(found["conversations"][0]["lastMessageType"], "TYPE_EMAIL");
    assert_eq!(events(&emu, "OutboundMessage").len(), 2);

    let typing = |c: &str, t: &str| json!({"locationId": api.location, "isTyping": t, "visitorId": "visitor1", "conversationId": c});
    let (status, body) = api
        .post(
            "/conversations/providers/live-chat/typing",
            typing(&conv, "true"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, json!({"success": true}));
    conforms("conversations.live-chat-agent-typing", &body);
    let (status, _) = api
        .post(
            "/conversations/providers/live-chat/typing",
            typing(&conv, "maybe"),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = api
        .post(
            "/conversations/providers/live-chat/typing",
            typing("unknownConversation0", "false"),
        )
        .await;
    assert_eq!(status, 400);

    // Deleting the contact hides its conversation.
    let (status, _) = api.delete(&format!("/contacts/{contact}"), None).await;
    assert_eq!(status, 200);
    let (status, _) = api.get(&format!("/conversations/{conv}")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn locations_list_find_and_create() {
    let (emu, api) = setup(0).await;
    let agency = Api::new(&emu).with_token(AGENCY);
    let company = emu.state().config().company_id.clone();

    let (status, body) = agency.get("/locations/search").await;
    assert_eq!(status, 200, "{body}");
    conforms("locations.search-locations", &body);
    assert_eq!(ids(&body["locations"]), vec![api.location.clone()]);

    let (status, body) = agency
        .post(
            "/locations/",
            json!({"name": "Second Shop", "companyId": company, "country": "FR", "city": "Lyon",
                   "prospectInfo": {"firstName": "Ada", "lastName": "L", "email": "ada@example.com"},
                   "settings": {"allowDuplicateContact": true}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    conforms("locations.create-location", &body);
    let new_id = body["id"].as_str().unwrap().to_string();
    assert_eq!(body["name"], "Second Shop");
    assert_eq!(body["companyId"], company.as_str());
    assert_eq!(body["settings"]["allowDuplicateContact"], true);
    assert_eq!(events(&emu, "LocationCreate")[0]["id"], new_id.as_str());

    let (_, body) = agency.get("/locations/search?limit=10").await;
    assert_eq!(
        ids(&body["locations"]),
        vec![api.location.clone(), new_id.clone()]
    );
    let (_, body) = agency.get("/locations/search?skip=1&limit=1").await;
    assert_eq!(ids(&body["locations"]), vec![new_id.clone()]);
    let (_, body) = agency.get("/locations/search?order=desc").await;
    assert_eq!(ids(&body["locations"])[0], new_id);
    let (_, body) = agency.get("/locations/search?email=ADA@example.com").await;
    assert_eq!(ids(&body["locations"]), vec![new_id.clone()]);

    let (status, body) = agency.get(&format!("/locations/{new_id}")).await;
    assert_eq!(status, 200);
    conforms("locations.get-location", &body);
    assert_eq!(body["location"]["city"], "Lyon");
    assert_eq!(body["location"]["firstName"], "Ada");
    let (status, body) = api.get(&format!("/locations/{}", api.location)).await;
    assert_eq!(status, 200);
    assert_eq!(body["location"]["id"], api.location.as_str());
    assert_eq!(body["location"]["companyId"], company.as_str());
    let (status, _) = api.get(&format!("/locations/{new_id}")).await;
    assert_eq!(status, 403, "a location token sees only its location");
    let (_, body) = api.get("/locations/search").await;
    assert_eq!(ids(&body["locations"]), vec![api.location.clone()]);
    let (status, _) = agency.get("/locations/unknownLocation00000").await;
    assert_eq!(status, 400);

    let (status, _) = api
        .post("/locations/", json!({"name": "Nope", "companyId": company}))
        .await;
    assert_eq!(status, 401, "agency token only");
    let (status, _) = agency
        .post(
            "/locations/",
            json!({"name": "Nope", "companyId": "otherCompany"}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = agency
        .post("/locations/", json!({"companyId": company}))
        .await;
    assert_eq!(status, 422);
    let (_, body) = agency.get("/locations/search").await;
    assert_eq!(body["locations"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn company_by_id() {
    let (emu, api) = setup(0).await;
    let agency = Api::new(&emu).with_token(AGENCY);
    let company = emu.state().config().company_id.clone();
    let (status, body) = agency.get(&format!("/companies/{company}")).await;
    assert_eq!(status, 200, "{body}");
    conforms("companies.get-company", &body);
    assert_eq!(body["company"]["id"], company.as_str());
    assert_eq!(body["company"]["locationCount"], 1);
    agency
        .post("/locations/", json!({"name": "Two", "companyId": company}))
        .await;
    let (_, body) = agency.get(&format!("/companies/{company}")).await;
    assert_eq!(body["company"]["locationCount"], 2);
    let (status, _) = agency.get("/companies/someOtherCompany").await;
    assert_eq!(status, 400);
    let (status, _) = api.get(&format!("/companies/{company}")).await;
    assert_eq!(status, 401, "agency token only");
}

#[tokio::test]
async fn custom_fields_crud_and_contact_values() {
    let (_emu, api) = setup(0).await;
    let base = format!("/locations/{}/customFields", api.location);
    let (status, body) = api.get(&base).await;
    assert_eq!(status, 200);
    conforms("locations.get-custom-fields", &body);
    let before = body["customFields"].as_array().unwrap().len();

    let (status, body) = api
        .post(
            &base,
            json!({"name": "Contract Value", "dataType": "MONETORY", "placeholder": "EUR"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    conforms("locations.create-custom-field", &body);
    let field = body["customField"].clone();
    let id = field["id"].as_str().unwrap().to_string();
    assert_eq!(field["fieldKey"], "contact.contract_value");
    assert_eq!(field["placeholder"], "EUR");
    let (status, body) = api
        .post(
            &base,
            json!({"name": "Tier", "dataType": "SINGLE_OPTIONS",
                   "textBoxListOptions": [{"label": "gold", "prefillValue": ""}, {"label": "silver", "prefillValue": ""}]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["customField"]["picklistOptions"],
        json!(["gold", "silver"])
    );
    let (status, _) = api
        .post(&base, json!({"name": "Weird", "dataType": "HOLOGRAM"}))
        .await;
    assert_eq!(status, 422);
    let (status, _) = api
        .post(&base, json!({"name": "Contract value", "dataType": "TEXT"}))
        .await;
    assert_eq!(status, 400, "names are unique");
    let (_, body) = api.get(&base).await;
    assert_eq!(body["customFields"].as_array().unwrap().len(), before + 2);
    let (_, body) = api.get(&format!("{base}?model=opportunity")).await;
    assert_eq!(body["customFields"], json!([]));

    // New fields take contact values, validated by type.
    let contact = api
        .create_contact(json!({"firstName": "Val", "customFields": [
            {"key": "contract_value", "field_value": "1200.5"},
            {"key": "tier", "field_value": "gold"}]}))
        .await;
    let (_, body) = api.get(&format!("/contacts/{contact}")).await;
    let values = body["contact"]["customFields"].as_array().unwrap();
    assert!(
        values.contains(&json!({"id": id, "value": 1200.5})),
        "{values:?}"
    );
    let (status, _) = api
        .put(
            &format!("/contacts/{contact}"),
            json!({"customFields": [{"key": "tier", "field_value": "bronze"}]}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = api
        .put(
            &format!("/contacts/{contact}"),
            json!({"customFields": [{"id": id, "field_value": "lots"}]}),
        )
        .await;
    assert_eq!(status, 422);

    let (status, body) = api
        .put(
            &format!("{base}/{id}"),
            json!({"name": "Contract Amount", "position": 5}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    conforms("locations.update-custom-field", &body);
    let (status, body) = api.get(&format!("{base}/{id}")).await;
    assert_eq!(status, 200);
    conforms("locations.get-custom-field", &body);
    assert_eq!(body["customField"]["name"], "Contract Amount");
    assert_eq!(body["customField"]["position"], 5);
    assert_eq!(body["customField"]["fieldKey"], "contact.contract_value");

    let (status, body) = api.delete(&format!("{base}/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"succeded": true}));
    conforms("locations.delete-custom-field", &body);
    let (status, _) = api.get(&format!("{base}/{id}")).await;
    assert_eq!(status, 400);
    let (_, body) = api.get(&format!("/contacts/{contact}")).await;
    assert!(!body["contact"]["customFields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["id"] == id.as_str()));
    let (status, _) = api
        .put(
            &format!("/contacts/{contact}"),
            json!({"customFields": [{"id": id, "field_value": "1"}]}),
        )
        .await;
    assert_eq!(status, 422, "a deleted field takes no values");
    let (status, _) = api
        .get("/locations/otherLocation0000000/customFields")
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn associations_and_relations() {
    let (emu, api) = setup(0).await;
    let loc = api.location.clone();
    let (status, body) = api
        .get(&format!("/associations/?locationId={loc}&skip=0&limit=10"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 2);
    conforms("associations.find-associations", &body);
    let system = body["associations"][0].clone();
    assert_eq!(system["associationType"], "SYSTEM_DEFINED");

    let (status, body) = api
        .post(
            "/associations/",
            json!({"locationId": loc, "key": "mentor_mentee", "firstObjectKey": "contact",
                   "firstObjectLabel": "Mentor", "secondObjectKey": "contact", "secondObjectLabel": "Mentee"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    conforms("associations.create-association", &body);
    let assoc = body["id"].as_str().unwrap().to_string();
    assert_eq!(body["associationType"], "USER_DEFINED");
    assert_eq!(events(&emu, "AssociationCreate")[0]["key"], "mentor_mentee");
    let (status, _) = api
        .post(
            "/associations/",
            json!({"locationId": loc, "key": "mentor_mentee", "firstObjectKey": "contact",
                   "firstObjectLabel": "A", "secondObjectKey": "contact", "secondObjectLabel": "B"}),
        )
        .await;
    assert_eq!(status, 400, "keys are unique");
    let (status, _) = api
        .post(
            "/associations/",
            json!({"locationId": loc, "key": "bad", "firstObjectKey": "spaceship",
                   "firstObjectLabel": "A", "secondObjectKey": "contact", "secondObjectLabel": "B"}),
        )
        .await;
    assert_eq!(status, 400);

    let (_, body) = api.get(&format!("/associations/{assoc}")).await;
    conforms("associations.get-association-by-id", &body);
    assert_eq!(body["key"], "mentor_mentee");
    let (_, body) = api
        .get(&format!("/associations/key/mentor_mentee?locationId={loc}"))
        .await;
    conforms("associations.get-association-key-by-key-name", &body);
    assert_eq!(body["id"], assoc.as_str());
    let (status, body) = api
        .get(&format!(
            "/associations/objectKey/opportunity?locationId={loc}"
        ))
        .await;
    assert_eq!(status, 200);
    conforms("associations.get-association-by-object-keys", &body);
    assert_eq!(body["secondObjectKey"], "opportunity");
    let (_, body) = api
        .get(&format!("/associations/?locationId={loc}&skip=2&limit=10"))
        .await;
    assert_eq!(ids(&body["associations"]), vec![assoc.clone()]);
    assert_eq!(body["total"], 3);

    let (status, body) = api
        .put(
            &format!("/associations/{assoc}"),
            json!({"firstObjectLabel": "Coach", "secondObjectLabel": "Coachee"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    conforms("associations.update-association", &body);
    let (_, body) = api.get(&format!("/associations/{assoc}")).await;
    conforms("associations.get-association-by-id", &body);
    assert_eq!(body["firstObjectLabel"], "Coach");
    let sys_id = system["id"].as_str().unwrap();
    let (status, _) = api
        .put(
            &format!("/associations/{sys_id}"),
            json!({"firstObjectLabel": "X", "secondObjectLabel": "Y"}),
        )
        .await;
    assert_eq!(status, 400);

    // Relations between two contacts.
    let a = api.create_contact(json!({"firstName": "A"})).await;
    let b = api.create_contact(json!({"firstName": "B"})).await;
    let c = api.create_contact(json!({"firstName": "C"})).await;
    let relate = |first: &str, second: &str| json!({"locationId": loc, "associationId": assoc, "firstRecordId": first, "secondRecordId": second});
    let (status, body) = api.post("/associations/relations", relate(&a, &b)).await;
    assert_eq!(status, 201, "{body}");
    conforms("associations.create-relation", &body);
    let rel = body["id"].as_str().unwrap().to_string();
    assert_eq!(body["associationId"], assoc.as_str());
    assert_eq!(body["firstRecordId"], a.as_str());
    let (status, _) = api.post("/associations/relations", relate(&a, &c)).await;
    assert_eq!(status, 201);
    let (status, _) = api.post("/associations/relations", relate(&a, &b)).await;
    assert_eq!(status, 400, "duplicate relation");
    let (status, _) = api
        .post(
            "/associations/relations",
            relate(&a, "missingContact000000"),
        )
        .await;
    assert_eq!(status, 400, "unknown contact");
    let (status, _) = api.post("/associations/relations", relate(&a, &a)).await;
    assert_eq!(status, 400);

    let (status, body) = api
        .get(&format!(
            "/associations/relations/{a}?locationId={loc}&skip=0&limit=10"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    conforms("associations.get-relations-by-record-id", &body);
    assert_eq!(body["total"], 2);
    let (_, body) = api
        .get(&format!(
            "/associations/relations/{b}?locationId={loc}&skip=0&limit=10"
        ))
        .await;
    assert_eq!(ids(&body["relations"]), vec![rel.clone()]);
    let (_, body) = api
        .get(&format!(
            "/associations/relations/{a}?locationId={loc}&skip=0&limit=10&associationIds={sys_id}"
        ))
        .await;
    assert_eq!(body["total"], 0);

    let (status, body) = api
        .delete(
            &format!("/associations/relations/{rel}?locationId={loc}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    conforms("associations.delete-relation", &body);
    assert_eq!(body["id"], rel.as_str());
    let (_, body) = api
        .get(&format!(
            "/associations/relations/{b}?locationId={loc}&skip=0&limit=10"
        ))
        .await;
    assert_eq!(body["total"], 0);
    assert_eq!(events(&emu, "RelationDelete").len(), 1);
    let (status, _) = api
        .delete(
            &format!("/associations/relations/{rel}?locationId={loc}"),
            None,
        )
        .await;
    assert_eq!(status, 400);

    // Deleting a contact hides its relations; deleting the association removes them.
    api.delete(&format!("/contacts/{c}"), None).await;
    let (_, body) = api
        .get(&format!(
            "/associations/relations/{a}?locationId={loc}&skip=0&limit=10"
        ))
        .await;
    assert_eq!(body["total"], 0);
    let (status, _) = api.delete(&format!("/associations/{sys_id}"), None).await;
    assert_eq!(status, 400, "system associations stay");
    let (status, body) = api.delete(&format!("/associations/{assoc}"), None).await;
    assert_eq!(status, 200, "{body}");
    conforms("associations.delete-association", &body);
    assert_eq!(body["deleted"], true);
    let (status, _) = api.get(&format!("/associations/{assoc}")).await;
    assert_eq!(status, 400);
    let (status, _) = api.post("/associations/relations", relate(&a, &b)).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn blogs_posts_and_slugs() {
    let (_emu, api) = setup(0).await;
    let loc = api.location.clone();
    let (status, body) = api
        .get(&format!("/blogs/site/all?locationId={loc}&skip=0&limit=10"))
        .await;
    assert_eq!(status, 200, "{body}");
    conforms("blogs.get-blogs", &body);
    let blogs = body["data"].as_array().unwrap().clone();
    assert_eq!(blogs.len(), 2);
    let blog = blogs[0]["_id"].as_str().unwrap().to_string();
    let (_, body) = api
        .get(&format!("/blogs/site/all?locationId={loc}&skip=1&limit=10"))
        .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    let (status, body) = api
        .get(&format!(
            "/blogs/authors?locationId={loc}&limit=10&offset=0"
        ))
        .await;
    assert_eq!(status, 200);
    conforms("blogs.get-all-blog-authors-by-location", &body);
    let author = body["authors"][0]["_id"].as_str().unwrap().to_string();
    let (_, body) = api
        .get(&format!(
            "/blogs/categories?locationId={loc}&limit=2&offset=0"
        ))
        .await;
    assert_eq!(body["categories"].as_array().unwrap().len(), 2);
    conforms("blogs.get-all-categories-by-location", &body);
    let category = body["categories"][1]["_id"].as_str().unwrap().to_string();
    let (status, _) = api.get(&format!("/blogs/authors?locationId={loc}")).await;
    assert_eq!(status, 422, "limit and offset are required");

    let slug_check = |slug: &str, post: Option<&str>| {
        let mut p = format!("/blogs/posts/url-slug-exists?locationId={loc}&urlSlug={slug}");
        if let Some(post) = post {
            p.push_str(&format!("&postId={post}"));
        }
        p
    };
    let (status, body) = api.get(&slug_check("hello-world", None)).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"exists": false}));
    conforms("blogs.check-url-slug-exists", &body);

    let post = |title: &str, slug: &str, status: &str| {
        json!({"title": title, "locationId": loc, "blogId": blog, "imageUrl": "https://img.example/a.png",
               "description": "d", "rawHTML": "<p>x</p>", "status": status, "imageAltText": "alt",
               "categories": [category], "tags": ["news"], "author": author, "urlSlug": slug,
               "publishedAt": "2030-01-02T10:00:00.000Z"})
    };
    let (status, body) = api
        .post(
            "/blogs/posts",
            post("Hello World", "hello-world", "PUBLISHED"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    conforms("blogs.create-blog-post", &body);
    let post_id = body["data"]["_id"].as_str().unwrap().to_string();
    assert_eq!(body["data"]["urlSlug"], "hello-world");
    assert_eq!(body["data"]["archived"], false);
    let (_, body) = api.get(&slug_check("hello-world", None)).await;
    assert_eq!(body["exists"], true);
    let (_, body) = api.get(&slug_check("hello-world", Some(&post_id))).await;
    assert_eq!(body["exists"], false, "the post's own slug");
    let (status, _) = api
        .post("/blogs/posts", post("Again", "hello-world", "DRAFT"))
        .await;
    assert_eq!(status, 400, "slug taken");
    let (status, _) = api
        .post("/blogs/posts", post("Bad", "Bad Slug", "DRAFT"))
        .await;
    assert_eq!(status, 422);
    let mut unknown_author = post("X", "x", "DRAFT");
    unknown_author["author"] = json!("nobody");
    let (status, _) = api.post("/blogs/posts", unknown_author).await;
    assert_eq!(status, 400);
    let (status, _) = api
        .post("/blogs/posts", post("Draft", "a-draft", "DRAFT"))
        .await;
    assert_eq!(status, 200);

    let (status, body) = api
        .put(
            &format!("/blogs/posts/{post_id}"),
            post("Hello Again", "hello-again", "ARCHIVED"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    conforms("blogs.update-blog-post", &body);
    assert_eq!(body["updatedBlogPost"]["title"], "Hello Again");
    assert_eq!(body["updatedBlogPost"]["archived"], true);
    let (_, body) = api.get(&slug_check("hello-world", None)).await;
    assert_eq!(body["exists"], false, "the old slug is free");
    let (status, _) = api
        .put(
            &format!("/blogs/posts/{post_id}"),
            post("Clash", "a-draft", "DRAFT"),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .put("/blogs/posts/unknownpost", post("Y", "y", "DRAFT"))
        .await;
    assert_eq!(status, 400);

    let list = |extra: &str| {
        format!("/blogs/posts/all?locationId={loc}&blogId={blog}&limit=10&offset=0{extra}")
    };
    let (status, body) = api.get(&list("")).await;
    assert_eq!(status, 200, "{body}");
    conforms("blogs.get-blog-post", &body);
    assert_eq!(body["blogs"].as_array().unwrap().len(), 2);
    let (_, body) = api.get(&list("&status=ARCHIVED")).await;
    assert_eq!(body["blogs"].as_array().unwrap().len(), 1);
    assert_eq!(body["blogs"][0]["_id"], post_id.as_str());
    assert_eq!(body["blogs"][0]["urlSlug"], "hello-again");
    let (_, body) = api.get(&list("&searchTerm=draft")).await;
    assert_eq!(body["blogs"].as_array().unwrap().len(), 1);
    let (status, _) = api
        .get(&format!(
            "/blogs/posts/all?locationId={loc}&blogId=nope&limit=10&offset=0"
        ))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn inbound_messages_update_and_delete_conversation() {
    let (emu, api) = setup(0).await;
    let contact = api
        .create_contact(json!({"firstName": "In", "phone": "+15551239999"}))
        .await;
    let (_, body) = api
        .post(
            "/conversations/",
            json!({"locationId": api.location, "contactId": contact}),
        )
        .await;
    let conv = body["conversation"]["id"].as_str().unwrap().to_string();

    let (status, body) = api
        .post(
            "/conversations/messages/inbound",
            json!({"type": "SMS", "conversationId": conv, "contactId": contact,
                   "conversationProviderId": "provider0000000000001", "message": "Is anyone there?"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    conforms("conversations.add-an-inbound-message", &body);
    let id = body["messageId"].as_str().unwrap().to_string();
    let (_, m) = api.get(&format!("/conversations/messages/{id}")).await;
    assert_eq!(m["direction"], "inbound");
    assert_eq!(m["body"], "Is anyone there?");
    let (_, c) = api.get(&format!("/conversations/{conv}")).await;
    assert_eq!(c["unreadCount"], 1);
    assert_eq!(events(&emu, "InboundMessage")[0]["messageId"], id.as_str());
    let (status, _) = api
        .post(
            "/conversations/messages/inbound",
            json!({"type": "SMS", "conversationId": "unknownConversation0", "contactId": contact,
                   "conversationProviderId": "p", "message": "x"}),
        )
        .await;
    assert_eq!(status, 400);

    let (status, body) = api
        .put(
            &format!("/conversations/{conv}"),
            json!({"locationId": api.location, "unreadCount": 0, "starred": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    conforms("conversations.update-conversation", &body);
    let (_, c) = api.get(&format!("/conversations/{conv}")).await;
    assert_eq!(
        (c["unreadCount"].clone(), c["starred"].clone()),
        (json!(0), json!(true))
    );
    let (_, starred) = api
        .get(&format!(
            "/conversations/search?locationId={}&status=starred",
            api.location
        ))
        .await;
    assert_eq!(ids(&starred["conversations"]), vec![conv.clone()]);

    let (status, body) = api.delete(&format!("/conversations/{conv}"), None).await;
    assert_eq!(status, 200, "{body}");
    conforms("conversations.delete-conversation", &body);
    let (status, _) = api.get(&format!("/conversations/{conv}")).await;
    assert_eq!(status, 400);
    let (status, _) = api.get(&format!("/conversations/messages/{id}")).await;
    assert_eq!(status, 400);
    let (status, _) = api.delete(&format!("/conversations/{conv}"), None).await;
    assert_eq!(status, 400);
}
