//! The Sellsy API v2 emulator.
//!
//! Serves the API under `/v2/...` and the OAuth server under `/oauth2/...` from one
//! listener. State lives in memory; see [`SellsyState`] for what tests can inspect.
//!
//! What it does, briefly (the spec in `shared/specs/sellsy` is the reference):
//! - `/v2` needs `Authorization: Bearer <jwt>` from the OAuth server (or
//!   [`SellsyState::mint_access_token`]); every response carries the four
//!   `X-Quota-Remaining-By-*` headers, and a spent window answers 429. Windows are aligned
//!   on the clock (second, minute, UTC day, month); requests count even when they fail.
//! - Errors use `{"error":{"code","message","context","details"}}`; `details` names each
//!   offending field (`last_name`, `filters.email`, `related[0].id`, `[2].value`).
//! - Lists page by seek token (base64 of `[sort value, id]`) unless `offset` is an
//!   integer; `limit` is 0..=100 (default 25), numeric offsets stop at 100 000.
//! - Writes that document `verify` answer 204 without saving when `verify=true`; PUT
//!   is partial; creates answer 201, deletes 204, links 201 (new) or 200 (existing).
//! - Changes to contacts (`people.*`), companies and individuals (`client|prospect|supplier.*`),
//!   tasks (`task.*`) and comments (`comment.*`) are posted to the subscribed http
//!   webhooks, signed `hex(sha1(secret + body))`, as JSON or as form `notif=<json>`.
//! - Test hooks: [`SellsyState::set_plan_quota_reached`] (writes answer 402),
//!   [`SellsyState::faults`] (fault shares at runtime), [`SellsyState::deliveries`],
//!   [`SellsyState::stats`], [`SellsyState::set_truncate_after`],
//!   [`SellsyState::sign_webhook`]; over HTTP the `/emulator/*` control endpoints
//!   (stats, truncated listings, webhook signing: see `control.rs`).
//! - Quotas: `quota_per_*` in [`SellsyConfig`]; `u32::MAX` lifts a window.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hlbridge_emulator::sellsy::{start, SellsyConfig};
//! let emulator = start(SellsyConfig::default(), "127.0.0.1:0".parse().unwrap()).await?;
//! println!("API at {}, OAuth at {}", emulator.base_url, emulator.oauth_base);
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```

mod addresses;
mod auth;
mod clock;
mod comments;
mod control;
mod custom_fields;
mod embed;
mod error;
mod filter;
mod jwt;
mod links;
mod oauth;
mod paging;
mod parties;
mod party_rules;
mod projection;
mod query;
mod quota;
mod related;
mod respond;
mod routes;
mod seed;
mod smart_tags;
mod state;
mod stats;
mod store;
mod system;
mod tasks;
mod validation;
mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use error::ApiError;
pub use state::{Delivery, SellsyState};
pub use stats::{DeliveryCounts, StatsSnapshot};
pub use store::{Owner, Record, Store};

/// How the emulator behaves.
#[derive(Debug, Clone)]
pub struct SellsyConfig {
    pub client_id: String,
    pub client_secret: String,
    /// The account id (`corpId` claim, `corpid` in webhook payloads).
    pub corp_id: i64,
    /// Lifetime of access tokens (`expires_in`).
    pub access_token_ttl: Duration,
    /// Requests per window (second, minute, UTC day, month); `u32::MAX` in practice
    /// lifts a window.
    pub quota_per_second: u32,
    pub quota_per_minute: u32,
    pub quota_per_day: u32,
    pub quota_per_month: u32,
    pub faults: crate::faults::FaultConfig,
    /// Contacts created at start (with some companies, tasks, comments), deterministically.
    pub seed_contacts: usize,
}

impl Default for SellsyConfig {
    fn default() -> Self {
        SellsyConfig {
            client_id: "sellsy-emulator-client".into(),
            client_secret: "sellsy-emulator-secret".into(),
            corp_id: 424242,
            access_token_ttl: Duration::from_secs(3600),
            quota_per_second: 20,
            quota_per_minute: 1_200,
            quota_per_day: 200_000,
            quota_per_month: 5_000_000,
            faults: crate::faults::FaultConfig::default(),
            seed_contacts: 0,
        }
    }
}

/// A running emulator.
pub struct SellsyEmulator {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:P/v2`
    pub base_url: String,
    /// `http://127.0.0.1:P/oauth2`
    pub oauth_base: String,
    state: Arc<SellsyState>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SellsyEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SellsyEmulator")
            .field("addr", &self.addr)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl SellsyEmulator {
    /// The emulator's state, for assertions.
    pub fn state(&self) -> &Arc<SellsyState> {
        &self.state
    }

    /// `http://127.0.0.1:P/oauth2/authorization`
    pub fn authorize_url(&self) -> String {
        format!("{}/authorization", self.oauth_base)
    }

    /// `http://127.0.0.1:P/oauth2/access-tokens`
    pub fn token_url(&self) -> String {
        format!("{}/access-tokens", self.oauth_base)
    }

    /// The secret that signs webhook notifications (`X-Webhook-Signature`).
    pub fn webhook_secret(&self) -> &str {
        self.state.webhook_secret()
    }

    /// Stop serving and wait for the server task to end.
    pub async fn shutdown(mut self) {
        self.stop_server().await;
    }

    async fn stop_server(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for SellsyEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Build the state (seeded) and serve it on `addr` (port 0 picks a free port).
pub async fn start(config: SellsyConfig, addr: SocketAddr) -> std::io::Result<SellsyEmulator> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let state = SellsyState::new(config);
    let app = router(state.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = served.await {
            tracing::warn!(error = %e, "sellsy emulator stopped");
        }
    });
    Ok(SellsyEmulator {
        addr,
        base_url: format!("http://{addr}/v2"),
        oauth_base: format!("http://{addr}/oauth2"),
        state,
        stop: Some(stop),
        server: Some(server),
    })
}

/// The whole app: `/v2` API (quotas, faults, bearer auth) and `/oauth2`.
pub fn router(state: Arc<SellsyState>) -> axum::Router {
    routes::app(state)
}
