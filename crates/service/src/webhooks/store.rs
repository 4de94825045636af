//! The `webhook_events` table, which is the queue: rows are inserted `queued`,
//! claimed as `processing`, and end `done`, `ignored` or `failed`.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::db::{now_secs, DbError};

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: i64,
    /// `ghl` or `sellsy`.
    pub app: String,
    /// GHL's `webhookId`; for Sellsy (which has none) `sellsy:` + SHA-256 of the body.
    pub webhook_id: String,
    /// GHL `locationId`; Sellsy `corpid`.
    pub location_id: Option<String>,
    /// GHL `type`; Sellsy `eventType`.
    pub event_type: Option<String>,
    /// Unix seconds.
    pub received_at: i64,
    /// The event's JSON (for a form-encoded Sellsy notification, the `notif` field).
    pub body: String,
    /// Processing attempts so far, this one included.
    pub attempts: u32,
}

impl StoredEvent {
    /// The body parsed (it was checked to be JSON before it was stored).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// An event to store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub app: &'static str,
    pub webhook_id: String,
    pub location_id: Option<String>,
    pub event_type: Option<String>,
    pub body: String,
}

/// What [`enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Queued(i64),
    /// An event with this `webhook_id` was already received; nothing stored.
    Duplicate,
    /// `queue_max` events are waiting; nothing stored.
    Full,
}

/// Events still to process (`queued` or `processing`).
pub fn depth(conn: &Connection) -> Result<i64, DbError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM webhook_events WHERE status IN ('queued', 'processing')",
        [],
        |r| r.get(0),
    )?)
}

/// Store `ev` unless it is a duplicate or the queue is full (one transaction).
pub fn enqueue(
    conn: &mut Connection,
    ev: &NewEvent,
    queue_max: usize,
) -> Result<Enqueued, DbError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let seen: Option<i64> = tx
        .query_row(
            "SELECT id FROM webhook_events WHERE webhook_id = ?1",
            [&ev.webhook_id],
            |r| r.get(0),
        )
        .optional()?;
    if seen.is_some() {
        return Ok(Enqueued::Duplicate);
    }
    if depth(&tx)? >= queue_max as i64 {
        return Ok(Enqueued::Full);
    }
    tx.execute(
        "INSERT INTO webhook_events (app, webhook_id, location_id, event_type, received_at, body, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued')",
        rusqlite::params![
            ev.app,
            ev.webhook_id,
            ev.location_id,
            ev.event_type,
            now_secs(),
            ev.body
        ],
    )?;
    let id = tx.last_insert_rowid();
    tx.commit()?;
    Ok(Enqueued::Queued(id))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Put events left `processing` by a stopped process back in the queue.
pub fn requeue_interrupted(conn: &Connection) -> Result<usize, DbError> {
    Ok(conn.execute(
        "UPDATE webhook_events SET status = 'queued' WHERE status = 'processing'",
        [],
    )?)
}

/// Claim up to `n` due events, oldest first, marking them `processing`.
pub fn claim(conn: &mut Connection, n: usize) -> Result<Vec<StoredEvent>, DbError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let events = {
        let mut stmt = tx.prepare(
            "SELECT id, app, webhook_id, location_id, event_type, received_at, body, attempts
             FROM webhook_events WHERE status = 'queued' AND next_attempt_at <= ?1
             ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(rusqlite::params![now_ms(), n as i64], |r| {
            Ok(StoredEvent {
                id: r.get(0)?,
                app: r.get(1)?,
                webhook_id: r.get(2)?,
                location_id: r.get(3)?,
                event_type: r.get(4)?,
                received_at: r.get(5)?,
                body: r.get(6)?,
                attempts: r.get::<_, u32>(7)? + 1,
            })
        })?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    for ev in &events {
        tx.execute(
            "UPDATE webhook_events SET status = 'processing', attempts = ?1 WHERE id = ?2",
            rusqlite::params![ev.attempts, ev.id],
        )?;
    }
    tx.commit()?;
    Ok(events)
}

/// Milliseconds until the next queued event is due (None: nothing queued).
pub fn next_due_in_ms(conn: &Connection) -> Result<Option<i64>, DbError> {
    let next: Option<i64> = conn.query_row(
        "SELECT MIN(next_attempt_at) FROM webhook_events WHERE status = 'queued'",
        [],
        |r| r.get(0),
    )?;
    Ok(next.map(|t| (t - now_ms()).max(0)))
}

/// Final state of an event.
pub fn finish(
    conn: &Connection,
    id: i64,
    status: &str,
    error: Option<&str>,
) -> Result<(), DbError> {
    conn.execute(
        "UPDATE webhook_events SET status = ?1, error = ?2 WHERE id = ?3",
        rusqlite::params![status, error, id],
    )?;
    Ok(())
}

/// Back in the queue, due in `delay_ms`.
pub fn retry_later(conn: &Connection, id: i64, error: &str, delay_ms: i64) -> Result<(), DbError> {
    conn.execute(
        "UPDATE webhook_events SET status = 'queued', error = ?1, next_attempt_at = ?2 WHERE id = ?3",
        rusqlite::params![error, now_ms() + delay_ms, id],
    )?;
    Ok(())
}

/// Counts by status (for status pages).
pub fn counts(conn: &Connection) -> Result<Vec<(String, i64)>, DbError> {
    let mut stmt = conn
        .prepare("SELECT status, COUNT(*) FROM webhook_events GROUP BY status ORDER BY status")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
