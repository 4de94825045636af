//! A configuration value that cannot be used is refused at load, before any file is
//! created or any request sent, with the key named and the fix.

use hlbridge_engine::{EngineConfig, EngineError};

/// The error of loading `toml` as a file (the environment applied, as the CLI does).
fn refused(toml: &str) -> String {
    let dir = std::env::temp_dir().join(format!("hlbridge-config-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("hlbridge.toml");
    std::fs::write(&file, toml).unwrap();
    let e = match EngineConfig::load(Some(&file), true) {
        Ok(c) => panic!("accepted {toml:?}: {c:?}"),
        Err(e) => e,
    };
    assert!(
        matches!(e, EngineError::Config(_) | EngineError::Mapping(_)),
        "{e:?}"
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec!["hlbridge.toml"], "nothing but the file itself");
    let _ = std::fs::remove_dir_all(&dir);
    e.to_string()
}

#[track_caller]
fn has(e: &str, parts: &[&str]) {
    for p in parts {
        assert!(e.contains(p), "`{p}` missing from: {e}");
    }
}

#[test]
fn dates_that_are_not_dates_are_refused() {
    let e = refused("[sync]\nupdated_since = \"yesterday\"\n");
    has(
        &e,
        &["sync.updated_since", "yesterday", "YYYY-MM-DD", "RFC 3339"],
    );
    let e = refused("[sync]\nupdated_since = \"2025-13-45\"\n");
    has(&e, &["sync.updated_since"]);
    for ok in [
        "2025-01-31",
        "2025-01-31T08:00:00Z",
        "2025-01-31T08:00:00+02:00",
    ] {
        EngineConfig::from_toml(&format!("[sync]\nupdated_since = \"{ok}\"\n"))
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

#[test]
fn a_sellsy_base_url_without_v2_is_refused() {
    let e = refused("[sellsy]\nbase_url = \"https://api.sellsy.com\"\n");
    has(&e, &["sellsy.base_url", "/v2", "https://api.sellsy.com/v2"]);
    let e = refused("[ghl]\nbase_url = \"services.leadconnectorhq.com\"\n");
    has(&e, &["ghl.base_url", "https://"]);
    for ok in ["https://api.sellsy.com/v2", "http://127.0.0.1:9/v2/"] {
        EngineConfig::from_toml(&format!("[sellsy]\nbase_url = \"{ok}\"\n"))
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

#[test]
fn unknown_keys_name_the_key_the_section_and_the_valid_keys() {
    let e = refused("[sync]\npoll_interval_minutes = 5\npoll_every = 3\n");
    has(
        &e,
        &[
            "line 3",
            "`sync.poll_every`",
            "[sync]",
            "poll_interval_minutes",
            "deletion_guard_share",
        ],
    );
    let e = refused("[synk]\npoll_interval_minutes = 5\n");
    has(&e, &["`synk`", "top level", "sync", "sellsy", "database"]);
    let e = refused("[sellsy]\nclient_secrett = \"x\"\n");
    has(&e, &["`sellsy.client_secrett`", "client_secret"]);
    // A field the mapping does not know (checked at load, not at connect).
    let e = refused("[fields.nickname]\ndirection = \"both\"\n");
    has(&e, &["nickname", "first_name"]);
}

#[test]
fn bad_numbers_are_refused_with_the_key() {
    for minutes in ["0", "16", "30"] {
        let e = refused(&format!("[sync]\npoll_interval_minutes = {minutes}\n"));
        has(&e, &["sync.poll_interval_minutes", "between 1 and 15"]);
    }
    let e = refused("[sync]\ndeletion_guard_share = -0.5\n");
    has(&e, &["sync.deletion_guard_share", "between 0 and 1"]);
    let e = refused("[sync]\nnotes_sweep_daily_share = 1.5\n");
    has(&e, &["sync.notes_sweep_daily_share", "between 0 and 1"]);
    let e = refused("[sync]\ndeletion_guard_max = -1\n");
    has(&e, &["sync.deletion_guard_max"]);
    let e = refused("[sync]\nlookback_minutes = -2\n");
    has(&e, &["sync.lookback_minutes"]);
    let e = refused("[sync]\nconcurrency = 0\n");
    has(&e, &["sync.concurrency", "at least 1"]);
    let e = refused("[sync]\nhistory_retention_days = 0\n");
    has(&e, &["sync.history_retention_days", "at least 1"]);
    let e = refused("[sync]\npoll_interval_minutes = \"five\"\n");
    has(&e, &["sync.poll_interval_minutes", "line 2"]);
}

#[test]
fn database_urls_other_than_sqlite_paths_are_refused() {
    for (url, why) in [
        ("mysql://db/hl", "sqlite://PATH"),
        ("sqlite://", "needs a file path"),
        ("sqlite:hl.db", "sqlite://PATH"),
        ("postgres://db/hl", "not supported yet"),
    ] {
        let e = refused(&format!("[database]\nurl = \"{url}\"\n"));
        has(&e, &["database.url", why]);
    }
    EngineConfig::from_toml("[database]\nurl = \"sqlite://state/hl.sqlite\"\n").unwrap();
}

#[test]
fn other_unusable_values_are_refused() {
    let e = refused("[webhooks]\nlisten = \"8090\"\n");
    has(&e, &["webhooks.listen", "HOST:PORT"]);
    let e = refused("[sync]\ndefault_phone_region = \"XX\"\n");
    has(&e, &["sync.default_phone_region"]);
    let e = refused("[sync]\narchive_tag = \"\"\n");
    has(&e, &["sync.archive_tag"]);
}

#[test]
fn environment_values_are_checked_too() {
    let mut c = EngineConfig::from_toml("").unwrap();
    c.validate().unwrap();
    c.apply_env(|k| (k == "HLBRIDGE_SELLSY_BASE_URL").then(|| "https://api.sellsy.com".into()));
    let e = c.validate().unwrap_err().to_string();
    has(&e, &["sellsy.base_url", "HLBRIDGE_SELLSY_BASE_URL", "/v2"]);
    let mut c = EngineConfig::from_toml("").unwrap();
    c.apply_env(|k| (k == "HLBRIDGE_DATABASE_URL").then(|| "redis://x".into()));
    has(
        &c.validate().unwrap_err().to_string(),
        &["HLBRIDGE_DATABASE_URL", "sqlite://PATH"],
    );
}

#[test]
fn a_complete_valid_configuration_loads() {
    let c = EngineConfig::from_toml(
        r#"
[ghl]
base_url = "https://services.leadconnectorhq.com"
[sellsy]
base_url = "https://api.sellsy.com/v2"
[database]
url = "sqlite://hlbridge.sqlite"
[sync]
poll_interval_minutes = 15
updated_since = "2025-01-01"
deletion_guard_share = 0.2
notes_sweep_daily_share = 0
history_retention_days = 30
default_phone_region = "us"
[webhooks]
listen = "127.0.0.1:8090"
[fields.email]
transform = "lowercase"
"#,
    )
    .unwrap();
    c.validate().unwrap();
    assert_eq!(c.sync.history_retention_days, 30);
    assert_eq!(EngineConfig::default().sync.history_retention_days, 90);
    assert_eq!(c.pair_label(), "default");
}
