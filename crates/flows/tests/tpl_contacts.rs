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
    assert!(notes[0]["body"]
        .as_str()
        .unwrap()
        .starts_with("Met at the fair"));
    let tasks = w.ghl.state().tasks_of(&ghl_id);
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["title"], "Send the offer");
    assert!(tasks[0]["dueDate"]
        .as_str()
        .unwrap()
        .starts_with("2026-03-02T09:00"));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_two_way_both_halves_and_no_bounce() {
    let w = world().await;
    let forward = flow("contact-two-way");
    let reverse = flow("contact-two-way-reverse");

    // GHL -> Sellsy: a new GHL contact becomes a Sellsy contact.
    let (ghl_id, created) = w
        .ghl_person(
            json!({"firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com"}),
        )
        .await;
    assert_eq!(created["type"], "ContactCreate");
    w.run_ok(&forward, "webhook:g1", &created).await;
    let sellsy = w.sellsy_contacts_with("grace@example.com").await;
    assert_eq!(sellsy.len(), 1, "{sellsy:?}");
    assert_eq!(sellsy[0]["first_name"], "Grace");
    assert_eq!(sellsy[0]["last_name"], "Hopper");
    let sellsy_id = sellsy[0]["id"].as_i64().unwrap();

    // A GHL update is copied; a repeat of the same event finds the record and, the
    // fields being equal, writes nothing (the `differs` branch takes no case).
    w.ghl(
        "contacts.update-contact",
        &[("contactId", &ghl_id)],
        Some(json!({"lastName": "Murray"})),
    )
    .await;
    let updated = w.ghl_event("ContactUpdate", "id", &ghl_id);
    w.run_ok(&forward, "webhook:g2", &updated).await;
    let sellsy = w.sellsy_contacts_with("grace@example.com").await;
    assert_eq!(sellsy.len(), 1);
    assert_eq!(sellsy[0]["last_name"], "Murray");
    let repeat = w.run_ok(&forward, "webhook:g3", &updated).await;
    assert_eq!(
        step_output(&w, &repeat, "differs")["case"],
        -1,
        "no update sent"
    );
    assert_eq!(step_output(&w, &repeat, "sellsy_contact")["created"], false);

    // Sellsy -> GHL: the Sellsy write above notified people.updated; the reverse half
    // finds GHL already equal and writes nothing back (no bounce).
    let echo = w.sellsy_event("people.updated", sellsy_id).await;
    let before = w
        .ghl
        .state()
        .stats()
        .by_operation
        .get("contacts.update-contact")
        .copied();
    let bounced = w.run_ok(&reverse, "webhook:s1", &echo).await;
    assert_eq!(step_output(&w, &bounced, "differs")["case"], -1);
    assert_eq!(
        w.ghl
            .state()
            .stats()
            .by_operation
            .get("contacts.update-contact")
            .copied(),
        before
    );

    // A change made in Sellsy reaches GHL.
    w.sellsy(
        "contacts.update-contact-info",
        &[("id", &sellsy_id.to_string())],
        Some(json!({"first_name": "Amazing Grace"})),
    )
    .await;
    let changed = w.sellsy_event("people.updated", sellsy_id).await;
    w.run_ok(&reverse, "webhook:s2", &changed).await;
    let ghl = w.ghl_contacts_with("grace@example.com");
    assert_eq!(ghl.len(), 1);
    assert_eq!(ghl[0]["firstName"], "Amazing Grace");

    // A Sellsy-only contact is created in GHL once.
    let (new_id, born) = w.sellsy_person("Alan", "Turing", "alan@example.com").await;
    w.run_ok(&reverse, "webhook:s3", &born).await;
    let again = w.run_ok(&reverse, "webhook:s4", &born).await;
    assert_eq!(step_output(&w, &again, "ghl_contact")["created"], false);
    assert_eq!(w.ghl_contacts_with("alan@example.com").len(), 1);
    assert!(new_id > 0);
    w.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ghl_new_contact_becomes_a_sellsy_prospect_with_the_contact_linked() {
    let w = world().await;
    let f = flow("ghl-new-contact-to-sellsy-prospect");
    let (_, event) = w
        .ghl_person(
            json!({"firstName": "Marie", "lastName": "Curie", "email": "marie@radium.fr",
                           "companyName": "Radium SA", "phone": "+33612345678"}),
        )
        .await;
    w.run_ok(&f, "webhook:c1", &event).await;
    w.run_ok(&f, "webhook:c2", &event).await;
    let companies = w
        .sellsy_list("companies.search-companies", json!({"name": "Radium SA"}))
        .await;
    assert_eq!(companies.len(), 1, "{companies:?}");
    assert_eq!(companies[0]["type"], "prospect");
    let company_id = companies[0]["id"].as_i64().unwrap();
    let contacts = w.sellsy_contacts_with("marie@radium.fr").await;
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    assert_eq!(contacts[0]["last_name"], "Curie");
    let linked = w
        .sellsy(
            "companies.get-contacts",
            &[("id", &company_id.to_string())],
            None,
        )
        .await;
    let linked = linked["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(linked.len(), 1, "{linked:?}");
    assert_eq!(linked[0]["id"], contacts[0]["id"]);
    w.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sellsy_company_becomes_a_ghl_business_then_is_updated() {
    let w = world().await;
    let f = flow("sellsy-company-to-ghl-business");
    let company = w
        .sellsy(
            "companies.create-new-company",
            &[],
            Some(
                json!({"type": "client", "name": "Acme Tools", "email": "hello@acme.test",
                        "website": "https://acme.test"}),
            ),
        )
        .await;
    let id = company["id"].as_i64().unwrap();
    let event = w.sellsy_event("client.created", id).await;
    w.run_ok(&f, "webhook:b1", &event).await;
    let list = |v: Value| v["businesses"].as_array().cloned().unwrap_or_default();
    let businesses = list(
        w.ghl("businesses.get-businesses-by-location", &[], None)
            .await,
    );
    let acme: Vec<&Value> = businesses
        .iter()
        .filter(|b| b["name"] == "Acme Tools")
        .collect();
    assert_eq!(acme.len(), 1, "{businesses:?}");
    assert_eq!(acme[0]["email"], "hello@acme.test");

    w.sellsy(
        "companies.update-information",
        &[("id", &id.to_string())],
        Some(json!({"email": "sales@acme.test"})),
    )
    .await;
    let updated = w.sellsy_event("client.updated", id).await;
    let again = w.run_ok(&f, "webhook:b2", &updated).await;
    assert_eq!(step_output(&w, &again, "business")["created"], false);
    let businesses = list(
        w.ghl("businesses.get-businesses-by-location", &[], None)
            .await,
    );
    let acme: Vec<&Value> = businesses
        .iter()
        .filter(|b| b["name"] == "Acme Tools")
        .collect();
    assert_eq!(acme.len(), 1, "{businesses:?}");
    assert_eq!(acme[0]["email"], "sales@acme.test");
    w.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sellsy_smart_tag_enrols_the_ghl_contact_in_the_workflow_once() {
    let w = world().await;
    let text = hlbridge_flows::catalog::get("sellsy-tag-to-ghl-workflow")
        .unwrap()
        .text
        .replace("REPLACE-WITH-WORKFLOW-ID", "wf-onboarding");
    let f = tpl_common::flow_from("sellsy-tag-to-ghl-workflow", &text);
    let (id, born) = w
        .sellsy_person("Katherine", "Johnson", "kj@nasa.test")
        .await;
    // Not tagged yet: nothing happens.
    let untagged = w.run(&f, "webhook:t0", &born).await;
    assert_eq!(untagged.status, "skipped", "{untagged:?}");
    assert!(w.ghl_contacts_with("kj@nasa.test").is_empty());

    w.sellsy(
        "contacts.link-smart-tags",
        &[("contactId", &id.to_string())],
        Some(json!([{"value": "VIP"}])),
    )
    .await;
    let tagged = w.sellsy_event("people.updated", id).await;
    w.run_ok(&f, "webhook:t1", &tagged).await;
    let ghl = w.ghl_contacts_with("kj@nasa.test");
    assert_eq!(ghl.len(), 1);
    let tags: Vec<String> = serde_json::from_value(ghl[0]["tags"].clone()).unwrap();
    assert!(
        tags.contains(&"sellsy-vip-workflow".to_string()),
        "{tags:?}"
    );
    let enrolled = || {
        w.ghl
            .state()
            .stats()
            .by_operation
            .get("contacts.add-contact-to-workflow")
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(enrolled(), 1);
    // Another update of the same contact: found, already enrolled, not added again.
    let repeat = w.run(&f, "webhook:t2", &tagged).await;
    assert_eq!(repeat.status, "skipped", "{repeat:?}");
    assert_eq!(enrolled(), 1);
    assert_eq!(w.ghl_contacts_with("kj@nasa.test").len(), 1);
    w.cleanup();
}
