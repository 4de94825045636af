//! The flow registry: deployed flows and every version of their text, in the main
//! state database (tables `flows` and `flow_versions`).
//!
//! - [`FlowRegistry::deploy`] validates the text first; the same text (byte for byte)
//!   as a version already stored is that version again, any change is the next version.
//!   A first deploy is enabled; a redeploy keeps the flow's enabled flag and, when no
//!   pair is given, its pair.
//! - [`FlowRegistry::record_version`] stores a text as a version without deploying it
//!   (`flow run FILE` records which version a run used).
//! - [`FlowRegistry::deployed`]: the enabled flows, as `hlbridge serve` runs them.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::validate::{self, Problem};

/// A flow version as stored (and, for a deployed flow, whether it runs and for which
/// pair).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployed {
    pub name: String,
    pub version: i64,
    pub text: String,
    pub enabled: bool,
    pub pair: Option<String>,
    /// When this version was deployed (or recorded), RFC 3339.
    pub deployed_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The text does not validate: one `FILE:LINE:COL: message` per problem.
    #[error("{}", problems_text(.0))]
    Invalid(Vec<Problem>),
    #[error("no deployed flow named {0:?}: deploy it first (`hlbridge flow deploy FILE`), `hlbridge flow list` shows the deployed ones")]
    NotFound(String),
    #[error("flow registry: {0}")]
    Store(String),
}

fn problems_text(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn db(e: rusqlite::Error) -> DeployError {
    DeployError::Store(e.to_string())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS flow_versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    hash TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX IF NOT EXISTS flow_versions_hash ON flow_versions (name, hash);
CREATE TABLE IF NOT EXISTS flows (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    pair TEXT,
    deployed_at TEXT NOT NULL
);";

/// Deployed flows and their versions.
pub struct FlowRegistry {
    conn: Mutex<Connection>,
}

impl FlowRegistry {
    /// Open (creating privately when missing) the state database at `db_path`.
    pub fn open(db_path: &Path) -> Result<FlowRegistry, DeployError> {
        hlbridge_core::fsutil::ensure_private_db(db_path)
            .map_err(|e| DeployError::Store(e.to_string()))?;
        let conn = Connection::open(db_path).map_err(db)?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000;")
            .map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(FlowRegistry {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Validate and deploy `text` (problems are reported against the file name `flow`).
    pub fn deploy(&self, text: &str, pair: Option<&str>) -> Result<Deployed, DeployError> {
        self.deploy_file("flow", text, pair)
    }

    /// [`deploy`](Self::deploy), with problems reported against `file`.
    pub fn deploy_file(
        &self,
        file: &str,
        text: &str,
        pair: Option<&str>,
    ) -> Result<Deployed, DeployError> {
        let flow = validate::validate(file, text).map_err(DeployError::Invalid)?;
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let version = store_version(&tx, &flow.name, text)?;
        let at = now();
        tx.execute(
            "INSERT INTO flows (name, version, enabled, pair, deployed_at)
             VALUES (?1, ?2, 1, ?3, ?4)
             ON CONFLICT(name) DO UPDATE SET version = excluded.version,
                 pair = COALESCE(excluded.pair, flows.pair),
                 deployed_at = excluded.deployed_at",
            params![flow.name, version, pair, at],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        drop(conn);
        self.get(&flow.name)?
            .ok_or_else(|| DeployError::NotFound(flow.name.clone()))
    }

    /// Store `text` as a version of its flow without deploying it (same text, same
    /// version). `enabled` and `pair` are those of the deployed flow, if any.
    pub fn record_version(&self, text: &str) -> Result<Deployed, DeployError> {
        self.record_version_file("flow", text)
    }

    /// [`record_version`](Self::record_version), with problems reported against `file`.
    pub fn record_version_file(&self, file: &str, text: &str) -> Result<Deployed, DeployError> {
        let flow = validate::validate(file, text).map_err(DeployError::Invalid)?;
        let version = {
            let mut conn = self.conn();
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            let v = store_version(&tx, &flow.name, text)?;
            tx.commit().map_err(db)?;
            v
        };
        self.version(&flow.name, version)?
            .ok_or_else(|| DeployError::NotFound(flow.name.clone()))
    }

    /// Every deployed flow (enabled or not) at its deployed version, by name.
    pub fn list(&self) -> Result<Vec<Deployed>, DeployError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT f.name, f.version, v.text, f.enabled, f.pair, f.deployed_at
                 FROM flows f JOIN flow_versions v ON v.name = f.name AND v.version = f.version
                 ORDER BY f.name",
            )
            .map_err(db)?;
        let rows = stmt.query_map([], row).map_err(db)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db)
    }

    /// The enabled deployed flows, with their pair.
    pub fn deployed(&self) -> Result<Vec<Deployed>, DeployError> {
        Ok(self.list()?.into_iter().filter(|d| d.enabled).collect())
    }

    /// The deployed flow `name`, at its deployed version.
    pub fn get(&self, name: &str) -> Result<Option<Deployed>, DeployError> {
        self.conn()
            .query_row(
                "SELECT f.name, f.version, v.text, f.enabled, f.pair, f.deployed_at
                 FROM flows f JOIN flow_versions v ON v.name = f.name AND v.version = f.version
                 WHERE f.name = ?1",
                params![name],
                row,
            )
            .optional()
            .map_err(db)
    }

    /// Version `v` of flow `name` (deployed or only recorded). `deployed_at` is when
    /// the version was first stored.
    pub fn version(&self, name: &str, v: i64) -> Result<Option<Deployed>, DeployError> {
        self.conn()
            .query_row(
                "SELECT v.name, v.version, v.text, COALESCE(f.enabled, 0), f.pair, v.created_at
                 FROM flow_versions v LEFT JOIN flows f ON f.name = v.name
                 WHERE v.name = ?1 AND v.version = ?2",
                params![name, v],
                row,
            )
            .optional()
            .map_err(db)
    }

    /// The latest version stored for `name`, deployed or not.
    pub fn latest_version(&self, name: &str) -> Result<Option<i64>, DeployError> {
        self.conn()
            .query_row(
                "SELECT MAX(version) FROM flow_versions WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .map_err(db)
    }

    /// Enable or disable a deployed flow.
    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), DeployError> {
        let changed = self
            .conn()
            .execute(
                "UPDATE flows SET enabled = ?2 WHERE name = ?1",
                params![name, enabled as i64],
            )
            .map_err(db)?;
        if changed == 0 {
            return Err(DeployError::NotFound(name.to_string()));
        }
        Ok(())
    }
}

/// The version number of `text` for flow `name`: the stored one with the same text, or
/// the next one.
fn store_version(
    tx: &rusqlite::Transaction<'_>,
    name: &str,
    text: &str,
) -> Result<i64, DeployError> {
    let h = hash(text);
    let same: Option<i64> = tx
        .query_row(
            "SELECT version FROM flow_versions WHERE name = ?1 AND hash = ?2 AND text = ?3
             ORDER BY version LIMIT 1",
            params![name, h, text],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    if let Some(v) = same {
        return Ok(v);
    }
    let next: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM flow_versions WHERE name = ?1",
            params![name],
            |r| r.get(0),
        )
        .map_err(db)?;
    tx.execute(
        "INSERT INTO flow_versions (name, version, hash, text, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![name, next, h, text, now()],
    )
    .map_err(db)?;
    Ok(next)
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Deployed> {
    Ok(Deployed {
        name: r.get(0)?,
        version: r.get(1)?,
        text: r.get(2)?,
        enabled: r.get::<_, i64>(3)? != 0,
        pair: r.get(4)?,
        deployed_at: r.get(5)?,
    })
}
