//! The `hlbridge sync` family end to end, the binary against emulators served by this
//! test process: one-shot sync and its exit code, status, notes search, conflicts,
//! configuration errors, and crash safety under SIGKILL with ongoing edits.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator};
use hlbridge_emulator::sellsy::{SellsyConfig, SellsyEmulator};
use serde_json::{json, Value};

struct Env {
    ghl: GhlEmulator,
    sellsy: SellsyEmulator,
    ghl_cfg: GhlConfig,
    sellsy_cfg: SellsyConfig,
    dir: PathBuf,
}

async fn start(ghl_seed: usize, sellsy_seed: usize) -> Env {
    let local = "127.0.0.1:0".parse().unwrap();
    let ghl_cfg = GhlConfig {
        seed_contacts: ghl_seed,
        rate_max: 1_000_000,
        daily_limit: 10_000_000,
        ..GhlConfig::default()
    };
    let sellsy_cfg = SellsyConfig {
        seed_contacts: sellsy_seed,
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
    let dir = std::env::temp_dir().join(format!("hlbridge-sync-{}-{nanos}", std::process::id()));
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
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hlbridge"));
        cmd.args(args)
            .current_dir(&self.dir)
            .env("HLBRIDGE_GHL_BASE_URL", &self.ghl.base_url)
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
                format!("sqlite://{}", self.dir.join("state.sqlite").display()),
            )
            .env_remove("HLBRIDGE_SELLSY_TOKEN")
            .env_remove("HLBRIDGE_SELLSY_TOKEN_URL")
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

    fn ghl_contacts(&self) -> Vec<Value> {
        let st = self.ghl.state();
        st.contact_ids()
            .iter()
            .filter_map(|id| st.contact(id))
            .collect()
    }

    fn sellsy_contacts(&self) -> Vec<Value> {
        let st = self.sellsy.state();
        let store = st.store();
        store
            .contacts
            .rows
            .values()
            .map(|r| Value::Object(r.clone()))
            .collect()
    }

    /// Give the first `n` Sellsy contacts the e-mails of the first `n` GHL contacts.
    fn overlap(&self, n: usize) {
        let emails: Vec<Value> = self
            .ghl_contacts()
            .iter()
            .take(n)
            .map(|c| c["email"].clone())
            .collect();
        let st = self.sellsy.state();
        let mut store = st.store();
        let ids: Vec<i64> = store.contacts.rows.keys().take(n).copied().collect();
        for (id, email) in ids.iter().zip(emails) {
            if let Some(c) = store.contacts.get_mut(*id) {
                c.insert("email".into(), email);
            }
        }
    }

    fn ghl_client(&self) -> hlbridge_ghl::GhlClient {
        hlbridge_ghl::GhlClient::builder()
            .base_url(&self.ghl.base_url)
            .auth(hlbridge_ghl::GhlAuth::LocationToken(
                self.ghl_cfg.token.clone(),
            ))
            .location_id(&self.ghl_cfg.location_id)
            .build()
            .unwrap()
    }

    fn sellsy_client(&self) -> hlbridge_sellsy::SellsyClient {
        hlbridge_sellsy::SellsyClient::builder()
            .base_url(&self.sellsy.base_url)
            .auth(hlbridge_sellsy::SellsyAuth::Token(
                self.sellsy.state().mint_access_token(),
            ))
            .build()
            .unwrap()
    }
}

fn emails(contacts: &[Value]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for c in contacts {
        if let Some(e) = c["email"].as_str() {
            *m.entry(e.to_lowercase()).or_insert(0) += 1;
        }
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_once_status_notes_and_conflicts_through_the_cli() {
    let env = start(12, 12).await;
    env.overlap(3);
    std::fs::write(
        env.dir.join("hlbridge.toml"),
        "[fields.city]\nconflict = \"manual\"\n",
    )
    .unwrap();

    let (code, out, err) = env.run(&["sync", "--dry-run"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("[dry run]") && out.contains("linked 3"),
        "{out}"
    );
    assert_eq!(
        env.ghl.state().contact_count(),
        12,
        "a dry run writes nothing"
    );

    let (code, out, err) = env.run(&["sync", "--once", "--json"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(report["linked"], 3);
    assert_eq!(env.ghl.state().contact_count(), 21);
    assert_eq!(env.sellsy_contacts().len(), 21);
    assert!(
        !err.contains(&env.sellsy_cfg.client_secret) && !out.contains(&env.ghl_cfg.token),
        "secrets never printed"
    );

    let (code, out, _) = env.run(&["status", "--json"]).await;
    assert_eq!(code, 0);
    let status: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(status["links"]["contact"], 21);

    let (code, out, _) = env
        .run(&["notes", "search", "First meeting", "--json"])
        .await;
    assert_eq!(code, 0);
    let hits: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(hits.as_array().unwrap().len() >= 2, "{hits}");

    // city is manual: overlapping pairs with different cities wait in the queue,
    // untouched, until resolved from the CLI.
    let (code, out, _) = env.run(&["conflicts", "list", "--json"]).await;
    assert_eq!(code, 0);
    let list: Value = serde_json::from_str(out.trim()).unwrap();
    let first = list
        .as_array()
        .unwrap()
        .first()
        .cloned()
        .expect("a city conflict");
    assert_eq!(first["field"], "city");
    let gid = first["ghl_id"].as_str().unwrap().to_string();
    assert_eq!(
        env.ghl.state().contact(&gid).unwrap()["city"],
        first["ghl_value"]
    );
    let id = first["id"].to_string();
    let (code, out, err) = env
        .run(&["conflicts", "resolve", &id, "--take", "sellsy"])
        .await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = env.run(&["sync", "--once"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        env.ghl.state().contact(&gid).unwrap()["city"],
        first["sellsy_value"]
    );
    let (_, out, _) = env.run(&["conflicts"]).await;
    assert!(!out.contains(&format!("#{id} ")), "{out}");
    let (code, _, err) = env
        .run(&["conflicts", "resolve", "999", "--take", "ghl"])
        .await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no conflict #999"), "{err}");

    // Bad configuration: a clear message and exit code 2.
    std::fs::write(
        env.dir.join("bad.toml"),
        "[sync]\npoll_interval_minutes = 30\n",
    )
    .unwrap();
    let (code, _, err) = env.run(&["sync", "--config", "bad.toml"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("between 1 and 15 minutes"), "{err}");
    std::fs::write(
        env.dir.join("bad2.toml"),
        "[fields.nickname]\ndirection = \"both\"\n",
    )
    .unwrap();
    let (code, _, err) = env.run(&["sync", "--once", "--config", "bad2.toml"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown field `nickname`"), "{err}");
    let mut cmd = env.command(&["status"]);
    cmd.env("HLBRIDGE_DATABASE_URL", "postgres://db/hl");
    let out = cmd.output().await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not supported yet"));
    let _ = std::fs::remove_dir_all(&env.dir);
}

/// A tiny deterministic generator (no extra dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_loses_and_duplicates_nothing() {
    let env = start(150, 150).await;
    let overlap = 30;
    env.overlap(overlap);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7)
        | 1;
    eprintln!("seed {seed}");
    let mut rng = Rng(seed);

    // Ongoing edits: GHL changes first names, Sellsy changes websites, both sides create
    // new contacts. The last value written per contact is what must survive.
    let gc = env.ghl_client();
    let sc = env.sellsy_client();
    let ghl_ids: Vec<String> = env.ghl.state().contact_ids();
    // Sellsy edits go to Sellsy-only contacts. The overlapping pairs are first
    // linked (by e-mail) by whichever run gets there, possibly after both sides were
    // edited; with no shadow yet, their differing fields (the seeds' first names and
    // websites differ) are settled by the newest record, which takes every field of
    // that record, including the other side's edit of another field. GHL edits still
    // reach those pairs (GHL is then the newest record).
    let sellsy_ids: Vec<i64> = env
        .sellsy
        .state()
        .store()
        .contacts
        .rows
        .keys()
        .copied()
        .skip(overlap)
        .collect();
    let mut ghl_names: BTreeMap<String, String> = BTreeMap::new(); // email → first name
    let mut sellsy_sites: BTreeMap<String, String> = BTreeMap::new(); // email → website
    let mut created = 0usize;

    let mut kills = 0;
    let mut edits = 0u64;
    let started = Instant::now();
    while kills < 20 && started.elapsed() < Duration::from_secs(240) {
        let mut child = env
            .command(&["sync", "--once"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let until = Instant::now() + Duration::from_millis(150 + rng.below(1_200));
        while Instant::now() < until {
            edits += 1;
            match rng.below(4) {
                0 => {
                    let id = &ghl_ids[rng.below(ghl_ids.len() as u64) as usize];
                    let name = format!("Kill{edits}");
                    if let Ok(c) = gc
                        .contacts()
                        .update(
                            id,
                            &hlbridge_ghl::ContactInput {
                                first_name: Some(name.clone()),
                                ..Default::default()
                            },
                        )
                        .await
                    {
                        ghl_names.insert(c.email.unwrap_or_default().to_lowercase(), name);
                    }
                }
                1 => {
                    let id = sellsy_ids[rng.below(sellsy_ids.len() as u64) as usize];
                    let site = format!("https://k{edits}.example");
                    if let Ok(c) = sc.update_contact(id, &json!({ "website": site })).await {
                        sellsy_sites.insert(c.email.unwrap_or_default().to_lowercase(), site);
                    }
                }
                2 => {
                    let email = format!("new-ghl-{edits}@crash.example");
                    let input = hlbridge_ghl::ContactInput {
                        location_id: Some(env.ghl_cfg.location_id.clone()),
                        first_name: Some("New".into()),
                        last_name: Some(format!("Ghl{edits}")),
                        email: Some(email),
                        ..Default::default()
                    };
                    if gc.contacts().create(&input).await.is_ok() {
                        created += 1;
                    }
                }
                _ => {
                    let contact = hlbridge_sellsy::Contact {
                        last_name: Some(format!("Sellsy{edits}")),
                        email: Some(format!("new-sellsy-{edits}@crash.example")),
                        ..Default::default()
                    };
                    if sc.create_contact(&contact).await.is_ok() {
                        created += 1;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(20 + rng.below(60))).await;
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().await.unwrap(); // SIGKILL
            kills += 1;
        } else {
            let _ = child.wait().await;
        }
    }
    assert!(
        kills >= 20,
        "only {kills} kills landed while the sync was running"
    );

    // No more edits: the sync must finish cleanly within a few runs.
    let mut code = -1;
    for _ in 0..6 {
        let (c, out, err) = env.run(&["sync", "--once"]).await;
        code = c;
        if c == 0 {
            break;
        }
        eprintln!("after kills: exit {c}: {out}{err}");
    }
    assert_eq!(code, 0);
    let expected = 150 + 150 - overlap + created;
    let ghl = env.ghl_contacts();
    let sellsy = env.sellsy_contacts();
    assert_eq!(ghl.len(), expected, "GHL count (created {created})");
    assert_eq!(sellsy.len(), expected, "Sellsy count");
    for (side, list) in [("GHL", &ghl), ("Sellsy", &sellsy)] {
        for (e, n) in emails(list) {
            assert_eq!(n, 1, "duplicate {e} in {side}");
        }
    }
    let by_email = |list: &Vec<Value>, e: &str| {
        list.iter()
            .find(|c| c["email"].as_str().map(str::to_lowercase).as_deref() == Some(e))
            .cloned()
    };
    for (email, name) in &ghl_names {
        let s = by_email(&sellsy, email).unwrap_or_else(|| panic!("{email} missing in Sellsy"));
        assert_eq!(
            s["first_name"].as_str(),
            Some(name.as_str()),
            "GHL edit of {email} lost"
        );
    }
    for (email, site) in &sellsy_sites {
        let g = by_email(&ghl, email).unwrap_or_else(|| panic!("{email} missing in GHL"));
        assert_eq!(
            g["website"].as_str(),
            Some(site.as_str()),
            "Sellsy edit of {email} lost"
        );
    }
    eprintln!(
        "{kills} kills, {edits} edit attempts, {created} contacts created, in {:?}",
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(&env.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continuous_sync_cycles_and_stops_cleanly_on_ctrl_c() {
    use tokio::io::AsyncBufReadExt;
    let env = start(5, 5).await;
    std::fs::write(
        env.dir.join("hlbridge.toml"),
        "[sync]\npoll_interval_minutes = 1\n",
    )
    .unwrap();
    let mut child = env
        .command(&["sync"])
        // Tests only: a "minute" of 300 ms.
        .env("HLBRIDGE_TEST_POLL_UNIT_MS", "300")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut cycles = 0;
    let until = Instant::now() + Duration::from_secs(60);
    while cycles < 3 && Instant::now() < until {
        match tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await {
            Ok(Ok(Some(line))) if line.contains("pending") => cycles += 1,
            Ok(Ok(Some(_))) => {}
            _ => break,
        }
    }
    assert!(cycles >= 3, "saw {cycles} cycle lines");
    // A change made now is picked up by the next cycle.
    env.ghl_client()
        .contacts()
        .create(&hlbridge_ghl::ContactInput {
            location_id: Some(env.ghl_cfg.location_id.clone()),
            email: Some("late@continuous.example".into()),
            last_name: Some("Late".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until
        && !env
            .sellsy_contacts()
            .iter()
            .any(|c| c["email"] == "late@continuous.example")
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(env
        .sellsy_contacts()
        .iter()
        .any(|c| c["email"] == "late@continuous.example"));
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.code(), Some(0), "Ctrl-C stops cleanly");
    let _ = std::fs::remove_dir_all(&env.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mass_deletion_guard_holds_until_confirmed() {
    let env = start(60, 0).await;
    let (code, _, err) = env.run(&["sync", "--once"]).await;
    assert_eq!(code, 0, "{err}");
    // GHL's listings come back cut after 5 contacts: 55 of 60 linked contacts "vanish".
    env.ghl.state().set_truncate_after(Some(5));
    let (code, _, err) = env.run(&["sync", "--once"]).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("55 linked contacts of 60"), "{err}");
    assert!(err.contains("--confirm-deletions"), "{err}");
    let (code, out, _) = env.run(&["status", "--json"]).await;
    assert_eq!(code, 0);
    let status: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(status["deletions_held"], 55, "{status}");
    assert_eq!(status["notes_sweep"]["total"], 60, "{status}");
    let archived = env
        .sellsy_contacts()
        .iter()
        .filter(|c| c["is_archived"] == true)
        .count();
    assert_eq!(archived, 0);
    // Confirmed: applied, and the run is complete.
    let (code, _, err) = env.run(&["sync", "--once", "--confirm-deletions"]).await;
    assert_eq!(code, 0, "{err}");
    let archived = env
        .sellsy_contacts()
        .iter()
        .filter(|c| c["is_archived"] == true)
        .count();
    assert_eq!(archived, 55);
    let (_, out, _) = env.run(&["status", "--json"]).await;
    let status: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(status["deletions_held"], 0, "{status}");
    let _ = std::fs::remove_dir_all(&env.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_the_outbox_of_a_1000_contact_run() {
    // 500 GHL-only and 500 Sellsy-only contacts (with tasks and notes): the initial
    // sync is killed several times while it writes, then finishes.
    let env = start(500, 500).await;
    let mut kills = 0;
    for delay in [700u64, 1_500, 2_500, 4_000, 6_000] {
        let mut child = env
            .command(&["sync", "--once"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(delay)).await;
        if child.try_wait().unwrap().is_none() {
            child.kill().await.unwrap(); // SIGKILL
            kills += 1;
        }
    }
    assert!(kills >= 3, "only {kills} kills landed during the run");
    let mut code = -1;
    for _ in 0..4 {
        let (c, _, err) = env.run(&["sync", "--once"]).await;
        code = c;
        if c == 0 {
            break;
        }
        eprintln!("after kills: exit {c}: {err}");
    }
    assert_eq!(code, 0);
    let ghl = env.ghl_contacts();
    let sellsy = env.sellsy_contacts();
    assert_eq!((ghl.len(), sellsy.len()), (1000, 1000));
    for (side, list) in [("GHL", &ghl), ("Sellsy", &sellsy)] {
        for (e, n) in emails(list) {
            assert_eq!(n, 1, "duplicate {e} in {side}");
        }
    }
    // Every GHL task and note has exactly one Sellsy copy, and back.
    let g = env.ghl.state();
    let ghl_tasks: usize = g.contact_ids().iter().map(|id| g.tasks_of(id).len()).sum();
    let ghl_notes: usize = g.contact_ids().iter().map(|id| g.notes_of(id).len()).sum();
    let s = env.sellsy.state();
    let store = s.store();
    let sellsy_tasks = store
        .tasks
        .rows
        .values()
        .filter(|t| {
            t.get("related")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|x| x["type"] == "contact"))
        })
        .count();
    let sellsy_comments = store
        .comments
        .rows
        .values()
        .filter(|t| {
            t.get("related")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|x| x["type"] == "contact"))
        })
        .count();
    assert_eq!(ghl_tasks, sellsy_tasks, "tasks on contacts");
    assert_eq!(ghl_notes, sellsy_comments, "notes ↔ comments");
    let _ = std::fs::remove_dir_all(&env.dir);
}
