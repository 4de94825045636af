//! How Sellsy answers: `{error:{code,message,context,details}}` bodies and the four
//! `X-Quota-Remaining-By-*` headers.

use std::collections::BTreeMap;
use std::time::Duration;

use hlbridge_core::error::{Error, RateLimitInfo};
use hlbridge_core::http::{header_u64, retry_after, Flavor};
use hlbridge_core::rate::{Observation, RateBudget, Window};
use reqwest::header::HeaderMap;
use serde_json::Value;

/// The quota windows, in the order the budget holds them.
pub const QUOTA_HEADERS: [(&str, Duration); 4] = [
    ("x-quota-remaining-by-second", Duration::from_secs(1)),
    ("x-quota-remaining-by-minute", Duration::from_secs(60)),
    ("x-quota-remaining-by-day", Duration::from_secs(86_400)),
    (
        "x-quota-remaining-by-month",
        Duration::from_secs(30 * 86_400),
    ),
];

/// A budget with Sellsy's four windows. Sellsy publishes no numbers (they depend on the
/// plan); these defaults are conservative and [`crate::SellsyClient::learn_quotas`]
/// replaces them with the account's real limits from `GET /quotas`.
pub fn default_budget() -> RateBudget {
    RateBudget::new(vec![
        Window::new(5, QUOTA_HEADERS[0].1),
        Window::new(150, QUOTA_HEADERS[1].1),
        Window::new(50_000, QUOTA_HEADERS[2].1),
        Window::new(1_000_000, QUOTA_HEADERS[3].1),
    ])
}

#[derive(Debug, Default)]
pub struct SellsyFlavor;

impl Flavor for SellsyFlavor {
    fn parse_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let err = json.get("error").cloned().unwrap_or(Value::Null);
        let message = match &err {
            // The OAuth endpoints answer RFC 6749 errors: {"error": "invalid_grant", "error_description": "..."}.
            Value::String(code) => match json.get("error_description").and_then(Value::as_str) {
                Some(description) => format!("{code}: {description}"),
                None => code.clone(),
            },
            _ => err
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {status}")),
        };
        let context = err
            .get("context")
            .and_then(Value::as_str)
            .map(str::to_string);
        let fields: BTreeMap<String, String> = err
            .get("details")
            .and_then(Value::as_object)
            .map(|d| {
                d.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let described = match &context {
            Some(c) if !c.is_empty() => format!("{message} [{c}]"),
            _ => message.clone(),
        };
        match status {
            400 | 422 => {
                let mut messages: Vec<String> =
                    fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                if messages.is_empty() {
                    messages.push(described);
                }
                Error::Validation {
                    status,
                    messages,
                    fields,
                    trace_id: None,
                    body: Box::new(json),
                }
            }
            401 => Error::Auth {
                status,
                message: described,
                trace_id: None,
            },
            402 => Error::PlanQuota { message: described },
            403 => Error::Forbidden {
                message: described,
                trace_id: None,
            },
            404 => Error::NotFound {
                message: described,
                trace_id: None,
            },
            429 => Error::RateLimited {
                message: described,
                limits: Box::new(RateLimitInfo {
                    retry_after: retry_after(headers),
                    ..RateLimitInfo::default()
                }),
            },
            500..=599 => Error::Server {
                status,
                message: described,
                trace_id: None,
            },
            _ => Error::Api {
                status,
                message: described,
                trace_id: None,
                body: Box::new(json),
            },
        }
    }

    /// Each `X-Quota-Remaining-By-*` header read (a whole non-negative number; anything
    /// else is unknown) is folded into its window. A spent second or minute holds
    /// requests until that window frees a slot; a spent day or month makes the budget
    /// refuse at once with [`Error::DailyLimitReached`] rather than sleep (see
    /// [`hlbridge_core::rate`]). After a 429 the default pause applies: `Retry-After`
    /// (bounded), else until the spent windows free a slot, else one second.
    fn observe(&self, budget: &RateBudget, key: &str, headers: &HeaderMap) {
        for (index, (name, _)) in QUOTA_HEADERS.iter().enumerate() {
            let Some(remaining) = header_u64(headers, name) else {
                continue;
            };
            budget.observe(
                key,
                index,
                Observation {
                    remaining: Some(u32::try_from(remaining).unwrap_or(u32::MAX)),
                    ..Observation::default()
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hlbridge_core::rate::{MAX_RETRY_AFTER, MAX_WINDOW_WAIT};
    use reqwest::header::HeaderValue;
    use tokio::time::Instant;

    const NAMES: [&str; 5] = [
        QUOTA_HEADERS[0].0,
        QUOTA_HEADERS[1].0,
        QUOTA_HEADERS[2].0,
        QUOTA_HEADERS[3].0,
        "retry-after",
    ];

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(*k, v);
            }
        }
        h
    }

    fn quotas(second: &str, minute: &str, day: &str, month: &str) -> HeaderMap {
        headers(&[
            (NAMES[0], second),
            (NAMES[1], minute),
            (NAMES[2], day),
            (NAMES[3], month),
        ])
    }

    #[tokio::test(start_paused = true)]
    async fn spent_second_with_room_in_the_minute_waits_about_a_second() {
        let budget = default_budget();
        budget.acquire("k").await.unwrap();
        let h = quotas("0", "120", "40000", "900000");
        SellsyFlavor.observe(&budget, "k", &h);
        let pause = SellsyFlavor.pause_after_429(&budget, "k", &h);
        assert!(
            pause > Duration::ZERO && pause <= Duration::from_millis(1_050),
            "{pause:?}"
        );
        let start = Instant::now();
        budget.acquire("k").await.unwrap();
        assert!(start.elapsed() <= Duration::from_millis(1_050));
    }

    #[tokio::test(start_paused = true)]
    async fn spent_minute_with_learned_limits_waits_for_its_oldest_request() {
        let budget = default_budget().with_margin(Duration::ZERO);
        // What `learn_quotas` does with `GET /quotas`: 10 a minute.
        budget.observe(
            "k",
            1,
            Observation {
                limit: Some(10),
                remaining: Some(10),
                interval: None,
            },
        );
        for _ in 0..10 {
            budget.acquire("k").await.unwrap();
            tokio::time::advance(Duration::from_secs(3)).await;
        }
        // 30 s after the first request, the minute is spent.
        let h = quotas("3", "0", "40000", "900000");
        SellsyFlavor.observe(&budget, "k", &h);
        assert_eq!(
            SellsyFlavor.pause_after_429(&budget, "k", &h),
            Duration::from_secs(30),
            "until the oldest of the minute is a minute old, not a full minute"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_spent_day_or_month_stops_at_once() {
        for h in [
            quotas("4", "100", "0", "900000"),
            quotas("4", "100", "40000", "0"),
        ] {
            let budget = default_budget();
            budget.acquire("k").await.unwrap();
            SellsyFlavor.observe(&budget, "k", &h);
            let start = Instant::now();
            let err = budget.acquire("k").await.unwrap_err();
            assert!(matches!(err, Error::DailyLimitReached { .. }), "{err}");
            assert_eq!(start.elapsed(), Duration::ZERO);
            assert!(SellsyFlavor.pause_after_429(&budget, "k", &h) <= MAX_RETRY_AFTER);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn broken_quota_headers_are_unknown_not_spent() {
        let budget = default_budget();
        SellsyFlavor.observe(&budget, "k", &quotas("-5", "NaN", "-0", "0.5"));
        SellsyFlavor.observe(&budget, "k", &quotas("abc", "", "1e400", "-1e3"));
        let start = Instant::now();
        budget.acquire("k").await.unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
        // Huge counts saturate: plenty left, nothing spent.
        SellsyFlavor.observe(
            &budget,
            "k",
            &quotas(
                "1e20",
                "99999999999999999999",
                "4294967296",
                "18446744073709551615",
            ),
        );
        budget.acquire("k").await.unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
        let err = SellsyFlavor.parse_error(429, &headers(&[("retry-after", "1e20")]), b"{}");
        match err {
            Error::RateLimited { limits, .. } => {
                assert_eq!(limits.retry_after, Some(MAX_RETRY_AFTER))
            }
            other => panic!("{other}"),
        }
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn header_value() -> impl Strategy<Value = String> {
            prop_oneof![
                "[ -~]{0,40}",
                any::<i64>().prop_map(|v| v.to_string()),
                any::<u64>().prop_map(|v| v.to_string()),
                (0u32..10).prop_map(|v| v.to_string()),
                any::<f64>().prop_map(|v| v.to_string()),
                any::<f64>().prop_map(|v| format!("{v:e}")),
                "-?[0-9]{1,40}(\\.[0-9]{0,5})?([eE][-+]?[0-9]{1,4})?",
                Just("Fri, 31 Dec 9999 23:59:59 GMT".to_string()),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any value in any header the Sellsy flavor reads: no panic, a bounded
            /// pause, and a slot within the longest bounded wait, unless the day or the
            /// month was reported spent.
            #[test]
            fn quota_headers_never_break_the_budget(
                values in proptest::collection::vec(proptest::option::of(header_value()), 5),
            ) {
                let pairs: Vec<(&'static str, &str)> = NAMES
                    .iter()
                    .zip(&values)
                    .filter_map(|(n, v)| v.as_deref().map(|v| (*n, v)))
                    .collect();
                let h = headers(&pairs);
                let long_spent = QUOTA_HEADERS[2..]
                    .iter()
                    .any(|(name, _)| header_u64(&h, name) == Some(0));
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .start_paused(true)
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let budget = default_budget();
                    budget.acquire("k").await.unwrap();
                    SellsyFlavor.observe(&budget, "k", &h);
                    let pause = SellsyFlavor.pause_after_429(&budget, "k", &h);
                    prop_assert!(pause <= MAX_RETRY_AFTER, "{pause:?}");
                    budget.on_rejected("k", pause);
                    if let Error::RateLimited { limits, .. } = SellsyFlavor.parse_error(429, &h, b"{}") {
                        prop_assert!(limits.retry_after.is_none_or(|r| r <= MAX_RETRY_AFTER));
                    }
                    let start = Instant::now();
                    match budget.acquire("k").await {
                        Ok(()) => {
                            prop_assert!(!long_spent, "a spent day or month was ignored");
                            prop_assert!(
                                start.elapsed() <= MAX_WINDOW_WAIT.max(MAX_RETRY_AFTER),
                                "{:?}", start.elapsed()
                            );
                        }
                        Err(Error::DailyLimitReached { .. }) => {
                            prop_assert!(long_spent, "stopped without cause");
                            prop_assert_eq!(start.elapsed(), Duration::ZERO);
                        }
                        Err(e) => prop_assert!(false, "{e}"),
                    }
                    Ok(())
                })?;
            }
        }
    }
}
