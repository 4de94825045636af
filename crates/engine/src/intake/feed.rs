//! The intake feed: the items the sync's intake read, as the API returned them, in the
//! pair's state database, so other readers (flows) can use one poll of a resource
//! instead of sending their own.
//!
//! - `intake_feed`: the latest item per (source, item id), with a sequence number that
//!   grows each time an item is read with new content. A reader keeps its own position
//!   (the last sequence number it walked) and its own idea of what is new.
//! - Published before the intake's cursor moves on, so a crash re-reads (and a reader
//!   de-duplicates) rather than loses.
//! - Published only while someone reads it: a reader says so on every walk
//!   ([`IntakeFeed::want`]); a source nobody walked for [`READER_TTL`] is no longer
//!   published and stops being complete, so the next reader's arrival starts a new
//!   whole read (sequence numbers keep growing: positions readers hold stay valid).
//! - `complete` once one whole read of the source went into the feed (the first scan
//!   of a fresh pair, or a scan from the start the intake makes once when the feed of
//!   an older database is empty): from then on the feed holds every item of the source,
//!   so a new reader's baseline can be taken from it.
//!
//! Sources: [`FeedSource::GhlContacts`] (`POST /contacts/search` by `dateUpdated`, the
//! contacts as the typed client keeps them, without null fields) and
//! [`FeedSource::SellsyContacts`] (`POST /contacts/search`, without the `_embed` the
//! sync asks for). The engine knows nothing of who reads the feed.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use crate::error::{EngineError, Result};

/// What the intake read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedSource {
    /// GHL contacts (`contacts.search-contacts-advanced`, sorted by `dateUpdated`).
    GhlContacts,
    /// Sellsy contacts (`contacts.search-contacts`).
    SellsyContacts,
}

impl FeedSource {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedSource::GhlContacts => "ghl.contacts",
            FeedSource::SellsyContacts => "sellsy.contacts",
        }
    }
}

/// One item of the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedItem {
    pub seq: i64,
    pub id: String,
    pub item: Value,
}

pub struct IntakeFeed {
    conn: Mutex<Connection>,
}

fn db(e: rusqlite::Error) -> EngineError {
    EngineError::Store(format!("intake feed: {e}"))
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS intake_feed (
    source TEXT NOT NULL, item_id TEXT NOT NULL, seq INTEGER NOT NULL, item TEXT NOT NULL,
    read_at TEXT NOT NULL, PRIMARY KEY (source, item_id));
CREATE INDEX IF NOT EXISTS intake_feed_seq ON intake_feed (source, seq);
CREATE TABLE IF NOT EXISTS intake_feed_state (
    source TEXT PRIMARY KEY, filling INTEGER NOT NULL DEFAULT 0,
    complete INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS intake_feed_readers (
    source TEXT PRIMARY KEY, wanted_at TEXT NOT NULL);
";

/// A source nobody walked for this long is no longer published (see [`IntakeFeed::wanted`]).
pub const READER_TTL: chrono::Duration = chrono::Duration::days(1);

impl IntakeFeed {
    /// Open the feed in the state database at `path` (created when missing).
    pub fn open(path: &Path) -> Result<IntakeFeed> {
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(IntakeFeed {
            conn: Mutex::new(conn),
        })
    }

    /// The feed of the store `database_url` names; `None` when it is not a SQLite file.
    pub fn for_url(database_url: &str) -> Option<IntakeFeed> {
        let path = crate::store::sqlite_path(database_url).ok()?;
        let name = path.to_string_lossy();
        if name.is_empty() || name.starts_with(':') {
            return None;
        }
        IntakeFeed::open(&path).ok()
    }

    /// The feed of an existing state database only (a reader never creates one).
    pub fn open_existing(path: &Path) -> Result<Option<IntakeFeed>> {
        if !path.exists() {
            return Ok(None);
        }
        IntakeFeed::open(path).map(Some)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Store what was read of `source`: each item keyed by `id`, given a new sequence
    /// number only when its content changed.
    pub fn publish(&self, source: FeedSource, items: &[(String, Value)]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let mut seq: i64 = tx
            // Per source (readers keep a position per source): the (source, seq) index
            // answers this without reading the table.
            .query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM intake_feed WHERE source = ?1",
                params![source.as_str()],
                |r| r.get(0),
            )
            .map_err(db)?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        for (id, item) in items {
            seq += 1;
            tx.execute(
                "INSERT INTO intake_feed (source, item_id, seq, item, read_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(source, item_id) DO UPDATE SET seq = excluded.seq, item = excluded.item,
                   read_at = excluded.read_at WHERE item <> excluded.item",
                params![source.as_str(), id, seq, item.to_string(), now],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    /// The items of `source` after sequence number `after`, oldest first, at most `limit`.
    pub fn since(&self, source: FeedSource, after: i64, limit: usize) -> Result<Vec<FeedItem>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT seq, item_id, item FROM intake_feed WHERE source = ?1 AND seq > ?2
                 ORDER BY seq LIMIT ?3",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(params![source.as_str(), after, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, id, text) = row.map_err(db)?;
            let item = serde_json::from_str(&text).unwrap_or(Value::Null);
            out.push(FeedItem { seq, id, item });
        }
        Ok(out)
    }

    fn flag(&self, source: FeedSource, column: &str) -> Result<bool> {
        let v: Option<i64> = self
            .conn()
            .query_row(
                &format!("SELECT {column} FROM intake_feed_state WHERE source = ?1"),
                params![source.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        Ok(v.unwrap_or(0) != 0)
    }

    fn set_flags(&self, source: FeedSource, filling: bool, complete: bool) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO intake_feed_state (source, filling, complete) VALUES (?1, ?2, ?3)
                 ON CONFLICT(source) DO UPDATE SET filling = excluded.filling, complete = excluded.complete",
                params![source.as_str(), filling as i64, complete as i64],
            )
            .map_err(db)?;
        Ok(())
    }

    /// A reader of `source` walks the feed now: the intake keeps (or starts) publishing
    /// it.
    pub fn want(&self, source: FeedSource) -> Result<()> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.conn()
            .execute(
                "INSERT INTO intake_feed_readers (source, wanted_at) VALUES (?1, ?2)
                 ON CONFLICT(source) DO UPDATE SET wanted_at = excluded.wanted_at",
                params![source.as_str(), now],
            )
            .map_err(db)?;
        Ok(())
    }

    /// Whether a reader walked `source` within [`READER_TTL`].
    pub fn wanted(&self, source: FeedSource) -> Result<bool> {
        let at: Option<String> = self
            .conn()
            .query_row(
                "SELECT wanted_at FROM intake_feed_readers WHERE source = ?1",
                params![source.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        Ok(at
            .and_then(|a| chrono::DateTime::parse_from_rfc3339(&a).ok())
            .is_some_and(|a| chrono::Utc::now().signed_duration_since(a) < READER_TTL))
    }

    /// Nobody reads `source`: it is no longer complete nor being filled (what it holds
    /// stays, so sequence numbers keep growing when a reader comes back).
    pub fn abandon(&self, source: FeedSource) -> Result<()> {
        if self.complete(source)? || self.filling(source)? {
            self.set_flags(source, false, false)?;
        }
        Ok(())
    }

    /// Whether the feed holds every item of `source` (one whole read went into it).
    pub fn complete(&self, source: FeedSource) -> Result<bool> {
        self.flag(source, "complete")
    }

    /// Whether a whole read of `source` into the feed is under way.
    pub fn filling(&self, source: FeedSource) -> Result<bool> {
        self.flag(source, "filling")
    }

    /// A whole read of `source` starts (the intake reads it from the beginning).
    pub fn start_filling(&self, source: FeedSource) -> Result<()> {
        self.set_flags(source, true, false)
    }

    /// The whole read of `source` ended: the feed is complete.
    pub fn mark_complete(&self, source: FeedSource) -> Result<()> {
        self.set_flags(source, false, true)
    }
}

/// A GHL contact as the feed keeps it: the typed contact's JSON without null fields
/// (what the search returned, less the fields it did not have).
pub fn ghl_item(contact: &hlbridge_ghl::Contact) -> Option<(String, Value)> {
    let mut v = serde_json::to_value(contact).ok()?;
    if let Value::Object(map) = &mut v {
        map.retain(|_, x| !x.is_null());
    }
    Some((contact.id.clone(), v))
}

/// A Sellsy contact as the feed keeps it: without the `_embed` the sync asked for.
pub fn sellsy_item(contact: &Value) -> Option<(String, Value)> {
    let id = match contact.get("id")? {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    let mut v = contact.clone();
    if let Value::Object(map) = &mut v {
        map.remove("_embed");
    }
    Some((id, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn feed() -> (IntakeFeed, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "hlb-feed-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        (IntakeFeed::open(&dir.join("state.sqlite")).unwrap(), dir)
    }

    #[test]
    fn a_source_is_wanted_while_a_reader_walks_it() {
        let (f, dir) = feed();
        let src = FeedSource::SellsyContacts;
        assert!(!f.wanted(src).unwrap(), "no reader yet");
        f.want(src).unwrap();
        assert!(f.wanted(src).unwrap());
        assert!(!f.wanted(FeedSource::GhlContacts).unwrap(), "per source");
        f.mark_complete(src).unwrap();
        // The reader's last walk is older than the TTL: not wanted; abandoning clears
        // "complete" so a returning reader waits for a new whole read.
        let old = (chrono::Utc::now() - READER_TTL - chrono::Duration::minutes(1)).to_rfc3339();
        f.conn()
            .execute("UPDATE intake_feed_readers SET wanted_at = ?1", [old])
            .unwrap();
        assert!(!f.wanted(src).unwrap());
        f.abandon(src).unwrap();
        assert!(!f.complete(src).unwrap() && !f.filling(src).unwrap());
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn an_item_gets_a_new_sequence_number_only_when_its_content_changed() {
        let (f, dir) = feed();
        let src = FeedSource::GhlContacts;
        f.publish(
            src,
            &[
                ("a".into(), json!({"id": "a", "n": 1})),
                ("b".into(), json!({"id": "b"})),
            ],
        )
        .unwrap();
        let all = f.since(src, 0, 10).unwrap();
        assert_eq!(
            all.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let last = all[1].seq;
        // Re-read unchanged (a lookback): nothing new after `last`.
        f.publish(src, &[("a".into(), json!({"id": "a", "n": 1}))])
            .unwrap();
        assert!(f.since(src, last, 10).unwrap().is_empty());
        // Changed: the latest content, after `last`; other sources are apart.
        f.publish(src, &[("a".into(), json!({"id": "a", "n": 2}))])
            .unwrap();
        let new = f.since(src, last, 10).unwrap();
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].item["n"], 2);
        assert!(f
            .since(FeedSource::SellsyContacts, 0, 10)
            .unwrap()
            .is_empty());
        // Complete only once a whole read ended.
        assert!(!f.complete(src).unwrap());
        f.start_filling(src).unwrap();
        assert!(f.filling(src).unwrap() && !f.complete(src).unwrap());
        f.mark_complete(src).unwrap();
        assert!(f.complete(src).unwrap() && !f.filling(src).unwrap());
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn published_items_leave_out_what_the_sync_alone_asked_for() {
        let (_, v) = sellsy_item(&json!({"id": 7, "last_name": "X", "_embed": {"a": 1}})).unwrap();
        assert_eq!(v, json!({"id": 7, "last_name": "X"}));
        let c: hlbridge_ghl::Contact = serde_json::from_value(
            json!({"id": "g1", "email": "e@x.io", "searchAfter": [1, "g1"]}),
        )
        .unwrap();
        let (id, v) = ghl_item(&c).unwrap();
        assert_eq!(id, "g1");
        assert_eq!(v["email"], "e@x.io");
        assert_eq!(v["searchAfter"], json!([1, "g1"]));
        assert!(v.get("phone").is_none(), "no null fields: {v}");
    }
}
