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
        conn.execute(
            "DELETE FROM notes_coverage WHERE ghl_id = ?1",
            [&link.ghl_id],
        )?;
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
        super::sqlite_rows::RECORD_COLS
    ))?;
    let rows = st.query_map(
        params![
            side.as_str(),
            kind.as_str(),
            after.unwrap_or(""),
            limit as i64
        ],
        super::sqlite_rows::record_row,
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
        super::sqlite_rows::RECORD_COLS
    ))?;
    let rows = st.query_map(
        params![side.as_str(), kind.as_str(), parent],
        super::sqlite_rows::record_row,
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

pub(super) fn notes_due(
    conn: &Connection,
    limit: usize,
    uncovered_only: bool,
) -> Result<Vec<String>> {
    let sql = if uncovered_only {
        "SELECT ghl_id FROM notes_coverage WHERE covered_at = '' LIMIT ?1"
    } else {
        "SELECT ghl_id FROM notes_coverage WHERE covered_at >= '' ORDER BY covered_at LIMIT ?1"
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

#[cfg(test)]
mod explain {
    //! Every query on the sync's hot path uses an index: `EXPLAIN QUERY PLAN` of each
    //! (as written in this module and in `sqlite.rs`) shows no full scan.

    use rusqlite::Connection;

    const HOT: &[(&str, &str)] = &[
        ("link_by ghl", "SELECT * FROM links WHERE kind = ?1 AND ghl_id = ?2"),
        ("link_by sellsy", "SELECT * FROM links WHERE kind = ?1 AND sellsy_id = ?2"),
        ("links of a parent", "SELECT * FROM links WHERE kind = ?1 AND parent_ghl_id = ?2 ORDER BY ghl_id"),
        ("count_links", "SELECT COUNT(*) FROM links WHERE kind = ?1 AND state = 'active'"),
        ("save_link", "DELETE FROM links WHERE kind = ?1 AND sellsy_id = ?2 AND ghl_id <> ?3"),
        ("put_seen", "SELECT hash, dirty FROM records WHERE side = ?1 AND kind = ?2 AND id = ?3"),
        ("record", "SELECT * FROM records WHERE side = ?1 AND kind = ?2 AND id = ?3"),
        ("dirty_after", "SELECT * FROM records WHERE side = ?1 AND kind = ?2 AND dirty = 1 AND id > ?3 ORDER BY id LIMIT ?4"),
        ("count_dirty", "SELECT COUNT(*) FROM records WHERE kind = ?1 AND dirty = 1"),
        ("record_ids", "SELECT id FROM records WHERE side = ?1 AND kind = ?2"),
        ("partner by email", "SELECT * FROM records WHERE side = ?1 AND kind = ?2 AND email = ?3 ORDER BY id"),
        ("partner by phone", "SELECT * FROM records WHERE side = ?1 AND kind = ?2 AND phone = ?3 ORDER BY id"),
        ("children", "SELECT * FROM records WHERE side = ?1 AND kind = ?2 AND parent = ?3"),
        ("mark_children_dirty", "UPDATE records SET dirty = 1 WHERE side = ?1 AND kind = ?2 AND parent = ?3"),
        ("clean", "UPDATE records SET dirty = 0 WHERE side = ?1 AND kind = ?2 AND id = ?3 AND hash = ?4"),
        ("shadow", "SELECT field, value FROM shadow WHERE kind = ?1 AND ghl_id = ?2"),
        ("outbox by key", "SELECT * FROM outbox WHERE key = ?1 AND status = 'pending' ORDER BY id DESC LIMIT 1"),
        ("outbox pending", "SELECT * FROM outbox WHERE status = 'pending' ORDER BY id"),
        ("outbox finish", "UPDATE outbox SET status = ?2 WHERE id = ?1"),
        ("open conflict fields", "SELECT field FROM conflicts WHERE status = 'open' AND kind = ?1 AND ghl_id = ?2"),
        ("notes due, never read", "SELECT ghl_id FROM notes_coverage WHERE covered_at = '' LIMIT ?1"),
        ("notes due, oldest", "SELECT ghl_id FROM notes_coverage WHERE covered_at >= '' ORDER BY covered_at LIMIT ?1"),
        ("notes covered", "SELECT covered_at FROM notes_coverage WHERE ghl_id = ?1"),
        ("mark notes covered", "UPDATE notes_coverage SET covered_at = ?2 WHERE ghl_id = ?1"),
        ("cursor", "SELECT value FROM cursors WHERE name = ?1"),
        ("meta", "SELECT value FROM meta WHERE key = ?1"),
        ("history of a record", "SELECT * FROM history WHERE (ghl_id = ?1 OR sellsy_id = ?1 OR email = ?2) AND pair = ?3 ORDER BY at DESC, id DESC LIMIT 100"),
        ("history of a pair", "SELECT * FROM history WHERE pair = ?1 AND at >= ?2 ORDER BY at DESC, id DESC LIMIT 100"),
        ("history prune", "DELETE FROM history WHERE at < ?1"),
        ("history settle", "SELECT target, kind, op, target_id, source_id, context FROM outbox WHERE id = ?1"),
    ];

    #[test]
    fn hot_path_queries_use_indexes() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&mut conn).unwrap();
        let mut scans = Vec::new();
        for (name, sql) in HOT {
            let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let n = st.parameter_count();
            let params: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
            let rows: Vec<String> = st
                .query_map(rusqlite::params_from_iter(params.iter()), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for detail in rows {
                if detail.starts_with("SCAN") || detail.contains("TEMP B-TREE") {
                    scans.push(format!("{name}: {detail}"));
                }
            }
        }
        assert!(
            scans.is_empty(),
            "queries scanning instead of using an index: {scans:#?}"
        );
    }
}
