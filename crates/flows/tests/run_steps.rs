//! The executor end to end against both emulators: every step kind, the same key run
//! once, delays parked then resumed, call_flow, the notes archive, dry runs.

mod run_support;

use hlbridge_engine::store::Side;
use run_support::{eventually, flow, item, world};
use serde_json::json;

const KINDS: &str = r#"
schema_version: 1
name: kinds
trigger: { webhook: { app: ghl, events: [ContactCreate] } }
steps:
  - id: has_email
    filter: { all: [ { value: "{{ trigger.email }}", op: exists } ] }
  - id: names
    map: { last: "{{ trigger.last }}", email: "{{ trigger.email }}" }
  - id: sellsy_contact
    find_or_create:
      find: { operation: "sellsy:contacts.search-contacts", body: { filters: { email: "{{ steps.names.output.email }}" } } }
      found: "{{ find.data | first }}"
      create: { operation: "sellsy:contacts.create-contact", body: { last_name: "{{ steps.names.output.last }}", email: "{{ steps.names.output.email }}" } }
  - id: ghl_contact
    action: { operation: "ghl:contacts.create-contact", body: { lastName: "{{ trigger.last }}", email: "{{ trigger.email }}" } }
  - id: route
    branch:
      cases:
        - when: { all: [ { value: "{{ trigger.tier }}", op: equals, arg: vip } ] }
          steps:
            - id: vip_note
              action: { operation: "ghl:contacts.create-note", params: { contactId: "{{ steps.ghl_contact.output.contact.id }}" }, body: { body: "vip {{ trigger.last }}" } }
      otherwise:
        - id: plain_note
          action: { operation: "ghl:contacts.create-note", params: { contactId: "{{ steps.ghl_contact.output.contact.id }}" }, body: { body: "plain {{ trigger.last }}" } }
  - id: tags
    for_each:
      items: "{{ trigger.tags }}"
      max: 2
      steps:
        - id: tag_note
          action: { operation: "ghl:contacts.create-note", params: { contactId: "{{ steps.ghl_contact.output.contact.id }}" }, body: { body: "tag {{ item }}" } }
  - id: child
    call_flow: { name: archive-one, input: { text: "{{ trigger.last }} archived", id: "{{ steps.ghl_contact.output.contact.id }}" } }
"#;

const ARCHIVE_ONE: &str = r#"
schema_version: 1
name: archive-one
trigger: { webhook: { app: ghl, events: [NoteCreate] } }
steps:
  - id: archive
    action:
      operation: "hlbridge:notes.archive"
      body: { side: ghl, note_id: "flow-{{ trigger.id }}", body: "{{ trigger.text }}", ghl_contact_id: "{{ trigger.id }}" }
"#;

#[tokio::test]
async fn every_step_kind_runs_against_both_emulators_and_a_key_runs_once() {
    let w = world("kinds").await;
    let kinds = flow(KINDS);
    let archive = flow(ARCHIVE_ONE);
    let exec = w.executor(&[kinds.clone(), archive.clone()]).await;

    // 1. vip, three tags (the loop takes two), no Sellsy contact yet: created.
    let a = exec
        .start(
            &kinds,
            1,
            item(
                "a",
                json!({"email": "alpha@example.com", "last": "Alpha", "tier": "vip", "tags": ["t1", "t2"]}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(a.status, "ok", "{a:?}");
    let sellsy = w.sellsy_contacts_with("alpha@example.com");
    assert_eq!(sellsy.len(), 1);
    assert_eq!(sellsy[0]["last_name"], "Alpha");
    let ghl = w.ghl_contacts_with("alpha@example.com");
    assert_eq!(ghl.len(), 1);
    let alpha = ghl[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        w.ghl_note_bodies(&alpha),
        vec!["tag t1", "tag t2", "vip Alpha"],
        "the vip case ran, the loop ran once per tag"
    );
    let foc = w.store.step(a.run_id, "sellsy_contact").unwrap().unwrap();
    assert_eq!(foc.output.as_ref().unwrap()["created"], true);
    let branch = w.store.step(a.run_id, "route").unwrap().unwrap();
    assert_eq!(branch.input["case"], 0);
    assert!(w
        .store
        .step(a.run_id, "tags[1].tag_note")
        .unwrap()
        .is_some());
    assert!(w
        .store
        .step(a.run_id, "tags[0].tag_note")
        .unwrap()
        .is_some());
    // call_flow ran the archive flow, whose built-in action filled the notes archive.
    let hits = w.engine_store.search_notes("archived", None, 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].side, Side::Ghl);
    assert_eq!(hits[0].note_id, format!("flow-{alpha}"));
    assert_eq!(hits[0].ghl_contact_id.as_deref(), Some(alpha.as_str()));
    assert!(hits[0].body.contains("Alpha archived"));
    // The writes to contacts and notes went through the engine's outbox as flow writes.
    let history = w
        .engine_store
        .history(&hlbridge_engine::store::HistoryFilter::default())
        .unwrap();
    assert!(
        history
            .iter()
            .filter(|h| h.source.as_str() == "flow" && h.outcome == "applied")
            .count()
            >= 5,
        "{history:?}"
    );

    // 2. The Sellsy contact exists: found, not created; not vip: the else branch.
    let beta_sellsy = w.make_sellsy_contact("beta@example.com", "Beta").await;
    let b = exec
        .start(
            &kinds,
            1,
            item(
                "b",
                json!({"email": "beta@example.com", "last": "Beta", "tier": "basic", "tags": []}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(b.status, "ok", "{b:?}");
    assert_eq!(w.sellsy_contacts_with("beta@example.com").len(), 1);
    let foc = w.store.step(b.run_id, "sellsy_contact").unwrap().unwrap();
    let out = foc.output.unwrap();
    assert_eq!(out["created"], false);
    assert_eq!(out["record"]["id"], beta_sellsy);
    let beta = w.ghl_contacts_with("beta@example.com")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(w.ghl_note_bodies(&beta), vec!["plain Beta"]);
    assert_eq!(
        w.store.step(b.run_id, "route").unwrap().unwrap().input["case"],
        -1
    );

    // More items than the loop's max: the step fails before any iteration, never a
    // silent cut.
    let over = exec
        .start(
            &kinds,
            1,
            item(
                "over",
                json!({"email": "over@example.com", "last": "Over", "tier": "basic", "tags": ["a", "b", "c"]}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(over.status, "failed");
    assert_eq!(over.failed_step.as_deref(), Some("tags"));
    assert!(
        over.error
            .as_deref()
            .unwrap()
            .contains("over the loop's max of 2"),
        "{over:?}"
    );
    let over_id = w.ghl_contacts_with("over@example.com")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(w.ghl_note_bodies(&over_id), vec!["plain Over"]);

    // 3. No e-mail: the filter is false, the run is skipped and writes nothing.
    let contacts_before = w.ghl.state().contact_count();
    let c = exec
        .start(
            &kinds,
            1,
            item("c", json!({"last": "Nobody", "tier": "vip", "tags": []})),
        )
        .await
        .unwrap();
    assert_eq!(c.status, "skipped");
    assert_eq!(w.ghl.state().contact_count(), contacts_before);
    assert!(w.store.step(c.run_id, "names").unwrap().is_none());

    // 4. The same key again: the existing run, nothing executed.
    let notes_before = w.ghl.state().note_count();
    let again = exec
        .start(
            &kinds,
            1,
            item(
                "a",
                json!({"email": "alpha@example.com", "last": "Alpha", "tier": "vip", "tags": ["t1"]}),
            ),
        )
        .await
        .unwrap();
    assert!(again.existing);
    assert_eq!(again.run_id, a.run_id);
    assert_eq!(w.ghl.state().contact_count(), contacts_before);
    assert_eq!(w.ghl.state().note_count(), notes_before);
    assert_eq!(w.sellsy_contacts_with("alpha@example.com").len(), 1);
}

const DELAYED: &str = r#"
schema_version: 1
name: delayed
trigger: { webhook: { app: ghl, events: [ContactCreate] } }
steps:
  - id: note_before
    action: { operation: "ghl:contacts.create-note", params: { contactId: "{{ trigger.contact }}" }, body: { body: "before" } }
  - id: wait
    delay: { for: 1s }
  - id: note_after
    action: { operation: "ghl:contacts.create-note", params: { contactId: "{{ trigger.contact }}" }, body: { body: "after" } }
"#;

#[tokio::test]
async fn a_delay_parks_the_run_and_resume_due_finishes_it_without_resending() {
    let w = world("delay").await;
    let delayed = flow(DELAYED);
    let exec = w.executor(std::slice::from_ref(&delayed)).await;
    let contact = w.make_ghl_contact("delay@example.com", "Delay").await;
    let first = exec
        .start(&delayed, 1, item("d1", json!({"contact": contact})))
        .await
        .unwrap();
    assert_eq!(first.status, "waiting");
    assert_eq!(w.ghl_note_bodies(&contact), vec!["before"]);
    let run = w.store.get(first.run_id).unwrap().unwrap();
    assert!(run.resume_at.is_some());
    let done = eventually(20, || async {
        let outs = exec.resume_due().await.unwrap();
        outs.into_iter()
            .filter_map(Result::ok)
            .find(|o| o.run_id == first.run_id)
    })
    .await;
    assert_eq!(done.status, "ok", "{done:?}");
    assert_eq!(w.ghl_note_bodies(&contact), vec!["after", "before"]);
    // Nothing more is due.
    assert!(exec.resume_due().await.unwrap().is_empty());
    assert_eq!(w.ghl_note_bodies(&contact), vec!["after", "before"]);
}

#[tokio::test]
async fn a_dry_run_reads_for_real_and_prints_writes_without_sending_them() {
    let w = world("dry").await;
    let kinds = flow(KINDS);
    let archive = flow(ARCHIVE_ONE);
    let exec = w.executor(&[kinds.clone(), archive]).await;
    let existing = w.make_sellsy_contact("dry@example.com", "Dry").await;
    let ghl_before = w.ghl.state().contact_count();
    let notes_before = w.ghl.state().note_count();
    let out = exec
        .dry_run(
            &kinds,
            item(
                "x",
                json!({"email": "dry@example.com", "last": "Dry", "tier": "vip", "tags": ["a"]}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(out.status, "ok", "{out:?}");
    // The find was real: the Sellsy contact was found, so no create is printed for it.
    let ops: Vec<&str> = out
        .writes
        .iter()
        .filter_map(|w| w["operation"].as_str())
        .collect();
    assert_eq!(
        ops,
        vec![
            "ghl:contacts.create-contact",
            "ghl:contacts.create-note",
            "ghl:contacts.create-note",
        ],
        "{:#?}",
        out.writes
    );
    // The notes need the id of the contact the dry run did not create: shown unresolved.
    assert!(out.writes[1]["unresolved"]
        .as_str()
        .unwrap()
        .contains("undefined"));
    let create = &out.writes[0]["request"];
    assert_eq!(create["method"], "POST");
    assert!(create["url"].as_str().unwrap().starts_with(&w.ghl.base_url));
    assert_eq!(create["body"]["email"], "dry@example.com");
    let text = serde_json::to_string(&out.writes).unwrap();
    assert!(!text.to_ascii_lowercase().contains("authorization"));
    assert!(!text.contains(&w.ghl_cfg.token));
    let found = out
        .trace
        .iter()
        .find(|t| t["step"] == "sellsy_contact")
        .unwrap();
    assert_eq!(found["output"]["record"]["id"], existing);
    // Nothing was written anywhere, nothing recorded.
    assert_eq!(w.ghl.state().contact_count(), ghl_before);
    assert_eq!(w.ghl.state().note_count(), notes_before);
    assert_eq!(w.sellsy_contacts_with("dry@example.com").len(), 1);
    assert!(w.store.list(&Default::default()).unwrap().is_empty());
    assert!(w
        .engine_store
        .search_notes("archived", None, 10)
        .unwrap()
        .is_empty());
}

const ONE_NOTE: &str = r#"
schema_version: 1
name: one-note
trigger: { webhook: { app: ghl, events: [ContactCreate] } }
steps:
  - id: note
    action: { operation: "ghl:contacts.create-note", params: { contactId: "{{ trigger.contact }}" }, body: { body: "enqueued {{ trigger.n }}" } }
"#;

#[tokio::test]
async fn an_enqueued_run_is_recorded_first_and_executed_once_by_resume_all() {
    let w = world("enqueue").await;
    let f = flow(ONE_NOTE);
    let exec = w.executor(std::slice::from_ref(&f)).await;
    let contact = w.make_ghl_contact("enqueue@example.com", "Enqueue").await;
    let it = item("e1", json!({"contact": contact, "n": 1}));
    let id = exec.enqueue(&f, 1, &it).unwrap().expect("a new run");
    assert_eq!(exec.enqueue(&f, 1, &it).unwrap(), Err(id));
    assert_eq!(w.store.get(id).unwrap().unwrap().status, "running");
    assert!(
        w.ghl_note_bodies(&contact).is_empty(),
        "recorded, not executed"
    );
    let outs = exec.resume_all().await.unwrap();
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0].as_ref().unwrap().status, "ok");
    assert_eq!(w.ghl_note_bodies(&contact), vec!["enqueued 1"]);
    assert!(exec.resume_all().await.unwrap().is_empty());
    assert_eq!(exec.start(&f, 1, it).await.unwrap().run_id, id);
    assert_eq!(w.ghl_note_bodies(&contact), vec!["enqueued 1"]);
}
