//! `hlbridge serve`: one process that receives webhooks, runs the OAuth flows, serves
//! the REST API and metrics, and runs every pair's sync.
//!
//! This crate is the HTTP layer: [`router`] assembles sign-in, access control
//! ([`access::OPEN_ROUTES`]), CSRF, the webhook inbox ([`webhooks`]), `/metrics`,
//! `/healthz` and the OpenAPI document of every `/api` handler; [`serve`] runs it
//! with graceful shutdown.

pub mod access;
pub mod admin;
pub mod api;
pub mod api_tokens;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod flows;
pub mod login;
pub mod metrics;
pub mod oauth;
mod routes;
pub mod runner;
pub mod server;
pub mod sessions;
pub mod ui;
pub mod webhooks;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub use access::{CurrentSession, Identity, OPEN_ROUTES};
pub use config::ServiceConfig;
pub use db::{Db, DbError};
pub use error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
pub use metrics::Metrics;
pub use routes::{router, spawn_housekeeping, ApiDoc};
pub use webhooks::{
    spawn_processor, EventHandler, Outcome, ProcessorHandle, ProcessorOptions, StoredEvent,
};

/// Why the service cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Config(String),
}

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ServiceConfig>,
    /// The main state database.
    pub db: Db,
    pub metrics: Metrics,
    /// Signalled when a webhook event is queued (wakes the processor).
    pub events: Arc<Notify>,
    ghl_key: Option<Arc<VerifyingKey>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Open `config.db_path` (created with mode 0600 if missing; service tables
    /// created) and check the configuration.
    pub fn new(config: ServiceConfig) -> Result<AppState, ServiceError> {
        let db = Db::open(&config.db_path)?;
        AppState::with_db(config, db)
    }

    /// Like [`AppState::new`] on a database handle already open (its service tables
    /// are created here if needed).
    pub fn with_db(config: ServiceConfig, db: Db) -> Result<AppState, ServiceError> {
        db.call_blocking(|c| db::migrate(c))?;
        let ghl_key = match config.ghl_public_key_pem.as_deref() {
            Some(pem) => Some(Arc::new(
                webhooks::parse_ghl_public_key(pem).map_err(ServiceError::Config)?,
            )),
            None => None,
        };
        Ok(AppState {
            config: Arc::new(config),
            db,
            metrics: Metrics::new(),
            events: Arc::new(Notify::new()),
            ghl_key,
        })
    }
}

/// Serve `router` on `listener` until `shutdown` completes, then let in-flight
/// requests finish. Client addresses are available to handlers as
/// `ConnectInfo<SocketAddr>` (used by the sign-in rate limit).
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
