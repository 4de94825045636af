//! `hlbridge watch --app sellsy`: Sellsy read operations as polling triggers, through
//! the binary against the Sellsy emulator, with state across restarts.

use std::collections::HashSet;
use std::process::Stdio;

use hlbridge_emulator::sellsy::{start, SellsyConfig, SellsyEmulator};
use hlbridge_sellsy::{CallInput, SellsyAuth, SellsyClient};
use serde_json::{json, Value};

struct Env {
    emu: SellsyEmulator,
    db: std::path::PathBuf,
    token: String,
    client: SellsyClient,
}

async fn setup(name: &str) -> Env {
    let emu = start(SellsyConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("hlb-watch-sellsy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let token = emu.state().mint_access_token();
    let client = SellsyClient::builder()
        .base_url(&emu.base_url)
        .auth(SellsyAuth::Token(token.clone()))
        .build()
        .unwrap();
    Env {
        db: dir.join("state.sqlite"),
        emu,
        token,
        client,
    }
}

/// Run `watch --app sellsy --once ARGS`; return (exit code, items printed, stderr).
async fn once(env: &Env, args: &[&str]) -> (i32, Vec<Value>, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hlbridge"))
        .args(["watch", "--app", "sellsy", "--once"])
        .args(args)
        .env("HLBRIDGE_SELLSY_BASE_URL", &env.emu.base_url)
        .env("HLBRIDGE_SELLSY_TOKEN", &env.token)
        .env_remove("HLBRIDGE_GHL_TOKEN")
        .env(
            "HLBRIDGE_DATABASE_URL",
            format!("sqlite://{}", env.db.display()),
        )
        .env_remove("HLBRIDGE_LOG")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
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

async fn create(env: &Env, n: usize) -> i64 {
    let mut input = CallInput::new();
    input.body = Some(json!({
        "first_name": format!("Watch{n}"),
        "last_name": format!("Sellsy{n}"),
        "email": format!("watch{n}@example.com"),
    }));
    let body = env
        .client
        .call("contacts.create-contact", input)
        .await
        .unwrap();
    body["id"].as_i64().expect("created contact id")
}

async fn rename(env: &Env, id: i64, last_name: &str) {
    let mut input = CallInput::new();
    input.set("id", id);
    input.body = Some(json!({"last_name": last_name}));
    env.client
        .call("contacts.update-contact-info", input)
        .await
        .unwrap();
}

fn ids(items: &[Value]) -> Vec<i64> {
    items.iter().map(|i| i["id"].as_i64().unwrap()).collect()
}

const LIST: &str = "contacts.get-list";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_contact_is_emitted_once_across_restarts() {
    let env = setup("new").await;
    let old = create(&env, 0).await;
    let (code, items, err) = once(&env, &[LIST]).await;
    assert_eq!(code, 0, "{err}");
    assert!(items.is_empty(), "the first run is a baseline: {items:?}");

    let a = create(&env, 1).await;
    let (code, items, err) = once(&env, &[LIST]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(ids(&items), vec![a]);
    assert_eq!(items[0]["last_name"], "Sellsy1");
    assert_ne!(a, old);

    // A new process over the same state prints nothing again; an update is not new.
    let (_, items, _) = once(&env, &[LIST]).await;
    assert!(items.is_empty(), "{items:?}");
    rename(&env, a, "Renamed").await;
    let (_, items, _) = once(&env, &[LIST]).await;
    assert!(items.is_empty(), "{items:?}");

    // --from-beginning on a fresh state emits what exists, once each.
    let (code, items, err) = once(&env, &["--from-beginning", "--on", "updated", LIST]).await;
    assert_eq!(code, 0, "{err}");
    let got: HashSet<i64> = ids(&items).into_iter().collect();
    assert_eq!(got, HashSet::from([old, a]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_is_emitted_once_in_updated_mode() {
    let env = setup("updated").await;
    let a = create(&env, 1).await;
    let b = create(&env, 2).await;
    let (_, items, err) = once(&env, &["--on", "updated", LIST]).await;
    assert!(items.is_empty(), "baseline: {items:?} {err}");

    rename(&env, a, "Changed").await;
    let (code, items, err) = once(&env, &["--on", "updated", LIST]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(ids(&items), vec![a], "only the changed contact");
    assert_eq!(items[0]["last_name"], "Changed");

    // Across a restart the same change is not emitted again; b never changed.
    let (_, items, _) = once(&env, &["--on", "updated", LIST]).await;
    assert!(items.is_empty(), "{items:?}");
    let _ = b;

    // The single-object read of a contact works as a trigger too.
    let id = a.to_string();
    let (code, items, err) = once(
        &env,
        &[
            "--from-beginning",
            "contacts.get-informations",
            "-p",
            &format!("id={id}"),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(ids(&items), vec![a]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_unknown_operations_are_refused_with_a_hint() {
    let env = setup("bad").await;
    let (code, items, err) = once(&env, &["contacts.create-contact"]).await;
    assert_ne!(code, 0);
    assert!(items.is_empty());
    assert!(err.contains("only reads can be watched"), "{err}");
    let (code, _, err) = once(&env, &["contacts.get-lst"]).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("ops list --app sellsy"),
        "names the list: {err}"
    );
    // Nothing was created on the emulator by the refused write.
    let list = env
        .client
        .call("contacts.get-list", CallInput::new())
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0));
}
