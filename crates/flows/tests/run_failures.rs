//! Failures end to end against the emulators: retries on injected 429 / 5xx, on_error
//! continue and steps, on_failure, a create whose answer was lost (commit then drop)
//! never sent twice, replays from the failed step and from the start.

mod run_support;

use std::sync::Arc;

use hlbridge_emulator::faults::FaultConfig;
use run_support::{eventually, flow, item, world};
use serde_json::json;

const RETRIED: &str = r#"
schema_version: 1
name: retried
trigger: { webhook: { app: ghl, events: [ContactCreate] } }
steps:
  - id: create
    action: { operation: "ghl:contacts.create-contact", body: { lastName: "Retried", email: "{{ trigger.email }}" } }
    retry: { attempts: 10, backoff: constant, base: 200ms }
"#;

/// Start a run while every request of the GHL emulator fails with `faults`, lift the
/// faults once at least one was served, and check the step's retries carried it.
async fn retried_through(
    faults: FaultConfig,
    email: &str,
    counted: fn(&hlbridge_emulator::ghl::GhlEmulator) -> u64,
) {
    let w = world("retry").await;
    let f = flow(RETRIED);
    let exec = Arc::new(w.executor(std::slice::from_ref(&f)).await);
    w.ghl.set_faults(faults);
    let run = {
        let exec = exec.clone();
        let f = f.clone();
        let email = email.to_string();
        tokio::spawn(async move {
            exec.start(&f, 1, item(&email, json!({"email": email})))
                .await
        })
    };
    eventually(20, || async { (counted(&w.ghl) >= 1).then_some(()) }).await;
    w.ghl.set_faults(FaultConfig::none());
    let out = run.await.unwrap().unwrap();
    assert_eq!(out.status, "ok", "{out:?}");
    assert_eq!(w.ghl_contacts_with(email).len(), 1);
    let step = w.store.step(out.run_id, "create").unwrap().unwrap();
    let sent = step.requests.as_array().unwrap();
    assert!(
        sent.len() >= 2,
        "the failed attempt and the good one are recorded: {sent:?}"
    );
    assert!(sent.iter().all(|r| r["method"] == "POST"));
}

#[tokio::test]
async fn a_step_retries_an_injected_429() {
    let faults = FaultConfig {
        rate_429: 1.0,
        ..FaultConfig::none()
    };
    retried_through(faults, "r429@example.com", |g| {
        g.state().stats().faults.too_many_requests
    })
    .await;
}

#[tokio::test]
async fn a_step_retries_an_injected_5xx() {
    let faults = FaultConfig {
        rate_5xx: 1.0,
        ..FaultConfig::none()
    };
    retried_through(faults, "r500@example.com", |g| {
        g.state().stats().faults.server_error
    })
    .await;
}

const HANDLED: &str = r#"
schema_version: 1
name: handled
trigger: { webhook: { app: ghl, events: [ContactCreate] } }
steps:
  - id: missing
    action: { operation: "ghl:contacts.get-contact", params: { contactId: "no-such-contact" } }
    retry: { attempts: 3, base: 10ms }
    on_error: continue
  - id: also_missing
    action: { operation: "ghl:contacts.get-contact", params: { contactId: "still-no-such-contact" } }
    on_error:
      steps:
        - id: recover
          action: { operation: "ghl:contacts.create-contact", body: { lastName: "Recovered", email: "{{ trigger.email }}" } }
  - id: after
    action: { operation: "ghl:contacts.create-note", params: { contactId: "{{ steps.recover.output.contact.id }}" }, body: { body: "went on" } }
"#;

#[tokio::test]
async fn on_error_continue_and_steps_let_the_run_go_on_and_a_4xx_is_not_retried() {
    let w = world("onerror").await;
    let f = flow(HANDLED);
    let exec = w.executor(std::slice::from_ref(&f)).await;
    let out = exec
        .start(&f, 1, item("h1", json!({"email": "handled@example.com"})))
        .await
        .unwrap();
    assert_eq!(out.status, "ok", "{out:?}");
    let missing = w.store.step(out.run_id, "missing").unwrap().unwrap();
    assert_eq!(missing.status, "continued");
    assert!(missing.output.as_ref().unwrap()["error"]
        .as_str()
        .unwrap()
        .contains("not found"));
    assert!(missing.error.as_deref().unwrap().contains("not found"));
    assert_eq!(
        missing.requests.as_array().unwrap().len(),
        1,
        "a 4xx is not retried"
    );
    assert_eq!(
        w.store
            .step(out.run_id, "also_missing")
            .unwrap()
            .unwrap()
            .status,
        "continued"
    );
    let recovered = w.ghl_contacts_with("handled@example.com");
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0]["lastName"], "Recovered");
    let id = recovered[0]["id"].as_str().unwrap();
    assert_eq!(w.ghl_note_bodies(id), vec!["went on"]);
}

const FAILING: &str = r#"
schema_version: 1
name: failing
trigger: { webhook: { app: ghl, events: [ContactCreate] } }
steps:
  - id: note
    action: { operation: "ghl:contacts.create-note", params: { contactId: "{{ trigger.contact }}" }, body: { body: "first write" } }
  - id: check
    action: { operation: "ghl:contacts.get-contact", params: { contactId: "{{ trigger.wrong }}" } }
on_failure:
  - id: report
    action:
      operation: "hlbridge:notes.archive"
      body: { side: ghl, note_id: "failure-{{ trigger.contact }}", body: "flow failed at {{ error.step }}" }
"#;

const FIXED: &str = r#"
schema_version: 1
name: failing
trigger: { webhook: { app: ghl, events: [ContactCreate] } }
steps:
  - id: note
    action: { operation: "ghl:contacts.create-note", params: { contactId: "{{ trigger.contact }}" }, body: { body: "first write" } }
  - id: check
    action: { operation: "ghl:contacts.get-contact", params: { contactId: "{{ trigger.contact }}" } }
"#;

#[tokio::test]
async fn on_failure_runs_and_a_replay_from_the_failed_step_does_not_resend_earlier_writes() {
    let w = world("replay").await;
    let broken = flow(FAILING);
    let fixed = flow(FIXED);
    let exec = w.executor(std::slice::from_ref(&broken)).await;
    let contact = w.make_ghl_contact("replay@example.com", "Replay").await;
    let out = exec
        .start(
            &broken,
            1,
            item("r1", json!({"contact": contact, "wrong": "nobody-here"})),
        )
        .await
        .unwrap();
    assert_eq!(out.status, "failed");
    assert_eq!(out.failed_step.as_deref(), Some("check"));
    assert!(
        out.error.as_deref().unwrap().contains("not found"),
        "{out:?}"
    );
    assert_eq!(w.ghl_note_bodies(&contact), vec!["first write"]);
    // on_failure ran with the error.
    let hits = w.engine_store.search_notes("failed", None, 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].body, "flow failed at check");
    assert_eq!(
        w.store
            .step(out.run_id, "on_failure.report")
            .unwrap()
            .unwrap()
            .status,
        "ok"
    );

    // A run that did not fail cannot be replayed from a failed step.
    let ok = exec
        .start(&fixed, 2, item("r2", json!({"contact": contact})))
        .await
        .unwrap();
    assert_eq!(ok.status, "ok");
    assert_eq!(
        w.ghl_note_bodies(&contact),
        vec!["first write", "first write"]
    );
    assert!(exec.replay(ok.run_id, true, &fixed, 2).await.is_err());

    // Fixed (version 2), replayed from the failed step: the note is not sent again.
    let replayed = exec.replay(out.run_id, true, &fixed, 2).await.unwrap();
    assert_eq!(replayed.status, "ok", "{replayed:?}");
    assert_ne!(replayed.run_id, out.run_id);
    assert_eq!(
        w.ghl_note_bodies(&contact),
        vec!["first write", "first write"]
    );
    let run = w.store.get(replayed.run_id).unwrap().unwrap();
    assert_eq!(run.replay_of, Some(out.run_id));
    assert_eq!(run.version, 2);
    assert_eq!(run.run_key, format!("replay:{}:1", out.run_id));

    // From the start: every step runs again, the note is sent once more.
    let again = exec.replay(out.run_id, false, &fixed, 2).await.unwrap();
    assert_eq!(again.status, "ok");
    assert_eq!(
        w.ghl_note_bodies(&contact),
        vec!["first write", "first write", "first write"]
    );
    assert_eq!(
        w.store.get(again.run_id).unwrap().unwrap().run_key,
        format!("replay:{}:2", out.run_id)
    );
}

const FIND_OR_CREATE: &str = r#"
schema_version: 1
name: lost-answer
trigger: { webhook: { app: ghl, events: [ContactCreate] } }
steps:
  - id: contact
    find_or_create:
      find:
        operation: "ghl:contacts.search-contacts-advanced"
        body: { pageLimit: 10, filters: [ { field: email, operator: eq, value: "{{ trigger.email }}" } ] }
      found: "{{ find.contacts | first }}"
      create: { operation: "ghl:contacts.create-contact", body: { lastName: "Lost", email: "{{ trigger.email }}" } }
  - id: plain
    action: { operation: "ghl:contacts.create-contact", body: { lastName: "Plain", email: "{{ trigger.other }}" } }
"#;

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_not_sent_twice_on_resume() {
    let w = world("commitdrop").await;
    let f = flow(FIND_OR_CREATE);
    let exec = w.executor(std::slice::from_ref(&f)).await;
    let drop_writes = FaultConfig {
        rate_commit_drop: 1.0,
        ..FaultConfig::none()
    };
    let payload = json!({"email": "lost@example.com", "other": "plain@example.com"});

    // The find_or_create's create lands, its answer is lost: the run stops, unknown.
    w.ghl.set_faults(drop_writes.clone());
    let out = exec
        .start(&f, 1, item("l1", payload.clone()))
        .await
        .unwrap();
    assert_eq!(out.status, "failed");
    assert_eq!(out.failed_step.as_deref(), Some("contact"));
    assert!(out.error.as_deref().unwrap().contains("unknown"), "{out:?}");
    assert_eq!(
        w.store.step(out.run_id, "contact").unwrap().unwrap().status,
        "unknown"
    );
    assert_eq!(
        w.ghl_contacts_with("lost@example.com").len(),
        1,
        "the server applied it"
    );

    // Resumed with the network fixed: the find sees the contact, nothing is created.
    w.ghl.set_faults(FaultConfig::none());
    let resumed = exec.resume(out.run_id, &f).await.unwrap();
    assert_eq!(resumed.status, "ok", "{resumed:?}");
    assert_eq!(w.ghl_contacts_with("lost@example.com").len(), 1);
    let step = w.store.step(out.run_id, "contact").unwrap().unwrap();
    assert_eq!(step.output.unwrap()["created"], false);
    assert_eq!(w.ghl_contacts_with("plain@example.com").len(), 1);

    // A plain create whose answer is lost is not sent again on resume either: the run
    // stays failed for the operator to check.
    let payload = json!({"email": "lost2@example.com", "other": "plain2@example.com"});
    let out = exec.start(&f, 1, item("l2", payload)).await.unwrap();
    assert_eq!(out.status, "ok");
    w.ghl.set_faults(drop_writes);
    let payload = json!({"email": "lost2@example.com", "other": "plain3@example.com"});
    let out = exec.start(&f, 1, item("l3", payload)).await.unwrap();
    assert_eq!(out.status, "failed");
    assert_eq!(out.failed_step.as_deref(), Some("plain"));
    assert_eq!(w.ghl_contacts_with("plain3@example.com").len(), 1);
    w.ghl.set_faults(FaultConfig::none());
    let resumed = exec.resume(out.run_id, &f).await.unwrap();
    assert_eq!(resumed.status, "failed");
    assert!(resumed.error.as_deref().unwrap().contains("unknown"));
    assert_eq!(w.ghl_contacts_with("plain3@example.com").len(), 1);
}
