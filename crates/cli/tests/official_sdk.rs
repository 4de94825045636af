//! The official GoHighLevel Node SDK (`@gohighlevel/api-client`, unchanged) against the
//! emulator: `tests/official-sdk/contacts.js`. `.ci/run` installs it with `npm ci`;
//! elsewhere the test needs `npm ci` in that folder once, and says so when it is missing.

use std::path::PathBuf;

use hlbridge_emulator::ghl::{start, GhlConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_node_sdk_runs_the_contacts_flow_unchanged() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/official-sdk");
    if !dir.join("node_modules/@gohighlevel/api-client").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install the official SDK first: (cd tests/official-sdk && npm ci)"
        );
        eprintln!("skipped here: run `npm ci` in tests/official-sdk to check the official SDK");
        return;
    }
    let emu = start(
        GhlConfig {
            token: "pit-sdk".into(),
            location_id: "loc-sdk".into(),
            ..GhlConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let out = tokio::process::Command::new("node")
        .arg("contacts.js")
        .current_dir(&dir)
        .env("BASE", &emu.base_url)
        .env("TOKEN", "pit-sdk")
        .env("LOCATION", "loc-sdk")
        .output()
        .await
        .expect("node runs");
    assert!(
        out.status.success(),
        "official SDK failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|v| v["id"].as_str().map(str::to_string))
        .expect("the script prints the contact id");
    // The SDK's writes are real state: the contact it created and deleted is gone.
    assert!(emu.state().contact(&id).is_none());
    assert!(emu.state().stats().requests >= 12);
}
