//! The typed errors every API client returns.
//!
//! One enum for both apps: the app-specific part is only how a response body is read
//! into it (see [`crate::http::Flavor::parse_error`]).

use std::collections::BTreeMap;
use std::time::Duration;

/// What the server said about its rate limits on the response that failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitInfo {
    /// Requests allowed per burst window (`X-RateLimit-Max`).
    pub max: Option<u64>,
    /// Requests left in the burst window (`X-RateLimit-Remaining`).
    pub remaining: Option<u64>,
    /// Burst window length (`X-RateLimit-Interval-Milliseconds`).
    pub interval: Option<Duration>,
    /// Daily allowance (`X-RateLimit-Limit-Daily`).
    pub daily_limit: Option<u64>,
    /// Left today (`X-RateLimit-Daily-Remaining`).
    pub daily_remaining: Option<u64>,
    /// `Retry-After`, when the server sent one.
    pub retry_after: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 401: the token is missing, invalid, expired or lacks a scope.
    #[error("authentication failed (HTTP {status}): {message}{}", trace(trace_id))]
    Auth {
        status: u16,
        message: String,
        trace_id: Option<String>,
    },
    /// 403: authenticated but not allowed.
    #[error("forbidden (HTTP 403): {message}{}", trace(trace_id))]
    Forbidden {
        message: String,
        trace_id: Option<String>,
    },
    /// 404.
    #[error("not found (HTTP 404): {message}{}", trace(trace_id))]
    NotFound {
        message: String,
        trace_id: Option<String>,
    },
    /// 400 or 422 with field-level messages.
    #[error("validation failed (HTTP {status}): {}{}", messages.join("; "), trace(trace_id))]
    Validation {
        status: u16,
        /// GHL's `message` array, or Sellsy's `message`.
        messages: Vec<String>,
        /// Offending fields and what is wrong with each (Sellsy `details`).
        fields: BTreeMap<String, String>,
        trace_id: Option<String>,
        /// The whole error body (e.g. GHL's duplicate-contact `meta`).
        body: Box<serde_json::Value>,
    },
    /// 429 after the retries allowed were spent.
    #[error("rate limited (HTTP 429): {message}")]
    RateLimited {
        message: String,
        limits: Box<RateLimitInfo>,
    },
    /// The daily allowance is spent: nothing more is sent until it resets.
    #[error("daily request limit reached for {key}; requests resume after the daily reset")]
    DailyLimitReached {
        key: String,
        limits: Box<RateLimitInfo>,
    },
    /// Sellsy 402: the plan's quota or feature limit. Not retried.
    #[error("plan quota reached (HTTP 402): {message}")]
    PlanQuota { message: String },
    /// 5xx after the retries allowed were spent.
    #[error("server error (HTTP {status}): {message}{}", trace(trace_id))]
    Server {
        status: u16,
        message: String,
        trace_id: Option<String>,
    },
    /// Any other 4xx.
    #[error("request rejected (HTTP {status}): {message}{}", trace(trace_id))]
    Api {
        status: u16,
        message: String,
        trace_id: Option<String>,
        body: Box<serde_json::Value>,
    },
    /// The connection failed or was cut before a response arrived.
    #[error("network error: {0}")]
    Network(String),
    /// No response within the timeout.
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    /// The response was not what the API documents.
    #[error("could not decode the response: {0}")]
    Decode(String),
    /// The call was refused before sending: bad parameters, unknown operation.
    #[error("{0}")]
    InvalidInput(String),
    /// The connected token cannot call this operation.
    #[error("{0}")]
    NotPermitted(String),
    /// Configuration is missing or wrong (no token, bad URL, bad key).
    #[error("configuration error: {0}")]
    Config(String),
    /// The token store failed.
    #[error("token store error: {0}")]
    TokenStore(String),
}

fn trace(trace_id: &Option<String>) -> String {
    match trace_id {
        Some(id) => format!(" (traceId {id})"),
        None => String::new(),
    }
}

impl Error {
    /// HTTP status the error came with, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Auth { status, .. }
            | Error::Validation { status, .. }
            | Error::Server { status, .. }
            | Error::Api { status, .. } => Some(*status),
            Error::Forbidden { .. } => Some(403),
            Error::NotFound { .. } => Some(404),
            Error::RateLimited { .. } => Some(429),
            Error::PlanQuota { .. } => Some(402),
            _ => None,
        }
    }

    pub fn trace_id(&self) -> Option<&str> {
        match self {
            Error::Auth { trace_id, .. }
            | Error::Forbidden { trace_id, .. }
            | Error::NotFound { trace_id, .. }
            | Error::Validation { trace_id, .. }
            | Error::Server { trace_id, .. }
            | Error::Api { trace_id, .. } => trace_id.as_deref(),
            _ => None,
        }
    }

    /// The error body the server sent, where one was kept.
    pub fn body(&self) -> Option<&serde_json::Value> {
        match self {
            Error::Validation { body, .. } | Error::Api { body, .. } => Some(body.as_ref()),
            _ => None,
        }
    }

    /// True for errors that come from the caller's input and never from the server.
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            Error::InvalidInput(_) | Error::NotPermitted(_) | Error::Config(_)
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
