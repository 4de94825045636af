//! `hlbridge history`: the recorded writes of the state database, one line each or a
//! JSON array, filtered by record (either side's id or the contact's e-mail), pair
//! and time; a missing database is reported, never created.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hlbridge_engine::store::history::{FieldChange, WriteContext, WriteSource};
use hlbridge_engine::store::sqlite::SqliteStore;
use hlbridge_engine::store::{Commit, Kind, Link, NewOutbox, Outcome, Side, StateStore};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_hlbridge");

fn temp_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("hlbridge-history-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(dir: &Path, db: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("history").args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("HLBRIDGE_") {
            cmd.env_remove(k);
        }
    }
    cmd.env(
        "HLBRIDGE_DATABASE_URL",
        format!("sqlite://{}", db.display()),
    );
    cmd.output().expect("run hlbridge")
}

fn json_of(out: &Output) -> Vec<Value> {
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("a JSON array")
}

/// A state database holding two writes of one contact: a Sellsy update applied
/// (source webhook) and a GHL update given up on.
fn seed(db: &Path) {
    let store = SqliteStore::open(db).unwrap();
    let context = |field: &str, old: &str, new: &str, winner: &str| WriteContext {
        pair: "acme".into(),
        source: WriteSource::Webhook,
        email: Some("ann@example.com".into()),
        changes: vec![FieldChange {
            field: field.into(),
            old: json!(old),
            new: json!(new),
        }],
        winner: Some(winner.into()),
        ..WriteContext::default()
    };
    let applied = store
        .enqueue(&NewOutbox {
            key: "update:sellsy:77:a".into(),
            target: Side::Sellsy,
            kind: Kind::Contact,
            op: "update".into(),
            target_id: Some("77".into()),
            source_id: "gAnn".into(),
            payload: json!({"first_name": "Anna"}),
            context: Some(context("first_name", "Ann", "Anna", "ghl")),
        })
        .unwrap();
    store
        .commit(&Commit {
            links: vec![Link::new(Kind::Contact, "gAnn", "77")],
            outbox_done: vec![applied.id],
            ..Commit::default()
        })
        .unwrap();
    let refused = store
        .enqueue(&NewOutbox {
            key: "update:ghl:gAnn:b".into(),
            target: Side::Ghl,
            kind: Kind::Contact,
            op: "update".into(),
            target_id: Some("gAnn".into()),
            source_id: "77".into(),
            payload: json!({"city": "Lyon"}),
            context: Some(context("city", "Paris", "Lyon", "sellsy")),
        })
        .unwrap();
    store
        .finish(
            refused.id,
            Outcome::Failed("GHL: HTTP 422: city is invalid"),
        )
        .unwrap();
}

#[test]
fn history_lists_filters_and_never_creates_the_database() {
    let dir = temp_dir();
    let db = dir.join("state.sqlite");
    let out = run(&dir, &db, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no sync state at") && err.contains("hlbridge sync"),
        "{err}"
    );
    assert!(!db.exists(), "history created the database");

    seed(&db);
    let all = json_of(&run(&dir, &db, &["--json"]));
    assert_eq!(all.len(), 2, "{all:#?}");
    let failed = &all[0];
    assert_eq!(failed["outcome"], "failed", "newest first: {all:#?}");
    assert_eq!(failed["error"], "GHL: HTTP 422: city is invalid");
    assert_eq!(failed["side"], "ghl");
    let applied = &all[1];
    for (key, want) in [
        ("pair", json!("acme")),
        ("source", json!("webhook")),
        ("side", json!("sellsy")),
        ("kind", json!("contact")),
        ("ghl_id", json!("gAnn")),
        ("sellsy_id", json!("77")),
        ("op", json!("update")),
        ("winner", json!("ghl")),
        ("outcome", json!("applied")),
        ("error", Value::Null),
        (
            "changes",
            json!([{"field": "first_name", "old": "Ann", "new": "Anna"}]),
        ),
    ] {
        assert_eq!(applied[key], want, "{key}: {applied:#}");
    }
    assert!(applied["at"].as_str().is_some_and(|t| t.ends_with('Z')));

    for record in ["gAnn", "77", "ANN@example.com"] {
        assert_eq!(
            json_of(&run(&dir, &db, &["--record", record, "--json"])).len(),
            2
        );
    }
    assert!(json_of(&run(
        &dir,
        &db,
        &["--record", "nobody@example.com", "--json"]
    ))
    .is_empty());
    assert!(json_of(&run(&dir, &db, &["--pair", "other", "--json"])).is_empty());
    assert_eq!(
        json_of(&run(&dir, &db, &["--pair", "acme", "--json"])).len(),
        2
    );
    assert_eq!(
        json_of(&run(&dir, &db, &["--limit", "1", "--json"])).len(),
        1
    );
    assert!(json_of(&run(&dir, &db, &["--since", "2999-01-01", "--json"])).is_empty());

    // Text: one line per write, the change old → new.
    let out = run(&dir, &db, &[]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[1].contains("first_name: \"Ann\" → \"Anna\""),
        "{text}"
    );
    assert!(
        lines[1].contains("applied update contact on Sellsy"),
        "{text}"
    );
    assert!(
        lines[0].contains("failed") && lines[0].contains("HTTP 422"),
        "{text}"
    );
    let out = run(&dir, &db, &["--record", "nobody"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no writes recorded"));

    // An unusable filter is refused with the fix.
    let out = run(&dir, &db, &["--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("YYYY-MM-DD"));
    let _ = std::fs::remove_dir_all(&dir);
}
