//! How GHL answers: error bodies and rate-limit headers.

use std::collections::BTreeMap;
use std::time::Duration;

use hlbridge_core::error::{Error, RateLimitInfo};
use hlbridge_core::http::{header_u64, retry_after, Flavor};
use hlbridge_core::rate::{
    clamp_interval, clamp_limit, until_utc_midnight, Observation, RateBudget,
};
use reqwest::header::HeaderMap;
use serde_json::Value;

pub const HEADER_LIMIT_DAILY: &str = "x-ratelimit-limit-daily";
pub const HEADER_DAILY_REMAINING: &str = "x-ratelimit-daily-remaining";
pub const HEADER_INTERVAL_MS: &str = "x-ratelimit-interval-milliseconds";
pub const HEADER_MAX: &str = "x-ratelimit-max";
pub const HEADER_REMAINING: &str = "x-ratelimit-remaining";

#[derive(Debug, Default)]
pub struct GhlFlavor;

/// GHL's burst window when the response does not say (100 requests / 10 s).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// The five `X-RateLimit-*` headers of a response (and `Retry-After`), bounded: a value
/// that is not a whole non-negative number reads as absent; a window length or a limit
/// of 0 reads as absent; a window is at most [`hlbridge_core::rate::MAX_LEARNED_INTERVAL`]
/// long, its limit at most [`hlbridge_core::rate::max_learned_limit`] of it,
/// `Retry-After` at most [`hlbridge_core::rate::MAX_RETRY_AFTER`]. Counts past
/// `u64::MAX` saturate.
pub fn rate_limit_info(headers: &HeaderMap) -> RateLimitInfo {
    let interval = header_u64(headers, HEADER_INTERVAL_MS)
        .and_then(|ms| clamp_interval(Duration::from_millis(ms)));
    RateLimitInfo {
        max: header_u64(headers, HEADER_MAX)
            .and_then(|max| clamp_limit(max, interval.unwrap_or(DEFAULT_INTERVAL)))
            .map(u64::from),
        remaining: header_u64(headers, HEADER_REMAINING),
        interval,
        daily_limit: header_u64(headers, HEADER_LIMIT_DAILY),
        daily_remaining: header_u64(headers, HEADER_DAILY_REMAINING),
        retry_after: retry_after(headers),
    }
}

fn saturate_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
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
        if info.max.is_some() || info.remaining.is_some() || info.interval.is_some() {
            budget.observe(
                key,
                0,
                Observation {
                    limit: info.max.map(saturate_u32),
                    remaining: info.remaining.map(saturate_u32),
                    interval: info.interval,
                },
            );
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use hlbridge_core::rate::{
        max_learned_limit, Window, MAX_LEARNED_INTERVAL, MAX_RETRY_AFTER, MAX_WINDOW_WAIT,
    };
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(*k, v);
            }
        }
        h
    }

    #[test]
    fn absurd_headers_are_bounded_or_ignored() {
        let info = rate_limit_info(&headers(&[
            (HEADER_MAX, "4294967295"),
            (HEADER_INTERVAL_MS, "1e30"),
            (HEADER_REMAINING, "99999999999999999999999"),
            (HEADER_DAILY_REMAINING, "1e400"),
            (HEADER_LIMIT_DAILY, "-200000"),
            ("retry-after", "1e20"),
        ]));
        assert_eq!(info.interval, Some(MAX_LEARNED_INTERVAL));
        assert_eq!(
            info.max,
            Some(u64::from(max_learned_limit(MAX_LEARNED_INTERVAL)))
        );
        assert_eq!(info.remaining, Some(u64::MAX));
        assert_eq!(info.daily_remaining, None, "infinite is not a count");
        assert_eq!(info.daily_limit, None, "negative is unknown");
        assert_eq!(info.retry_after, Some(MAX_RETRY_AFTER));

        let info = rate_limit_info(&headers(&[
            (HEADER_MAX, "4294967295"),
            (HEADER_INTERVAL_MS, "0"),
            ("retry-after", "-5"),
        ]));
        assert_eq!(info.interval, None, "0 ms is unknown");
        assert_eq!(info.max, Some(100_000), "capped for the 10 s window");
        assert_eq!(info.retry_after, None);

        let info = rate_limit_info(&headers(&[
            (HEADER_MAX, "0"),
            (HEADER_REMAINING, "-3"),
            (HEADER_DAILY_REMAINING, "abc"),
            ("retry-after", "abc"),
        ]));
        assert_eq!(info, RateLimitInfo::default());
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_or_negative_max_keeps_the_default() {
        let budget = RateBudget::ghl_default();
        for max in ["0", "-1", "abc", "4294967296"] {
            GhlFlavor.observe(
                &budget,
                "k",
                &headers(&[(HEADER_MAX, max), (HEADER_REMAINING, "90")]),
            );
        }
        // 4294967296 (one past u32) is clamped, not wrapped to 0.
        assert_eq!(
            budget.windows("k"),
            vec![Window::new(100_000, DEFAULT_INTERVAL)]
        );
        let budget = RateBudget::ghl_default();
        GhlFlavor.observe(&budget, "k", &headers(&[(HEADER_MAX, "0")]));
        assert_eq!(
            budget.windows("k"),
            vec![Window::new(100, DEFAULT_INTERVAL)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_negative_daily_remaining_does_not_stop_the_day() {
        let budget = RateBudget::ghl_default();
        for v in ["-1", "-0", "0.5", "NaN"] {
            GhlFlavor.observe(&budget, "k", &headers(&[(HEADER_DAILY_REMAINING, v)]));
        }
        assert!(budget.acquire("k").await.is_ok());
        GhlFlavor.observe(&budget, "k", &headers(&[(HEADER_DAILY_REMAINING, "0")]));
        assert!(matches!(
            budget.acquire("k").await,
            Err(Error::DailyLimitReached { .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_without_retry_after_waits_for_the_burst_to_free_a_slot() {
        let budget = RateBudget::ghl_default();
        budget.acquire("k").await.unwrap();
        tokio::time::advance(Duration::from_secs(4)).await;
        let h = headers(&[
            (HEADER_MAX, "100"),
            (HEADER_REMAINING, "0"),
            (HEADER_INTERVAL_MS, "10000"),
        ]);
        GhlFlavor.observe(&budget, "k", &h);
        let pause = GhlFlavor.pause_after_429(&budget, "k", &h);
        // Our request 4 s ago is the oldest the server counted: 6 s left, not 10.
        assert!(
            pause >= Duration::from_secs(6) && pause <= Duration::from_millis(6_050),
            "{pause:?}"
        );
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn header_value() -> impl Strategy<Value = String> {
            prop_oneof![
                "[ -~]{0,40}",
                any::<i64>().prop_map(|v| v.to_string()),
                any::<u64>().prop_map(|v| v.to_string()),
                any::<u32>().prop_map(|v| v.to_string()),
                (0u32..200).prop_map(|v| v.to_string()),
                any::<f64>().prop_map(|v| v.to_string()),
                any::<f64>().prop_map(|v| format!("{v:e}")),
                "-?[0-9]{1,40}(\\.[0-9]{0,5})?([eE][-+]?[0-9]{1,4})?",
                Just("0".to_string()),
                Just("Fri, 31 Dec 9999 23:59:59 GMT".to_string()),
            ]
        }

        const NAMES: [&str; 6] = [
            HEADER_MAX,
            HEADER_REMAINING,
            HEADER_INTERVAL_MS,
            HEADER_LIMIT_DAILY,
            HEADER_DAILY_REMAINING,
            "retry-after",
        ];

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any value in any of the headers GHL's flavor reads: no panic, every
            /// number within its bound, and the budget still hands out a slot within
            /// the longest bounded wait (or stops for the day when the headers say so).
            #[test]
            fn rate_headers_never_break_the_budget(
                values in proptest::collection::vec(proptest::option::of(header_value()), 6),
            ) {
                let pairs: Vec<(&'static str, &str)> = NAMES
                    .iter()
                    .zip(&values)
                    .filter_map(|(n, v)| v.as_deref().map(|v| (*n, v)))
                    .collect();
                let h = headers(&pairs);
                let info = rate_limit_info(&h);
                if let Some(i) = info.interval {
                    prop_assert!(!i.is_zero() && i <= MAX_LEARNED_INTERVAL);
                }
                if let Some(m) = info.max {
                    let cap = max_learned_limit(info.interval.unwrap_or(DEFAULT_INTERVAL));
                    prop_assert!(m >= 1 && m <= u64::from(cap));
                }
                if let Some(r) = info.retry_after {
                    prop_assert!(r <= MAX_RETRY_AFTER);
                }
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .start_paused(true)
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let budget = RateBudget::ghl_default();
                    GhlFlavor.observe(&budget, "k", &h);
                    let pause = GhlFlavor.pause_after_429(&budget, "k", &h);
                    prop_assert!(pause <= MAX_RETRY_AFTER, "{pause:?}");
                    budget.on_rejected("k", pause);
                    let _ = GhlFlavor.parse_error(429, &h, b"{}");
                    let start = tokio::time::Instant::now();
                    match budget.acquire("k").await {
                        Ok(()) => prop_assert!(
                            start.elapsed() <= MAX_WINDOW_WAIT.max(MAX_RETRY_AFTER),
                            "{:?}", start.elapsed()
                        ),
                        Err(Error::DailyLimitReached { .. }) => {
                            let long_burst = info.remaining == Some(0)
                                && info.interval.is_some_and(|i| {
                                    i + Duration::from_millis(50) > MAX_WINDOW_WAIT
                                });
                            prop_assert!(
                                info.daily_remaining == Some(0) || long_burst,
                                "stopped without cause: {info:?}"
                            );
                        }
                        Err(e) => prop_assert!(false, "{e}"),
                    }
                    Ok(())
                })?;
            }
        }
    }
}
