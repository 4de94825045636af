//! Stored connections and pairs through the binary, `sync --pair` on them, and
//! `hlbridge serve`: the ready line, the API behind a bearer token, SIGTERM during an
//! initial sync exits 0 and loses or doubles nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator};
use hlbridge_emulator::sellsy::{SellsyConfig, SellsyEmulator};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

struct Env {
    ghl: GhlEmulator,
    sellsy: SellsyEmulator,
    ghl_cfg: GhlConfig,
    sellsy_cfg: SellsyConfig,
    dir: PathBuf,
}

async fn start(ghl_seed: usize) -> Env {
    let local = "127.0.0.1:0".parse().unwrap();
    let ghl_cfg = GhlConfig {
        seed_contacts: ghl_seed,
        rate_max: 1_000_000,
        daily_limit: 10_000_000,
        ..GhlConfig::default()
    };
    let sellsy_cfg = SellsyConfig {
        quota_per_second: 1_000_000,
        quota_per_minute: 10_000_000,
        quota_per_day: 100_000_000,
        quota_per_month: 1_000_000_000,
        ..SellsyConfig::default()
    };
    let ghl = hlbridge_emulator::ghl::start(ghl_cfg.clone(), local)
        .await
        .unwrap();
    let sellsy = hlbridge_emulator::sellsy::start(sellsy_cfg.clone(), local)
        .await
        .unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("hlbridge-serve-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    Env {
        ghl,
        sellsy,
        ghl_cfg,
        sellsy_cfg,
        dir,
    }
}

impl Env {
    fn db_url(&self) -> String {
        format!("sqlite://{}", self.dir.join("state.sqlite").display())
    }

    /// The binary with only the database given: no `HLBRIDGE_*` credentials, so
    /// everything comes from stored connections.
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hlbridge"));
        cmd.args(args).current_dir(&self.dir);
        for (k, _) in std::env::vars() {
            if k.starts_with("HLBRIDGE_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("HLBRIDGE_DATABASE_URL", self.db_url())
            .env("HLBRIDGE_ADMIN_PASSWORD", "serve-test-password")
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.command(args).output().await.unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn sellsy_emails(&self) -> BTreeMap<String, usize> {
        let st = self.sellsy.state();
        let store = st.store();
        let mut out = BTreeMap::new();
        for r in store.contacts.rows.values() {
            if let Some(e) = r.get("email").and_then(Value::as_str) {
                *out.entry(e.to_lowercase()).or_insert(0) += 1;
            }
        }
        out
    }

    fn ghl_emails(&self) -> Vec<String> {
        let st = self.ghl.state();
        st.contact_ids()
            .iter()
            .filter_map(|id| st.contact(id))
            .filter_map(|c| {
                c.get("email")
                    .and_then(Value::as_str)
                    .map(str::to_lowercase)
            })
            .collect()
    }

    /// A GHL connection, a Sellsy connection and their pair, through the CLI.
    async fn pair(&self) -> (String, String, String) {
        let (code, ghl, err) = self
            .run(&[
                "connections",
                "add",
                "ghl",
                "--token",
                &self.ghl_cfg.token,
                "--location",
                &self.ghl_cfg.location_id,
                "--base-url",
                &self.ghl.base_url,
            ])
            .await;
        assert_eq!(code, 0, "{err}");
        let (code, sellsy, err) = self
            .run(&[
                "connections",
                "add",
                "sellsy",
                "--client-id",
                &self.sellsy_cfg.client_id,
                "--client-secret",
                &self.sellsy_cfg.client_secret,
                "--base-url",
                &self.sellsy.base_url,
            ])
            .await;
        assert_eq!(code, 0, "{err}");
        let (ghl, sellsy) = (ghl.trim().to_string(), sellsy.trim().to_string());
        let (code, pair, err) = self
            .run(&["pairs", "add", "--ghl", &ghl, "--sellsy", &sellsy])
            .await;
        assert_eq!(code, 0, "{err}");
        (ghl, sellsy, pair.trim().to_string())
    }
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn stored_connections_and_pairs_drive_the_sync() {
    let env = start(25).await;
    // Listing before anything exists creates nothing.
    let (code, out, _) = env.run(&["connections", "list", "--json"]).await;
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "[]");
    assert!(!env.dir.join("state.sqlite").exists());

    // A bad token is refused before anything is stored.
    let (code, _, err) = env
        .run(&[
            "connections",
            "add",
            "ghl",
            "--token",
            "pit-wrong",
            "--location",
            &env.ghl_cfg.location_id,
            "--base-url",
            &env.ghl.base_url,
        ])
        .await;
    assert_ne!(code, 0, "{err}");

    let (ghl, sellsy, pair) = env.pair().await;
    assert!(ghl.starts_with("ghl-") && sellsy.starts_with("sellsy-") && pair.starts_with("pair-"));
    #[cfg(unix)]
    {
        assert_eq!(mode(&env.dir.join("state.sqlite")), 0o600);
        assert_eq!(mode(&env.dir.join("state.sqlite.key")), 0o600);
        if env.dir.join("state.sqlite-wal").exists() {
            assert_eq!(mode(&env.dir.join("state.sqlite-wal")), 0o600);
        }
    }

    let (code, out, _) = env.run(&["connections", "list", "--json"]).await;
    assert_eq!(code, 0);
    assert!(!out.contains(&env.ghl_cfg.token) && !out.contains(&env.sellsy_cfg.client_secret));
    let list: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(list.len(), 2);
    for c in &list {
        for field in ["id", "app", "account", "kind", "status"] {
            assert!(
                c.get(field).is_some_and(|v| v.is_string()),
                "{field} in {c}"
            );
        }
        assert_eq!(c["status"], "ok");
    }
    let g = list.iter().find(|c| c["id"] == ghl.as_str()).unwrap();
    assert_eq!(
        (g["app"].as_str(), g["kind"].as_str()),
        (Some("ghl"), Some("pit"))
    );
    assert_eq!(g["account"], env.ghl_cfg.location_id.as_str());
    let s = list.iter().find(|c| c["id"] == sellsy.as_str()).unwrap();
    assert_eq!(s["kind"], "client-credentials");
    assert_eq!(s["account"], env.sellsy_cfg.corp_id.to_string().as_str());

    // A pair configuration that cannot be used is refused with the key named.
    std::fs::write(env.dir.join("bad.toml"), "[ghl]\ntoken = \"x\"\n").unwrap();
    let bad = env.dir.join("bad.toml");
    let (code, _, err) = env
        .run(&[
            "pairs",
            "add",
            "--ghl",
            &ghl,
            "--sellsy",
            &sellsy,
            "--config",
            bad.to_str().unwrap(),
        ])
        .await;
    assert_eq!(code, 2);
    assert!(err.contains("ghl.token"), "{err}");
    // A paired connection is not removed behind its pair's back.
    let (code, _, err) = env.run(&["connections", "remove", &ghl]).await;
    assert_eq!(code, 2);
    assert!(err.contains(&pair), "{err}");

    let (code, out, _) = env.run(&["pairs", "list", "--json"]).await;
    assert_eq!(code, 0);
    let pairs: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0]["ghl"], ghl.as_str());

    // `ghl`, `sellsy` and `watch` with no credentials use the stored connections.
    let (code, out, err) = env
        .run(&[
            "ghl",
            "locations.get-location",
            "-p",
            &format!("locationId={}", env.ghl_cfg.location_id),
            "--json",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&env.ghl_cfg.location_id));
    let (code, out, err) = env.run(&["sellsy", "contacts.get-list", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("data"), "{out}");
    let (code, out, err) = env
        .run(&[
            "watch",
            "contacts.get-contacts",
            "--once",
            "--from-beginning",
            "--connection",
            &ghl,
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 25, "every seeded contact once");
    let (code, _, err) = env
        .run(&["ghl", "locations.get-location", "--connection", &sellsy])
        .await;
    assert_eq!(code, 2);
    assert!(err.contains("not ghl"), "{err}");

    // `sync --once` with no credentials in the environment runs the stored pair.
    let (code, _, err) = env.run(&["sync", "--once"]).await;
    assert_eq!(code, 0, "{err}");
    let emails = env.sellsy_emails();
    for e in env.ghl_emails() {
        assert_eq!(emails.get(&e), Some(&1), "{e} on Sellsy once");
    }
    // The pair's state lives in its own file, not in the main database.
    assert!(env
        .dir
        .join("state.pairs")
        .join(format!("{pair}.sqlite"))
        .exists());
    let (code, _, err) = env.run(&["sync", "--once", "--pair", "pair-nope"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("pair-nope"), "{err}");
    let (code, out, err) = env.run(&["history", "--pair", &pair, "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let history: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert!(
        history.len() >= 25,
        "one entry per created contact at least: {}",
        history.len()
    );
}

async fn wait_listening(child: &mut tokio::process::Child) -> String {
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("serve printed nothing")
        .unwrap()
        .unwrap_or_default();
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    url
}

#[cfg(unix)]
#[tokio::test]
async fn serve_runs_pairs_and_sigterm_mid_cycle_loses_nothing() {
    let env = start(600).await;
    let (_, _, pair) = env.pair().await;
    let (code, token, err) = env.run(&["api-token", "create", "--name", "test"]).await;
    assert_eq!(code, 0, "{err}");
    let token = token.trim().to_string();

    let mut child = env
        .command(&["serve", "--listen", "127.0.0.1:0", "--drain-secs", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let base = wait_listening(&mut child).await;
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let anon = http.get(format!("{base}/api/pairs")).send().await.unwrap();
    assert_eq!(anon.status(), 401);
    let pairs: Value = http
        .get(format!("{base}/api/pairs"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pairs[0]["id"], pair.as_str());
    let res = http
        .post(format!("{base}/api/pairs/{pair}/sync"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);

    // SIGTERM once the initial sync is under way.
    let deadline = Instant::now() + Duration::from_secs(120);
    while env.sellsy_emails().len() < 50 {
        assert!(Instant::now() < deadline, "the pair's sync did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The requests of the pair's sync are counted by app, operation and status.
    let metrics = http
        .get(format!("{base}/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("hlbridge_requests_total{app=\"sellsy\",operation=\"contacts.create-contact\",status=\"201\"}")
            || metrics.contains("hlbridge_requests_total{app=\"sellsy\",operation=\"contacts.create-contact\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hlbridge_requests_total{app=\"ghl\""),
        "{metrics}"
    );
    let pid = child.id().unwrap() as i32;
    // SAFETY: sending a signal to our own child process.
    unsafe { libc_kill(pid, 15) };
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("serve did not stop after SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(0), "serve exits 0 on SIGTERM");

    // What was left is finished by the next run; nothing lost, nothing doubled.
    let (code, _, err) = env.run(&["sync", "--once", "--pair", &pair]).await;
    assert_eq!(code, 0, "{err}");
    let emails = env.sellsy_emails();
    let ghl = env.ghl_emails();
    assert_eq!(ghl.len(), 600);
    for e in &ghl {
        assert_eq!(emails.get(e), Some(&1), "{e} on Sellsy exactly once");
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// An OAuth location connection made through the emulator's consent page (approved at
/// once) and stored as `hlbridge connect ghl` would.
async fn oauth_connection(env: &Env) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = "http://127.0.0.1:9/callback";
    let res = http
        .get(format!("{}/oauth/chooselocation", env.ghl.base_url))
        .query(&[
            ("response_type", "code"),
            ("client_id", env.ghl_cfg.client_id.as_str()),
            ("redirect_uri", redirect),
            (
                "scope",
                "contacts.readonly contacts.write locations.readonly",
            ),
            ("approve", "true"),
        ])
        .send()
        .await
        .unwrap();
    let to = res.headers()["location"].to_str().unwrap().to_string();
    let code = url::Url::parse(&to)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let exec = std::sync::Arc::new(
        hlbridge_core::http::Executor::new(
            &env.ghl.base_url,
            std::sync::Arc::new(hlbridge_ghl::flavor::GhlFlavor),
            std::sync::Arc::new(hlbridge_core::rate::RateBudget::ghl_default()),
            None,
        )
        .unwrap(),
    );
    let oauth = hlbridge_ghl::oauth::GhlOAuth::new(
        exec,
        &env.ghl_cfg.client_id,
        &env.ghl_cfg.client_secret,
        hlbridge_ghl::oauth::UserType::Location,
    );
    let tokens = oauth.exchange_code(&code, Some(redirect)).await.unwrap();
    let registry = hlbridge_accounts::Registry::open(&env.dir.join("state.sqlite")).unwrap();
    let accounts = hlbridge_accounts::Accounts::new(
        std::sync::Arc::new(registry),
        hlbridge_accounts::Budgets::default(),
    );
    let conns = accounts
        .add_ghl_oauth(
            tokens,
            &env.ghl.base_url,
            &env.ghl_cfg.client_id,
            &env.ghl_cfg.client_secret,
        )
        .await
        .unwrap();
    conns[0].id.clone()
}

#[tokio::test]
async fn two_processes_refreshing_at_once_spend_one_refresh_token() {
    let env = start(0).await;
    let conn = oauth_connection(&env).await;
    let http = reqwest::Client::new();
    for round in 0..3 {
        // Every access token expires: both processes get a 401 and must refresh, with
        // a refresh token the emulator accepts once.
        let res = http
            .post(format!("{}/emulator/expire-tokens", env.ghl.base_url))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
        let param = format!("locationId={}", env.ghl_cfg.location_id);
        let args = [
            "ghl",
            "locations.get-location",
            "-p",
            param.as_str(),
            "--connection",
            conn.as_str(),
        ];
        let (a, b) = tokio::join!(env.run(&args), env.run(&args));
        assert_eq!(a.0, 0, "round {round}, first process: {}", a.2);
        assert_eq!(b.0, 0, "round {round}, second process: {}", b.2);
    }
    let (code, out, _) = env.run(&["connections", "list", "--json"]).await;
    assert_eq!(code, 0);
    let list: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["status"], "ok", "{list:?}");
}

#[cfg(unix)]
#[tokio::test]
async fn serve_refuses_a_key_file_others_can_read_and_a_bad_listen_address() {
    use std::os::unix::fs::PermissionsExt;
    let env = start(0).await;
    env.pair().await;
    let key = env.dir.join("state.sqlite.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out, err) = env.run(&["serve", "--listen", "127.0.0.1:0"]).await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!out.contains("listening on"));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, _, err) = env.run(&["serve", "--listen", "localhost"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("--listen"), "{err}");
}
