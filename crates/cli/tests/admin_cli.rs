//! `hlbridge api-token` and `hlbridge admin set-password` through the binary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_hlbridge");

fn temp_db(tag: &str) -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!(
        "hlbridge-admin-cli-{tag}-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("state.sqlite");
    let url = format!("sqlite://{}", db.display());
    (db, url)
}

fn run(args: &[&str], url: &str, stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("HLBRIDGE_DATABASE_URL", url)
        .env_remove("HLBRIDGE_ADMIN_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn stored_hash(db: &Path) -> Option<String> {
    let conn = hlbridge_service::db::open_existing(db).unwrap();
    hlbridge_service::admin::password_hash(&conn).unwrap()
}

#[test]
fn api_tokens_are_created_listed_and_revoked() {
    let (db, url) = temp_db("tokens");
    // Listing reads only: no database is created.
    let out = run(&["api-token", "list", "--json"], &url, None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "[]");
    assert!(!db.exists());

    let out = run(&["api-token", "create", "--name", "monitoring"], &url, None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout:?}");
    let token = stdout.trim().to_string();
    assert!(token.starts_with("hlb_"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the database is private");
    }

    let out = run(&["api-token", "list", "--json"], &url, None);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "monitoring");
    assert!(token.starts_with(list[0]["prefix"].as_str().unwrap()));
    assert!(list[0]["last_used"].is_null());
    assert!(
        !text(&out.stdout).contains(&token),
        "the token is never listed"
    );
    let id = list[0]["id"].as_i64().unwrap().to_string();

    let table = run(&["api-token", "list"], &url, None);
    assert!(text(&table.stdout).contains("monitoring"));

    let out = run(&["api-token", "revoke", &id], &url, None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run(&["api-token", "revoke", &id], &url, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("api-token list"));
    let out = run(&["api-token", "list", "--json"], &url, None);
    assert_eq!(text(&out.stdout).trim(), "[]");

    let out = run(&["api-token", "list"], "postgres://x/y", None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn admin_password_comes_from_stdin_and_is_stored_hashed() {
    let (db, url) = temp_db("admin");
    let out = run(&["admin", "set-password"], &url, Some("short\n"));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("at least"));
    let out = run(&["admin", "set-password"], &url, Some(""));
    assert_eq!(out.status.code(), Some(2));

    let password = "a long enough admin password";
    let out = run(
        &["admin", "set-password"],
        &url,
        Some(&format!("{password}\n")),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains(password));
    assert!(!text(&out.stderr).contains(password));
    let phc = stored_hash(&db).expect("a stored hash");
    assert!(phc.starts_with("$argon2id$"), "{phc}");
    assert!(!phc.contains(password));
    assert!(hlbridge_service::admin::verify_password(&phc, password));
    assert!(!hlbridge_service::admin::verify_password(&phc, "wrong"));
}
