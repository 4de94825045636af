//! Leases on runs: two executors on one database (as `serve` and `flow run --once`)
//! resuming the same interrupted run send its write once; the other reports the run as
//! leased. A lease left by a dead owner is taken over once it expired. A database made
//! before leases existed gains the lease columns and keeps its runs.

mod run_support;

use std::sync::Arc;
use std::time::Duration;

use hlbridge_flows::model::Flow;
use hlbridge_flows::run::{Executor, RunError, RunStore};
use hlbridge_flows::template::Templates;
use run_support::{eventually, flow, item, world, World};
use serde_json::json;

const CREATE: &str = r#"
schema_version: 1
name: leased
trigger: { webhook: { app: ghl, events: [ContactCreate] } }
steps:
  - id: create
    action: { operation: "ghl:contacts.create-contact", body: { lastName: "Leased", email: "{{ trigger.email }}" } }
"#;

/// An executor with its own connection to the world's database (another process).
async fn other_executor(w: &World, f: &Flow) -> Executor {
    let store = Arc::new(RunStore::open(&w.dir.join("state.sqlite")).expect("second store"));
    let known = f.clone();
    Executor::new(w.apps().await, store, Arc::new(Templates::new())).with_flows(Box::new(
        move |name: &str| (name == known.name).then(|| (known.clone(), 1)),
    ))
}

fn creates(w: &World) -> u64 {
    w.ghl
        .state()
        .stats()
        .by_operation
        .get("contacts.create-contact")
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn two_executors_resuming_one_run_send_its_write_once() {
    let w = world("lease-two").await;
    let f = flow(CREATE);
    let a = w.executor(std::slice::from_ref(&f)).await;
    let b = other_executor(&w, &f).await;
    assert_ne!(a.owner(), b.owner());
    // A run recorded by a poll just before a crash: running, never executed, no lease.
    let id = w
        .store
        .enqueue(
            &f.name,
            1,
            &item("k1", json!({"email": "once@example.com"})),
        )
        .unwrap()
        .unwrap();
    let (ra, rb) = tokio::join!(a.resume_all(), b.resume_all());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let all: Vec<_> = ra.iter().chain(rb.iter()).collect();
    let ran: Vec<_> = all.iter().filter_map(|r| r.as_ref().ok()).collect();
    let skipped: Vec<&String> = all.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(ran.len(), 1, "exactly one executor ran it: {all:?}");
    assert_eq!(ran[0].run_id, id);
    assert_eq!(ran[0].status, "ok", "{:?}", ran[0]);
    assert_eq!(skipped.len(), 1, "{all:?}");
    assert!(
        skipped[0].contains(&format!("run {id} is leased by")),
        "{skipped:?}"
    );
    assert_eq!(w.ghl_contacts_with("once@example.com").len(), 1);
    assert_eq!(creates(&w), 1, "one create request reached the emulator");
    // Ended: the lease is released, and resuming again sends nothing.
    let run = w.store.get(id).unwrap().unwrap();
    assert_eq!(run.status, "ok");
    assert_eq!(run.lease_owner, None);
    let again = b.resume(id, &f).await.unwrap();
    assert_eq!(again.status, "ok");
    assert_eq!(creates(&w), 1);
}

#[tokio::test]
async fn a_dead_owners_lease_is_taken_over_after_it_expires() {
    let w = world("lease-dead").await;
    let f = flow(CREATE);
    let id = w
        .store
        .enqueue(
            &f.name,
            1,
            &item("k2", json!({"email": "orphan@example.com"})),
        )
        .unwrap()
        .unwrap();
    // The owner took the run, then was SIGKILLed: its lease stays until it expires.
    assert!(w
        .store
        .take_lease(id, "dead-owner", Duration::from_millis(400))
        .unwrap());
    let b = other_executor(&w, &f)
        .await
        .with_lease(Duration::from_secs(5));
    match b.resume(id, &f).await {
        Err(RunError::Leased { run, owner, .. }) => {
            assert_eq!(run, id);
            assert_eq!(owner, "dead-owner");
        }
        other => panic!("expected the run to be leased, got {other:?}"),
    }
    assert_eq!(creates(&w), 0, "nothing sent while the lease held");
    let out = eventually(20, || async {
        match b.resume(id, &f).await {
            Ok(out) => Some(out),
            Err(RunError::Leased { .. }) => None,
            Err(e) => panic!("{e}"),
        }
    })
    .await;
    assert_eq!(out.status, "ok", "{out:?}");
    assert_eq!(w.ghl_contacts_with("orphan@example.com").len(), 1);
    assert_eq!(creates(&w), 1);
    assert_eq!(w.store.get(id).unwrap().unwrap().lease_owner, None);
}

#[tokio::test]
async fn a_running_lease_is_renewed_and_blocks_others() {
    let w = world("lease-renew").await;
    let f = flow(CREATE);
    let id = w
        .store
        .enqueue(
            &f.name,
            1,
            &item("k3", json!({"email": "held@example.com"})),
        )
        .unwrap()
        .unwrap();
    let store = RunStore::open(&w.dir.join("state.sqlite")).unwrap();
    assert!(store
        .take_lease(id, "owner-a", Duration::from_secs(30))
        .unwrap());
    // Renewing is ours only; another owner can neither renew nor take it.
    assert!(store
        .renew_lease(id, "owner-a", Duration::from_secs(30))
        .unwrap());
    assert!(!store
        .renew_lease(id, "owner-b", Duration::from_secs(30))
        .unwrap());
    assert!(!store
        .take_lease(id, "owner-b", Duration::from_secs(30))
        .unwrap());
    let held = store.lease_holder(id).unwrap().unwrap();
    assert_eq!(held.owner, "owner-a");
    let listed = w.store.get(id).unwrap().unwrap();
    assert_eq!(listed.lease_owner.as_deref(), Some("owner-a"));
    // Released: the next one takes it.
    store.release_lease(id, "owner-a").unwrap();
    assert_eq!(store.lease_holder(id).unwrap(), None);
    assert!(store
        .take_lease(id, "owner-b", Duration::from_secs(30))
        .unwrap());
}

#[test]
fn a_database_from_before_leases_keeps_its_runs() {
    let dir = std::env::temp_dir().join(format!(
        "hlb-lease-migrate-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("state.sqlite");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "CREATE TABLE flow_runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                flow TEXT NOT NULL, version INTEGER NOT NULL, run_key TEXT NOT NULL,
                status TEXT NOT NULL, trigger TEXT NOT NULL, error TEXT, failed_step TEXT,
                started TEXT NOT NULL, finished TEXT, replay_of INTEGER, resume_at TEXT,
                UNIQUE(flow, version, run_key));
             INSERT INTO flow_runs (flow, version, run_key, status, trigger, started)
             VALUES ('old', 1, 'k', 'running', '{}', '2026-01-01T00:00:00.000Z');",
        )
        .unwrap();
    }
    let store = RunStore::open(&db).unwrap();
    let run = store.get(1).unwrap().unwrap();
    assert_eq!((run.flow.as_str(), run.status.as_str()), ("old", "running"));
    assert_eq!(run.lease_owner, None);
    assert!(store.take_lease(1, "me", Duration::from_secs(5)).unwrap());
    // Opening again (another process) does not migrate twice.
    let again = RunStore::open(&db).unwrap();
    assert_eq!(
        again.get(1).unwrap().unwrap().lease_owner.as_deref(),
        Some("me")
    );
}
