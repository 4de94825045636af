//! Tasks (create, update, complete, delete) and notes mirrored both ways for linked
//! contacts; every note lands in the searchable archive; a quiet cycle writes nothing.

mod common;

use hlbridge_emulator::faults::FaultConfig;
use hlbridge_engine::store::Side;
use hlbridge_ghl::TaskInput;
use hlbridge_sellsy::Related;
use serde_json::{json, Value};

fn titles(tasks: &[Value], key: &str) -> Vec<String> {
    let mut t: Vec<String> = tasks
        .iter()
        .filter_map(|t| t[key].as_str().map(str::to_string))
        .collect();
    t.sort();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_and_notes_are_mirrored_both_ways() {
    let env = common::start(8, 6, FaultConfig::default()).await;
    // Deletions propagate here (the default archives: see scale_safety.rs), and the
    // few tasks of this account would trip the mass-deletion guard's 10 %.
    let engine = env
        .engine("[sync]\ndeletions = \"propagate\"\ndeletion_guard_share = 1.0\n")
        .await;
    let first = engine
        .run_once(false, &common::quiet())
        .await
        .expect("cycle");
    assert!(first.is_clean(), "{first:#?}");
    let ghl = env.ghl.state();
    let ids = ghl.contact_ids();
    // GHL seed: a task on contacts 0 and 4, notes on 0 and 6; Sellsy seed: comments on
    // contacts 1 and 6 (ids), none of its tasks is on a contact.
    let g0 = &ids[0];
    let s0: i64 = env.partner(&engine, g0).parse().unwrap();
    let g_tasks = ghl.tasks_of(g0);
    assert_eq!(g_tasks.len(), 1);
    let s_tasks = env.sellsy_tasks_of(s0);
    assert_eq!(titles(&s_tasks, "title"), titles(&g_tasks, "title"));
    assert_eq!(
        s_tasks[0]["status"],
        if g_tasks[0]["completed"] == true {
            "done"
        } else {
            "todo"
        }
    );
    let s_comments = env.sellsy_comments_of(s0);
    assert_eq!(s_comments.len(), ghl.notes_of(g0).len());
    // Sellsy comment on Sellsy contact 1 reached its GHL partner.
    let g_of_s1 = engine
        .store()
        .link_by(hlbridge_engine::store::Kind::Contact, Side::Sellsy, "1")
        .unwrap()
        .expect("linked")
        .ghl_id;
    let notes = ghl.notes_of(&g_of_s1);
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0]["body"].as_str().unwrap().contains("First meeting"),
        "{notes:?}"
    );
    let hits = hlbridge_engine::admin::search_notes(engine.store().as_ref(), "first meeting", None)
        .unwrap();
    assert!(
        hits.len() >= 2,
        "both the Sellsy comment and its GHL copy are archived: {hits:?}"
    );
    let hits = hlbridge_engine::admin::search_notes(
        engine.store().as_ref(),
        "first meeting",
        Some(&g_of_s1),
    )
    .unwrap();
    assert!(!hits.is_empty());

    // Edits on both sides.
    let gc = env.ghl_client();
    let sc = env.sellsy_client();
    let g4 = &ids[4];
    let s4: i64 = env.partner(&engine, g4).parse().unwrap();
    let g_task0 = g_tasks[0]["id"].as_str().unwrap().to_string();
    let g_task4 = ghl.tasks_of(g4)[0]["id"].as_str().unwrap().to_string();
    gc.contacts()
        .update_task(
            g0,
            &g_task0,
            &TaskInput {
                title: Some("Renamed in GHL".into()),
                ..TaskInput::default()
            },
        )
        .await
        .unwrap();
    gc.contacts().delete_task(g4, &g_task4).await.unwrap();
    let g1 = &ids[1];
    let s1: i64 = env.partner(&engine, g1).parse().unwrap();
    gc.contacts()
        .create_task(
            g1,
            &TaskInput {
                title: Some("New from GHL".into()),
                body: Some("call about the renewal".into()),
                due_date: Some("2027-03-01T09:00:00Z".into()),
                completed: Some(false),
                assigned_to: None,
            },
        )
        .await
        .unwrap();
    gc.contacts()
        .create_note(g1, "Budget approved for the Paris office")
        .await
        .unwrap();
    let s_new = sc
        .create_task(
            "New from Sellsy",
            "2027-04-02T10:00:00+00:00",
            1,
            Related::contact(s1),
        )
        .await
        .unwrap();
    let s_done = env.sellsy_tasks_of(s0)[0]["id"].as_i64().unwrap();
    sc.update_task(s_done, &json!({"status": "done"}))
        .await
        .unwrap();
    sc.create_comment(
        "<p>Wants a <b>quote</b> for 12 seats</p>",
        Related::contact(s1),
    )
    .await
    .unwrap();

    let second = engine
        .run_once(false, &common::quiet())
        .await
        .expect("cycle 2");
    assert!(second.is_clean(), "{second:#?}");
    // GHL → Sellsy: rename, delete, create, note.
    assert_eq!(
        titles(&env.sellsy_tasks_of(s0), "title"),
        vec!["Renamed in GHL".to_string()]
    );
    assert!(
        env.sellsy_tasks_of(s4).is_empty(),
        "deleted in GHL → deleted in Sellsy"
    );
    let s1_tasks = env.sellsy_tasks_of(s1);
    assert_eq!(
        titles(&s1_tasks, "title"),
        vec!["New from GHL".to_string(), "New from Sellsy".to_string()]
    );
    assert!(env.sellsy_comments_of(s1).iter().any(|c| c["description"]
        .as_str()
        .unwrap_or("")
        .contains("Budget approved")));
    // Sellsy → GHL: completion, create, comment.
    let g0_tasks = ghl.tasks_of(g0);
    assert_eq!(g0_tasks[0]["completed"], true, "{g0_tasks:?}");
    assert_eq!(g0_tasks[0]["title"], "Renamed in GHL");
    let g1_tasks = ghl.tasks_of(g1);
    assert_eq!(
        titles(&g1_tasks, "title"),
        vec!["New from GHL".to_string(), "New from Sellsy".to_string()]
    );
    assert!(ghl
        .notes_of(g1)
        .iter()
        .any(|n| n["body"] == "Wants a quote for 12 seats"));
    assert_eq!(
        hlbridge_engine::admin::search_notes(engine.store().as_ref(), "quote seats", None)
            .unwrap()
            .len(),
        2
    );

    // Sellsy deletes the task that came from GHL → GHL deletes it too.
    sc.delete_task(s_new.id).await.unwrap();
    let third = engine
        .run_once(false, &common::quiet())
        .await
        .expect("cycle 3");
    assert!(third.is_clean(), "{third:#?}");
    assert_eq!(
        titles(&ghl.tasks_of(g1), "title"),
        vec!["New from GHL".to_string()]
    );

    // Nothing changed: no task or note write on either side.
    let before = ghl.stats().by_operation;
    let quiet = engine
        .run_once(false, &common::quiet())
        .await
        .expect("quiet");
    assert_eq!(
        (
            quiet.tasks.ghl.created + quiet.tasks.ghl.updated + quiet.tasks.ghl.deleted,
            quiet.tasks.sellsy.created + quiet.tasks.sellsy.updated + quiet.tasks.sellsy.deleted
        ),
        (0, 0),
        "{quiet:#?}"
    );
    assert_eq!(
        (quiet.notes.ghl.created, quiet.notes.sellsy.created),
        (0, 0)
    );
    let after = ghl.stats().by_operation;
    for (op, n) in &after {
        if !op.contains("search") && !op.contains("get") {
            assert_eq!(
                Some(n),
                before.get(op).or(Some(&0)),
                "{op} called during a quiet cycle"
            );
        }
    }
    env.cleanup();
}
