//! The admin password: one Argon2id PHC string in `service_admin`.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rusqlite::{Connection, OptionalExtension};

use crate::db::{now_secs, DbError};

/// The environment variable read by [`init_admin_from_env`].
pub const PASSWORD_ENV: &str = "HLBRIDGE_ADMIN_PASSWORD";
/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;

/// Why a password cannot be set.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error(
        "the admin password must have at least {MIN_PASSWORD_LEN} characters; choose a longer one"
    )]
    TooShort,
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Hash `password` with Argon2id (default parameters, random salt) as a PHC string.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Check `password` against a PHC string (slow on purpose: call it off the async
/// threads, e.g. in `spawn_blocking`).
pub fn verify_password(phc: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Store a new admin password (replacing any). Existing sessions are signed out.
pub fn set_password(conn: &Connection, password: &str) -> Result<(), PasswordError> {
    let phc = hash_password(password)?;
    conn.execute(
        "INSERT INTO service_admin (id, password_hash, updated_at) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash,
                                        updated_at = excluded.updated_at",
        rusqlite::params![phc, now_secs()],
    )
    .map_err(DbError::from)?;
    conn.execute("DELETE FROM service_sessions", [])
        .map_err(DbError::from)?;
    Ok(())
}

/// The stored PHC string, if a password was set.
pub fn password_hash(conn: &Connection) -> Result<Option<String>, DbError> {
    Ok(conn
        .query_row(
            "SELECT password_hash FROM service_admin WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

/// At first start: when no password is stored and `HLBRIDGE_ADMIN_PASSWORD` is set,
/// store it. Returns whether a password is now stored. A stored password is never
/// replaced from the environment (use `hlbridge admin set-password`).
pub fn init_admin_from_env(conn: &Connection) -> Result<bool, PasswordError> {
    init_admin(conn, std::env::var(PASSWORD_ENV).ok().as_deref())
}

/// [`init_admin_from_env`] with the value given.
pub fn init_admin(conn: &Connection, password: Option<&str>) -> Result<bool, PasswordError> {
    if password_hash(conn)?.is_some() {
        return Ok(true);
    }
    match password.filter(|p| !p.is_empty()) {
        Some(p) => {
            set_password(conn, p)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Read a new password for `hlbridge admin set-password`: from the terminal without
/// echo (asked twice) when stdin is a terminal, otherwise the first line of stdin.
pub fn read_new_password() -> std::io::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New admin password: ")?;
        let again = rpassword::prompt_password("Repeat it: ")?;
        if first != again {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the two passwords differ; run the command again",
            ));
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}
