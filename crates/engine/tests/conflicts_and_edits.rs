//! Concurrent edits converge per the conflict policy: different fields both flow,
//! the same field follows newest-wins (or the configured side), manual conflicts are
//! queued and resolved; empty values do not overwrite filled ones.

mod common;

use std::time::Duration;

use hlbridge_emulator::faults::FaultConfig;
use hlbridge_engine::store::Side;
use hlbridge_ghl::ContactInput;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_edits_converge_per_policy() {
    let env = common::start(4, 4, FaultConfig::default()).await;
    let engine = env
        .engine("[fields.website]\nconflict = \"manual\"\n[fields.last_name]\nconflict = \"ghl_wins\"\n")
        .await;
    assert!(engine
        .run_once(false, &common::quiet())
        .await
        .unwrap()
        .is_clean());
    let ghl = env.ghl.state();
    let g = ghl.contact_ids()[0].clone();
    let s = env.partner(&engine, &g);
    let sid: i64 = s.parse().unwrap();
    let gc = env.ghl_client();
    let sc = env.sellsy_client();

    // Different fields on each side: both survive. Same field (first name): newest wins
    // (Sellsy edits one second later). last_name: GHL wins whatever the time.
    // website: manual. Email emptied in GHL: never overwrites Sellsy's.
    gc.contacts()
        .update(
            &g,
            &ContactInput {
                first_name: Some("GhlFirst".into()),
                last_name: Some("GhlLast".into()),
                city: Some("Grenoble".into()),
                website: Some("https://ghl.example".into()),
                ..ContactInput::default()
            },
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    sc.update_contact(
        sid,
        &json!({"first_name": "SellsyFirst", "last_name": "SellsyLast", "birth_date": "1990-05-17", "website": "https://sellsy.example"}),
    )
    .await
    .unwrap();

    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert!(r.is_clean(), "{r:#?}");
    assert_eq!(r.conflicts_queued, 1, "{}", r.line());
    let gv = ghl.contact(&g).unwrap();
    let sv = env
        .sellsy
        .state()
        .store()
        .contacts
        .get(sid)
        .cloned()
        .unwrap();
    assert_eq!(gv["firstName"], "SellsyFirst");
    assert_eq!(sv["first_name"], "SellsyFirst");
    assert_eq!(gv["lastName"], "GhlLast");
    assert_eq!(sv["last_name"], "GhlLast");
    assert_eq!(gv["city"], "Grenoble", "GHL-only change kept");
    assert_eq!(
        gv["dateOfBirth"].as_str().map(|d| &d[..10]),
        Some("1990-05-17"),
        "Sellsy-only change flowed"
    );
    assert_eq!(
        gv["website"], "https://ghl.example",
        "manual: untouched until resolved"
    );
    assert_eq!(sv["website"], "https://sellsy.example");

    let open = hlbridge_engine::admin::conflicts(engine.store().as_ref(), false).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].field, "website");
    hlbridge_engine::admin::resolve_conflict(engine.store().as_ref(), open[0].id, Side::Sellsy)
        .unwrap();
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert!(r.is_clean(), "{r:#?}");
    assert_eq!(
        ghl.contact(&g).unwrap()["website"],
        "https://sellsy.example"
    );
    assert!(
        hlbridge_engine::admin::conflicts(engine.store().as_ref(), false)
            .unwrap()
            .is_empty()
    );

    // Emptying a field on one side does not wipe the other (empty_overwrites = false).
    sc.update_contact(sid, &json!({"website": null}))
        .await
        .unwrap();
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert!(r.is_clean(), "{r:#?}");
    assert_eq!(
        ghl.contact(&g).unwrap()["website"],
        "https://sellsy.example"
    );

    // And a quiet cycle after all that writes nothing.
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert_eq!(
        (
            r.ghl.updated,
            r.sellsy.updated,
            r.ghl.created,
            r.sellsy.created
        ),
        (0, 0, 0, 0),
        "{}",
        r.line()
    );
    env.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_archive_on_the_other_side() {
    let env = common::start(3, 3, FaultConfig::default()).await;
    let engine = env.engine("[sync]\ndeletion_guard_share = 0.5\n").await;
    assert!(engine
        .run_once(false, &common::quiet())
        .await
        .unwrap()
        .is_clean());
    let ghl = env.ghl.state();
    let g = ghl.contact_ids()[0].clone();
    let sid: i64 = env.partner(&engine, &g).parse().unwrap();
    env.ghl_client().contacts().delete(&g).await.unwrap();
    // A Sellsy contact deleted: its GHL partner gets the archive tag.
    let s_other: i64 = 2;
    let g_other = engine
        .store()
        .link_by(hlbridge_engine::store::Kind::Contact, Side::Sellsy, "2")
        .unwrap()
        .unwrap()
        .ghl_id;
    env.sellsy_client().delete_contact(s_other).await.unwrap();
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert!(r.is_clean(), "{r:#?}");
    assert_eq!(
        env.sellsy.state().store().contacts.get(sid).unwrap()["is_archived"],
        true
    );
    let tags = ghl.contact(&g_other).unwrap()["tags"].clone();
    assert!(
        tags.as_array()
            .unwrap()
            .iter()
            .any(|t| t == "sellsy-archived"),
        "{tags}"
    );
    // Nothing was re-created.
    assert_eq!(ghl.contact_count(), 5);
    assert_eq!(env.sellsy_contacts().len(), 5);
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert_eq!((r.ghl.created, r.sellsy.created), (0, 0));
    env.cleanup();
}
