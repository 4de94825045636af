//! Tasks and notes of a contact.

#[path = "ghl_support.rs"]
mod support;

use serde_json::{json, Value};
use support::{emulator, roomy, Api};

#[tokio::test]
async fn task_lifecycle() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let id = api.create_contact(json!({"firstName": "T"})).await;
    let base = format!("/contacts/{id}/tasks");

    let (status, body) = api.post(&base, json!({"body": "no title"})).await;
    assert_eq!(status, 422);
    let messages = body["message"].as_array().unwrap();
    for m in [
        "title should not be empty",
        "dueDate should not be empty",
        "completed should not be empty",
    ] {
        assert!(messages.contains(&json!(m)), "{m} in {messages:?}");
    }
    let (status, _) = api
        .post(
            &base,
            json!({"title": "x", "dueDate": "soon", "completed": false}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(emu.state().task_count(), 0);

    let (status, body) = api
        .post(&base, json!({"title": "Call", "dueDate": "2030-01-02T10:00:00Z", "completed": false, "body": "b"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let task = &body["task"];
    let task_id = task["id"].as_str().unwrap().to_string();
    assert_eq!(task["dueDate"], "2030-01-02T10:00:00.000Z");
    assert_eq!(task["contactId"], id.as_str());

    let (status, body) = api
        .put(
            &format!("{base}/{task_id}/completed"),
            json!({"completed": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["task"]["completed"], true);
    assert_eq!(emu.state().tasks_of(&id)[0]["completed"], true);

    let (status, body) = api
        .put(&format!("{base}/{task_id}"), json!({"title": "Call again"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["task"]["title"], "Call again");
    let (_, body) = api.get(&base).await;
    assert_eq!(body["tasks"].as_array().unwrap().len(), 1);
    let (_, body) = api.get(&format!("{base}/{task_id}")).await;
    assert_eq!(body["task"]["title"], "Call again");

    let (status, body) = api.delete(&format!("{base}/{task_id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"succeded": true}));
    assert_eq!(emu.state().task_count(), 0);
    let (status, _) = api.get(&format!("{base}/{task_id}")).await;
    assert_eq!(status, 400);
    let (status, body) = api
        .post(
            "/contacts/missingContactId0000/tasks",
            json!({"title": "x", "dueDate": "2030-01-01", "completed": false}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "Contact not found");
}

#[tokio::test]
async fn note_crud() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let id = api.create_contact(json!({"firstName": "N"})).await;
    let base = format!("/contacts/{id}/notes");

    let (status, body) = api.post(&base, json!({"title": "no body"})).await;
    assert_eq!(status, 422);
    assert_eq!(body["message"], json!(["body should not be empty"]));

    let (status, body) = api
        .post(&base, json!({"body": "first", "pinned": true}))
        .await;
    assert_eq!(status, 201, "{body}");
    let note_id = body["note"]["id"].as_str().unwrap().to_string();
    assert_eq!(body["note"]["contactId"], id.as_str());
    api.post(&base, json!({"body": "second"})).await;
    assert_eq!(emu.state().note_count(), 2);

    let (status, body) = api
        .put(&format!("{base}/{note_id}"), json!({"body": "edited"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["note"]["body"], "edited");
    assert_eq!(body["note"]["pinned"], true);
    let (_, body) = api.get(&format!("{base}/{note_id}")).await;
    assert_eq!(body["note"]["body"], "edited");
    let (_, body) = api.get(&base).await;
    let bodies: Vec<&str> = body["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["body"].as_str())
        .collect();
    assert_eq!(bodies, vec!["second", "edited"]);

    let (status, body) = api.delete(&format!("{base}/{note_id}"), None).await;
    assert_eq!((status, body), (200, json!({"succeded": true})));
    assert_eq!(emu.state().note_count(), 1);
    let notes: Vec<Value> = emu.state().notes_of(&id);
    assert_eq!(notes[0]["body"], "second");
}
