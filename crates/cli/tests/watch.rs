//! `hlbridge watch`: polling triggers against the GHL emulator, state across restarts.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use hlbridge_emulator::ghl::{start, GhlConfig, GhlEmulator};
use hlbridge_ghl::{ContactInput, GhlAuth, GhlClient};
use serde_json::Value;
use tokio::io::AsyncBufReadExt;

const TOKEN: &str = "pit-watch";
const LOCATION: &str = "loc-watch";

struct Env {
    emu: GhlEmulator,
    db: std::path::PathBuf,
    client: GhlClient,
}

async fn setup(name: &str) -> Env {
    let emu = start(
        GhlConfig {
            token: TOKEN.into(),
            location_id: LOCATION.into(),
            rate_max: 10_000,
            ..GhlConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("hlb-watch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let client = GhlClient::builder()
        .base_url(&emu.base_url)
        .auth(GhlAuth::LocationToken(TOKEN.into()))
        .location_id(LOCATION)
        .build()
        .unwrap();
    Env {
        db: dir.join("state.sqlite"),
        emu,
        client,
    }
}

fn command(env: &Env, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hlbridge"));
    cmd.arg("watch")
        .args(args)
        .env("HLBRIDGE_GHL_BASE_URL", &env.emu.base_url)
        .env("HLBRIDGE_GHL_TOKEN", TOKEN)
        .env("HLBRIDGE_GHL_LOCATION_ID", LOCATION)
        .env(
            "HLBRIDGE_DATABASE_URL",
            format!("sqlite://{}", env.db.display()),
        )
        .env_remove("HLBRIDGE_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Run a watch with `--once`; return (exit code, items printed, stderr).
async fn once(env: &Env, args: &[&str]) -> (i32, Vec<Value>, String) {
    let mut all = vec!["--once"];
    all.extend_from_slice(args);
    let out = command(env, &all).output().await.unwrap();
    let items = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        items,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn create(env: &Env, n: usize) -> String {
    let input = ContactInput {
        first_name: Some(format!("Watch{n}")),
        email: Some(format!("watch{n}@example.com")),
        ..Default::default()
    };
    env.client.contacts().create(&input).await.unwrap().id
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

const SEARCH: &str = "contacts.search-contacts-advanced";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_items_are_emitted_once_across_restarts_without_replaying_history() {
    let env = setup("new").await;
    let old = create(&env, 0).await;
    let (code, items, err) = once(&env, &[SEARCH]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        items.is_empty(),
        "the first run records a baseline, no history: {items:?}"
    );

    let a = create(&env, 1).await;
    let b = create(&env, 2).await;
    let (code, items, err) = once(&env, &[SEARCH]).await;
    assert_eq!(code, 0, "{err}");
    let got: HashSet<String> = ids(&items).into_iter().collect();
    assert_eq!(got, HashSet::from([a.clone(), b.clone()]));
    assert!(!got.contains(&old));

    // A fresh process with the same state prints nothing new.
    let (_, items, _) = once(&env, &[SEARCH]).await;
    assert!(items.is_empty(), "{items:?}");

    // An update of a known item is not "new".
    env.client
        .contacts()
        .update(
            &a,
            &ContactInput {
                city: Some("Lyon".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (_, items, _) = once(&env, &[SEARCH]).await;
    assert!(items.is_empty(), "{items:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updated_trigger_emits_real_changes_only() {
    let env = setup("updated").await;
    let a = create(&env, 1).await;
    let b = create(&env, 2).await;
    let (_, items, err) = once(&env, &["--on", "updated", SEARCH]).await;
    assert!(items.is_empty(), "baseline: {items:?} {err}");

    env.client
        .contacts()
        .update(
            &a,
            &ContactInput {
                city: Some("Paris".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // Same value again: only dateUpdated moves.
    let first = env.client.contacts().get(&b).await.unwrap();
    env.client
        .contacts()
        .update(
            &b,
            &ContactInput {
                first_name: first.first_name.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (_, items, _) = once(&env, &["--on", "updated", SEARCH]).await;
    assert_eq!(ids(&items), vec![a.clone()]);
    assert_eq!(items[0]["city"], "Paris");
    let (_, items, _) = once(&env, &["--on", "updated", SEARCH]).await;
    assert!(items.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_beginning_pages_through_everything_once() {
    let env = setup("all").await;
    let mut expected = HashSet::new();
    for n in 0..230 {
        expected.insert(create(&env, n).await);
    }
    let (code, items, err) = once(
        &env,
        &[
            "--from-beginning",
            "--param",
            "limit=50",
            "contacts.get-contacts",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let got = ids(&items);
    assert_eq!(got.len(), 230, "no repeats");
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), expected, "no gaps");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intervals_and_actions_are_refused_before_any_request() {
    let env = setup("refuse").await;
    for every in ["30s", "16m", "0"] {
        let out = command(&env, &["--every", every, SEARCH])
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--every {every}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("1m") && err.contains("15m"), "{err}");
    }
    let out = command(&env, &["--once", "contacts.create-contact"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("action"));
    assert_eq!(env.emu.state().stats().requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continuous_watch_picks_up_changes_each_interval() {
    let env = setup("loop").await;
    create(&env, 0).await;
    let mut child = command(&env, &["--every", "1m", SEARCH])
        .env("HLBRIDGE_WATCH_MINUTE_MS", "200")
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fresh = create(&env, 1).await;
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("an item within the timeout")
        .unwrap()
        .expect("a line");
    let item: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(item["id"], fresh);
    child.kill().await.unwrap();
}
