//! The engine: connecting both API sides, reading the custom field definitions and
//! validating the mapping; the cycle itself is in [`crate::cycle`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use hlbridge_core::auth::{MemoryTokenStore, TokenManager};
use hlbridge_core::rate::RateBudget;
use hlbridge_ghl::{GhlAuth, GhlClient};
use hlbridge_sellsy::oauth::SellsyOAuth;
use hlbridge_sellsy::{SellsyAuth, SellsyClient};

use crate::config::EngineConfig;
use crate::context::Ctx;
use crate::error::{EngineError, Result};
use crate::mapping::{GhlFieldDef, Mapping};
use crate::report::Progress;
use crate::sides::ghl::GhlSide;
use crate::sides::sellsy::SellsySide;
use crate::store::StateStore;

/// Rate budgets to share with every other client of the same accounts.
#[derive(Debug, Clone, Default)]
pub struct Budgets {
    pub ghl: Option<Arc<RateBudget>>,
    pub sellsy: Option<Arc<RateBudget>>,
}

impl Budgets {
    /// Budgets kept in the state database at `database_url` (`sqlite://PATH`), shared
    /// with every process using it; in-process ones when it cannot be opened.
    pub fn shared(database_url: &str) -> Budgets {
        let Some(path) = database_url
            .strip_prefix("sqlite://")
            .filter(|p| !p.is_empty())
        else {
            return Budgets::default();
        };
        match hlbridge_core::rate::SharedSlots::open(std::path::Path::new(path)) {
            Ok(slots) => Budgets {
                ghl: Some(Arc::new(
                    RateBudget::ghl_default().with_shared(slots.clone()),
                )),
                sellsy: Some(Arc::new(
                    hlbridge_sellsy::flavor::default_budget().with_shared(slots),
                )),
            },
            Err(e) => {
                tracing::warn!("shared rate budget unavailable ({e}); pacing this process alone");
                Budgets::default()
            }
        }
    }
}

/// Progress callback.
pub type ProgressFn<'a> = &'a (dyn Fn(Progress) + Send + Sync);

/// A connected sync engine: one pair of accounts. The cycle's stages (intake, plan,
/// outbox) are views over its shared context; `Engine` only holds them together and
/// runs cycles ([`crate::cycle`]).
pub struct Engine {
    pub(crate) cx: Ctx,
    /// Cycles run by `run_continuous` so far (0 outside continuous mode).
    pub(crate) continuous_cycles: std::sync::atomic::AtomicU64,
    /// `--confirm-deletions`: apply deletions the mass-deletion guard would hold.
    pub(crate) confirm_deletions: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("ghl_location", &self.cx.ghl.location_id)
            .finish_non_exhaustive()
    }
}

/// Sellsy's token endpoint, or the emulator's beside a non-Sellsy base URL.
pub fn sellsy_token_url(base_url: &str, explicit: Option<&str>) -> String {
    if let Some(url) = explicit.filter(|u| !u.is_empty()) {
        return url.to_string();
    }
    hlbridge_sellsy::oauth::token_url_for(base_url)
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
        let budgets = Budgets::shared(&cfg.database_url());
        Engine::connect_with(cfg, store, budgets).await
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
        Engine::connect_clients(cfg, store, ghl_client, &location_id, sellsy_client).await
    }

    /// Connect over ready clients (stored connections): `location_id` is the GHL
    /// location `ghl_client` reaches. Reads the custom field definitions and validates
    /// the mapping as [`Engine::connect_with`] does.
    pub async fn connect_clients(
        cfg: EngineConfig,
        store: Arc<dyn StateStore>,
        ghl_client: GhlClient,
        location_id: &str,
        sellsy_client: SellsyClient,
    ) -> Result<Engine> {
        cfg.poll_interval()?;
        let location_id = location_id.to_string();
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
        let mut mapping = Mapping::build(&cfg, &ghl_defs, &sellsy_defs)?;
        // Phones without a country code: the configured region, else the location's.
        let country = match cfg.sync.default_phone_region {
            Some(_) => None,
            None => crate::phone::location_country(&ghl.client, &ghl.location_id).await,
        };
        let region = crate::phone::resolve_region(
            cfg.sync.default_phone_region.as_deref(),
            country.as_deref(),
        )
        .map_err(EngineError::Config)?;
        mapping.set_phone_region(region);
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
            cx: Ctx {
                cfg,
                ghl,
                sellsy,
                store,
                mapping,
                sellsy_embeds,
                task_label,
                link_lock: tokio::sync::Mutex::new(()),
                outbox_floor: AtomicI64::new(0),
                capped_mode: std::sync::atomic::AtomicBool::new(false),
            },
            continuous_cycles: std::sync::atomic::AtomicU64::new(0),
            confirm_deletions: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.cx.store
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cx.cfg
    }

    pub fn mapping(&self) -> &Mapping {
        &self.cx.mapping
    }

    /// One cycle of an always-on sync (what `run_continuous` runs each interval, with
    /// its per-cycle caps), for schedulers that pace cycles themselves (`serve`).
    pub async fn run_cycle(&self, progress: ProgressFn<'_>) -> Result<crate::CycleReport> {
        self.continuous_cycles.fetch_add(1, Ordering::SeqCst);
        self.run_once(false, progress).await
    }

    /// Apply the deletions the mass-deletion guard would hold (`--confirm-deletions`).
    pub fn confirm_deletions(&self, yes: bool) {
        self.confirm_deletions.store(yes, Ordering::SeqCst);
    }
}
