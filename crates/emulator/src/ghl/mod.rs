//! The GoHighLevel API v2 emulator.
//!
//! A stateful, local stand-in for `https://services.leadconnectorhq.com`, faithful
//! enough for real clients (the official SDK pointed at it, spec-driven fuzzers):
//!
//! - **Routing** comes from `hlbridge_ghl::TABLE` (576 operations). Contacts, their
//!   tasks, notes, tags, campaigns, followers and workflows, the location's custom
//!   fields and OAuth are served from state, with the catalog's other categories;
//!   every other table operation is served by the [`generic`] layer (stateful
//!   collections, responses shaped by the spec's schemas), so none answers 501.
//!   Unknown paths answer NestJS's 404 `Cannot GET /x`. See [`dispatch`] for the
//!   order of checks (auth, rate limit, `Version`, validation).
//! - **Auth**: the configured private integration tokens and OAuth tokens issued by
//!   [`oauth`] (consent page at `/oauth/chooselocation`, token endpoint, rotation).
//! - **Rate limits** ([`ratelimit`]): `rate_max` per `rate_interval` and `daily_limit`
//!   per (app/token, location), with the five `X-RateLimit-*` headers on every response.
//! - **Webhooks** ([`webhooks`]): Contact/Task/Note events and `INSTALL`/`UNINSTALL`,
//!   Ed25519-signed.
//! - **Faults** ([`crate::faults`]): 429/5xx/slow/drop/expired-token/commit-drop shares.
//! - **Search lag** ([`search_index`]): search-backed reads may see writes late.
//! - **Several locations** ([`tenants`]): `GhlConfig::extra_locations` adds locations
//!   of the same company, each with its own data and private integration token;
//!   `GET /oauth/installedLocations` lists them and `POST /oauth/locationToken` mints
//!   tokens for them; the app is installed and uninstalled at runtime with `INSTALL` /
//!   `UNINSTALL` webhooks.
//! - **Control endpoints** under `/emulator/` ([`control`]): health, stats,
//!   expire-tokens, webhook key, log and signing, runtime settings, truncated listings,
//!   locations (`GET`/`POST /emulator/locations`, `DELETE /emulator/locations/{id}`).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hlbridge_emulator::ghl::{start, GhlConfig};
//! let emu = start(GhlConfig { seed_contacts: 100, ..GhlConfig::default() }, "127.0.0.1:0".parse().unwrap()).await?;
//! println!("GHL emulator at {}", emu.base_url);
//! emu.shutdown();
//! # Ok(()) }
//! ```

pub mod associations;
pub mod auth;
pub mod blogs;
pub mod businesses;
pub mod calendars;
pub mod campaigns;
pub mod companies;
pub mod consent;
pub mod contact;
pub mod contacts;
pub mod context;
pub mod control;
pub mod conversations;
pub mod crm;
pub mod custom_fields;
pub mod dispatch;
pub mod errors;
pub mod generic;
pub mod ids;
pub mod locations;
pub mod notes;
pub mod oauth;
pub mod opportunities;
pub mod ratelimit;
pub mod routes;
pub mod search;
pub mod search_index;
pub mod seed;
pub mod state;
pub mod store;
pub mod task_search;
pub mod tasks;
pub mod tenants;
pub mod users;
pub mod webhooks;
pub mod workflows;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::faults::{Fault, FaultConfig};
use errors::ApiError;
pub use state::{GhlState, StatsSnapshot};
pub use tenants::{LocationError, LocationInfo, LocationSpec};
pub use webhooks::{DeliveryStatus, WebhookRecord};

/// Settings of a GHL emulator.
#[derive(Debug, Clone)]
pub struct GhlConfig {
    /// Private integration token accepted as a Location token of `location_id` (all
    /// scopes).
    pub token: String,
    /// The primary location (seeded, named by default in the consent page's links).
    pub location_id: String,
    pub company_id: String,
    /// More locations of the same company, each with its own data and private
    /// integration token (see [`tenants`]); all start installed. Default: none.
    pub extra_locations: Vec<LocationSpec>,
    /// Private integration token accepted as an Agency token (all scopes).
    pub agency_token: Option<String>,
    /// The OAuth app's credentials.
    pub client_id: String,
    pub client_secret: String,
    /// Lifetime of issued access tokens (GHL: 86,399 s).
    pub access_token_ttl: Duration,
    /// Burst budget per `rate_interval` (GHL: 100 per 10 s).
    pub rate_max: u32,
    pub rate_interval: Duration,
    /// Daily budget (GHL: 200,000).
    pub daily_limit: u32,
    pub faults: FaultConfig,
    /// Where webhook events are POSTed; `None` = log only.
    pub webhook_url: Option<String>,
    /// The location's "Allow Duplicate Contact" setting.
    pub allow_duplicate_contacts: bool,
    /// Demo contacts to create at start (deterministic); 0 = empty location.
    pub seed_contacts: usize,
    /// Refuse a `Version` header that differs from the operation's documented value
    /// (default false: any well-formed version is served, as GHL does for the SDK's
    /// single global value; a missing or malformed header is always a 400).
    pub strict_version: bool,
    /// First wait before re-sending a webhook the receiver answered 429 to (doubles
    /// each retry; GHL waits ~10 min, the default here is 1 s).
    pub webhook_retry_base: Duration,
    /// How late search-backed reads see a contact write (GHL's search index is
    /// eventually consistent; see [`search_index`]). Zero (the default) = immediate.
    pub search_lag: Duration,
}

impl Default for GhlConfig {
    fn default() -> Self {
        GhlConfig {
            token: "pit-emulator".into(),
            location_id: "loc-emulator".into(),
            company_id: "company-emulator".into(),
            extra_locations: Vec::new(),
            agency_token: None,
            client_id: "emulatorapp000000000-client".into(),
            client_secret: "emulator-client-secret".into(),
            access_token_ttl: Duration::from_secs(86_399),
            rate_max: 100,
            rate_interval: Duration::from_secs(10),
            daily_limit: 200_000,
            faults: FaultConfig::default(),
            webhook_url: None,
            allow_duplicate_contacts: false,
            seed_contacts: 0,
            strict_version: false,
            webhook_retry_base: Duration::from_secs(1),
            search_lag: Duration::ZERO,
        }
    }
}

impl GhlConfig {
    /// Refuse location ids that repeat or are malformed, and tokens shared by two
    /// locations or by a location and the agency.
    pub fn validate(&self) -> Result<(), String> {
        let mut ids = vec![self.location_id.as_str()];
        let mut tokens = vec![(self.token.clone(), self.location_id.as_str())];
        if let Some(agency) = &self.agency_token {
            if *agency == self.token {
                return Err("agency_token must differ from token (the primary location's)".into());
            }
        }
        for spec in &self.extra_locations {
            LocationSpec::parse(&spec.id).map_err(|e| format!("extra_locations: {e}"))?;
            if ids.contains(&spec.id.as_str()) {
                return Err(format!(
                    "extra_locations: location {} is listed twice (or is the primary location)",
                    spec.id
                ));
            }
            ids.push(&spec.id);
            let token = spec.token();
            if token.is_empty() {
                return Err(format!("extra_locations: token of {} is empty", spec.id));
            }
            if self.agency_token.as_deref() == Some(token.as_str()) {
                return Err(format!(
                    "extra_locations: token of {} is the agency token; give it its own",
                    spec.id
                ));
            }
            if let Some((_, other)) = tokens.iter().find(|(t, _)| *t == token) {
                return Err(format!(
                    "extra_locations: {} and {other} have the same token; give each its own",
                    spec.id
                ));
            }
            tokens.push((token, &spec.id));
        }
        Ok(())
    }
}

/// A running emulator. Dropping it leaves the server running until the Tokio runtime
/// ends; call [`GhlEmulator::shutdown`] to stop it.
#[derive(Debug)]
pub struct GhlEmulator {
    pub addr: SocketAddr,
    /// `http://host:port`, no trailing slash.
    pub base_url: String,
    /// The Ed25519 public key (PEM) that verifies webhook `x-ghl-signature`s.
    pub public_key_pem: String,
    state: Arc<GhlState>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl GhlEmulator {
    /// Shared state: counts, contacts, stats and runtime settings.
    pub fn state(&self) -> Arc<GhlState> {
        self.state.clone()
    }

    /// Expire every OAuth access token issued so far; returns how many were live.
    pub fn expire_tokens(&self) -> usize {
        self.state.expire_tokens()
    }

    pub fn set_faults(&self, faults: FaultConfig) {
        self.state.set_faults(faults);
    }

    pub fn set_allow_duplicate_contacts(&self, allow: bool) {
        self.state.set_allow_duplicate_contacts(allow);
    }

    /// See [`GhlState::set_search_lag`].
    pub fn set_search_lag(&self, lag: Duration) {
        self.state.set_search_lag(lag);
    }

    /// See [`GhlState::set_truncate_after`].
    pub fn set_truncate_after(&self, after: Option<usize>) {
        self.state.set_truncate_after(after);
    }

    /// See [`GhlState::install_location`] (what `POST /emulator/locations` does).
    pub fn install_location(&self, spec: LocationSpec) -> Result<LocationInfo, LocationError> {
        self.state.install_location(spec)
    }

    /// See [`GhlState::uninstall_location`] (what `DELETE /emulator/locations/{id}` does).
    pub fn uninstall_location(&self, location_id: &str) -> Result<LocationInfo, LocationError> {
        self.state.uninstall_location(location_id)
    }

    /// Stop accepting connections and finish in-flight requests (in the background).
    pub fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stop and wait (at most 5 s) for the server to finish.
    pub async fn shutdown_and_wait(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let abort = self.task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

/// Bind `addr` and serve the emulator.
pub async fn start(config: GhlConfig, addr: SocketAddr) -> std::io::Result<GhlEmulator> {
    config
        .validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let state = GhlState::new(config);
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let host = if addr.is_ipv6() && !addr.ip().is_unspecified() {
        format!("[{host}]")
    } else {
        host
    };
    let base_url = format!("http://{host}:{}", addr.port());
    state.set_base_url(base_url.clone());
    let app = router(state.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            tracing::warn!("GHL emulator stopped: {e}");
        }
    });
    Ok(GhlEmulator {
        addr,
        base_url,
        public_key_pem: state.public_key_pem(),
        state,
        stop: Some(stop),
        task,
    })
}

/// Paths never faulted (control endpoints and the consent page).
fn exempt_from_faults(parts: &Parts) -> bool {
    let p = parts.uri.path();
    p.starts_with("/emulator/") || p.contains("/oauth/chooselocation")
}

/// GHL-shaped bodies for injected faults, with the caller's rate-limit headers (a
/// faulted request consumes no budget; an injected 429 reports 0 remaining).
fn fault_response(state: &GhlState, fault: &Fault, parts: &Parts) -> Response {
    let key = auth::bearer(&parts.headers)
        .and_then(|t| state.grant_for(t).map(|g| g.rate_key(t)))
        .unwrap_or_else(|| dispatch::ANONYMOUS.to_string());
    let mut headers = state.limiter.peek(&key);
    let mut response = match fault {
        Fault::TooManyRequests => {
            headers.remaining = 0;
            ApiError::RateLimited.into_response()
        }
        Fault::ExpiredToken => ApiError::InvalidToken.into_response(),
        Fault::ServerError(status) => {
            let message = match status.as_u16() {
                502 => "Bad Gateway",
                503 => "Service Unavailable",
                _ => "Internal server error",
            };
            (
                *status,
                Json(json!({"statusCode": status.as_u16(), "message": message})),
            )
                .into_response()
        }
        Fault::Slow(_) | Fault::Drop | Fault::CommitDrop => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"statusCode": 500, "message": "Internal server error"})),
        )
            .into_response(),
    };
    headers.apply(response.headers_mut());
    response
}

/// Count every response by status (outermost, so faults are counted too; a dropped
/// connection counts as status 0).
async fn count_responses(
    State(state): State<Arc<GhlState>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let dropped = response
        .headers()
        .get("x-emulator-fault")
        .is_some_and(|v| v == "drop" || v == "commit_drop");
    state.stats.record(if dropped {
        0
    } else {
        response.status().as_u16()
    });
    response
}

/// The full router over `state` (for in-process tests with `tower::ServiceExt`).
pub fn router(state: Arc<GhlState>) -> Router {
    let control = Router::new()
        .route("/emulator/health", get(control::health))
        .route("/emulator/stats", get(control::stats))
        .route("/emulator/expire-tokens", post(control::expire_tokens))
        .route("/emulator/webhook-public-key", get(control::public_key))
        .route("/emulator/webhooks", get(control::webhooks))
        .route("/emulator/webhooks/sign", post(control::sign_webhook))
        .route("/emulator/truncate", post(control::truncate))
        .route(
            "/emulator/locations",
            get(control::locations).post(control::add_location),
        )
        .route(
            "/emulator/locations/{id}",
            axum::routing::delete(control::remove_location),
        )
        .route(
            "/emulator/settings",
            get(control::settings).post(control::update_settings),
        )
        .route(
            "/emulator/reset-rate-limits",
            post(control::reset_rate_limits),
        );
    let consent = Router::new()
        .route("/oauth/chooselocation", get(oauth::choose_location))
        .route("/v2/oauth/chooselocation", get(oauth::choose_location))
        .route(
            "/oauth/chooselocation/approve",
            get(oauth::approve_get).post(oauth::approve_post),
        )
        .route(
            "/v2/oauth/chooselocation/approve",
            get(oauth::approve_get).post(oauth::approve_post),
        );
    let responder_state = state.clone();
    let injector = state
        .faults
        .clone()
        .exempt(exempt_from_faults)
        .respond_with(move |fault, parts| fault_response(&responder_state, fault, parts));
    let app = Router::new()
        .merge(control)
        .merge(consent)
        .fallback(dispatch::dispatch)
        .with_state(state.clone());
    injector
        .apply(app)
        .layer(axum::middleware::from_fn_with_state(state, count_responses))
}
