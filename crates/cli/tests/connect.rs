//! `hlbridge connect`: the OAuth authorization-code flow through a local redirect, tokens
//! stored encrypted, then used (and refreshed) by `hlbridge sellsy` / `hlbridge ghl`.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hlb-connect-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("state.sqlite")
}

fn hlbridge(db: &std::path::Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hlbridge"));
    cmd.env(
        "HLBRIDGE_DATABASE_URL",
        format!("sqlite://{}", db.display()),
    )
    .env_remove("HLBRIDGE_SECRET_KEY")
    .env_remove("HLBRIDGE_SELLSY_TOKEN")
    .env_remove("HLBRIDGE_SELLSY_TOKEN_URL")
    .env_remove("HLBRIDGE_GHL_TOKEN")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    cmd
}

/// Run `connect`, play the browser (approve on the consent page, follow the redirect to
/// the local listener) and wait for the command to finish.
async fn connect_as_browser(mut cmd: tokio::process::Command) -> String {
    let mut child = cmd.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut authorize = None;
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.starts_with("http") {
            authorize = Some(line);
            break;
        }
    }
    let authorize = authorize.expect("connect prints the authorize URL");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let consent = http
        .get(format!("{authorize}&approve=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(consent.status().as_u16(), 302, "the consent page redirects");
    let callback = consent.headers()["location"].to_str().unwrap().to_string();
    // A forged redirect (wrong state) is ignored...
    let forged = callback.replace("state=", "state=forged");
    let resp = http.get(&forged).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    // ...the real one completes the flow.
    let resp = http.get(&callback).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    let mut rest = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push_str(&line);
        rest.push('\n');
    }
    assert!(status.success(), "connect failed: {rest}");
    rest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sellsy_authorization_code_with_pkce_then_calls_with_stored_tokens() {
    let emu = hlbridge_emulator::sellsy::start(
        hlbridge_emulator::sellsy::SellsyConfig {
            client_id: "private-app".into(),
            client_secret: "private-secret".into(),
            access_token_ttl: Duration::from_secs(2),
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let db = temp_db("sellsy");
    let mut cmd = hlbridge(&db);
    cmd.args(["connect", "sellsy"])
        .env("HLBRIDGE_SELLSY_BASE_URL", &emu.base_url)
        .env("HLBRIDGE_SELLSY_CLIENT_ID", "private-app")
        .env("HLBRIDGE_SELLSY_CLIENT_SECRET", "private-secret");
    let said = connect_as_browser(cmd).await;
    assert!(said.contains("Sellsy connected"), "{said}");

    // The stored tokens are sealed: nothing readable on disk.
    let raw = std::fs::read(&db).unwrap();
    assert!(
        !String::from_utf8_lossy(&raw).contains("eyJ"),
        "a JWT is stored in clear"
    );
    assert!(db.with_file_name("state.sqlite.key").exists());

    // No client credentials in the environment: the stored connection is used, and
    // refreshed once the 2 s access token has expired.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for round in 0..2 {
        let out = hlbridge(&db)
            .args(["sellsy", "contacts.create-contact", "--json", "--body"])
            .arg(format!(r#"{{"last_name":"Stored{round}"}}"#))
            .env("HLBRIDGE_SELLSY_BASE_URL", &emu.base_url)
            .env_remove("HLBRIDGE_SELLSY_CLIENT_ID")
            .env("HLBRIDGE_SELLSY_CLIENT_SECRET", "private-secret")
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let names: Vec<String> = emu
        .state()
        .store()
        .contacts
        .rows
        .values()
        .filter_map(|c| {
            c.get("last_name")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
        .collect();
    assert!(names.contains(&"Stored0".to_string()) && names.contains(&"Stored1".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ghl_authorization_code_then_calls_with_stored_tokens() {
    let emu = hlbridge_emulator::ghl::start(
        hlbridge_emulator::ghl::GhlConfig {
            client_id: "ghl-app".into(),
            client_secret: "ghl-secret".into(),
            location_id: "loc-connect".into(),
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let db = temp_db("ghl");
    let mut cmd = hlbridge(&db);
    cmd.args(["connect", "ghl"])
        .env("HLBRIDGE_GHL_BASE_URL", &emu.base_url)
        .env("HLBRIDGE_GHL_CLIENT_ID", "ghl-app")
        .env("HLBRIDGE_GHL_CLIENT_SECRET", "ghl-secret");
    let said = connect_as_browser(cmd).await;
    assert!(said.contains("loc-connect"), "{said}");

    emu.state().expire_tokens();
    let out = hlbridge(&db)
        .args([
            "ghl",
            "contacts.create-contact",
            "--json",
            "--body",
            r#"{"firstName":"Oauth"}"#,
        ])
        .env("HLBRIDGE_GHL_BASE_URL", &emu.base_url)
        .env("HLBRIDGE_GHL_LOCATION_ID", "loc-connect")
        .env("HLBRIDGE_GHL_CLIENT_ID", "ghl-app")
        .env("HLBRIDGE_GHL_CLIENT_SECRET", "ghl-secret")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(emu.state().contact_count(), 1);
}
