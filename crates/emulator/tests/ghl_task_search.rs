//! Location-wide task search (`POST /locations/{locationId}/tasks/search`) over the
//! tasks the per-contact endpoints write, and the note/task webhook payloads.

#[path = "ghl_support.rs"]
mod support;

use std::collections::BTreeSet;

use serde_json::{json, Value};
use support::{emulator, roomy, Api};

async fn task(api: &Api, contact: &str, body: Value) -> String {
    let (status, v) = api.post(&format!("/contacts/{contact}/tasks"), body).await;
    assert_eq!(status, 201, "{v}");
    v["task"]["id"].as_str().unwrap().to_string()
}

async fn search(api: &Api, body: Value) -> Vec<Value> {
    let (status, v) = api
        .post(&format!("/locations/{}/tasks/search", api.location), body)
        .await;
    assert_eq!(status, 200, "{v}");
    assert!(v["traceId"].is_string());
    v["tasks"].as_array().unwrap().clone()
}

fn titles(tasks: &[Value]) -> Vec<&str> {
    tasks.iter().map(|t| t["title"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn every_task_of_the_location_filtered_and_paged() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let a = api.create_contact(json!({"firstName": "A"})).await;
    let b = api.create_contact(json!({"firstName": "B"})).await;
    let c = api.create_contact(json!({"firstName": "C"})).await;
    let due = "2030-01-01T10:00:00Z";
    let t1 = task(
        &api,
        &a,
        json!({"title": "Call Ada", "dueDate": due, "completed": false}),
    )
    .await;
    task(&api, &b, json!({"title": "Mail Bob", "body": "quarterly report", "dueDate": due, "completed": true, "assignedTo": "user1"})).await;
    let t3 = task(
        &api,
        &c,
        json!({"title": "Visit Cy", "dueDate": due, "completed": false, "assignedTo": "user2"}),
    )
    .await;
    task(
        &api,
        &a,
        json!({"title": "Call Ada again", "dueDate": due, "completed": false}),
    )
    .await;

    let all = search(&api, json!({})).await;
    assert_eq!(
        titles(&all),
        ["Call Ada", "Mail Bob", "Visit Cy", "Call Ada again"],
        "oldest first, across contacts"
    );
    for t in &all {
        for key in [
            "id",
            "title",
            "dueDate",
            "completed",
            "contactId",
            "dateAdded",
            "dateUpdated",
        ] {
            assert!(t.get(key).is_some(), "{key} in {t}");
        }
    }
    assert_eq!(all[0]["contactId"], a.as_str());
    assert_eq!(all[1]["contactId"], b.as_str());

    let of = |ids: &[&String]| json!({"contactId": ids});
    assert_eq!(
        titles(&search(&api, of(&[&b, &c])).await),
        ["Mail Bob", "Visit Cy"]
    );
    assert_eq!(
        titles(&search(&api, json!({"completed": true})).await),
        ["Mail Bob"]
    );
    assert_eq!(search(&api, json!({"completed": false})).await.len(), 3);
    assert_eq!(
        titles(&search(&api, json!({"assignedTo": ["user2", "nobody"]})).await),
        ["Visit Cy"]
    );
    assert_eq!(
        titles(&search(&api, json!({"query": "QUARTERLY"})).await),
        ["Mail Bob"]
    );
    assert_eq!(
        titles(&search(&api, json!({"query": "ada", "contactId": [a]})).await),
        ["Call Ada", "Call Ada again"]
    );
    // limit/skip paging walks everything once.
    let mut paged = Vec::new();
    for skip in [0, 3, 6] {
        paged.extend(search(&api, json!({"limit": 3, "skip": skip})).await);
    }
    assert_eq!(paged, all);
    assert_eq!(
        search(&api, json!({"limit": 1, "skip": 1})).await[0]["title"],
        "Mail Bob"
    );

    // Writes through the per-contact endpoints show at once.
    let before = all[0]["dateUpdated"].clone();
    let (status, _) = api
        .put(
            &format!("/contacts/{a}/tasks/{t1}"),
            json!({"title": "Call Ada (moved)"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = api
        .put(
            &format!("/contacts/{c}/tasks/{t3}/completed"),
            json!({"completed": true}),
        )
        .await;
    assert_eq!(status, 200);
    let now = search(&api, json!({})).await;
    assert_eq!(now[0]["title"], "Call Ada (moved)");
    assert_ne!(now[0]["dateUpdated"], before, "dateUpdated moves on update");
    assert_eq!(now[2]["completed"], true);
    api.delete(&format!("/contacts/{c}/tasks/{t3}"), None).await;
    assert_eq!(search(&api, json!({})).await.len(), 3);
    api.delete(&format!("/contacts/{a}"), None).await;
    assert_eq!(titles(&search(&api, json!({})).await), ["Mail Bob"]);
}

#[tokio::test]
async fn bad_input_and_other_locations_are_refused() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let path = format!("/locations/{}/tasks/search", api.location);
    let (status, v) = api.post(&path, json!({"limit": 0})).await;
    assert_eq!(status, 422, "{v}");
    let (status, _) = api.post(&path, json!({"skip": -1})).await;
    assert_eq!(status, 422);
    let (status, _) = api.post(&path, json!({"sort": "dueDate"})).await;
    assert_eq!(status, 422, "not a field of the spec's body");
    let (status, _) = api
        .post("/locations/someoneElse0000000000/tasks/search", json!({}))
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn note_and_task_events_carry_the_documented_fields() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let id = api.create_contact(json!({"firstName": "Hooks"})).await;
    let (_, note) = api
        .post(
            &format!("/contacts/{id}/notes"),
            json!({"body": "first", "title": "t"}),
        )
        .await;
    let note_id = note["note"]["id"].as_str().unwrap().to_string();
    api.put(
        &format!("/contacts/{id}/notes/{note_id}"),
        json!({"body": "second"}),
    )
    .await;
    api.delete(&format!("/contacts/{id}/notes/{note_id}"), None)
        .await;
    let task_id = task(
        &api,
        &id,
        json!({"title": "T", "body": "B", "dueDate": "2030-01-01T10:00:00Z", "completed": false, "assignedTo": "user9"}),
    )
    .await;
    api.put(
        &format!("/contacts/{id}/tasks/{task_id}/completed"),
        json!({"completed": true}),
    )
    .await;
    api.delete(&format!("/contacts/{id}/tasks/{task_id}"), None)
        .await;

    let events: Vec<Value> = emu
        .state()
        .webhook_records()
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .filter(|v: &Value| v["type"] != "ContactCreate")
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "NoteCreate",
            "NoteUpdate",
            "NoteDelete",
            "TaskCreate",
            "TaskComplete",
            "TaskDelete"
        ]
    );
    let keys = |e: &Value| -> BTreeSet<String> {
        e.as_object()
            .unwrap()
            .keys()
            .filter(|k| !matches!(k.as_str(), "timestamp" | "webhookId"))
            .cloned()
            .collect()
    };
    let note_keys: BTreeSet<String> =
        ["type", "locationId", "id", "body", "contactId", "dateAdded"]
            .map(String::from)
            .into();
    let task_keys: BTreeSet<String> = [
        "type",
        "locationId",
        "id",
        "assignedTo",
        "body",
        "contactId",
        "title",
        "dateAdded",
        "dueDate",
    ]
    .map(String::from)
    .into();
    for e in &events[..3] {
        assert_eq!(keys(e), note_keys, "{e}");
        assert_eq!(e["id"], note_id.as_str());
        assert_eq!(e["contactId"], id.as_str());
        assert_eq!(e["locationId"], api.location.as_str());
    }
    assert_eq!(events[0]["body"], "first");
    assert_eq!(events[1]["body"], "second");
    assert_eq!(events[2]["body"], "second");
    for e in &events[3..] {
        assert_eq!(keys(e), task_keys, "{e}");
        assert_eq!(e["id"], task_id.as_str());
        assert_eq!(e["assignedTo"], "user9");
        assert_eq!(e["dueDate"], "2030-01-01T10:00:00.000Z");
    }
}
