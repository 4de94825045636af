//! `/webhooks`: CRUD, search, the event catalogue, and delivery of notifications.

pub mod delivery;

use std::sync::Arc;

use axum::body::Bytes;
use serde_json::{json, Map, Value};

use super::error::{ApiError, Problems};
use super::paging::{Row, SortValue};
use super::query::{json_body, json_body_or, QueryParams};
use super::respond::{self, parse_id, Reply};
use super::store::Record;
use super::validation::Kind::*;
use super::validation::{check_object, field, nullable, Rule, TEXT};
use super::{clock, SellsyState};

/// Entities whose changes can be subscribed to, with their labels.
const ENTITIES: &[(&str, &str)] = &[
    ("people", "Contacts"),
    ("client", "Clients"),
    ("prospect", "Prospects"),
    ("supplier", "Suppliers"),
    ("task", "Tasks"),
    ("comment", "Comments"),
];
const ACTIONS: &[(&str, &str)] = &[
    ("created", "Creation"),
    ("updated", "Update"),
    ("deleted", "Deletion"),
];

const CONFIGURATION_ITEM: &[Rule] = &[
    field("id", TEXT),
    field("is_enabled", Bool),
    nullable("channel", TEXT),
];
const CONFIGURATION: super::validation::Kind = Array {
    item: &Object(CONFIGURATION_ITEM),
    max: usize::MAX,
    unique: false,
};
const EDIT: &[Rule] = &[
    field("is_enabled", Bool),
    field("endpoint", TEXT),
    nullable("default_channel", TEXT),
    field("configuration", CONFIGURATION),
];
const CREATE: &[Rule] = &[
    field("type", Enum(&["http", "slack"])),
    field("object_in_payload", Bool),
    field("json_content_type", Bool),
];
const FILTER_FIELDS: &[Rule] = &[
    field("type", Enum(&["http", "slack"])),
    field("is_enabled", Bool),
    field("endpoint", TEXT),
];
const FILTERS: &[Rule] = &[super::validation::required(
    "filters",
    Object(FILTER_FIELDS),
)];

fn known_event(id: &str) -> bool {
    id.split_once('.').is_some_and(|(e, a)| {
        ENTITIES.iter().any(|(x, _)| *x == e) && ACTIONS.iter().any(|(x, _)| *x == a)
    })
}

/// Semantic checks beyond the shape: endpoint present and usable, known event ids.
fn check_semantics(record: &Record) -> Result<(), ApiError> {
    let mut problems = Problems::default();
    let endpoint = record
        .get("endpoint")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match record.get("type").and_then(Value::as_str) {
        Some("slack") => {
            if record
                .get("default_channel")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                problems.add("default_channel", "is required for slack webhooks");
            }
            if endpoint.is_empty() {
                problems.add("endpoint", "is required");
            }
        }
        _ => {
            let usable =
                url::Url::parse(endpoint).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !usable {
                problems.add("endpoint", "must be an http(s) URL");
            }
        }
    }
    let items = record
        .get("configuration")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, item) in items.iter().enumerate() {
        let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
        if !known_event(id) {
            problems.add(
                format!("configuration[{i}].id"),
                "unknown event id (see GET /webhooks/events)",
            );
        }
    }
    problems.into_result()
}

fn normalised_configuration(value: &Value) -> Value {
    let items = value.as_array().cloned().unwrap_or_default();
    Value::Array(
        items
            .into_iter()
            .map(|item| {
                json!({
                    "id": item.get("id").cloned().unwrap_or(Value::Null),
                    "is_enabled": item.get("is_enabled").cloned().unwrap_or(Value::Bool(true)),
                    "channel": item.get("channel").cloned().unwrap_or(Value::Null),
                })
            })
            .collect(),
    )
}

fn apply(body: &Map<String, Value>, record: &mut Record, rules: &[&[Rule]]) {
    for rule in rules.iter().flat_map(|r| r.iter()) {
        if let Some(v) = body.get(rule.name) {
            let v = if rule.name == "configuration" {
                normalised_configuration(v)
            } else {
                v.clone()
            };
            record.insert(rule.name.into(), v);
        }
    }
}

pub async fn list(state: Arc<SellsyState>, raw: Option<String>) -> Reply {
    rows(&state, raw, None)
}

pub async fn search(state: Arc<SellsyState>, raw: Option<String>, body: Bytes) -> Reply {
    let body = json_body_or(&body, json!({ "filters": {} }))?;
    let object = check_object(&body, &[FILTERS])?;
    let filters = object
        .get("filters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    rows(&state, raw, Some(filters))
}

fn rows(state: &SellsyState, raw: Option<String>, filters: Option<Map<String, Value>>) -> Reply {
    let q = QueryParams::parse(raw.as_deref());
    let list = q.list(&["id"])?;
    let fields = q.fields()?;
    let store = state.store();
    let rows = store
        .webhooks
        .rows
        .iter()
        .filter(|(_, hook)| {
            filters
                .as_ref()
                .is_none_or(|f| f.iter().all(|(k, want)| hook.get(k.as_str()) == Some(want)))
        })
        .map(|(id, hook)| Row {
            key: SortValue::Int(*id),
            id: *id,
            item: hook,
        })
        .collect();
    respond::list(rows, &list, &fields, |hook| Value::Object(hook.clone()))
}

pub async fn create(state: Arc<SellsyState>, raw: Option<String>, body: Bytes) -> Reply {
    let q = QueryParams::parse(raw.as_deref());
    let fields = q.fields()?;
    let verify = q.verify()?;
    let body = json_body(&body)?;
    let object = check_object(&body, &[EDIT, CREATE])?;
    let now = clock::now_string();
    let mut record: Record = match json!({
        "id": 0, "type": "http", "is_enabled": true, "endpoint": "", "default_channel": null,
        "created": now, "updated": null, "last_succeeded": null, "last_failed": null,
        "nb_failures": 0, "configuration": [], "object_in_payload": false, "json_content_type": false,
    }) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    apply(object, &mut record, &[EDIT, CREATE]);
    check_semantics(&record)?;
    if verify {
        return respond::no_content();
    }
    let mut store = state.store();
    let id = store.webhooks.insert(record);
    let record = store.webhooks.get(id).cloned().unwrap_or_default();
    respond::created(super::projection::project(Value::Object(record), &fields))
}

pub async fn get(state: Arc<SellsyState>, id: String) -> Reply {
    let id = parse_id(&id, "Webhook")?;
    let store = state.store();
    let hook = store
        .webhooks
        .get(id)
        .ok_or_else(|| ApiError::not_found("Webhook", id))?;
    respond::ok(Value::Object(hook.clone()))
}

pub async fn update(
    state: Arc<SellsyState>,
    id: String,
    raw: Option<String>,
    body: Bytes,
) -> Reply {
    let id = parse_id(&id, "Webhook")?;
    let verify = QueryParams::parse(raw.as_deref()).verify()?;
    let body = json_body_or(&body, json!({}))?;
    let mut store = state.store();
    let hook = store
        .webhooks
        .get_mut(id)
        .ok_or_else(|| ApiError::not_found("Webhook", id))?;
    let object = check_object(&body, &[EDIT])?;
    let mut updated = hook.clone();
    apply(object, &mut updated, &[EDIT]);
    check_semantics(&updated)?;
    if verify {
        return respond::no_content();
    }
    updated.insert("updated".into(), Value::String(clock::now_string()));
    *hook = updated.clone();
    respond::ok(Value::Object(updated))
}

pub async fn delete(state: Arc<SellsyState>, id: String) -> Reply {
    let id = parse_id(&id, "Webhook")?;
    let mut store = state.store();
    store
        .webhooks
        .remove(id)
        .ok_or_else(|| ApiError::not_found("Webhook", id))?;
    respond::no_content()
}

/// `GET /webhooks/events`.
pub async fn events() -> Reply {
    let events: Map<String, Value> = ACTIONS
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let list: Vec<Value> = ENTITIES
        .iter()
        .map(|(id, label)| json!({ "id": id, "description": label, "events": events, "parent": null }))
        .collect();
    respond::ok(Value::Array(list))
}
