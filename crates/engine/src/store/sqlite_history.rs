//! The history table of the SQLite store: a row is written from an outbox entry's
//! [`WriteContext`] in the transaction that settles the entry; read by record, pair
//! and time; pruned by time. Every query uses an index (see the `explain` test).

use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use super::history::{parse_since, stamp, HistoryEntry, HistoryFilter, WriteContext, WriteSource};
use super::sqlite_rows::{kind_of, parse_json, side_of};
use super::Side;
use crate::error::{EngineError, Result};

/// Rows `hlbridge history` shows when no limit is given.
pub const DEFAULT_LIMIT: usize = 100;

/// Record the outcome of outbox entry `outbox_id` (nothing when there is no such
/// entry). `applied` also clears the conflict resolution the write carried out.
pub(super) fn record(
    conn: &Connection,
    outbox_id: i64,
    outcome: &str,
    error: Option<&str>,
) -> rusqlite::Result<()> {
    let row = conn
        .query_row(
            "SELECT target, kind, op, target_id, source_id, context FROM outbox WHERE id = ?1",
            [outbox_id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            },
        )
        .optional()?;
    let Some((target, kind, op, target_id, source_id, context)) = row else {
        return Ok(());
    };
    let cx: WriteContext = context
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or_default();
    let target = side_of(target)?;
    let mut ghl_id = cx.ghl_id.clone();
    let mut sellsy_id = cx.sellsy_id.clone();
    let (target_slot, source_slot) = match target {
        Side::Ghl => (&mut ghl_id, &mut sellsy_id),
        Side::Sellsy => (&mut sellsy_id, &mut ghl_id),
    };
    if source_slot.is_none() {
        *source_slot = Some(source_id.clone());
    }
    if target_slot.is_none() {
        *target_slot = target_id;
    }
    if target_slot.is_none() {
        // A create: the id it made, from the link saved in this same transaction.
        let (target_col, source_col) = match target {
            Side::Ghl => ("ghl_id", "sellsy_id"),
            Side::Sellsy => ("sellsy_id", "ghl_id"),
        };
        *target_slot = conn
            .query_row(
                &format!("SELECT {target_col} FROM links WHERE kind = ?1 AND {source_col} = ?2"),
                params![kind, source_id],
                |r| r.get(0),
            )
            .optional()?;
    }
    let pair = if cx.pair.is_empty() {
        "default"
    } else {
        cx.pair.as_str()
    };
    conn.execute(
        "INSERT INTO history (at, pair, source, side, kind, ghl_id, sellsy_id, email, op, changes,
           winner, outcome, error, outbox_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            stamp(chrono::Utc::now()),
            pair,
            cx.source.as_str(),
            target.as_str(),
            kind,
            ghl_id,
            sellsy_id,
            cx.email.as_deref().map(str::to_lowercase),
            op,
            serde_json::to_string(&cx.changes).unwrap_or_else(|_| "[]".into()),
            cx.winner,
            outcome,
            error,
            outbox_id,
        ],
    )?;
    if outcome == "applied" {
        if let Some(key) = &cx.manual_key {
            conn.execute("DELETE FROM meta WHERE key = ?1", [key])?;
        }
    }
    Ok(())
}

const COLS: &str =
    "at, pair, source, side, kind, ghl_id, sellsy_id, op, changes, winner, outcome, error";

/// Rows matching `f`, newest first.
pub(super) fn query(conn: &Connection, f: &HistoryFilter) -> Result<Vec<HistoryEntry>> {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<String> = Vec::new();
    if let Some(record) = f.record.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        args.push(record.to_string());
        args.push(record.to_lowercase());
        let (a, b) = (args.len() - 1, args.len());
        clauses.push(format!(
            "(ghl_id = ?{a} OR sellsy_id = ?{a} OR email = ?{b})"
        ));
    }
    if let Some(pair) = f.pair.as_deref().filter(|p| !p.is_empty()) {
        args.push(pair.to_string());
        clauses.push(format!("pair = ?{}", args.len()));
    }
    if let Some(since) = f.since.as_deref() {
        let at = parse_since(since).ok_or_else(|| {
            EngineError::Data(format!(
                "since `{since}`: not a date; write YYYY-MM-DD or an RFC 3339 time"
            ))
        })?;
        args.push(at);
        clauses.push(format!("at >= ?{}", args.len()));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let limit = if f.limit == 0 { DEFAULT_LIMIT } else { f.limit };
    let mut st = conn.prepare(&format!(
        "SELECT {COLS} FROM history {filter} ORDER BY at DESC, id DESC LIMIT {limit}"
    ))?;
    let rows = st.query_map(params_from_iter(args.iter()), |r| {
        Ok(HistoryEntry {
            at: r.get(0)?,
            pair: r.get(1)?,
            source: WriteSource::parse(&r.get::<_, String>(2)?).unwrap_or_default(),
            side: side_of(r.get(3)?)?,
            kind: kind_of(r.get(4)?)?,
            ghl_id: r.get(5)?,
            sellsy_id: r.get(6)?,
            op: r.get(7)?,
            changes: serde_json::from_value(parse_json(r.get(8)?)).unwrap_or_default(),
            winner: r.get(9)?,
            outcome: r.get(10)?,
            error: r.get(11)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Delete the rows recorded before `before` (RFC 3339); returns how many.
pub(super) fn prune(conn: &Connection, before: &str) -> Result<usize> {
    let at = parse_since(before).ok_or_else(|| {
        EngineError::Data(format!("prune before `{before}`: not an RFC 3339 time"))
    })?;
    Ok(conn.execute("DELETE FROM history WHERE at < ?1", [at])?)
}
