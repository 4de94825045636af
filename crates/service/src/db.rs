//! The state database as the service uses it: one SQLite connection behind a mutex,
//! used from blocking threads, and the service's own tables.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

/// Bumped when a table below changes; kept in `service_schema_version`.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS service_schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS service_admin (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    password_hash TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS service_sessions (
    id_hash TEXT PRIMARY KEY,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS service_login_attempts (
    client TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS service_login_attempts_client ON service_login_attempts (client, at);
CREATE TABLE IF NOT EXISTS service_api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used INTEGER
);
CREATE INDEX IF NOT EXISTS service_api_tokens_prefix ON service_api_tokens (prefix);
CREATE TABLE IF NOT EXISTS webhook_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app TEXT NOT NULL,
    webhook_id TEXT NOT NULL UNIQUE,
    location_id TEXT,
    event_type TEXT,
    received_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX IF NOT EXISTS webhook_events_status ON webhook_events (status, id);
";

/// The activity timeline's sync cycles and each account's requests per UTC hour
/// (written by `ui::activity::record_cycles` and `ui::budgets::recording`).
const UI_ACTIVITY_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS service_sync_cycles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pair TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT NOT NULL,
    targeted INTEGER NOT NULL,
    status TEXT NOT NULL,
    summary TEXT NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS service_sync_cycles_started ON service_sync_cycles (started);
CREATE INDEX IF NOT EXISTS service_sync_cycles_pair ON service_sync_cycles (pair, started);
CREATE INDEX IF NOT EXISTS service_sync_cycles_status ON service_sync_cycles (status, started);
CREATE TABLE IF NOT EXISTS service_budget_hourly (
    account TEXT NOT NULL,
    hour TEXT NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (account, hour)
);
CREATE INDEX IF NOT EXISTS service_budget_hourly_hour ON service_budget_hourly (hour);
";

/// Errors of the service's storage.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("state database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("state database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("state database {0} does not exist; run `hlbridge serve` or `hlbridge api-token create` first")]
    Missing(String),
    #[error("{0}")]
    Config(String),
    #[error("state database task failed: {0}")]
    Task(String),
}

/// The SQLite file a `HLBRIDGE_DATABASE_URL` names (`sqlite://PATH` or a bare path).
pub fn path_from_url(url: &str) -> Result<PathBuf, DbError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(DbError::Config(
            "HLBRIDGE_DATABASE_URL: PostgreSQL is not supported yet; use sqlite://PATH".into(),
        ));
    }
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    if path.is_empty() || path.contains("://") {
        return Err(DbError::Config(format!(
            "HLBRIDGE_DATABASE_URL {url:?}: use sqlite://PATH, e.g. sqlite://hlbridge.sqlite"
        )));
    }
    Ok(PathBuf::from(path))
}

/// Open (creating it with mode 0600 if missing) the state database and create the
/// service tables.
pub fn open_connection(path: &Path) -> Result<Connection, DbError> {
    if !path.exists() {
        create_private_file(path).map_err(|e| {
            DbError::Config(format!(
                "cannot create the state database {}: {e}",
                path.display()
            ))
        })?;
    }
    let conn = Connection::open(path).map_err(|source| DbError::Open {
        path: path.display().to_string(),
        source,
    })?;
    prepare(&conn)?;
    Ok(conn)
}

/// Open an existing state database; never creates one.
pub fn open_existing(path: &Path) -> Result<Connection, DbError> {
    if !path.exists() {
        return Err(DbError::Missing(path.display().to_string()));
    }
    open_connection(path)
}

fn prepare(conn: &Connection) -> Result<(), DbError> {
    conn.busy_timeout(Duration::from_secs(10))?;
    let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    migrate(conn)
}

/// Create the service tables (idempotent).
pub fn migrate(conn: &Connection) -> Result<(), DbError> {
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(UI_ACTIVITY_SCHEMA)?;
    let current: Option<i64> = conn
        .query_row("SELECT MAX(version) FROM service_schema_version", [], |r| {
            r.get(0)
        })
        .unwrap_or(None);
    if current.is_none() {
        conn.execute(
            "INSERT INTO service_schema_version (version) VALUES (?1)",
            [SCHEMA_VERSION],
        )?;
    }
    Ok(())
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(|_| ())
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> std::io::Result<()> {
    std::fs::File::create(path).map(|_| ())
}

/// A shared handle on the state database. Calls run on tokio's blocking pool.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

impl Db {
    /// Open `path` (created with mode 0600 if missing) and create the service tables.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        Ok(Db::from_connection(open_connection(path)?))
    }

    /// Wrap a connection that is already open (the service tables are created).
    pub fn from_connection(conn: Connection) -> Db {
        Db {
            conn: Arc::new(Mutex::new(conn)),
        }
    }

    /// Run `f` with the connection on a blocking thread.
    pub async fn call<F, R>(&self, f: F) -> Result<R, DbError>
    where
        F: FnOnce(&mut Connection) -> Result<R, DbError> + Send + 'static,
        R: Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))?
    }

    /// Run `f` with the connection on the current thread (for CLI code and tests).
    pub fn call_blocking<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}
