//! Event templates end to end against the in-process emulators, through the executor,
//! with trigger items exactly as the apps send them: task-on-contact-event (in Sellsy
//! and in GHL), ghl-opportunity-won-to-sellsy-task, ghl-appointment-to-sellsy-comment.
//! A second run with a new key for the same record creates nothing twice.

mod tpl_common;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use tpl_common::{flow, flow_from, step_output, world};

/// `t` is `days` days after a moment between `before` and now.
fn due_in(t: &str, days: i64, before: DateTime<Utc>) {
    let t = DateTime::parse_from_rfc3339(t)
        .unwrap_or_else(|e| panic!("due date {t}: {e}"))
        .with_timezone(&Utc);
    let low = before + Duration::days(days) - Duration::seconds(1);
    let high = Utc::now() + Duration::days(days) + Duration::seconds(1);
    assert!(low <= t && t <= high, "{t} is not {days} days from now");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_on_contact_event_in_sellsy_then_in_ghl() {
    let w = world().await;
    let start = Utc::now();

    // As shipped: the task goes to Sellsy, related to the new contact.
    let f = flow("task-on-contact-event");
    let (id, born) = w.sellsy_person("Frances", "Allen", "fa@example.com").await;
    w.run_ok(&f, "webhook:e1", &born).await;
    let again = w.run_ok(&f, "webhook:e2", &born).await;
    assert_eq!(
        step_output(&w, &again, "where.sellsy_task")["created"],
        false
    );
    let tasks = w
        .sellsy_list("tasks.search-tasks", json!({"contacts": [id]}))
        .await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["title"], "Follow up with the new contact");
    assert_eq!(tasks[0]["status"], "todo");
    assert!(tasks[0]["description"]
        .as_str()
        .unwrap()
        .contains("fa@example.com"));
    due_in(tasks[0]["due_date"].as_str().unwrap(), 2, start);

    // task_app: ghl (and another due delay): the task goes on the GHL contact.
    let text = hlbridge_flows::catalog::get("task-on-contact-event")
        .unwrap()
        .text
        .replace("task_app: sellsy", "task_app: ghl")
        .replace("due_days: 2", "due_days: 5");
    let f = flow_from("task-on-contact-event", &text);
    let (_, born) = w.sellsy_person("John", "Backus", "jb@example.com").await;
    w.run_ok(&f, "webhook:e3", &born).await;
    w.run_ok(&f, "webhook:e4", &born).await;
    let ghl = w.ghl_contacts_with("jb@example.com");
    assert_eq!(ghl.len(), 1);
    let tasks = w.ghl.state().tasks_of(ghl[0]["id"].as_str().unwrap());
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["title"], "Follow up with the new contact");
    assert_eq!(tasks[0]["completed"], false);
    due_in(tasks[0]["dueDate"].as_str().unwrap(), 5, start);
    w.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_won_ghl_opportunity_makes_one_sellsy_task() {
    let w = world().await;
    let start = Utc::now();
    let f = flow("ghl-opportunity-won-to-sellsy-task");
    let (contact, _) = w
        .ghl_person(json!({"firstName": "Hedy", "lastName": "Lamarr", "email": "hedy@example.com"}))
        .await;
    let pipelines = w.ghl("opportunities.get-pipelines", &[], None).await;
    let pipeline = &pipelines["pipelines"][0];
    let o = w
        .ghl(
            "opportunities.create-opportunity",
            &[],
            Some(
                json!({"pipelineId": pipeline["id"], "pipelineStageId": pipeline["stages"][0]["id"],
                        "name": "Frequency hopping licence", "status": "open", "contactId": contact,
                        "monetaryValue": 5000}),
            ),
        )
        .await;
    let opp = o["opportunity"]["id"]
        .as_str()
        .expect("opportunity id")
        .to_string();

    // Lost first: the flow lets it pass.
    w.ghl(
        "opportunities.update-opportunity-status",
        &[("id", &opp)],
        Some(json!({"status": "lost"})),
    )
    .await;
    let lost = w.ghl_event("OpportunityStatusUpdate", "id", &opp);
    assert_eq!(lost["status"], "lost");
    let out = w.run(&f, "webhook:o1", &lost).await;
    assert_eq!(out.status, "skipped", "{out:?}");
    assert!(w.sellsy_contacts_with("hedy@example.com").await.is_empty());

    w.ghl(
        "opportunities.update-opportunity-status",
        &[("id", &opp)],
        Some(json!({"status": "won"})),
    )
    .await;
    let won = w.ghl_event("OpportunityStatusUpdate", "id", &opp);
    assert_eq!(won["status"], "won");
    w.run_ok(&f, "webhook:o2", &won).await;
    let again = w.run_ok(&f, "webhook:o3", &won).await;
    assert_eq!(step_output(&w, &again, "task")["created"], false);
    let person = w.sellsy_contacts_with("hedy@example.com").await;
    assert_eq!(person.len(), 1);
    let tasks = w
        .sellsy_list("tasks.search-tasks", json!({"contacts": [person[0]["id"]]}))
        .await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["title"], "Kick-off: Frequency hopping licence");
    assert!(tasks[0]["description"]
        .as_str()
        .unwrap()
        .contains(&format!("[ghl-opportunity:{opp}]")));
    due_in(tasks[0]["due_date"].as_str().unwrap(), 3, start);
    w.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ghl_appointment_becomes_one_sellsy_comment() {
    let w = world().await;
    let f = flow("ghl-appointment-to-sellsy-comment");
    let (contact, _) = w
        .ghl_person(
            json!({"firstName": "Radia", "lastName": "Perlman", "email": "radia@example.com"}),
        )
        .await;
    let cal = w
        .ghl(
            "calendars.create-calendar",
            &[],
            Some(json!({"name": "Demos", "slotDuration": 30})),
        )
        .await;
    let calendar = cal["calendar"]["id"]
        .as_str()
        .expect("calendar id")
        .to_string();
    let a = w
        .ghl(
            "calendars.create-appointment",
            &[],
            Some(
                json!({"calendarId": calendar, "contactId": contact, "title": "Spanning tree demo",
                        "startTime": "2026-06-10T08:00:00Z", "endTime": "2026-06-10T08:30:00Z",
                        "address": "Zoom", "ignoreFreeSlotValidation": true}),
            ),
        )
        .await;
    let appointment = a["id"].as_str().map(str::to_string).unwrap_or_else(|| {
        a["appointment"]["id"]
            .as_str()
            .expect("appointment id")
            .to_string()
    });
    let event: Value = w.ghl_event("AppointmentCreate", "appointment.id", &appointment);
    w.run_ok(&f, "webhook:a1", &event).await;
    w.run_ok(&f, "webhook:a2", &event).await;
    let person = w.sellsy_contacts_with("radia@example.com").await;
    assert_eq!(person.len(), 1);
    let comments = w
        .sellsy_list(
            "comments.search-comments",
            json!({"contacts": [person[0]["id"]]}),
        )
        .await;
    assert_eq!(comments.len(), 1, "{comments:?}");
    let text = comments[0]["description"].as_str().unwrap();
    assert!(text.contains("Spanning tree demo"), "{text}");
    // 08:00 UTC shown in Europe/Paris (summer time).
    assert!(
        text.contains("10/06/2026 10:00 - 10/06/2026 10:30"),
        "{text}"
    );
    assert!(text.contains("Zoom") && text.contains(&format!("[ghl-appointment:{appointment}]")));
    w.cleanup();
}
