//! The per-record history of writes, against both emulators: an edit synced is one
//! row with the field's old and new values, the side written, the source (poll or
//! webhook), the pair and who won; a write the API refuses is recorded as failed with
//! its message; rows are found by either side's id or the contact's e-mail; rows older
//! than `sync.history_retention_days` are pruned at the start of a cycle.

mod common;

use std::sync::Arc;

use hlbridge_emulator::faults::FaultConfig;
use hlbridge_engine::admin;
use hlbridge_engine::store::history::{with_source, WriteSource};
use hlbridge_engine::store::sqlite::SqliteStore;
use hlbridge_engine::store::{HistoryEntry, HistoryFilter, Kind, Side, StateStore};
use hlbridge_engine::webhooks::Hint;
use hlbridge_engine::{Budgets, Engine};
use hlbridge_ghl::ContactInput;
use serde_json::json;

fn of(store: &dyn StateStore, record: Option<&str>) -> Vec<HistoryEntry> {
    admin::history(
        store,
        &HistoryFilter {
            record: record.map(str::to_string),
            limit: 1_000,
            ..HistoryFilter::default()
        },
    )
    .expect("history")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applied_and_failed_writes_are_recorded_per_record() {
    let env = common::start(3, 3, FaultConfig::default()).await;
    let mut cfg = env.config("[sync]\ntasks = false\nnotes = false\n");
    cfg.pair_id = Some("acme".into());
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open(&env.db_path()).unwrap());
    let engine = Engine::connect_with(cfg, store.clone(), Budgets::default())
        .await
        .expect("engine");
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert!(r.is_clean(), "{r:#?}");

    // The first cycle created each side's contacts on the other: one row per create.
    let all = of(store.as_ref(), None);
    assert_eq!(all.len(), 6, "{all:#?}");
    for e in &all {
        assert_eq!((e.op.as_str(), e.outcome.as_str()), ("create", "applied"));
        assert_eq!(e.source, WriteSource::Poll);
        assert_eq!(e.pair, "acme");
        assert!(e.ghl_id.is_some() && e.sellsy_id.is_some(), "{e:?}");
        assert_eq!(e.winner.as_deref(), Some(e.side.other().as_str()));
    }

    // An edit on GHL, synced by a poll: one update of Sellsy, old → new.
    let g = env.ghl.state().contact_ids()[0].clone();
    let s = env.partner(&engine, &g);
    let before = env.ghl.state().contact(&g).unwrap();
    let old_first = before["firstName"].clone();
    let email = before["email"].as_str().expect("seeded e-mail").to_string();
    env.ghl_client()
        .contacts()
        .update(
            &g,
            &ContactInput {
                first_name: Some("Historia".into()),
                ..ContactInput::default()
            },
        )
        .await
        .unwrap();
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert!(r.is_clean(), "{r:#?}");
    let mine = of(store.as_ref(), Some(&g));
    let updates: Vec<&HistoryEntry> = mine.iter().filter(|e| e.op == "update").collect();
    assert_eq!(updates.len(), 1, "{mine:#?}");
    let u = updates[0];
    assert_eq!(u.side, Side::Sellsy);
    assert_eq!(u.kind, Kind::Contact);
    assert_eq!(u.source, WriteSource::Poll);
    assert_eq!(u.outcome, "applied");
    assert_eq!(u.winner.as_deref(), Some("ghl"));
    assert_eq!(u.ghl_id.as_deref(), Some(g.as_str()));
    assert_eq!(u.sellsy_id.as_deref(), Some(s.as_str()));
    assert_eq!(u.changes.len(), 1, "{:?}", u.changes);
    assert_eq!(u.changes[0].field, "first_name");
    assert_eq!(u.changes[0].old, old_first);
    assert_eq!(u.changes[0].new, json!("Historia"));
    assert!(u.error.is_none());

    // The same rows by the Sellsy id and by the e-mail (any case); none of another
    // contact's.
    assert_eq!(of(store.as_ref(), Some(&s)), mine);
    assert_eq!(of(store.as_ref(), Some(&email.to_uppercase())), mine);
    assert_eq!(mine.len(), 2, "the create and the update: {mine:#?}");
    let other = env.ghl.state().contact_ids()[1].clone();
    assert!(of(store.as_ref(), Some(&other))
        .iter()
        .all(|e| e.ghl_id.as_deref() == Some(other.as_str())));

    // A write Sellsy refuses (a last name over its 200 characters) is recorded as
    // failed, with the API's message.
    env.ghl_client()
        .contacts()
        .update(
            &g,
            &ContactInput {
                last_name: Some("L".repeat(250)),
                ..ContactInput::default()
            },
        )
        .await
        .unwrap();
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert_eq!(r.failed_now, 1, "{r:#?}");
    let latest = of(store.as_ref(), Some(&g));
    let failed = &latest[0];
    assert_eq!(failed.outcome, "failed", "{latest:#?}");
    assert_eq!(failed.side, Side::Sellsy);
    assert_eq!(failed.changes[0].field, "last_name");
    assert!(
        failed.error.as_deref().is_some_and(|e| !e.is_empty()),
        "{failed:?}"
    );

    // A webhook hint's writes are recorded as such.
    let w = env.ghl.state().contact_ids()[2].clone();
    env.ghl_client()
        .contacts()
        .update(
            &w,
            &ContactInput {
                first_name: Some("Hinted".into()),
                ..ContactInput::default()
            },
        )
        .await
        .unwrap();
    with_source(
        WriteSource::Webhook,
        engine.sync_hint(&Hint::GhlContact(w.clone())),
    )
    .await
    .unwrap();
    let hinted = of(store.as_ref(), Some(&w));
    assert_eq!(hinted[0].source, WriteSource::Webhook, "{hinted:#?}");
    assert_eq!(hinted[0].op, "update");
    assert_eq!(hinted[0].changes[0].new, json!("Hinted"));

    // The pair filter.
    let none = admin::history(
        store.as_ref(),
        &HistoryFilter {
            pair: Some("other".into()),
            ..HistoryFilter::default()
        },
    )
    .unwrap();
    assert!(none.is_empty());

    // Retention: rows older than 90 days (the default) go at the next cycle.
    let total = of(store.as_ref(), None).len();
    {
        let conn = rusqlite::Connection::open(env.db_path()).unwrap();
        let aged = conn
            .execute(
                "UPDATE history SET at = '2020-01-01T00:00:00.000Z' WHERE op = 'create'",
                [],
            )
            .unwrap();
        assert_eq!(aged, 6);
    }
    engine.run_once(false, &common::quiet()).await.unwrap();
    let kept = of(store.as_ref(), None);
    assert!(kept.iter().all(|e| e.op != "create"), "{kept:#?}");
    assert_eq!(kept.len(), total - 6, "only the aged rows went: {kept:#?}");
    env.cleanup();
}

/// The write that carries out a resolved conflict is recorded as won by `manual`;
/// the next write of the field is an ordinary one again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_conflict_is_written_as_manual() {
    let env = common::start(1, 0, FaultConfig::default()).await;
    let engine = env
        .engine("[sync]\ntasks = false\nnotes = false\n[fields.website]\nconflict = \"manual\"\n")
        .await;
    assert!(engine
        .run_once(false, &common::quiet())
        .await
        .unwrap()
        .is_clean());
    let g = env.ghl.state().contact_ids()[0].clone();
    let sid: i64 = env.partner(&engine, &g).parse().unwrap();
    env.ghl_client()
        .contacts()
        .update(
            &g,
            &ContactInput {
                website: Some("https://ghl.example".into()),
                ..ContactInput::default()
            },
        )
        .await
        .unwrap();
    env.sellsy_client()
        .update_contact(sid, &json!({"website": "https://sellsy.example"}))
        .await
        .unwrap();
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert_eq!(r.conflicts_queued, 1, "{r:#?}");
    let store = engine.store().clone();
    let open = admin::conflicts(store.as_ref(), false).unwrap();
    admin::resolve_conflict(store.as_ref(), open[0].id, Side::Sellsy).unwrap();
    assert!(engine
        .run_once(false, &common::quiet())
        .await
        .unwrap()
        .is_clean());
    let h = of(store.as_ref(), Some(&g));
    let w = &h[0];
    assert_eq!((w.op.as_str(), w.side), ("update", Side::Ghl), "{h:#?}");
    assert_eq!(w.winner.as_deref(), Some("manual"), "{w:?}");
    assert_eq!(w.changes[0].field, "website");
    assert_eq!(w.changes[0].old, json!("https://ghl.example"));
    assert_eq!(w.changes[0].new, json!("https://sellsy.example"));

    env.sellsy_client()
        .update_contact(sid, &json!({"website": "https://later.example"}))
        .await
        .unwrap();
    assert!(engine
        .run_once(false, &common::quiet())
        .await
        .unwrap()
        .is_clean());
    let h = of(store.as_ref(), Some(&g));
    assert_eq!(h[0].winner.as_deref(), Some("sellsy"), "{h:#?}");
    env.cleanup();
}
