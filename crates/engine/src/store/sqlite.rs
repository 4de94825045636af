//! The SQLite state store: one file, WAL, `synchronous=FULL` (a committed step
//! survives a power cut or kill -9).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;

use super::migrations::migrate;
use super::sqlite_ext as ext;
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

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

fn json_text(v: &Value) -> String {
    v.to_string()
}

fn parse_json(s: String) -> Value {
    serde_json::from_str(&s).unwrap_or(Value::Null)
}

fn bad(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("unknown {what} `{value}`").into(),
    )
}

fn kind_of(s: String) -> rusqlite::Result<Kind> {
    Kind::parse(&s).ok_or_else(|| bad("kind", &s))
}

fn side_of(s: String) -> rusqlite::Result<Side> {
    Side::parse(&s).ok_or_else(|| bad("side", &s))
}

const LINK_COLS: &str =
    "kind, ghl_id, sellsy_id, parent_ghl_id, ghl_hash, sellsy_hash, ghl_updated, sellsy_updated, state";

fn link_row(r: &Row<'_>) -> rusqlite::Result<Link> {
    Ok(Link {
        kind: kind_of(r.get(0)?)?,
        ghl_id: r.get(1)?,
        sellsy_id: r.get(2)?,
        parent_ghl_id: r.get(3)?,
        ghl_hash: r.get(4)?,
        sellsy_hash: r.get(5)?,
        ghl_updated: r.get(6)?,
        sellsy_updated: r.get(7)?,
        state: r.get(8)?,
    })
}

pub(super) const RECORD_COLS: &str = "side, kind, id, parent, data, hash, updated, dirty";

pub(super) fn record_row(r: &Row<'_>) -> rusqlite::Result<Record> {
    Ok(Record {
        side: side_of(r.get(0)?)?,
        kind: kind_of(r.get(1)?)?,
        id: r.get(2)?,
        parent: r.get(3)?,
        data: parse_json(r.get(4)?),
        hash: r.get(5)?,
        updated: r.get(6)?,
        dirty: r.get::<_, i64>(7)? != 0,
    })
}

const OUTBOX_COLS: &str =
    "id, key, target, kind, op, target_id, source_id, payload, status, attempts, last_error, created, updated";

fn outbox_row(r: &Row<'_>) -> rusqlite::Result<OutboxEntry> {
    Ok(OutboxEntry {
        id: r.get(0)?,
        key: r.get(1)?,
        target: side_of(r.get(2)?)?,
        kind: kind_of(r.get(3)?)?,
        op: r.get(4)?,
        target_id: r.get(5)?,
        source_id: r.get(6)?,
        payload: parse_json(r.get(7)?),
        status: r.get(8)?,
        attempts: r.get(9)?,
        last_error: r.get(10)?,
        created: r.get(11)?,
        updated: r.get(12)?,
    })
}

const CONFLICT_COLS: &str =
    "id, kind, ghl_id, sellsy_id, field, ghl_value, sellsy_value, status, resolution, created";

fn conflict_row(r: &Row<'_>) -> rusqlite::Result<Conflict> {
    Ok(Conflict {
        id: r.get(0)?,
        kind: kind_of(r.get(1)?)?,
        ghl_id: r.get(2)?,
        sellsy_id: r.get(3)?,
        field: r.get(4)?,
        ghl_value: parse_json(r.get(5)?),
        sellsy_value: parse_json(r.get(6)?),
        status: r.get(7)?,
        resolution: r.get(8)?,
        created: r.get(9)?,
    })
}

/// A canonical text field of a record's data (`{"f": fields, "m": meta}`).
fn text_field(data: &Value, key: &str) -> Option<String> {
    data.get("f")
        .unwrap_or(data)
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn upsert_record(conn: &Connection, rec: &Record) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO records (side, kind, id, parent, data, hash, updated, dirty, email, phone)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (side, kind, id) DO UPDATE SET parent = excluded.parent, data = excluded.data,
           hash = excluded.hash, updated = excluded.updated, dirty = excluded.dirty,
           email = excluded.email, phone = excluded.phone",
        params![
            rec.side.as_str(),
            rec.kind.as_str(),
            rec.id,
            rec.parent,
            json_text(&rec.data),
            rec.hash,
            rec.updated,
            rec.dirty as i64,
            text_field(&rec.data, "email"),
            text_field(&rec.data, "phone"),
        ],
    )?;
    Ok(())
}

fn save_link(conn: &Connection, link: &Link) -> rusqlite::Result<()> {
    // A pair replaces any older pair that used either id.
    conn.execute(
        "DELETE FROM links WHERE kind = ?1 AND sellsy_id = ?2 AND ghl_id <> ?3",
        params![link.kind.as_str(), link.sellsy_id, link.ghl_id],
    )?;
    conn.execute(
        &format!(
            "INSERT INTO links ({LINK_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (kind, ghl_id) DO UPDATE SET sellsy_id = excluded.sellsy_id,
               parent_ghl_id = excluded.parent_ghl_id, ghl_hash = excluded.ghl_hash,
               sellsy_hash = excluded.sellsy_hash, ghl_updated = excluded.ghl_updated,
               sellsy_updated = excluded.sellsy_updated, state = excluded.state"
        ),
        params![
            link.kind.as_str(),
            link.ghl_id,
            link.sellsy_id,
            link.parent_ghl_id,
            link.ghl_hash,
            link.sellsy_hash,
            link.ghl_updated,
            link.sellsy_updated,
            link.state,
        ],
    )?;
    super::sqlite_ext::coverage_on_link(conn, link)?;
    Ok(())
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| EngineError::Store(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)
            .map_err(|e| EngineError::Store(format!("cannot open {}: {e}", path.display())))?;
        Self::setup(conn)
    }

    pub fn in_memory() -> Result<Self> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
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
        if let Some(found) = existing {
            tx.commit()?;
            return Ok(found);
        }
        let stamp = now();
        tx.execute(
            "INSERT INTO outbox (key, target, kind, op, target_id, source_id, payload, status, attempts, created, updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, ?8, ?8)",
            params![
                entry.key,
                entry.target.as_str(),
                entry.kind.as_str(),
                entry.op,
                entry.target_id,
                entry.source_id,
                json_text(&entry.payload),
                stamp,
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
            tx.execute(
                "UPDATE outbox SET status = 'done', updated = ?2 WHERE id = ?1",
                params![id, now()],
            )?;
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
        let (status, error, count) = match outcome {
            Outcome::Done => ("done", None, 1),
            Outcome::Retry(e) => ("pending", Some(e), 1),
            Outcome::Failed(e) => ("failed", Some(e), 1),
            Outcome::Superseded => ("superseded", None, 0),
        };
        self.conn().execute(
            "UPDATE outbox SET status = ?2, last_error = COALESCE(?3, last_error),
               attempts = attempts + ?4, updated = ?5 WHERE id = ?1",
            params![id, status, error, count, now()],
        )?;
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
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let open: Option<i64> = tx
            .query_row(
                "SELECT id FROM conflicts WHERE status = 'open' AND kind = ?1 AND ghl_id = ?2 AND field = ?3",
                params![c.kind.as_str(), c.ghl_id, c.field],
                |r| r.get(0),
            )
            .optional()?;
        match open {
            Some(id) => {
                tx.execute(
                    "UPDATE conflicts SET ghl_value = ?2, sellsy_value = ?3 WHERE id = ?1",
                    params![id, json_text(&c.ghl_value), json_text(&c.sellsy_value)],
                )?;
            }
            None => {
                tx.execute(
                    "INSERT INTO conflicts (kind, ghl_id, sellsy_id, field, ghl_value, sellsy_value, status, created)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7)",
                    params![
                        c.kind.as_str(),
                        c.ghl_id,
                        c.sellsy_id,
                        c.field,
                        json_text(&c.ghl_value),
                        json_text(&c.sellsy_value),
                        now()
                    ],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
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
        self.conn().execute(
            "INSERT INTO notes_archive (side, note_id, ghl_contact_id, sellsy_contact_id, body, updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (side, note_id) DO UPDATE SET
               ghl_contact_id = COALESCE(excluded.ghl_contact_id, ghl_contact_id),
               sellsy_contact_id = COALESCE(excluded.sellsy_contact_id, sellsy_contact_id),
               body = excluded.body, updated = excluded.updated
             WHERE body <> excluded.body OR ghl_contact_id IS NOT excluded.ghl_contact_id
               OR sellsy_contact_id IS NOT excluded.sellsy_contact_id",
            params![
                n.side.as_str(),
                n.note_id,
                n.ghl_contact_id,
                n.sellsy_contact_id,
                n.body,
                n.updated
            ],
        )?;
        Ok(())
    }

    fn search_notes(
        &self,
        query: &str,
        contact: Option<&str>,
        limit: usize,
    ) -> Result<Vec<NoteHit>> {
        let fts = fts_query(query);
        if fts.is_empty() {
            return Ok(Vec::new());
        }
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT a.side, a.note_id, a.ghl_contact_id, a.sellsy_contact_id, a.body,
                    snippet(notes_fts, 0, '[', ']', '…', 12)
             FROM notes_fts JOIN notes_archive a ON a.id = notes_fts.rowid
             WHERE notes_fts MATCH ?1
               AND (?2 IS NULL OR a.ghl_contact_id = ?2 OR a.sellsy_contact_id = ?2)
             ORDER BY rank LIMIT ?3",
        )?;
        let rows = st.query_map(params![fts, contact, limit as i64], |r| {
            Ok(NoteHit {
                side: side_of(r.get(0)?)?,
                note_id: r.get(1)?,
                ghl_contact_id: r.get(2)?,
                sellsy_contact_id: r.get(3)?,
                body: r.get(4)?,
                snippet: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// User text → an FTS5 query: each word quoted (no syntax errors from `-`, `:`, …),
/// all words required.
pub fn fts_query(text: &str) -> String {
    text.split_whitespace()
        .map(|w| w.replace('"', ""))
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
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
        assert_eq!(s.schema_version().unwrap(), 2);
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
}
