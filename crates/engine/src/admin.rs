//! Offline operations on the state store: status, the manual conflict queue, notes
//! search, the write history. None of them calls an API.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{EngineError, Result};
use crate::report::Status;
use crate::store::{
    Commit, Conflict, HistoryEntry, HistoryFilter, Kind, NoteHit, Side, StateStore,
};

/// Counts of the state store and the last cycle.
pub fn status(store: &dyn StateStore) -> Result<Status> {
    let mut links = BTreeMap::new();
    let mut records = BTreeMap::new();
    for kind in [Kind::Contact, Kind::Task, Kind::Note] {
        links.insert(kind.as_str().to_string(), store.count_links(kind)?);
    }
    for side in [Side::Ghl, Side::Sellsy] {
        records.insert(
            side.as_str().to_string(),
            store.count_records(side, Kind::Contact)?,
        );
    }
    let paused = store
        .meta("paused")?
        .and_then(|v| v.as_str().map(str::to_string));
    Ok(Status {
        links,
        records,
        dirty: store.count_dirty(Kind::Contact)?
            + store.count_dirty(Kind::Task)?
            + store.count_dirty(Kind::Note)?,
        outbox: store.outbox_counts()?,
        open_conflicts: store.conflicts(true)?.len() as u64,
        last_cycle: store.meta("last_cycle")?,
        paused,
        deletions_held: store
            .meta("deletions_held")?
            .and_then(|v| v.as_u64())
            .unwrap_or(0),
        notes_sweep: {
            let c = store.notes_coverage()?;
            crate::report::NotesSweep {
                covered: c.covered,
                total: c.total,
                oldest_age_seconds: c.oldest.as_deref().and_then(|t| {
                    chrono::DateTime::parse_from_rfc3339(t)
                        .ok()
                        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
                }),
            }
        },
    })
}

pub fn conflicts(store: &dyn StateStore, all: bool) -> Result<Vec<Conflict>> {
    store.conflicts(!all)
}

/// Resolve conflict `id` by taking `take`'s value. The shadow of the field is set to
/// the other side's value, so the next sync sees only `take`'s side as changed and
/// writes its value across.
pub fn resolve_conflict(store: &dyn StateStore, id: i64, take: Side) -> Result<Conflict> {
    let conflict = store.conflict(id)?.ok_or_else(|| {
        EngineError::Data(format!("no conflict #{id}; see `hlbridge conflicts list`"))
    })?;
    if conflict.status != "open" {
        return Err(EngineError::Data(format!(
            "conflict #{id} is already resolved ({})",
            conflict.resolution.as_deref().unwrap_or("-")
        )));
    }
    let loser_value = match take {
        Side::Ghl => &conflict.sellsy_value,
        Side::Sellsy => &conflict.ghl_value,
    };
    let mut shadow = store.shadow(conflict.kind, &conflict.ghl_id)?;
    if loser_value.is_null() {
        shadow.remove(&conflict.field);
    } else {
        shadow.insert(conflict.field.clone(), loser_value.clone());
    }
    shadow.entry("_linked".into()).or_insert(Value::Bool(true));
    store.commit(&Commit {
        shadows: vec![(conflict.kind, conflict.ghl_id.clone(), shadow)],
        ..Commit::default()
    })?;
    // The write that carries the resolution out is recorded as `manual`.
    let key = crate::outbox::history::manual_key(conflict.kind, &conflict.ghl_id);
    let mut fields: Vec<Value> = store
        .meta(&key)?
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    let field = Value::String(conflict.field.clone());
    if !fields.contains(&field) {
        fields.push(field);
    }
    store.set_meta(&key, &Value::Array(fields))?;
    store.close_conflict(id, &format!("take {}", take.as_str()))?;
    store.mark_dirty(Side::Ghl, conflict.kind, &conflict.ghl_id)?;
    store.mark_dirty(Side::Sellsy, conflict.kind, &conflict.sellsy_id)?;
    Ok(conflict)
}

pub fn search_notes(
    store: &dyn StateStore,
    query: &str,
    contact: Option<&str>,
) -> Result<Vec<NoteHit>> {
    store.search_notes(query, contact, 50)
}

/// The recorded writes matching `filter` (pair, a record id on either side or a
/// contact's e-mail, since, limit), newest first.
pub fn history(store: &dyn StateStore, filter: &HistoryFilter) -> Result<Vec<HistoryEntry>> {
    store.history(filter)
}
