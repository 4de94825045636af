//! `hlbridge flow test`, `flow run --once`, `runs list|show|replay` through the real
//! binary against both emulators: a test run writes nothing, a run processes the
//! existing items once, a SIGKILL mid-run is resumed with no action applied twice,
//! a failed run is replayed from its failed step after the flow is fixed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator};
use hlbridge_emulator::sellsy::{SellsyConfig, SellsyEmulator};
use hlbridge_flows::run::RunStore;
use serde_json::{json, Value};

struct Env {
    ghl: GhlEmulator,
    sellsy: SellsyEmulator,
    ghl_cfg: GhlConfig,
    sellsy_cfg: SellsyConfig,
    dir: PathBuf,
}

async fn start(tag: &str) -> Env {
    let local = "127.0.0.1:0".parse().unwrap();
    let ghl_cfg = GhlConfig {
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
    let dir =
        std::env::temp_dir().join(format!("hlb-flowrun-{tag}-{}-{nanos}", std::process::id()));
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
    fn db(&self) -> PathBuf {
        self.dir.join("state.sqlite")
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hlbridge"));
        cmd.args(args).current_dir(&self.dir);
        for (k, _) in std::env::vars() {
            if k.starts_with("HLBRIDGE_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("HLBRIDGE_GHL_BASE_URL", &self.ghl.base_url)
            .env("HLBRIDGE_GHL_TOKEN", &self.ghl_cfg.token)
            .env("HLBRIDGE_GHL_LOCATION_ID", &self.ghl_cfg.location_id)
            .env("HLBRIDGE_SELLSY_BASE_URL", &self.sellsy.base_url)
            .env("HLBRIDGE_SELLSY_CLIENT_ID", &self.sellsy_cfg.client_id)
            .env(
                "HLBRIDGE_SELLSY_CLIENT_SECRET",
                &self.sellsy_cfg.client_secret,
            )
            .env(
                "HLBRIDGE_DATABASE_URL",
                format!("sqlite://{}", self.db().display()),
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
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

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// A Sellsy contact, created in the emulator's store (set-up, no request).
    fn sellsy_contact(&self, email: &str, last: &str) -> i64 {
        let st = self.sellsy.state();
        let mut store = st.store();
        let mut record = serde_json::Map::new();
        record.insert("email".into(), json!(email));
        record.insert("last_name".into(), json!(last));
        record.insert("created".into(), json!("2026-01-05T10:00:00+00:00"));
        record.insert("updated".into(), json!("2026-01-05T10:00:00+00:00"));
        store.contacts.insert(record)
    }

    fn ghl_with(&self, email: &str) -> Vec<Value> {
        let st = self.ghl.state();
        st.contact_ids()
            .iter()
            .filter_map(|id| st.contact(id))
            .filter(|c| c.get("email").and_then(Value::as_str) == Some(email))
            .collect()
    }

    fn notes_of(&self, contact: &Value) -> usize {
        self.ghl
            .state()
            .notes_of(contact["id"].as_str().unwrap())
            .len()
    }
}

const S2G: &str = r#"
schema_version: 1
name: s2g
trigger: { poll: { operation: "sellsy:contacts.get-list", every: 1m, on: new } }
steps:
  - id: create
    action: { operation: "ghl:contacts.create-contact", body: { lastName: "{{ trigger.last_name }}", email: "{{ trigger.email }}" } }
  - id: note
    action: { operation: "ghl:contacts.create-note", params: { contactId: "{{ steps.create.output.contact.id }}" }, body: { body: "from sellsy {{ trigger.id }}" } }
"#;

#[tokio::test]
async fn flow_test_writes_nothing_and_flow_run_once_processes_existing_items_once() {
    let env = start("once").await;
    let file = env.write("s2g.flow.yaml", S2G);
    let item = env.write(
        "item.json",
        r#"{"id": 7, "email": "item@example.com", "last_name": "Item"}"#,
    );

    // flow test: the writes are printed, not sent.
    let (code, out, err) = env
        .run(&["flow", "test", &file, "--item", &format!("@{item}")])
        .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("would send POST"), "{out}");
    assert!(out.contains(&env.ghl.base_url), "{out}");
    assert!(out.contains("item@example.com"), "{out}");
    assert!(!out.to_ascii_lowercase().contains("authorization"), "{out}");
    assert!(!out.contains(&env.ghl_cfg.token));
    assert_eq!(env.ghl.state().contact_count(), 0, "nothing written");
    assert!(!env.db().exists(), "not even a state database");
    assert_eq!(env.ghl.state().note_count(), 0);
    let (code, out, _) = env
        .run(&[
            "flow",
            "test",
            &file,
            "--item",
            &format!("@{item}"),
            "--json",
        ])
        .await;
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["writes"][0]["request"]["method"], "POST");
    assert_eq!(env.ghl.state().contact_count(), 0);
    let (code, out, _) = env.run(&["runs", "list", "--json"]).await;
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        json!([]),
        "a test run is not recorded"
    );

    // flow run --once --from-beginning: both existing Sellsy contacts, once each.
    env.sellsy_contact("one@example.com", "One");
    env.sellsy_contact("two@example.com", "Two");
    let emails = ["one@example.com", "two@example.com"];
    // --sample with no run recorded yet: one read of the poll operation's first item.
    let (code, out, err) = env
        .run(&["flow", "test", &file, "--sample", "--json"])
        .await;
    assert_eq!(code, 0, "{out}\n{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let sampled = v["writes"][0]["request"]["body"]["email"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(emails.contains(&sampled.as_str()), "{v}");
    assert_eq!(env.ghl.state().contact_count(), 0);
    let (code, out, err) = env
        .run(&["flow", "run", &file, "--once", "--from-beginning"])
        .await;
    assert_eq!(code, 0, "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("run ") && l.ends_with(" ok")),
        "{out}"
    );
    for email in ["one@example.com", "two@example.com"] {
        let found = env.ghl_with(email);
        assert_eq!(found.len(), 1, "{email}");
        assert_eq!(env.notes_of(&found[0]), 1);
    }

    // The writes show in `hlbridge history` as flow writes.
    let (code, out, err) = env.run(&["history", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let history: Vec<Value> = serde_json::from_str(&out).unwrap();
    let flow_writes: Vec<&Value> = history.iter().filter(|h| h["source"] == "flow").collect();
    assert_eq!(flow_writes.len(), 4, "{out}");
    assert!(flow_writes
        .iter()
        .all(|h| h["outcome"] == "applied" && h["side"] == "ghl"));

    // --sample now takes the newest run's item; still nothing written.
    let (code, out, _) = env
        .run(&["flow", "test", &file, "--sample", "--json"])
        .await;
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(emails.contains(&v["writes"][0]["request"]["body"]["email"].as_str().unwrap()));
    assert_eq!(env.ghl.state().contact_count(), 2);

    // A second --once emits nothing.
    let (code, out, err) = env.run(&["flow", "run", &file, "--once"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "", "{out}");
    assert_eq!(env.ghl.state().contact_count(), 2);
    assert_eq!(env.ghl.state().note_count(), 2);

    // runs list --json / runs show --json.
    let (code, out, _) = env.run(&["runs", "list", "--json", "--flow", "s2g"]).await;
    assert_eq!(code, 0);
    let runs: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(runs.len(), 2);
    for r in &runs {
        for field in [
            "id",
            "flow",
            "version",
            "run_key",
            "status",
            "trigger",
            "error",
            "failed_step",
            "started",
            "finished",
            "replay_of",
        ] {
            assert!(r.get(field).is_some(), "{field} in {r}");
        }
        assert_eq!(r["flow"], "s2g");
        assert_eq!(r["version"], 1);
        assert_eq!(r["status"], "ok");
    }
    let (code, out, _) = env
        .run(&["runs", "list", "--json", "--status", "failed"])
        .await;
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!([]));
    let id = runs[0]["id"].to_string();
    let (code, out, _) = env.run(&["runs", "show", &id, "--json"]).await;
    assert_eq!(code, 0);
    let shown: Value = serde_json::from_str(&out).unwrap();
    let steps = shown["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["step_path"], "create");
    assert_eq!(steps[0]["status"], "ok");
    assert_eq!(steps[0]["attempt"], 1);
    assert_eq!(steps[0]["requests"][0]["method"], "POST");
    assert!(steps[0]["output"]["contact"]["id"].is_string());
    assert!(!out.contains(&env.ghl_cfg.token));
}

const SLOW: &str = r#"
schema_version: 1
name: slow
trigger: { poll: { operation: "sellsy:contacts.get-list", every: 1m, on: new } }
steps:
  - id: create
    action: { operation: "ghl:contacts.create-contact", body: { lastName: "{{ trigger.last_name }}", email: "{{ trigger.email }}" } }
  - id: pause
    delay: { for: 5s }
  - id: note
    action: { operation: "ghl:contacts.create-note", params: { contactId: "{{ steps.create.output.contact.id }}" }, body: { body: "after the pause" } }
"#;

#[tokio::test]
async fn a_run_killed_mid_delay_is_resumed_by_the_next_once_with_no_action_applied_twice() {
    let env = start("kill").await;
    let file = env.write("slow.flow.yaml", SLOW);
    env.sellsy_contact("slow@example.com", "Slow");
    let mut child = env
        .command(&["flow", "run", &file, "--once", "--from-beginning"])
        .spawn()
        .unwrap();
    // Wait for the run to be parked in its delay, then SIGKILL the process.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let waiting = RunStore::open_existing(&env.db())
            .ok()
            .flatten()
            .and_then(|s| s.list(&Default::default()).ok())
            .is_some_and(|runs| runs.iter().any(|r| r.status == "waiting"));
        if waiting {
            break;
        }
        assert!(Instant::now() < deadline, "the run never reached its delay");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    assert!(!status.success());
    assert_eq!(env.ghl_with("slow@example.com").len(), 1);
    assert_eq!(env.notes_of(&env.ghl_with("slow@example.com")[0]), 0);

    let (code, out, err) = env.run(&["flow", "run", &file, "--once"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(out.trim(), "run 1 ok", "{out}\n{err}");
    let contacts = env.ghl_with("slow@example.com");
    assert_eq!(
        contacts.len(),
        1,
        "the create before the kill is not sent again"
    );
    assert_eq!(env.notes_of(&contacts[0]), 1);
    // And once more: nothing left to do.
    let (code, out, _) = env.run(&["flow", "run", &file, "--once"]).await;
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "");
    assert_eq!(env.ghl.state().note_count(), 1);
}

const BROKEN: &str = r#"
schema_version: 1
name: hook
trigger: { webhook: { app: ghl, events: [ContactCreate] } }
steps:
  - id: note
    action: { operation: "ghl:contacts.create-note", params: { contactId: "{{ trigger.contactId }}" }, body: { body: "hooked" } }
  - id: check
    action: { operation: "ghl:contacts.get-contact", params: { contactId: "{{ trigger.wrongId }}" } }
"#;

#[tokio::test]
async fn a_failed_run_exits_1_and_replays_from_its_failed_step_after_the_fix() {
    let env = start("replay").await;
    let client = hlbridge_ghl::GhlClient::builder()
        .base_url(&env.ghl.base_url)
        .auth(hlbridge_ghl::GhlAuth::LocationToken(
            env.ghl_cfg.token.clone(),
        ))
        .location_id(&env.ghl_cfg.location_id)
        .build()
        .unwrap();
    let created = client
        .call(
            "contacts.create-contact",
            hlbridge_ghl::CallInput {
                params: Default::default(),
                body: Some(json!({"email": "hook@example.com", "lastName": "Hook"})),
            },
        )
        .await
        .unwrap();
    let contact = created["contact"]["id"].as_str().unwrap().to_string();
    let file = env.write("hook.flow.yaml", BROKEN);
    let item = json!({"contactId": contact, "wrongId": "nobody"}).to_string();

    let (code, out, err) = env.run(&["flow", "run", &file, "--once"]).await;
    assert_eq!(code, 2, "a webhook flow needs --item: {out}{err}");
    assert!(err.contains("--item"));

    let (code, out, err) = env
        .run(&["flow", "run", &file, "--once", "--item", &item])
        .await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.starts_with("run 1 failed"), "{out}");
    assert_eq!(env.ghl.state().notes_of(&contact).len(), 1);

    // The fix, recorded as version 2 by running it (on another item).
    let fixed = BROKEN.replace("trigger.wrongId", "trigger.contactId");
    std::fs::write(&file, fixed).unwrap();
    let other = json!({"contactId": contact, "wrongId": "nobody", "n": 2}).to_string();
    let (code, out, err) = env
        .run(&["flow", "run", &file, "--once", "--item", &other])
        .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(env.ghl.state().notes_of(&contact).len(), 2);

    // Replayed on its own version: fails again at the same step, nothing re-sent.
    let (code, out, _) = env
        .run(&["runs", "replay", "1", "--from-failed-step"])
        .await;
    assert_eq!(code, 1, "{out}");
    assert_eq!(env.ghl.state().notes_of(&contact).len(), 2);
    // On the fixed version: ok, the note before the failed step is not sent again.
    let (code, out, err) = env
        .run(&[
            "runs",
            "replay",
            "--failed",
            "--from-failed-step",
            "--latest-version",
            "--json",
        ])
        .await;
    assert_eq!(code, 0, "{out}\n{err}");
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.len(), 1, "only the replay not replayed yet: {rows:?}");
    assert_eq!(rows[0]["status"], "ok");
    assert_eq!(env.ghl.state().notes_of(&contact).len(), 2);
    let (code, out, _) = env.run(&["runs", "list", "--json"]).await;
    assert_eq!(code, 0);
    let runs: Vec<Value> = serde_json::from_str(&out).unwrap();
    let last = &runs[0];
    assert_eq!(last["version"], 2);
    assert!(last["run_key"].as_str().unwrap().starts_with("replay:"));
    // From the start: the note is sent again.
    let (code, out, err) = env
        .run(&["runs", "replay", "1", "--from-start", "--latest-version"])
        .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(env.ghl.state().notes_of(&contact).len(), 3);
}

/// `flow validate --online`: custom fields of both apps and GHL pipelines are checked
/// against the accounts (read through the emulators), each problem at its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_online_checks_custom_fields_and_pipelines() {
    let env = start("online").await;
    let http = reqwest::Client::new();
    let ghl_get = |path: String| {
        http.get(format!("{}{path}", env.ghl.base_url))
            .bearer_auth(&env.ghl_cfg.token)
            .header("Version", "2021-07-28")
            .send()
    };
    let fields: Value = ghl_get(format!(
        "/locations/{}/customFields",
        env.ghl_cfg.location_id
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let key = fields["customFields"][0]["fieldKey"]
        .as_str()
        .unwrap()
        .to_string();
    let pipelines: Value = ghl_get(format!(
        "/opportunities/pipelines?locationId={}",
        env.ghl_cfg.location_id
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let pipeline = pipelines["pipelines"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = env.sellsy.state().mint_access_token();
    let sfields: Value = http
        .get(format!("{}/custom-fields", env.sellsy.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = sfields["data"][0]["code"].as_str().unwrap().to_string();
    let flow = |ghl_key: &str, sellsy_code: &str, pipeline_id: &str| {
        format!(
            "schema_version: 1\nname: online\ntrigger:\n  webhook: {{ app: ghl, events: [OpportunityCreate] }}\nsteps:\n  - id: m\n    map:\n      budget: \"{{{{ trigger | ghl_custom_field('{ghl_key}') }}}}\"\n      code: \"{{{{ trigger | sellsy_custom_field('{sellsy_code}') }}}}\"\n      pipelineId: \"{pipeline_id}\"\n"
        )
    };
    let good = env.write("good.flow.yaml", &flow(&key, &code, &pipeline));
    let (code0, out, err) = env.run(&["flow", "validate", &good, "--online"]).await;
    assert_eq!(code0, 0, "{out}{err}");
    let bad = env.write(
        "bad.flow.yaml",
        &flow("no_such_field", "no-such-code", "no-such-pipeline"),
    );
    // Offline the file is fine; online each name is refused where it is written.
    let (c, _, err) = env.run(&["flow", "validate", &bad]).await;
    assert_eq!(c, 0, "{err}");
    let (c, _, err) = env.run(&["flow", "validate", &bad, "--online"]).await;
    assert_eq!(c, 2, "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(":8:") && l.contains("no_such_field")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(":9:") && l.contains("no-such-code")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(":10:") && l.contains("not a pipeline")),
        "{err}"
    );
    assert!(
        lines.iter().all(|l| l.starts_with(&format!("{bad}:"))),
        "{err}"
    );
    env.sellsy.shutdown().await;
    env.ghl.shutdown();
}
