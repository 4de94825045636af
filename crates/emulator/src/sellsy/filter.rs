//! Predicates used by the search endpoints' `filters`.

use serde_json::Value;

use super::clock;

/// `{start, end}` date-time range, both ends inclusive and optional.
pub fn in_time_range(stamp: Option<&Value>, range: &Value) -> bool {
    let Some(t) = stamp.and_then(Value::as_str).and_then(clock::epoch) else {
        return false;
    };
    let bound = |k: &str| range.get(k).and_then(Value::as_str).and_then(clock::epoch);
    bound("start").is_none_or(|s| t >= s) && bound("end").is_none_or(|e| t <= e)
}

/// `{start, end}` date range (`YYYY-MM-DD`), inclusive.
pub fn in_date_range(date: Option<&Value>, range: &Value) -> bool {
    let Some(d) = date.and_then(Value::as_str).and_then(clock::parse_date) else {
        return false;
    };
    let bound = |k: &str| {
        range
            .get(k)
            .and_then(Value::as_str)
            .and_then(clock::parse_date)
    };
    bound("start").is_none_or(|s| d >= s) && bound("end").is_none_or(|e| d <= e)
}

/// Exact match, ignoring ASCII case (e-mails, names).
pub fn same_text(value: Option<&Value>, wanted: &Value) -> bool {
    match (value.and_then(Value::as_str), wanted.as_str()) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

/// Exact match (phone numbers).
pub fn same_string(value: Option<&Value>, wanted: &Value) -> bool {
    matches!((value.and_then(Value::as_str), wanted.as_str()), (Some(a), Some(b)) if a == b)
}

/// The integers of an id-list filter.
pub fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .map(|items| items.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

/// The strings of a string-list filter (or a single string).
pub fn strings(list: &Value) -> Vec<&str> {
    match list {
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        Value::String(s) => vec![s.as_str()],
        _ => Vec::new(),
    }
}
