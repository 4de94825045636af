//! The service tables through the library functions: sessions expire, the admin
//! password from the environment never replaces a stored one, tokens verify only
//! exactly, and reading never creates a database.

mod common;

use hlbridge_service::{admin, api_tokens, db, sessions};

fn fresh() -> (std::path::PathBuf, rusqlite::Connection) {
    let path = common::temp_dir("storage").join("state.sqlite");
    let conn = db::open_connection(&path).unwrap();
    (path, conn)
}

#[test]
fn sessions_expire_when_idle_or_too_old() {
    let (_, conn) = fresh();
    let (id, info) = sessions::create(&conn).unwrap();
    assert_ne!(info.id_hash, id);
    let live = sessions::lookup(&conn, &id, 3600, 7200).unwrap().unwrap();
    assert_eq!(live.csrf_token, info.csrf_token);
    assert!(sessions::lookup(&conn, "someone-else", 3600, 7200)
        .unwrap()
        .is_none());

    // Idle for two hours with a one-hour idle limit.
    conn.execute(
        "UPDATE service_sessions SET last_seen = last_seen - 7200",
        [],
    )
    .unwrap();
    assert!(sessions::lookup(&conn, &id, 3600, 86_400)
        .unwrap()
        .is_none());
    let left: i64 = conn
        .query_row("SELECT COUNT(*) FROM service_sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0, "an expired session is deleted");

    // Active, but past the absolute limit.
    let (id, _) = sessions::create(&conn).unwrap();
    conn.execute(
        "UPDATE service_sessions SET created_at = created_at - 90000",
        [],
    )
    .unwrap();
    assert!(sessions::lookup(&conn, &id, 3600, 86_400)
        .unwrap()
        .is_none());

    let (_, _) = sessions::create(&conn).unwrap();
    conn.execute(
        "UPDATE service_sessions SET last_seen = last_seen - 7200",
        [],
    )
    .unwrap();
    assert_eq!(sessions::purge_expired(&conn, 3600, 86_400).unwrap(), 1);
}

#[test]
fn the_environment_sets_the_first_password_only() {
    let (_, conn) = fresh();
    assert!(!admin::init_admin(&conn, None).unwrap());
    assert!(!admin::init_admin(&conn, Some("")).unwrap());
    assert!(matches!(
        admin::init_admin(&conn, Some("short")),
        Err(admin::PasswordError::TooShort)
    ));
    assert!(admin::init_admin(&conn, Some("first password here")).unwrap());
    assert!(admin::init_admin(&conn, Some("second password here")).unwrap());
    let phc = admin::password_hash(&conn).unwrap().unwrap();
    assert!(phc.starts_with("$argon2id$"));
    assert!(admin::verify_password(&phc, "first password here"));
    assert!(!admin::verify_password(&phc, "second password here"));

    // set-password replaces it and signs every session out.
    sessions::create(&conn).unwrap();
    admin::set_password(&conn, "second password here").unwrap();
    let phc = admin::password_hash(&conn).unwrap().unwrap();
    assert!(admin::verify_password(&phc, "second password here"));
    let left: i64 = conn
        .query_row("SELECT COUNT(*) FROM service_sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn tokens_verify_exactly() {
    let (_, conn) = fresh();
    let (id, token) = api_tokens::create(&conn, "ci").unwrap();
    assert_eq!(api_tokens::verify(&conn, &token).unwrap(), Some(id));
    let mut altered = token.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        api_tokens::verify(&conn, &altered).unwrap(),
        None,
        "same prefix, other token"
    );
    assert_eq!(api_tokens::verify(&conn, &token[..20]).unwrap(), None);
    assert_eq!(api_tokens::verify(&conn, "").unwrap(), None);
    assert_eq!(api_tokens::verify(&conn, "Bearer nothing").unwrap(), None);
    assert!(api_tokens::create(&conn, "  ").is_err());
    let info = api_tokens::get(&conn, id).unwrap().unwrap();
    assert!(info.last_used.is_some());
    assert!(api_tokens::revoke(&conn, id).unwrap());
    assert_eq!(api_tokens::verify(&conn, &token).unwrap(), None);
}

#[test]
fn reading_never_creates_a_database() {
    let dir = common::temp_dir("missing");
    let path = dir.join("absent.sqlite");
    assert!(matches!(
        db::open_existing(&path),
        Err(db::DbError::Missing(_))
    ));
    assert!(!path.exists());
    assert!(db::path_from_url("postgres://h/db").is_err());
    assert!(db::path_from_url("sqlite://").is_err());
    assert_eq!(
        db::path_from_url("sqlite://a/b.sqlite").unwrap(),
        std::path::PathBuf::from("a/b.sqlite")
    );
    // Opening twice (a second process) keeps the tables and their rows.
    let conn = db::open_connection(&path).unwrap();
    api_tokens::create(&conn, "one").unwrap();
    drop(conn);
    let again = db::open_existing(&path).unwrap();
    assert_eq!(api_tokens::list(&again).unwrap().len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
