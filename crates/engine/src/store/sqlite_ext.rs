//! SQLite queries added with the staged engine: keyset paging of the dirty queue,
//! item parents, and the GHL notes sweep coverage. Every query here is on the hot
//! path and uses an index (see the `EXPLAIN QUERY PLAN` test).

use rusqlite::{params, Connection};

use super::{Kind, Link, NotesCoverage, Record, Side};
use crate::error::Result;

/// Contact links carry a coverage row (`''` = never read) while active.
pub(super) fn coverage_on_link(conn: &Connection, link: &Link) -> rusqlite::Result<()> {
    if link.kind != Kind::Contact {
        return Ok(());
    }
    if link.state == "active" {
        conn.execute(
            "INSERT OR IGNORE INTO notes_coverage (ghl_id, covered_at) VALUES (?1, '')",
            [&link.ghl_id],
        )?;
    } else {
        conn.execute("DELETE FROM notes_coverage WHERE ghl_id = ?1", [&link.ghl_id])?;
    }
    Ok(())
}

pub(super) fn dirty_after(
    conn: &Connection,
    side: Side,
    kind: Kind,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Record>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {} FROM records WHERE side = ?1 AND kind = ?2 AND dirty = 1 AND id > ?3
         ORDER BY id LIMIT ?4",
        super::sqlite::RECORD_COLS
    ))?;
    let rows = st.query_map(
        params![side.as_str(), kind.as_str(), after.unwrap_or(""), limit as i64],
        super::sqlite::record_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn children(
    conn: &Connection,
    side: Side,
    kind: Kind,
    parent: &str,
) -> Result<Vec<Record>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {} FROM records WHERE side = ?1 AND kind = ?2 AND parent = ?3",
        super::sqlite::RECORD_COLS
    ))?;
    let rows = st.query_map(
        params![side.as_str(), kind.as_str(), parent],
        super::sqlite::record_row,
    )?;
    let mut out: Vec<Record> = rows.collect::<rusqlite::Result<_>>()?;
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

pub(super) fn mark_children_dirty(
    conn: &Connection,
    side: Side,
    kind: Kind,
    parent: &str,
) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE records SET dirty = 1 WHERE side = ?1 AND kind = ?2 AND parent = ?3",
        params![side.as_str(), kind.as_str(), parent],
    )?)
}

pub(super) fn notes_due(conn: &Connection, limit: usize, uncovered_only: bool) -> Result<Vec<String>> {
    let sql = if uncovered_only {
        "SELECT ghl_id FROM notes_coverage WHERE covered_at = '' LIMIT ?1"
    } else {
        "SELECT ghl_id FROM notes_coverage ORDER BY covered_at LIMIT ?1"
    };
    let mut st = conn.prepare_cached(sql)?;
    let rows = st.query_map([limit as i64], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn mark_notes_covered(conn: &mut Connection, ghl_ids: &[String]) -> Result<()> {
    let tx = conn.transaction()?;
    let now = chrono::Utc::now().to_rfc3339();
    {
        let mut st =
            tx.prepare_cached("UPDATE notes_coverage SET covered_at = ?2 WHERE ghl_id = ?1")?;
        for id in ghl_ids {
            st.execute(params![id, now])?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn notes_coverage(conn: &Connection) -> Result<NotesCoverage> {
    let total: i64 = conn.query_row("SELECT COUNT(*) FROM notes_coverage", [], |r| r.get(0))?;
    let uncovered: i64 = conn.query_row(
        "SELECT COUNT(*) FROM notes_coverage WHERE covered_at = ''",
        [],
        |r| r.get(0),
    )?;
    let oldest: Option<String> = conn.query_row(
        "SELECT MIN(covered_at) FROM notes_coverage WHERE covered_at > ''",
        [],
        |r| r.get(0),
    )?;
    Ok(NotesCoverage {
        covered: (total - uncovered) as u64,
        total: total as u64,
        oldest,
    })
}

pub(super) fn notes_covered(conn: &Connection, ghl_id: &str) -> Result<bool> {
    use rusqlite::OptionalExtension;
    let at: Option<String> = conn
        .query_row(
            "SELECT covered_at FROM notes_coverage WHERE ghl_id = ?1",
            [ghl_id],
            |r| r.get(0),
        )
        .optional()?;
    // No row: not a linked contact (nothing to read).
    Ok(at.is_none_or(|a| !a.is_empty()))
}
