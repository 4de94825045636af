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

    fn observe(&self, budget: &RateBudget, key: &str, headers: &HeaderMap) {
        for (index, (name, interval)) in QUOTA_HEADERS.iter().enumerate() {
            let Some(remaining) = header_u64(headers, name) else {
                continue;
            };
            if index >= 2 && remaining == 0 {
                // Day or month spent: stop until it resets rather than sleeping for a day.
                budget.mark_exhausted(key, *interval, RateLimitInfo::default());
                continue;
            }
            budget.observe(
                key,
                index,
                Observation {
                    remaining: Some(remaining.min(u32::MAX as u64) as u32),
                    ..Observation::default()
                },
            );
        }
    }

    fn pause_after_429(&self, _budget: &RateBudget, _key: &str, headers: &HeaderMap) -> Duration {
        if let Some(after) = retry_after(headers) {
            return after;
        }
        // Wait for the shortest window that is spent.
        QUOTA_HEADERS
            .iter()
            .find(|(name, _)| header_u64(headers, name) == Some(0))
            .map(|(_, interval)| (*interval).min(Duration::from_secs(60)))
            .unwrap_or(Duration::from_secs(1))
    }
}
