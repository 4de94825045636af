//! The run store: `flow_runs` and `flow_steps` in the main state database.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

/// A recorded run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunRecord {
    pub id: i64,
    pub flow: String,
    pub version: i64,
    pub run_key: String,
    pub status: String,
    pub trigger: Value,
    pub error: Option<String>,
    pub failed_step: Option<String>,
    pub started: String,
    pub finished: Option<String>,
    pub replay_of: Option<i64>,
    /// When a `waiting` run is due (RFC 3339).
    pub resume_at: Option<String>,
    /// The executor holding the run's lease, and until when (see `run::lease`).
    pub lease_owner: Option<String>,
    pub lease_until: Option<String>,
}

/// A recorded step attempt (the latest per step path).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepRecord {
    pub run_id: i64,
    pub step_path: String,
    pub attempt: i64,
    pub status: String,
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub started: String,
    pub finished: Option<String>,
    /// Requests sent (method, url, body), secrets redacted.
    pub requests: Value,
}

/// Which runs `list` returns.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub flow: Option<String>,
    pub status: Option<String>,
    pub limit: Option<usize>,
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("run store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("run store: {0}")]
    Io(String),
}

pub struct RunStore {
    conn: Mutex<Connection>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS flow_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    flow TEXT NOT NULL, version INTEGER NOT NULL, run_key TEXT NOT NULL,
    status TEXT NOT NULL, trigger TEXT NOT NULL, error TEXT, failed_step TEXT,
    started TEXT NOT NULL, finished TEXT, replay_of INTEGER, resume_at TEXT,
    UNIQUE(flow, version, run_key));
CREATE TABLE IF NOT EXISTS flow_steps (
    run_id INTEGER NOT NULL, step_path TEXT NOT NULL, attempt INTEGER NOT NULL,
    status TEXT NOT NULL, input TEXT NOT NULL, output TEXT, error TEXT,
    started TEXT NOT NULL, finished TEXT, requests TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (run_id, step_path));
CREATE TABLE IF NOT EXISTS flow_intents (
    key TEXT PRIMARY KEY, run_id INTEGER NOT NULL, step_path TEXT NOT NULL,
    request TEXT NOT NULL, result TEXT, created TEXT NOT NULL, settled TEXT);
";

impl RunStore {
    /// Open (creating it privately if missing) the state database at `db_path`.
    pub fn open(db_path: &Path) -> StoreResult<RunStore> {
        hlbridge_core::fsutil::ensure_private_db(db_path)
            .map_err(|e| StoreError::Io(e.to_string()))?;
        let conn = Connection::open(db_path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(SCHEMA)?;
        super::lease::migrate(&conn)?;
        Ok(RunStore {
            conn: Mutex::new(conn),
        })
    }

    /// Open an existing database read-only; `None` when the file does not exist
    /// (read-only commands never create a database).
    pub fn open_existing(db_path: &Path) -> StoreResult<Option<RunStore>> {
        if !db_path.exists() {
            return Ok(None);
        }
        RunStore::open(db_path).map(Some)
    }

    pub(super) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Insert a new running run; `Err(existing id)` inside `Ok` when the key exists.
    /// Record a run of `flow` for a trigger item as `running`, not executed yet (a
    /// poll's or a webhook's item; executed by `Executor::resume`). Ok(new id), or
    /// Err(existing id) when the (flow, version, item key) run exists.
    pub fn enqueue(
        &self,
        flow: &str,
        version: i64,
        item: &super::TriggerItem,
    ) -> StoreResult<Result<i64, i64>> {
        let trigger = serde_json::json!({"payload": item.payload, "previous": item.previous});
        self.insert_run(flow, version, &item.key, &trigger, None)
    }

    pub fn insert_run(
        &self,
        flow: &str,
        version: i64,
        key: &str,
        trigger: &Value,
        replay_of: Option<i64>,
    ) -> StoreResult<Result<i64, i64>> {
        self.insert_with_lease(flow, version, key, trigger, replay_of, None)
    }

    /// `insert_run`, the new row holding `lease` (owner, until) when given.
    pub(super) fn insert_with_lease(
        &self,
        flow: &str,
        version: i64,
        key: &str,
        trigger: &Value,
        replay_of: Option<i64>,
        lease: Option<(&str, &str)>,
    ) -> StoreResult<Result<i64, i64>> {
        let conn = self.conn();
        let existing: Option<i64> = conn
            .query_row(
                "SELECT id FROM flow_runs WHERE flow=?1 AND version=?2 AND run_key=?3",
                params![flow, version, key],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = existing {
            return Ok(Err(id));
        }
        conn.execute(
            "INSERT INTO flow_runs (flow, version, run_key, status, trigger, started, replay_of, lease_owner, lease_until)
             VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7, ?8)",
            params![
                flow,
                version,
                key,
                trigger.to_string(),
                now(),
                replay_of,
                lease.map(|l| l.0),
                lease.map(|l| l.1)
            ],
        )?;
        Ok(Ok(conn.last_insert_rowid()))
    }

    pub fn finish_run(
        &self,
        id: i64,
        status: &str,
        error: Option<&str>,
        failed_step: Option<&str>,
    ) -> StoreResult<()> {
        let finished = (status != "running" && status != "waiting").then(now);
        self.conn().execute(
            "UPDATE flow_runs SET status=?2, error=?3, failed_step=?4, finished=?5 WHERE id=?1",
            params![id, status, error, failed_step, finished],
        )?;
        Ok(())
    }

    pub fn set_waiting(&self, id: i64, resume_at: &str) -> StoreResult<()> {
        self.conn().execute(
            "UPDATE flow_runs SET status='waiting', resume_at=?2 WHERE id=?1",
            params![id, resume_at],
        )?;
        Ok(())
    }

    /// Runs in `status` (`running` after a crash, `waiting` whose time has come).
    pub fn ids_with_status(&self, status: &str, due_before: Option<&str>) -> StoreResult<Vec<i64>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id FROM flow_runs WHERE status=?1 AND (?2 IS NULL OR resume_at <= ?2) ORDER BY id",
        )?;
        let rows = stmt.query_map(params![status, due_before], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `(id, version)` of `flow`'s runs in `status`, oldest first.
    pub fn ids_of_flow(&self, flow: &str, status: &str) -> StoreResult<Vec<(i64, i64)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT id, version FROM flow_runs WHERE flow=?1 AND status=?2 ORDER BY id")?;
        let rows = stmt.query_map(params![flow, status], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When a `waiting` run is due (RFC 3339), if it waits.
    pub fn resume_at(&self, id: i64) -> StoreResult<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT resume_at FROM flow_runs WHERE id=?1 AND status='waiting'",
                params![id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }

    pub fn get(&self, id: i64) -> StoreResult<Option<RunRecord>> {
        let conn = self.conn();
        Ok(conn
            .query_row(&format!("{RUN_COLS} WHERE id=?1"), params![id], run_row)
            .optional()?)
    }

    pub fn list(&self, filter: &RunFilter) -> StoreResult<Vec<RunRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "{RUN_COLS} WHERE (?1 IS NULL OR flow=?1) AND (?2 IS NULL OR status=?2) ORDER BY id DESC LIMIT ?3"
        ))?;
        let limit = filter.limit.unwrap_or(1000) as i64;
        let rows = stmt.query_map(params![filter.flow, filter.status, limit], run_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many runs `filter` selects (its limit aside).
    pub fn count(&self, filter: &RunFilter) -> StoreResult<u64> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM flow_runs WHERE (?1 IS NULL OR flow=?1) AND (?2 IS NULL OR status=?2)",
            params![filter.flow, filter.status],
            |r| r.get(0),
        )?)
    }

    /// How many replays of `id` exist (for the `replay:<orig>:<n>` key).
    pub fn replay_count(&self, id: i64) -> StoreResult<i64> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM flow_runs WHERE replay_of=?1",
            params![id],
            |r| r.get(0),
        )?)
    }

    pub fn steps(&self, run_id: i64) -> StoreResult<Vec<StepRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT run_id, step_path, attempt, status, input, output, error, started, finished, requests
             FROM flow_steps WHERE run_id=?1 ORDER BY started, rowid",
        )?;
        let rows = stmt.query_map(params![run_id], step_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn step(&self, run_id: i64, path: &str) -> StoreResult<Option<StepRecord>> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT run_id, step_path, attempt, status, input, output, error, started, finished, requests
                 FROM flow_steps WHERE run_id=?1 AND step_path=?2",
                params![run_id, path],
                step_row,
            )
            .optional()?)
    }

    pub fn begin_step(
        &self,
        run_id: i64,
        path: &str,
        attempt: i64,
        input: &Value,
    ) -> StoreResult<()> {
        self.conn().execute(
            "INSERT INTO flow_steps (run_id, step_path, attempt, status, input, started)
             VALUES (?1, ?2, ?3, 'running', ?4, ?5)
             ON CONFLICT(run_id, step_path) DO UPDATE SET attempt=?3, status='running',
               input=?4, started=?5, output=NULL, error=NULL, finished=NULL",
            params![run_id, path, attempt, input.to_string(), now()],
        )?;
        Ok(())
    }

    pub fn end_step(
        &self,
        run_id: i64,
        path: &str,
        status: &str,
        output: Option<&Value>,
        error: Option<&str>,
        requests: &Value,
    ) -> StoreResult<()> {
        self.conn().execute(
            "UPDATE flow_steps SET status=?3, output=?4, error=?5, finished=?6, requests=?7
             WHERE run_id=?1 AND step_path=?2",
            params![
                run_id,
                path,
                status,
                output.map(|v| v.to_string()),
                error,
                now(),
                requests.to_string()
            ],
        )?;
        Ok(())
    }

    /// Copy the finished steps of `from` (all but the failed one and later, and not its
    /// failure handler's) into `to`.
    pub fn copy_ok_steps(&self, from: i64, to: i64) -> StoreResult<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO flow_steps (run_id, step_path, attempt, status, input, output, error, started, finished, requests)
             SELECT ?2, step_path, attempt, status, input, output, error, started, finished, requests
             FROM flow_steps WHERE run_id=?1 AND status IN ('ok', 'skipped')
               AND substr(step_path, 1, 11) <> 'on_failure.'",
            params![from, to],
        )?;
        Ok(())
    }

    /// The intent for `key`: `None` when none, `Some(None)` when sent without a known
    /// result, `Some(Some(result))` when settled.
    pub fn intent(&self, key: &str) -> StoreResult<Option<Option<Value>>> {
        let row: Option<Option<String>> = self
            .conn()
            .query_row(
                "SELECT result FROM flow_intents WHERE key=?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?;
        Ok(row.map(|r| r.and_then(|t| serde_json::from_str(&t).ok())))
    }

    pub fn record_intent(
        &self,
        key: &str,
        run_id: i64,
        path: &str,
        request: &Value,
    ) -> StoreResult<()> {
        self.conn().execute(
            "INSERT OR IGNORE INTO flow_intents (key, run_id, step_path, request, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![key, run_id, path, request.to_string(), now()],
        )?;
        Ok(())
    }

    pub fn settle_intent(&self, key: &str, result: &Value) -> StoreResult<()> {
        self.conn().execute(
            "UPDATE flow_intents SET result=?2, settled=?3 WHERE key=?1",
            params![key, result.to_string(), now()],
        )?;
        Ok(())
    }

    /// Forget an intent whose outcome the operator checked (replay of an unknown step).
    pub fn drop_intent(&self, key: &str) -> StoreResult<()> {
        self.conn().execute(
            "DELETE FROM flow_intents WHERE key=?1 AND result IS NULL",
            params![key],
        )?;
        Ok(())
    }
}

const RUN_COLS: &str = "SELECT id, flow, version, run_key, status, trigger, error, failed_step, started, finished, replay_of, resume_at, lease_owner, lease_until FROM flow_runs";

fn json(text: Option<String>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: r.get(0)?,
        flow: r.get(1)?,
        version: r.get(2)?,
        run_key: r.get(3)?,
        status: r.get(4)?,
        trigger: json(r.get(5)?).unwrap_or(Value::Null),
        error: r.get(6)?,
        failed_step: r.get(7)?,
        started: r.get(8)?,
        finished: r.get(9)?,
        replay_of: r.get(10)?,
        resume_at: r.get(11)?,
        lease_owner: r.get(12)?,
        lease_until: r.get(13)?,
    })
}

fn step_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StepRecord> {
    Ok(StepRecord {
        run_id: r.get(0)?,
        step_path: r.get(1)?,
        attempt: r.get(2)?,
        status: r.get(3)?,
        input: json(r.get(4)?).unwrap_or(Value::Null),
        output: json(r.get(5)?),
        error: r.get(6)?,
        started: r.get(7)?,
        finished: r.get(8)?,
        requests: json(r.get(9)?).unwrap_or(Value::Array(vec![])),
    })
}
