//! Request quotas per second, minute, day and month, like Sellsy's account quotas.
//!
//! Every `/v2` request counts against all four windows, failed ones included. A request
//! arriving while any window is spent gets a 429. Every response carries the four
//! `X-Quota-Remaining-By-*` headers.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Utc};
use serde_json::{json, Value};

use super::error::ApiError;
use super::SellsyState;

pub const HEADER_SECOND: &str = "x-quota-remaining-by-second";
pub const HEADER_MINUTE: &str = "x-quota-remaining-by-minute";
pub const HEADER_DAY: &str = "x-quota-remaining-by-day";
pub const HEADER_MONTH: &str = "x-quota-remaining-by-month";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Second,
    Minute,
    Day,
    Month,
}

impl Window {
    pub const ALL: [Window; 4] = [Window::Second, Window::Minute, Window::Day, Window::Month];

    fn name(self) -> &'static str {
        match self {
            Window::Second => "second",
            Window::Minute => "minute",
            Window::Day => "day",
            Window::Month => "month",
        }
    }

    fn header(self) -> &'static str {
        match self {
            Window::Second => HEADER_SECOND,
            Window::Minute => HEADER_MINUTE,
            Window::Day => HEADER_DAY,
            Window::Month => HEADER_MONTH,
        }
    }

    /// Which window `t` falls in; windows are aligned on the clock.
    fn slot(self, t: DateTime<Utc>) -> i64 {
        match self {
            Window::Second => t.timestamp(),
            Window::Minute => t.timestamp().div_euclid(60),
            Window::Day => t.timestamp().div_euclid(86_400),
            Window::Month => i64::from(t.year()) * 12 + i64::from(t.month0()),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    limit: u32,
    slot: i64,
    used: u32,
}

/// The four counters of the account.
#[derive(Debug)]
pub struct Quotas {
    counters: Mutex<[Counter; 4]>,
}

/// Remaining requests per window after one request, and whether it was refused.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub remaining: [u32; 4],
    pub refused_by: Option<Window>,
}

impl Quotas {
    pub fn new(second: u32, minute: u32, day: u32, month: u32) -> Self {
        let counter = |limit| Counter {
            limit,
            slot: i64::MIN,
            used: 0,
        };
        Quotas {
            counters: Mutex::new([
                counter(second),
                counter(minute),
                counter(day),
                counter(month),
            ]),
        }
    }

    /// Count one request at `now`.
    pub fn hit(&self, now: DateTime<Utc>) -> Outcome {
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let mut refused_by = None;
        for (window, counter) in Window::ALL.iter().zip(counters.iter_mut()) {
            let slot = window.slot(now);
            if counter.slot != slot {
                counter.slot = slot;
                counter.used = 0;
            }
            if counter.used >= counter.limit && refused_by.is_none() {
                refused_by = Some(*window);
            }
        }
        for counter in counters.iter_mut() {
            if counter.used < counter.limit {
                counter.used += 1;
            }
        }
        Outcome {
            remaining: counters.map(|c| c.limit.saturating_sub(c.used)),
            refused_by,
        }
    }

    /// `GET /quotas` body: `api_rate_*: {limit, used}`.
    pub fn report(&self, now: DateTime<Utc>) -> Value {
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let entry = |i: usize, window: Window| {
            let c = counters[i];
            let used = if c.slot == window.slot(now) {
                c.used
            } else {
                0
            };
            json!({ "limit": c.limit, "used": used })
        };
        json!({
            "api_rate_seconds": entry(0, Window::Second),
            "api_rate_minutes": entry(1, Window::Minute),
            "api_rate_days": entry(2, Window::Day),
            "api_rate_months": entry(3, Window::Month),
        })
    }
}

/// Middleware: count the request, refuse it when a window is spent, stamp the headers.
pub async fn enforce(
    State(state): State<Arc<SellsyState>>,
    request: Request,
    next: Next,
) -> Response {
    let outcome = state.quotas.hit(Utc::now());
    let mut response = match outcome.refused_by {
        Some(window) => {
            state.stats.record_quota_refusal();
            ApiError::quota_exceeded(window.name()).into_response()
        }
        None => next.run(request).await,
    };
    let headers = response.headers_mut();
    for (window, remaining) in Window::ALL.iter().zip(outcome.remaining) {
        headers.insert(window.header(), HeaderValue::from(remaining));
    }
    response
}
