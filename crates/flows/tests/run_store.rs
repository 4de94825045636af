//! The run store: one run per (flow, version, key), steps and intents recorded.

use hlbridge_flows::run::{RunFilter, RunStore};
use serde_json::json;

#[test]
fn a_second_run_with_the_same_key_returns_the_first_and_steps_and_intents_are_kept() {
    let dir = std::env::temp_dir().join(format!("hlb-runstore-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("state.sqlite");
    let _ = std::fs::remove_file(&db);
    let store = RunStore::open(&db).unwrap();
    let first = store
        .insert_run("f", 1, "k1", &json!({"a": 1}), None)
        .unwrap();
    let id = first.expect("new run");
    assert_eq!(
        store.insert_run("f", 1, "k1", &json!({}), None).unwrap(),
        Err(id)
    );
    assert!(store
        .insert_run("f", 2, "k1", &json!({}), None)
        .unwrap()
        .is_ok());

    store
        .begin_step(id, "loop[3].create", 1, &json!({"x": 1}))
        .unwrap();
    store
        .end_step(
            id,
            "loop[3].create",
            "ok",
            Some(&json!({"id": "c1"})),
            None,
            &json!([]),
        )
        .unwrap();
    let step = store.step(id, "loop[3].create").unwrap().unwrap();
    assert_eq!(step.output, Some(json!({"id": "c1"})));
    assert_eq!(step.status, "ok");

    assert_eq!(store.intent("key").unwrap(), None);
    store
        .record_intent("key", id, "loop[3].create", &json!({"method": "POST"}))
        .unwrap();
    assert_eq!(store.intent("key").unwrap(), Some(None));
    store.settle_intent("key", &json!({"id": "c1"})).unwrap();
    assert_eq!(
        store.intent("key").unwrap(),
        Some(Some(json!({"id": "c1"})))
    );

    store
        .finish_run(id, "failed", Some("boom"), Some("loop[3].create"))
        .unwrap();
    let failed = store
        .list(&RunFilter {
            status: Some("failed".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].failed_step.as_deref(), Some("loop[3].create"));
    assert!(failed[0].finished.is_some());
    let _ = std::fs::remove_dir_all(&dir);
}
