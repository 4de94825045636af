//! Businesses (`/businesses/...`): the company records contacts point to with
//! `businessId`.
//!
//! Semantics:
//! - Create and update answer `{success, buiseness}` (the spec's misspelled key), get
//!   `{business}`, the location list `{businesses}` (skip/limit, oldest first).
//! - Unknown ids answer 400 `Business not found`.
//! - Deleting a business unlinks its contacts (their `businessId` is cleared), so
//!   `GET /contacts/business/{id}` lists nobody afterwards.
//! - `createdBy`/`updatedBy` name the calling user (`{source, sourceId}`).

use serde_json::{json, Map, Value};

use super::context::{Ctx, Reply};
use super::crm::{crm, fresh_id, Business};
use super::errors::ApiError;
use super::ids::iso;
use super::store::Store;
use super::webhooks::Event;

/// Properties of the write DTOs stored as given.
const WRITABLE: &[&str] = &[
    "name",
    "phone",
    "email",
    "website",
    "address",
    "city",
    "state",
    "postalCode",
    "country",
];

fn not_found() -> ApiError {
    ApiError::bad_request("Business not found")
}

fn actor(ctx: &Ctx) -> String {
    ctx.grant
        .as_ref()
        .map(|g| g.user_id.clone())
        .unwrap_or_default()
}

fn by(user: &str) -> Value {
    json!({ "source": "INTEGRATION", "sourceId": user })
}

fn render(b: &Business, location_id: &str) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(b.id));
    for k in WRITABLE {
        if let Some(v) = b.fields.get(*k) {
            m.insert((*k).to_string(), v.clone());
        }
    }
    m.insert("locationId".into(), json!(location_id));
    m.insert("createdBy".into(), by(&b.created_by));
    m.insert("updatedBy".into(), by(&b.updated_by));
    m.insert("createdAt".into(), json!(iso(b.created_at)));
    m.insert("updatedAt".into(), json!(iso(b.updated_at)));
    Value::Object(m)
}

/// Store the write's properties (`null` clears one); returns whether anything changed.
fn apply(b: &mut Business, body: &Map<String, Value>) -> Result<bool, ApiError> {
    if body
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| n.trim().is_empty())
    {
        return Err(ApiError::unprocessable("name should not be empty"));
    }
    let mut changed = false;
    for k in WRITABLE {
        match body.get(*k) {
            None => {}
            Some(Value::Null) if *k != "name" => {
                changed |= b.fields.remove(*k).is_some();
            }
            Some(Value::Null) => {}
            Some(v) => {
                let v = match v.as_str() {
                    Some(s) => Value::String(s.trim().to_string()),
                    None => v.clone(),
                };
                if b.fields.get(*k) != Some(&v) {
                    b.fields.insert((*k).to_string(), v);
                    changed = true;
                }
            }
        }
    }
    Ok(changed)
}

/// `POST /businesses/`.
pub fn create(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    crm(store, ctx);
    let now = store.now();
    let user = actor(ctx);
    let mut b = Business {
        id: fresh_id(store),
        fields: Map::new(),
        created_by: user.clone(),
        updated_by: user,
        created_at: now,
        updated_at: now,
    };
    apply(&mut b, &ctx.body_object())?;
    let body = json!({ "success": true, "buiseness": render(&b, &store.location_id) });
    store.crm.businesses.insert(b.id.clone(), b);
    Ok(Reply::ok(ctx, body))
}

/// `GET /businesses/{businessId}`.
pub fn get(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let location = store.location_id.clone();
    let b = crm(store, ctx)
        .businesses
        .get(ctx.path("businessId"))
        .ok_or_else(not_found)?;
    Ok(Reply::ok(ctx, json!({ "business": render(b, &location) })))
}

/// `PUT /businesses/{businessId}`.
pub fn update(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let now = store.now();
    let location = store.location_id.clone();
    let user = actor(ctx);
    let b = crm(store, ctx)
        .businesses
        .get_mut(ctx.path("businessId"))
        .ok_or_else(not_found)?;
    let mut next = b.clone();
    if apply(&mut next, &ctx.body_object())? {
        next.updated_at = now;
        next.updated_by = user;
    }
    *b = next;
    let body = json!({ "success": true, "buiseness": render(b, &location) });
    Ok(Reply::ok(ctx, body))
}

/// `DELETE /businesses/{businessId}`: also unlinks the business's contacts.
pub fn delete(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.path("businessId").to_string();
    crm(store, ctx)
        .businesses
        .remove(&id)
        .ok_or_else(not_found)?;
    let mut events = Vec::new();
    let linked: Vec<String> = store
        .contacts
        .values()
        .filter(|c| c.business_id.as_deref() == Some(id.as_str()))
        .map(|c| c.id.clone())
        .collect();
    for cid in linked {
        let now = store.now();
        if let Some(c) = store.contacts.get_mut(&cid) {
            c.business_id = None;
            c.date_updated = now;
            events.push(Event::new("ContactUpdate", c.webhook_fields()));
        }
    }
    Ok(Reply::ok(ctx, json!({ "success": true })).with_events(events))
}

/// `GET /businesses/?locationId=…&skip=…&limit=…`.
pub fn list(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let limit = ctx.query_number("limit", 100, 1, None)?;
    let skip = ctx.query_number("skip", 0, 0, None)?;
    let location = store.location_id.clone();
    let crm = crm(store, ctx);
    let mut all: Vec<&Business> = crm.businesses.values().collect();
    all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let list: Vec<Value> = all
        .iter()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(100))
        .map(|b| render(b, &location))
        .collect();
    Ok(Reply::ok(ctx, json!({ "businesses": list })))
}
