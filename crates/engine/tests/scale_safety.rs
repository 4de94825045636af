//! Nothing lost, nothing doubled: creates whose answer is lost (commit-then-drop) on
//! both sides, records with no e-mail and no phone, GHL search lagging writes, the
//! mass-deletion guard on a truncated listing, and task/note deletions in each
//! `sync.deletions` mode.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use hlbridge_core::call::CallInput;
use hlbridge_emulator::faults::FaultConfig;
use hlbridge_engine::store::{Kind, Side};
use hlbridge_ghl::{ContactInput, TaskInput};
use serde_json::{json, Value};

fn faults(spec: &str) -> FaultConfig {
    spec.parse().expect("faults")
}

/// 6 contacts a side, half without e-mail or phone; GHL ones with a note (and two
/// with a task), Sellsy ones with a comment (and one with a task).
async fn seed(env: &common::Env) {
    let g = env.ghl_client();
    for i in 0..6 {
        let input = ContactInput {
            first_name: Some(format!("Gia{i}")),
            last_name: Some(format!("Ghl{i}")),
            email: (i % 2 == 0).then(|| format!("gia{i}@example.com")),
            ..ContactInput::default()
        };
        let c = g.contacts().create(&input).await.expect("ghl contact");
        g.contacts()
            .create_note(&c.id, &format!("GHL note of Gia{i}"))
            .await
            .expect("note");
        if i < 2 {
            let t = TaskInput {
                title: Some(format!("Call Gia{i}")),
                due_date: Some("2030-01-0{}T10:00:00Z".replace("{}", &(i + 1).to_string())),
                completed: Some(false),
                ..TaskInput::default()
            };
            g.contacts().create_task(&c.id, &t).await.expect("task");
        }
    }
    let s = env.sellsy_client();
    let labels = s
        .call("tasks.get-labels", CallInput::new())
        .await
        .expect("labels");
    let label = labels["data"][0]["id"].as_i64().expect("a task label");
    for i in 0..6 {
        let mut body =
            json!({ "first_name": format!("Sam{i}"), "last_name": format!("Sellsy{i}") });
        if i % 2 == 0 {
            body["email"] = json!(format!("sam{i}@example.com"));
        }
        let c = s
            .call("contacts.create-contact", CallInput::new().body(body))
            .await
            .expect("sellsy contact");
        let id = c["id"].as_i64().unwrap();
        s.call(
            "comments.create-comment",
            CallInput::new().body(json!({
                "description": format!("Sellsy comment of Sam{i}"),
                "related": [{ "type": "contact", "id": id }],
            })),
        )
        .await
        .expect("comment");
        if i == 0 {
            s.call(
                "tasks.create-task",
                CallInput::new().body(json!({
                    "title": "Send the quote", "due_date": "2030-02-01T09:00:00Z",
                    "label_id": label, "related": [{ "type": "contact", "id": id }],
                })),
            )
            .await
            .expect("sellsy task");
        }
    }
}

fn counts_by(items: &[Value], key: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i[key].as_str().unwrap_or_default().to_string())
            .or_insert(0) += 1;
    }
    m
}

/// Both sides hold the 12 contacts once each, every contact its note and comment
/// once, and the 3 tasks once a side.
fn assert_converged(env: &common::Env) {
    let ghl = env.ghl_contacts();
    let sellsy = env.sellsy_contacts();
    let ghl_names = counts_by(&ghl, "firstName");
    let sellsy_names = counts_by(&sellsy, "first_name");
    assert_eq!(ghl.len(), 12, "GHL contacts: {ghl_names:?}");
    assert_eq!(sellsy.len(), 12, "Sellsy contacts: {sellsy_names:?}");
    assert!(ghl_names.values().all(|n| *n == 1), "{ghl_names:?}");
    assert!(sellsy_names.values().all(|n| *n == 1), "{sellsy_names:?}");
    let state = env.ghl.state();
    let mut notes = 0;
    let mut tasks = 0;
    for id in state.contact_ids() {
        let n = state.notes_of(&id);
        assert_eq!(n.len(), 1, "notes of GHL {id}: {n:?}");
        notes += n.len();
        tasks += state.tasks_of(&id).len();
    }
    assert_eq!((notes, tasks), (12, 3));
    let s = env.sellsy.state();
    let store = s.store();
    let comments: Vec<Value> = store
        .comments
        .rows
        .values()
        .map(|r| Value::Object(r.clone()))
        .collect();
    let bodies = counts_by(&comments, "description");
    assert_eq!(comments.len(), 12, "{bodies:?}");
    assert!(bodies.values().all(|n| *n == 1), "{bodies:?}");
    assert_eq!(store.tasks.rows.len(), 3);
}

async fn run_until_clean(
    engine: &hlbridge_engine::Engine,
    max: usize,
) -> hlbridge_engine::CycleReport {
    let mut last = None;
    for _ in 0..max {
        let r = engine
            .run_once(false, &common::quiet())
            .await
            .expect("cycle");
        let clean = r.is_clean();
        last = Some(r);
        if clean {
            break;
        }
    }
    last.expect("a cycle ran")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_to_creates_duplicate_nothing_on_either_side() {
    let env = common::start(0, 0, FaultConfig::default()).await;
    seed(&env).await;
    env.ghl.set_faults(faults("commit_drop=0.3"));
    env.sellsy
        .state()
        .faults()
        .set_config(faults("commit_drop=0.3"));
    let engine = env.engine("[sync]\nlookback_minutes = 0.02\n").await;
    run_until_clean(&engine, 20).await;
    env.ghl.set_faults(FaultConfig::default());
    env.sellsy
        .state()
        .faults()
        .set_config(FaultConfig::default());
    let last = engine
        .run_once(false, &common::quiet())
        .await
        .expect("cycle");
    assert!(last.is_clean(), "{last:#?}");
    assert_converged(&env);
    env.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_search_with_lost_answers_creates_nothing_twice() {
    let env = common::start_with(0, 0, FaultConfig::default(), |g, _| {
        g.search_lag = Duration::from_millis(2000);
    })
    .await;
    seed(&env).await;
    env.ghl.set_faults(faults("commit_drop=0.4"));
    let engine = env.engine("[sync]\nlookback_minutes = 0.05\n").await;
    run_until_clean(&engine, 20).await;
    env.ghl.set_faults(FaultConfig::default());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let last = engine
        .run_once(false, &common::quiet())
        .await
        .expect("cycle");
    assert!(last.is_clean(), "{last:#?}");
    assert_converged(&env);
    env.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_listing_is_held_by_the_guard() {
    let env = common::start(80, 0, FaultConfig::default()).await;
    let engine = env.engine("[sync]\ntasks = false\nnotes = false\n").await;
    let first = engine
        .run_once(false, &common::quiet())
        .await
        .expect("cycle");
    assert!(first.is_clean(), "{first:#?}");
    let http = reqwest::Client::new();
    let truncate = |after: Value| {
        let http = http.clone();
        let url = format!("{}/emulator/truncate", env.ghl.base_url);
        async move {
            let r = http
                .post(url)
                .json(&json!({ "after": after }))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
    };
    truncate(json!(10)).await;
    let held = engine
        .run_once(false, &common::quiet())
        .await
        .expect("cycle");
    assert!(!held.is_clean());
    assert_eq!(held.deletions_held, 70, "{held:#?}");
    assert!(held.held_reasons[0].contains("--confirm-deletions"));
    let archived = env
        .sellsy_contacts()
        .iter()
        .filter(|c| c["is_archived"] == true)
        .count();
    assert_eq!(archived, 0, "nothing archived while held");
    let status = hlbridge_engine::admin::status(engine.store().as_ref()).unwrap();
    assert_eq!(status.deletions_held, 70);
    // The listing is whole again: nothing to hold, nothing archived.
    truncate(Value::Null).await;
    let back = engine
        .run_once(false, &common::quiet())
        .await
        .expect("cycle");
    assert!(back.is_clean(), "{back:#?}");
    assert_eq!(back.deletions_held, 0);
    // Confirmed, the deletions apply.
    truncate(json!(10)).await;
    engine.confirm_deletions(true);
    let applied = engine
        .run_once(false, &common::quiet())
        .await
        .expect("cycle");
    assert_eq!(applied.deletions_held, 0);
    assert_eq!(applied.sellsy.archived, 70, "{applied:#?}");
    env.cleanup();
}

/// One linked pair with a GHL task and note; both deleted in GHL.
async fn deletion_mode(mode: &str) -> (usize, usize, bool) {
    let env = common::start(0, 0, FaultConfig::default()).await;
    let g = env.ghl_client();
    let c = g
        .contacts()
        .create(&ContactInput {
            first_name: Some("Del".into()),
            email: Some("del@example.com".into()),
            ..ContactInput::default()
        })
        .await
        .unwrap();
    let note = g
        .contacts()
        .create_note(&c.id, "to be deleted")
        .await
        .unwrap();
    let task = g
        .contacts()
        .create_task(
            &c.id,
            &TaskInput {
                title: Some("to be deleted".into()),
                due_date: Some("2030-01-01T10:00:00Z".into()),
                completed: Some(false),
                ..TaskInput::default()
            },
        )
        .await
        .unwrap();
    let engine = env
        .engine(&format!(
            "[sync]\ndeletions = \"{mode}\"\ndeletion_guard_share = 1.0\n"
        ))
        .await;
    let first = engine.run_once(false, &common::quiet()).await.unwrap();
    assert!(first.is_clean(), "{first:#?}");
    let sid: i64 = env.partner(&engine, &c.id).parse().unwrap();
    assert_eq!(env.sellsy_tasks_of(sid).len(), 1);
    assert_eq!(env.sellsy_comments_of(sid).len(), 1);
    g.contacts().delete_task(&c.id, &task.id).await.unwrap();
    g.contacts().delete_note(&c.id, &note.id).await.unwrap();
    let second = engine.run_once(false, &common::quiet()).await.unwrap();
    assert!(second.is_clean(), "{second:#?}");
    let tasks = env.sellsy_tasks_of(sid);
    let done = tasks.first().is_some_and(|t| t["status"] == "done");
    let out = (tasks.len(), env.sellsy_comments_of(sid).len(), done);
    // Retired links are not re-created on GHL.
    let third = engine.run_once(false, &common::quiet()).await.unwrap();
    assert!(third.is_clean());
    assert!(env.ghl.state().tasks_of(&c.id).is_empty());
    assert!(env.ghl.state().notes_of(&c.id).is_empty());
    assert!(engine
        .store()
        .link_by(Kind::Task, Side::Ghl, &task.id)
        .unwrap()
        .is_none_or(|l| l.state != "active"));
    env.cleanup();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_and_note_deletions_follow_the_policy() {
    // archive: the task is marked done, the note kept.
    assert_eq!(deletion_mode("archive").await, (1, 1, true));
    // propagate: both deleted.
    assert_eq!(deletion_mode("propagate").await, (0, 0, false));
    // ignore: both kept as they were.
    assert_eq!(deletion_mode("ignore").await, (1, 1, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ghl_duplicate_answer_links_to_the_existing_contact() {
    // GHL's search does not show the contact yet (lag), so the sync tries to create
    // the Sellsy contact's twin and GHL answers 400 "duplicated contact".
    let env = common::start_with(0, 0, FaultConfig::default(), |g, _| {
        g.search_lag = Duration::from_secs(30);
    })
    .await;
    let existing = env
        .ghl_client()
        .contacts()
        .create(&ContactInput {
            first_name: Some("Dana".into()),
            email: Some("dana@example.com".into()),
            ..ContactInput::default()
        })
        .await
        .unwrap();
    env.sellsy_client()
        .call(
            "contacts.create-contact",
            CallInput::new().body(
                json!({"first_name": "Dana", "last_name": "Dup", "email": "dana@example.com"}),
            ),
        )
        .await
        .unwrap();
    let engine = env.engine("[sync]\ntasks = false\nnotes = false\n").await;
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert!(r.is_clean(), "{r:#?}");
    assert_eq!(env.ghl.state().contact_count(), 1);
    let link = engine
        .store()
        .link_by(Kind::Contact, Side::Ghl, &existing.id)
        .unwrap()
        .expect("linked to the existing contact");
    assert_eq!(link.state, "active");
    // The merge then brought the Sellsy last name across.
    assert_eq!(
        env.ghl.state().contact(&existing.id).unwrap()["lastName"],
        "Dup"
    );
    env.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_placeholder_last_name_never_comes_back_to_ghl() {
    let env = common::start(0, 0, FaultConfig::default()).await;
    let c = env
        .ghl_client()
        .contacts()
        .create(&ContactInput {
            first_name: Some("Ann".into()),
            email: Some("ann.smith@example.com".into()),
            ..ContactInput::default()
        })
        .await
        .unwrap();
    let engine = env.engine("").await;
    for _ in 0..2 {
        let r = engine.run_once(false, &common::quiet()).await.unwrap();
        assert!(r.is_clean(), "{r:#?}");
    }
    let sid: i64 = env.partner(&engine, &c.id).parse().unwrap();
    let s = env
        .sellsy
        .state()
        .store()
        .contacts
        .get(sid)
        .unwrap()
        .clone();
    assert_eq!(s["last_name"], "ann.smith", "Sellsy needs a last name");
    let g = env.ghl.state().contact(&c.id).unwrap();
    assert!(g["lastName"].is_null() || g["lastName"] == "", "{g}");
    // A real last name typed in Sellsy later does flow to GHL.
    env.sellsy_client()
        .call(
            "contacts.update-contact-info",
            CallInput::new()
                .param("id", sid)
                .body(json!({"last_name": "Smith"})),
        )
        .await
        .unwrap();
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert!(r.is_clean(), "{r:#?}");
    assert_eq!(env.ghl.state().contact(&c.id).unwrap()["lastName"], "Smith");
    env.cleanup();
}
