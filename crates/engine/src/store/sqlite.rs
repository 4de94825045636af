//! The SQLite state store: one file, WAL, `synchronous=FULL` (a committed step
//! survives a power cut or kill -9).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde_json::Value;

use super::migrations::migrate;
use super::sqlite_ext as ext;
use super::sqlite_rows::*;
use super::*;
use crate::error::{EngineError, Result};

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

impl SqliteStore {
    /// Open the store at `path`, creating it (and its folder) when missing. The file
    /// is kept private (mode 0600, tightened when an older version left it wider); SQLite
    /// gives its -wal and -shm files the same mode.
    pub fn open(path: &Path) -> Result<Self> {
        hlbridge_core::fsutil::ensure_private_db(path)
            .map_err(|e| EngineError::Store(format!("{}: {e}", path.display())))?;
        let conn = Connection::open(path)
            .map_err(|e| EngineError::Store(format!("cannot open {}: {e}", path.display())))?;
        Self::setup(conn)
    }

    /// Open the store at `path` only if the file exists (`None` otherwise); never
    /// creates it.
    pub fn open_existing(path: &Path) -> Result<Option<Self>> {
        if !path.is_file() {
            return Ok(None);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        match Connection::open_with_flags(path, flags) {
            Ok(conn) => Ok(Some(Self::setup(conn)?)),
            Err(_) if !path.exists() => Ok(None),
            Err(e) => Err(EngineError::Store(format!(
                "cannot open {}: {e}",
                path.display()
            ))),
        }
    }

    pub fn in_memory() -> Result<Self> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        wal_mode(&conn)?;
        // Bookkeeping commits use NORMAL (in WAL mode: durable across a process kill,
        // may roll back on power loss, and everything it records can be re-derived by
        // re-matching); intents of writes are committed with FULL (see `enqueue`), and a
        // FULL commit also makes every earlier commit durable.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record an intent in its own FULL-synchronous transaction.
    fn enqueue_in(conn: &mut Connection, entry: &NewOutbox) -> Result<OutboxEntry> {
        let tx = conn.transaction()?;
        let existing = tx
            .query_row(
                &format!(
                    "SELECT {OUTBOX_COLS} FROM outbox WHERE key = ?1 AND status = 'pending' ORDER BY id DESC LIMIT 1"
                ),
                [&entry.key],
                outbox_row,
            )
            .optional()?;
        let context = entry
            .context
            .as_ref()
            .and_then(|c| serde_json::to_string(c).ok());
        if let Some(found) = existing {
            if context.is_some() {
                // The fresh plan's view of the write (old values, winner) replaces it.
                tx.execute(
                    "UPDATE outbox SET context = ?2 WHERE id = ?1",
                    params![found.id, context],
                )?;
            }
            tx.commit()?;
            return Ok(found);
        }
        let stamp = now();
        tx.execute(
            "INSERT INTO outbox (key, target, kind, op, target_id, source_id, payload, status, attempts, created, updated, context)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, ?8, ?8, ?9)",
            params![
                entry.key,
                entry.target.as_str(),
                entry.kind.as_str(),
                entry.op,
                entry.target_id,
                entry.source_id,
                json_text(&entry.payload),
                stamp,
                context,
            ],
        )?;
        let id = tx.last_insert_rowid();
        let row = tx.query_row(
            &format!("SELECT {OUTBOX_COLS} FROM outbox WHERE id = ?1"),
            [id],
            outbox_row,
        )?;
        tx.commit()?;
        Ok(row)
    }

    /// The schema version applied.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn().query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?)
    }
}

impl StateStore for SqliteStore {
    fn link_by(&self, kind: Kind, side: Side, id: &str) -> Result<Option<Link>> {
        let col = match side {
            Side::Ghl => "ghl_id",
            Side::Sellsy => "sellsy_id",
        };
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {LINK_COLS} FROM links WHERE kind = ?1 AND {col} = ?2"),
                params![kind.as_str(), id],
                link_row,
            )
            .optional()?)
    }

    fn links(&self, kind: Kind, parent_ghl_id: Option<&str>) -> Result<Vec<Link>> {
        let conn = self.conn();
        let mut out = Vec::new();
        match parent_ghl_id {
            Some(parent) => {
                let mut st = conn.prepare(&format!(
                    "SELECT {LINK_COLS} FROM links WHERE kind = ?1 AND parent_ghl_id = ?2 ORDER BY ghl_id"
                ))?;
                for l in st.query_map(params![kind.as_str(), parent], link_row)? {
                    out.push(l?);
                }
            }
            None => {
                let mut st = conn.prepare(&format!(
                    "SELECT {LINK_COLS} FROM links WHERE kind = ?1 ORDER BY ghl_id"
                ))?;
                for l in st.query_map(params![kind.as_str()], link_row)? {
                    out.push(l?);
                }
            }
        }
        Ok(out)
    }

    fn count_links(&self, kind: Kind) -> Result<u64> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM links WHERE kind = ?1 AND state = 'active'",
            [kind.as_str()],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    fn delete_link(&self, kind: Kind, ghl_id: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM links WHERE kind = ?1 AND ghl_id = ?2",
            params![kind.as_str(), ghl_id],
        )?;
        tx.execute(
            "DELETE FROM shadow WHERE kind = ?1 AND ghl_id = ?2",
            params![kind.as_str(), ghl_id],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn put_seen(&self, records: &[Record], cursor: Option<(&str, &Value)>) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut dirty = 0;
        for rec in records {
            let old: Option<(String, i64)> = tx
                .query_row(
                    "SELECT hash, dirty FROM records WHERE side = ?1 AND kind = ?2 AND id = ?3",
                    params![rec.side.as_str(), rec.kind.as_str(), rec.id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let changed = old.as_ref().is_none_or(|(h, _)| *h != rec.hash);
            if changed {
                let mut rec = rec.clone();
                rec.dirty = true;
                upsert_record(&tx, &rec)?;
                dirty += 1;
            }
        }
        if let Some((name, value)) = cursor {
            tx.execute(
                "INSERT INTO cursors (name, value, updated) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                params![name, json_text(value), now()],
            )?;
        }
        tx.commit()?;
        Ok(dirty)
    }

    fn record(&self, side: Side, kind: Kind, id: &str) -> Result<Option<Record>> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT {RECORD_COLS} FROM records WHERE side = ?1 AND kind = ?2 AND id = ?3"
                ),
                params![side.as_str(), kind.as_str(), id],
                record_row,
            )
            .optional()?)
    }

    fn dirty(&self, side: Side, kind: Kind, limit: usize) -> Result<Vec<Record>> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!(
            "SELECT {RECORD_COLS} FROM records WHERE side = ?1 AND kind = ?2 AND dirty = 1
             ORDER BY updated, id LIMIT ?3"
        ))?;
        let rows = st.query_map(
            params![side.as_str(), kind.as_str(), limit as i64],
            record_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn count_dirty(&self, kind: Kind) -> Result<u64> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM records WHERE kind = ?1 AND dirty = 1",
            [kind.as_str()],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    fn count_records(&self, side: Side, kind: Kind) -> Result<u64> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM records WHERE side = ?1 AND kind = ?2",
            params![side.as_str(), kind.as_str()],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    fn record_ids(&self, side: Side, kind: Kind) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT id FROM records WHERE side = ?1 AND kind = ?2")?;
        let rows = st.query_map(params![side.as_str(), kind.as_str()], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn find_records(
        &self,
        side: Side,
        kind: Kind,
        field: &str,
        value: &str,
    ) -> Result<Vec<Record>> {
        let col = match field {
            "email" => "email",
            "phone" => "phone",
            other => {
                return Err(EngineError::Store(format!(
                    "records cannot be matched on `{other}`"
                )))
            }
        };
        let conn = self.conn();
        let mut st = conn.prepare(&format!(
            "SELECT {RECORD_COLS} FROM records WHERE side = ?1 AND kind = ?2 AND {col} = ?3 ORDER BY id"
        ))?;
        let rows = st.query_map(params![side.as_str(), kind.as_str(), value], record_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn mark_dirty(&self, side: Side, kind: Kind, id: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE records SET dirty = 1 WHERE side = ?1 AND kind = ?2 AND id = ?3",
            params![side.as_str(), kind.as_str(), id],
        )?;
        Ok(())
    }

    fn dirty_after(
        &self,
        side: Side,
        kind: Kind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        ext::dirty_after(&self.conn(), side, kind, after, limit)
    }

    fn children(&self, side: Side, kind: Kind, parent: &str) -> Result<Vec<Record>> {
        ext::children(&self.conn(), side, kind, parent)
    }

    fn mark_children_dirty(&self, side: Side, kind: Kind, parent: &str) -> Result<usize> {
        ext::mark_children_dirty(&self.conn(), side, kind, parent)
    }

    fn notes_due(&self, limit: usize, uncovered_only: bool) -> Result<Vec<String>> {
        ext::notes_due(&self.conn(), limit, uncovered_only)
    }

    fn mark_notes_covered(&self, ghl_ids: &[String]) -> Result<()> {
        ext::mark_notes_covered(&mut self.conn(), ghl_ids)
    }

    fn notes_covered(&self, ghl_id: &str) -> Result<bool> {
        ext::notes_covered(&self.conn(), ghl_id)
    }

    fn notes_coverage(&self) -> Result<NotesCoverage> {
        ext::notes_coverage(&self.conn())
    }

    fn shadow(&self, kind: Kind, ghl_id: &str) -> Result<BTreeMap<String, Value>> {
        let conn = self.conn();
        let mut st =
            conn.prepare("SELECT field, value FROM shadow WHERE kind = ?1 AND ghl_id = ?2")?;
        let rows = st.query_map(params![kind.as_str(), ghl_id], |r| {
            Ok((r.get::<_, String>(0)?, parse_json(r.get(1)?)))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn commit(&self, commit: &Commit) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for link in &commit.links {
            save_link(&tx, link)?;
        }
        for (kind, ghl_id, fields) in &commit.shadows {
            tx.execute(
                "DELETE FROM shadow WHERE kind = ?1 AND ghl_id = ?2",
                params![kind.as_str(), ghl_id],
            )?;
            for (field, value) in fields {
                tx.execute(
                    "INSERT INTO shadow (kind, ghl_id, field, value) VALUES (?1, ?2, ?3, ?4)",
                    params![kind.as_str(), ghl_id, field, json_text(value)],
                )?;
            }
        }
        for rec in &commit.records {
            upsert_record(&tx, rec)?;
        }
        for (side, kind, id, hash) in &commit.clean {
            tx.execute(
                "UPDATE records SET dirty = 0 WHERE side = ?1 AND kind = ?2 AND id = ?3 AND hash = ?4",
                params![side.as_str(), kind.as_str(), id, hash],
            )?;
        }
        for (side, kind, id) in &commit.forget {
            tx.execute(
                "DELETE FROM records WHERE side = ?1 AND kind = ?2 AND id = ?3",
                params![side.as_str(), kind.as_str(), id],
            )?;
        }
        for id in &commit.outbox_done {
            let settled = tx.execute(
                "UPDATE outbox SET status = 'done', updated = ?2 WHERE id = ?1 AND status <> 'done'",
                params![id, now()],
            )?;
            if settled > 0 {
                super::sqlite_history::record(&tx, *id, "applied", None)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn cursor(&self, name: &str) -> Result<Option<Value>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM cursors WHERE name = ?1", [name], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .map(parse_json))
    }

    fn set_cursor(&self, name: &str, value: &Value) -> Result<()> {
        self.conn().execute(
            "INSERT INTO cursors (name, value, updated) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated = excluded.updated",
            params![name, json_text(value), now()],
        )?;
        Ok(())
    }

    fn meta(&self, key: &str) -> Result<Option<Value>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .map(parse_json))
    }

    fn set_meta(&self, key: &str, value: &Value) -> Result<()> {
        self.conn().execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, json_text(value)],
        )?;
        Ok(())
    }

    fn enqueue(&self, entry: &NewOutbox) -> Result<OutboxEntry> {
        let mut conn = self.conn();
        conn.pragma_update(None, "synchronous", "FULL")?;
        let result = Self::enqueue_in(&mut conn, entry);
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        result
    }
    fn finish(&self, id: i64, outcome: Outcome<'_>) -> Result<()> {
        let (status, error, count, recorded) = match outcome {
            Outcome::Done => ("done", None, 1, "applied"),
            Outcome::Found => ("done", None, 0, "found"),
            Outcome::Retry(e) => ("pending", Some(e), 1, "retrying"),
            Outcome::Failed(e) => ("failed", Some(e), 1, "failed"),
            Outcome::Superseded => ("superseded", None, 0, "skipped"),
        };
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let changed = tx.execute(
            "UPDATE outbox SET status = ?2, last_error = COALESCE(?3, last_error),
               attempts = attempts + ?4, updated = ?5 WHERE id = ?1 AND status <> 'done'",
            params![id, status, error, count, now()],
        )?;
        if changed > 0 {
            let why = match outcome {
                Outcome::Superseded => Some("superseded: re-planned from fresh reads"),
                _ => error,
            };
            super::sqlite_history::record(&tx, id, recorded, why)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn pending(&self) -> Result<Vec<OutboxEntry>> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!(
            "SELECT {OUTBOX_COLS} FROM outbox WHERE status = 'pending' ORDER BY id"
        ))?;
        let rows = st.query_map([], outbox_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn outbox_counts(&self) -> Result<BTreeMap<String, u64>> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT status, COUNT(*) FROM outbox GROUP BY status")?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_conflict(&self, c: &NewConflict) -> Result<()> {
        super::sqlite_notes::add_conflict(&mut self.conn(), c)
    }

    fn conflicts(&self, open_only: bool) -> Result<Vec<Conflict>> {
        let conn = self.conn();
        let filter = if open_only {
            "WHERE status = 'open'"
        } else {
            ""
        };
        let mut st = conn.prepare(&format!(
            "SELECT {CONFLICT_COLS} FROM conflicts {filter} ORDER BY id"
        ))?;
        let rows = st.query_map([], conflict_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn conflict(&self, id: i64) -> Result<Option<Conflict>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {CONFLICT_COLS} FROM conflicts WHERE id = ?1"),
                [id],
                conflict_row,
            )
            .optional()?)
    }

    fn close_conflict(&self, id: i64, resolution: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE conflicts SET status = 'resolved', resolution = ?2 WHERE id = ?1",
            params![id, resolution],
        )?;
        Ok(())
    }

    fn open_conflict_fields(&self, kind: Kind, ghl_id: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT field FROM conflicts WHERE status = 'open' AND kind = ?1 AND ghl_id = ?2",
        )?;
        let rows = st.query_map(params![kind.as_str(), ghl_id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn archive_note(&self, n: &ArchivedNote) -> Result<()> {
        super::sqlite_notes::archive_note(&self.conn(), n)
    }

    fn search_notes(
        &self,
        query: &str,
        contact: Option<&str>,
        limit: usize,
    ) -> Result<Vec<NoteHit>> {
        super::sqlite_notes::search_notes(&self.conn(), query, contact, limit)
    }

    fn history(&self, filter: &HistoryFilter) -> Result<Vec<HistoryEntry>> {
        super::sqlite_history::query(&self.conn(), filter)
    }

    fn prune_history(&self, before: &str) -> Result<usize> {
        super::sqlite_history::prune(&self.conn(), before)
    }
}

pub use super::sqlite_notes::fts_query;

/// Switch `conn` to WAL. SQLite answers "database is locked" at once (without the busy
/// handler) when another connection opens the same fresh file at that moment, as a
/// pair's first cycle and the service's status read do: retry for up to 10 s.
fn wal_mode(conn: &Connection) -> Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Ok(()) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(e) => return Err(e.into()),
        }
    }
}
