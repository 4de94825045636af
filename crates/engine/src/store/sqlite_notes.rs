//! Conflicts queue writes and the notes archive (full-text search) of the SQLite store.

use rusqlite::{params, Connection, OptionalExtension};

use super::sqlite_rows::{json_text, now, side_of};
use super::{ArchivedNote, NewConflict, NoteHit};
use crate::error::Result;

pub(super) fn add_conflict(conn: &mut Connection, c: &NewConflict) -> Result<()> {
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

pub(super) fn archive_note(conn: &Connection, n: &ArchivedNote) -> Result<()> {
    conn.execute(
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

pub(super) fn search_notes(
    conn: &Connection,
    query: &str,
    contact: Option<&str>,
    limit: usize,
) -> Result<Vec<NoteHit>> {
    let fts = fts_query(query);
    if fts.is_empty() {
        return Ok(Vec::new());
    }
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
