//! Request counts taken at the emulators, as differences of two stats snapshots in
//! the shape of GHL's `GET /emulator/stats` (`requests`, `rateLimited`, `byStatus`,
//! `byOperation`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// What one side answered between two snapshots.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Requests {
    pub requests: u64,
    /// 429 answers (rate limit, quota, injected).
    pub rate_limited: u64,
    pub by_status: BTreeMap<String, u64>,
    pub by_operation: BTreeMap<String, u64>,
}

fn count(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn counts(v: &Value, key: &str) -> BTreeMap<String, u64> {
    v.get(key)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

fn diff(after: BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .into_iter()
        .map(|(k, n)| {
            let d = n.saturating_sub(before.get(&k).copied().unwrap_or(0));
            (k, d)
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

impl Requests {
    /// `after - before`; `self_cost` requests (the snapshot requests themselves, when
    /// the endpoint counts them) are taken off the total.
    pub fn between(before: &Value, after: &Value, self_cost: u64) -> Requests {
        Requests {
            requests: count(after, "requests")
                .saturating_sub(count(before, "requests"))
                .saturating_sub(self_cost),
            rate_limited: count(after, "rateLimited").saturating_sub(count(before, "rateLimited")),
            by_status: diff(counts(after, "byStatus"), &counts(before, "byStatus")),
            by_operation: diff(counts(after, "byOperation"), &counts(before, "byOperation")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_drop_untouched_operations() {
        let before = json!({"requests": 10, "rateLimited": 1, "byStatus": {"200": 9, "429": 1},
                            "byOperation": {"a": 4, "b": 6}});
        let after = json!({"requests": 25, "rateLimited": 3, "byStatus": {"200": 22, "429": 3},
                           "byOperation": {"a": 4, "b": 10, "c": 11}});
        let d = Requests::between(&before, &after, 1);
        assert_eq!(d.requests, 14);
        assert_eq!(d.rate_limited, 2);
        assert_eq!(d.by_operation.get("a"), None);
        assert_eq!(d.by_operation["c"], 11);
        assert_eq!(d.by_status["200"], 13);
        assert_eq!(d.by_operation["b"], 4);
    }
}
