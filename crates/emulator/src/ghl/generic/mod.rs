//! The generic layer: every table operation no specific handler serves.
//!
//! The pipeline has already routed, authorised, rate-limited and validated the request
//! against the table (422s come from there). This layer then keeps plain state per
//! resource, following [`resources::role`]:
//! - **create** (`POST /products/`): a 20-character id, the body stored with `id`,
//!   `_id`, the item id parameter (`productId`), `locationId` and timestamps;
//! - **read** (`GET /products/{productId}`): the record; an id that was never created
//!   (or was deleted) is GHL's 400 `{"statusCode":400,"message":"… not found"}`;
//! - **update** (`PUT`/`PATCH`): the body merged into the record (top-level keys);
//! - **delete**: the record removed (a second delete is the same 400);
//! - **list** (`GET /products/`): records in creation order, paged by the declared
//!   `skip`/`offset`/`page` and `limit` query parameters;
//! - items of collections the API never creates (Facebook pages, ad accounts): any id
//!   reads, writes are kept, a deleted id is refused;
//! - **singletons** (`/store/store-setting`): writes merge into one record the read
//!   returns; **actions** (verbs, searches, reports): the request's own values.
//!
//! Every body is shaped by the operation's response schema ([`shape`](mod@shape)); the status is
//! the documented success status (no body for 204). A path `{locationId}` must be the
//! token's location (403), like a `locationId` in the query or body.

pub mod multipart;
pub mod resources;
pub mod shape;

use std::collections::{HashMap, HashSet};

use axum::http::StatusCode;
use hlbridge_core::optable::{Method, Operation, Ty};
use serde_json::{Map, Value};

use super::context::{Ctx, Reply};
use super::errors::ApiError;
use super::ids::{iso, new_id, trace_id};
use super::state::{lock, GhlState};
use super::store::Store;
use resources::{concrete, role, Role};
use shape::{shape, Source};

/// Default page size of generic lists when the request names none.
pub const DEFAULT_LIMIT: usize = 100;

/// Records of the generically served resources.
#[derive(Debug, Default)]
pub struct GenericStore {
    /// Concrete collection path (`/invoices/abc/items`) → records in creation order.
    collections: HashMap<String, Vec<Value>>,
    /// Concrete path → the record of a singleton.
    singletons: HashMap<String, Value>,
    /// `(collection, id)` of deleted items.
    deleted: HashSet<(String, String)>,
}

impl GenericStore {
    /// The records of a concrete collection (`/products`), in creation order.
    pub fn records(&self, collection: &str) -> &[Value] {
        self.collections
            .get(collection)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    fn position(&self, collection: &str, id: &str) -> Option<usize> {
        self.collections
            .get(collection)?
            .iter()
            .position(|r| record_id(r) == Some(id))
    }
}

/// The ids of a concrete generic collection (`/products`, `/invoices/abc/items`), in
/// creation order (for tests and the control endpoints).
pub fn ids(state: &GhlState, collection: &str) -> Vec<String> {
    lock(&state.store)
        .generic
        .records(collection)
        .iter()
        .filter_map(|r| record_id(r).map(str::to_string))
        .collect()
}

fn record_id(record: &Value) -> Option<&str> {
    record
        .get("id")
        .or_else(|| record.get("_id"))
        .and_then(Value::as_str)
}

/// The handler of every operation without a specific one.
pub fn serve(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    check_path_location(store, ctx)?;
    let now = iso(store.now());
    let op = ctx.op;
    match role(op) {
        Role::Create {
            collection,
            id_param,
        } => {
            let key = concrete(collection, &ctx.path);
            let id = loop {
                let id = new_id(&mut store.rng);
                if store.generic.position(&key, &id).is_none()
                    && !store.generic.deleted.contains(&(key.clone(), id.clone()))
                {
                    break id;
                }
            };
            let mut record = request_values(ctx);
            stamp(&mut record, &id, id_param, store, &now, true);
            let record = Value::Object(record);
            store
                .generic
                .collections
                .entry(key)
                .or_default()
                .push(record.clone());
            Ok(respond(
                ctx,
                store,
                Some(&record),
                Some(&id),
                Some(id_param),
                None,
                now,
            ))
        }
        Role::List { collection } => {
            let key = concrete(collection, &ctx.path);
            let mut all = store.generic.records(&key).to_vec();
            super::store::cut_listing(store.truncate_after, &mut all);
            let (start, limit) = paging(ctx);
            let page: Vec<Value> = all.iter().skip(start).take(limit).cloned().collect();
            let id_param = resources_id_param(collection);
            Ok(respond(
                ctx,
                store,
                None,
                None,
                id_param,
                Some((&page, all.len())),
                now,
            ))
        }
        Role::Item {
            collection,
            id_param,
            creatable,
        } => {
            // Records created by a specific handler live in its own state: ids are
            // then taken as given here.
            let created_here = creatable && create_is_generic(collection);
            item(store, ctx, collection, id_param, created_here, now)
        }
        Role::Singleton { path } => {
            let key = concrete(path, &ctx.path);
            let record = match op.method {
                Method::Get => store.generic.singletons.get(&key).cloned(),
                Method::Delete => store.generic.singletons.remove(&key),
                _ => {
                    let entry = store
                        .generic
                        .singletons
                        .entry(key)
                        .or_insert_with(|| Value::Object(Map::new()));
                    merge(entry, request_values(ctx), &now);
                    Some(entry.clone())
                }
            };
            let record = merged_with_request(record, ctx);
            Ok(respond(ctx, store, Some(&record), None, None, None, now))
        }
        Role::Action => {
            let record = Value::Object(request_values(ctx));
            Ok(respond(ctx, store, Some(&record), None, None, None, now))
        }
    }
}

/// Whether the create of `collection` is served by this layer.
fn create_is_generic(collection: &str) -> bool {
    hlbridge_ghl::TABLE
        .distinct()
        .filter(|op| op.method == Method::Post && resources::trimmed(op.path) == collection)
        .all(|op| super::routes::handler_for(op.id).is_none())
}

fn resources_id_param(collection: &'static str) -> Option<&'static str> {
    hlbridge_ghl::TABLE
        .distinct()
        .find_map(|op| match resources::split_item(op.path) {
            Some((c, id)) if c == collection => Some(id),
            _ => None,
        })
}

fn item(
    store: &mut Store,
    ctx: &Ctx,
    collection: &'static str,
    id_param: &'static str,
    creatable: bool,
    now: String,
) -> Result<Reply, ApiError> {
    let op = ctx.op;
    let key = concrete(collection, &ctx.path);
    let id = ctx.path(id_param).to_string();
    let gone = store.generic.deleted.contains(&(key.clone(), id.clone()));
    let pos = store.generic.position(&key, &id);
    if gone || (creatable && pos.is_none()) {
        return Err(not_found(collection, &id));
    }
    let record = match (op.method, pos) {
        (Method::Delete, Some(i)) => {
            let removed = store.generic.collections.get_mut(&key).map(|v| v.remove(i));
            store.generic.deleted.insert((key, id.clone()));
            removed
        }
        (Method::Delete, None) => {
            store.generic.deleted.insert((key, id.clone()));
            None
        }
        (Method::Get, Some(i)) => store.generic.collections.get(&key).map(|v| v[i].clone()),
        (Method::Get, None) => None,
        (_, Some(i)) => {
            let values = request_values(ctx);
            store.generic.collections.get_mut(&key).map(|v| {
                merge(&mut v[i], values, &now);
                v[i].clone()
            })
        }
        (_, None) => {
            // An item that lives outside the emulator (never created here): keep the write.
            let mut record = request_values(ctx);
            stamp(&mut record, &id, id_param, store, &now, true);
            let record = Value::Object(record);
            store
                .generic
                .collections
                .entry(key)
                .or_default()
                .push(record.clone());
            Some(record)
        }
    };
    let record = record.unwrap_or_else(|| {
        let mut fresh = Map::new();
        stamp(&mut fresh, &id, id_param, store, &now, false);
        Value::Object(fresh)
    });
    let record = merged_with_request(Some(record), ctx);
    Ok(respond(
        ctx,
        store,
        Some(&record),
        Some(&id),
        Some(id_param),
        None,
        now,
    ))
}

fn not_found(collection: &str, id: &str) -> ApiError {
    let noun = collection
        .rsplit('/')
        .find(|s| !s.is_empty() && !s.starts_with('{'))
        .unwrap_or("record");
    ApiError::bad_request(format!("No {noun} found with id {id}"))
}

/// A path `{locationId}` must be the token's own location, as GHL checks for the query
/// and body (403).
fn check_path_location(store: &Store, ctx: &Ctx) -> Result<(), ApiError> {
    let Some(grant) = &ctx.grant else {
        return Ok(());
    };
    let Some(own) = &grant.location_id else {
        return Ok(());
    };
    match ctx.path.iter().find(|(n, _)| *n == "locationId") {
        Some((_, v)) if v != own && v != &store.location_id => Err(ApiError::LocationForbidden),
        _ => Ok(()),
    }
}

/// The request's values as one object: path and query parameters, then the body's
/// top-level fields.
fn request_values(ctx: &Ctx) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in &ctx.path {
        map.insert((*name).to_string(), Value::String(value.clone()));
    }
    for (name, value) in &ctx.query {
        let name = name.strip_suffix("[]").unwrap_or(name);
        let typed = ctx
            .op
            .param(name)
            .map(|p| typed_query_value(&p.ty, value))
            .unwrap_or_else(|| Value::String(value.clone()));
        map.insert(name.to_string(), typed);
    }
    if let Value::Object(body) = &ctx.body {
        for (k, v) in body {
            map.insert(k.clone(), v.clone());
        }
    }
    map
}

/// A query value as the JSON type its parameter declares (they travel as text).
fn typed_query_value(ty: &Ty, raw: &str) -> Value {
    match ty {
        Ty::Integer => raw
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(raw.into())),
        Ty::Number => raw
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(raw.into())),
        Ty::Boolean => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(raw.into()),
        },
        Ty::Array(_) => Value::Array(raw.split(',').map(|s| Value::String(s.into())).collect()),
        _ => Value::String(raw.into()),
    }
}

/// Add the id, location and timestamps to a new record.
fn stamp(
    record: &mut Map<String, Value>,
    id: &str,
    id_param: &str,
    store: &Store,
    now: &str,
    created: bool,
) {
    for key in ["id", "_id", id_param] {
        record.insert(key.to_string(), Value::String(id.to_string()));
    }
    record
        .entry("locationId")
        .or_insert_with(|| Value::String(store.location_id.clone()));
    if created {
        for key in ["createdAt", "updatedAt", "dateAdded", "dateUpdated"] {
            record.insert(key.to_string(), Value::String(now.to_string()));
        }
    }
}

/// Merge a write into a record (top-level keys; ids never change).
fn merge(record: &mut Value, values: Map<String, Value>, now: &str) {
    if !record.is_object() {
        *record = Value::Object(Map::new());
    }
    if let Value::Object(map) = record {
        for (k, v) in values {
            if matches!(k.as_str(), "id" | "_id") && map.contains_key(&k) {
                continue;
            }
            map.insert(k, v);
        }
        for key in ["updatedAt", "dateUpdated"] {
            map.insert(key.to_string(), Value::String(now.to_string()));
        }
        map.entry("createdAt")
            .or_insert_with(|| Value::String(now.to_string()));
    }
}

/// A stored record with the request's own values beneath it (stored values win).
fn merged_with_request(record: Option<Value>, ctx: &Ctx) -> Value {
    let mut out = request_values(ctx);
    if let Some(Value::Object(stored)) = record {
        for (k, v) in stored {
            out.insert(k, v);
        }
    }
    Value::Object(out)
}

/// `(start, limit)` from the declared paging parameters.
fn paging(ctx: &Ctx) -> (usize, usize) {
    let number = |name: &str| -> Option<usize> {
        ctx.op.param(name)?;
        let raw = ctx.query(name)?;
        let n = raw.trim().parse::<f64>().ok()?;
        (n.is_finite() && n >= 0.0).then_some(n as usize)
    };
    let limit = ["limit", "pageLimit", "perPage", "pageSize", "size"]
        .iter()
        .find_map(|n| number(n))
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_LIMIT);
    let start = number("skip")
        .or_else(|| number("offset"))
        .or_else(|| {
            number("page")
                .or_else(|| number("pageNumber"))
                .map(|p| p.saturating_sub(1).saturating_mul(limit))
        })
        .unwrap_or(0);
    (start, limit)
}

fn respond(
    ctx: &Ctx,
    store: &Store,
    record: Option<&Value>,
    id: Option<&str>,
    id_param: Option<&str>,
    list: Option<(&[Value], usize)>,
    now: String,
) -> Reply {
    let op: &Operation = ctx.op;
    if op.success_status == 204 {
        return Reply::ok(ctx, Value::Null).with_status(StatusCode::NO_CONTENT);
    }
    let src = Source {
        record,
        id,
        id_param,
        location_id: &store.location_id,
        company_id: &store.company_id,
        now,
        wrapper: op.response_key,
        list,
        deleting: op.method == Method::Delete,
    };
    let body = match &op.response {
        // `oneOf` {verified, …} | {result, risk, …}: the emulator cannot verify an
        // address, so it answers the verification result `unknown`.
        Some(Ty::Any) if op.id == "email-isv.verify-email" => serde_json::json!({
            "result": "unknown",
            "risk": "unknown",
            "address": ctx.body_str("verify").unwrap_or_default(),
            "leadconnectorRecomendation": {},
        }),
        Some(ty) => shape(ty, &src),
        // No response schema in the spec: the record (or records) as stored.
        None => match (list, record) {
            (Some((items, _)), _) => Value::Array(items.to_vec()),
            (None, Some(r)) => r.clone(),
            (None, None) => serde_json::json!({ "traceId": trace_id() }),
        },
    };
    Reply::ok(ctx, body)
}
