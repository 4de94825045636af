//! `hlbridge bench ui`: how long every page of the web UI takes with a large account.
//!
//! Both emulators and the service run in this process. A pair is created through the
//! REST API, and its state database is filled through the engine's store the way the
//! sync fills it: N linked contacts (both sides' records), one history entry per contact
//! (an outbox write and its outcome), open conflicts and dead letters. The service
//! database gets R flow runs (with their steps) and R sync cycles. Then every page
//! linked from `/home` (a few of each kind: run pages, cycle pages, …) and the filtered
//! lists are fetched `--repeat` times over loopback, signed in like a browser. The time
//! measured is the full response as the client sees it on loopback, an upper bound of
//! the server time.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use hlbridge_accounts::{Accounts, Budgets, Registry};
use hlbridge_emulator::ghl::GhlConfig;
use hlbridge_emulator::sellsy::SellsyConfig;
use hlbridge_engine::store::history::{FieldChange, WriteContext, WriteSource};
use hlbridge_engine::store::{Commit, Kind, Link, NewConflict, NewOutbox, Outcome, Record, Side};
use hlbridge_engine::CycleReport;
use hlbridge_service::server::{self, ServerOptions};
use hlbridge_service::ServiceConfig;
use serde::Serialize;
use serde_json::{json, Value};

/// The target of issue #12: every page under this with the large account.
pub const TARGET_MS: f64 = 200.0;
const SECTION_START: &str = "<!-- bench-ui:start -->";
const SECTION_END: &str = "<!-- bench-ui:end -->";
/// Pages of one kind (same path with the numbers taken out) measured at most.
const PER_KIND: usize = 2;
const FLOW: &str = "ghl-opportunity-won-to-sellsy-task";
const CONFLICTS: usize = 500;
const DEAD_LETTERS: usize = 500;

#[derive(Debug, clap::Args)]
pub struct UiBenchArgs {
    /// Linked contacts in the pair's state (history: one entry each).
    #[arg(long, default_value = "100000", value_parser = super::parse_count)]
    pub contacts: usize,
    /// Flow runs, and sync cycles, in the service database.
    #[arg(long, default_value = "10000", value_parser = super::parse_count)]
    pub runs: usize,
    /// Times each page is fetched (the median and the slowest are reported).
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    /// Print the results as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write or replace the bench-ui section of FILE (e.g. BENCHMARKS.md).
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct PageTime {
    pub path: String,
    pub median_ms: f64,
    pub max_ms: f64,
    pub bytes: usize,
}

#[derive(Debug, Serialize)]
pub struct UiBench {
    pub contacts: usize,
    pub runs: usize,
    pub cycles: usize,
    pub history_entries: usize,
    pub conflicts: usize,
    pub dead_letters: usize,
    pub seed_seconds: f64,
    pub target_ms: f64,
    pub pages: Vec<PageTime>,
    pub over_target: Vec<String>,
}

pub async fn run(args: UiBenchArgs) -> i32 {
    if args.repeat == 0 {
        eprintln!("error: --repeat must be at least 1");
        return crate::output::Exit::Usage as i32;
    }
    match bench(&args).await {
        Ok(result) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&result).unwrap_or_default()
                );
            } else {
                print!("{}", markdown(&result));
            }
            if let Some(file) = &args.write {
                let existing = std::fs::read_to_string(file).unwrap_or_default();
                if let Err(e) = std::fs::write(file, update_section(&existing, &markdown(&result)))
                {
                    eprintln!("error: cannot write {}: {e}", file.display());
                    return 1;
                }
                eprintln!("wrote the bench-ui section of {}", file.display());
            }
            if result.over_target.is_empty() {
                0
            } else {
                eprintln!(
                    "{} page(s) over {TARGET_MS} ms: {}",
                    result.over_target.len(),
                    result.over_target.join(", ")
                );
                3
            }
        }
        Err(e) => {
            eprintln!("error: bench ui: {e:#}");
            1
        }
    }
}

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A scratch folder, in memory when the machine has /dev/shm (the seeding commits
/// hundreds of thousands of transactions; the pages only read).
fn scratch() -> PathBuf {
    let base = Path::new("/dev/shm");
    let root = if base.is_dir() {
        base.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    root.join(format!("hlbridge-bench-ui-{}", uuid::Uuid::new_v4()))
}

async fn bench(args: &UiBenchArgs) -> anyhow::Result<UiBench> {
    let dir = scratch();
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let out = bench_in(args, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    out
}

async fn bench_in(args: &UiBenchArgs, dir: &Path) -> anyhow::Result<UiBench> {
    let ghl_cfg = GhlConfig {
        rate_max: 1_000_000,
        daily_limit: 100_000_000,
        ..GhlConfig::default()
    };
    let ghl = hlbridge_emulator::ghl::start(ghl_cfg.clone(), local()).await?;
    let sellsy_cfg = SellsyConfig {
        seed_contacts: 0,
        quota_per_second: 1_000_000,
        quota_per_minute: 10_000_000,
        quota_per_day: 100_000_000,
        quota_per_month: 1_000_000_000,
        ..SellsyConfig::default()
    };
    let sellsy = hlbridge_emulator::sellsy::start(sellsy_cfg.clone(), local()).await?;
    let db_path = dir.join("hlbridge.sqlite");
    let password = uuid::Uuid::new_v4().to_string();
    let db = hlbridge_service::Db::open(&db_path)?;
    let pw = password.clone();
    let token = db.call_blocking(move |c| -> anyhow::Result<String> {
        hlbridge_service::db::migrate(c)?;
        hlbridge_service::admin::init_admin(c, Some(&pw)).map_err(|e| anyhow!("{e}"))?;
        Ok(hlbridge_service::api_tokens::create(c, "bench-ui")?.1)
    })?;
    let accounts = Accounts::new(Arc::new(Registry::open(&db_path)?), Budgets::default());
    let ghl_conn = accounts
        .add_ghl_pit(&ghl_cfg.token, &ghl_cfg.location_id, &ghl.base_url)
        .await?;
    let sellsy_conn = accounts
        .add_sellsy_client(
            &sellsy_cfg.client_id,
            &sellsy_cfg.client_secret,
            &sellsy.base_url,
            None,
        )
        .await?;
    let listener = tokio::net::TcpListener::bind(local()).await?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let opts = ServerOptions {
        service: ServiceConfig::new(addr, db_path.clone(), None),
        ghl_app: None,
        sellsy_app: None,
        budgets: Budgets::default(),
        max_concurrent: 2,
        drain: Duration::from_secs(5),
        // One cycle when the pair is made, on the empty state; none while measuring.
        interval_override: Some(Duration::from_secs(24 * 3600)),
        on_cycle: None,
        flow_tick: None,
    };
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::run(
        opts,
        listener,
        async move {
            let _ = rx.await;
        },
        |_| {},
    ));
    let result = measure(
        args,
        &base,
        &token,
        &password,
        (&db, &db_path),
        &accounts,
        (&ghl_conn.id, &sellsy_conn.id),
    )
    .await;
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    args: &UiBenchArgs,
    base: &str,
    token: &str,
    password: &str,
    (db, db_path): (&hlbridge_service::Db, &Path),
    accounts: &Accounts,
    (ghl, sellsy): (&str, &str),
) -> anyhow::Result<UiBench> {
    let api = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.get(format!("{base}/healthz")).send().await.is_err() {
        if Instant::now() > deadline {
            bail!("the service did not start on {base}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let made: Value = api
        .post(format!("{base}/api/pairs"))
        .bearer_auth(token)
        .json(&json!({ "ghl": ghl, "sellsy": sellsy }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let pair = made["id"]
        .as_str()
        .ok_or_else(|| anyhow!("POST /api/pairs gave no id: {made}"))?
        .to_string();
    // The runner's first cycle on the empty pair, before the state is filled.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let st: Value = api
            .get(format!("{base}/api/pairs/{pair}/status"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        if st["run"]["cycles"].as_u64().unwrap_or(0) >= 1 && st["run"]["running"] == false {
            break;
        }
        if Instant::now() > deadline {
            bail!("the pair's first cycle did not finish: {st}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let started = Instant::now();
    let state_path = accounts.registry.pair_state_path(&pair);
    let (n, p) = (args.contacts, pair.clone());
    let history = tokio::task::spawn_blocking(move || seed_pair(&state_path, &p, n)).await??;
    let runs_db = db_path.to_path_buf();
    let (r, cycles_db) = (args.runs, db.clone());
    tokio::task::spawn_blocking(move || seed_runs(&runs_db, r)).await??;
    let record = hlbridge_service::ui::activity::record_cycles(cycles_db, None);
    let mut report = CycleReport::default();
    for i in 0..args.runs {
        report.seconds = 0.5 + (i % 7) as f64;
        record(&pair, &report, i % 10 == 0);
    }
    let seed_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "seeded {} contacts, {history} history entries, {} runs and {} cycles in {seed_seconds:.1} s",
        args.contacts, args.runs, args.runs
    );

    let browser = signed_in(base, password).await?;
    deploy_template(&browser, base).await?;
    let mut paths = crawl(&browser, base, &["/home", "/ui/activity?kind=cycle"]).await?;
    for extra in [
        format!("/ui/history?pair={pair}"),
        format!(
            "/ui/history?record=contact{}@bench.example",
            args.contacts / 2
        ),
        "/ui/runs?status=failed".to_string(),
        format!("/ui/runs?flow={FLOW}"),
        format!("/ui/activity?pair={pair}"),
        "/ui/activity?status=failed".to_string(),
        "/ui/activity?kind=cycle".to_string(),
        "/ui/dead-letters".to_string(),
    ] {
        if !paths.contains(&extra) {
            paths.push(extra);
        }
    }
    let mut pages = Vec::new();
    for path in &paths {
        pages.push(time_page(&browser, base, path, args.repeat).await?);
    }
    let over_target = pages
        .iter()
        .filter(|p| p.max_ms > TARGET_MS)
        .map(|p| p.path.clone())
        .collect();
    Ok(UiBench {
        contacts: args.contacts,
        runs: args.runs,
        cycles: args.runs,
        history_entries: history,
        conflicts: CONFLICTS.min(args.contacts),
        dead_letters: DEAD_LETTERS.min(args.contacts),
        seed_seconds,
        target_ms: TARGET_MS,
        pages,
        over_target,
    })
}

/// N linked contacts with both sides' records and one history entry each, open
/// conflicts and dead letters, all through the engine's store.
fn seed_pair(path: &Path, pair: &str, n: usize) -> anyhow::Result<usize> {
    let store = hlbridge_engine::store::open(&format!("sqlite://{}", path.display()))?;
    let stamp = "2026-12-01T10:00:00Z".to_string();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut commit = Commit::default();
        for &i in chunk {
            let (g, s, email) = ids(i);
            let data = json!({ "email": email, "first_name": format!("First{i}"), "last_name": format!("Last{i}") });
            let hash = format!("{:016x}", i as u64 * 2_654_435_761);
            commit.links.push(Link {
                kind: Kind::Contact,
                ghl_id: g.clone(),
                sellsy_id: s.clone(),
                parent_ghl_id: None,
                ghl_hash: Some(hash.clone()),
                sellsy_hash: Some(hash.clone()),
                ghl_updated: Some(stamp.clone()),
                sellsy_updated: Some(stamp.clone()),
                state: "active".into(),
            });
            for (side, id) in [(Side::Ghl, &g), (Side::Sellsy, &s)] {
                commit.records.push(Record {
                    side,
                    kind: Kind::Contact,
                    id: id.clone(),
                    parent: None,
                    data: data.clone(),
                    hash: hash.clone(),
                    updated: Some(stamp.clone()),
                    dirty: false,
                });
            }
        }
        store.commit(&commit)?;
    }
    for i in 0..n {
        let (g, s, email) = ids(i);
        let failed = i < DEAD_LETTERS;
        let entry = store.enqueue(&NewOutbox {
            key: format!("bench:create:{i}"),
            target: Side::Ghl,
            kind: Kind::Contact,
            op: "create".into(),
            target_id: None,
            source_id: s.clone(),
            payload: json!({ "email": email }),
            context: Some(WriteContext {
                pair: pair.to_string(),
                source: WriteSource::Poll,
                ghl_id: Some(g.clone()),
                sellsy_id: Some(s.clone()),
                email: Some(email.clone()),
                changes: vec![FieldChange {
                    field: "email".into(),
                    old: Value::Null,
                    new: Value::String(email.clone()),
                }],
                winner: Some("sellsy".into()),
                manual_key: None,
            }),
        })?;
        let outcome = if failed {
            Outcome::Failed("400 phone: not a valid number (bench seed)")
        } else {
            Outcome::Done
        };
        store.finish(entry.id, outcome)?;
        if i < CONFLICTS {
            store.add_conflict(&NewConflict {
                kind: Kind::Contact,
                ghl_id: g,
                sellsy_id: s,
                field: "last_name".into(),
                ghl_value: json!(format!("Ghl{i}")),
                sellsy_value: json!(format!("Sellsy{i}")),
            })?;
        }
    }
    Ok(n)
}

fn ids(i: usize) -> (String, String, String) {
    (
        format!("benchghl{i:07}"),
        (1_000_000 + i).to_string(),
        format!("contact{i}@bench.example"),
    )
}

/// R finished runs of the template flow (one in ten failed), each with two steps.
fn seed_runs(db_path: &Path, runs: usize) -> anyhow::Result<()> {
    let store = hlbridge_flows::run::RunStore::open(db_path)?;
    for i in 0..runs {
        let trigger = json!({ "id": format!("opp{i}"), "status": "won", "contactId": format!("benchghl{i:07}") });
        let id = match store.insert_run(FLOW, 1, &format!("bench:{i}"), &trigger, None)? {
            Ok(id) | Err(id) => id,
        };
        let failed = i % 10 == 0;
        store.begin_step(id, "find-contact", 1, &trigger)?;
        store.end_step(
            id,
            "find-contact",
            "ok",
            Some(&json!({ "contact": { "id": i } })),
            None,
            &json!([]),
        )?;
        store.begin_step(
            id,
            "create-task",
            1,
            &json!({ "title": format!("Deal {i}") }),
        )?;
        if failed {
            store.end_step(
                id,
                "create-task",
                "failed",
                None,
                Some("503 from Sellsy (bench seed)"),
                &json!([]),
            )?;
            store.finish_run(
                id,
                "failed",
                Some("503 from Sellsy (bench seed)"),
                Some("create-task"),
            )?;
        } else {
            store.end_step(
                id,
                "create-task",
                "ok",
                Some(&json!({ "id": i })),
                None,
                &json!([]),
            )?;
            store.finish_run(id, "ok", None, None)?;
        }
    }
    Ok(())
}

async fn signed_in(base: &str, password: &str) -> anyhow::Result<reqwest::Client> {
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let login = c.get(format!("{base}/login")).send().await?.text().await?;
    let csrf = value_of(&login, "csrf_token").ok_or_else(|| anyhow!("no CSRF token on /login"))?;
    let res = c
        .post(format!("{base}/login"))
        .form(&[("csrf_token", csrf.as_str()), ("password", password)])
        .send()
        .await?;
    if !res.status().is_redirection() {
        bail!("sign-in answered {}", res.status());
    }
    Ok(c)
}

/// Use the flow template through the gallery's form, so the flows pages have a flow.
async fn deploy_template(c: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let gallery = c
        .get(format!("{base}/ui/templates"))
        .send()
        .await?
        .text()
        .await?;
    let csrf = value_of(&gallery, "csrf_token")
        .ok_or_else(|| anyhow!("no CSRF token on /ui/templates"))?;
    let res = c
        .post(format!("{base}/ui/templates/{FLOW}/use"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await?;
    if !res.status().is_redirection() {
        bail!("using template {FLOW} answered {}", res.status());
    }
    Ok(())
}

/// The `value` of the input named `name`.
fn value_of(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>')?];
    let v = tag.find("value=\"")? + 7;
    Some(tag[v..v + tag[v..].find('"')?].to_string())
}

fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|h| h.replace("&amp;", "&"))
        .collect()
}

/// The page's kind: its path with ids taken out (a segment that is not a plain word:
/// digits, dots, dashes) and the names of its query parameters. Pages of one kind share
/// it: `/ui/runs/12` and `/ui/runs/9`, the catalog's operations of one app.
fn kind_of(path: &str) -> String {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut kind = path
        .split('/')
        .map(|seg| {
            if seg.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                seg
            } else {
                "N"
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    let mut keys: Vec<&str> = query
        .split('&')
        .filter_map(|kv| kv.split('=').next())
        .filter(|k| !k.is_empty())
        .collect();
    keys.sort_unstable();
    if !keys.is_empty() {
        kind.push('?');
        kind.push_str(&keys.join("&"));
    }
    kind
}

/// Every page reachable from `roots` (at most [`PER_KIND`] of one kind), in BFS order.
async fn crawl(c: &reqwest::Client, base: &str, roots: &[&str]) -> anyhow::Result<Vec<String>> {
    let mut seen = HashSet::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut order = Vec::new();
    let mut queue: VecDeque<String> = roots.iter().map(|r| r.to_string()).collect();
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let res = c.get(format!("{base}{path}")).send().await?;
        if res.status() != reqwest::StatusCode::OK {
            bail!("GET {path} answered {} while crawling", res.status());
        }
        let html = res.text().await?;
        order.push(path);
        for h in hrefs(&html) {
            let h = h.split('#').next().unwrap_or_default().to_string();
            if !h.starts_with('/')
                || h.starts_with("//")
                || h.starts_with("/connect/")
                || h.starts_with("/ui/assets/")
                || h == "/favicon.ico"
                || seen.contains(&h)
            {
                continue;
            }
            let n = kinds.entry(kind_of(&h)).or_default();
            if *n < PER_KIND && !queue.contains(&h) {
                *n += 1;
                queue.push_back(h);
            }
        }
    }
    Ok(order)
}

async fn time_page(
    c: &reqwest::Client,
    base: &str,
    path: &str,
    repeat: usize,
) -> anyhow::Result<PageTime> {
    let mut times = Vec::with_capacity(repeat);
    let mut bytes = 0;
    for _ in 0..repeat {
        let t = Instant::now();
        let res = c.get(format!("{base}{path}")).send().await?;
        let status = res.status();
        let body = res.bytes().await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if status != reqwest::StatusCode::OK {
            bail!("GET {path} answered {status}");
        }
        bytes = body.len();
    }
    times.sort_by(f64::total_cmp);
    Ok(PageTime {
        path: path.to_string(),
        median_ms: times[times.len() / 2],
        max_ms: times[times.len() - 1],
        bytes,
    })
}

fn markdown(r: &UiBench) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "## UI pages (`hlbridge bench ui`)\n");
    let _ = writeln!(
        md,
        "Written by `hlbridge bench ui --contacts {} --runs {} --write BENCHMARKS.md` on {} ({} cores). \
         One pair with {} linked contacts, {} history entries, {} open conflicts and {} dead letters; \
         {} flow runs and {} sync cycles (seeded in {:.0} s). Each page fetched signed in over loopback; \
         the time is the whole response as the client sees it (an upper bound of the server time). \
         Target: every page under {} ms.\n",
        r.contacts,
        r.runs,
        chrono::Utc::now().format("%Y-%m-%d"),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        super::report::thousands(r.contacts),
        super::report::thousands(r.history_entries),
        r.conflicts,
        r.dead_letters,
        super::report::thousands(r.runs),
        super::report::thousands(r.cycles),
        r.seed_seconds,
        r.target_ms
    );
    let _ = writeln!(
        md,
        "| page | median ms | slowest ms | KiB | under {} ms |",
        r.target_ms
    );
    let _ = writeln!(md, "|---|---|---|---|---|");
    for p in &r.pages {
        let _ = writeln!(
            md,
            "| `{}` | {:.1} | {:.1} | {:.1} | {} |",
            p.path.replace('|', "\\|"),
            p.median_ms,
            p.max_ms,
            p.bytes as f64 / 1024.0,
            if p.max_ms <= r.target_ms { "yes" } else { "no" }
        );
    }
    let slowest = r.pages.iter().map(|p| p.max_ms).fold(0.0, f64::max);
    let _ = writeln!(
        md,
        "\n{} pages; the slowest took {slowest:.1} ms; {} over the target.",
        r.pages.len(),
        if r.over_target.is_empty() {
            "none".to_string()
        } else {
            r.over_target.join(", ")
        }
    );
    md
}

/// `existing` with the bench-ui section replaced (or appended); nothing else changes.
pub fn update_section(existing: &str, body: &str) -> String {
    let block = format!("{SECTION_START}\n{body}{SECTION_END}");
    if let Some(s) = existing.find(SECTION_START) {
        if let Some(e) = existing[s..].find(SECTION_END) {
            let end = s + e + SECTION_END.len();
            return format!("{}{block}{}", &existing[..s], &existing[end..]);
        }
    }
    let mut out = existing.to_string();
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" });
    }
    out.push_str(&block);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_is_replaced_and_the_rest_kept() {
        let base = "# Benchmarks\n\ntext\n";
        let one = update_section(base, "first\n");
        assert!(one.starts_with(base) && one.contains("first"));
        let two = update_section(&format!("{one}\n## Later\n"), "second\n");
        assert!(two.contains("second") && !two.contains("first"));
        assert!(two.ends_with("\n## Later\n"));
        assert_eq!(two.matches(SECTION_START).count(), 1);
    }

    #[test]
    fn pages_of_one_kind_share_a_key() {
        assert_eq!(kind_of("/ui/runs/12"), "/ui/runs/N");
        assert_eq!(kind_of("/ui/runs/9?x=1&a=2"), "/ui/runs/N?a&x");
        assert_eq!(
            kind_of("/ui/catalog/ghl/contacts.get-contact"),
            kind_of("/ui/catalog/ghl/tasks.search-tasks")
        );
        assert_eq!(kind_of("/ui/pairs/p1a/mapping"), "/ui/pairs/N/mapping");
        assert_eq!(kind_of("/ui/flows"), "/ui/flows");
        assert_eq!(
            value_of(
                r#"<input type="hidden" name="csrf_token" value="abc">"#,
                "csrf_token"
            ),
            Some("abc".into())
        );
        assert_eq!(hrefs(r#"<a href="/a?x=1&amp;y=2">"#), vec!["/a?x=1&y=2"]);
    }
}
