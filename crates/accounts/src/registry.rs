//! The connections and pairs tables in the state database, beside the sealed tokens.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hlbridge_core::auth::{Cipher, SqliteTokenStore, TokenStore, Tokens};
use rand::RngCore;
use rusqlite::{params, Connection as Db, OptionalExtension, Row};
use serde_json::{Map, Value};

use crate::error::{AccountsError, Result};
use crate::model::{App, ConnKind, ConnStatus, Connection, Pair};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS connections (
    id TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    label TEXT,
    base_url TEXT NOT NULL,
    parent TEXT,
    settings TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'ok',
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (app, kind, account)
);
CREATE TABLE IF NOT EXISTS pairs (
    id TEXT PRIMARY KEY,
    ghl TEXT NOT NULL,
    sellsy TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (ghl, sellsy)
);
CREATE TABLE IF NOT EXISTS oauth_pending (
    state TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    sealed BLOB NOT NULL,
    created_at TEXT NOT NULL
);
";

/// Pending OAuth authorizations live this long (a consent page left open).
pub const PENDING_TTL_MINUTES: i64 = 15;

/// Connections and pairs of one state database.
pub struct Registry {
    db: Mutex<Db>,
    tokens: Arc<dyn TokenStore>,
    cipher: Cipher,
    path: PathBuf,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// `<db>.key` beside the database: where the sealing key is kept when
/// `HLBRIDGE_SECRET_KEY` is not set.
pub fn key_file_for(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".key");
    db.with_file_name(name)
}

/// A random id with a readable prefix, e.g. `ghl-3f9a2c1d`.
pub fn new_id(prefix: &str) -> String {
    let mut b = [0u8; 4];
    rand::thread_rng().fill_bytes(&mut b);
    format!("{prefix}-{}", hex_of(&b))
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn sql(e: rusqlite::Error) -> AccountsError {
    AccountsError::Store(e.to_string())
}

impl Registry {
    /// Open (creating when missing, mode 0600) the state database at `path`.
    pub fn open(path: &Path) -> Result<Registry> {
        crate::private::ensure_private_file(path)?;
        let cipher = Cipher::from_env_or_file(&key_file_for(path))?;
        let tokens: Arc<dyn TokenStore> = Arc::new(SqliteTokenStore::open(path, cipher.clone())?);
        let db = Db::open(path).map_err(sql)?;
        db.execute_batch("PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000;")
            .map_err(sql)?;
        db.execute_batch(SCHEMA).map_err(sql)?;
        Ok(Registry {
            db: Mutex::new(db),
            tokens,
            cipher,
            path: path.to_path_buf(),
        })
    }

    /// Open only when the database exists (commands that only read never create it).
    pub fn open_existing(path: &Path) -> Result<Option<Registry>> {
        if !path.exists() {
            return Ok(None);
        }
        Registry::open(path).map(Some)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn tokens(&self) -> &Arc<dyn TokenStore> {
        &self.tokens
    }

    fn db(&self) -> Result<std::sync::MutexGuard<'_, Db>> {
        self.db
            .lock()
            .map_err(|_| AccountsError::Store("registry lock poisoned".into()))
    }

    // ----- connections -----

    fn row(r: &Row<'_>) -> rusqlite::Result<Connection> {
        let app: String = r.get("app")?;
        let kind: String = r.get("kind")?;
        let settings: String = r.get("settings")?;
        let status: String = r.get("status")?;
        Ok(Connection {
            id: r.get("id")?,
            app: App::parse(&app).unwrap_or(App::Ghl),
            account: r.get("account")?,
            kind: ConnKind::parse(&kind).unwrap_or(ConnKind::GhlPit),
            status: ConnStatus::parse(&status),
            label: r.get("label")?,
            base_url: r.get("base_url")?,
            parent: r.get("parent")?,
            last_error: r.get("last_error")?,
            created: r.get("created_at")?,
            implicit: false,
            settings: serde_json::from_str::<Map<String, Value>>(&settings).unwrap_or_default(),
        })
    }

    /// Every stored connection, oldest first, with its status as stored (see
    /// [`crate::Accounts::status_of`] for the live one).
    pub fn list(&self) -> Result<Vec<Connection>> {
        let db = self.db()?;
        let mut stmt = db
            .prepare("SELECT * FROM connections ORDER BY created_at, id")
            .map_err(sql)?;
        let rows = stmt.query_map([], Registry::row).map_err(sql)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)
    }

    /// A connection by id, or by account id when exactly one connection has it.
    pub fn get(&self, id_or_account: &str) -> Result<Option<Connection>> {
        let all = self.list()?;
        if let Some(c) = all.iter().find(|c| c.id == id_or_account) {
            return Ok(Some(c.clone()));
        }
        let by_account: Vec<&Connection> =
            all.iter().filter(|c| c.account == id_or_account).collect();
        match by_account.as_slice() {
            [one] => Ok(Some((*one).clone())),
            [] => Ok(None),
            many => Err(AccountsError::Input(format!(
                "{id_or_account} names {} connections ({}): give the connection id",
                many.len(),
                many.iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    pub fn require(&self, id_or_account: &str) -> Result<Connection> {
        self.get(id_or_account)?.ok_or_else(|| {
            AccountsError::NotFound(format!(
                "no connection {id_or_account}: `hlbridge connections list` shows them"
            ))
        })
    }

    /// Store a connection and its tokens. A connection of the same app, kind and account
    /// is reconnected in place (same id, new tokens, status ok).
    pub fn upsert(&self, new: NewConnection, tokens: &Tokens) -> Result<Connection> {
        let existing = {
            let db = self.db()?;
            db.query_row(
                "SELECT id FROM connections WHERE app = ?1 AND kind = ?2 AND account = ?3",
                params![new.kind.app().as_str(), new.kind.as_str(), new.account],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(sql)?
        };
        let id = existing.unwrap_or_else(|| new_id(new.kind.app().as_str()));
        // Tokens first: a row without its tokens would be unusable.
        self.tokens.save(&format!("conn:{id}"), tokens)?;
        let now = now();
        let settings = Value::Object(new.settings).to_string();
        self.db()?
            .execute(
                "INSERT INTO connections (id, app, kind, account, label, base_url, parent, settings, status, last_error, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'ok', NULL, ?9, ?9)
                 ON CONFLICT(id) DO UPDATE SET label = COALESCE(excluded.label, label),
                    base_url = excluded.base_url, parent = excluded.parent, settings = excluded.settings,
                    status = 'ok', last_error = NULL, updated_at = excluded.updated_at",
                params![
                    id,
                    new.kind.app().as_str(),
                    new.kind.as_str(),
                    new.account,
                    new.label,
                    new.base_url,
                    new.parent,
                    settings,
                    now
                ],
            )
            .map_err(sql)?;
        self.require(&id)
    }

    /// Record how the last use went (`None` = fine).
    pub fn set_status(&self, id: &str, status: ConnStatus, error: Option<&str>) -> Result<()> {
        self.db()?
            .execute(
                "UPDATE connections SET status = ?2, last_error = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, status.as_str(), error, now()],
            )
            .map_err(sql)?;
        Ok(())
    }

    /// Remove a connection and its tokens. Refused while a pair uses it, unless
    /// `with_pairs` (then its pairs go too; their state files stay for inspection).
    pub fn remove(&self, id: &str, with_pairs: bool) -> Result<Vec<String>> {
        let conn = self.require(id)?;
        let pairs: Vec<String> = self
            .pairs()?
            .into_iter()
            .filter(|p| p.ghl == conn.id || p.sellsy == conn.id)
            .map(|p| p.id)
            .collect();
        if !pairs.is_empty() && !with_pairs {
            return Err(AccountsError::Input(format!(
                "connection {} is used by pair(s) {}: remove them first (`hlbridge pairs remove ID`)",
                conn.id,
                pairs.join(", ")
            )));
        }
        let children: Vec<String> = self
            .list()?
            .into_iter()
            .filter(|c| c.parent.as_deref() == Some(conn.id.as_str()))
            .map(|c| c.id)
            .collect();
        {
            let db = self.db()?;
            for p in &pairs {
                db.execute("DELETE FROM pairs WHERE id = ?1", params![p])
                    .map_err(sql)?;
            }
            db.execute("DELETE FROM connections WHERE id = ?1", params![conn.id])
                .map_err(sql)?;
        }
        self.tokens.delete(&conn.token_key())?;
        self.tokens
            .delete(&format!("{}:secret", conn.token_key()))?;
        let mut removed = vec![conn.id];
        for child in children {
            removed.extend(self.remove(&child, with_pairs)?);
        }
        Ok(removed)
    }

    /// A secret kept with a connection (Sellsy client secret, GHL app secret), sealed.
    pub fn save_secret(&self, conn_id: &str, secret: &str) -> Result<()> {
        self.tokens.save(
            &format!("conn:{conn_id}:secret"),
            &Tokens::static_token(secret),
        )?;
        Ok(())
    }

    pub fn secret(&self, conn_id: &str) -> Result<Option<String>> {
        Ok(self
            .tokens
            .load(&format!("conn:{conn_id}:secret"))?
            .map(|t| t.access().to_string()))
    }

    // ----- pairs -----

    fn pair_row(r: &Row<'_>) -> rusqlite::Result<Pair> {
        Ok(Pair {
            id: r.get("id")?,
            ghl: r.get("ghl")?,
            sellsy: r.get("sellsy")?,
            config: r.get("config")?,
            created: r.get("created_at")?,
            updated: r.get("updated_at")?,
        })
    }

    pub fn pairs(&self) -> Result<Vec<Pair>> {
        let db = self.db()?;
        let mut stmt = db
            .prepare("SELECT * FROM pairs ORDER BY created_at, id")
            .map_err(sql)?;
        let rows = stmt.query_map([], Registry::pair_row).map_err(sql)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)
    }

    pub fn pair(&self, id: &str) -> Result<Option<Pair>> {
        self.db()?
            .query_row(
                "SELECT * FROM pairs WHERE id = ?1",
                params![id],
                Registry::pair_row,
            )
            .optional()
            .map_err(sql)
    }

    /// Pair a GHL location connection with a Sellsy connection. `config` is the pair's
    /// `hlbridge.toml` text, validated by the caller (the engine owns its format).
    pub fn add_pair(&self, ghl: &str, sellsy: &str, config: &str) -> Result<Pair> {
        let g = self.require(ghl)?;
        let s = self.require(sellsy)?;
        if g.app != App::Ghl || !g.kind.is_location() {
            return Err(AccountsError::Input(format!(
                "--ghl {ghl}: a pair needs a GHL location connection (kind pit, oauth-location or agency-location), not {} {}",
                g.app.as_str(),
                g.kind.as_str()
            )));
        }
        if s.app != App::Sellsy {
            return Err(AccountsError::Input(format!(
                "--sellsy {sellsy}: connection {} is a {} connection, not Sellsy",
                s.id,
                s.app.as_str()
            )));
        }
        if let Some(p) = self
            .pairs()?
            .into_iter()
            .find(|p| p.ghl == g.id && p.sellsy == s.id)
        {
            return Err(AccountsError::Conflict(format!(
                "{} and {} are already paired as {}",
                g.id, s.id, p.id
            )));
        }
        let id = new_id("pair");
        let now = now();
        self.db()?
            .execute(
                "INSERT INTO pairs (id, ghl, sellsy, config, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![id, g.id, s.id, config, now],
            )
            .map_err(sql)?;
        self.pair(&id)?
            .ok_or_else(|| AccountsError::Store("pair vanished".into()))
    }

    pub fn set_pair_config(&self, id: &str, config: &str) -> Result<()> {
        let n = self
            .db()?
            .execute(
                "UPDATE pairs SET config = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, config, now()],
            )
            .map_err(sql)?;
        if n == 0 {
            return Err(AccountsError::NotFound(format!("no pair {id}")));
        }
        Ok(())
    }

    pub fn remove_pair(&self, id: &str) -> Result<bool> {
        Ok(self
            .db()?
            .execute("DELETE FROM pairs WHERE id = ?1", params![id])
            .map_err(sql)?
            > 0)
    }

    /// The pair's own sync state (cursors, links, outbox): a database file beside the
    /// main one, so pairs never see each other's records.
    pub fn pair_state_path(&self, pair_id: &str) -> PathBuf {
        let stem = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "hlbridge".into());
        self.path
            .with_file_name(format!("{stem}.pairs"))
            .join(format!("{pair_id}.sqlite"))
    }

    // ----- pending OAuth authorizations (single-use `state`) -----

    /// Remember a started authorization; `payload` (e.g. the PKCE verifier) is sealed.
    pub fn put_pending(&self, app: App, payload: &Value) -> Result<String> {
        let mut b = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut b);
        let state = hex_of(&b);
        let sealed = self.cipher.seal(payload.to_string().as_bytes())?;
        let db = self.db()?;
        let cutoff = (chrono::Utc::now() - chrono::Duration::minutes(PENDING_TTL_MINUTES))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        db.execute(
            "DELETE FROM oauth_pending WHERE created_at < ?1",
            params![cutoff],
        )
        .map_err(sql)?;
        db.execute(
            "INSERT INTO oauth_pending (state, app, sealed, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![state, app.as_str(), sealed, now()],
        )
        .map_err(sql)?;
        Ok(state)
    }

    /// Take (and forget) a pending authorization: a `state` works once, for its app,
    /// within [`PENDING_TTL_MINUTES`].
    pub fn take_pending(&self, app: App, state: &str) -> Result<Option<Value>> {
        let db = self.db()?;
        let row: Option<(String, Vec<u8>, String)> = db
            .query_row(
                "DELETE FROM oauth_pending WHERE state = ?1 RETURNING app, sealed, created_at",
                params![state],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(sql)?;
        let Some((stored_app, sealed, created)) = row else {
            return Ok(None);
        };
        let fresh = chrono::DateTime::parse_from_rfc3339(&created)
            .map(|t| {
                chrono::Utc::now() - t.with_timezone(&chrono::Utc)
                    < chrono::Duration::minutes(PENDING_TTL_MINUTES)
            })
            .unwrap_or(false);
        if stored_app != app.as_str() || !fresh {
            return Ok(None);
        }
        let plain = self.cipher.open(&sealed)?;
        Ok(serde_json::from_slice(&plain).ok())
    }
}

/// What to store for a new connection.
#[derive(Debug, Clone)]
pub struct NewConnection {
    pub kind: ConnKind,
    pub account: String,
    pub label: Option<String>,
    pub base_url: String,
    pub parent: Option<String>,
    pub settings: Map<String, Value>,
}
