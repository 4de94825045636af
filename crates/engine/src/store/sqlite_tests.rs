//! Unit tests of the SQLite store.

use super::sqlite::SqliteStore;
use super::*;
use serde_json::json;

fn rec(side: Side, id: &str, data: Value) -> Record {
    Record {
        side,
        kind: Kind::Contact,
        id: id.into(),
        parent: None,
        hash: crate::canonical::hash(&data),
        data,
        updated: None,
        dirty: false,
    }
}

#[test]
fn seen_records_become_dirty_only_when_they_change() {
    let s = SqliteStore::in_memory().unwrap();
    assert_eq!(s.schema_version().unwrap(), 3);
    let r = rec(Side::Ghl, "a", json!({"email": "a@x.io"}));
    assert_eq!(
        s.put_seen(std::slice::from_ref(&r), Some(("c", &json!([1]))))
            .unwrap(),
        1
    );
    assert_eq!(s.cursor("c").unwrap(), Some(json!([1])));
    s.commit(&Commit {
        clean: vec![(Side::Ghl, Kind::Contact, "a".into(), r.hash.clone())],
        ..Commit::default()
    })
    .unwrap();
    assert_eq!(s.put_seen(std::slice::from_ref(&r), None).unwrap(), 0);
    assert_eq!(
        s.find_records(Side::Ghl, Kind::Contact, "email", "a@x.io")
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn notes_are_searchable_and_outbox_keys_dedupe() {
    let s = SqliteStore::in_memory().unwrap();
    s.archive_note(&ArchivedNote {
        side: Side::Sellsy,
        note_id: "1".into(),
        ghl_contact_id: Some("g1".into()),
        sellsy_contact_id: Some("7".into()),
        body: "Asked for pricing of the annual plan".into(),
        updated: None,
    })
    .unwrap();
    assert_eq!(s.search_notes("pricing annual", None, 10).unwrap().len(), 1);
    assert_eq!(s.search_notes("pricing", Some("g2"), 10).unwrap().len(), 0);
    assert_eq!(s.search_notes("-:\"", None, 10).unwrap().len(), 0);
    let new = NewOutbox {
        key: "k".into(),
        target: Side::Ghl,
        kind: Kind::Contact,
        op: "create".into(),
        target_id: None,
        source_id: "7".into(),
        payload: json!({}),
        context: None,
    };
    let a = s.enqueue(&new).unwrap();
    let b = s.enqueue(&new).unwrap();
    assert_eq!(a.id, b.id);
    s.finish(a.id, Outcome::Done).unwrap();
    assert!(s.pending().unwrap().is_empty());
}

#[test]
fn postgres_urls_are_refused_clearly() {
    let Err(e) = open("postgres://x/y") else {
        panic!("postgres must be refused")
    };
    let e = e.to_string();
    assert!(e.contains("not supported yet"), "{e}");
}

fn intent(key: &str, target: Side, target_id: Option<&str>, context: WriteContext) -> NewOutbox {
    NewOutbox {
        key: key.into(),
        target,
        kind: Kind::Contact,
        op: if target_id.is_some() {
            "update"
        } else {
            "create"
        }
        .into(),
        target_id: target_id.map(str::to_string),
        source_id: "g1".into(),
        payload: json!({}),
        context: Some(context),
    }
}

use super::history::{FieldChange, WriteContext, WriteSource};

#[test]
fn settled_writes_leave_one_history_row_each() {
    let s = SqliteStore::in_memory().unwrap();
    let cx = WriteContext {
        pair: "p1".into(),
        source: WriteSource::Webhook,
        email: Some("Ann@X.io".into()),
        changes: vec![FieldChange {
            field: "city".into(),
            old: json!("Lyon"),
            new: json!("Paris"),
        }],
        winner: Some("ghl".into()),
        manual_key: Some("manual:contact:g1".into()),
        ..WriteContext::default()
    };
    s.set_meta("manual:contact:g1", &json!(["city"])).unwrap();
    // A create: the id it made comes from the link saved in the same commit.
    let a = s
        .enqueue(&intent("a", Side::Sellsy, None, cx.clone()))
        .unwrap();
    let commit = Commit {
        links: vec![Link::new(Kind::Contact, "g1", "77")],
        outbox_done: vec![a.id],
        ..Commit::default()
    };
    s.commit(&commit).unwrap();
    s.commit(&commit).unwrap();
    let b = s
        .enqueue(&intent("b", Side::Sellsy, Some("77"), cx.clone()))
        .unwrap();
    s.finish(b.id, Outcome::Retry("HTTP 503")).unwrap();
    s.finish(b.id, Outcome::Failed("HTTP 422: bad email"))
        .unwrap();

    let all = s.history(&HistoryFilter::default()).unwrap();
    assert_eq!(all.len(), 3, "{all:#?}");
    let applied = all.iter().find(|h| h.outcome == "applied").unwrap();
    assert_eq!(applied.sellsy_id.as_deref(), Some("77"));
    assert_eq!(applied.ghl_id.as_deref(), Some("g1"));
    assert_eq!(applied.pair, "p1");
    assert_eq!(applied.source, WriteSource::Webhook);
    assert_eq!(applied.changes[0].new, json!("Paris"));
    assert_eq!(all[0].outcome, "failed", "newest first");
    assert_eq!(all[0].error.as_deref(), Some("HTTP 422: bad email"));
    assert_eq!(all[1].outcome, "retrying");
    assert_eq!(
        s.meta("manual:contact:g1").unwrap(),
        None,
        "resolution carried out"
    );

    let by = |record: &str| {
        s.history(&HistoryFilter {
            record: Some(record.into()),
            ..HistoryFilter::default()
        })
        .unwrap()
        .len()
    };
    assert_eq!(by("77"), 3);
    assert_eq!(by("g1"), 3);
    assert_eq!(by("ann@x.io"), 3);
    assert_eq!(by("ANN@x.io"), 3);
    assert_eq!(by("nobody@x.io"), 0);
    let other_pair = HistoryFilter {
        pair: Some("p2".into()),
        ..HistoryFilter::default()
    };
    assert!(s.history(&other_pair).unwrap().is_empty());
    let limited = HistoryFilter {
        limit: 1,
        ..HistoryFilter::default()
    };
    assert_eq!(s.history(&limited).unwrap().len(), 1);

    let future = (chrono::Utc::now() + chrono::Duration::seconds(5)).to_rfc3339();
    let since = HistoryFilter {
        since: Some(future.clone()),
        ..HistoryFilter::default()
    };
    assert!(s.history(&since).unwrap().is_empty());
    let past = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    assert_eq!(s.prune_history(&past).unwrap(), 0);
    assert_eq!(s.prune_history(&future).unwrap(), 3);
    assert!(s.history(&HistoryFilter::default()).unwrap().is_empty());
}

#[cfg(unix)]
#[test]
fn the_database_file_is_private_and_read_only_opens_never_create_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("hlbridge-store-{}", uuid::Uuid::new_v4()));
    let path = dir.join("state.sqlite");
    assert!(SqliteStore::open_existing(&path).unwrap().is_none());
    assert!(!path.exists() && !dir.exists(), "nothing created");
    let url = format!("sqlite://{}", path.display());
    assert!(open_existing(&url).unwrap().is_none());
    assert!(!path.exists());
    {
        let s = SqliteStore::open(&path).unwrap();
        s.set_meta("k", &json!(1)).unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        let wal = dir.join("state.sqlite-wal");
        assert!(wal.exists(), "WAL mode keeps a -wal file while open");
        assert_eq!(mode(&wal), 0o600);
        assert_eq!(mode(&dir.join("state.sqlite-shm")), 0o600);
    }
    let s = open_existing(&url).unwrap().expect("exists now");
    assert_eq!(s.meta("k").unwrap(), Some(json!(1)));
    let _ = std::fs::remove_dir_all(&dir);
}
