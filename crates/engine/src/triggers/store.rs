//! What a polling trigger remembers between runs: per trigger, the items already
//! emitted (id → content hash) and the cursor (the last item seen).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use crate::error::{EngineError, Result};

/// Trigger state behind a trait so the PostgreSQL backend can implement it too.
pub trait TriggerStore: Send + Sync {
    /// The hash last emitted (or baselined) for `item_id`, if any.
    fn seen(&self, trigger: &str, item_id: &str) -> Result<Option<String>>;
    /// Remember `hash` for `item_id`.
    fn remember(&self, trigger: &str, item_id: &str, hash: &str) -> Result<()>;
    fn cursor(&self, trigger: &str) -> Result<Option<Value>>;
    fn set_cursor(&self, trigger: &str, cursor: &Value) -> Result<()>;
    /// Whether the trigger has completed a first poll (its baseline).
    fn started(&self, trigger: &str) -> Result<bool>;
    fn mark_started(&self, trigger: &str) -> Result<()>;
}

pub struct SqliteTriggerStore {
    conn: Mutex<Connection>,
}

fn db(e: rusqlite::Error) -> EngineError {
    EngineError::Store(e.to_string())
}

impl SqliteTriggerStore {
    pub fn open(path: &Path) -> Result<Self> {
        Self::init(Connection::open(path).map_err(db)?)
    }

    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory().map_err(db)?)
    }

    fn init(conn: Connection) -> Result<Self> {
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS trigger_items (
                 trigger TEXT NOT NULL,
                 item_id TEXT NOT NULL,
                 hash TEXT NOT NULL,
                 PRIMARY KEY (trigger, item_id)
             );
             CREATE TABLE IF NOT EXISTS trigger_state (
                 trigger TEXT PRIMARY KEY,
                 cursor TEXT,
                 started INTEGER NOT NULL DEFAULT 0
             );",
        )
        .map_err(db)?;
        Ok(SqliteTriggerStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl TriggerStore for SqliteTriggerStore {
    fn seen(&self, trigger: &str, item_id: &str) -> Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT hash FROM trigger_items WHERE trigger = ?1 AND item_id = ?2",
                params![trigger, item_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
    }

    fn remember(&self, trigger: &str, item_id: &str, hash: &str) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO trigger_items (trigger, item_id, hash) VALUES (?1, ?2, ?3)
                 ON CONFLICT(trigger, item_id) DO UPDATE SET hash = excluded.hash",
                params![trigger, item_id, hash],
            )
            .map_err(db)?;
        Ok(())
    }

    fn cursor(&self, trigger: &str) -> Result<Option<Value>> {
        let raw: Option<Option<String>> = self
            .conn()
            .query_row(
                "SELECT cursor FROM trigger_state WHERE trigger = ?1",
                params![trigger],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        Ok(raw.flatten().and_then(|s| serde_json::from_str(&s).ok()))
    }

    fn set_cursor(&self, trigger: &str, cursor: &Value) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO trigger_state (trigger, cursor) VALUES (?1, ?2)
                 ON CONFLICT(trigger) DO UPDATE SET cursor = excluded.cursor",
                params![trigger, cursor.to_string()],
            )
            .map_err(db)?;
        Ok(())
    }

    fn started(&self, trigger: &str) -> Result<bool> {
        let v: Option<i64> = self
            .conn()
            .query_row(
                "SELECT started FROM trigger_state WHERE trigger = ?1",
                params![trigger],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        Ok(v.unwrap_or(0) != 0)
    }

    fn mark_started(&self, trigger: &str) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO trigger_state (trigger, started) VALUES (?1, 1)
                 ON CONFLICT(trigger) DO UPDATE SET started = 1",
                params![trigger],
            )
            .map_err(db)?;
        Ok(())
    }
}
