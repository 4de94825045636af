//! `/comments`: notes on a company, individual, contact or other object. Only the
//! description and time tracking change after creation.

use std::sync::Arc;

use axum::body::Bytes;
use serde_json::{json, Map, Value};

use super::embed;
use super::error::{ApiError, Problems};
use super::filter::in_time_range;
use super::paging::{id_key, time_key, Row, SortValue};
use super::party_rules::DATE_TIME_RANGE;
use super::query::{json_body, json_body_or, QueryParams};
use super::related;
use super::respond::{self, parse_id, Reply};
use super::state::ME;
use super::store::{Record, Store};
use super::validation::Kind::*;
use super::validation::{check_object, field, nullable, required, Rule, IDS, INT, TEXT};
use super::webhooks::delivery::Change;
use super::{clock, SellsyState};

const RELATED_TYPES: &[&str] = &[
    "opportunity",
    "company",
    "individual",
    "contact",
    "item",
    "estimate",
    "creditnote",
    "order",
    "delivery",
    "proforma",
    "invoice",
    "model",
    "purchase-order",
    "purchase-delivery",
    "purchase-invoice",
    "purchase-creditnote",
    "redactor-template",
    "redactor-document",
    "campaign",
];
const RELATED_OBJECT: &[Rule] = &[field("id", INT), field("type", Enum(RELATED_TYPES))];
const TIMETRACKING: &[Rule] = &[
    required(
        "duration",
        Int {
            min: 1,
            max: i64::MAX,
        },
    ),
    required("service", INT),
];

const UPDATE: &[Rule] = &[
    field("description", TEXT),
    nullable("timetracking", Object(TIMETRACKING)),
];
const CREATE: &[Rule] = &[
    required("description", TEXT),
    field(
        "related",
        Array {
            item: &Object(RELATED_OBJECT),
            max: 1,
            unique: false,
        },
    ),
    field("parent_id", INT),
    nullable(
        "mentioned_staff_ids",
        Array {
            item: &INT,
            max: usize::MAX,
            unique: true,
        },
    ),
    field("created", DateTime),
];

const RELATED_FILTER: &[Rule] = &[field("type", TEXT), field("id", INT)];
const FILTER_FIELDS: &[Rule] = &[
    field("owners", IDS),
    field("created", Object(DATE_TIME_RANGE)),
    field("updated", Object(DATE_TIME_RANGE)),
    field("parent_id", INT),
    field(
        "related_objects",
        Array {
            item: &Object(RELATED_FILTER),
            max: usize::MAX,
            unique: false,
        },
    ),
    field("companies", IDS),
    field("individuals", IDS),
    field("contacts", IDS),
];
const FILTERS: &[Rule] = &[required("filters", Object(FILTER_FIELDS))];

const EMBEDS: &[&str] = &[
    "owner",
    "related",
    "company",
    "individual",
    "contact",
    "acl",
];
const ORDERS: &[&str] = &["id", "updated", "created"];

/// Time-tracking services, by id.
const SERVICES: &[(i64, &str)] = &[(1, "Consulting"), (2, "Support"), (3, "Training")];

fn change(record: &Record, action: &'static str) -> Change {
    let id = record.get("id").and_then(Value::as_i64).unwrap_or_default();
    Change::new(
        "comment",
        "comment",
        action,
        id,
        Value::Object(record.clone()),
    )
}

fn timetracking(value: &Value) -> Value {
    if value.is_null() {
        return Value::Null;
    }
    let service = value
        .get("service")
        .and_then(Value::as_i64)
        .unwrap_or_default();
    let name = SERVICES
        .iter()
        .find(|(id, _)| *id == service)
        .map(|(_, n)| *n);
    json!({ "duration": value.get("duration"), "service": service, "name": name })
}

fn sort_key(record: &Record, order: &str) -> SortValue {
    match order {
        "updated" | "created" => time_key(record, order),
        _ => id_key(record),
    }
}

fn matches(record: &Record, filters: &Map<String, Value>) -> bool {
    filters.iter().all(|(key, wanted)| {
        if wanted.as_array().is_some_and(Vec::is_empty) {
            return true;
        }
        match key.as_str() {
            "updated" => in_time_range(record.get("updated"), wanted),
            "parent_id" => record.get("parent_id") == Some(wanted),
            other => related::shared_filter(record, other, wanted).unwrap_or(true),
        }
    })
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
    let list = q.list(ORDERS)?;
    let embeds = q.embeds(EMBEDS, false)?;
    let fields = q.fields()?;
    let store = state.store();
    let rows = store
        .comments
        .rows
        .iter()
        .filter(|(_, c)| filters.as_ref().is_none_or(|f| matches(c, f)))
        .map(|(id, c)| Row {
            key: sort_key(c, list.order),
            id: *id,
            item: c,
        })
        .collect();
    respond::list(rows, &list, &fields, |c| {
        embed::render_activity(&store, c, &embeds)
    })
}

pub async fn get(state: Arc<SellsyState>, id: String, raw: Option<String>) -> Reply {
    let id = parse_id(&id, "Comment")?;
    let q = QueryParams::parse(raw.as_deref());
    let embeds = q.embeds(EMBEDS, false)?;
    let fields = q.fields()?;
    let store = state.store();
    let comment = store
        .comments
        .get(id)
        .ok_or_else(|| ApiError::not_found("Comment", id))?;
    respond::ok(super::projection::project(
        embed::render_activity(&store, comment, &embeds),
        &fields,
    ))
}

/// Store a new comment from a validated body; returns it.
pub fn insert(store: &mut Store, body: &Map<String, Value>) -> Record {
    let now = clock::now_string();
    let mut record = json!({
        "id": 0, "description": "", "owner": { "id": ME, "type": "staff" }, "updated": now,
        "created": now, "parent_id": null, "related": [], "company_id": null, "individual_id": null,
        "contact_id": null, "timetracking": null,
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    for key in ["description", "parent_id", "created"] {
        if let Some(v) = body.get(key) {
            record.insert(key.into(), v.clone());
        }
    }
    if let Some(t) = body.get("timetracking") {
        record.insert("timetracking".into(), timetracking(t));
    }
    if let Some(r) = body.get("related") {
        related::set(&mut record, r);
    }
    let id = store.comments.insert(record);
    store.comments.get(id).cloned().unwrap_or_default()
}

pub async fn create(state: Arc<SellsyState>, raw: Option<String>, body: Bytes) -> Reply {
    let q = QueryParams::parse(raw.as_deref());
    let verify = q.verify()?;
    let embeds = q.embeds(EMBEDS, false)?;
    let fields = q.fields()?;
    let body = json_body(&body)?;
    let object = check_object(&body, &[UPDATE, CREATE])?;
    let mut store = state.store();
    let mut problems = Problems::default();
    if object
        .get("related")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        problems.add("related", "must have exactly one item");
    }
    related::check_exists(&store, object.get("related"), &mut problems);
    if let Some(parent) = object.get("parent_id").and_then(Value::as_i64) {
        if !store.comments.contains(parent) {
            problems.add("parent_id", "no comment with this id");
        }
    }
    problems.into_result()?;
    if verify {
        return respond::no_content();
    }
    let record = insert(&mut store, object);
    state.notify(&store, change(&record, "created"));
    respond::created(super::projection::project(
        embed::render_activity(&store, &record, &embeds),
        &fields,
    ))
}

pub async fn update(
    state: Arc<SellsyState>,
    id: String,
    raw: Option<String>,
    body: Bytes,
) -> Reply {
    let id = parse_id(&id, "Comment")?;
    let q = QueryParams::parse(raw.as_deref());
    let verify = q.verify()?;
    let embeds = q.embeds(EMBEDS, false)?;
    let fields = q.fields()?;
    let body = json_body_or(&body, json!({}))?;
    let mut store = state.store();
    if !store.comments.contains(id) {
        return Err(ApiError::not_found("Comment", id));
    }
    let object = check_object(&body, &[UPDATE])?;
    if verify {
        return respond::no_content();
    }
    let Some(record) = store.comments.get_mut(id) else {
        return Err(ApiError::not_found("Comment", id));
    };
    if let Some(d) = object.get("description") {
        record.insert("description".into(), d.clone());
    }
    if let Some(t) = object.get("timetracking") {
        record.insert("timetracking".into(), timetracking(t));
    }
    record.insert("updated".into(), Value::String(clock::now_string()));
    let record = record.clone();
    state.notify(&store, change(&record, "updated"));
    respond::ok(super::projection::project(
        embed::render_activity(&store, &record, &embeds),
        &fields,
    ))
}

pub async fn delete(state: Arc<SellsyState>, id: String) -> Reply {
    let id = parse_id(&id, "Comment")?;
    let mut store = state.store();
    let record = store
        .comments
        .remove(id)
        .ok_or_else(|| ApiError::not_found("Comment", id))?;
    state.notify(&store, change(&record, "deleted"));
    respond::no_content()
}
