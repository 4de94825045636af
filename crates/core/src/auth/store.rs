use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

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
}

#[derive(Default)]
pub struct MemoryTokenStore {
    inner: Mutex<HashMap<String, Tokens>>,
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
    pub fn open(path: &Path, cipher: Cipher) -> Result<Self> {
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
}
