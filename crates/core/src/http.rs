//! The request executor both clients share: token → rate budget → send → learn from
//! headers → classify → retry, refresh or fail.
//!
//! The token comes first (a refresh can take a while) and the budget slot is taken
//! right before the request goes out, so the budget counts sends when they happen.
//! Every attempt (a retry, the retry after a refresh) takes a slot of its own.
//!
//! What differs between GHL and Sellsy (headers to send, how errors and rate headers
//! read) is a [`Flavor`].
//!
//! Every response and retry is reported to the process's [`RequestObserver`], when one
//! is set ([`set_request_observer`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::auth::TokenManager;
use crate::error::{Error, Result};
use crate::optable::Method;
use crate::rate::{Acquired, RateBudget, Slot, MAX_RETRY_AFTER};
use crate::retry::{classify, Failure, RetryPolicy, Verdict};

mod observer;
pub use observer::{
    clear_request_observer, set_request_observer, RequestObserver, OTHER_OPERATION,
};

/// The app-specific part of talking to an API.
pub trait Flavor: Send + Sync + 'static {
    /// Read an error response into a typed error.
    fn parse_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Error;
    /// Fold a response's rate headers into the budget. Called on every response.
    fn observe(&self, budget: &RateBudget, key: &str, headers: &HeaderMap);
    /// How long to hold requests after a 429 (called after [`Flavor::observe`] has
    /// folded the 429's headers in). At most [`MAX_RETRY_AFTER`].
    fn pause_after_429(&self, budget: &RateBudget, key: &str, headers: &HeaderMap) -> Duration {
        pause_after_429(budget, key, headers)
    }
}

/// The pause after a 429: the server's `Retry-After` when it sent one; otherwise until
/// the spent windows free a slot (what the 429's own headers taught the budget);
/// otherwise the first window's length. At most [`MAX_RETRY_AFTER`].
pub fn pause_after_429(budget: &RateBudget, key: &str, headers: &HeaderMap) -> Duration {
    if let Some(after) = retry_after(headers) {
        return after;
    }
    let next = budget.next_slot_in(key);
    let pause = if next.is_zero() {
        budget.first_interval(key)
    } else {
        next
    };
    pause.min(MAX_RETRY_AFTER)
}

/// `Retry-After`, at most [`MAX_RETRY_AFTER`]: delay-seconds (fractions accepted) or an
/// HTTP-date (a date already past is zero). `None` when absent, negative or unreadable.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(raw, chrono::Utc::now())
}

/// [`retry_after`] on a header value, with `now` for HTTP-dates.
pub fn parse_retry_after(raw: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let raw = raw.trim();
    if let Some(secs) = parse_non_negative(raw) {
        return Some(if secs >= MAX_RETRY_AFTER.as_secs_f64() {
            MAX_RETRY_AFTER
        } else {
            Duration::from_secs_f64(secs)
        });
    }
    let at = parse_http_date(raw)?;
    Some(
        (at - now)
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// The three HTTP-date forms (RFC 9110 5.6.7): IMF-fixdate, RFC 850 and asctime.
fn parse_http_date(raw: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc2822(raw) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(raw, f).ok())
        .map(|t| t.and_utc())
}

/// A finite number that is not negative (`-0` included), as sent: `None` otherwise.
fn parse_non_negative(raw: &str) -> Option<f64> {
    let v = raw.parse::<f64>().ok()?;
    (v.is_finite() && !v.is_sign_negative()).then_some(v)
}

/// A count header (`X-RateLimit-Remaining`, `X-Quota-Remaining-By-Second`…): a
/// non-negative whole number, saturating at `u64::MAX` (`1e30` is `u64::MAX`). `None`
/// when absent, negative, fractional, infinite or not a number, so a broken header
/// reads as "unknown" and never as "0 left".
pub fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    parse_count(headers.get(name)?.to_str().ok()?)
}

/// [`header_u64`] on a header value.
pub fn parse_count(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    if let Ok(v) = raw.parse::<u64>() {
        return Some(v);
    }
    let v = parse_non_negative(raw)?;
    // `as` saturates: anything past u64::MAX is u64::MAX.
    (v.fract() == 0.0).then_some(v as u64)
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Payload {
    Json(serde_json::Value),
    Form(Vec<(String, String)>),
}

/// One request, ready to send.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Path (with the base URL's path prefix left out), e.g. `/contacts/abc`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Payload>,
    /// True when sending it twice does no harm (reads, PUT, DELETE, searches).
    pub safe_to_repeat: bool,
    /// Which rate allowance it spends (e.g. `ghl:<locationId>`).
    pub budget_key: String,
    /// Send without a bearer token (OAuth token endpoints).
    pub anonymous: bool,
    /// The app (`ghl`, `sellsy`) and operation id (`contacts.get-contact`) reported to
    /// the [`RequestObserver`]; set by [`crate::call::build_request`]. Without them the
    /// app is read from the budget key's prefix and the operation is
    /// [`OTHER_OPERATION`].
    pub app: Option<&'static str>,
    pub operation: Option<&'static str>,
}

impl Request {
    pub fn new(method: Method, path: impl Into<String>, budget_key: impl Into<String>) -> Self {
        Request {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            safe_to_repeat: method.is_idempotent(),
            budget_key: budget_key.into(),
            anonymous: false,
            app: None,
            operation: None,
        }
    }

    /// The app as reported to the observer.
    pub fn app_name(&self) -> &str {
        self.app
            .unwrap_or_else(|| match self.budget_key.split_once(':') {
                Some((app, _)) if !app.is_empty() => app,
                _ => "unknown",
            })
    }

    /// The operation as reported to the observer.
    pub fn operation_name(&self) -> &str {
        self.operation.unwrap_or(OTHER_OPERATION)
    }
}

/// A successful response: status, headers and the JSON body (`Null` when empty,
/// a JSON string when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
    /// The body as received (for files: recordings, downloads).
    pub raw: Vec<u8>,
}

impl Response {
    /// True when the body is JSON (or empty), false for files and text.
    pub fn is_json(&self) -> bool {
        self.raw.is_empty()
            || self
                .headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_none_or(|ct| ct.contains("json"))
    }
}

/// Counters, for metrics and for tests that must prove "zero 429s".
#[derive(Debug, Default)]
pub struct ExecutorStats {
    pub attempts: AtomicU64,
    pub responses_429: AtomicU64,
    pub responses_5xx: AtomicU64,
    pub retries: AtomicU64,
    pub reauthentications: AtomicU64,
}

impl ExecutorStats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }
}

pub struct Executor {
    http: reqwest::Client,
    base_url: String,
    flavor: Arc<dyn Flavor>,
    budget: Arc<RateBudget>,
    retry: RetryPolicy,
    auth: Option<Arc<TokenManager>>,
    timeout: Duration,
    stats: Arc<ExecutorStats>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("base_url", &self.base_url)
            .field("auth", &self.auth)
            .field("retry", &self.retry)
            .finish()
    }
}

impl Executor {
    pub fn new(
        base_url: &str,
        flavor: Arc<dyn Flavor>,
        budget: Arc<RateBudget>,
        auth: Option<Arc<TokenManager>>,
    ) -> Result<Self> {
        let parsed = url::Url::parse(base_url)
            .map_err(|e| Error::Config(format!("base URL {base_url:?} is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "base URL {base_url:?} must start with http:// or https://"
            )));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("hlbridge/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        Ok(Executor {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            flavor,
            budget,
            retry: RetryPolicy::default(),
            auth,
            timeout: Duration::from_secs(30),
            stats: Arc::new(ExecutorStats::default()),
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn budget(&self) -> &Arc<RateBudget> {
        &self.budget
    }

    pub fn auth(&self) -> Option<&Arc<TokenManager>> {
        self.auth.as_ref()
    }

    pub fn stats(&self) -> &Arc<ExecutorStats> {
        &self.stats
    }

    /// Send `req` with budget, retries and token refresh; return the 2xx response or
    /// the typed error.
    pub async fn send(&self, req: &Request) -> Result<Response> {
        let mut attempt: u32 = 0;
        let mut reauthenticated = false;
        loop {
            let (token, slot) = self.token_and_slot(req).await?;
            self.stats.attempts.fetch_add(1, Ordering::Relaxed);
            let outcome = self.send_once(req, token.as_deref(), slot).await;
            report_outcome(req, &outcome);
            let (failure, error) = match outcome {
                Ok(resp) => return Ok(resp),
                Err(Attempt { failure, error }) => (failure, error),
            };
            attempt += 1;
            let out_of_attempts = attempt >= self.retry.max_attempts;
            match classify(failure, req.safe_to_repeat) {
                Verdict::Reauthenticate if !reauthenticated => {
                    let (Some(auth), Some(token)) = (&self.auth, &token) else {
                        return Err(error);
                    };
                    match auth.refresh_after_unauthorized(token).await? {
                        Some(_) => {
                            reauthenticated = true;
                            self.stats.reauthentications.fetch_add(1, Ordering::Relaxed);
                        }
                        None => return Err(error),
                    }
                }
                Verdict::RateLimited if !out_of_attempts => {
                    // The budget already holds further requests for the server's window.
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    observer::notify(|o| o.on_retry(req.app_name(), req.operation_name()));
                }
                Verdict::Backoff if !out_of_attempts => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    observer::notify(|o| o.on_retry(req.app_name(), req.operation_name()));
                    tracing::debug!(path = %req.path, attempt, ?failure, "retrying");
                    tokio::time::sleep(self.retry.backoff(attempt - 1)).await;
                }
                _ => return Err(error),
            }
        }
    }

    /// A usable token (refreshed first if it is about to expire), then a budget slot
    /// taken now, with nothing left to await before sending. While the budget says wait,
    /// nothing is taken; the token is asked for again after the wait, so a long wait
    /// cannot hand out a token that expired meanwhile.
    async fn token_and_slot(&self, req: &Request) -> Result<(Option<String>, Slot)> {
        loop {
            let token = match (&self.auth, req.anonymous) {
                (Some(auth), false) => Some(auth.access_token().await?),
                _ => None,
            };
            match self.budget.try_take(&req.budget_key)? {
                Acquired::Taken(slot) => return Ok((token, slot)),
                Acquired::Wait(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    async fn send_once(
        &self,
        req: &Request,
        token: Option<&str>,
        slot: Slot,
    ) -> std::result::Result<Response, Attempt> {
        let url = format!("{}{}", self.base_url, req.path);
        let method = reqwest::Method::from_bytes(req.method.as_str().as_bytes())
            .unwrap_or(reqwest::Method::GET);
        let mut builder = self.http.request(method, &url).timeout(self.timeout);
        if !req.query.is_empty() {
            builder = builder.query(&req.query);
        }
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        if let Some(token) = token {
            builder = builder.bearer_auth(token);
        }
        builder = match &req.body {
            Some(Payload::Json(v)) => builder.json(v),
            Some(Payload::Form(pairs)) => builder.form(pairs),
            None => builder,
        };
        let sent = builder.send().await;
        // Answered or failed: the server counted the request by now, if at all.
        self.budget.settle(&req.budget_key, slot);
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return Err(transport_failure(e, self.timeout)),
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        self.flavor.observe(&self.budget, &req.budget_key, &headers);
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Err(transport_failure(e, self.timeout)),
        };
        if (200..300).contains(&status) {
            let body = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
                serde_json::Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                    serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
                })
            };
            return Ok(Response {
                status,
                headers,
                body,
                raw: bytes.to_vec(),
            });
        }
        if status == 429 {
            self.stats.responses_429.fetch_add(1, Ordering::Relaxed);
            let pause = self
                .flavor
                .pause_after_429(&self.budget, &req.budget_key, &headers);
            self.budget.on_rejected(&req.budget_key, pause);
        } else if status >= 500 {
            self.stats.responses_5xx.fetch_add(1, Ordering::Relaxed);
        }
        Err(Attempt {
            failure: Failure::Status(status),
            error: self.flavor.parse_error(status, &headers, &bytes),
        })
    }
}

struct Attempt {
    failure: Failure,
    error: Error,
}

/// Tell the observer what one attempt came to.
fn report_outcome(req: &Request, outcome: &std::result::Result<Response, Attempt>) {
    observer::notify(|o| {
        let (app, operation) = (req.app_name(), req.operation_name());
        o.on_sent(&req.budget_key);
        match outcome {
            Ok(resp) => o.on_response(app, operation, resp.status),
            Err(Attempt {
                failure: Failure::Status(status),
                ..
            }) => o.on_response(app, operation, *status),
            Err(_) => o.on_transport_error(app, operation),
        }
    });
}

fn transport_failure(e: reqwest::Error, timeout: Duration) -> Attempt {
    if e.is_timeout() {
        Attempt {
            failure: Failure::Timeout,
            error: Error::Timeout(timeout),
        }
    } else if e.is_connect() {
        Attempt {
            failure: Failure::Connect,
            error: Error::Network(describe_reqwest(&e)),
        }
    } else {
        Attempt {
            failure: Failure::Transport,
            error: Error::Network(describe_reqwest(&e)),
        }
    }
}

/// reqwest's message plus its source chain, with the URL's query left out (it may carry
/// identifiers users do not want in logs).
fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    if let Some(url) = e.url() {
        let mut bare = url.clone();
        bare.set_query(None);
        msg = msg.replace(url.as_str(), bare.as_str());
    }
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

#[cfg(test)]
mod tests;
