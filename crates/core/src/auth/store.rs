use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension};

use super::cipher::Cipher;
use super::tokens::Tokens;
use crate::error::{Error, Result};

/// Where tokens live between runs. Keys name a connection, e.g. `ghl:loc-123`.
///
/// `save` must be atomic: after it returns, a crash leaves either the old or the new
/// token set, never a mix (a rotated refresh token that is lost kills the connection).
pub trait TokenStore: Send + Sync {
    fn load(&self, key: &str) -> Result<Option<Tokens>>;
    fn save(&self, key: &str, tokens: &Tokens) -> Result<()>;
    fn delete(&self, key: &str) -> Result<()>;
    fn keys(&self) -> Result<Vec<String>>;

    /// Take (or renew) the refresh lease of `key` for `holder` for `ttl`: `Ok(true)` when
    /// `holder` now holds it, `Ok(false)` when another holder's lease has not expired.
    /// A lease is how processes sharing a store agree that one of them at a time spends
    /// a (single-use) refresh token; a crashed holder's lease simply expires.
    ///
    /// The default (for stores used by one process only) always grants it; the
    /// [`crate::auth::TokenManager`]'s in-process lock still serialises refreshes.
    fn try_lease(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let _ = (key, holder, ttl);
        Ok(true)
    }

    /// Give the lease of `key` back, if `holder` holds it (otherwise nothing happens).
    fn release(&self, key: &str, holder: &str) -> Result<()> {
        let _ = (key, holder);
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryTokenStore {
    inner: Mutex<HashMap<String, Tokens>>,
    leases: Mutex<HashMap<String, (String, Instant)>>,
}

impl TokenStore for MemoryTokenStore {
    fn load(&self, key: &str) -> Result<Option<Tokens>> {
        Ok(lock(&self.inner)?.get(key).cloned())
    }

    fn save(&self, key: &str, tokens: &Tokens) -> Result<()> {
        lock(&self.inner)?.insert(key.to_string(), tokens.clone());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<()> {
        lock(&self.inner)?.remove(key);
        Ok(())
    }

    fn keys(&self) -> Result<Vec<String>> {
        let mut keys: Vec<String> = lock(&self.inner)?.keys().cloned().collect();
        keys.sort();
        Ok(keys)
    }

    fn try_lease(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let now = Instant::now();
        let mut leases = lock(&self.leases)?;
        match leases.get(key) {
            Some((other, until)) if other != holder && *until > now => Ok(false),
            _ => {
                let until = now.checked_add(ttl).unwrap_or(now);
                leases.insert(key.to_string(), (holder.to_string(), until));
                Ok(true)
            }
        }
    }

    fn release(&self, key: &str, holder: &str) -> Result<()> {
        let mut leases = lock(&self.leases)?;
        if leases.get(key).is_some_and(|(h, _)| h == holder) {
            leases.remove(key);
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| Error::TokenStore("token store lock poisoned".into()))
}

/// Tokens in a SQLite table, the whole token set sealed with AES-256-GCM.
pub struct SqliteTokenStore {
    conn: Mutex<Connection>,
    cipher: Cipher,
}

impl SqliteTokenStore {
    /// Open (or create, with mode 0600: see [`crate::fsutil::ensure_private_db`]) the
    /// database at `path`.
    pub fn open(path: &Path, cipher: Cipher) -> Result<Self> {
        crate::fsutil::ensure_private_db(path)?;
        let conn = Connection::open(path)
            .map_err(|e| Error::TokenStore(format!("open {}: {e}", path.display())))?;
        Self::with_connection(conn, cipher)
    }

    pub fn in_memory(cipher: Cipher) -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(|e| Error::TokenStore(e.to_string()))?;
        Self::with_connection(conn, cipher)
    }

    fn with_connection(conn: Connection, cipher: Cipher) -> Result<Self> {
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS oauth_tokens (
                 key TEXT PRIMARY KEY,
                 sealed BLOB NOT NULL,
                 updated_at TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS token_leases (
                 key TEXT PRIMARY KEY,
                 holder TEXT NOT NULL,
                 until_ms INTEGER NOT NULL
             );",
        )
        .map_err(|e| Error::TokenStore(e.to_string()))?;
        Ok(SqliteTokenStore {
            conn: Mutex::new(conn),
            cipher,
        })
    }
}

impl TokenStore for SqliteTokenStore {
    fn load(&self, key: &str) -> Result<Option<Tokens>> {
        let conn = lock(&self.conn)?;
        let sealed: Option<Vec<u8>> = conn
            .query_row(
                "SELECT sealed FROM oauth_tokens WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| Error::TokenStore(e.to_string()))?;
        match sealed {
            None => Ok(None),
            Some(sealed) => {
                let plain = self.cipher.open(&sealed)?;
                serde_json::from_slice(&plain).map(Some).map_err(|e| {
                    Error::TokenStore(format!("stored token for {key} is unreadable: {e}"))
                })
            }
        }
    }

    fn save(&self, key: &str, tokens: &Tokens) -> Result<()> {
        let plain = serde_json::to_vec(tokens).map_err(|e| Error::TokenStore(e.to_string()))?;
        let sealed = self.cipher.seal(&plain)?;
        let conn = lock(&self.conn)?;
        // One statement: SQLite makes it atomic and, with synchronous=FULL, durable.
        conn.execute(
            "INSERT INTO oauth_tokens (key, sealed, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(key) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
            params![key, sealed, chrono::Utc::now().to_rfc3339()],
        )
        .map_err(|e| Error::TokenStore(e.to_string()))?;
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<()> {
        lock(&self.conn)?
            .execute("DELETE FROM oauth_tokens WHERE key = ?1", params![key])
            .map_err(|e| Error::TokenStore(e.to_string()))?;
        Ok(())
    }

    fn keys(&self) -> Result<Vec<String>> {
        let conn = lock(&self.conn)?;
        let mut stmt = conn
            .prepare("SELECT key FROM oauth_tokens ORDER BY key")
            .map_err(|e| Error::TokenStore(e.to_string()))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| Error::TokenStore(e.to_string()))?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::TokenStore(e.to_string()))
    }

    /// One statement (atomic across processes): insert the lease, or take it over when
    /// it expired or is already `holder`'s. Wall-clock milliseconds, so every process
    /// reads the same expiry.
    fn try_lease(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let now = now_ms();
        let until = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        let changed = lock(&self.conn)?
            .execute(
                "INSERT INTO token_leases (key, holder, until_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms
                 WHERE token_leases.until_ms <= ?4 OR token_leases.holder = excluded.holder",
                params![key, holder, until, now],
            )
            .map_err(|e| Error::TokenStore(format!("refresh lease for {key}: {e}")))?;
        Ok(changed == 1)
    }

    fn release(&self, key: &str, holder: &str) -> Result<()> {
        lock(&self.conn)?
            .execute(
                "DELETE FROM token_leases WHERE key = ?1 AND holder = ?2",
                params![key, holder],
            )
            .map_err(|e| Error::TokenStore(format!("refresh lease for {key}: {e}")))?;
        Ok(())
    }
}

/// Milliseconds since the Unix epoch (wall clock: shared by processes).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn sqlite_store_encrypts_at_rest() {
        let dir = std::env::temp_dir().join(format!("hlb-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let store = SqliteTokenStore::open(&path, Cipher::from_key(&[1; 32])).unwrap();
        let mut t = Tokens::static_token("access-PLAINTEXT-marker");
        t.refresh_token = Some(SecretString::from("refresh-PLAINTEXT-marker".to_string()));
        store.save("ghl:loc", &t).unwrap();
        let back = store.load("ghl:loc").unwrap().unwrap();
        assert_eq!(back.access(), "access-PLAINTEXT-marker");
        assert_eq!(back.refresh(), Some("refresh-PLAINTEXT-marker"));
        drop(store);
        let raw = std::fs::read(&path).unwrap();
        let wal = std::fs::read(dir.join("t.db-wal")).unwrap_or_default();
        for bytes in [&raw, &wal] {
            assert!(
                !bytes.windows(9).any(|w| w == b"PLAINTEXT"),
                "secret stored in clear"
            );
        }
        let wrong = SqliteTokenStore::open(&path, Cipher::from_key(&[2; 32])).unwrap();
        assert!(wrong.load("ghl:loc").is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[cfg(unix)]
    #[test]
    fn the_database_and_its_wal_are_created_private() {
        let dir = crate::fsutil::test_dir("store-mode");
        let path = dir.join("state.sqlite");
        let store = SqliteTokenStore::open(&path, Cipher::from_key(&[1; 32])).unwrap();
        store.save("k", &Tokens::static_token("t")).unwrap();
        for file in ["state.sqlite", "state.sqlite-wal", "state.sqlite-shm"] {
            assert_eq!(
                crate::fsutil::mode_of(&dir.join(file)).unwrap(),
                0o600,
                "{file}"
            );
        }
        drop(store);
        std::fs::remove_dir_all(&dir).ok();
    }

    fn lease_rules(a: &dyn TokenStore, b: &dyn TokenStore) {
        let ttl = Duration::from_secs(30);
        assert!(a.try_lease("k", "A", ttl).unwrap());
        assert!(!b.try_lease("k", "B", ttl).unwrap(), "held by A");
        assert!(a.try_lease("k", "A", ttl).unwrap(), "A renews");
        assert!(
            b.try_lease("other", "B", ttl).unwrap(),
            "leases are per key"
        );
        b.release("k", "B").unwrap();
        assert!(!b.try_lease("k", "B", ttl).unwrap(), "B cannot release A's");
        a.release("k", "A").unwrap();
        assert!(b.try_lease("k", "B", ttl).unwrap(), "released");
        // A crashed holder's lease expires.
        assert!(a
            .try_lease("short", "A", Duration::from_millis(30))
            .unwrap());
        assert!(!b.try_lease("short", "B", ttl).unwrap());
        let deadline = Instant::now() + Duration::from_secs(5);
        while !b.try_lease("short", "B", ttl).unwrap() {
            assert!(Instant::now() < deadline, "the lease never expired");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn leases_in_memory() {
        let store = MemoryTokenStore::default();
        lease_rules(&store, &store);
    }

    #[test]
    fn leases_across_two_connections() {
        let dir = crate::fsutil::test_dir("store-lease");
        let path = dir.join("state.sqlite");
        let a = SqliteTokenStore::open(&path, Cipher::from_key(&[1; 32])).unwrap();
        let b = SqliteTokenStore::open(&path, Cipher::from_key(&[1; 32])).unwrap();
        lease_rules(&a, &b);
        std::fs::remove_dir_all(&dir).ok();
    }
}
