//! GHL's rate limits: a burst window of `max` requests per `interval` and a daily cap,
//! both per (app/token, resource) key. Every response carries the five
//! `X-RateLimit-*` headers; a request over either limit gets a 429 and does not count.
//!
//! The burst window is fixed (it starts at the first request and resets `interval`
//! later), which makes `X-RateLimit-Remaining` exact and predictable for clients; the
//! daily window resets at UTC midnight.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};
use chrono::{NaiveDate, Utc};

/// The values of the five rate-limit headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateHeaders {
    pub limit_daily: u32,
    pub daily_remaining: u32,
    pub interval_ms: u64,
    pub max: u32,
    pub remaining: u32,
}

impl RateHeaders {
    pub fn apply(&self, headers: &mut HeaderMap) {
        let pairs: [(&str, String); 5] = [
            ("x-ratelimit-limit-daily", self.limit_daily.to_string()),
            (
                "x-ratelimit-daily-remaining",
                self.daily_remaining.to_string(),
            ),
            (
                "x-ratelimit-interval-milliseconds",
                self.interval_ms.to_string(),
            ),
            ("x-ratelimit-max", self.max.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
        ];
        for (name, value) in pairs {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    burst_start: Instant,
    burst_count: u32,
    day: NaiveDate,
    day_count: u32,
}

/// Settings of a [`RateLimiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSettings {
    pub max: u32,
    pub interval: Duration,
    pub daily: u32,
}

/// Keyed fixed-window limiter.
#[derive(Debug)]
pub struct RateLimiter {
    settings: Mutex<RateSettings>,
    windows: Mutex<HashMap<String, Window>>,
}

/// Outcome of [`RateLimiter::hit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub headers: RateHeaders,
}

impl RateLimiter {
    pub fn new(settings: RateSettings) -> Self {
        RateLimiter {
            settings: Mutex::new(settings),
            windows: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> RateSettings {
        self.settings.lock().map(|s| *s).unwrap_or(RateSettings {
            max: 100,
            interval: Duration::from_secs(10),
            daily: 200_000,
        })
    }

    pub fn set_settings(&self, settings: RateSettings) {
        if let Ok(mut s) = self.settings.lock() {
            *s = settings;
        }
    }

    /// Forget all windows (e.g. between test phases).
    pub fn reset(&self) {
        if let Ok(mut w) = self.windows.lock() {
            w.clear();
        }
    }

    fn fresh(now: Instant, today: NaiveDate) -> Window {
        Window {
            burst_start: now,
            burst_count: 0,
            day: today,
            day_count: 0,
        }
    }

    fn roll(window: &mut Window, settings: &RateSettings, now: Instant, today: NaiveDate) {
        if now.duration_since(window.burst_start) >= settings.interval {
            window.burst_start = now;
            window.burst_count = 0;
        }
        if window.day != today {
            window.day = today;
            window.day_count = 0;
        }
    }

    fn headers(window: &Window, settings: &RateSettings) -> RateHeaders {
        RateHeaders {
            limit_daily: settings.daily,
            daily_remaining: settings.daily.saturating_sub(window.day_count),
            interval_ms: settings.interval.as_millis().try_into().unwrap_or(u64::MAX),
            max: settings.max,
            remaining: settings.max.saturating_sub(window.burst_count),
        }
    }

    /// Count one request for `key` if both budgets allow it.
    pub fn hit(&self, key: &str) -> RateDecision {
        let settings = self.settings();
        let now = Instant::now();
        let today = Utc::now().date_naive();
        let Ok(mut windows) = self.windows.lock() else {
            let w = Self::fresh(now, today);
            return RateDecision {
                allowed: true,
                headers: Self::headers(&w, &settings),
            };
        };
        let window = windows
            .entry(key.to_string())
            .or_insert_with(|| Self::fresh(now, today));
        Self::roll(window, &settings, now, today);
        let allowed = window.burst_count < settings.max && window.day_count < settings.daily;
        if allowed {
            window.burst_count += 1;
            window.day_count += 1;
        }
        RateDecision {
            allowed,
            headers: Self::headers(window, &settings),
        }
    }

    /// The headers for `key` without counting a request.
    pub fn peek(&self, key: &str) -> RateHeaders {
        let settings = self.settings();
        let now = Instant::now();
        let today = Utc::now().date_naive();
        let mut window = self
            .windows
            .lock()
            .ok()
            .and_then(|w| w.get(key).copied())
            .unwrap_or_else(|| Self::fresh(now, today));
        Self::roll(&mut window, &settings, now, today);
        Self::headers(&window, &settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_budget_is_per_key_and_resets() {
        let limiter = RateLimiter::new(RateSettings {
            max: 2,
            interval: Duration::from_millis(50),
            daily: 10,
        });
        assert!(limiter.hit("a").allowed);
        let second = limiter.hit("a");
        assert!(second.allowed);
        assert_eq!(second.headers.remaining, 0);
        assert!(!limiter.hit("a").allowed);
        assert!(limiter.hit("b").allowed);
        std::thread::sleep(Duration::from_millis(60));
        let after = limiter.hit("a");
        assert!(after.allowed);
        assert_eq!(after.headers.daily_remaining, 7);
        assert_eq!(limiter.peek("a").remaining, 1);
    }

    #[test]
    fn daily_budget_caps() {
        let limiter = RateLimiter::new(RateSettings {
            max: 100,
            interval: Duration::from_secs(10),
            daily: 1,
        });
        assert!(limiter.hit("k").allowed);
        let refused = limiter.hit("k");
        assert!(!refused.allowed);
        assert_eq!(refused.headers.daily_remaining, 0);
    }
}
