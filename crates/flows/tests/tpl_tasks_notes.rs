//! Task and note templates end to end against the in-process emulators, through the
//! executor, with trigger items exactly as the apps send them: task-sync-two-way and
//! notes-centralized (both halves), notes-archive (both apps). A second run with a
//! new key for the same record creates nothing twice.

mod tpl_common;

use serde_json::json;
use tpl_common::{flow, step_output, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_sync_two_way_copies_tasks_both_ways_without_duplicates() {
    let w = world().await;
    let forward = flow("task-sync-two-way");
    let reverse = flow("task-sync-two-way-reverse");
    let (ghl_contact, _) = w
        .ghl_person(
            json!({"firstName": "Edsger", "lastName": "Dijkstra", "email": "ewd@example.com"}),
        )
        .await;

    // GHL -> Sellsy: a new GHL task becomes a Sellsy task on the same contact.
    let t = w
        .ghl(
            "contacts.create-task",
            &[("contactId", &ghl_contact)],
            Some(json!({"title": "Review paper", "body": "Shortest paths", "dueDate": "2026-04-01T10:00:00Z", "completed": false})),
        )
        .await;
    let ghl_task = t["task"]["id"].as_str().unwrap().to_string();
    let created = w.ghl_event("TaskCreate", "id", &ghl_task);
    w.run_ok(&forward, "webhook:t1", &created).await;
    let person = w.sellsy_contacts_with("ewd@example.com").await;
    assert_eq!(person.len(), 1, "the Sellsy contact was created");
    let person_id = person[0]["id"].as_i64().unwrap();
    let tasks = w
        .sellsy_list("tasks.search-tasks", json!({"contacts": [person_id]}))
        .await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["title"], "Review paper");
    assert_eq!(tasks[0]["status"], "todo");
    assert!(tasks[0]["description"]
        .as_str()
        .unwrap()
        .contains(&format!("[ghl-task:{ghl_task}]")));
    assert!(tasks[0]["due_date"]
        .as_str()
        .unwrap()
        .starts_with("2026-04-01T10:00"));
    let sellsy_task = tasks[0]["id"].as_i64().unwrap();

    // Completed in GHL: the Sellsy task is found (not created again) and marked done.
    w.ghl(
        "contacts.update-task-completed",
        &[("contactId", &ghl_contact), ("taskId", &ghl_task)],
        Some(json!({"completed": true})),
    )
    .await;
    let done = w.ghl_event("TaskComplete", "id", &ghl_task);
    let out = w.run_ok(&forward, "webhook:t2", &done).await;
    assert_eq!(step_output(&w, &out, "sellsy_task")["created"], false);
    let tasks = w
        .sellsy_list("tasks.search-tasks", json!({"contacts": [person_id]}))
        .await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["status"], "done");

    // Sellsy -> GHL: the Sellsy task's own notification finds the GHL task it came
    // from (by the marker) and creates no second one.
    let echo = w.sellsy_event("task.updated", sellsy_task).await;
    w.run_ok(&reverse, "webhook:s1", &echo).await;
    let ghl_tasks = w.ghl.state().tasks_of(&ghl_contact);
    assert_eq!(ghl_tasks.len(), 1, "{ghl_tasks:?}");
    assert_eq!(ghl_tasks[0]["completed"], true);

    // A title changed in Sellsy reaches GHL.
    w.sellsy(
        "tasks.update-task-by-id",
        &[("id", &sellsy_task.to_string())],
        Some(json!({"title": "Review paper (v2)"})),
    )
    .await;
    let renamed = w.sellsy_event("task.updated", sellsy_task).await;
    w.run_ok(&reverse, "webhook:s2", &renamed).await;
    let ghl_tasks = w.ghl.state().tasks_of(&ghl_contact);
    assert_eq!(ghl_tasks.len(), 1);
    assert_eq!(ghl_tasks[0]["title"], "Review paper (v2)");

    // A task created in Sellsy becomes one GHL task, once.
    let s = w
        .sellsy(
            "tasks.create-task",
            &[],
            Some(
                json!({"title": "Call back", "due_date": "2026-05-05T08:30:00+00:00", "label_id": 1,
                        "related": [{"type": "contact", "id": person_id}]}),
            ),
        )
        .await;
    let new_task = s["id"].as_i64().unwrap();
    let born = w.sellsy_event("task.created", new_task).await;
    w.run_ok(&reverse, "webhook:s3", &born).await;
    let again = w.run_ok(&reverse, "webhook:s4", &born).await;
    assert_eq!(step_output(&w, &again, "ghl_task")["created"], false);
    let ghl_tasks = w.ghl.state().tasks_of(&ghl_contact);
    assert_eq!(ghl_tasks.len(), 2, "{ghl_tasks:?}");
    let call_back = ghl_tasks
        .iter()
        .find(|t| t["title"] == "Call back")
        .unwrap();
    assert!(call_back["dueDate"]
        .as_str()
        .unwrap()
        .starts_with("2026-05-05T08:30"));
    assert!(call_back["body"]
        .as_str()
        .unwrap()
        .contains(&format!("[sellsy-task:{new_task}]")));
    w.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_centralized_propagates_notes_both_ways() {
    let w = world().await;
    let forward = flow("notes-centralized");
    let reverse = flow("notes-centralized-reverse");
    let (ghl_contact, _) = w
        .ghl_person(
            json!({"firstName": "Barbara", "lastName": "Liskov", "email": "bl@example.com"}),
        )
        .await;

    // GHL -> Sellsy.
    let n = w
        .ghl(
            "contacts.create-note",
            &[("contactId", &ghl_contact)],
            Some(json!({"body": "Prefers e-mail"})),
        )
        .await;
    let note = n["note"]["id"].as_str().unwrap().to_string();
    let created = w.ghl_event("NoteCreate", "id", &note);
    w.run_ok(&forward, "webhook:n1", &created).await;
    w.run_ok(&forward, "webhook:n2", &created).await;
    let person = w.sellsy_contacts_with("bl@example.com").await;
    assert_eq!(person.len(), 1);
    let person_id = person[0]["id"].as_i64().unwrap();
    let comments = w
        .sellsy_list("comments.search-comments", json!({"contacts": [person_id]}))
        .await;
    assert_eq!(comments.len(), 1, "{comments:?}");
    let text = comments[0]["description"].as_str().unwrap();
    assert!(text.starts_with("Prefers e-mail") && text.contains(&format!("[ghl-note:{note}]")));
    let comment_id = comments[0]["id"].as_i64().unwrap();

    // Edited in GHL: the comment is updated in place.
    w.ghl(
        "contacts.update-note",
        &[("contactId", &ghl_contact), ("id", &note)],
        Some(json!({"body": "Prefers phone"})),
    )
    .await;
    let edited = w.ghl_event("NoteUpdate", "id", &note);
    w.run_ok(&forward, "webhook:n3", &edited).await;
    let comments = w
        .sellsy_list("comments.search-comments", json!({"contacts": [person_id]}))
        .await;
    assert_eq!(comments.len(), 1);
    assert!(comments[0]["description"]
        .as_str()
        .unwrap()
        .starts_with("Prefers phone"));

    // The comment's own notification comes back: the GHL note is found by the marker;
    // GHL gets the marker line, no second note.
    let echo = w.sellsy_event("comment.updated", comment_id).await;
    w.run_ok(&reverse, "webhook:c1", &echo).await;
    let notes = w.ghl.state().notes_of(&ghl_contact);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0]["body"]
        .as_str()
        .unwrap()
        .starts_with("Prefers phone"));

    // Sellsy -> GHL: a new comment becomes one GHL note.
    let c = w
        .sellsy(
            "comments.create-comment",
            &[],
            Some(json!({"description": "Signed the NDA", "related": [{"type": "contact", "id": person_id}]})),
        )
        .await;
    let new_comment = c["id"].as_i64().unwrap();
    let born = w.sellsy_event("comment.created", new_comment).await;
    w.run_ok(&reverse, "webhook:c2", &born).await;
    let again = w.run_ok(&reverse, "webhook:c3", &born).await;
    assert_eq!(step_output(&w, &again, "note")["created"], false);
    let notes = w.ghl.state().notes_of(&ghl_contact);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes.iter().any(|n| n["body"]
        .as_str()
        .is_some_and(|b| b.starts_with("Signed the NDA")
            && b.contains(&format!("[sellsy-comment:{new_comment}]")))));
    w.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_archive_puts_both_apps_notes_into_the_searchable_archive() {
    let w = world().await;
    let ghl_half = flow("notes-archive");
    let sellsy_half = flow("notes-archive-sellsy");
    let (ghl_contact, _) = w
        .ghl_person(json!({"firstName": "Niklaus", "lastName": "Wirth", "email": "nw@example.com"}))
        .await;
    let n = w
        .ghl(
            "contacts.create-note",
            &[("contactId", &ghl_contact)],
            Some(json!({"body": "Interested in Oberon licences"})),
        )
        .await;
    let note = n["note"]["id"].as_str().unwrap().to_string();
    let event = w.ghl_event("NoteCreate", "id", &note);
    w.run_ok(&ghl_half, "webhook:a1", &event).await;
    w.run_ok(&ghl_half, "webhook:a2", &event).await;

    let (person, _) = w.sellsy_person("Tony", "Hoare", "tony@example.com").await;
    let c = w
        .sellsy(
            "comments.create-comment",
            &[],
            Some(json!({"description": "Asked about Quicksort consulting", "related": [{"type": "contact", "id": person}]})),
        )
        .await;
    let comment = c["id"].as_i64().unwrap();
    let event = w.sellsy_event("comment.created", comment).await;
    w.run_ok(&sellsy_half, "webhook:a3", &event).await;

    let hits = w.outbox.search_notes("Oberon", None, 10).unwrap();
    assert_eq!(hits.len(), 1, "one entry per note: {hits:?}");
    assert_eq!(hits[0].note_id, note);
    assert_eq!(
        hits[0].ghl_contact_id.as_deref(),
        Some(ghl_contact.as_str())
    );
    let hits = w.outbox.search_notes("Quicksort", None, 10).unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].note_id, comment.to_string());
    assert_eq!(
        hits[0].sellsy_contact_id.as_deref(),
        Some(person.to_string().as_str())
    );
    w.cleanup();
}
