//! Every pair's sync, run by one process: a task per pair that runs a cycle on its poll
//! interval, when asked (`POST /api/pairs/{id}/sync`), and a targeted sync for each
//! webhook event routed to it. At most `max_concurrent` cycles run at once (a
//! semaphore across pairs). Shutdown stops scheduling, lets in-flight cycles finish
//! within the drain time, then drops them: every write is an outbox intent, so a
//! dropped cycle resumes where it stopped on the next start.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hlbridge_accounts::{Accounts, AccountsError, Pair};
use hlbridge_engine::webhooks::Hint;
use hlbridge_engine::{CycleReport, Engine, EngineConfig, EngineError, Progress};
use serde::Serialize;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;

/// Keys a pair's `hlbridge.toml` may not set: the pair's connections and state file
/// take their place.
const PAIR_FORBIDDEN: &[(&str, &str)] = &[
    ("ghl", "token"),
    ("ghl", "location_id"),
    ("ghl", "base_url"),
    ("sellsy", "token"),
    ("sellsy", "client_id"),
    ("sellsy", "client_secret"),
    ("sellsy", "base_url"),
    ("sellsy", "token_url"),
    ("database", "url"),
    ("webhooks", "listen"),
];

/// Check a pair's configuration text (today's `hlbridge.toml` format) before it is
/// stored: it must parse, validate, and leave credentials to the pair's connections.
pub fn validate_pair_config(text: &str) -> Result<EngineConfig, String> {
    let cfg = EngineConfig::from_toml(text).map_err(|e| e.to_string())?;
    let table: toml::Table = text.parse().map_err(|e| format!("{e}"))?;
    for (section, key) in PAIR_FORBIDDEN {
        if table
            .get(*section)
            .and_then(|s| s.as_table())
            .is_some_and(|t| t.contains_key(*key))
        {
            return Err(format!(
                "{section}.{key}: a pair takes it from its connections and its own state file; remove it from the pair's configuration"
            ));
        }
    }
    cfg.poll_interval().map_err(|e| e.to_string())?;
    Ok(cfg)
}

/// Errors building or running a pair.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Accounts(#[from] AccountsError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{0}")]
    Config(String),
}

/// The engine of one stored pair: its connections' clients, its own state database.
pub async fn engine_for_pair(accounts: &Accounts, pair: &Pair) -> Result<Engine, RunnerError> {
    let mut cfg = validate_pair_config(&pair.config)
        .map_err(|e| RunnerError::Config(format!("pair {}: {e}", pair.id)))?;
    let reg = &accounts.registry;
    let ghl_conn = reg.require(&pair.ghl)?;
    let sellsy_conn = reg.require(&pair.sellsy)?;
    let state = reg.pair_state_path(&pair.id);
    cfg.database.url = Some(format!("sqlite://{}", state.display()));
    cfg.pair_id = Some(pair.id.clone());
    let store = hlbridge_engine::store::open(&cfg.database_url())?;
    let ghl = accounts.ghl_client(&ghl_conn)?;
    let sellsy = accounts.sellsy_client(&sellsy_conn)?;
    Ok(Engine::connect_clients(cfg, store, ghl, &ghl_conn.account, sellsy).await?)
}

/// What `GET /api/pairs/{id}/status` shows of the runner's side.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PairRun {
    /// A cycle or targeted sync is running now.
    pub running: bool,
    pub cycles: u64,
    pub last_started: Option<String>,
    pub last_finished: Option<String>,
    pub last_report: Option<CycleReport>,
    /// Why the last cycle could not run or failed.
    pub last_error: Option<String>,
}

enum Work {
    Cycle,
    Hint(Hint),
    /// The pair's configuration changed: rebuild its engine before the next cycle.
    Reload,
}

struct PairTask {
    tx: mpsc::Sender<Work>,
    handle: JoinHandle<()>,
}

/// The pairs' sync tasks of one `serve` process.
pub struct Runner {
    accounts: Accounts,
    slots: Arc<Semaphore>,
    tasks: Mutex<HashMap<String, PairTask>>,
    runs: Arc<Mutex<HashMap<String, PairRun>>>,
    stop: watch::Sender<bool>,
    /// Overrides every pair's poll interval (tests); `None` = each pair's own.
    interval_override: Option<Duration>,
    /// Told about every finished cycle or targeted sync (`serve` prints a line).
    on_cycle: Option<CycleLog>,
}

/// A callback given the pair id, the report of each finished cycle, and whether it
/// was a targeted sync of a webhook event (true) or a whole cycle (false).
pub type CycleLog = Arc<dyn Fn(&str, &CycleReport, bool) + Send + Sync>;

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Runner {
    pub fn new(
        accounts: Accounts,
        max_concurrent: usize,
        interval_override: Option<Duration>,
    ) -> Arc<Runner> {
        Runner::with_log(accounts, max_concurrent, interval_override, None)
    }

    /// [`Runner::new`] with a callback told about every finished cycle.
    pub fn with_log(
        accounts: Accounts,
        max_concurrent: usize,
        interval_override: Option<Duration>,
        on_cycle: Option<CycleLog>,
    ) -> Arc<Runner> {
        let (stop, _) = watch::channel(false);
        Arc::new(Runner {
            accounts,
            slots: Arc::new(Semaphore::new(max_concurrent.max(1))),
            tasks: Mutex::new(HashMap::new()),
            runs: Arc::new(Mutex::new(HashMap::new())),
            stop,
            interval_override,
            on_cycle,
        })
    }

    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// Start a task for each stored pair that has none, stop those of removed pairs.
    pub fn reload(self: &Arc<Self>) -> Result<(), AccountsError> {
        if *self.stop.borrow() {
            return Ok(());
        }
        let pairs = self.accounts.registry.pairs()?;
        let mut tasks = self.tasks.lock().expect("runner lock");
        tasks.retain(|id, t| {
            let keep = pairs.iter().any(|p| &p.id == id) && !t.handle.is_finished();
            if !keep {
                t.handle.abort();
            }
            keep
        });
        for pair in pairs {
            if tasks.contains_key(&pair.id) {
                continue;
            }
            let (tx, rx) = mpsc::channel(64);
            let me = self.clone();
            let id = pair.id.clone();
            let handle = tokio::spawn(async move { me.pair_loop(pair, rx).await });
            tasks.insert(id, PairTask { tx, handle });
        }
        Ok(())
    }

    /// Run a cycle of `pair_id` now. False when the pair is unknown.
    pub fn sync_now(self: &Arc<Self>, pair_id: &str) -> bool {
        let _ = self.reload();
        let tasks = self.tasks.lock().expect("runner lock");
        match tasks.get(pair_id) {
            Some(t) => {
                // A full queue already holds a cycle to come: nothing is lost.
                let _ = t.tx.try_send(Work::Cycle);
                true
            }
            None => false,
        }
    }

    /// Rebuild the pair's engine (new configuration) once its running work is done.
    pub fn restart(self: &Arc<Self>, pair_id: &str) {
        let _ = self.reload();
        let tasks = self.tasks.lock().expect("runner lock");
        if let Some(t) = tasks.get(pair_id) {
            let _ = t.tx.try_send(Work::Reload);
            let _ = t.tx.try_send(Work::Cycle);
        }
    }

    /// Send a webhook hint to every pair using the account `ghl_location` (GHL) or
    /// `sellsy_account` (Sellsy). Returns how many pairs got it.
    pub fn route_hint(
        self: &Arc<Self>,
        ghl_location: Option<&str>,
        sellsy_account: Option<&str>,
        hint: Hint,
    ) -> Result<usize, AccountsError> {
        self.reload()?;
        let reg = &self.accounts.registry;
        let mut sent = 0;
        let tasks = self.tasks.lock().expect("runner lock");
        for pair in reg.pairs()? {
            let account = match (ghl_location, sellsy_account) {
                (Some(loc), _) => reg.get(&pair.ghl)?.filter(|c| c.account == loc),
                (None, Some(acc)) => reg.get(&pair.sellsy)?.filter(|c| c.account == acc),
                _ => None,
            };
            if account.is_none() {
                continue;
            }
            if let Some(t) = tasks.get(&pair.id) {
                if t.tx.try_send(Work::Hint(hint.clone())).is_err() {
                    // Queue full: a cycle is coming anyway and polling catches up.
                    let _ = t.tx.try_send(Work::Cycle);
                }
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// The runner's view of a pair.
    pub fn run_of(&self, pair_id: &str) -> PairRun {
        self.runs
            .lock()
            .expect("runner lock")
            .get(pair_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Every pair's run, for metrics.
    pub fn runs(&self) -> Vec<(String, PairRun)> {
        let runs = self.runs.lock().expect("runner lock");
        let mut out: Vec<_> = runs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn update(&self, pair_id: &str, f: impl FnOnce(&mut PairRun)) {
        let mut runs = self.runs.lock().expect("runner lock");
        f(runs.entry(pair_id.to_string()).or_default());
    }

    /// Stop scheduling; wait up to `drain` for running cycles, then drop them.
    pub async fn shutdown(&self, drain: Duration) {
        let _ = self.stop.send(true);
        let handles: Vec<JoinHandle<()>> = self
            .tasks
            .lock()
            .expect("runner lock")
            .drain()
            .map(|(_, t)| t.handle)
            .collect();
        let deadline = tokio::time::Instant::now() + drain;
        for mut h in handles {
            if tokio::time::timeout_at(deadline, &mut h).await.is_err() {
                h.abort();
            }
        }
    }

    async fn pair_loop(self: Arc<Self>, mut pair: Pair, mut rx: mpsc::Receiver<Work>) {
        let mut stop = self.stop.subscribe();
        let id = pair.id.clone();
        let mut engine: Option<Engine> = None;
        let mut next = tokio::time::Instant::now();
        loop {
            let work = tokio::select! {
                biased;
                _ = stop.changed() => return,
                w = rx.recv() => match w { Some(w) => w, None => return },
                _ = tokio::time::sleep_until(next) => Work::Cycle,
            };
            if *stop.borrow() {
                return;
            }
            if let Work::Reload = work {
                engine = None;
                match self.accounts.registry.pair(&id) {
                    Ok(Some(p)) => pair = p,
                    Ok(None) => return,
                    Err(e) => self.update(&id, |r| r.last_error = Some(e.to_string())),
                }
                continue;
            }
            let Ok(_slot) = self.slots.clone().acquire_owned().await else {
                return;
            };
            if engine.is_none() {
                match engine_for_pair(&self.accounts, &pair).await {
                    Ok(e) => engine = Some(e),
                    Err(e) => {
                        tracing::warn!(pair = %id, error = %e, "pair cannot start");
                        if let Some(log) = &self.on_cycle {
                            log(
                                &id,
                                &CycleReport {
                                    errors: vec![format!("cannot start: {e}")],
                                    ..CycleReport::default()
                                },
                                false,
                            );
                        }
                        self.update(&id, |r| r.last_error = Some(e.to_string()));
                        next = tokio::time::Instant::now()
                            + self.interval_override.unwrap_or(Duration::from_secs(60));
                        continue;
                    }
                }
            }
            let Some(eng) = engine.as_ref() else { continue };
            let interval = self
                .interval_override
                .or_else(|| eng.config().poll_interval().ok())
                .unwrap_or(Duration::from_secs(300));
            self.update(&id, |r| {
                r.running = true;
                r.last_started = Some(now());
            });
            let quiet = |_p: Progress| {};
            let targeted = matches!(work, Work::Hint(_));
            let result = match work {
                Work::Cycle => {
                    let r = eng.run_cycle(&quiet).await;
                    next = tokio::time::Instant::now() + interval;
                    r
                }
                Work::Hint(h) => {
                    hlbridge_engine::store::history::with_source(
                        hlbridge_engine::store::history::WriteSource::Webhook,
                        eng.sync_hint(&h),
                    )
                    .await
                }
                Work::Reload => continue,
            };
            self.update(&id, |r| {
                r.running = false;
                r.cycles += 1;
                r.last_finished = Some(now());
                match result {
                    Ok(report) => {
                        if let Some(log) = &self.on_cycle {
                            log(&id, &report, targeted);
                        }
                        r.last_error = report.errors.first().cloned();
                        r.last_report = Some(report);
                    }
                    Err(e) => {
                        if let Some(log) = &self.on_cycle {
                            log(
                                &id,
                                &CycleReport {
                                    errors: vec![e.to_string()],
                                    ..CycleReport::default()
                                },
                                targeted,
                            );
                        }
                        r.last_error = Some(e.to_string());
                    }
                }
            });
        }
    }
}
