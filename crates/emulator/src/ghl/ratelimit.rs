//! GHL's rate limits: a burst window of `max` requests per `interval` and a daily cap,
//! both per (app/token, resource) key. Every response carries the five
//! `X-RateLimit-*` headers; a request over either limit gets a 429 and does not count.
//!
//! The burst budget is a sliding window: a request is allowed when fewer than `max`
//! requests of the same key were allowed during the last `interval` (so no span of
//! `interval` ever holds more than `max`), and `X-RateLimit-Remaining` is what is left
//! of it right now. The daily budget resets at UTC midnight.

use std::collections::{HashMap, VecDeque};
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

#[derive(Debug, Clone)]
struct Window {
    /// When the requests still inside the burst window were allowed, oldest first.
    hits: VecDeque<Instant>,
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

    fn fresh(today: NaiveDate) -> Window {
        Window {
            hits: VecDeque::new(),
            day: today,
            day_count: 0,
        }
    }

    fn roll(window: &mut Window, settings: &RateSettings, now: Instant, today: NaiveDate) {
        while window
            .hits
            .front()
            .is_some_and(|t| now.duration_since(*t) >= settings.interval)
        {
            window.hits.pop_front();
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
            remaining: settings
                .max
                .saturating_sub(u32::try_from(window.hits.len()).unwrap_or(u32::MAX)),
        }
    }

    /// Count one request for `key` if both budgets allow it.
    pub fn hit(&self, key: &str) -> RateDecision {
        let settings = self.settings();
        let now = Instant::now();
        let today = Utc::now().date_naive();
        let Ok(mut windows) = self.windows.lock() else {
            let w = Self::fresh(today);
            return RateDecision {
                allowed: true,
                headers: Self::headers(&w, &settings),
            };
        };
        let window = windows
            .entry(key.to_string())
            .or_insert_with(|| Self::fresh(today));
        Self::roll(window, &settings, now, today);
        let in_window = u32::try_from(window.hits.len()).unwrap_or(u32::MAX);
        let allowed = in_window < settings.max && window.day_count < settings.daily;
        if allowed {
            window.hits.push_back(now);
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
            .and_then(|w| w.get(key).cloned())
            .unwrap_or_else(|| Self::fresh(today));
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
    fn the_window_slides() {
        let limiter = RateLimiter::new(RateSettings {
            max: 2,
            interval: Duration::from_millis(200),
            daily: 100,
        });
        assert!(limiter.hit("k").allowed);
        std::thread::sleep(Duration::from_millis(120));
        assert!(limiter.hit("k").allowed);
        assert!(!limiter.hit("k").allowed);
        std::thread::sleep(Duration::from_millis(100));
        // The first hit aged out, the second has not.
        assert!(limiter.hit("k").allowed);
        assert!(!limiter.hit("k").allowed);
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
