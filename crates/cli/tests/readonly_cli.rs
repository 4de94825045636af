//! Read-only commands never create the state database: on a missing one they say so
//! and exit 2. A configuration that cannot be used stops `sync` before any file is
//! created or any request sent.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_hlbridge");

fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("hlbridge-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run the binary in `dir` with no `HLBRIDGE_*` variable but `vars`.
fn run(dir: &Path, args: &[&str], vars: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("HLBRIDGE_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("run hlbridge")
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn read_only_commands_on_a_missing_state_database_create_nothing() {
    let dir = temp_dir("readonly");
    let db = dir.join("state").join("hl.sqlite");
    let url = vec![(
        "HLBRIDGE_DATABASE_URL",
        format!("sqlite://{}", db.display()),
    )];
    for args in [
        vec!["status"],
        vec!["conflicts"],
        vec!["conflicts", "list", "--all"],
        vec!["conflicts", "resolve", "1", "--take", "ghl"],
        vec!["notes", "search", "pricing"],
    ] {
        let out = run(&dir, &args, &url);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&format!("no sync state at {} yet", db.display())),
            "{args:?}: {err}"
        );
        assert!(err.contains("hlbridge sync"), "{args:?}: {err}");
        assert!(
            files_in(&dir).is_empty(),
            "{args:?} created {:?}",
            files_in(&dir)
        );
    }
    // --json: the error as JSON on stderr.
    let out = run(&dir, &["status", "--json"], &url);
    assert_eq!(out.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).expect("JSON error");
    assert!(err["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("no sync state at")));
    // The default database (hlbridge.sqlite in the working directory) is not created
    // either.
    let out = run(&dir, &["status"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hlbridge.sqlite"));
    assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));

    // Once a sync has created it, the same commands read it.
    drop(hlbridge_engine::store::sqlite::SqliteStore::open(&db).unwrap());
    let out = run(&dir, &["status", "--json"], &url);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = run(&dir, &["conflicts"], &url);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("no conflicts"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sync_refuses_a_bad_configuration_before_creating_anything() {
    let dir = temp_dir("badconfig");
    for (toml, key, fix) in [
        (
            "[sync]\nupdated_since = \"yesterday\"\n",
            "sync.updated_since",
            "YYYY-MM-DD",
        ),
        (
            "[sellsy]\nbase_url = \"https://api.sellsy.com\"\n",
            "sellsy.base_url",
            "/v2",
        ),
        (
            "[sync]\npoll_every = 3\n",
            "sync.poll_every",
            "poll_interval_minutes",
        ),
        (
            "[sync]\ndeletion_guard_share = -1\n",
            "sync.deletion_guard_share",
            "between 0 and 1",
        ),
        (
            "[database]\nurl = \"mysql://db\"\n",
            "database.url",
            "sqlite://PATH",
        ),
    ] {
        std::fs::write(dir.join("bad.toml"), toml).unwrap();
        // Credentials for an unreachable server: nothing may be sent either.
        let vars = [
            ("HLBRIDGE_GHL_TOKEN", "pit-x".to_string()),
            ("HLBRIDGE_GHL_LOCATION_ID", "loc".to_string()),
            ("HLBRIDGE_GHL_BASE_URL", "http://127.0.0.1:9".to_string()),
            ("HLBRIDGE_SELLSY_TOKEN", "tok".to_string()),
        ];
        let out = run(&dir, &["sync", "--once", "--config", "bad.toml"], &vars);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}: {err}");
        assert!(err.contains(key) && err.contains(fix), "{toml}: {err}");
        assert_eq!(files_in(&dir), vec!["bad.toml"], "{toml}: nothing created");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
