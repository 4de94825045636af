//! Row mapping and the shared write helpers of the SQLite store.

use rusqlite::{params, Connection, Row};
use serde_json::Value;

use super::{Conflict, Kind, Link, OutboxEntry, Record, Side};

pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

pub(super) fn json_text(v: &Value) -> String {
    v.to_string()
}

pub(super) fn parse_json(s: String) -> Value {
    serde_json::from_str(&s).unwrap_or(Value::Null)
}

pub(super) fn bad(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("unknown {what} `{value}`").into(),
    )
}

pub(super) fn kind_of(s: String) -> rusqlite::Result<Kind> {
    Kind::parse(&s).ok_or_else(|| bad("kind", &s))
}

pub(super) fn side_of(s: String) -> rusqlite::Result<Side> {
    Side::parse(&s).ok_or_else(|| bad("side", &s))
}

pub(super) const LINK_COLS: &str =
    "kind, ghl_id, sellsy_id, parent_ghl_id, ghl_hash, sellsy_hash, ghl_updated, sellsy_updated, state";

pub(super) fn link_row(r: &Row<'_>) -> rusqlite::Result<Link> {
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

pub(super) const OUTBOX_COLS: &str =
    "id, key, target, kind, op, target_id, source_id, payload, status, attempts, last_error, created, updated";

pub(super) fn outbox_row(r: &Row<'_>) -> rusqlite::Result<OutboxEntry> {
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

pub(super) const CONFLICT_COLS: &str =
    "id, kind, ghl_id, sellsy_id, field, ghl_value, sellsy_value, status, resolution, created";

pub(super) fn conflict_row(r: &Row<'_>) -> rusqlite::Result<Conflict> {
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
pub(super) fn text_field(data: &Value, key: &str) -> Option<String> {
    data.get("f")
        .unwrap_or(data)
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

pub(super) fn upsert_record(conn: &Connection, rec: &Record) -> rusqlite::Result<()> {
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

pub(super) fn save_link(conn: &Connection, link: &Link) -> rusqlite::Result<()> {
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
