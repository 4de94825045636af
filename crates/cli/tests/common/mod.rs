//! Shared helpers of the CLI end-to-end tests: one in-process GHL emulator per test and
//! a runner for the `hlbridge` binary pointed at it.

#![allow(dead_code)]

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use hlbridge_core::rate::{RateBudget, Window};
use hlbridge_emulator::ghl::{start, GhlConfig, GhlEmulator, GhlState};
use hlbridge_ghl::{CallInput, GhlAuth, GhlClient};
use serde_json::Value;

pub const TOKEN: &str = "pit-cli-e2e-token";
pub const LOCATION: &str = "ve9EPM428h8vShlRW1KT";
pub const BIN: &str = env!("CARGO_BIN_EXE_hlbridge");

/// Longest a single run of the binary may take before the test fails (a hang, never a
/// timing assertion).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// What one run of the binary produced.
#[derive(Debug, Clone)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Standard output parsed as one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// Standard output as JSON lines (what `--all` prints).
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("line {l:?} is not JSON ({e})"))
            })
            .collect()
    }

    /// Standard error parsed as one JSON document (errors with `--json`).
    pub fn stderr_json(&self) -> Value {
        serde_json::from_str(self.stderr.trim())
            .unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {self:?}"))
    }

    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// Exit 0 and stdout parsed as JSON.
    #[track_caller]
    pub fn ok(&self) -> Value {
        assert_eq!(self.code, 0, "expected success: {self:?}");
        self.json()
    }
}

/// An emulator serving on a free local port, plus the binary runner.
pub struct Env {
    pub emu: GhlEmulator,
}

/// The configuration every test starts from: our token and location, no demo data.
pub fn config() -> GhlConfig {
    GhlConfig {
        token: TOKEN.into(),
        location_id: LOCATION.into(),
        seed_contacts: 0,
        ..GhlConfig::default()
    }
}

impl Env {
    pub async fn start() -> Env {
        Env::start_with(config()).await
    }

    pub async fn start_with(config: GhlConfig) -> Env {
        let emu = start(config, "127.0.0.1:0".parse().expect("socket address"))
            .await
            .expect("the GHL emulator starts");
        Env { emu }
    }

    pub fn state(&self) -> Arc<GhlState> {
        self.emu.state()
    }

    pub fn requests(&self) -> u64 {
        self.state().stats().requests
    }

    /// Run `hlbridge <args>` with the GHL environment pointing at this emulator.
    pub async fn run(&self, args: &[&str]) -> Out {
        run_with_env(
            args,
            &[
                ("HLBRIDGE_GHL_BASE_URL", self.emu.base_url.as_str()),
                ("HLBRIDGE_GHL_TOKEN", TOKEN),
                ("HLBRIDGE_GHL_LOCATION_ID", LOCATION),
            ],
        )
        .await
    }

    /// `hlbridge ghl <op> --json [--param k=v]... [--body JSON]`.
    pub async fn ghl(&self, op: &str, params: &[(&str, &str)], body: Option<&Value>) -> Out {
        self.ghl_with(op, params, body, &[]).await
    }

    /// Like [`Env::ghl`] with extra flags (e.g. `--all`).
    pub async fn ghl_with(
        &self,
        op: &str,
        params: &[(&str, &str)],
        body: Option<&Value>,
        extra: &[&str],
    ) -> Out {
        let mut args: Vec<String> = vec!["ghl".into(), op.into(), "--json".into()];
        for (k, v) in params {
            args.push("--param".into());
            args.push(format!("{k}={v}"));
        }
        if let Some(b) = body {
            args.push("--body".into());
            args.push(b.to_string());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&refs).await
    }

    /// Call `op` through the binary and require success; returns stdout as JSON.
    pub async fn ok(&self, op: &str, params: &[(&str, &str)], body: Option<&Value>) -> Value {
        let out = self.ghl(op, params, body).await;
        assert_eq!(out.code, 0, "{op} failed: {out:?}");
        out.json()
    }

    /// Create a contact through the binary; returns its id.
    pub async fn create_contact(&self, body: Value) -> String {
        let created = self.ok("contacts.create-contact", &[], Some(&body)).await;
        created["contact"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no contact id in {created}"))
            .to_string()
    }

    /// The contact as the emulator holds it (panics if absent).
    #[track_caller]
    pub fn contact(&self, id: &str) -> Value {
        self.state()
            .contact(id)
            .unwrap_or_else(|| panic!("contact {id} is not in the emulator"))
    }

    /// An in-process client for quick set-up of many records (not what is under test),
    /// with a budget large enough never to wait.
    pub fn client(&self) -> GhlClient {
        GhlClient::builder()
            .base_url(&self.emu.base_url)
            .auth(GhlAuth::LocationToken(TOKEN.into()))
            .location_id(LOCATION)
            .budget(Arc::new(RateBudget::new(vec![Window::new(
                1_000_000,
                Duration::from_secs(1),
            )])))
            .build()
            .expect("client builds")
    }

    /// Create `n` contacts in-process (`Person{i}` / `person{i}@{domain}`); returns
    /// their ids in creation order.
    pub async fn seed(&self, n: usize, domain: &str) -> Vec<String> {
        let client = self.client();
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let body = serde_json::json!({
                "firstName": format!("Person{i:04}"),
                "lastName": "Seeded",
                "email": format!("person{i:04}@{domain}"),
            });
            let created = client
                .call("contacts.create-contact", CallInput::new().body(body))
                .await
                .expect("seed contact created");
            ids.push(created["contact"]["id"].as_str().expect("id").to_string());
        }
        ids
    }
}

/// A state database of its own for one run of the binary (unless the test gives one):
/// rate windows and tokens never leak from one test into another.
pub fn fresh_database_url() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!("hlbridge-cli-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp folder");
    let n = N.fetch_add(1, Ordering::SeqCst);
    format!(
        "sqlite://{}",
        dir.join(format!("state-{n}.sqlite")).display()
    )
}

/// Run the binary with exactly these `HLBRIDGE_GHL_*` variables (others removed).
pub async fn run_with_env(args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for var in [
        "HLBRIDGE_GHL_BASE_URL",
        "HLBRIDGE_GHL_TOKEN",
        "HLBRIDGE_GHL_LOCATION_ID",
        "HLBRIDGE_LOG",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    if !env.iter().any(|(k, _)| *k == "HLBRIDGE_DATABASE_URL") {
        cmd.env("HLBRIDGE_DATABASE_URL", fresh_database_url());
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("the hlbridge binary starts");
    let output = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("hlbridge {args:?} did not finish"))
        .expect("hlbridge output");
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Run the binary without any emulator (blocking; for `ops list`).
pub fn run_plain(args: &[&str]) -> Out {
    let output = std::process::Command::new(BIN)
        .args(args)
        .env_remove("HLBRIDGE_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("the hlbridge binary runs");
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Ids of a list of contacts (`[{id, …}]`).
pub fn ids_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|c| c["id"].as_str().expect("item has an id").to_string())
        .collect()
}

/// A string array as a `Vec<String>` (empty when absent).
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
