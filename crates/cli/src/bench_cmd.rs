//! `hlbridge bench sync`: the two-way sync measured against in-process emulators.
//!
//! Both emulators run in this process on loopback, each on its own Tokio runtime
//! whose threads are named `emu-*` (so their CPU can be told apart from the
//! engine's), with GHL's rate limit and Sellsy's quotas lifted. N contacts are seeded
//! straight into their state (`hlbridge_emulator::bench_seed`), then the engine runs:
//!
//! 1. `initial`: a fresh state, one `sync --once` cycle (everything across);
//! 2. `no-change`: the same cycle again;
//! 3. `one-change`: after one linked GHL contact's `firstName` was edited through the
//!    emulator's API;
//! 4. `faults`: fresh emulators and state with faults injected (default
//!    `429=0.05,5xx=0.1,commit_drop=0.02`), cycles until nothing is pending (capped),
//!    then duplicate and loss checks on both sides.
//!
//! Requests are counted by the emulators (differences of their stats), CPU and memory
//! from `/proc` (see `bench/procstat.rs`). Exit 0 when the bench ran (missed targets
//! are reported, not errors), 1 when it failed (an engine error, duplicates or losses
//! after the faults run), 2 on bad arguments.

#[path = "bench/procstat.rs"]
mod procstat;
#[path = "bench/report.rs"]
mod report;
#[path = "bench/stats.rs"]
mod stats;
#[path = "bench/ui.rs"]
mod ui;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use hlbridge_emulator::bench_seed::{self, SeedMix, Seeded, SellsyBench};
use hlbridge_emulator::faults::FaultConfig;
use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator};
use hlbridge_emulator::sellsy::SellsyConfig;
use hlbridge_engine::store::{Kind, StateStore};
use hlbridge_engine::{Budgets, CycleReport, Engine, EngineConfig};
use serde_json::{json, Value};

use procstat::{CpuSnapshot, Memory};
use report::{FaultsOutcome, Phase, TargetInputs, Verification};
use stats::Requests;

pub const DEFAULT_FAULTS: &str = "429=0.05,5xx=0.1,commit_drop=0.02";
const MIN_CONTACTS: usize = 1_000;
const MAX_CONTACTS: usize = 100_000;
/// Limits given to the emulators so that they never refuse a request.
const LIFTED: u32 = 1_000_000_000;
/// GHL's lifted burst window: this many requests per second.
const GHL_LIFTED_PER_SECOND: u32 = 10_000;
/// The first name the one-change phase writes.
const EDITED_NAME: &str = "Benchedit";

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Measure the two-way sync against in-process emulators (initial, no-change,
    /// one-change and faults phases): requests, engine CPU, memory, time.
    Sync(SyncBenchArgs),
    /// Time every page of the web UI with a large account (100k contacts, 10k runs by
    /// default) against in-process emulators.
    Ui(ui::UiBenchArgs),
}

#[derive(Debug, clap::Args)]
pub struct SyncBenchArgs {
    /// Contacts to seed, 1,000 to 100,000 (`10000`, `10,000`, `10k`).
    #[arg(long, default_value = "1000", value_parser = parse_count)]
    pub contacts: usize,
    /// Share of the contacts seeded Sellsy-only (the rest GHL-only).
    #[arg(long, default_value_t = 0.5)]
    pub sellsy_share: f64,
    /// Every contact gets 1 to this many tags (0: none).
    #[arg(long, default_value_t = 2)]
    pub max_tags: usize,
    /// Contacts per company (Sellsy companies, GHL companyName); 0: no companies.
    #[arg(long, default_value_t = 5)]
    pub contacts_per_company: usize,
    /// Tasks per contact, on average.
    #[arg(long, default_value_t = 0.2)]
    pub tasks_per_contact: f64,
    /// Notes (GHL) / comments (Sellsy) per contact, on average.
    #[arg(long, default_value_t = 0.2)]
    pub notes_per_contact: f64,
    /// Faults of the last phase (emulator fault spec).
    #[arg(long, default_value = DEFAULT_FAULTS)]
    pub faults: String,
    /// Skip the faults phase.
    #[arg(long)]
    pub skip_faults: bool,
    /// Most cycles of the faults phase.
    #[arg(long, default_value_t = 10)]
    pub max_fault_cycles: usize,
    /// Linked contacts whose tasks and notes a cycle sweeps (default: the engine's).
    #[arg(long)]
    pub sweep_max_contacts: Option<usize>,
    /// Engine configuration to start from (mapping, policies); connection settings
    /// and the state database are the bench's own.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print the results as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Also print the requests of each phase by operation id.
    #[arg(long, short)]
    pub verbose: bool,
    /// Write or update this run's block in the bench-sync section of FILE
    /// (e.g. BENCHMARKS.md); nothing else in the file changes.
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
}

/// `1000`, `1,000`, `1_000`, `10k`.
fn parse_count(raw: &str) -> Result<usize, String> {
    let clean: String = raw
        .trim()
        .chars()
        .filter(|c| *c != ',' && *c != '_')
        .collect();
    let (digits, factor) = match clean.strip_suffix(['k', 'K']) {
        Some(d) => (d, 1_000),
        None => (clean.as_str(), 1),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("`{raw}` is not a number of contacts (e.g. 1000, 10,000, 10k)"))
}

pub async fn run(args: BenchArgs) -> i32 {
    match args.command {
        BenchCommand::Ui(args) => ui::run(args).await,
        BenchCommand::Sync(args) => {
            if let Err(message) = check_args(&args) {
                eprintln!("error: {message}");
                return crate::output::Exit::Usage as i32;
            }
            match sync(args).await {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("error: bench sync failed: {e:#}");
                    1
                }
            }
        }
    }
}

fn check_args(args: &SyncBenchArgs) -> Result<(), String> {
    // Tests may go below 1,000 (`HLBRIDGE_BENCH_MIN`) to stay fast in debug builds.
    let min = std::env::var("HLBRIDGE_BENCH_MIN")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(MIN_CONTACTS, |m| m.clamp(2, MIN_CONTACTS));
    if !(min..=MAX_CONTACTS).contains(&args.contacts) {
        return Err(format!(
            "--contacts {}: must be between {} and {}",
            args.contacts,
            report::thousands(min),
            report::thousands(MAX_CONTACTS)
        ));
    }
    if !(0.0..=1.0).contains(&args.sellsy_share) {
        return Err("--sellsy-share: must be between 0 and 1".into());
    }
    for (name, v) in [
        ("--tasks-per-contact", args.tasks_per_contact),
        ("--notes-per-contact", args.notes_per_contact),
    ] {
        if !(0.0..=10.0).contains(&v) {
            return Err(format!("{name}: must be between 0 and 10"));
        }
    }
    if args.max_fault_cycles == 0 {
        return Err("--max-fault-cycles: at least 1".into());
    }
    Ok(())
}

/// A Tokio runtime on its own OS threads, all named `name` (prefix `emu-`).
struct EmuRuntime {
    handle: tokio::runtime::Handle,
    stop: Option<std::sync::mpsc::Sender<()>>,
}

impl EmuRuntime {
    fn start(name: &str, workers: usize) -> anyhow::Result<EmuRuntime> {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread_name = name.to_string();
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .thread_name(thread_name)
                    // Idle blocking threads stay, so their CPU stays attributed.
                    .thread_keep_alive(Duration::from_secs(24 * 3600))
                    .enable_all()
                    .build();
                match runtime {
                    Ok(rt) => {
                        let _ = handle_tx.send(Ok(rt.handle().clone()));
                        let _ = stopped.recv();
                        rt.shutdown_timeout(Duration::from_secs(2));
                    }
                    Err(e) => {
                        let _ = handle_tx.send(Err(e));
                    }
                }
            })
            .context("cannot start an emulator thread")?;
        let handle = handle_rx
            .recv()
            .context("the emulator thread ended")?
            .context("cannot build an emulator runtime")?;
        Ok(EmuRuntime {
            handle,
            stop: Some(stop),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl Future<Output = T> + Send + 'static,
    ) -> anyhow::Result<T> {
        self.handle
            .spawn(f)
            .await
            .map_err(|e| anyhow!("emulator task failed: {e}"))
    }
}

impl Drop for EmuRuntime {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Both emulators with their seeded data.
struct Rig {
    ghl: GhlEmulator,
    sellsy: SellsyBench,
    sellsy_config: SellsyConfig,
    seeded_ghl: Seeded,
    seeded_sellsy: Seeded,
    /// `Some(requests each snapshot adds)` when the Sellsy emulator serves
    /// `GET /emulator/stats`; else the bench's counting layer is read.
    sellsy_endpoint: Option<u64>,
}

impl Rig {
    async fn start(
        ghl_rt: &EmuRuntime,
        sellsy_rt: &EmuRuntime,
        mix: &SeedMix,
        faults: FaultConfig,
    ) -> anyhow::Result<Rig> {
        let local = SocketAddr::from(([127, 0, 0, 1], 0));
        // 10,000 per second: the most a client learns (`core::rate`), and an injected
        // 429 (which reports the window spent) holds the client 1 s, not 10.
        let ghl_config = GhlConfig {
            rate_max: GHL_LIFTED_PER_SECOND,
            rate_interval: Duration::from_secs(1),
            daily_limit: LIFTED,
            faults: faults.clone(),
            ..GhlConfig::default()
        };
        let mix_g = mix.clone();
        let (ghl, seeded_ghl) = ghl_rt
            .run(async move {
                let emu = hlbridge_emulator::ghl::start(ghl_config, local).await?;
                let seeded = bench_seed::seed_ghl(&emu.state(), &mix_g);
                Ok::<_, std::io::Error>((emu, seeded))
            })
            .await?
            .context("cannot start the GHL emulator")?;
        let sellsy_config = SellsyConfig {
            quota_per_second: LIFTED,
            quota_per_minute: LIFTED,
            quota_per_day: LIFTED,
            quota_per_month: LIFTED,
            faults,
            ..SellsyConfig::default()
        };
        let (config, mix_s) = (sellsy_config.clone(), mix.clone());
        let (sellsy, seeded_sellsy) = sellsy_rt
            .run(async move {
                let mut seeded = Seeded::default();
                let emu = bench_seed::serve_sellsy(config, local, |state| {
                    seeded = bench_seed::seed_sellsy(state, &mix_s);
                })
                .await?;
                Ok::<_, std::io::Error>((emu, seeded))
            })
            .await?
            .context("cannot start the Sellsy emulator")?;
        let stats_url = format!("{}/emulator/stats", sellsy.root_url);
        let sellsy_endpoint = match (
            bench_seed::fetch_json(&stats_url).await,
            bench_seed::fetch_json(&stats_url).await,
        ) {
            (Some(a), Some(b)) if a.get("requests").is_some() => {
                let n = |v: &Value| v.get("requests").and_then(Value::as_u64).unwrap_or(0);
                Some(n(&b).saturating_sub(n(&a)).min(2))
            }
            _ => None,
        };
        Ok(Rig {
            ghl,
            sellsy,
            sellsy_config,
            seeded_ghl,
            seeded_sellsy,
            sellsy_endpoint,
        })
    }

    fn ghl_stats(&self) -> Value {
        serde_json::to_value(self.ghl.state().stats()).unwrap_or(Value::Null)
    }

    async fn sellsy_stats(&self) -> Value {
        match self.sellsy_endpoint {
            Some(_) => {
                let url = format!("{}/emulator/stats", self.sellsy.root_url);
                bench_seed::fetch_json(&url).await.unwrap_or(Value::Null)
            }
            None => self.sellsy.counts.snapshot(),
        }
    }

    fn verify(&self, store: &dyn StateStore) -> Verification {
        Verification::new(
            bench_seed::ghl_census(&self.ghl.state()),
            bench_seed::sellsy_census(&self.sellsy.state),
            (&self.seeded_ghl, &self.seeded_sellsy),
            store.count_links(Kind::Contact).ok(),
        )
    }

    async fn shutdown(self) {
        self.sellsy.shutdown().await;
        self.ghl.shutdown_and_wait().await;
    }
}

/// The engine configuration for `rig`, with a fresh state database at `db`.
fn engine_config(args: &SyncBenchArgs, rig: &Rig, db: &Path) -> anyhow::Result<EngineConfig> {
    let mut cfg = match &args.config {
        Some(path) => EngineConfig::load(Some(path), true)?,
        None => {
            let mut c = EngineConfig::default();
            // The bench's GHL emulator has no search lag: a create whose answer was
            // lost may be looked for again after 6 s instead of the default 10 min.
            c.sync.lookback_minutes = 0.1;
            c
        }
    };
    let ghl = rig.ghl.state();
    cfg.ghl.base_url = Some(rig.ghl.base_url.clone());
    cfg.ghl.token = Some(ghl.config().token.clone());
    cfg.ghl.location_id = Some(ghl.config().location_id.clone());
    cfg.sellsy.base_url = Some(rig.sellsy.base_url.clone());
    cfg.sellsy.client_id = Some(rig.sellsy_config.client_id.clone());
    cfg.sellsy.client_secret = Some(rig.sellsy_config.client_secret.clone());
    cfg.sellsy.token = None;
    cfg.sellsy.token_url = None;
    cfg.database.url = Some(format!("sqlite://{}", db.display()));
    // One cycle must be able to carry everything across.
    let writes = 10 * args.contacts + 1_000;
    cfg.sync.max_writes_per_run = cfg.sync.max_writes_per_run.max(writes);
    if let Some(sweep) = args.sweep_max_contacts {
        cfg.sync.sweep_max_contacts = sweep;
    }
    Ok(cfg)
}

async fn connect(
    cfg: EngineConfig,
    attempts: usize,
) -> anyhow::Result<(Engine, Arc<dyn StateStore>)> {
    let store = hlbridge_engine::store::open(&cfg.database_url())?;
    let mut last = None;
    for attempt in 0..attempts.max(1) {
        match Engine::connect_with(cfg.clone(), store.clone(), Budgets::default()).await {
            Ok(engine) => return Ok((engine, store)),
            Err(e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(200 * (attempt as u64 + 1))).await;
            }
        }
    }
    Err(anyhow!(
        "the engine cannot connect to the emulators: {}",
        last.map_or_else(String::new, |e| e.to_string())
    ))
}

/// Counters at the start of a phase.
struct Probe {
    ghl: Value,
    sellsy: Value,
    memory: Option<Memory>,
    peak_reset: bool,
    cpu: CpuSnapshot,
    at: Instant,
}

async fn probe(rig: &Rig) -> Probe {
    let ghl = rig.ghl_stats();
    let sellsy = rig.sellsy_stats().await;
    let peak_reset = procstat::reset_peak();
    Probe {
        ghl,
        sellsy,
        memory: procstat::memory(),
        peak_reset,
        cpu: CpuSnapshot::take(),
        at: Instant::now(),
    }
}

async fn finish(
    rig: &Rig,
    start: Probe,
    name: &str,
    records: usize,
    reports: &[CycleReport],
    errors: Vec<String>,
) -> Phase {
    let wall_s = start.at.elapsed().as_secs_f64();
    let cpu = start.cpu.until(&CpuSnapshot::take());
    let memory = procstat::memory();
    let ghl = Requests::between(&start.ghl, &rig.ghl_stats(), 0);
    let sellsy = Requests::between(
        &start.sellsy,
        &rig.sellsy_stats().await,
        rig.sellsy_endpoint.unwrap_or(0),
    );
    let requests = ghl.requests + sellsy.requests;
    let records = records.max(1) as f64;
    Phase {
        phase: name.to_string(),
        cycles: reports.len() + errors.len(),
        requests,
        requests_per_record: requests as f64 / records,
        engine_cpu_us_per_record: cpu.engine_s * 1e6 / records,
        cpu,
        peak_rss_mb: memory.map(|m| m.peak_mb),
        rss_start_mb: start.memory.map(|m| m.rss_mb),
        peak_is_per_phase: start.peak_reset,
        wall_s,
        ghl_window_pct: ghl.requests as f64 / (wall_s.max(1e-6) * report::GHL_NOMINAL_PER_SECOND)
            * 100.0,
        responses_429: ghl.rate_limited + sellsy.rate_limited,
        ghl,
        sellsy,
        reports: reports
            .iter()
            .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
            .collect(),
        errors,
    }
}

fn progress_line(p: &Phase) {
    eprintln!(
        "bench sync: {}: {} GHL + {} Sellsy requests, {:.2} s, engine CPU {:.2} s{}",
        p.phase,
        p.ghl.requests,
        p.sellsy.requests,
        p.wall_s,
        p.cpu.engine_s,
        if p.cycles > 1 {
            format!(", {} cycles", p.cycles)
        } else {
            String::new()
        }
    );
}

/// The parsed fault spec; `commit_drop` is left out (and said so) when this emulator
/// build does not know it yet.
fn parse_faults(spec: &str) -> anyhow::Result<(FaultConfig, String, Option<String>)> {
    match FaultConfig::parse(spec) {
        Ok(f) => Ok((f, spec.to_string(), None)),
        Err(e) if spec.contains("commit_drop") => {
            let without: Vec<&str> = spec
                .split([',', ' '])
                .filter(|item| !item.trim().is_empty() && !item.trim().starts_with("commit_drop"))
                .collect();
            let without = without.join(",");
            let f = FaultConfig::parse(&without).map_err(|e| anyhow!("--faults {spec}: {e}"))?;
            Ok((
                f,
                without.clone(),
                Some(format!(
                    "the emulator does not accept commit_drop yet ({e}): the faults phase ran with `{without}`"
                )),
            ))
        }
        Err(e) => bail!("--faults {spec}: {e}"),
    }
}

/// Edit the `firstName` of GHL contact `id` through the emulator's API.
async fn edit_first_name(rig: &Rig, id: &str, first_name: &str) -> anyhow::Result<()> {
    let state = rig.ghl.state();
    let client = hlbridge_ghl::GhlClient::builder()
        .base_url(rig.ghl.base_url.clone())
        .auth(hlbridge_ghl::GhlAuth::LocationToken(
            state.config().token.clone(),
        ))
        .location_id(&state.config().location_id)
        .build()?;
    client
        .call(
            "contacts.update-contact",
            hlbridge_ghl::CallInput::new()
                .param("contactId", id)
                .body(json!({ "firstName": first_name })),
        )
        .await
        .context("cannot edit the GHL contact")?;
    Ok(())
}

fn temp_dir() -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("hlbridge-bench-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

fn mix_for(args: &SyncBenchArgs) -> SeedMix {
    let sellsy = ((args.contacts as f64) * args.sellsy_share).round() as usize;
    SeedMix {
        ghl_contacts: args.contacts - sellsy.min(args.contacts),
        sellsy_contacts: sellsy.min(args.contacts),
        max_tags: args.max_tags,
        contacts_per_company: args.contacts_per_company,
        tasks_per_contact: args.tasks_per_contact,
        notes_per_contact: args.notes_per_contact,
    }
}

/// Requests the no-change target allows for the deletion listings (GHL search pages
/// of 500, Sellsy pages of 100, every contact on each side) and for the notes sweep
/// (the engine's default share of GHL's daily 200,000: 2 %, spread over the day's
/// cycles at the poll interval).
fn no_change_allowances(n: usize, poll_minutes: u64) -> (u64, u64) {
    let n = n as u64;
    let listings = n.div_ceil(500) + n.div_ceil(100);
    let cycles_per_day = (24 * 60 / poll_minutes.max(1)).max(1);
    let notes = (200_000u64 * 2 / 100).div_ceil(cycles_per_day);
    (listings, notes)
}

async fn sync(args: SyncBenchArgs) -> anyhow::Result<i32> {
    let n = args.contacts;
    let mix = mix_for(&args);
    let (fault_config, faults_applied, faults_note) = parse_faults(&args.faults)?;
    let dir = temp_dir()?;
    let ghl_rt = EmuRuntime::start("emu-ghl", 2)?;
    let sellsy_rt = EmuRuntime::start("emu-sellsy", 2)?;
    let mut notes: Vec<String> = Vec::new();

    eprintln!(
        "bench sync: seeding {} contacts ({} GHL-only, {} Sellsy-only) into in-process emulators",
        report::thousands(n),
        mix.ghl_contacts,
        mix.sellsy_contacts
    );
    let rss_before_seed = procstat::memory();
    let seeding = Instant::now();
    let rig = Rig::start(&ghl_rt, &sellsy_rt, &mix, FaultConfig::none()).await?;
    let seed_s = seeding.elapsed().as_secs_f64();
    let rss_after_seed = procstat::memory();
    eprintln!(
        "bench sync: seeded in {seed_s:.2} s (GHL {} tasks, {} notes; Sellsy {} tasks, {} comments, {} companies)",
        rig.seeded_ghl.tasks,
        rig.seeded_ghl.notes,
        rig.seeded_sellsy.tasks,
        rig.seeded_sellsy.notes,
        rig.seeded_sellsy.companies
    );
    let sellsy_source = if rig.sellsy_endpoint.is_some() {
        "the Sellsy emulator's GET /emulator/stats"
    } else {
        notes.push("The Sellsy emulator does not serve GET /emulator/stats in this build: Sellsy requests were counted by a layer around its router at its listener (same JSON shape as GHL's stats).".into());
        "a counting layer at the Sellsy emulator's listener"
    };
    let cfg = engine_config(&args, &rig, &dir.join("clean.sqlite"))?;
    let poll_minutes = cfg.sync.poll_interval_minutes;
    let (engine, store) = connect(cfg, 3).await?;
    let mut phases: Vec<Phase> = Vec::new();

    // 1. initial
    let p = probe(&rig).await;
    let report = engine
        .run_once(false, &|_| {})
        .await
        .context("the initial cycle failed")?;
    let phase = finish(
        &rig,
        p,
        "initial",
        n,
        std::slice::from_ref(&report),
        Vec::new(),
    )
    .await;
    progress_line(&phase);
    if args.verbose {
        eprintln!("  {}", report.line());
    }
    phases.push(phase);
    let initial_check = rig.verify(store.as_ref());
    eprintln!("bench sync: after initial: {}", initial_check.summary());

    // 2. no change
    let p = probe(&rig).await;
    let report = engine
        .run_once(false, &|_| {})
        .await
        .context("the no-change cycle failed")?;
    let phase = finish(
        &rig,
        p,
        "no-change",
        n,
        std::slice::from_ref(&report),
        Vec::new(),
    )
    .await;
    progress_line(&phase);
    phases.push(phase);

    // 3. one change, made before the phase starts (its request is not the sync's)
    let edited = rig
        .seeded_ghl
        .ids
        .first()
        .cloned()
        .zip(rig.seeded_ghl.emails.first().cloned());
    let mut propagated = None;
    if let Some((id, _)) = &edited {
        edit_first_name(&rig, id, EDITED_NAME).await?;
    }
    let p = probe(&rig).await;
    let report = engine
        .run_once(false, &|_| {})
        .await
        .context("the one-change cycle failed")?;
    let phase = finish(
        &rig,
        p,
        "one-change",
        n,
        std::slice::from_ref(&report),
        Vec::new(),
    )
    .await;
    progress_line(&phase);
    phases.push(phase);
    if let Some((_, email)) = &edited {
        let twin = bench_seed::sellsy_contact_by_email(&rig.sellsy.state, email);
        propagated = Some(
            twin.and_then(|c| {
                c.get("first_name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .as_deref()
                == Some(EDITED_NAME),
        );
    } else {
        notes.push("No GHL contact was seeded: the one-change phase changed nothing.".into());
    }
    drop(engine);
    drop(store);
    let seeded_ghl = rig.seeded_ghl.clone();
    let seeded_sellsy = rig.seeded_sellsy.clone();
    rig.shutdown().await;

    // 4. faults, on fresh emulators and state
    let mut faults_outcome = None;
    if let Some(note) = &faults_note {
        eprintln!("bench sync: note: {note}");
        notes.push(note.clone());
    }
    if !args.skip_faults {
        eprintln!("bench sync: faults: fresh emulators with `{faults_applied}`");
        let rig = Rig::start(&ghl_rt, &sellsy_rt, &mix, fault_config).await?;
        let cfg = engine_config(&args, &rig, &dir.join("faults.sqlite"))?;
        let (engine, store) = connect(cfg, 10).await?;
        let p = probe(&rig).await;
        let mut reports = Vec::new();
        let mut errors = Vec::new();
        let mut converged = false;
        for cycle in 1..=args.max_fault_cycles {
            match engine.run_once(false, &|_| {}).await {
                Ok(r) => {
                    let done = r.pending == 0 && r.waiting == 0 && !r.capped && r.paused.is_none();
                    eprintln!(
                        "bench sync: faults: cycle {cycle}: pending {}, failed {}, {:.2} s",
                        r.pending, r.failed, r.seconds
                    );
                    reports.push(r);
                    if done {
                        converged = true;
                        break;
                    }
                }
                Err(e) => {
                    eprintln!("bench sync: faults: cycle {cycle} failed: {e}");
                    errors.push(e.to_string());
                }
            }
        }
        let phase = finish(&rig, p, "faults", n, &reports, errors).await;
        progress_line(&phase);
        let verification = rig.verify(store.as_ref());
        eprintln!("bench sync: after faults: {}", verification.summary());
        faults_outcome = Some(FaultsOutcome {
            converged,
            cycles: phase.cycles,
            wall_s: phase.wall_s,
            verification,
        });
        phases.push(phase);
        drop(engine);
        drop(store);
        rig.shutdown().await;
    }
    drop(ghl_rt);
    drop(sellsy_rt);
    let _ = std::fs::remove_dir_all(&dir);

    // Results.
    let existing = args
        .write
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    let (deletion_listings, notes_sweep_share) = no_change_allowances(n, poll_minutes);
    let targets = report::targets(
        &phases,
        &TargetInputs {
            n,
            ghl: &seeded_ghl,
            sellsy: &seeded_sellsy,
            deletion_listings,
            notes_sweep_share,
            faults: faults_outcome.as_ref(),
            other_cpu: report::other_cpu(&existing, n),
        },
    );
    let per_phase_peak = phases.iter().all(|p| p.peak_is_per_phase);
    notes.push(format!(
        "Requests are counted by the emulators (GHL: its stats; Sellsy: {sellsy_source}), differences before/after each phase. A record is one seeded contact ({} in all).",
        report::thousands(n)
    ));
    notes.push("Engine CPU = CPU of this process's threads except the emulators' (own runtimes, `emu-*` threads), from /proc/self/task/*/schedstat (else utime+stime).".into());
    notes.push(format!(
        "Peak RSS is the whole process{}: both emulators and their data included ({:.1} MB before seeding, {:.1} MB after seeding {} contacts).",
        if per_phase_peak { ", per phase (VmHWM reset at each phase start)" } else { " since start (VmHWM)" },
        rss_before_seed.map_or(0.0, |m| m.rss_mb),
        rss_after_seed.map_or(0.0, |m| m.rss_mb),
        report::thousands(n)
    ));
    notes.push(format!("GHL window used = GHL requests / (wall s × 10/s), against the nominal 100 requests / 10 s. The emulators' limits are lifted (GHL {GHL_LIFTED_PER_SECOND} requests per 1 s window, Sellsy quotas 10^9), so above 100% means faster than GHL would allow; an injected 429 reports the 1 s window spent."));
    if cfg!(debug_assertions) {
        notes.push("Debug build: timings and CPU are not representative; use a release build (`cargo build --release -p hlbridge`).".into());
    }
    if propagated == Some(false) {
        notes.push(format!(
            "The one-change edit (GHL firstName = {EDITED_NAME}) did not reach the Sellsy twin."
        ));
    }
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    let date = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let header = format!(
        "`hlbridge bench sync --contacts {n}` on {date}, {cores} cores, {build} build; {} GHL-only and {} Sellsy-only contacts (1–{} tags each, {} contacts per company, {} tasks and {} notes per contact), faults phase `{}`.",
        mix.ghl_contacts,
        mix.sellsy_contacts,
        mix.max_tags,
        mix.contacts_per_company,
        mix.tasks_per_contact,
        mix.notes_per_contact,
        if args.skip_faults { "skipped".to_string() } else { faults_applied.clone() }
    );

    let final_check = faults_outcome
        .as_ref()
        .map(|f| &f.verification)
        .unwrap_or(&initial_check);
    let failure = match &faults_outcome {
        Some(f) if !f.verification.ok() => Some(format!(
            "under faults: {} duplicates ({} of tasks/notes), {} lost and {} unlinked contacts",
            f.verification.duplicates + f.verification.activity_duplicates,
            f.verification.activity_duplicates,
            f.verification.losses,
            f.verification.unlinked
        )),
        _ if !initial_check.ok() => Some(format!(
            "after the initial cycle: {}",
            initial_check.summary()
        )),
        _ => None,
    };
    let cpu = match (
        report::phase(&phases, "initial"),
        report::phase(&phases, "no-change"),
    ) {
        (Some(i), Some(q)) if i.cpu.available => Some(report::CpuPoint {
            n,
            initial_us: i.engine_cpu_us_per_record,
            no_change_us: q.engine_cpu_us_per_record,
        }),
        _ => None,
    };

    if let Some(path) = &args.write {
        let block = report::markdown_block(n, &header, &phases, &targets, &notes, cpu);
        let updated = report::update_section(&existing, n, &block);
        std::fs::write(path, updated)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!(
            "bench sync: wrote the {n}-contact block to {}",
            path.display()
        );
    }

    if args.json {
        let out = json!({
            "bench": "sync",
            "contacts": n,
            "date": date,
            "build": build,
            "cores": cores,
            "mix": {
                "ghl_only": mix.ghl_contacts,
                "sellsy_only": mix.sellsy_contacts,
                "max_tags": mix.max_tags,
                "contacts_per_company": mix.contacts_per_company,
                "tasks_per_contact": mix.tasks_per_contact,
                "notes_per_contact": mix.notes_per_contact,
            },
            "seeded": {
                "ghl": seeded_ghl,
                "sellsy": seeded_sellsy,
                "seconds": seed_s,
                "rss_before_mb": rss_before_seed.map(|m| m.rss_mb),
                "rss_after_mb": rss_after_seed.map(|m| m.rss_mb),
            },
            "faults": {
                "requested": args.faults,
                "applied": if args.skip_faults { Value::Null } else { json!(faults_applied) },
                "note": faults_note,
            },
            "sellsy_requests_source": sellsy_source,
            "phases": phases,
            "checks": {
                "initial": initial_check,
                "one_change_propagated": propagated,
                "faults": faults_outcome,
            },
            "duplicates": final_check.duplicates + final_check.activity_duplicates,
            "losses": final_check.losses + final_check.unlinked,
            "targets": targets,
            "notes": notes,
            "failure": failure,
        });
        outln!("{out}");
    } else {
        outln!("{header}\n");
        outln!("{}", report::phase_table(&phases));
        outln!("{}", report::target_table(&targets));
        for note in &notes {
            outln!("- {note}");
        }
        if args.verbose {
            outln!("\nrequests by operation:");
            outln!("{}", report::operations(&phases));
        }
    }
    match failure {
        Some(message) => {
            eprintln!("bench sync: FAILED: {message}");
            Ok(1)
        }
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accept_separators_and_k() {
        assert_eq!(parse_count("10000"), Ok(10_000));
        assert_eq!(parse_count("10,000"), Ok(10_000));
        assert_eq!(parse_count("10k"), Ok(10_000));
        assert_eq!(parse_count("100_000"), Ok(100_000));
        assert!(parse_count("ten").is_err());
    }

    #[test]
    fn faults_without_commit_drop_fall_back() {
        let (_, applied, note) = parse_faults("429=0.05,5xx=0.1").unwrap();
        assert_eq!(applied, "429=0.05,5xx=0.1");
        assert!(note.is_none());
        assert!(parse_faults("bogus=1").is_err());
    }

    #[test]
    fn allowances_follow_the_size() {
        assert_eq!(no_change_allowances(1_000, 5), (2 + 10, 14));
        assert_eq!(no_change_allowances(100_000, 5), (200 + 1_000, 14));
    }
}
