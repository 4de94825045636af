//! Fault injection shared by both emulators.
//!
//! A [`FaultConfig`] gives the share (0..1) of requests that get each fault; a
//! [`FaultInjector`] is an axum middleware that draws one fault (or none) per request
//! *before* the handler runs, so a faulted request never changes the emulator's state
//! (except a slow one, which is delayed and then served normally).
//!
//! **`commit_drop` is the deliberate exception.** A write request (POST, PUT, PATCH or
//! DELETE, except a `…/search` POST, which only reads) that draws it is *served*, so
//! the write is applied (and its webhooks are emitted), and then the connection is
//! dropped without an answer: the client sees a transport error and cannot know that
//! its write landed, as when a real server commits and the network fails on the way
//! back. Reads that draw it are served normally. This is what a client's retry and
//! idempotency handling (match before create, outbox) must survive.
//!
//! The injector is app-agnostic: the caller supplies a [`FaultResponder`] that turns a
//! [`Fault`] into the app's own error body (GHL and Sellsy shape their 401/429/5xx
//! differently), and a predicate for paths that are never faulted (control endpoints).
//!
//! ```no_run
//! # use hlbridge_emulator::faults::{FaultConfig, FaultInjector};
//! let config: FaultConfig = "429=0.05,5xx=0.1,slow=0.02,slow_ms=1500,commit_drop=0.02".parse().unwrap();
//! let injector = FaultInjector::new(config).exempt(|parts| parts.uri.path().starts_with("/emulator/"));
//! let app: axum::Router = injector.apply(axum::Router::new());
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Shares of requests that get each fault. Shares are drawn exclusively (one fault at
/// most per request), so their sum must not exceed 1.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// Answer 429 as if the rate limit were exceeded.
    pub rate_429: f64,
    /// Answer 500, 502 or 503 (evenly).
    pub rate_5xx: f64,
    /// Delay the request by `slow_ms`, then serve it normally.
    pub rate_slow: f64,
    /// Delay used by `rate_slow`, in milliseconds (default 1000).
    pub slow_ms: u64,
    /// Close the connection without a complete response.
    pub rate_drop: f64,
    /// Answer 401 as if the access token had expired.
    pub rate_expired_token: f64,
    /// Serve a write, then close the connection without answering (see the module
    /// documentation: the only fault that changes state).
    pub rate_commit_drop: f64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            rate_429: 0.0,
            rate_5xx: 0.0,
            rate_slow: 0.0,
            slow_ms: 1000,
            rate_drop: 0.0,
            rate_expired_token: 0.0,
            rate_commit_drop: 0.0,
        }
    }
}

/// Why a fault specification string was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultParseError {
    #[error("fault spec item `{0}` is not of the form key=value")]
    NotKeyValue(String),
    #[error(
        "unknown fault `{0}` (expected 429, 5xx, slow, drop, expired, commit_drop or slow_ms)"
    )]
    UnknownKey(String),
    #[error("fault `{key}`: `{value}` is not a number")]
    NotANumber { key: String, value: String },
    #[error("fault `{key}`: share {value} is outside 0..1")]
    OutOfRange { key: String, value: f64 },
    #[error("fault shares add up to {0}, more than 1")]
    SumAboveOne(f64),
}

impl FaultConfig {
    /// No faults at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// True when no fault can be drawn.
    pub fn is_quiet(&self) -> bool {
        self.total() <= 0.0
    }

    fn total(&self) -> f64 {
        self.rate_429
            + self.rate_5xx
            + self.rate_slow
            + self.rate_drop
            + self.rate_expired_token
            + self.rate_commit_drop
    }

    /// Parse `429=0.05,5xx=0.1,slow=0.02,drop=0.01,expired=0.01,commit_drop=0.02,slow_ms=1500`. Items may be
    /// separated by commas or whitespace; an empty string means no faults.
    pub fn parse(spec: &str) -> Result<FaultConfig, FaultParseError> {
        let mut config = FaultConfig::default();
        for item in spec
            .split([',', ' ', '\t', '\n'])
            .filter(|s| !s.trim().is_empty())
        {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| FaultParseError::NotKeyValue(item.to_string()))?;
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            if key == "slow_ms" {
                config.slow_ms = value.parse().map_err(|_| FaultParseError::NotANumber {
                    key: key.clone(),
                    value: value.to_string(),
                })?;
                continue;
            }
            let share: f64 = value.parse().map_err(|_| FaultParseError::NotANumber {
                key: key.clone(),
                value: value.to_string(),
            })?;
            if !(0.0..=1.0).contains(&share) {
                return Err(FaultParseError::OutOfRange { key, value: share });
            }
            match key.as_str() {
                "429" => config.rate_429 = share,
                "5xx" => config.rate_5xx = share,
                "slow" => config.rate_slow = share,
                "drop" => config.rate_drop = share,
                "expired" | "expired_token" | "401" => config.rate_expired_token = share,
                "commit_drop" | "commit-drop" => config.rate_commit_drop = share,
                _ => return Err(FaultParseError::UnknownKey(key)),
            }
        }
        let total = config.total();
        if total > 1.0 + 1e-9 {
            return Err(FaultParseError::SumAboveOne(total));
        }
        Ok(config)
    }

    /// Draw the fault for one request from a uniform sample.
    pub fn draw(&self, rng: &mut impl Rng) -> Option<Fault> {
        let u: f64 = rng.gen();
        let mut edge = self.rate_429;
        if u < edge {
            return Some(Fault::TooManyRequests);
        }
        edge += self.rate_5xx;
        if u < edge {
            let status = match rng.gen_range(0..3) {
                0 => StatusCode::INTERNAL_SERVER_ERROR,
                1 => StatusCode::BAD_GATEWAY,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            return Some(Fault::ServerError(status));
        }
        edge += self.rate_slow;
        if u < edge {
            return Some(Fault::Slow(Duration::from_millis(self.slow_ms)));
        }
        edge += self.rate_drop;
        if u < edge {
            return Some(Fault::Drop);
        }
        edge += self.rate_expired_token;
        if u < edge {
            return Some(Fault::ExpiredToken);
        }
        edge += self.rate_commit_drop;
        if u < edge {
            return Some(Fault::CommitDrop);
        }
        None
    }
}

impl FromStr for FaultConfig {
    type Err = FaultParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultConfig::parse(s)
    }
}

impl fmt::Display for FaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "429={},5xx={},slow={},drop={},expired={},commit_drop={},slow_ms={}",
            self.rate_429,
            self.rate_5xx,
            self.rate_slow,
            self.rate_drop,
            self.rate_expired_token,
            self.rate_commit_drop,
            self.slow_ms
        )
    }
}

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    TooManyRequests,
    ServerError(StatusCode),
    Slow(Duration),
    Drop,
    ExpiredToken,
    /// Serve the write, then drop the connection.
    CommitDrop,
}

impl Fault {
    pub fn name(&self) -> &'static str {
        match self {
            Fault::TooManyRequests => "429",
            Fault::ServerError(_) => "5xx",
            Fault::Slow(_) => "slow",
            Fault::Drop => "drop",
            Fault::ExpiredToken => "expired",
            Fault::CommitDrop => "commit_drop",
        }
    }
}

/// Builds the app-specific response for a 429, 5xx or expired-token fault.
pub type FaultResponder = Arc<dyn Fn(&Fault, &Parts) -> Response + Send + Sync>;

type Exemption = Arc<dyn Fn(&Parts) -> bool + Send + Sync>;

/// How many faults of each kind were injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FaultCounts {
    pub too_many_requests: u64,
    pub server_error: u64,
    pub slow: u64,
    pub dropped: u64,
    pub expired_token: u64,
    /// Writes served and then left unanswered (`commit_drop`).
    pub commit_dropped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    too_many_requests: AtomicU64,
    server_error: AtomicU64,
    slow: AtomicU64,
    dropped: AtomicU64,
    expired_token: AtomicU64,
    commit_dropped: AtomicU64,
}

/// The fault-injection middleware. Cheap to clone; clones share configuration,
/// random generator and counters.
#[derive(Clone)]
pub struct FaultInjector {
    config: Arc<RwLock<FaultConfig>>,
    rng: Arc<Mutex<StdRng>>,
    responder: FaultResponder,
    exempt: Exemption,
    counters: Arc<Counters>,
}

impl fmt::Debug for FaultInjector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultInjector")
            .field("config", &self.config())
            .finish_non_exhaustive()
    }
}

impl FaultInjector {
    /// An injector with generic JSON bodies (`{"statusCode":…,"message":…}`), no exempt
    /// paths and an entropy-seeded generator.
    pub fn new(config: FaultConfig) -> Self {
        FaultInjector {
            config: Arc::new(RwLock::new(config)),
            rng: Arc::new(Mutex::new(StdRng::from_entropy())),
            responder: Arc::new(generic_response),
            exempt: Arc::new(|_| false),
            counters: Arc::new(Counters::default()),
        }
    }

    /// Use the app's own error bodies.
    pub fn respond_with(
        mut self,
        responder: impl Fn(&Fault, &Parts) -> Response + Send + Sync + 'static,
    ) -> Self {
        self.responder = Arc::new(responder);
        self
    }

    /// Never fault requests for which `predicate` is true.
    pub fn exempt(mut self, predicate: impl Fn(&Parts) -> bool + Send + Sync + 'static) -> Self {
        self.exempt = Arc::new(predicate);
        self
    }

    /// Make the draws reproducible.
    pub fn seeded(self, seed: u64) -> Self {
        self.reseed(seed);
        self
    }

    /// Restart the draws from `seed` (shared by every clone): a sequential test then
    /// sees the same faults on every run.
    pub fn reseed(&self, seed: u64) {
        if let Ok(mut rng) = self.rng.lock() {
            *rng = StdRng::seed_from_u64(seed);
        }
    }

    pub fn config(&self) -> FaultConfig {
        self.config.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// Change the shares at runtime (takes effect for the next request).
    pub fn set_config(&self, config: FaultConfig) {
        if let Ok(mut c) = self.config.write() {
            *c = config;
        }
    }

    pub fn counts(&self) -> FaultCounts {
        let c = &self.counters;
        FaultCounts {
            too_many_requests: c.too_many_requests.load(Ordering::Relaxed),
            server_error: c.server_error.load(Ordering::Relaxed),
            slow: c.slow.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            expired_token: c.expired_token.load(Ordering::Relaxed),
            commit_dropped: c.commit_dropped.load(Ordering::Relaxed),
        }
    }

    /// Wrap every route of `router` (and its fallback) with this injector.
    pub fn apply<S: Clone + Send + Sync + 'static>(self, router: Router<S>) -> Router<S> {
        router.layer(axum::middleware::from_fn_with_state(self, inject))
    }

    /// Draw the fault for one request (none for exempt requests).
    pub fn decide(&self, parts: &Parts) -> Option<Fault> {
        if (self.exempt)(parts) {
            return None;
        }
        let config = self.config();
        if config.is_quiet() {
            return None;
        }
        let mut rng = self.rng.lock().ok()?;
        config.draw(&mut *rng)
    }

    fn count(&self, fault: &Fault) {
        let c = &self.counters;
        let counter = match fault {
            Fault::TooManyRequests => &c.too_many_requests,
            Fault::ServerError(_) => &c.server_error,
            Fault::Slow(_) => &c.slow,
            Fault::Drop => &c.dropped,
            Fault::ExpiredToken => &c.expired_token,
            Fault::CommitDrop => &c.commit_dropped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The middleware function; see [`FaultInjector::apply`].
pub async fn inject(
    State(injector): State<FaultInjector>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let fault = injector.decide(&parts);
    let fault = fault.filter(|f| *f != Fault::CommitDrop || is_write(&parts));
    let Some(fault) = fault else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    injector.count(&fault);
    match fault {
        Fault::CommitDrop => {
            // Apply the write, then leave it unanswered.
            let served = next.run(Request::from_parts(parts, body)).await;
            drop(served);
            let mut response = dropped_connection();
            response
                .headers_mut()
                .insert("x-emulator-fault", HeaderValue::from_static("commit_drop"));
            response
        }
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            next.run(Request::from_parts(parts, body)).await
        }
        Fault::Drop => {
            let mut response = dropped_connection();
            response
                .headers_mut()
                .insert("x-emulator-fault", HeaderValue::from_static("drop"));
            response
        }
        other => {
            let mut response = (injector.responder)(&other, &parts);
            response
                .headers_mut()
                .insert("x-emulator-fault", HeaderValue::from_static(other.name()));
            response
        }
    }
}

/// Does this request change state? POST, PUT, PATCH and DELETE do, except a POST to a
/// path ending in `/search` (both APIs search by POST).
pub fn is_write(parts: &Parts) -> bool {
    use axum::http::Method;
    let method = &parts.method;
    let writes = [Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(method);
    let search =
        *method == Method::POST && parts.uri.path().trim_end_matches('/').ends_with("/search");
    writes && !search
}

/// A response whose body fails before its first byte, with a length that promises
/// more: hyper aborts the connection, so the client sees a transport error (connection
/// closed / incomplete message) instead of a usable response.
pub fn dropped_connection() -> Response {
    let stream = futures::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "fault injection: connection dropped",
        ))
    });
    let mut response = Response::new(Body::from_stream(stream));
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("1024"));
    response
}

/// Default bodies when the app supplies none.
pub fn generic_response(fault: &Fault, _parts: &Parts) -> Response {
    let (status, message) = match fault {
        Fault::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"),
        Fault::ServerError(status) => (*status, "Internal server error"),
        Fault::ExpiredToken => (StatusCode::UNAUTHORIZED, "Token expired"),
        Fault::Slow(_) | Fault::Drop | Fault::CommitDrop => {
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
        }
    };
    let body = serde_json::json!({"statusCode": status.as_u16(), "message": message});
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests;
