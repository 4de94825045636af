//! Versioned schema: ordered SQL steps, each applied once and recorded in
//! `schema_migrations`.

/// `(version, description, SQL)`, in order. Never edit a shipped step: add one.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "links, records, shadow, outbox, cursors, conflicts, notes archive",
        r#"
CREATE TABLE links (
    kind TEXT NOT NULL,
    ghl_id TEXT NOT NULL,
    sellsy_id TEXT NOT NULL,
    parent_ghl_id TEXT,
    ghl_hash TEXT,
    sellsy_hash TEXT,
    ghl_updated TEXT,
    sellsy_updated TEXT,
    state TEXT NOT NULL DEFAULT 'active',
    PRIMARY KEY (kind, ghl_id),
    UNIQUE (kind, sellsy_id)
);
CREATE INDEX links_parent ON links (kind, parent_ghl_id);

CREATE TABLE records (
    side TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    parent TEXT,
    data TEXT NOT NULL,
    hash TEXT NOT NULL,
    updated TEXT,
    dirty INTEGER NOT NULL DEFAULT 0,
    email TEXT,
    phone TEXT,
    PRIMARY KEY (side, kind, id)
);
CREATE INDEX records_dirty ON records (side, kind, dirty);
CREATE INDEX records_email ON records (side, kind, email);
CREATE INDEX records_phone ON records (side, kind, phone);

CREATE TABLE shadow (
    kind TEXT NOT NULL,
    ghl_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, ghl_id, field)
);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    op TEXT NOT NULL,
    target_id TEXT,
    source_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX outbox_status ON outbox (status);
CREATE INDEX outbox_key ON outbox (key);

CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated TEXT NOT NULL
);

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE conflicts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    ghl_id TEXT NOT NULL,
    sellsy_id TEXT NOT NULL,
    field TEXT NOT NULL,
    ghl_value TEXT NOT NULL,
    sellsy_value TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    resolution TEXT,
    created TEXT NOT NULL
);
CREATE INDEX conflicts_open ON conflicts (status, kind, ghl_id, field);

CREATE TABLE notes_archive (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    side TEXT NOT NULL,
    note_id TEXT NOT NULL,
    ghl_contact_id TEXT,
    sellsy_contact_id TEXT,
    body TEXT NOT NULL,
    updated TEXT,
    UNIQUE (side, note_id)
);
CREATE VIRTUAL TABLE notes_fts USING fts5(body, content='notes_archive', content_rowid='id');
CREATE TRIGGER notes_ai AFTER INSERT ON notes_archive BEGIN
    INSERT INTO notes_fts(rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER notes_ad AFTER DELETE ON notes_archive BEGIN
    INSERT INTO notes_fts(notes_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER notes_au AFTER UPDATE ON notes_archive BEGIN
    INSERT INTO notes_fts(notes_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO notes_fts(rowid, body) VALUES (new.id, new.body);
END;
"#,
    ),
    (
        2,
        "indexes that match the hot-path queries, item parents, notes sweep coverage",
        r#"
DROP INDEX records_email;
DROP INDEX records_phone;
DROP INDEX records_dirty;
CREATE INDEX records_email ON records (side, kind, email, id);
CREATE INDEX records_phone ON records (side, kind, phone, id);
CREATE INDEX records_dirty ON records (side, kind, dirty, id);
CREATE INDEX records_parent ON records (side, kind, parent);
CREATE INDEX records_kind_dirty ON records (kind, dirty);
CREATE INDEX links_state ON links (kind, state);
CREATE INDEX outbox_pending ON outbox (status, id);

CREATE TABLE notes_coverage (
    ghl_id TEXT PRIMARY KEY,
    covered_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX notes_coverage_at ON notes_coverage (covered_at);
INSERT OR IGNORE INTO notes_coverage (ghl_id, covered_at)
    SELECT ghl_id, '' FROM links WHERE kind = 'contact' AND state = 'active';
"#,
    ),
    (
        3,
        "per-record history of writes; the history context of outbox intents",
        r#"
ALTER TABLE outbox ADD COLUMN context TEXT;
CREATE TABLE history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    pair TEXT NOT NULL,
    source TEXT NOT NULL,
    side TEXT NOT NULL,
    kind TEXT NOT NULL,
    ghl_id TEXT,
    sellsy_id TEXT,
    email TEXT,
    op TEXT NOT NULL,
    changes TEXT NOT NULL DEFAULT '[]',
    winner TEXT,
    outcome TEXT NOT NULL,
    error TEXT,
    outbox_id INTEGER
);
CREATE INDEX history_at ON history (at);
CREATE INDEX history_pair ON history (pair, at);
CREATE INDEX history_ghl ON history (ghl_id, at);
CREATE INDEX history_sellsy ON history (sellsy_id, at);
CREATE INDEX history_email ON history (email, at);
"#,
    ),
];

/// Apply the steps not yet recorded, each in its own transaction.
pub fn migrate(conn: &mut rusqlite::Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            description TEXT NOT NULL,
            applied TEXT NOT NULL
        )",
    )?;
    for (version, description, sql) in MIGRATIONS {
        let done: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)",
            [version],
            |r| r.get(0),
        )?;
        if done {
            continue;
        }
        // Another connection may be migrating the same file right now (the service's
        // status read beside a pair's first cycle): take the write lock first (waiting
        // up to the busy timeout), then look again, so each migration runs once.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let done: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)",
            [version],
            |r| r.get(0),
        )?;
        if done {
            tx.commit()?;
            continue;
        }
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, description, applied) VALUES (?1, ?2, ?3)",
            rusqlite::params![version, description, chrono::Utc::now().to_rfc3339()],
        )?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    /// Connections opening one fresh file at the same moment (a pair's first cycle and
    /// the service's status read) all succeed, and each migration is recorded once.
    #[test]
    fn concurrent_opens_of_a_fresh_file_migrate_once() {
        let dir = std::env::temp_dir().join(format!(
            "hlb-migrate-race-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for round in 0..8 {
            let path = dir.join(format!("state-{round}.sqlite"));
            let barrier = Arc::new(Barrier::new(4));
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        crate::store::sqlite::SqliteStore::open(&path).map(|_| ())
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap().expect("every concurrent open succeeds");
            }
            let conn = rusqlite::Connection::open(&path).unwrap();
            let (rows, distinct): (i64, i64) = conn
                .query_row(
                    "SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!(rows, super::MIGRATIONS.len() as i64, "round {round}");
            assert_eq!(rows, distinct, "round {round}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
