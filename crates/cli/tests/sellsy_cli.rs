//! `hlbridge sellsy` against the Sellsy emulator: client_credentials, state, bad input.

use std::process::Stdio;

use hlbridge_emulator::sellsy::{start, SellsyConfig, SellsyEmulator};
use serde_json::Value;

const ID: &str = "cli-client";
const SECRET: &str = "cli-secret";

async fn emulator() -> SellsyEmulator {
    start(
        SellsyConfig {
            client_id: ID.into(),
            client_secret: SECRET.into(),
            ..SellsyConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

/// A state database of its own for each run (rate windows never leak between tests).
fn fresh_db() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!("hlbridge-sellsy-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let n = N.fetch_add(1, Ordering::SeqCst);
    format!(
        "sqlite://{}",
        dir.join(format!("state-{n}.sqlite")).display()
    )
}

async fn run(base: &str, args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hlbridge"))
        .arg("sellsy")
        .args(args)
        .env("HLBRIDGE_SELLSY_BASE_URL", base)
        .env("HLBRIDGE_SELLSY_CLIENT_ID", ID)
        .env("HLBRIDGE_SELLSY_CLIENT_SECRET", SECRET)
        .env_remove("HLBRIDGE_SELLSY_TOKEN_URL")
        .env_remove("HLBRIDGE_SELLSY_TOKEN")
        .env("HLBRIDGE_DATABASE_URL", fresh_db())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_contact_is_found_by_email_search() {
    let emu = emulator().await;
    let (code, out, err) = run(
        &emu.base_url,
        &[
            "contacts.create-contact",
            "--json",
            "--body",
            r#"{"last_name":"Doe","first_name":"Jane","email":"jane@example.com"}"#,
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let id = created["id"].as_i64().expect("an integer id");
    assert!(
        emu.state().store().contacts.get(id).is_some(),
        "the contact is in the emulator's state"
    );

    let (code, out, err) = run(
        &emu.base_url,
        &[
            "contacts.search-contacts",
            "--json",
            "--body",
            r#"{"filters":{"email":"jane@example.com"}}"#,
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let found: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(found["data"][0]["id"], id);
    assert_eq!(found["pagination"]["total"], 1);

    // Every item once with --all, by seek and by numeric offsets.
    for extra in [&[][..], &["--numeric-offsets"][..]] {
        let mut args = vec!["contacts.get-list", "--all", "--param", "limit=1"];
        args.extend_from_slice(extra);
        let (code, out, err) = run(&emu.base_url, &args).await;
        assert_eq!(code, 0, "{err}");
        assert_eq!(out.lines().count(), 1, "{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_2_with_one_line_and_sends_nothing() {
    // Nothing listens there: any request would end in a network error (exit 1).
    let closed = "http://127.0.0.1:9/v2";
    let cases: &[&[&str]] = &[
        &["contacts.no-such-operation"],
        &["contacts.get-informations"],
        &["contacts.create-contact", "--body", "{bad json"],
        &[
            "contacts.create-contact",
            "--body",
            r#"{"last_name":"x","shoe_size":44}"#,
        ],
        &["contacts.get-informations", "--param", "id=abc"],
        &["contacts.get-list", "--param", "limit"],
        &[
            "contacts.create-contact",
            "--body",
            "@/nonexistent/file.json",
        ],
    ];
    for args in cases {
        let (code, _, err) = run(closed, args).await;
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_name_the_offending_fields() {
    let emu = emulator().await;
    let (code, _, err) = run(
        &emu.base_url,
        &[
            "contacts.create-contact",
            "--body",
            r#"{"first_name":"NoLastName"}"#,
        ],
    )
    .await;
    // Missing last_name is caught by the table first (exit 2) or by Sellsy's 400 (exit 1);
    // either way the field is named.
    assert!(code == 1 || code == 2, "{err}");
    assert!(err.contains("last_name"), "{err}");
    let (code, _, err) = run(
        &emu.base_url,
        &["contacts.get-informations", "--param", "id=999999"],
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("404"), "{err}");
}
