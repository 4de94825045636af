//! Rate windows shared by every process using one state database.
//!
//! [`SharedSlots`] keeps, in SQLite, what [`super::RateBudget`] otherwise keeps in
//! memory: the send log of each window (`rate_slots`), the limits learned from
//! response headers (`rate_limits`), and per key the 429 hold, the daily exhaustion and
//! the cold-start probe (`rate_keys`). Times are wall-clock milliseconds, the one clock
//! all processes share.
//!
//! Every slot is taken in one short `BEGIN IMMEDIATE` transaction: prune what aged
//! out, count, then either insert the slot or compute the wait until the oldest slot
//! frees (the same rules as the in-memory budget, see [`super`]). The database is in
//! WAL mode with a busy timeout, so processes queue on the write lock rather than fail.
//!
//! **In flight.** A slot taken for a request about to be sent
//! ([`super::RateBudget::try_take`], what the executor does) counts as in flight until
//! [`super::RateBudget::settle`] says its answer arrived (or its send failed); from
//! then on it counts from the answer. The server counted the request when it arrived,
//! in between, so the shared count never frees a slot before the server does, even when
//! a process stalls between taking a slot and sending. A slot never settled (its
//! process died) stops counting as in flight after [`PENDING_MAX`].
//!
//! Per request that is two short write transactions (take, settle), plus one for a
//! response whose headers teach something new (a different limit, requests counted by
//! the server that no process here counted); the rest are reads.
//!
//! **Cold start.** Until a response for a key has been observed (its rate headers
//! folded in by [`super::RateBudget::observe`], or a 429), at most one request for that
//! key is in flight across all processes: taking a slot of an unobserved key also takes
//! its probe lease (ttl [`PROBE_TTL`]); while another request holds it, the others wait
//! (polling every [`PROBE_POLL`]). The first observation stores the server's limits and
//! ends the probe for good; a probe whose request never got an answer expires after its
//! ttl and the next request probes. So 60 processes starting at once never all assume
//! the default limit.
//!
//! Log entries are coalesced as in memory (one row per 1/[`super::LOG_BUCKETS`] of a
//! window), so a window never holds more than about 1 025 rows, whatever its limit.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, Transaction, TransactionBehavior};

use super::{Observation, Window};
use super::{MAX_EXHAUSTED, MAX_RETRY_AFTER, MAX_WINDOW_WAIT};
use crate::error::{Error, RateLimitInfo, Result};

#[path = "shared_sql.rs"]
mod sql;
use sql::*;

/// How long the cold-start probe of a key lasts when its request gets no answer.
pub const PROBE_TTL: Duration = Duration::from_secs(10);
/// How often a request waiting for another's probe asks again.
pub const PROBE_POLL: Duration = Duration::from_millis(25);
/// How long a process waits for another's write lock before reporting an error.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a slot taken and never settled (its process died mid-request) counts as in
/// flight, before it ages out like an answered one.
pub const PENDING_MAX: Duration = Duration::from_secs(120);

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS rate_slots (
        key TEXT NOT NULL,
        win INTEGER NOT NULL,
        first_ms INTEGER NOT NULL,
        last_ms INTEGER NOT NULL,
        count INTEGER NOT NULL,
        pending INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS rate_slots_by_window ON rate_slots (key, win, last_ms);
    CREATE TABLE IF NOT EXISTS rate_limits (
        key TEXT NOT NULL,
        win INTEGER NOT NULL,
        max INTEGER NOT NULL,
        window_ms INTEGER NOT NULL,
        known INTEGER NOT NULL,
        spent_until_ms INTEGER,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (key, win)
    );
    CREATE TABLE IF NOT EXISTS rate_keys (
        key TEXT PRIMARY KEY,
        observed INTEGER NOT NULL DEFAULT 0,
        blocked_until_ms INTEGER,
        exhausted_until_ms INTEGER,
        exhausted_info TEXT,
        probe_until_ms INTEGER
    );";

/// The shared slot store of one database file. Open it once per process and hand the
/// `Arc` to every budget ([`super::RateBudget::with_shared`]).
#[derive(Debug)]
pub struct SharedSlots {
    path: PathBuf,
    /// Opened on first use (see [`SharedSlots::lazy`]).
    conn: Mutex<Option<Connection>>,
    probe_ttl: Duration,
}

/// What taking a slot came to.
pub(super) enum Take {
    /// Taken: the in-flight rows (one per window), to hand back to
    /// [`SharedSlots::settle`] when the answer arrives.
    Taken(Vec<i64>),
    /// Wait this long and ask again.
    Wait(Duration),
    /// The key's daily allowance is spent, or a window frees only after
    /// [`MAX_WINDOW_WAIT`].
    Refused(RateLimitInfo),
}

impl SharedSlots {
    /// Open (creating it privately, see [`crate::fsutil::ensure_private_db`]) the state
    /// database at `path` and its rate tables, now: a path that cannot be used fails
    /// here.
    pub fn open(path: &Path) -> Result<Arc<SharedSlots>> {
        let slots = SharedSlots::lazy_with(path, PROBE_TTL);
        slots.with_conn(|_| Ok(()))?;
        Ok(slots)
    }

    /// [`SharedSlots::open`] with a cold-start probe lasting `probe_ttl`.
    pub fn open_with(path: &Path, probe_ttl: Duration) -> Result<Arc<SharedSlots>> {
        let slots = SharedSlots::lazy_with(path, probe_ttl);
        slots.with_conn(|_| Ok(()))?;
        Ok(slots)
    }

    /// The store of `path`, opened (and the database created) only when a budget first
    /// needs it: a command that fails before sending anything creates no file. An
    /// unusable path is reported by the first [`super::RateBudget::try_acquire`].
    pub fn lazy(path: &Path) -> Arc<SharedSlots> {
        SharedSlots::lazy_with(path, PROBE_TTL)
    }

    fn lazy_with(path: &Path, probe_ttl: Duration) -> Arc<SharedSlots> {
        Arc::new(SharedSlots {
            path: path.to_path_buf(),
            conn: Mutex::new(None),
            probe_ttl,
        })
    }

    fn connect(path: &Path) -> Result<Connection> {
        crate::fsutil::ensure_private_db(path)?;
        let fail = |e: rusqlite::Error| {
            Error::Config(format!(
                "cannot open the rate budget tables in {}: {e}",
                path.display()
            ))
        };
        let conn = Connection::open(path).map_err(fail)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        // Switching to WAL and creating tables take the write lock: processes opening
        // a new database at the same moment retry until the busy timeout.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            let setup = conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
            let setup = setup
                .and_then(|()| conn.execute_batch(SCHEMA))
                .and_then(|()| add_pending_column(&conn));
            match setup {
                Ok(()) => return Ok(conn),
                Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(fail(e)),
            }
        }
    }

    /// Run `f` on the connection, opening it first if needed.
    fn with_conn<R>(&self, f: impl FnOnce(&mut Connection) -> Result<R>) -> Result<R> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(SharedSlots::connect(&self.path)?);
        }
        match guard.as_mut() {
            Some(conn) => f(conn),
            None => Err(Error::Config(format!(
                "cannot open the rate budget tables in {}",
                self.path.display()
            ))),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Forget everything stored for `key`: its log, learned limits, holds and probe.
    pub fn clear_key(&self, key: &str) -> Result<()> {
        self.write(|tx| {
            for table in ["rate_slots", "rate_limits", "rate_keys"] {
                tx.execute(&format!("DELETE FROM {table} WHERE key = ?1"), params![key])?;
            }
            Ok(())
        })
    }

    /// True once a response for `key` was observed (the cold-start probe is over).
    pub fn observed(&self, key: &str) -> Result<bool> {
        self.read(|tx| Ok(key_row(tx, key)?.observed))
    }

    fn write<R>(&self, f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<R>) -> Result<R> {
        self.with_conn(|conn| {
            let run = || -> rusqlite::Result<R> {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let out = f(&tx)?;
                tx.commit()?;
                Ok(out)
            };
            run().map_err(|e| self.error(e))
        })
    }

    fn read<R>(&self, f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<R>) -> Result<R> {
        self.with_conn(|conn| {
            let run = || -> rusqlite::Result<R> {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
                f(&tx)
            };
            run().map_err(|e| self.error(e))
        })
    }

    fn error(&self, e: rusqlite::Error) -> Error {
        Error::Config(format!(
            "rate budget tables in {}: {e} (is another program holding the database?)",
            self.path.display()
        ))
    }

    /// Take a slot of `key` now if every window has room; see [`Take`]. An `in_flight`
    /// slot counts until [`SharedSlots::settle`] is told its answer arrived (rows are
    /// returned for it); otherwise it counts from now, as in memory.
    pub(super) fn try_take(
        &self,
        key: &str,
        defaults: &[Window],
        margin: Duration,
        in_flight: bool,
    ) -> Result<Take> {
        let margin = ms(margin);
        let probe_ttl = ms(self.probe_ttl);
        // Waiting for another request's probe needs no write lock: a read tells.
        if let Some(wait) = self.read(|tx| Ok(probe_wait(&key_row(tx, key)?, now_ms())))? {
            return Ok(Take::Wait(wait));
        }
        self.write(|tx| {
            let now = now_ms();
            let mut row = key_row(tx, key)?;
            let mut dirty = false;
            if let Some(until) = row.exhausted_until {
                if now < until {
                    return Ok(Take::Refused(info_from_text(row.exhausted_info.as_deref())));
                }
                row.exhausted_until = None;
                row.exhausted_info = None;
                dirty = true;
            }
            if let Some(wait) = probe_wait(&row, now) {
                return Ok(Take::Wait(wait));
            }
            let mut wait = row.blocked_until.map_or(0, |b| (b - now).max(0));
            let mut specs = Vec::with_capacity(defaults.len());
            for (win, default) in defaults.iter().enumerate() {
                let spec = load_spec(tx, key, win, *default)?;
                prune(tx, key, win, &spec, now)?;
                let w = window_wait(tx, key, win, &spec, now, margin)?;
                if w > ms(MAX_WINDOW_WAIT) {
                    return Ok(Take::Refused(spec_info(&spec)));
                }
                wait = wait.max(w);
                specs.push(spec);
            }
            let mut rows = Vec::new();
            if wait == 0 && !in_flight {
                for (win, spec) in specs.iter().enumerate() {
                    record(tx, key, win, spec, now, 1)?;
                }
            } else if wait == 0 {
                // In flight until settled: it counts until its answer, however late.
                for win in 0..specs.len() {
                    tx.execute(
                        "INSERT INTO rate_slots (key, win, first_ms, last_ms, count, pending)
                         VALUES (?1, ?2, ?3, ?4, 1, 1)",
                        params![key, win as i64, now, now.saturating_add(ms(PENDING_MAX))],
                    )?;
                    rows.push(tx.last_insert_rowid());
                }
            }
            if wait == 0 && !row.observed {
                row.probe_until = Some(now.saturating_add(probe_ttl));
                dirty = true;
            }
            if dirty {
                save_key_row(tx, key, &row)?;
            }
            if wait == 0 {
                Ok(Take::Taken(rows))
            } else {
                Ok(Take::Wait(Duration::from_millis(wait as u64)))
            }
        })
    }

    /// The request of the slot whose in-flight `rows` [`SharedSlots::try_take`]
    /// inserted was answered (or failed) now: count it from now. The server counted it
    /// when it arrived, somewhere between the two; a slot counted until its answer never
    /// frees before the server's does, however long the request took to leave a busy
    /// machine.
    pub(super) fn settle(&self, key: &str, defaults: &[Window], rows: &[i64]) -> Result<()> {
        self.write(|tx| {
            let now = now_ms();
            for rowid in rows {
                tx.execute(
                    "DELETE FROM rate_slots WHERE rowid = ?1 AND pending = 1",
                    params![rowid],
                )?;
            }
            for (win, default) in defaults.iter().enumerate().take(rows.len()) {
                let spec = load_spec(tx, key, win, *default)?;
                record(tx, key, win, &spec, now, 1)?;
            }
            Ok(())
        })
    }

    /// How long until a request for `key` would fit (`None`: not within
    /// [`MAX_WINDOW_WAIT`]), without taking anything.
    pub(super) fn next_slot_in(
        &self,
        key: &str,
        defaults: &[Window],
        margin: Duration,
    ) -> Result<Option<Duration>> {
        let margin = ms(margin);
        self.read(|tx| {
            let now = now_ms();
            let row = key_row(tx, key)?;
            let mut wait = row.blocked_until.map_or(0, |b| (b - now).max(0));
            for (win, default) in defaults.iter().enumerate() {
                let spec = load_spec(tx, key, win, *default)?;
                let w = window_wait(tx, key, win, &spec, now, margin)?;
                if w > ms(MAX_WINDOW_WAIT) {
                    return Ok(None);
                }
                wait = wait.max(w);
            }
            Ok(Some(Duration::from_millis(wait as u64)))
        })
    }

    /// How long ago the newest slot of `key` still inside its window was taken.
    pub(super) fn newest_slot_age(
        &self,
        key: &str,
        defaults: &[Window],
    ) -> Result<Option<Duration>> {
        self.read(|tx| {
            let now = now_ms();
            let mut newest: Option<i64> = None;
            for (win, default) in defaults.iter().enumerate() {
                let spec = load_spec(tx, key, win, *default)?;
                let last: Option<i64> = tx.query_row(
                    "SELECT MAX(CASE pending WHEN 1 THEN first_ms ELSE last_ms END) FROM rate_slots
                     WHERE key = ?1 AND win = ?2 AND last_ms > ?3",
                    params![key, win as i64, now - spec.interval_ms],
                    |r| r.get(0),
                )?;
                newest = newest.max(last);
            }
            Ok(newest.map(|at| Duration::from_millis((now - at).max(0) as u64)))
        })
    }

    /// The current limits of `key` (stored, else `defaults`).
    pub(super) fn windows(&self, key: &str, defaults: &[Window]) -> Result<Vec<Window>> {
        self.read(|tx| {
            defaults
                .iter()
                .enumerate()
                .map(|(win, d)| {
                    load_spec(tx, key, win, *d)
                        .map(|s| Window::new(s.limit, Duration::from_millis(s.interval_ms as u64)))
                })
                .collect()
        })
    }

    /// Per window of `key`: its limits and the sends it counts now (in flight
    /// included).
    pub(super) fn usage(&self, key: &str, defaults: &[Window]) -> Result<Vec<(Window, u64)>> {
        self.read(|tx| {
            let now = now_ms();
            let mut out = Vec::with_capacity(defaults.len());
            for (win, d) in defaults.iter().enumerate() {
                let spec = load_spec(tx, key, win, *d)?;
                let used = total(tx, key, win, &spec, now)?;
                let window =
                    Window::new(spec.limit, Duration::from_millis(spec.interval_ms as u64));
                out.push((window, used));
            }
            Ok(out)
        })
    }

    /// [`super::RateBudget::observe`] on the shared tables: the learned limits are
    /// stored for every process, and the key's cold-start probe ends.
    pub(super) fn observe(
        &self,
        key: &str,
        index: usize,
        default: Window,
        obs: Observation,
    ) -> Result<()> {
        // Most responses teach nothing new (the same limits, nothing uncounted): a read
        // tells, and no write lock is taken for them.
        if self.read(|tx| fold_observation(tx, key, index, default, obs, false))? {
            self.write(|tx| fold_observation(tx, key, index, default, obs, true))?;
        }
        Ok(())
    }

    /// A 429: hold every process's requests for `key` for `pause` (bounded).
    pub(super) fn on_rejected(&self, key: &str, pause: Duration) -> Result<()> {
        let pause = ms(pause.min(MAX_RETRY_AFTER));
        self.write(|tx| {
            let now = now_ms();
            let mut row = key_row(tx, key)?;
            let until = now.saturating_add(pause);
            row.blocked_until = Some(row.blocked_until.map_or(until, |b| b.max(until)));
            row.observed = true;
            row.probe_until = None;
            save_key_row(tx, key, &row)
        })
    }

    /// The daily allowance is spent: every process refuses `key` until `resets_in`.
    pub(super) fn mark_exhausted(
        &self,
        key: &str,
        resets_in: Duration,
        info: &RateLimitInfo,
    ) -> Result<()> {
        let resets_in = ms(resets_in.min(MAX_EXHAUSTED));
        self.write(|tx| {
            let mut row = key_row(tx, key)?;
            row.exhausted_until = Some(now_ms().saturating_add(resets_in));
            row.exhausted_info = Some(info_to_text(info));
            save_key_row(tx, key, &row)
        })
    }
}

#[cfg(test)]
#[path = "shared_tests.rs"]
mod tests;
