//! Contact templates end to end against the in-process emulators, through the
//! executor, with trigger items exactly as the apps send them: contact-sync-realtime,
//! contact-two-way (both halves), ghl-new-contact-to-sellsy-prospect,
//! sellsy-company-to-ghl-business, sellsy-tag-to-ghl-workflow. Each is run a second
//! time with a new key for the same record: nothing is created twice.

mod tpl_common;

use serde_json::{json, Value};
use tpl_common::{flow, step_output, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_sync_realtime_creates_the_ghl_contact_with_notes_and_tasks() {
    let w = world().await;
    let f = flow("contact-sync-realtime");
    let (id, _) = w.sellsy_person("Ada", "Lovelace", "ada@example.com").await;
    w.sellsy(
        "comments.create-comment",
        &[],
        Some(json!({"description": "Met at the fair", "related": [{"type": "contact", "id": id}]})),
    )
    .await;
    w.sellsy(
        "tasks.create-task",
        &[],
        Some(json!({"title": "Send the offer", "description": "PDF", "due_date": "2026-03-02T09:00:00+00:00",
                    "label_id": 1, "related": [{"type": "contact", "id": id}]})),
    )
    .await;
    // A later change: the flow reacts to people.updated the same way.
    w.sellsy(
        "contacts.update-contact-info",
        &[("id", &id.to_string())],
        Some(json!({"first_name": "Augusta Ada"})),
    )
    .await;
    let event = w.sellsy_event("people.updated", id).await;
    assert_eq!(event["eventType"], "people.updated");

    w.run_ok(&f, "webhook:first", &event).await;
    let found = w.ghl_contacts_with("ada@example.com");
    assert_eq!(found.len(), 1, "{found:?}");
    let ghl_id = found[0]["id"].as_str().unwrap().to_string();
    assert_eq!(found[0]["firstName"], "Augusta Ada");
    assert_eq!(found[0]["lastName"], "Lovelace");
    let notes = w.ghl.state().notes_of(&ghl_id);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0]["body"].as_str().unwrap().starts_with("Met at the fair"));
    let tasks = w.ghl.state().tasks_of(&ghl_id);
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["title"], "Send the offer");
    assert!(tasks[0]["dueDate"].as_str().unwrap().starts_with("2026-03-02T09:00"));
    assert_eq!(tasks[0]["completed"], false);

    // The same contact again (a new delivery): the contact is found and updated, the
    // note and the task are recognised by their markers.
    w.sellsy(
        "contacts.update-contact-info",
        &[("id", &id.to_string())],
        Some(json!({"last_name": "King"})),
    )
    .await;
    let again = w.run_ok(&f, "webhook:second", &event).await;
    assert_eq!(step_output(&w, &again, "ghl_contact")["created"], false);
    let found = w.ghl_contacts_with("ada@example.com");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["lastName"], "King");
    assert_eq!(w.ghl.state().notes_of(&ghl_id).len(), 1);
    assert_eq!(w.ghl.state().tasks_of(&ghl_id).len(), 1);
    w.cleanup();
}
