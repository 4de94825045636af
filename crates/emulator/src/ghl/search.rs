//! Contact listing: `POST /contacts/search`, the deprecated `GET /contacts/`, and
//! `GET /contacts/business/{businessId}`.
//!
//! Search (body `locationId`*, `pageLimit`* ≤ 500, `page` or `searchAfter`, `filters`,
//! `sort`, `query`) answers `{contacts, total, traceId}`; each contact carries
//! `searchAfter: [sort values…, id]` to copy into the next request. Reads see writes
//! through [`super::search_index`] (immediately unless a search lag is set), and stop
//! at the truncation set by `POST /emulator/truncate`. Decisions where GHL's docs are thin:
//! - the default order is `dateAdded desc`; the id always breaks ties (ascending);
//! - missing values sort last in either direction;
//! - dates sort (and appear in `searchAfter`) as epoch milliseconds, strings
//!   case-insensitively;
//! - when both `searchAfter` and `page` are sent, `searchAfter` wins;
//! - `page` paging stops at 10,000 records (400 beyond, as GHL asks for `searchAfter`).
//!
//! Filters: `{field, operator, value}` or `{group: "AND"|"OR", filters: […]}`, top-level
//! items joined by AND. Operators `eq`, `not_eq`, `contains`, `not_contains`, `exists`,
//! `not_exists`, `range` (`value: {gt|gte|lt|lte}`). String comparisons ignore case; on
//! `tags` `eq` means "has the tag" (any of them, for an array value).
//!
//! The deprecated list pages oldest first with `startAfter` (ms) + `startAfterId`,
//! `limit` ≤ 100 (default 20), and answers `{contacts, meta:{total, nextPageUrl,
//! startAfterId, startAfter, currentPage, nextPage, prevPage}}`.

use std::cmp::Ordering;
use std::time::Instant;

use chrono::{DateTime, NaiveDate};
use serde_json::{json, Value};

use super::contact::{normalize_phone, Contact, View};
use super::context::{Ctx, Reply};
use super::errors::ApiError;
use super::store::{cut_listing, Store};

/// Largest `pageLimit` of a search.
pub const MAX_PAGE_LIMIT: i64 = 500;
/// Records reachable with `page` paging.
pub const MAX_PAGED_RECORDS: i64 = 10_000;
/// Largest `limit` of the deprecated list.
pub const MAX_LIST_LIMIT: i64 = 100;
/// Longest `query` string.
pub const MAX_QUERY_LEN: usize = 75;

/// Fields filters and sorts may name (plus `customFields.{id}`).
const FIELDS: &[&str] = &[
    "id",
    "firstName",
    "firstNameLowerCase",
    "lastName",
    "lastNameLowerCase",
    "name",
    "fullNameLowerCase",
    "email",
    "phone",
    "tags",
    "dateAdded",
    "dateUpdated",
    "dateOfBirth",
    "companyName",
    "businessId",
    "address1",
    "city",
    "state",
    "country",
    "postalCode",
    "source",
    "type",
    "assignedTo",
    "dnd",
    "website",
    "timezone",
    "gender",
    "followers",
];

const OPERATORS: &[&str] = &[
    "eq",
    "not_eq",
    "contains",
    "not_contains",
    "exists",
    "not_exists",
    "range",
];

fn is_date_field(field: &str) -> bool {
    matches!(field, "dateAdded" | "dateUpdated" | "dateOfBirth")
}

/// The stored name behind an alias.
fn canonical(field: &str) -> &str {
    match field {
        "firstNameLowerCase" => "firstName",
        "lastNameLowerCase" => "lastName",
        "fullNameLowerCase" => "name",
        other => other,
    }
}

fn field_known(field: &str) -> bool {
    FIELDS.contains(&field)
        || field
            .strip_prefix("customFields.")
            .is_some_and(|id| !id.is_empty())
}

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Cond {
        field: String,
        op: String,
        value: Value,
    },
    Group {
        and: bool,
        filters: Vec<Filter>,
    },
}

fn parse_filters(value: &Value, path: &str, problems: &mut Vec<String>) -> Vec<Filter> {
    let Some(items) = value.as_array() else {
        problems.push(format!("{path} must be an array"));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let here = format!("{path}.{i}");
        let Some(obj) = item.as_object() else {
            problems.push(format!("{here} must be an object"));
            continue;
        };
        if let Some(group) = obj.get("group") {
            let and = match group.as_str().map(str::to_ascii_uppercase).as_deref() {
                Some("AND") => true,
                Some("OR") => false,
                _ => {
                    problems.push(format!(
                        "{here}.group must be one of the following values: AND, OR"
                    ));
                    continue;
                }
            };
            let inner = obj
                .get("filters")
                .cloned()
                .unwrap_or(Value::Array(Vec::new()));
            out.push(Filter::Group {
                and,
                filters: parse_filters(&inner, &format!("{here}.filters"), problems),
            });
            continue;
        }
        let field = obj.get("field").and_then(Value::as_str).unwrap_or_default();
        let op = obj
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if field.is_empty() {
            problems.push(format!("{here}.field should not be empty"));
        } else if !field_known(field) {
            problems.push(format!(
                "{here}.field {field} is not supported for filtering"
            ));
        }
        if !OPERATORS.contains(&op) {
            problems.push(format!(
                "{here}.operator must be one of the following values: {}",
                OPERATORS.join(", ")
            ));
        }
        let value = obj.get("value").cloned().unwrap_or(Value::Null);
        if value.is_null() && !matches!(op, "exists" | "not_exists") {
            problems.push(format!("{here}.value should not be empty"));
        }
        if op == "range" && !value.is_object() {
            problems.push(format!(
                "{here}.value must be an object with gt, gte, lt or lte"
            ));
        }
        out.push(Filter::Cond {
            field: field.to_string(),
            op: op.to_string(),
            value,
        });
    }
    out
}

/// A comparable value for sorting, ranges and cursors.
#[derive(Debug, Clone, PartialEq)]
enum Key {
    Num(f64),
    Str(String),
    Missing,
}

impl Key {
    fn to_json(&self) -> Value {
        match self {
            Key::Num(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => json!(*n as i64),
            Key::Num(n) => json!(n),
            Key::Str(s) => json!(s),
            Key::Missing => Value::Null,
        }
    }

    fn from_json(v: &Value) -> Key {
        match v {
            Value::Number(n) => n.as_f64().map(Key::Num).unwrap_or(Key::Missing),
            Value::String(s) => Key::Str(s.to_lowercase()),
            Value::Bool(b) => Key::Num(if *b { 1.0 } else { 0.0 }),
            _ => Key::Missing,
        }
    }

    /// Ascending order with missing values last.
    fn cmp_asc(&self, other: &Key) -> Ordering {
        match (self, other) {
            (Key::Missing, Key::Missing) => Ordering::Equal,
            (Key::Missing, _) => Ordering::Greater,
            (_, Key::Missing) => Ordering::Less,
            (Key::Num(a), Key::Num(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            (Key::Str(a), Key::Str(b)) => a.cmp(b),
            (Key::Num(_), Key::Str(_)) => Ordering::Less,
            (Key::Str(_), Key::Num(_)) => Ordering::Greater,
        }
    }
}

fn date_ms(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Some(t.timestamp_millis() as f64);
            }
            if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                return d
                    .and_hms_opt(0, 0, 0)
                    .map(|t| t.and_utc().timestamp_millis() as f64);
            }
            s.parse::<f64>().ok()
        }
        _ => None,
    }
}

fn key_of(contact: &Contact, field: &str) -> Key {
    let field = canonical(field);
    let Some(v) = contact.lookup(field) else {
        return Key::Missing;
    };
    if is_date_field(field) {
        return date_ms(&v).map(Key::Num).unwrap_or(Key::Missing);
    }
    match v {
        Value::Array(items) => items.first().map(Key::from_json).unwrap_or(Key::Missing),
        other => Key::from_json(&other),
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_lowercase()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn values_equal(field: &str, stored: &Value, wanted: &Value) -> bool {
    if field == "phone" {
        let a = stored.as_str().and_then(normalize_phone);
        let b = wanted.as_str().and_then(normalize_phone);
        return a.is_some() && a == b;
    }
    if is_date_field(field) {
        if let (Some(s), Some(w)) = (stored.as_str(), wanted.as_str()) {
            if w.len() == 10 {
                return s.starts_with(w);
            }
        }
        return date_ms(stored).is_some() && date_ms(stored) == date_ms(wanted);
    }
    match (stored, wanted) {
        (Value::Number(a), Value::String(b)) => b.parse::<f64>().ok() == a.as_f64(),
        (Value::Bool(a), Value::String(b)) => b.eq_ignore_ascii_case(&a.to_string()),
        _ => text(stored).is_some() && text(stored) == text(wanted),
    }
}

fn non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    }
}

fn cond_matches(contact: &Contact, field: &str, op: &str, wanted: &Value) -> bool {
    let field = canonical(field);
    let stored = contact.lookup(field);
    let wanted_list: Vec<&Value> = match wanted {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let eq = |stored: &Value| match stored {
        Value::Array(items) => items
            .iter()
            .any(|s| wanted_list.iter().any(|w| values_equal(field, s, w))),
        single => wanted_list.iter().any(|w| values_equal(field, single, w)),
    };
    let contains = |stored: &Value| {
        let needles: Vec<String> = wanted_list.iter().filter_map(|w| text(w)).collect();
        let hay: Vec<String> = match stored {
            Value::Array(items) => items.iter().filter_map(text).collect(),
            single => text(single).into_iter().collect(),
        };
        hay.iter()
            .any(|h| needles.iter().any(|n| h.contains(n.as_str())))
    };
    match op {
        "eq" => stored.as_ref().is_some_and(eq),
        "not_eq" => !stored.as_ref().is_some_and(eq),
        "contains" => stored.as_ref().is_some_and(contains),
        "not_contains" => !stored.as_ref().is_some_and(contains),
        "exists" => stored.as_ref().is_some_and(non_empty),
        "not_exists" => !stored.as_ref().is_some_and(non_empty),
        "range" => {
            let key = key_of(contact, field);
            if key == Key::Missing {
                return false;
            }
            let bound = |name: &str| {
                wanted.get(name).map(|v| {
                    if is_date_field(field) {
                        date_ms(v).map(Key::Num).unwrap_or(Key::Missing)
                    } else {
                        Key::from_json(v)
                    }
                })
            };
            let ok = |name: &str, accept: &[Ordering]| match bound(name) {
                None => true,
                Some(b) => accept.contains(&key.cmp_asc(&b)),
            };
            ok("gt", &[Ordering::Greater])
                && ok("gte", &[Ordering::Greater, Ordering::Equal])
                && ok("lt", &[Ordering::Less])
                && ok("lte", &[Ordering::Less, Ordering::Equal])
        }
        _ => false,
    }
}

fn matches(contact: &Contact, filter: &Filter) -> bool {
    match filter {
        Filter::Cond { field, op, value } => cond_matches(contact, field, op, value),
        Filter::Group { and: true, filters } => filters.iter().all(|f| matches(contact, f)),
        Filter::Group {
            and: false,
            filters,
        } => filters.is_empty() || filters.iter().any(|f| matches(contact, f)),
    }
}

/// Free-text match on names, email, phone and company.
fn matches_query(contact: &Contact, query: &str) -> bool {
    let q = query.trim().to_lowercase();
    if q.is_empty() {
        return true;
    }
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let mut hay: Vec<String> = ["firstName", "lastName", "email", "companyName"]
        .iter()
        .filter_map(|f| contact.str_field(f))
        .map(str::to_lowercase)
        .collect();
    if let Some(n) = contact.display_name() {
        hay.push(n.to_lowercase());
    }
    if hay.iter().any(|h| h.contains(&q)) {
        return true;
    }
    digits.len() >= 3 && contact.phone().is_some_and(|p| p.contains(&digits))
}

#[derive(Debug, Clone, PartialEq)]
struct SortSpec {
    field: String,
    desc: bool,
}

fn parse_sort(value: Option<&Value>, problems: &mut Vec<String>) -> Vec<SortSpec> {
    let Some(value) = value else {
        return vec![SortSpec {
            field: "dateAdded".into(),
            desc: true,
        }];
    };
    let Some(items) = value.as_array() else {
        problems.push("sort must be an array".into());
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = item
            .get("field")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let direction = item
            .get("direction")
            .and_then(Value::as_str)
            .unwrap_or("asc");
        if !field_known(field) {
            problems.push(format!(
                "sort.{i}.field {field} is not supported for sorting"
            ));
            continue;
        }
        let desc = match direction.to_ascii_lowercase().as_str() {
            "asc" => false,
            "desc" => true,
            _ => {
                problems.push(format!(
                    "sort.{i}.direction must be one of the following values: asc, desc"
                ));
                continue;
            }
        };
        out.push(SortSpec {
            field: field.to_string(),
            desc,
        });
    }
    if out.is_empty() && problems.is_empty() {
        out.push(SortSpec {
            field: "dateAdded".into(),
            desc: true,
        });
    }
    out
}

/// Sort keys of a contact for `sort`, then its id.
fn sort_keys(contact: &Contact, sort: &[SortSpec]) -> Vec<Key> {
    let mut keys: Vec<Key> = sort.iter().map(|s| key_of(contact, &s.field)).collect();
    keys.push(Key::Str(contact.id.clone()));
    keys
}

fn cmp_keys(a: &[Key], b: &[Key], sort: &[SortSpec]) -> Ordering {
    for (i, spec) in sort.iter().enumerate() {
        let (Some(x), Some(y)) = (a.get(i), b.get(i)) else {
            break;
        };
        let mut o = x.cmp_asc(y);
        if spec.desc && !matches!((x, y), (Key::Missing, _) | (_, Key::Missing)) {
            o = o.reverse();
        }
        if o != Ordering::Equal {
            return o;
        }
    }
    // The id tiebreak, compared case-sensitively as stored.
    match (a.get(sort.len()), b.get(sort.len())) {
        (Some(Key::Str(x)), Some(Key::Str(y))) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

fn integer(v: Option<&Value>) -> Option<i64> {
    let v = v?;
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
}

pub fn search(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let body = ctx.body_object();
    let mut problems = Vec::new();
    let page_limit = match integer(body.get("pageLimit")) {
        Some(n) if n > MAX_PAGE_LIMIT => {
            problems.push(format!(
                "pageLimit must not be greater than {MAX_PAGE_LIMIT}"
            ));
            0
        }
        Some(n) if n < 1 => {
            problems.push("pageLimit must not be less than 1".to_string());
            0
        }
        Some(n) => n,
        None => {
            problems.push("pageLimit must be an integer number".to_string());
            0
        }
    };
    let page = match body.get("page") {
        None | Some(Value::Null) => 1,
        Some(v) => match integer(Some(v)) {
            Some(n) if n >= 1 => n,
            _ => {
                problems.push("page must not be less than 1".to_string());
                1
            }
        },
    };
    let query = body
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if query.chars().count() > MAX_QUERY_LEN {
        problems.push(format!(
            "query must be shorter than or equal to {MAX_QUERY_LEN} characters"
        ));
    }
    let filters = match body.get("filters") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => parse_filters(v, "filters", &mut problems),
    };
    let sort = parse_sort(body.get("sort").filter(|v| !v.is_null()), &mut problems);
    let cursor: Option<Vec<Key>> = match body.get("searchAfter") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) if items.is_empty() => None,
        Some(Value::Array(items)) => {
            if items.len() != sort.len() + 1 {
                problems.push(format!(
                    "searchAfter must hold {} values: the sort values then the id, copied from the last contact",
                    sort.len() + 1
                ));
            }
            let last = items.len() - 1;
            Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| match v {
                        // The id compares case-sensitively; other strings as sorted.
                        Value::String(s) if i == last => Key::Str(s.clone()),
                        other => Key::from_json(other),
                    })
                    .collect(),
            )
        }
        Some(_) => {
            problems.push("searchAfter must be an array".to_string());
            None
        }
    };
    if !problems.is_empty() {
        return Err(ApiError::Unprocessable(problems));
    }
    if cursor.is_none() && page.saturating_mul(page_limit) > MAX_PAGED_RECORDS {
        return Err(ApiError::bad_request(format!(
            "page paging reaches at most {MAX_PAGED_RECORDS} records; use searchAfter to go further"
        )));
    }

    let after = store.truncate_after;
    let mut hits: Vec<(Vec<Key>, &Contact)> = store
        .search_index
        .visible(&store.contacts, Instant::now())
        .into_iter()
        .filter(|c| filters.iter().all(|f| matches(c, f)))
        .filter(|c| matches_query(c, &query))
        .map(|c| (sort_keys(c, &sort), c))
        .collect();
    hits.sort_by(|a, b| cmp_keys(&a.0, &b.0, &sort));
    cut_listing(after, &mut hits);
    let total = hits.len();
    let limit = usize::try_from(page_limit).unwrap_or(0);
    let start = match &cursor {
        Some(after) => {
            hits.partition_point(|(k, _)| cmp_keys(k, after, &sort) != Ordering::Greater)
        }
        None => usize::try_from((page - 1).saturating_mul(page_limit)).unwrap_or(usize::MAX),
    };
    let contacts: Vec<Value> = hits
        .iter()
        .skip(start)
        .take(limit)
        .map(|(keys, c)| {
            let mut v = c.render(&store.location_id, View::Listed);
            if let Value::Object(m) = &mut v {
                m.insert(
                    "searchAfter".into(),
                    Value::Array(keys.iter().map(Key::to_json).collect()),
                );
            }
            v
        })
        .collect();
    Ok(Reply::ok(ctx, json!({ "contacts": contacts, "total": total })).traced())
}

fn date_added_ms(c: &Contact) -> i64 {
    c.date_added.timestamp_millis()
}

/// `GET /contacts/` (deprecated): oldest first, `startAfter` + `startAfterId` cursor.
pub fn list(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let limit = ctx.query_number("limit", 20, 1, Some(MAX_LIST_LIMIT))?;
    let query = ctx.query("query").unwrap_or_default();
    let start_after_id = ctx.query("startAfterId");
    let start_after: Option<i64> = match ctx.query("startAfter") {
        None => None,
        Some(raw) => Some(
            raw.trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|f| f as i64)
                .ok_or_else(|| {
                    ApiError::unprocessable(
                        "startAfter must be a number conforming to the specified constraints",
                    )
                })?,
        ),
    };
    let after = store.truncate_after;
    let mut all: Vec<&Contact> = store
        .search_index
        .visible(&store.contacts, Instant::now())
        .into_iter()
        .filter(|c| matches_query(c, query))
        .collect();
    all.sort_by(|a, b| (date_added_ms(a), &a.id).cmp(&(date_added_ms(b), &b.id)));
    cut_listing(after, &mut all);
    let total = all.len();
    let anchor: Option<(i64, Option<String>)> = match (start_after, start_after_id) {
        (Some(ms), id) => Some((ms, id.map(str::to_string))),
        (None, Some(id)) => match store.contacts.get(id) {
            Some(c) => Some((date_added_ms(c), Some(id.to_string()))),
            None => {
                return Err(ApiError::bad_request(
                    "startAfterId does not match any contact",
                ))
            }
        },
        (None, None) => None,
    };
    let start = match &anchor {
        None => 0,
        Some((ms, None)) => all.partition_point(|c| date_added_ms(c) <= *ms),
        Some((ms, Some(id))) => {
            all.partition_point(|c| (date_added_ms(c), c.id.as_str()) <= (*ms, id.as_str()))
        }
    };
    let limit_usize = usize::try_from(limit).unwrap_or(20);
    let page: Vec<&Contact> = all.iter().skip(start).take(limit_usize).copied().collect();
    let current_page = start / limit_usize + 1;
    let has_more = start + page.len() < total;
    let last = page.last();
    let next_url = match (has_more, last) {
        (true, Some(c)) => {
            let mut pairs = url::form_urlencoded::Serializer::new(String::new());
            pairs.append_pair("locationId", &store.location_id);
            pairs.append_pair("limit", &limit.to_string());
            if !query.is_empty() {
                pairs.append_pair("query", query);
            }
            pairs.append_pair("startAfter", &date_added_ms(c).to_string());
            pairs.append_pair("startAfterId", &c.id);
            json!(format!("{}/contacts/?{}", ctx.base_url, pairs.finish()))
        }
        _ => Value::Null,
    };
    let contacts: Vec<Value> = page
        .iter()
        .map(|c| c.render(&store.location_id, View::Listed))
        .collect();
    let meta = json!({
        "total": total,
        "nextPageUrl": next_url,
        "startAfterId": last.map(|c| json!(c.id)).unwrap_or(Value::Null),
        "startAfter": last.map(|c| json!(date_added_ms(c))).unwrap_or(Value::Null),
        "currentPage": current_page,
        "nextPage": if has_more { json!(current_page + 1) } else { Value::Null },
        "prevPage": if current_page > 1 { json!(current_page - 1) } else { Value::Null },
    });
    Ok(Reply::ok(
        ctx,
        json!({ "contacts": contacts, "meta": meta }),
    ))
}

/// `GET /contacts/business/{businessId}`: skip/limit (strings on the wire).
pub fn by_business(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let limit = ctx.query_number("limit", 25, 1, Some(MAX_LIST_LIMIT))?;
    let skip = ctx.query_number("skip", 0, 0, None)?;
    let query = ctx.query("query").unwrap_or_default();
    let business = ctx.path("businessId");
    let after = store.truncate_after;
    let mut all: Vec<&Contact> = store
        .search_index
        .visible(&store.contacts, Instant::now())
        .into_iter()
        .filter(|c| c.business_id.as_deref() == Some(business))
        .filter(|c| matches_query(c, query))
        .collect();
    all.sort_by(|a, b| (a.date_added, &a.id).cmp(&(b.date_added, &b.id)));
    cut_listing(after, &mut all);
    let count = all.len();
    let contacts: Vec<Value> = all
        .iter()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(25))
        .map(|c| c.render(&store.location_id, View::Listed))
        .collect();
    Ok(Reply::ok(
        ctx,
        json!({ "contacts": contacts, "count": count }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ghl::contact::normalize_props;
    use chrono::Utc;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn contact(id: &str, added: &str, props: Value, tags: &[&str]) -> Contact {
        let mut c = Contact::new(id.into(), at(added));
        c.apply(&normalize_props(props.as_object().unwrap()).unwrap());
        c.tags = tags.iter().map(|t| t.to_string()).collect();
        c
    }

    fn filters(v: Value) -> Vec<Filter> {
        let mut problems = Vec::new();
        let f = parse_filters(&v, "filters", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        f
    }

    #[test]
    fn filter_operators() {
        let c = contact(
            "a",
            "2024-01-02T00:00:00Z",
            json!({"firstName": "Ada", "email": "ada@x.io", "phone": "+15550001111"}),
            &["vip", "lead"],
        );
        let yes = |v: Value| filters(v).iter().all(|f| matches(&c, f));
        assert!(yes(
            json!([{"field": "firstName", "operator": "eq", "value": "ADA"}])
        ));
        assert!(yes(
            json!([{"field": "tags", "operator": "eq", "value": "vip"}])
        ));
        assert!(yes(
            json!([{"field": "tags", "operator": "not_eq", "value": "cold"}])
        ));
        assert!(yes(
            json!([{"field": "email", "operator": "contains", "value": "@x."}])
        ));
        assert!(yes(
            json!([{"field": "companyName", "operator": "not_exists"}])
        ));
        assert!(yes(
            json!([{"field": "phone", "operator": "eq", "value": "(555) 000-1111"}])
        ));
        assert!(yes(json!([{"field": "dateAdded", "operator": "range",
            "value": {"gte": "2024-01-01T00:00:00Z", "lt": "2024-01-03"}}])));
        assert!(yes(json!([{"group": "OR", "filters": [
            {"field": "firstName", "operator": "eq", "value": "Bob"},
            {"field": "tags", "operator": "contains", "value": "vi"}]}])));
        assert!(!yes(json!([{"group": "AND", "filters": [
            {"field": "firstName", "operator": "eq", "value": "Ada"},
            {"field": "tags", "operator": "eq", "value": "cold"}]}])));
    }

    #[test]
    fn bad_filters_are_reported() {
        let mut problems = Vec::new();
        parse_filters(
            &json!([{"field": "shoeSize", "operator": "eq", "value": 1},
            {"field": "email", "operator": "like", "value": "x"}]),
            "filters",
            &mut problems,
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[1].starts_with("filters.1.operator must be one of the following values"));
    }

    #[test]
    fn ordering_puts_missing_last_and_breaks_ties_by_id() {
        let sort = vec![SortSpec {
            field: "companyName".into(),
            desc: true,
        }];
        let a = contact(
            "a",
            "2024-01-01T00:00:00Z",
            json!({"companyName": "Acme"}),
            &[],
        );
        let b = contact("b", "2024-01-01T00:00:00Z", json!({}), &[]);
        let c = contact(
            "c",
            "2024-01-01T00:00:00Z",
            json!({"companyName": "acme"}),
            &[],
        );
        let mut all = [&b, &c, &a];
        all.sort_by(|x, y| cmp_keys(&sort_keys(x, &sort), &sort_keys(y, &sort), &sort));
        let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, vec!["a", "c", "b"]);
    }
}
