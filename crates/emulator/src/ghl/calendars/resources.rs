//! Calendar resources: `/calendars/resources/{resourceType}[/{id}]` with
//! `resourceType` = `equipments` | `rooms` (the table refuses anything else with 422).
//!
//! A resource is found only under its own type. The list is a bare array paged by
//! `skip`/`limit` (both required). Resources carry an `id` (the spec's DTOs list none,
//! but a client needs it to address the resource). `calendarIds` (≤ 100) must name
//! existing calendars; deleting a calendar unlinks it.

use serde_json::{json, Value};

use super::super::context::{Ctx, Reply};
use super::super::errors::ApiError;
use super::super::store::Store;
use super::{new_id, not_blank, not_found, query_count};

/// `calendarIds` cap (class-validator `ArrayMaxSize`).
pub const MAX_CALENDARS: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub id: String,
    pub resource_type: String,
    pub location_id: String,
    pub name: String,
    pub description: String,
    /// Numbers kept as written (`12` stays `12`, not `12.0`).
    pub quantity: Value,
    pub out_of_service: Value,
    pub capacity: Value,
    pub calendar_ids: Vec<String>,
    pub is_active: bool,
}

impl Resource {
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "locationId": self.location_id,
            "name": self.name,
            "resourceType": self.resource_type,
            "isActive": self.is_active,
            "description": self.description,
            "quantity": self.quantity,
            "outOfService": self.out_of_service,
            "capacity": self.capacity,
            "calendarIds": self.calendar_ids,
        })
    }
}

fn calendar_ids(store: &Store, body: &Value) -> Result<Option<Vec<String>>, ApiError> {
    let Some(list) = body.get("calendarIds").and_then(Value::as_array) else {
        return Ok(None);
    };
    if list.len() > MAX_CALENDARS {
        return Err(ApiError::unprocessable(format!(
            "calendarIds must contain no more than {MAX_CALENDARS} elements"
        )));
    }
    let mut ids: Vec<String> = Vec::new();
    for id in list.iter().filter_map(Value::as_str) {
        store.calendars.calendar(id)?;
        if !ids.iter().any(|x| x == id) {
            ids.push(id.to_string());
        }
    }
    Ok(Some(ids))
}

fn number(body: &Value, key: &str) -> Option<Value> {
    body.get(key).filter(|v| v.is_number()).cloned()
}

fn find_mut<'a>(store: &'a mut Store, ctx: &Ctx) -> Result<&'a mut Resource, ApiError> {
    let ty = ctx.path("resourceType");
    let id = ctx.path("id");
    store
        .calendars
        .resources
        .iter_mut()
        .find(|r| r.id == id && r.resource_type == ty)
        .ok_or_else(|| not_found("Resource"))
}

/// `GET /calendars/resources/{resourceType}?locationId&limit&skip` → bare array.
pub fn list(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let ty = ctx.path("resourceType");
    let limit = query_count(ctx, "limit", 100, None)?;
    let skip = query_count(ctx, "skip", 0, None)?;
    let list: Vec<Value> = store
        .calendars
        .resources
        .iter()
        .filter(|r| r.resource_type == ty)
        .skip(skip)
        .take(limit)
        .map(Resource::render)
        .collect();
    Ok(Reply::ok(ctx, Value::Array(list)))
}

/// `POST /calendars/resources/{resourceType}` → 201 resource.
pub fn create(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    not_blank(&ctx.body, &["name"])?;
    let calendar_ids = calendar_ids(store, &ctx.body)?.unwrap_or_default();
    let r = Resource {
        id: new_id(store),
        resource_type: ctx.path("resourceType").to_string(),
        location_id: store.location_id.clone(),
        name: ctx.body_str("name").unwrap_or_default().to_string(),
        description: ctx.body_str("description").unwrap_or_default().to_string(),
        quantity: number(&ctx.body, "quantity").unwrap_or(json!(0)),
        out_of_service: number(&ctx.body, "outOfService").unwrap_or(json!(0)),
        capacity: number(&ctx.body, "capacity").unwrap_or(json!(0)),
        calendar_ids,
        is_active: true,
    };
    let rendered = r.render();
    store.calendars.resources.push(r);
    Ok(Reply::ok(ctx, rendered))
}

/// `GET /calendars/resources/{resourceType}/{id}`.
pub fn get(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let r = find_mut(store, ctx)?;
    Ok(Reply::ok(ctx, r.render()))
}

/// `PUT /calendars/resources/{resourceType}/{id}` → resource.
pub fn update(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    find_mut(store, ctx)?;
    not_blank(&ctx.body, &["name"])?;
    let calendar_ids = calendar_ids(store, &ctx.body)?;
    let body = &ctx.body;
    let r = find_mut(store, ctx)?;
    if let Some(n) = body.get("name").and_then(Value::as_str) {
        r.name = n.to_string();
    }
    if let Some(d) = body.get("description").and_then(Value::as_str) {
        r.description = d.to_string();
    }
    for (key, slot) in [
        ("quantity", &mut r.quantity),
        ("outOfService", &mut r.out_of_service),
        ("capacity", &mut r.capacity),
    ] {
        if let Some(n) = number(body, key) {
            *slot = n;
        }
    }
    if let Some(ids) = calendar_ids {
        r.calendar_ids = ids;
    }
    if let Some(a) = body.get("isActive").and_then(Value::as_bool) {
        r.is_active = a;
    }
    Ok(Reply::ok(ctx, r.render()))
}

/// `DELETE /calendars/resources/{resourceType}/{id}` → `{success: true}`.
pub fn delete(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = find_mut(store, ctx)?.id.clone();
    store.calendars.resources.retain(|r| r.id != id);
    Ok(Reply::ok(ctx, json!({ "success": true })))
}
