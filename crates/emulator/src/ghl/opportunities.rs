//! Opportunities and pipelines (`/opportunities/...`).
//!
//! Semantics:
//! - Pipelines are the location's (seeded, see [`super::crm`]); a write naming an
//!   unknown `pipelineId` answers 400 `Pipeline not found`, a `pipelineStageId` that is
//!   not a stage of that pipeline 400 `Pipeline stage not found in this pipeline`.
//!   Without a stage, a new opportunity enters the pipeline's first stage; moving to
//!   another pipeline without a stage moves it to that pipeline's first stage.
//! - `contactId` must be a contact of the location (400 `Contact not found`); an
//!   opportunity goes away with its contact.
//! - `status` is open|won|lost|abandoned; the spec's enum also lists `all`, which is a
//!   search filter, not a status: writing it answers 422.
//! - With the location's "allow duplicate opportunities" setting off (the default), a
//!   contact has at most one opportunity per pipeline: a second create answers 400
//!   `Can not create duplicate opportunity for the contact.` and upsert updates it.
//! - `monetaryValue` is kept exactly as sent (integer or decimal).
//! - Unknown opportunity ids answer 400 `Opportunity not found` (v2 documents no 404).
//! - Search takes GHL's snake_case query parameters and pages by `page` or by the
//!   `startAfter` (createdAt in ms) + `startAfterId` cursor from `meta`.
//! - Webhooks: OpportunityCreate, OpportunityUpdate, OpportunityDelete,
//!   OpportunityStatusUpdate, OpportunityStageUpdate, OpportunityMonetaryValueUpdate,
//!   OpportunityAssignedToUpdate.

use std::cmp::Ordering;

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Map, Number, Value};

use super::context::{Ctx, Reply};
use super::crm::{crm, fresh_id, parse_custom_fields, Crm, Opportunity, Pipeline};
use super::errors::ApiError;
use super::ids::iso;
use super::store::Store;
use super::webhooks::Event;

const STATUSES: &[&str] = &["open", "won", "lost", "abandoned"];
const MAX_LIMIT: i64 = 100;

fn not_found() -> ApiError {
    ApiError::bad_request("Opportunity not found")
}

fn pipeline_not_found() -> ApiError {
    ApiError::bad_request("Pipeline not found")
}

fn stage_not_found() -> ApiError {
    ApiError::bad_request("Pipeline stage not found in this pipeline")
}

fn duplicate() -> ApiError {
    ApiError::bad_request("Can not create duplicate opportunity for the contact.")
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A write's `status` (never `all`).
fn parse_status(v: Option<&Value>) -> Result<Option<String>, ApiError> {
    match v.and_then(Value::as_str) {
        None => Ok(None),
        Some(s) if STATUSES.contains(&s) => Ok(Some(s.to_string())),
        Some(_) => Err(ApiError::unprocessable(
            "status must be one of the following values: open, won, lost, abandoned",
        )),
    }
}

/// `monetaryValue`: a number (numeric strings are accepted, as class-transformer does),
/// `null` clears it.
fn parse_monetary(v: Option<&Value>) -> Result<Option<Option<Number>>, ApiError> {
    let bad = || {
        ApiError::unprocessable(
            "monetaryValue must be a number conforming to the specified constraints",
        )
    };
    match v {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::Number(n)) => Ok(Some(Some(n.clone()))),
        Some(Value::String(s)) => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i64>() {
                return Ok(Some(Some(Number::from(i))));
            }
            t.parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(|n| Some(Some(n)))
                .ok_or_else(bad)
        }
        Some(_) => Err(bad()),
    }
}

fn body_string(ctx: &Ctx, name: &str) -> Option<String> {
    ctx.body_str(name).map(str::to_string)
}

/// The stage to use in `pipeline`: the named one (validated), else `current` when it
/// belongs to the pipeline, else the first stage.
fn resolve_stage(
    pipeline: &Pipeline,
    named: Option<&str>,
    current: Option<&str>,
) -> Result<String, ApiError> {
    if let Some(id) = named {
        return pipeline
            .stage(id)
            .map(|s| s.id.clone())
            .ok_or_else(stage_not_found);
    }
    if let Some(s) = current.and_then(|id| pipeline.stage(id)) {
        return Ok(s.id.clone());
    }
    pipeline
        .stages
        .first()
        .map(|s| s.id.clone())
        .ok_or_else(stage_not_found)
}

fn render_contact(store: &Store, id: &str) -> Option<Value> {
    let c = store.contacts.get(id)?;
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    if let Some(name) = c.display_name() {
        m.insert("name".into(), json!(name));
    }
    for key in ["companyName", "email"] {
        if let Some(v) = c.fields.get(key).filter(|v| v.is_string()) {
            m.insert(key.into(), v.clone());
        }
    }
    if let Some(p) = c.phone() {
        m.insert("phone".into(), json!(p));
    }
    m.insert("tags".into(), json!(c.tags));
    Some(Value::Object(m))
}

/// What to add to a rendered opportunity beyond its own fields.
#[derive(Default, Clone, Copy)]
struct Extras {
    tasks: bool,
    notes: bool,
    calendar_events: bool,
}

fn render(store: &Store, o: &Opportunity, extras: Extras) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(o.id));
    m.insert("name".into(), json!(o.name));
    m.insert(
        "monetaryValue".into(),
        o.monetary_value
            .clone()
            .map(Value::Number)
            .unwrap_or_else(|| json!(0)),
    );
    m.insert("pipelineId".into(), json!(o.pipeline_id));
    m.insert("pipelineStageId".into(), json!(o.pipeline_stage_id));
    if let Some(a) = &o.assigned_to {
        m.insert("assignedTo".into(), json!(a));
    }
    m.insert("status".into(), json!(o.status));
    if let Some(s) = &o.source {
        m.insert("source".into(), json!(s));
    }
    m.insert(
        "lastStatusChangeAt".into(),
        json!(iso(o.last_status_change_at)),
    );
    m.insert(
        "lastStageChangeAt".into(),
        json!(iso(o.last_stage_change_at)),
    );
    m.insert("createdAt".into(), json!(iso(o.created_at)));
    m.insert("updatedAt".into(), json!(iso(o.updated_at)));
    m.insert("contactId".into(), json!(o.contact_id));
    m.insert("locationId".into(), json!(store.location_id));
    if let Some(c) = render_contact(store, &o.contact_id) {
        m.insert("contact".into(), c);
    }
    if let Some(r) = &o.lost_reason_id {
        m.insert("lostReasonId".into(), json!(r));
    }
    let custom: Vec<Value> = o
        .custom_fields
        .iter()
        .map(|(id, v)| json!({"id": id, "fieldValue": v}))
        .collect();
    m.insert("customFields".into(), Value::Array(custom));
    m.insert("followers".into(), json!(o.followers));
    if extras.tasks {
        let tasks: Vec<Value> = store
            .tasks
            .get(&o.contact_id)
            .map(|ts| ts.iter().map(|t| t.render()).collect())
            .unwrap_or_default();
        m.insert("tasks".into(), Value::Array(tasks));
    }
    if extras.notes {
        let notes: Vec<Value> = store
            .notes
            .get(&o.contact_id)
            .map(|ns| ns.iter().map(|n| n.render()).collect())
            .unwrap_or_default();
        m.insert("notes".into(), Value::Array(notes));
    }
    if extras.calendar_events {
        let events = store.calendars.contact_appointments(&o.contact_id);
        m.insert("calendarEvents".into(), Value::Array(events));
    }
    Value::Object(m)
}

fn webhook_fields(o: &Opportunity) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(o.id));
    if let Some(a) = &o.assigned_to {
        m.insert("assignedTo".into(), json!(a));
    }
    m.insert("contactId".into(), json!(o.contact_id));
    m.insert(
        "monetaryValue".into(),
        o.monetary_value
            .clone()
            .map(Value::Number)
            .unwrap_or_else(|| json!(0)),
    );
    m.insert("name".into(), json!(o.name));
    m.insert("pipelineId".into(), json!(o.pipeline_id));
    m.insert("pipelineStageId".into(), json!(o.pipeline_stage_id));
    if let Some(s) = &o.source {
        m.insert("source".into(), json!(s));
    }
    m.insert("status".into(), json!(o.status));
    m.insert("dateAdded".into(), json!(iso(o.created_at)));
    m
}

fn opportunity<'a>(crm: &'a Crm, id: &str) -> Result<&'a Opportunity, ApiError> {
    crm.opportunities.get(id).ok_or_else(not_found)
}

/// The location named by the snake_case `location_id` must be the token's.
fn check_location(store: &Store, ctx: &Ctx, named: Option<&str>) -> Result<(), ApiError> {
    let own = ctx
        .grant
        .as_ref()
        .and_then(|g| g.location_id.as_deref())
        .unwrap_or(&store.location_id);
    match named {
        Some(l) if l != own || l != store.location_id => Err(ApiError::LocationForbidden),
        _ => Ok(()),
    }
}

/// A contact's existing opportunity in a pipeline (for duplicate checks and upsert).
fn existing_for(crm: &Crm, contact_id: &str, pipeline_id: &str) -> Option<String> {
    crm.opportunities
        .values()
        .filter(|o| o.contact_id == contact_id && o.pipeline_id == pipeline_id)
        .min_by_key(|o| (o.created_at, o.id.clone()))
        .map(|o| o.id.clone())
}

/// A change to an existing opportunity (every field optional).
#[derive(Default)]
struct Patch {
    pipeline_id: Option<String>,
    stage_id: Option<String>,
    name: Option<String>,
    status: Option<String>,
    monetary: Option<Option<Number>>,
    assigned_to: Option<String>,
    lost_reason_id: Option<String>,
    custom_fields: Option<Vec<(String, Value)>>,
}

fn parse_patch(ctx: &Ctx) -> Result<Patch, ApiError> {
    let mut problems = Vec::new();
    let status = match parse_status(ctx.body.get("status")) {
        Ok(s) => s,
        Err(ApiError::Unprocessable(m)) => {
            problems.extend(m);
            None
        }
        Err(e) => return Err(e),
    };
    let monetary = match parse_monetary(ctx.body.get("monetaryValue")) {
        Ok(m) => m,
        Err(ApiError::Unprocessable(m)) => {
            problems.extend(m);
            None
        }
        Err(e) => return Err(e),
    };
    let custom_fields = match ctx.body.get("customFields") {
        None | Some(Value::Null) => None,
        Some(v) => match parse_custom_fields(v) {
            Ok(c) => Some(c),
            Err(m) => {
                problems.extend(m);
                None
            }
        },
    };
    let name = body_string(ctx, "name");
    if name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        problems.push("name should not be empty".into());
    }
    if !problems.is_empty() {
        return Err(ApiError::Unprocessable(problems));
    }
    Ok(Patch {
        pipeline_id: body_string(ctx, "pipelineId"),
        stage_id: body_string(ctx, "pipelineStageId"),
        name,
        status,
        monetary,
        assigned_to: body_string(ctx, "assignedTo"),
        lost_reason_id: body_string(ctx, "lostReasonId"),
        custom_fields,
    })
}

/// Apply `patch` to opportunity `id` (pipelines and stage already validated against
/// the current state here). Returns the events.
fn apply_patch(
    store: &mut Store,
    ctx: &Ctx,
    id: &str,
    patch: Patch,
) -> Result<(Opportunity, Vec<Event>), ApiError> {
    let now = store.now();
    let crm = crm(store, ctx);
    let current = opportunity(crm, id)?.clone();
    let pipeline_id = patch
        .pipeline_id
        .clone()
        .unwrap_or_else(|| current.pipeline_id.clone());
    let pipeline = crm.pipeline(&pipeline_id).ok_or_else(pipeline_not_found)?;
    let stage_id = resolve_stage(
        pipeline,
        patch.stage_id.as_deref(),
        Some(&current.pipeline_stage_id),
    )?;
    if pipeline_id != current.pipeline_id && !crm.allow_duplicate_opportunities {
        if let Some(other) = existing_for(crm, &current.contact_id, &pipeline_id) {
            if other != current.id {
                return Err(duplicate());
            }
        }
    }
    let mut o = current.clone();
    o.pipeline_id = pipeline_id;
    o.pipeline_stage_id = stage_id;
    if let Some(n) = patch.name {
        o.name = n;
    }
    if let Some(s) = patch.status {
        o.status = s;
    }
    if let Some(m) = patch.monetary {
        o.monetary_value = m;
    }
    if let Some(a) = patch.assigned_to {
        o.assigned_to = Some(a).filter(|a| !a.is_empty());
    }
    if let Some(r) = patch.lost_reason_id {
        o.lost_reason_id = Some(r).filter(|r| !r.is_empty());
    }
    if let Some(c) = patch.custom_fields {
        for (k, v) in c {
            match o.custom_fields.iter_mut().find(|(id, _)| *id == k) {
                Some(entry) => entry.1 = v,
                None => o.custom_fields.push((k, v)),
            }
        }
    }
    let mut events = Vec::new();
    let status_changed = o.status != current.status;
    let stage_changed =
        o.pipeline_stage_id != current.pipeline_stage_id || o.pipeline_id != current.pipeline_id;
    let value_changed = o.monetary_value != current.monetary_value;
    let assignee_changed = o.assigned_to != current.assigned_to;
    if status_changed {
        o.last_status_change_at = now;
    }
    if stage_changed {
        o.last_stage_change_at = now;
    }
    if o != current {
        o.updated_at = now;
        events.push(Event::new("OpportunityUpdate", webhook_fields(&o)));
    }
    if status_changed {
        events.push(Event::new("OpportunityStatusUpdate", webhook_fields(&o)));
    }
    if stage_changed {
        events.push(Event::new("OpportunityStageUpdate", webhook_fields(&o)));
    }
    if value_changed {
        events.push(Event::new(
            "OpportunityMonetaryValueUpdate",
            webhook_fields(&o),
        ));
    }
    if assignee_changed {
        events.push(Event::new(
            "OpportunityAssignedToUpdate",
            webhook_fields(&o),
        ));
    }
    crm.opportunities.insert(o.id.clone(), o.clone());
    Ok((o, events))
}

/// Create an opportunity from validated parts.
#[allow(clippy::too_many_arguments)]
fn insert_new(
    store: &mut Store,
    ctx: &Ctx,
    contact_id: String,
    pipeline_id: String,
    name: String,
    status: String,
    patch: Patch,
    followers: Vec<String>,
) -> Result<(Opportunity, Vec<Event>), ApiError> {
    store.contact(&contact_id)?;
    let crm_ref = crm(store, ctx);
    let pipeline = crm_ref
        .pipeline(&pipeline_id)
        .ok_or_else(pipeline_not_found)?;
    let stage_id = resolve_stage(pipeline, patch.stage_id.as_deref(), None)?;
    if !crm_ref.allow_duplicate_opportunities
        && existing_for(crm_ref, &contact_id, &pipeline_id).is_some()
    {
        return Err(duplicate());
    }
    let now = store.now();
    let id = fresh_id(store);
    let source = ctx
        .grant
        .as_ref()
        .map(|g| {
            if g.private {
                "public api"
            } else {
                "integration"
            }
        })
        .map(str::to_string);
    let o = Opportunity {
        id,
        name,
        monetary_value: patch.monetary.flatten(),
        pipeline_id,
        pipeline_stage_id: stage_id,
        assigned_to: patch.assigned_to.filter(|a| !a.is_empty()),
        status,
        source,
        contact_id,
        lost_reason_id: patch.lost_reason_id.filter(|r| !r.is_empty()),
        custom_fields: patch.custom_fields.unwrap_or_default(),
        followers,
        created_at: now,
        updated_at: now,
        last_status_change_at: now,
        last_stage_change_at: now,
    };
    let events = vec![Event::new("OpportunityCreate", webhook_fields(&o))];
    store.crm.opportunities.insert(o.id.clone(), o.clone());
    Ok((o, events))
}

// ----- handlers -----

/// `GET /opportunities/pipelines`.
pub fn pipelines(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let location = store.location_id.clone();
    let crm = crm(store, ctx);
    let list: Vec<Value> = crm
        .pipelines
        .iter()
        .map(|p| {
            let stages: Vec<Value> = p
                .stages
                .iter()
                .map(|s| {
                    json!({
                        "id": s.id,
                        "name": s.name,
                        "position": s.position,
                        "showInFunnel": s.show_in_funnel,
                        "showInPieChart": s.show_in_pie_chart,
                    })
                })
                .collect();
            json!({
                "id": p.id,
                "name": p.name,
                "stages": stages,
                "showInFunnel": p.show_in_funnel,
                "showInPieChart": p.show_in_pie_chart,
                "locationId": location,
            })
        })
        .collect();
    Ok(Reply::ok(ctx, json!({ "pipelines": list })))
}

/// `GET /opportunities/{id}`.
pub fn get(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let o = opportunity(crm(store, ctx), ctx.path("id"))?.clone();
    Ok(Reply::ok(
        ctx,
        json!({ "opportunity": render(store, &o, Extras::default()) }),
    ))
}

/// `POST /opportunities/`.
pub fn create(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let patch = parse_patch(ctx)?;
    let status = patch.status.clone().unwrap_or_else(|| "open".to_string());
    let name = patch.name.clone().unwrap_or_default();
    let contact_id = body_string(ctx, "contactId").unwrap_or_default();
    let pipeline_id = body_string(ctx, "pipelineId").unwrap_or_default();
    let (o, events) = insert_new(
        store,
        ctx,
        contact_id,
        pipeline_id,
        name,
        status,
        patch,
        Vec::new(),
    )?;
    Ok(Reply::ok(
        ctx,
        json!({ "opportunity": render(store, &o, Extras::default()) }),
    )
    .with_events(events))
}

/// `PUT /opportunities/{id}`.
pub fn update(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.path("id").to_string();
    opportunity(crm(store, ctx), &id)?;
    let patch = parse_patch(ctx)?;
    let (o, events) = apply_patch(store, ctx, &id, patch)?;
    Ok(Reply::ok(
        ctx,
        json!({ "opportunity": render(store, &o, Extras::default()) }),
    )
    .with_events(events))
}

/// `DELETE /opportunities/{id}`.
pub fn delete(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let crm = crm(store, ctx);
    let o = crm
        .opportunities
        .remove(ctx.path("id"))
        .ok_or_else(not_found)?;
    Ok(Reply::ok(ctx, json!({ "succeded": true }))
        .with_events(vec![Event::new("OpportunityDelete", webhook_fields(&o))]))
}

/// `PUT /opportunities/{id}/status`.
pub fn update_status(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.path("id").to_string();
    opportunity(crm(store, ctx), &id)?;
    let status = parse_status(ctx.body.get("status"))?;
    let patch = Patch {
        status,
        lost_reason_id: body_string(ctx, "lostReasonId"),
        ..Patch::default()
    };
    let (_, events) = apply_patch(store, ctx, &id, patch)?;
    Ok(Reply::ok(ctx, json!({ "succeded": true })).with_events(events))
}

fn body_followers(ctx: &Ctx) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in ctx
        .body
        .get("followers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|f| !f.trim().is_empty())
    {
        if !out.iter().any(|x| x == f) {
            out.push(f.to_string());
        }
    }
    out
}

/// Add followers; returns the ones actually added.
fn add_to(list: &mut Vec<String>, wanted: &[String]) -> Vec<String> {
    let mut added = Vec::new();
    for f in wanted {
        if !list.contains(f) {
            list.push(f.clone());
            added.push(f.clone());
        }
    }
    added
}

/// Remove followers (all of them with `all`); returns the ones actually removed.
fn remove_from(list: &mut Vec<String>, unwanted: &[String], all: bool) -> Vec<String> {
    let mut removed = Vec::new();
    list.retain(|f| {
        let drop = all || unwanted.contains(f);
        if drop {
            removed.push(f.clone());
        }
        !drop
    });
    removed
}

/// `POST /opportunities/upsert`: by `id` when given, else (duplicates disallowed) the
/// contact's opportunity in the pipeline; otherwise creates. 200 `{opportunity, new}`.
pub fn upsert(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let patch = parse_patch(ctx)?;
    let pipeline_id = body_string(ctx, "pipelineId").unwrap_or_default();
    let contact_id = body_string(ctx, "contactId");
    let followers = body_followers(ctx);
    let remove_all = ctx
        .body
        .get("isRemoveAllFollowers")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let removing = ctx.body_str("followersActionType") == Some("remove");
    if let Some(c) = &contact_id {
        store.contact(c)?;
    }
    let crm_ref = crm(store, ctx);
    crm_ref
        .pipeline(&pipeline_id)
        .ok_or_else(pipeline_not_found)?;
    let matched = match body_string(ctx, "id").filter(|s| !s.is_empty()) {
        Some(id) => Some(opportunity(crm_ref, &id)?.id.clone()),
        None => contact_id
            .as_deref()
            .filter(|_| !crm_ref.allow_duplicate_opportunities)
            .and_then(|c| existing_for(crm_ref, c, &pipeline_id)),
    };
    match matched {
        Some(id) => {
            let patch = Patch {
                pipeline_id: Some(pipeline_id),
                ..patch
            };
            let (mut o, mut events) = apply_patch(store, ctx, &id, patch)?;
            let before = o.followers.clone();
            if removing || remove_all {
                remove_from(&mut o.followers, &followers, remove_all);
            } else {
                add_to(&mut o.followers, &followers);
            }
            if o.followers != before {
                o.updated_at = store.now();
                if events.is_empty() {
                    events.push(Event::new("OpportunityUpdate", webhook_fields(&o)));
                }
                store.crm.opportunities.insert(o.id.clone(), o.clone());
            }
            let body = json!({ "opportunity": render(store, &o, Extras::default()), "new": false });
            Ok(Reply::ok(ctx, body)
                .with_status(StatusCode::OK)
                .with_events(events))
        }
        None => {
            let contact_id = contact_id.ok_or_else(|| {
                ApiError::bad_request("contactId is required to create an opportunity")
            })?;
            let name = patch.name.clone().ok_or_else(|| {
                ApiError::bad_request("name is required to create an opportunity")
            })?;
            let status = patch.status.clone().unwrap_or_else(|| "open".into());
            let initial = if removing || remove_all {
                Vec::new()
            } else {
                followers
            };
            let (o, events) = insert_new(
                store,
                ctx,
                contact_id,
                pipeline_id,
                name,
                status,
                patch,
                initial,
            )?;
            let body = json!({ "opportunity": render(store, &o, Extras::default()), "new": true });
            Ok(Reply::ok(ctx, body)
                .with_status(StatusCode::OK)
                .with_events(events))
        }
    }
}

/// `POST /opportunities/{id}/followers`.
pub fn add_followers(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let wanted = body_followers(ctx);
    let now = store.now();
    let crm = crm(store, ctx);
    let o = crm
        .opportunities
        .get_mut(ctx.path("id"))
        .ok_or_else(not_found)?;
    let added = add_to(&mut o.followers, &wanted);
    if !added.is_empty() {
        o.updated_at = now;
    }
    Ok(Reply::ok(
        ctx,
        json!({ "followers": o.followers, "followersAdded": added }),
    ))
}

/// `DELETE /opportunities/{id}/followers` (body `followers`; `?isRemoveAllFollowers=true`
/// removes everyone).
pub fn remove_followers(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let unwanted = body_followers(ctx);
    let all = ctx.query("isRemoveAllFollowers") == Some("true");
    let now = store.now();
    let crm = crm(store, ctx);
    let o = crm
        .opportunities
        .get_mut(ctx.path("id"))
        .ok_or_else(not_found)?;
    let removed = remove_from(&mut o.followers, &unwanted, all);
    if !removed.is_empty() {
        o.updated_at = now;
    }
    Ok(Reply::ok(
        ctx,
        json!({ "followers": o.followers, "followersRemoved": removed }),
    ))
}

/// `mm-dd-yyyy` as used by the search's `date`/`endDate`.
fn parse_day(ctx: &Ctx, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    match ctx.query(name) {
        None => Ok(None),
        Some(raw) => NaiveDate::parse_from_str(raw.trim(), "%m-%d-%Y")
            .map(Some)
            .map_err(|_| {
                ApiError::unprocessable(format!("{name} must be a date in mm-dd-yyyy format"))
            }),
    }
}

fn flag(ctx: &Ctx, name: &str) -> bool {
    ctx.query(name) == Some("true")
}

fn matches_q(store: &Store, o: &Opportunity, q: &str) -> bool {
    if q.is_empty() {
        return true;
    }
    let q = q.to_lowercase();
    if o.name.to_lowercase().contains(&q) {
        return true;
    }
    let Some(c) = store.contacts.get(&o.contact_id) else {
        return false;
    };
    let mut hay: Vec<String> = Vec::new();
    if let Some(n) = c.display_name() {
        hay.push(n);
    }
    for key in ["email", "companyName", "phone"] {
        if let Some(s) = c.fields.get(key).and_then(Value::as_str) {
            hay.push(s.to_string());
        }
    }
    hay.iter().any(|h| h.to_lowercase().contains(&q))
}

/// `GET /opportunities/search`.
pub fn search(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    check_location(store, ctx, ctx.query("location_id"))?;
    let limit = ctx.query_number("limit", 20, 1, Some(MAX_LIMIT))?;
    let page = ctx.query_number("page", 1, 1, Some(1_000_000))?;
    let descending = match ctx.query("order").unwrap_or("added_desc") {
        "added_desc" => true,
        "added_asc" => false,
        _ => {
            return Err(ApiError::unprocessable(
                "order must be one of the following values: added_asc, added_desc",
            ))
        }
    };
    let status = ctx.query("status").filter(|s| *s != "all");
    let from = parse_day(ctx, "date")?;
    let to = parse_day(ctx, "endDate")?;
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
    let start_after_id = ctx.query("startAfterId");
    let q = ctx.query("q").unwrap_or_default();
    crm(store, ctx);
    let store_ref: &Store = store;
    let mut all: Vec<&Opportunity> = store_ref
        .crm
        .opportunities
        .values()
        .filter(|o| ctx.query("id").is_none_or(|id| o.id == id))
        .filter(|o| ctx.query("pipeline_id").is_none_or(|p| o.pipeline_id == p))
        .filter(|o| {
            ctx.query("pipeline_stage_id")
                .is_none_or(|s| o.pipeline_stage_id == s)
        })
        .filter(|o| ctx.query("contact_id").is_none_or(|c| o.contact_id == c))
        .filter(|o| status.is_none_or(|s| o.status == s))
        .filter(|o| {
            ctx.query("assigned_to")
                .is_none_or(|a| o.assigned_to.as_deref() == Some(a))
        })
        // Opportunities carry no campaign attribution here: a campaign filter matches none.
        .filter(|_| ctx.query("campaignId").is_none())
        .filter(|o| {
            ctx.query("country").is_none_or(|country| {
                store_ref
                    .contacts
                    .get(&o.contact_id)
                    .and_then(|c| c.fields.get("country"))
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.eq_ignore_ascii_case(country))
            })
        })
        .filter(|o| from.is_none_or(|d| o.created_at.date_naive() >= d))
        .filter(|o| to.is_none_or(|d| o.created_at.date_naive() <= d))
        .filter(|o| matches_q(store_ref, o, q))
        .collect();
    let key = |o: &Opportunity| (ms(o.created_at), o.id.clone());
    all.sort_by(|a, b| {
        let ord = key(a).cmp(&key(b));
        if descending {
            ord.reverse()
        } else {
            ord
        }
    });
    super::store::cut_listing(store_ref.truncate_after, &mut all);
    let total = all.len();
    let limit_usize = usize::try_from(limit).unwrap_or(20);
    let cursor = start_after.is_some() || start_after_id.is_some();
    let start = if cursor {
        let anchor: (i64, Option<String>) = match (start_after, start_after_id) {
            (Some(t), id) => (t, id.map(str::to_string)),
            (None, Some(id)) => match store_ref.crm.opportunities.get(id) {
                Some(o) => (ms(o.created_at), Some(id.to_string())),
                None => {
                    return Err(ApiError::bad_request(
                        "startAfterId does not match any opportunity",
                    ))
                }
            },
            (None, None) => (0, None),
        };
        // Items strictly after the anchor in the requested order.
        all.partition_point(|o| {
            let here = (ms(o.created_at), o.id.as_str());
            let ord = match &anchor.1 {
                Some(id) => here.cmp(&(anchor.0, id.as_str())),
                None => here.0.cmp(&anchor.0).then(if descending {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }),
            };
            if descending {
                ord != Ordering::Less
            } else {
                ord != Ordering::Greater
            }
        })
    } else {
        usize::try_from(page - 1)
            .unwrap_or(0)
            .saturating_mul(limit_usize)
    };
    let items: Vec<&Opportunity> = all.iter().skip(start).take(limit_usize).copied().collect();
    let current_page = start / limit_usize + 1;
    let has_more = start.saturating_add(items.len()) < total;
    let last = items.last();
    let next_url = match (has_more, last) {
        (true, Some(o)) => {
            let mut pairs = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &ctx.query {
                if !matches!(k.as_str(), "page" | "startAfter" | "startAfterId") {
                    pairs.append_pair(k, v);
                }
            }
            pairs.append_pair("startAfter", &ms(o.created_at).to_string());
            pairs.append_pair("startAfterId", &o.id);
            json!(format!(
                "{}/opportunities/search?{}",
                ctx.base_url,
                pairs.finish()
            ))
        }
        _ => Value::Null,
    };
    let extras = Extras {
        tasks: flag(ctx, "getTasks"),
        notes: flag(ctx, "getNotes"),
        calendar_events: flag(ctx, "getCalendarEvents"),
    };
    let rendered: Vec<Value> = items.iter().map(|o| render(store_ref, o, extras)).collect();
    let meta = json!({
        "total": total,
        "nextPageUrl": next_url,
        "startAfterId": last.map(|o| json!(o.id)).unwrap_or(Value::Null),
        "startAfter": last.map(|o| json!(ms(o.created_at))).unwrap_or(Value::Null),
        "currentPage": current_page,
        "nextPage": if has_more { json!(current_page + 1) } else { Value::Null },
        "prevPage": if current_page > 1 { json!(current_page - 1) } else { Value::Null },
    });
    Ok(Reply::ok(
        ctx,
        json!({ "opportunities": rendered, "meta": meta, "aggregations": {} }),
    ))
}

/// `POST /opportunities/search` (not in the catalog; the spec's body search): `query`
/// over names and contact details, newest first, `page`/`limit` or `searchAfter` =
/// `[createdAt ms, id]` of the last item seen; `additionalDetails` adds the contact's
/// notes, tasks and calendar events. Answers `{opportunities, total, aggregations}`.
pub fn search_advanced(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let limit = ctx
        .body
        .get("limit")
        .and_then(Value::as_f64)
        .filter(|l| l.is_finite() && l.fract() == 0.0 && (1.0..=MAX_LIMIT as f64).contains(l))
        .ok_or_else(|| {
            ApiError::unprocessable("limit must not be less than 1 or greater than 100")
        })? as usize;
    let page = ctx
        .body
        .get("page")
        .and_then(Value::as_f64)
        .filter(|p| p.is_finite() && p.fract() == 0.0 && *p >= 1.0)
        .ok_or_else(|| ApiError::unprocessable("page must not be less than 1"))?;
    let after: Vec<String> = ctx.body_strings("searchAfter");
    let anchor: Option<(i64, String)> = match after.as_slice() {
        [] => None,
        [t, id] => Some((
            t.trim().parse::<i64>().map_err(|_| {
                ApiError::unprocessable("searchAfter must be [createdAt in ms, opportunity id]")
            })?,
            id.clone(),
        )),
        _ => {
            return Err(ApiError::unprocessable(
                "searchAfter must be [createdAt in ms, opportunity id]",
            ))
        }
    };
    let details = ctx.body.get("additionalDetails");
    let detail = |k: &str| {
        details
            .and_then(|d| d.get(k))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let extras = Extras {
        tasks: detail("tasks"),
        notes: detail("notes"),
        calendar_events: detail("calendarEvents"),
    };
    let q = ctx.body_str("query").unwrap_or_default().to_string();
    crm(store, ctx);
    let store_ref: &Store = store;
    let mut all: Vec<&Opportunity> = store_ref
        .crm
        .opportunities
        .values()
        .filter(|o| matches_q(store_ref, o, &q))
        .collect();
    all.sort_by(|a, b| (ms(b.created_at), &b.id).cmp(&(ms(a.created_at), &a.id)));
    super::store::cut_listing(store_ref.truncate_after, &mut all);
    let total = all.len();
    let start = match &anchor {
        Some((t, id)) => {
            all.partition_point(|o| (ms(o.created_at), o.id.as_str()) >= (*t, id.as_str()))
        }
        None => usize::try_from(page as i64 - 1)
            .unwrap_or(0)
            .saturating_mul(limit),
    };
    let rendered: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|o| render(store_ref, o, extras))
        .collect();
    Ok(Reply::ok(
        ctx,
        json!({ "opportunities": rendered, "total": total, "aggregations": {} }),
    ))
}
