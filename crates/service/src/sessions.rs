//! Signed-in sessions: a random 32-byte id in an `HttpOnly; SameSite=Lax` cookie,
//! stored as its SHA-256, with a CSRF token of its own and two expiries (idle and
//! absolute).

use base64::Engine as _;
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::{now_secs, DbError};

/// The session cookie.
pub const SESSION_COOKIE: &str = "hlb_session";
/// The pre-session cookie of the sign-in form (double-submit CSRF token).
pub const LOGIN_CSRF_COOKIE: &str = "hlb_login_csrf";
/// The form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";
/// The header carrying the CSRF token (for `fetch`/htmx requests).
pub const CSRF_HEADER: &str = "x-csrf-token";
/// `last_seen` is written at most this often per session.
const TOUCH_GRANULARITY_SECS: i64 = 60;

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// SHA-256 (hex) of the session id; the id itself is only in the cookie.
    pub id_hash: String,
    /// The token every form of this session carries (field [`CSRF_FIELD`] or header
    /// [`CSRF_HEADER`]).
    pub csrf_token: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A random 32-byte value, base64url.
pub fn random_token() -> String {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// Constant-time equality of two tokens.
pub fn tokens_match(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Start a session; returns the cookie value (the id) and the session.
pub fn create(conn: &Connection) -> Result<(String, SessionInfo), DbError> {
    let id = random_token();
    let now = now_secs();
    let info = SessionInfo {
        id_hash: hash(&id),
        csrf_token: random_token(),
        created_at: now,
    };
    conn.execute(
        "INSERT INTO service_sessions (id_hash, csrf_token, created_at, last_seen) VALUES (?1, ?2, ?3, ?3)",
        rusqlite::params![info.id_hash, info.csrf_token, now],
    )?;
    Ok((id, info))
}

/// The live session of cookie value `id`, extending its idle expiry; an expired one
/// is deleted.
pub fn lookup(
    conn: &Connection,
    id: &str,
    idle_secs: i64,
    absolute_secs: i64,
) -> Result<Option<SessionInfo>, DbError> {
    let id_hash = hash(id);
    let row: Option<(String, i64, i64)> = conn
        .query_row(
            "SELECT csrf_token, created_at, last_seen FROM service_sessions WHERE id_hash = ?1",
            [&id_hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((csrf_token, created_at, last_seen)) = row else {
        return Ok(None);
    };
    let now = now_secs();
    if now - last_seen > idle_secs || now - created_at > absolute_secs {
        conn.execute(
            "DELETE FROM service_sessions WHERE id_hash = ?1",
            [&id_hash],
        )?;
        return Ok(None);
    }
    if now - last_seen >= TOUCH_GRANULARITY_SECS {
        conn.execute(
            "UPDATE service_sessions SET last_seen = ?1 WHERE id_hash = ?2",
            rusqlite::params![now, id_hash],
        )?;
    }
    Ok(Some(SessionInfo {
        id_hash,
        csrf_token,
        created_at,
    }))
}

/// End the session of cookie value `id`.
pub fn delete(conn: &Connection, id: &str) -> Result<(), DbError> {
    conn.execute(
        "DELETE FROM service_sessions WHERE id_hash = ?1",
        [hash(id)],
    )?;
    Ok(())
}

/// Delete every expired session; returns how many.
pub fn purge_expired(
    conn: &Connection,
    idle_secs: i64,
    absolute_secs: i64,
) -> Result<usize, DbError> {
    let now = now_secs();
    Ok(conn.execute(
        "DELETE FROM service_sessions WHERE last_seen < ?1 OR created_at < ?2",
        rusqlite::params![now - idle_secs, now - absolute_secs],
    )?)
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_value<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Lax; Path=/`, `Secure` when asked,
/// `Max-Age` when given (0 deletes the cookie).
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<i64>) -> String {
    let mut c = format!("{name}={value}; HttpOnly; SameSite=Lax; Path=/");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}
