//! `/tasks` and `/tasks/labels`. Creating a task needs a `label_id`, a `due_date` and
//! its `related` object.

use std::sync::Arc;

use axum::body::Bytes;
use serde_json::{json, Map, Value};

use super::embed;
use super::error::{ApiError, Problems};
use super::filter::{ids, in_time_range, strings};
use super::paging::{id_key, time_key, Row, SortValue};
use super::party_rules::DATE_TIME_RANGE;
use super::query::{json_body, json_body_or, QueryParams};
use super::related;
use super::respond::{self, parse_id, Reply};
use super::state::ME;
use super::store::Pointer;
use super::store::{Record, Store};
use super::validation::Kind::{self, *};
use super::validation::{check_object, field, nullable, required, Rule, ID, IDS, INT, TEXT};
use super::webhooks::delivery::Change;
use super::{clock, SellsyState};

const RELATED_TYPES: &[&str] = &[
    "opportunity",
    "company",
    "individual",
    "contact",
    "estimate",
    "invoice",
    "creditnote",
    "order",
];
const RELATED_OBJECT: &[Rule] = &[required("id", INT), required("type", Enum(RELATED_TYPES))];
const RELATED: Kind = Array {
    item: &Object(RELATED_OBJECT),
    max: 1,
    unique: false,
};
const PRIORITY: Kind = Int { min: 0, max: 1 };

const UPDATE: &[Rule] = &[
    nullable("title", TEXT),
    nullable("description", TEXT),
    field("is_private", Bool),
    field("due_date", DateTime),
    field("status", Enum(&["todo", "done"])),
    nullable("assigned_staff_ids", IDS),
    field("label_id", INT),
    field("related", RELATED),
    field("owner_id", ID),
    field("priority", PRIORITY),
];
const CREATE: &[Rule] = &[
    required("label_id", INT),
    required("due_date", DateTime),
    required("related", RELATED),
    field("created", DateTime),
];

const PRIORITY_RANGE: &[Rule] = &[field("min", PRIORITY), field("max", PRIORITY)];
const RELATED_FILTER: &[Rule] = &[field("type", TEXT), field("id", INT)];
const FILTER_FIELDS: &[Rule] = &[
    field("created", Object(DATE_TIME_RANGE)),
    field("due_date", Object(DATE_TIME_RANGE)),
    field("owners", IDS),
    field("assigned_staffs", IDS),
    field(
        "statuses",
        Array {
            item: &Enum(&["todo", "done"]),
            max: usize::MAX,
            unique: false,
        },
    ),
    field("labels", IDS),
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
    field("priority", Object(PRIORITY_RANGE)),
];
const FILTERS: &[Rule] = &[required("filters", Object(FILTER_FIELDS))];

const EMBEDS: &[&str] = &[
    "owner",
    "assigned_staffs",
    "related",
    "company",
    "individual",
    "contact",
    "acl",
];

/// The labels every emulator starts with.
pub fn seed_labels(store: &mut Store) {
    for (rank, (name, color)) in [
        ("Call", "#f7dcf5"),
        ("Meeting", "#dcebf7"),
        ("Follow-up", "#e3f7dc"),
        ("Reminder", "#f7efdc"),
    ]
    .into_iter()
    .enumerate()
    {
        let label =
            json!({ "id": 0, "name": name, "color": color, "is_active": true, "rank": rank + 1 });
        store
            .task_labels
            .insert(label.as_object().cloned().unwrap_or_default());
    }
}

fn change(record: &Record, action: &'static str) -> Change {
    let id = record.get("id").and_then(Value::as_i64).unwrap_or_default();
    Change::new("task", "task", action, id, Value::Object(record.clone()))
}

fn sort_key(record: &Record, order: &str) -> SortValue {
    match order {
        "due_date" => time_key(record, "due_date"),
        _ => id_key(record),
    }
}

fn matches(record: &Record, filters: &Map<String, Value>) -> bool {
    let int = |pointer: &str| record.pointer(pointer).and_then(Value::as_i64);
    filters.iter().all(|(key, wanted)| {
        if wanted.as_array().is_some_and(Vec::is_empty) {
            return true;
        }
        match key.as_str() {
            "due_date" => in_time_range(record.get("due_date"), wanted),
            "assigned_staffs" => {
                let assigned = record
                    .get("assigned_staff_ids")
                    .map(ids)
                    .unwrap_or_default();
                ids(wanted).iter().any(|w| assigned.contains(w))
            }
            "statuses" => record
                .get("status")
                .and_then(Value::as_str)
                .is_some_and(|s| strings(wanted).contains(&s)),
            "labels" => int("/label/id").is_some_and(|l| ids(wanted).contains(&l)),
            "priority" => {
                let p = int("/priority").unwrap_or_default();
                let min = wanted.get("min").and_then(Value::as_i64).unwrap_or(0);
                let max = wanted.get("max").and_then(Value::as_i64).unwrap_or(1);
                (min..=max).contains(&p)
            }
            other => related::shared_filter(record, other, wanted).unwrap_or(true),
        }
    })
}

pub async fn list(state: Arc<SellsyState>, raw: Option<String>) -> Reply {
    rows(&state, raw, None, false)
}

pub async fn search(state: Arc<SellsyState>, raw: Option<String>, body: Bytes) -> Reply {
    let body = json_body_or(&body, json!({ "filters": {} }))?;
    let object = check_object(&body, &[FILTERS])?;
    let filters = object
        .get("filters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    rows(&state, raw, Some(filters), true)
}

/// The list takes any `order` (the spec gives it no values); the search only `id`, `due_date`.
fn rows(
    state: &SellsyState,
    raw: Option<String>,
    filters: Option<Map<String, Value>>,
    strict_order: bool,
) -> Reply {
    let q = QueryParams::parse(raw.as_deref());
    let list = if strict_order {
        q.list(&["id", "due_date"])?
    } else {
        q.list_any_order(&["id", "due_date"])?
    };
    let embeds = q.embeds(EMBEDS, false)?;
    let fields = q.fields()?;
    let store = state.store();
    let rows = store
        .tasks
        .rows
        .iter()
        .filter(|(_, t)| filters.as_ref().is_none_or(|f| matches(t, f)))
        .map(|(id, t)| Row {
            key: sort_key(t, list.order),
            id: *id,
            item: t,
        })
        .collect();
    respond::list(rows, &list, &fields, |t| {
        embed::render_activity(&store, t, &embeds)
    })
}

pub async fn labels(state: Arc<SellsyState>, raw: Option<String>) -> Reply {
    let q = QueryParams::parse(raw.as_deref());
    let list = q.list(&["rank", "id"])?;
    let fields = q.fields()?;
    let store = state.store();
    let rows = store
        .task_labels
        .rows
        .iter()
        .map(|(id, l)| {
            let key = match list.order {
                "rank" => l.get("rank").and_then(Value::as_i64).unwrap_or_default(),
                _ => *id,
            };
            Row {
                key: SortValue::Int(key),
                id: *id,
                item: l,
            }
        })
        .collect();
    respond::list(rows, &list, &fields, |l| Value::Object(l.clone()))
}

pub async fn get(state: Arc<SellsyState>, id: String, raw: Option<String>) -> Reply {
    let id = parse_id(&id, "Task")?;
    let q = QueryParams::parse(raw.as_deref());
    let embeds = q.embeds(EMBEDS, false)?;
    let fields = q.fields()?;
    let store = state.store();
    let task = store
        .tasks
        .get(id)
        .ok_or_else(|| ApiError::not_found("Task", id))?;
    respond::ok(super::projection::project(
        embed::render_activity(&store, task, &embeds),
        &fields,
    ))
}

/// Referential checks: label, related object, staff ids.
fn check_references(store: &Store, body: &Map<String, Value>) -> Result<(), ApiError> {
    let mut problems = Problems::default();
    if let Some(label) = body.get("label_id").and_then(Value::as_i64) {
        if !store.task_labels.contains(label) {
            problems.add(
                "label_id",
                "no task label with this id (see GET /tasks/labels)",
            );
        }
    }
    if let Some(owner) = body.get("owner_id").and_then(Value::as_i64) {
        if !store.staffs.contains(owner) {
            problems.add("owner_id", "no staff with this id");
        }
    }
    for staff in body.get("assigned_staff_ids").map(ids).unwrap_or_default() {
        if !store.staffs.contains(staff) {
            problems.add("assigned_staff_ids", format!("no staff {staff}"));
        }
    }
    related::check_exists(store, body.get("related"), &mut problems);
    problems.into_result()
}

/// Copy a validated body into a task record.
fn apply(store: &Store, body: &Map<String, Value>, record: &mut Record) {
    for key in [
        "title",
        "description",
        "is_private",
        "due_date",
        "status",
        "priority",
    ] {
        if let Some(v) = body.get(key) {
            record.insert(key.into(), v.clone());
        }
    }
    if let Some(v) = body.get("assigned_staff_ids") {
        record.insert(
            "assigned_staff_ids".into(),
            if v.is_null() { json!([]) } else { v.clone() },
        );
    }
    if let Some(label) = body
        .get("label_id")
        .and_then(Value::as_i64)
        .and_then(|l| store.task_labels.get(l))
    {
        record.insert("label".into(), Value::Object(label.clone()));
    }
    if let Some(owner) = body.get("owner_id").and_then(Value::as_i64) {
        record.insert("owner".into(), json!({ "type": "staff", "id": owner }));
    }
    if let Some(r) = body.get("related") {
        related::set(record, r);
    }
}

pub async fn create(state: Arc<SellsyState>, raw: Option<String>, body: Bytes) -> Reply {
    let q = QueryParams::parse(raw.as_deref());
    let verify = q.verify()?;
    let embeds = q.embeds(EMBEDS, false)?;
    let fields = q.fields()?;
    let body = json_body(&body)?;
    let object = check_object(&body, &[UPDATE, CREATE])?;
    let mut store = state.store();
    check_references(&store, object)?;
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

/// Store a new task from a validated body; returns it.
pub fn insert(store: &mut Store, body: &Map<String, Value>) -> Record {
    let now = clock::now_string();
    let mut record = json!({
        "id": 0, "title": null, "description": null, "status": "todo", "is_private": false,
        "due_date": now, "assigned_staff_ids": [], "label": null, "updated": now, "created": now,
        "related": [], "owner": { "type": "staff", "id": ME }, "company_id": null,
        "individual_id": null, "contact_id": null, "priority": 0,
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    apply(store, body, &mut record);
    if let Some(created) = body.get("created") {
        record.insert("created".into(), created.clone());
    }
    let id = store.tasks.insert(record);
    store.tasks.get(id).cloned().unwrap_or_default()
}

pub async fn update(
    state: Arc<SellsyState>,
    id: String,
    raw: Option<String>,
    body: Bytes,
) -> Reply {
    let id = parse_id(&id, "Task")?;
    let q = QueryParams::parse(raw.as_deref());
    let verify = q.verify()?;
    let embeds = q.embeds(EMBEDS, false)?;
    let fields = q.fields()?;
    let body = json_body_or(&body, json!({}))?;
    let mut store = state.store();
    if !store.tasks.contains(id) {
        return Err(ApiError::not_found("Task", id));
    }
    let object = check_object(&body, &[UPDATE])?;
    check_references(&store, object)?;
    if verify {
        return respond::no_content();
    }
    let mut record = store.tasks.get(id).cloned().unwrap_or_default();
    apply(&store, object, &mut record);
    record.insert("updated".into(), Value::String(clock::now_string()));
    store.tasks.rows.insert(id, record.clone());
    state.notify(&store, change(&record, "updated"));
    respond::ok(super::projection::project(
        embed::render_activity(&store, &record, &embeds),
        &fields,
    ))
}

pub async fn delete(state: Arc<SellsyState>, id: String) -> Reply {
    let id = parse_id(&id, "Task")?;
    let mut store = state.store();
    let record = store
        .tasks
        .remove(id)
        .ok_or_else(|| ApiError::not_found("Task", id))?;
    state.notify(&store, change(&record, "deleted"));
    respond::no_content()
}
