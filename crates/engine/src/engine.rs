//! The engine: both API sides, the state store and the mapping, and the cycle that
//! ties the steps together (`run_once`, `run_continuous`).

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use hlbridge_core::auth::{MemoryTokenStore, TokenManager};
use hlbridge_core::rate::RateBudget;
use hlbridge_ghl::{GhlAuth, GhlClient};
use hlbridge_sellsy::oauth::{SellsyOAuth, DEFAULT_TOKEN_URL};
use hlbridge_sellsy::{SellsyAuth, SellsyClient};
use serde_json::{json, Value};

use crate::config::EngineConfig;
use crate::error::{EngineError, Result};
use crate::mapping::{GhlFieldDef, Mapping};
use crate::report::{CycleReport, Progress};
use crate::sides::ghl::GhlSide;
use crate::sides::sellsy::SellsySide;
use crate::store::{Kind, StateStore};

/// Rate budgets to share with every other client of the same accounts.
#[derive(Debug, Clone, Default)]
pub struct Budgets {
    pub ghl: Option<Arc<RateBudget>>,
    pub sellsy: Option<Arc<RateBudget>>,
}

/// Progress callback.
pub type ProgressFn<'a> = &'a (dyn Fn(Progress) + Send + Sync);

/// A connected sync engine.
pub struct Engine {
    pub(crate) cfg: EngineConfig,
    pub(crate) ghl: GhlSide,
    pub(crate) sellsy: SellsySide,
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) mapping: Mapping,
    pub(crate) sellsy_embeds: Vec<String>,
    pub(crate) task_label: Option<i64>,
    /// Serialises matching, so two records never claim the same partner at once.
    pub(crate) link_lock: tokio::sync::Mutex<()>,
    /// Outbox entries with a smaller id were recorded by an earlier run.
    pub(crate) outbox_floor: AtomicI64,
    /// Cycles run by `run_continuous` so far (0 outside continuous mode).
    pub(crate) continuous_cycles: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("ghl_location", &self.ghl.location_id)
            .finish_non_exhaustive()
    }
}

/// Sellsy's token endpoint, or the emulator's beside a non-Sellsy base URL.
pub fn sellsy_token_url(base_url: &str, explicit: Option<&str>) -> String {
    if let Some(url) = explicit.filter(|u| !u.is_empty()) {
        return url.to_string();
    }
    let trimmed = base_url.trim_end_matches('/');
    match trimmed.strip_suffix("/v2") {
        Some(root) if trimmed != hlbridge_sellsy::DEFAULT_BASE_URL => {
            format!("{root}/oauth2/access-tokens")
        }
        _ => DEFAULT_TOKEN_URL.to_string(),
    }
}

async fn ghl_client(
    cfg: &EngineConfig,
    budget: Option<Arc<RateBudget>>,
) -> Result<(GhlClient, String)> {
    let token = cfg
        .ghl
        .token
        .clone()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            EngineError::Config(
                "no GHL credentials: set HLBRIDGE_GHL_TOKEN (or [ghl] token)".into(),
            )
        })?;
    let location = cfg
        .ghl
        .location_id
        .clone()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| {
            EngineError::Config(
                "no GHL location: set HLBRIDGE_GHL_LOCATION_ID (or [ghl] location_id)".into(),
            )
        })?;
    let mut b = GhlClient::builder()
        .base_url(
            cfg.ghl
                .base_url
                .clone()
                .unwrap_or_else(|| hlbridge_ghl::DEFAULT_BASE_URL.into()),
        )
        .auth(GhlAuth::LocationToken(token))
        .location_id(&location);
    if let Some(budget) = budget {
        b = b.budget(budget);
    }
    Ok((b.build().map_err(EngineError::ghl)?, location))
}

async fn sellsy_client(
    cfg: &EngineConfig,
    budget: Option<Arc<RateBudget>>,
) -> Result<SellsyClient> {
    let base = cfg
        .sellsy
        .base_url
        .clone()
        .unwrap_or_else(|| hlbridge_sellsy::DEFAULT_BASE_URL.into());
    let auth = match (
        cfg.sellsy.token.clone().filter(|t| !t.is_empty()),
        cfg.sellsy.client_id.clone().filter(|c| !c.is_empty()),
    ) {
        (Some(token), _) => SellsyAuth::Token(token),
        (None, Some(client_id)) => {
            let token_url = sellsy_token_url(&base, cfg.sellsy.token_url.as_deref());
            let oauth = Arc::new(
                SellsyOAuth::new(&token_url, &client_id, cfg.sellsy.client_secret.as_deref())
                    .map_err(EngineError::sellsy)?,
            );
            let tokens = oauth.client_credentials().await.map_err(EngineError::sellsy)?;
            let key = match hlbridge_sellsy::oauth::corp_id(&tokens) {
                Some(corp) => format!("sellsy:{corp}"),
                None => "sellsy:sync".to_string(),
            };
            let store = Arc::new(MemoryTokenStore::default());
            SellsyAuth::OAuth(Arc::new(
                TokenManager::create(&key, store, Some(oauth), tokens).map_err(EngineError::sellsy)?,
            ))
        }
        (None, None) => {
            return Err(EngineError::Config(
                "no Sellsy credentials: set HLBRIDGE_SELLSY_CLIENT_ID and HLBRIDGE_SELLSY_CLIENT_SECRET".into(),
            ))
        }
    };
    let mut b = SellsyClient::builder().base_url(&base).auth(auth);
    if let Some(budget) = budget {
        b = b.budget(budget);
    }
    b.build().map_err(EngineError::sellsy)
}

impl Engine {
    /// Connect with the configured database and fresh budgets.
    pub async fn connect(cfg: EngineConfig) -> Result<Engine> {
        let store = crate::store::open(&cfg.database_url())?;
        Engine::connect_with(cfg, store, Budgets::default()).await
    }

    /// Connect both sides, read the custom field definitions and validate the mapping.
    pub async fn connect_with(
        cfg: EngineConfig,
        store: Arc<dyn StateStore>,
        budgets: Budgets,
    ) -> Result<Engine> {
        cfg.poll_interval()?;
        let (ghl_client, location_id) = ghl_client(&cfg, budgets.ghl).await?;
        let sellsy_client = sellsy_client(&cfg, budgets.sellsy).await?;
        // Pace on the account's real limits; accounts without the scope keep defaults.
        if let Err(e) = sellsy_client.learn_quotas().await {
            tracing::info!(error = %e, "Sellsy quotas not readable; pacing on defaults");
        }
        let ghl = GhlSide {
            client: ghl_client,
            location_id,
        };
        let sellsy = SellsySide::new(sellsy_client);
        let ghl_defs: Vec<GhlFieldDef> = if cfg.custom_fields.is_empty() {
            Vec::new()
        } else {
            ghl.custom_fields()
                .await?
                .iter()
                .filter_map(GhlFieldDef::from_json)
                .collect()
        };
        let sellsy_defs = if cfg.custom_fields.is_empty() {
            Vec::new()
        } else {
            sellsy.custom_fields().await?
        };
        let mapping = Mapping::build(&cfg, &ghl_defs, &sellsy_defs)?;
        let task_label = if cfg.sync.tasks {
            let labels = sellsy.task_labels().await?;
            match &cfg.sync.sellsy_task_label {
                Some(want) => Some(
                    labels
                        .iter()
                        .find(|(id, name)| id.to_string() == *want || name.eq_ignore_ascii_case(want))
                        .map(|(id, _)| *id)
                        .ok_or_else(|| {
                            EngineError::Config(format!(
                                "sync.sellsy_task_label = \"{want}\": no such Sellsy task label (labels: {})",
                                labels.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>().join(", ")
                            ))
                        })?,
                ),
                None => labels.first().map(|(id, _)| *id),
            }
        } else {
            None
        };
        let sellsy_embeds = crate::mapping::sellsy::embeds(&mapping);
        Ok(Engine {
            cfg,
            ghl,
            sellsy,
            store,
            mapping,
            sellsy_embeds,
            task_label,
            link_lock: tokio::sync::Mutex::new(()),
            outbox_floor: AtomicI64::new(0),
            continuous_cycles: std::sync::atomic::AtomicU64::new(0),
        })
    }

    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// Writes the outbox gave up on, in all.
    fn failed_writes(&self) -> Result<u64> {
        Ok(self
            .store
            .outbox_counts()?
            .get("failed")
            .copied()
            .unwrap_or(0))
    }

    /// One complete cycle: resume pending writes, read both sides' changes, detect
    /// deletions, reconcile contacts, sweep tasks and notes of linked contacts.
    pub async fn run_once(&self, dry_run: bool, progress: ProgressFn<'_>) -> Result<CycleReport> {
        let started = Instant::now();
        let mut report = CycleReport {
            dry_run,
            ..CycleReport::default()
        };
        let failed_before = self.failed_writes()?;
        let outcome = self.cycle(dry_run, &mut report, progress).await;
        match outcome {
            Ok(()) => {}
            Err(e) if e.is_daily_limit() => {
                report.paused = Some(format!("{e}; the sync resumes after the daily reset"));
            }
            Err(e) => return Err(e),
        }
        report.pending += self.store.count_dirty(Kind::Contact)?;
        if !dry_run {
            self.settle_outbox()?;
            report.pending += self.store.pending()?.len() as u64;
        }
        report.failed = self.failed_writes()?;
        report.failed_now = report.failed.saturating_sub(failed_before);
        report.seconds = started.elapsed().as_secs_f64();
        if !dry_run {
            self.store.set_meta(
                "last_cycle",
                &json!({
                    "at": chrono::Utc::now().to_rfc3339(),
                    "report": serde_json::to_value(&report).unwrap_or(Value::Null),
                }),
            )?;
            self.store.set_meta("paused", &json!(report.paused))?;
        }
        progress(Progress::Cycle(Box::new(report.clone())));
        Ok(report)
    }

    async fn cycle(
        &self,
        dry_run: bool,
        report: &mut CycleReport,
        progress: ProgressFn<'_>,
    ) -> Result<()> {
        if !dry_run {
            self.resume_outbox()?;
        }
        self.poll_ghl(report, progress).await?;
        self.poll_sellsy(report, progress).await?;
        let cycle_no = self.continuous_cycles.load(Ordering::SeqCst);
        // Outside continuous mode (0) and on its first cycle, always; then every N cycles.
        let scan_due = cycle_no <= 1
            || (cycle_no - 1).is_multiple_of(self.cfg.sync.deletion_scan_every.max(1));
        if !dry_run && scan_due && self.cfg.sync.deletions != crate::config::DeletionPolicy::Ignore
        {
            self.detect_deletions(report).await?;
        }
        // A few rounds: writes that failed on a transient error are retried.
        for round in 0..4 {
            self.reconcile_contacts(dry_run, report, progress).await?;
            if dry_run || report.capped || self.store.count_dirty(Kind::Contact)? == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200 * (round + 1))).await;
        }
        if !dry_run && !report.capped && (self.cfg.sync.tasks || self.cfg.sync.notes) {
            self.sweep(report, progress).await?;
        }
        Ok(())
    }

    /// Pending writes of an earlier run are re-planned from fresh reads: their source
    /// record is marked dirty, and creates keep their entry so the next attempt first
    /// looks for the record on the target (idempotent create).
    fn resume_outbox(&self) -> Result<()> {
        let pending = self.store.pending()?;
        let floor = pending.iter().map(|e| e.id).max().map_or(0, |m| m + 1);
        self.outbox_floor.store(floor, Ordering::SeqCst);
        for entry in pending {
            if entry.kind == Kind::Contact {
                self.store
                    .mark_dirty(entry.target.other(), Kind::Contact, &entry.source_id)?;
            }
            if entry.op != "create" || entry.kind != Kind::Contact {
                self.store
                    .finish(entry.id, crate::store::Outcome::Superseded)?;
            }
        }
        Ok(())
    }

    /// Pending creates whose source got linked another way (matched from the other
    /// side) are done; those whose source is gone are superseded.
    fn settle_outbox(&self) -> Result<()> {
        for entry in self.store.pending()? {
            if entry.op != "create" {
                continue;
            }
            let source_side = entry.target.other();
            if self
                .store
                .link_by(entry.kind, source_side, &entry.source_id)?
                .is_some()
            {
                self.store.finish(entry.id, crate::store::Outcome::Done)?;
            } else if entry.kind != Kind::Contact
                || self
                    .store
                    .record(source_side, entry.kind, &entry.source_id)?
                    .is_none()
            {
                self.store
                    .finish(entry.id, crate::store::Outcome::Superseded)?;
            }
        }
        Ok(())
    }

    /// Cycles every poll interval until `shutdown` resolves (Ctrl-C); with
    /// `[webhooks] listen` set, verified events trigger a targeted sync in between.
    /// Stopping mid-cycle is safe: every step is durable and resumes at the next start.
    pub async fn run_continuous<F>(&self, progress: ProgressFn<'_>, shutdown: F) -> Result<()>
    where
        F: Future<Output = ()>,
    {
        let interval = self.cfg.poll_interval()?;
        let (hints_tx, mut hints) = tokio::sync::mpsc::unbounded_channel();
        let server = match &self.cfg.webhooks.listen {
            Some(addr) => {
                let router = crate::webhooks::router(
                    self.cfg.webhooks.ghl_public_key.as_deref(),
                    self.cfg.webhooks.sellsy_secret.as_deref(),
                    hints_tx.clone(),
                )?;
                let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                    EngineError::Config(format!("webhooks.listen = {addr}: cannot listen ({e})"))
                })?;
                Some(tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, router).await {
                        tracing::warn!(error = %e, "webhook receiver stopped");
                    }
                }))
            }
            None => None,
        };
        let result = self
            .continuous_loop(progress, shutdown, interval, &mut hints)
            .await;
        drop(hints_tx);
        if let Some(server) = server {
            server.abort();
        }
        result
    }

    async fn continuous_loop<F>(
        &self,
        progress: ProgressFn<'_>,
        shutdown: F,
        interval: std::time::Duration,
        hints: &mut tokio::sync::mpsc::UnboundedReceiver<crate::webhooks::Hint>,
    ) -> Result<()>
    where
        F: Future<Output = ()>,
    {
        tokio::pin!(shutdown);
        loop {
            self.continuous_cycles.fetch_add(1, Ordering::SeqCst);
            tokio::select! {
                r = self.run_once(false, progress) => {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "sync cycle failed; retrying next interval");
                        progress(Progress::Cycle(Box::new(CycleReport {
                            errors: vec![e.to_string()],
                            ..CycleReport::default()
                        })));
                    }
                }
                _ = &mut shutdown => return Ok(()),
            }
            let next = tokio::time::Instant::now() + interval;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(next) => break,
                    Some(hint) = hints.recv() => {
                        match self.sync_hint(&hint).await {
                            Ok(report) => progress(Progress::Cycle(Box::new(report))),
                            Err(e) => tracing::warn!(error = %e, ?hint, "targeted sync failed; polling will catch up"),
                        }
                    }
                    _ = &mut shutdown => return Ok(()),
                }
            }
        }
    }
}
