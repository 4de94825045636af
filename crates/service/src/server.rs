//! The whole `hlbridge serve` process: registry, runner, webhook processor, router.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hlbridge_accounts::{Accounts, Budgets, Registry};
use tokio::net::TcpListener;

use crate::api::{GhlApp, Lead, SellsyApp};
use crate::runner::Runner;
use crate::{AppState, ServiceConfig, ServiceError};

/// Everything `serve` is started with beyond [`ServiceConfig`].
#[derive(Clone)]
pub struct ServerOptions {
    pub service: ServiceConfig,
    pub ghl_app: Option<GhlApp>,
    pub sellsy_app: Option<SellsyApp>,
    pub budgets: Budgets,
    /// Pair cycles running at once.
    pub max_concurrent: usize,
    /// How long a shutdown waits for running cycles before dropping them.
    pub drain: Duration,
    /// Overrides every pair's poll interval (tests, `up`).
    pub interval_override: Option<Duration>,
    /// Told about every finished cycle (`serve` prints one line each).
    pub on_cycle: Option<crate::runner::CycleLog>,
    /// How often the flows' loop looks at triggers and delays (default 5 s).
    pub flow_tick: Option<Duration>,
}

/// A started server: its address, and what to await for it to end.
pub struct Started {
    pub addr: std::net::SocketAddr,
    pub lead: Arc<Lead>,
    pub state: AppState,
}

/// The key file must not be readable by others (it unseals every stored secret).
pub fn check_key_file(db_path: &std::path::Path) -> Result<(), ServiceError> {
    if std::env::var(hlbridge_core::auth::KEY_ENV).is_ok() {
        return Ok(());
    }
    let key = hlbridge_accounts::key_file_for(db_path);
    if key.exists() {
        hlbridge_core::fsutil::check_not_world_readable(&key)
            .map_err(|e| ServiceError::Config(e.to_string()))?;
    }
    Ok(())
}

/// Serve on `listener` until `shutdown`, then drain: the HTTP server finishes its
/// requests, the webhook processor its events, the runner its cycles (within
/// `drain`). `ready` is called once the server accepts connections.
pub async fn run(
    opts: ServerOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(&Started),
) -> Result<(), ServiceError> {
    check_key_file(&opts.service.db_path)?;
    let registry = Arc::new(
        Registry::open(&opts.service.db_path).map_err(|e| ServiceError::Config(e.to_string()))?,
    );
    check_key_file(&opts.service.db_path)?;
    // One budget per app for every client of this process (shared with other
    // processes when backed by the database), so the metrics can read it.
    let budgets = Budgets {
        ghl: opts
            .budgets
            .ghl
            .clone()
            .or_else(|| Some(Arc::new(hlbridge_core::rate::RateBudget::ghl_default()))),
        sellsy: opts
            .budgets
            .sellsy
            .clone()
            .or_else(|| Some(Arc::new(hlbridge_sellsy::flavor::default_budget()))),
    };
    let accounts = Accounts::new(registry, budgets);
    let state = AppState::new(opts.service.clone())?;
    state
        .db
        .call_blocking(|c| crate::admin::init_admin_from_env(c))
        .map_err(|e| ServiceError::Config(e.to_string()))?;
    let runner = Runner::with_log(
        accounts.clone(),
        opts.max_concurrent,
        opts.interval_override,
        // Each finished cycle is also kept for the activity timeline (`/ui/activity`).
        Some(crate::ui::activity::record_cycles(
            state.db.clone(),
            opts.on_cycle.clone(),
        )),
    );
    runner
        .reload()
        .map_err(|e| ServiceError::Config(e.to_string()))?;
    let public_url = opts
        .service
        .public_url
        .as_ref()
        .map(|u| u.as_str().trim_end_matches('/').to_string())
        .unwrap_or_else(|| {
            format!(
                "http://{}",
                listener
                    .local_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_default()
            )
        });
    let lead = Arc::new(Lead {
        accounts,
        runner: runner.clone(),
        ghl_app: opts.ghl_app.clone(),
        sellsy_app: opts.sellsy_app.clone(),
        public_url,
    });
    let flows = crate::flows::Flows::open(
        lead.accounts.clone(),
        &opts.service.db_path,
        opts.max_concurrent.max(2),
    )
    .map_err(ServiceError::Config)?;
    let (api, pages) = crate::api::lead_routes(lead.clone());
    let api = api.merge(crate::flows::api::routes(flows.clone()));
    let pages = pages.merge(crate::ui::pages(lead.clone(), flows.clone()));
    let router = crate::router(state.clone(), api, pages);
    let processor = crate::spawn_processor(
        &state,
        Arc::new(crate::events::Events {
            lead: lead.clone(),
            flows: Some(flows.clone()),
        }),
        crate::ProcessorOptions::default(),
    );
    let housekeeping = crate::spawn_housekeeping(&state);
    let gauges = spawn_gauges(state.clone(), lead.clone());
    let flow_loop = crate::flows::runner::spawn(
        flows.clone(),
        opts.flow_tick.unwrap_or(crate::flows::runner::TICK),
        opts.interval_override,
    );
    // Requests are counted in the metrics and, per account and UTC hour, for `/ui/budgets`.
    hlbridge_core::http::set_request_observer(crate::ui::budgets::recording(
        state.db.clone(),
        Arc::new(RequestMetrics(state.metrics.clone())),
    ));
    let addr = listener
        .local_addr()
        .map_err(|e| ServiceError::Config(e.to_string()))?;
    ready(&Started {
        addr,
        lead: lead.clone(),
        state: state.clone(),
    });
    let served = crate::serve(listener, router, shutdown).await;
    processor.shutdown().await;
    flow_loop.shutdown().await;
    runner.shutdown(opts.drain).await;
    housekeeping.abort();
    gauges.abort();
    served.map_err(|e| ServiceError::Config(format!("the server stopped: {e}")))
}

/// Every API request of this process (the pairs' syncs, the OAuth exchanges, the
/// agency's location tokens) counted in the metrics.
struct RequestMetrics(crate::Metrics);

impl hlbridge_core::http::RequestObserver for RequestMetrics {
    fn on_response(&self, app: &str, operation: &str, status: u16) {
        self.0.record_request(app, operation, status);
    }

    fn on_retry(&self, app: &str, operation: &str) {
        self.0.record_retry(app, operation);
    }
}

/// What each connected account may still send in its tightest window now.
fn budget_gauges(state: &AppState, lead: &Lead) {
    let Ok(conns) = lead.accounts.registry.list() else {
        return;
    };
    for c in conns {
        let (budget, key) = match c.app {
            hlbridge_accounts::App::Ghl if c.kind.is_location() => (
                lead.accounts.budgets.ghl.as_ref(),
                format!("ghl:{}", c.account),
            ),
            hlbridge_accounts::App::Sellsy => (
                lead.accounts.budgets.sellsy.as_ref(),
                format!("sellsy:{}", c.account),
            ),
            _ => continue,
        };
        let Some(budget) = budget else { continue };
        if let Some(left) = budget.usage(&key).iter().map(|u| u.left()).min() {
            state
                .metrics
                .set_budget_remaining(&key, i64::try_from(left).unwrap_or(i64::MAX));
        }
    }
}

/// Every 5 s: the pairs' sync lag and outbox depth, each account's budget left.
fn spawn_gauges(state: AppState, lead: Arc<Lead>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            budget_gauges(&state, &lead);
            let now = chrono::Utc::now();
            for (pair, run) in lead.runner.runs() {
                if let Some(at) = run
                    .last_finished
                    .as_deref()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                {
                    let lag = (now - at.with_timezone(&chrono::Utc)).num_milliseconds() as f64;
                    state.metrics.set_sync_lag(&pair, lag / 1000.0);
                }
                if let Ok(Some(store)) = crate::api::history::pair_store(&lead, &pair) {
                    if let Ok(counts) = store.outbox_counts() {
                        let open: u64 = counts
                            .iter()
                            .filter(|(status, _)| status.as_str() != "done")
                            .map(|(_, n)| n)
                            .sum();
                        state.metrics.set_outbox_depth(&pair, open as i64);
                    }
                }
            }
        }
    })
}
