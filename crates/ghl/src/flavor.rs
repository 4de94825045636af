//! How GHL answers: error bodies and rate-limit headers.

use std::collections::BTreeMap;
use std::time::Duration;

use hlbridge_core::error::{Error, RateLimitInfo};
use hlbridge_core::http::{header_u64, retry_after, Flavor};
use hlbridge_core::rate::{until_utc_midnight, Observation, RateBudget};
use reqwest::header::HeaderMap;
use serde_json::Value;

pub const HEADER_LIMIT_DAILY: &str = "x-ratelimit-limit-daily";
pub const HEADER_DAILY_REMAINING: &str = "x-ratelimit-daily-remaining";
pub const HEADER_INTERVAL_MS: &str = "x-ratelimit-interval-milliseconds";
pub const HEADER_MAX: &str = "x-ratelimit-max";
pub const HEADER_REMAINING: &str = "x-ratelimit-remaining";

#[derive(Debug, Default)]
pub struct GhlFlavor;

/// The five `X-RateLimit-*` headers of a response.
pub fn rate_limit_info(headers: &HeaderMap) -> RateLimitInfo {
    RateLimitInfo {
        max: header_u64(headers, HEADER_MAX),
        remaining: header_u64(headers, HEADER_REMAINING),
        interval: header_u64(headers, HEADER_INTERVAL_MS).map(Duration::from_millis),
        daily_limit: header_u64(headers, HEADER_LIMIT_DAILY),
        daily_remaining: header_u64(headers, HEADER_DAILY_REMAINING),
        retry_after: retry_after(headers),
    }
}

impl Flavor for GhlFlavor {
    fn parse_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let trace_id = json
            .get("traceId")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                headers
                    .get("x-trace-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            });
        let messages: Vec<String> = match json.get("message") {
            Some(Value::Array(items)) => items.iter().map(value_text).collect(),
            Some(v) => vec![value_text(v)],
            None if body.is_empty() => vec![format!("HTTP {status} with an empty body")],
            None => vec![String::from_utf8_lossy(body).chars().take(300).collect()],
        };
        let message = messages.join("; ");
        match status {
            401 => Error::Auth {
                status,
                message,
                trace_id,
            },
            403 => Error::Forbidden { message, trace_id },
            404 => Error::NotFound { message, trace_id },
            422 => Error::Validation {
                status,
                messages,
                fields: BTreeMap::new(),
                trace_id,
                body: Box::new(json),
            },
            400 if json.get("message").is_some_and(Value::is_array) => Error::Validation {
                status,
                messages,
                fields: BTreeMap::new(),
                trace_id,
                body: Box::new(json),
            },
            429 => Error::RateLimited {
                message,
                limits: Box::new(rate_limit_info(headers)),
            },
            500..=599 => Error::Server {
                status,
                message,
                trace_id,
            },
            _ => Error::Api {
                status,
                message,
                trace_id,
                body: Box::new(json),
            },
        }
    }

    fn observe(&self, budget: &RateBudget, key: &str, headers: &HeaderMap) {
        let info = rate_limit_info(headers);
        if info.max.is_none() && info.remaining.is_none() {
            return;
        }
        budget.observe(
            key,
            0,
            Observation {
                limit: info.max.map(|v| v as u32),
                remaining: info.remaining.map(|v| v as u32),
                interval: info.interval,
            },
        );
        if info.daily_remaining == Some(0) {
            budget.mark_exhausted(key, until_utc_midnight(), info);
        }
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
