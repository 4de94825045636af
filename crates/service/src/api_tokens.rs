//! API tokens for `Authorization: Bearer`. A token is `hlb_` + 43 base64url
//! characters (32 random bytes); only its SHA-256 and a short visible prefix are
//! stored, and it is shown once, at creation.

use base64::Engine as _;
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use crate::db::{now_secs, DbError};

const TOKEN_PREFIX: &str = "hlb_";
/// Characters of the token kept visible (including `hlb_`).
pub const VISIBLE_PREFIX_LEN: usize = 12;
/// `last_used` is written at most this often per token.
const LAST_USED_GRANULARITY_SECS: i64 = 60;

/// What is known of a token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    /// RFC 3339.
    pub created: String,
    /// RFC 3339; `null` when never used.
    pub last_used: Option<String>,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Create a token named `name`; returns its id and the token (to show once).
pub fn create(conn: &Connection, name: &str) -> Result<(i64, String), DbError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DbError::Config(
            "api-token name: empty; give a name such as --name monitoring".into(),
        ));
    }
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    let prefix = &token[..VISIBLE_PREFIX_LEN];
    conn.execute(
        "INSERT INTO service_api_tokens (name, prefix, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![name, prefix, hash(&token), now_secs()],
    )?;
    Ok((conn.last_insert_rowid(), token))
}

/// Every token, oldest first.
pub fn list(conn: &Connection) -> Result<Vec<TokenInfo>, DbError> {
    let mut stmt = conn.prepare(
        "SELECT id, name, prefix, created_at, last_used FROM service_api_tokens ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(TokenInfo {
            id: r.get(0)?,
            name: r.get(1)?,
            prefix: r.get(2)?,
            created: rfc3339(r.get(3)?),
            last_used: r.get::<_, Option<i64>>(4)?.map(rfc3339),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Delete token `id`; false when there is none.
pub fn revoke(conn: &Connection, id: i64) -> Result<bool, DbError> {
    Ok(conn.execute("DELETE FROM service_api_tokens WHERE id = ?1", [id])? > 0)
}

/// The id of the token `presented`, if it is a valid one; updates its `last_used`.
/// Hashes are compared in constant time.
pub fn verify(conn: &Connection, presented: &str) -> Result<Option<i64>, DbError> {
    let presented = presented.trim();
    if !presented.starts_with(TOKEN_PREFIX) || presented.len() < VISIBLE_PREFIX_LEN {
        return Ok(None);
    }
    let Some(prefix) = presented.get(..VISIBLE_PREFIX_LEN) else {
        return Ok(None);
    };
    let wanted = hash(presented);
    let mut stmt =
        conn.prepare("SELECT id, token_hash, last_used FROM service_api_tokens WHERE prefix = ?1")?;
    let candidates = stmt
        .query_map([prefix], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let now = now_secs();
    for (id, stored, last_used) in candidates {
        if bool::from(stored.as_bytes().ct_eq(wanted.as_bytes())) {
            let stale = match last_used {
                None => true,
                Some(t) => now - t >= LAST_USED_GRANULARITY_SECS,
            };
            if stale {
                conn.execute(
                    "UPDATE service_api_tokens SET last_used = ?1 WHERE id = ?2",
                    rusqlite::params![now, id],
                )?;
            }
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// The token's info, if it exists.
pub fn get(conn: &Connection, id: i64) -> Result<Option<TokenInfo>, DbError> {
    Ok(conn
        .query_row(
            "SELECT id, name, prefix, created_at, last_used FROM service_api_tokens WHERE id = ?1",
            [id],
            |r| {
                Ok(TokenInfo {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    prefix: r.get(2)?,
                    created: rfc3339(r.get(3)?),
                    last_used: r.get::<_, Option<i64>>(4)?.map(rfc3339),
                })
            },
        )
        .optional()?)
}
