//! The sync's durable state behind [`StateStore`], so a PostgreSQL backend can be added
//! next to [`sqlite::SqliteStore`] without touching the engine.
//!
//! - **links**: id pairs (contact, task, note) with each side's last content hash;
//! - **records**: the last canonical content seen per side, with a `dirty` flag set
//!   when it changed and cleared once reconciled (the work queue);
//! - **shadow**: per linked pair and field, the value both sides last agreed on (echo
//!   prevention and three-way merge);
//! - **outbox**: durable intended writes (idempotency key, status, attempts, error);
//! - **cursors**: per stream, the last item seen;
//! - **conflicts**: the manual queue;
//! - **notes archive**: both systems' notes, full-text searchable (FTS5);
//! - **history**: one row per write whose outcome is known ([`history`]).

pub mod history;
pub mod migrations;
pub mod sqlite;
mod sqlite_ext;
mod sqlite_history;
mod sqlite_notes;
mod sqlite_rows;
#[cfg(test)]
mod sqlite_tests;
mod types;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

pub use history::{HistoryEntry, HistoryFilter};
pub use types::*;

use crate::error::Result;

/// Storage the engine needs; every method is one atomic step.
pub trait StateStore: Send + Sync {
    // ----- links -----
    fn link_by(&self, kind: Kind, side: Side, id: &str) -> Result<Option<Link>>;
    /// Links of `kind`, optionally only those under a parent contact (GHL id).
    fn links(&self, kind: Kind, parent_ghl_id: Option<&str>) -> Result<Vec<Link>>;
    fn count_links(&self, kind: Kind) -> Result<u64>;
    fn delete_link(&self, kind: Kind, ghl_id: &str) -> Result<()>;

    // ----- records (last seen content, dirty queue) -----
    /// Store what was read; rows whose hash changed become dirty. `cursor`, when
    /// given, is saved in the same transaction. Returns how many became dirty.
    fn put_seen(&self, records: &[Record], cursor: Option<(&str, &Value)>) -> Result<usize>;
    fn record(&self, side: Side, kind: Kind, id: &str) -> Result<Option<Record>>;
    fn dirty(&self, side: Side, kind: Kind, limit: usize) -> Result<Vec<Record>>;
    fn count_dirty(&self, kind: Kind) -> Result<u64>;
    fn count_records(&self, side: Side, kind: Kind) -> Result<u64>;
    fn record_ids(&self, side: Side, kind: Kind) -> Result<Vec<String>>;
    /// Unlinked or linked records of `side` whose canonical `field` equals `value`.
    fn find_records(&self, side: Side, kind: Kind, field: &str, value: &str)
        -> Result<Vec<Record>>;
    fn mark_dirty(&self, side: Side, kind: Kind, id: &str) -> Result<()>;
    /// Dirty records ordered by id, after `after` (keyset paging: a cycle streams the
    /// queue instead of loading it whole).
    fn dirty_after(
        &self,
        side: Side,
        kind: Kind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>>;
    /// Tasks or notes seen under one contact (its id on `side`).
    fn children(&self, side: Side, kind: Kind, parent: &str) -> Result<Vec<Record>>;
    /// Queue every task or note of a contact again (it was just linked).
    fn mark_children_dirty(&self, side: Side, kind: Kind, parent: &str) -> Result<usize>;

    // ----- the GHL notes sweep (no bulk listing exists) -----
    /// Linked contacts (GHL ids) whose notes are due: never read first, then the
    /// least recently read.
    fn notes_due(&self, limit: usize, uncovered_only: bool) -> Result<Vec<String>>;
    fn mark_notes_covered(&self, ghl_ids: &[String]) -> Result<()>;
    /// Whether a linked contact's GHL notes were read at least once.
    fn notes_covered(&self, ghl_id: &str) -> Result<bool>;
    fn notes_coverage(&self) -> Result<NotesCoverage>;

    // ----- shadow -----
    fn shadow(&self, kind: Kind, ghl_id: &str) -> Result<BTreeMap<String, Value>>;

    /// Apply the result of reconciling one record, atomically; each entry of
    /// `outbox_done` not yet done gets its `applied` history row.
    fn commit(&self, commit: &Commit) -> Result<()>;

    // ----- cursors and metadata -----
    fn cursor(&self, name: &str) -> Result<Option<Value>>;
    fn set_cursor(&self, name: &str, value: &Value) -> Result<()>;
    fn meta(&self, key: &str) -> Result<Option<Value>>;
    fn set_meta(&self, key: &str, value: &Value) -> Result<()>;

    // ----- outbox -----
    /// Record an intended write; an entry with the same key that is still pending is
    /// returned instead of a new one.
    fn enqueue(&self, entry: &NewOutbox) -> Result<OutboxEntry>;
    /// Settle an entry; its history row is written in the same transaction.
    fn finish(&self, id: i64, outcome: Outcome<'_>) -> Result<()>;
    fn pending(&self) -> Result<Vec<OutboxEntry>>;
    fn outbox_counts(&self) -> Result<BTreeMap<String, u64>>;

    // ----- conflicts -----
    /// Queue a manual conflict (one open entry per record and field).
    fn add_conflict(&self, conflict: &NewConflict) -> Result<()>;
    fn conflicts(&self, open_only: bool) -> Result<Vec<Conflict>>;
    fn conflict(&self, id: i64) -> Result<Option<Conflict>>;
    fn close_conflict(&self, id: i64, resolution: &str) -> Result<()>;
    /// Open conflicts of one linked record, by field.
    fn open_conflict_fields(&self, kind: Kind, ghl_id: &str) -> Result<Vec<String>>;

    // ----- notes archive -----
    fn archive_note(&self, note: &ArchivedNote) -> Result<()>;
    fn search_notes(
        &self,
        query: &str,
        contact: Option<&str>,
        limit: usize,
    ) -> Result<Vec<NoteHit>>;

    // ----- history -----
    /// Recorded writes matching `filter`, newest first.
    fn history(&self, filter: &HistoryFilter) -> Result<Vec<HistoryEntry>>;
    /// Forget the history recorded before `before` (RFC 3339); returns how many rows.
    fn prune_history(&self, before: &str) -> Result<usize>;
}

/// The SQLite file a database URL names: `sqlite://PATH` or a bare path; other
/// schemes are refused with the fix.
pub fn sqlite_path(url: &str) -> Result<PathBuf> {
    crate::config::check_database_url(url)?;
    Ok(PathBuf::from(url.strip_prefix("sqlite://").unwrap_or(url)))
}

/// Open (creating it, mode 0600, when missing) the store a `HLBRIDGE_DATABASE_URL`
/// names: `sqlite://PATH` (or a bare path). `postgres://` is recognised and refused
/// until that backend exists.
pub fn open(url: &str) -> Result<Arc<dyn StateStore>> {
    let path = sqlite_path(url)?;
    Ok(Arc::new(sqlite::SqliteStore::open(&path)?))
}

/// Open the store `url` names only if it exists (`None` otherwise): read-only
/// commands never create one.
pub fn open_existing(url: &str) -> Result<Option<Arc<dyn StateStore>>> {
    let path = sqlite_path(url)?;
    Ok(sqlite::SqliteStore::open_existing(&path)?.map(|s| Arc::new(s) as Arc<dyn StateStore>))
}
