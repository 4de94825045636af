//! Associations (kinds of links between object types) and relations (links between two
//! records): `/associations/...`.
//!
//! - Two SYSTEM_DEFINED associations exist from the start (`contact_opportunity`,
//!   `contact_business`); USER_DEFINED ones are created with a key unique in the
//!   location. Object keys are `contact`, `opportunity`, `business` or
//!   `custom_objects.<name>`. System associations cannot be updated or deleted;
//!   deleting an association deletes its relations.
//! - A relation joins `firstRecordId` (a record of the association's first object) and
//!   `secondRecordId`; contact ids must be contacts of the location, other ids must be
//!   well-formed. The same pair twice → 400. Relations of a deleted contact disappear.
//! - Relation responses carry the relation (`id, associationId, firstRecordId,
//!   secondRecordId`) plus its association's fields, which the spec's (association)
//!   response schema requires.
//! - Lists (Find Associations, Get Relations by Record) answer
//!   `{associations|relations: [...], total, traceId}`, paged with skip/limit (the spec
//!   documents a single object; corrected in the overrides).
//! - Unknown ids → 400. Webhooks: `AssociationCreate/Update/Delete`,
//!   `RelationCreate/Delete`.

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use super::context::{Ctx, Reply};
use super::errors::ApiError;
use super::store::Store;
use super::webhooks::Event;

/// Seed of the system associations' ids.
const SEED: u64 = 0x6173_736f_6369;

#[derive(Debug, Default)]
pub struct Associations {
    /// Whether the system associations were added.
    ready: bool,
    pub items: Vec<Association>,
    pub relations: Vec<Relation>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Association {
    pub id: String,
    pub key: String,
    pub first_key: String,
    pub first_label: Value,
    pub second_key: String,
    pub second_label: Value,
    pub system: bool,
    pub date_added: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    pub id: String,
    pub association_id: String,
    pub first_record_id: String,
    pub second_record_id: String,
    pub date_added: DateTime<Utc>,
}

/// A 24-hex-digit id (GHL's association and relation ids are Mongo ObjectIds).
pub fn object_id(rng: &mut impl Rng) -> String {
    (0..24)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

impl Association {
    fn kind(&self) -> &'static str {
        if self.system {
            "SYSTEM_DEFINED"
        } else {
            "USER_DEFINED"
        }
    }

    fn fields(&self, location_id: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("locationId".into(), json!(location_id));
        m.insert("id".into(), json!(self.id));
        m.insert("key".into(), json!(self.key));
        m.insert("firstObjectLabel".into(), self.first_label.clone());
        m.insert("firstObjectKey".into(), json!(self.first_key));
        m.insert("secondObjectLabel".into(), self.second_label.clone());
        m.insert("secondObjectKey".into(), json!(self.second_key));
        m.insert("associationType".into(), json!(self.kind()));
        m
    }

    pub fn render(&self, location_id: &str) -> Value {
        Value::Object(self.fields(location_id))
    }

    fn label_text(v: &Value) -> Value {
        match v {
            Value::String(_) => v.clone(),
            other => Value::String(other.to_string()),
        }
    }

    fn webhook(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("associationType".into(), json!(self.kind()));
        m.insert("firstObjectKey".into(), json!(self.first_key));
        m.insert(
            "firstObjectLabel".into(),
            Self::label_text(&self.first_label),
        );
        m.insert("secondObjectKey".into(), json!(self.second_key));
        m.insert(
            "secondObjectLabel".into(),
            Self::label_text(&self.second_label),
        );
        m.insert("key".into(), json!(self.key));
        m
    }
}

impl Relation {
    fn render(&self, association: &Association, location_id: &str) -> Value {
        let mut m = association.fields(location_id);
        m.insert("id".into(), json!(self.id));
        m.insert("associationId".into(), json!(self.association_id));
        m.insert("firstRecordId".into(), json!(self.first_record_id));
        m.insert("secondRecordId".into(), json!(self.second_record_id));
        Value::Object(m)
    }

    fn webhook(&self, association: &Association) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("firstObjectKey".into(), json!(association.first_key));
        m.insert("firstRecordId".into(), json!(self.first_record_id));
        m.insert("secondObjectKey".into(), json!(association.second_key));
        m.insert("secondRecordId".into(), json!(self.second_record_id));
        m.insert("associationId".into(), json!(self.association_id));
        m
    }
}

/// Add the system associations once.
fn ensure(store: &mut Store) {
    if store.other.associations.ready {
        return;
    }
    let mut rng = StdRng::seed_from_u64(SEED);
    let at = DateTime::<Utc>::UNIX_EPOCH;
    let system = |rng: &mut StdRng, key: &str, second: &str, label: &str| Association {
        id: object_id(rng),
        key: key.to_string(),
        first_key: "contact".into(),
        first_label: json!("Contact"),
        second_key: second.to_string(),
        second_label: json!(label),
        system: true,
        date_added: at,
    };
    let items = vec![
        system(
            &mut rng,
            "contact_opportunity",
            "opportunity",
            "Opportunity",
        ),
        system(&mut rng, "contact_business", "business", "Business"),
    ];
    let a = &mut store.other.associations;
    let mut user = std::mem::take(&mut a.items);
    a.items = items;
    a.items.append(&mut user);
    a.ready = true;
}

fn not_found() -> ApiError {
    ApiError::bad_request("Association not found")
}

fn relation_not_found() -> ApiError {
    ApiError::bad_request("Relation not found")
}

/// `contact`, `opportunity`, `business` or `custom_objects.<snake_case>`.
fn valid_object_key(key: &str) -> bool {
    match key.strip_prefix("custom_objects.") {
        Some(name) => {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        }
        None => matches!(key, "contact" | "opportunity" | "business"),
    }
}

fn object_key(ctx: &Ctx, name: &str) -> Result<String, ApiError> {
    match ctx.body.get(name).and_then(Value::as_str).map(str::trim) {
        Some(k) if valid_object_key(k) => Ok(k.to_string()),
        _ => Err(ApiError::bad_request(format!(
            "{name} must be contact, opportunity, business or custom_objects.<key>"
        ))),
    }
}

fn label(ctx: &Ctx, name: &str) -> Result<Value, ApiError> {
    match ctx.body.get(name) {
        Some(Value::String(s)) if s.trim().is_empty() => Err(ApiError::unprocessable(format!(
            "{name} should not be empty"
        ))),
        Some(Value::String(s)) => Ok(json!(s.trim())),
        // The spec types labels as objects; any non-null value is kept as given.
        Some(v) if !v.is_null() => Ok(v.clone()),
        _ => Err(ApiError::unprocessable(format!(
            "{name} should not be empty"
        ))),
    }
}

/// Whether two records may be related: no duplicates among relations of the location.
fn record_ok(store: &Store, object_key: &str, id: &str) -> bool {
    if object_key == "contact" {
        return store.contacts.contains_key(id);
    }
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A relation whose contact records all still exist.
fn relation_live(store: &Store, r: &Relation) -> bool {
    let Some(a) = store
        .other
        .associations
        .items
        .iter()
        .find(|a| a.id == r.association_id)
    else {
        return false;
    };
    (a.first_key != "contact" || store.contacts.contains_key(&r.first_record_id))
        && (a.second_key != "contact" || store.contacts.contains_key(&r.second_record_id))
}

fn page<T>(items: Vec<T>, ctx: &Ctx) -> Result<(usize, Vec<T>), ApiError> {
    let skip = usize::try_from(ctx.query_number("skip", 0, 0, None)?).unwrap_or(0);
    let limit = usize::try_from(ctx.query_number("limit", 100, 1, Some(1000))?).unwrap_or(100);
    let total = items.len();
    Ok((total, items.into_iter().skip(skip).take(limit).collect()))
}

/// `GET /associations/?locationId&skip&limit`.
pub fn find(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    ensure(store);
    let all: Vec<Value> = store
        .other
        .associations
        .items
        .iter()
        .map(|a| a.render(&store.location_id))
        .collect();
    let (total, items) = page(all, ctx)?;
    Ok(Reply::ok(ctx, json!({ "associations": items, "total": total })).traced())
}

/// `GET /associations/{associationId}`.
pub fn get(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    ensure(store);
    let a = store
        .other
        .associations
        .items
        .iter()
        .find(|a| a.id == ctx.path("associationId"))
        .ok_or_else(not_found)?;
    Ok(Reply::ok(ctx, a.render(&store.location_id)))
}

/// `GET /associations/key/{key_name}`.
pub fn get_by_key(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    ensure(store);
    let a = store
        .other
        .associations
        .items
        .iter()
        .find(|a| a.key == ctx.path("key_name"))
        .ok_or_else(not_found)?;
    Ok(Reply::ok(ctx, a.render(&store.location_id)))
}

/// `GET /associations/objectKey/{objectKey}`: the first association (system ones
/// first, then by creation) involving the object, as the spec's single object.
pub fn get_by_object_key(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    ensure(store);
    let key = ctx.path("objectKey");
    if !valid_object_key(key) {
        return Err(ApiError::bad_request(
            "objectKey must be contact, opportunity, business or custom_objects.<key>",
        ));
    }
    let a = store
        .other
        .associations
        .items
        .iter()
        .find(|a| a.first_key == key || a.second_key == key)
        .ok_or_else(not_found)?;
    Ok(Reply::ok(ctx, a.render(&store.location_id)))
}

/// `POST /associations/`.
pub fn create(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    ensure(store);
    let key = ctx.body_str("key").unwrap_or_default().trim().to_string();
    if key.is_empty() {
        return Err(ApiError::unprocessable("key should not be empty"));
    }
    let first_key = object_key(ctx, "firstObjectKey")?;
    let second_key = object_key(ctx, "secondObjectKey")?;
    let first_label = label(ctx, "firstObjectLabel")?;
    let second_label = label(ctx, "secondObjectLabel")?;
    if store.other.associations.items.iter().any(|a| a.key == key) {
        return Err(ApiError::bad_request(format!(
            "An association with key {key} already exists"
        )));
    }
    let now = store.now();
    let a = Association {
        id: object_id(&mut store.rng),
        key,
        first_key,
        first_label,
        second_key,
        second_label,
        system: false,
        date_added: now,
    };
    let body = a.render(&store.location_id);
    let event = Event::new("AssociationCreate", a.webhook());
    store.other.associations.items.push(a);
    Ok(Reply::ok(ctx, body).with_events(vec![event]))
}

/// `PUT /associations/{associationId}`: the two labels.
pub fn update(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    ensure(store);
    let first = label(ctx, "firstObjectLabel")?;
    let second = label(ctx, "secondObjectLabel")?;
    let location_id = store.location_id.clone();
    let a = store
        .other
        .associations
        .items
        .iter_mut()
        .find(|a| a.id == ctx.path("associationId"))
        .ok_or_else(not_found)?;
    if a.system {
        return Err(ApiError::bad_request(
            "System defined associations cannot be updated",
        ));
    }
    a.first_label = first;
    a.second_label = second;
    Ok(Reply::ok(ctx, a.render(&location_id))
        .with_events(vec![Event::new("AssociationUpdate", a.webhook())]))
}

/// `DELETE /associations/{associationId}`: USER_DEFINED only, with its relations.
pub fn delete(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    ensure(store);
    let id = ctx.path("associationId").to_string();
    let assoc = &mut store.other.associations;
    let pos = assoc
        .items
        .iter()
        .position(|a| a.id == id)
        .ok_or_else(not_found)?;
    if assoc.items[pos].system {
        return Err(ApiError::bad_request(
            "System defined associations cannot be deleted",
        ));
    }
    let a = assoc.items.remove(pos);
    assoc.relations.retain(|r| r.association_id != id);
    Ok(Reply::ok(
        ctx,
        json!({ "deleted": true, "id": id, "message": "Association deleted" }),
    )
    .with_events(vec![Event::new("AssociationDelete", a.webhook())]))
}

/// `POST /associations/relations`.
pub fn create_relation(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    ensure(store);
    let association_id = ctx.body_str("associationId").unwrap_or_default();
    let first = ctx
        .body_str("firstRecordId")
        .unwrap_or_default()
        .to_string();
    let second = ctx
        .body_str("secondRecordId")
        .unwrap_or_default()
        .to_string();
    let a = store
        .other
        .associations
        .items
        .iter()
        .find(|a| a.id == association_id)
        .cloned()
        .ok_or_else(not_found)?;
    if !record_ok(store, &a.first_key, &first) {
        return Err(ApiError::bad_request(format!(
            "firstRecordId {first} is not a {} record of this location",
            a.first_key
        )));
    }
    if !record_ok(store, &a.second_key, &second) {
        return Err(ApiError::bad_request(format!(
            "secondRecordId {second} is not a {} record of this location",
            a.second_key
        )));
    }
    if a.first_key == a.second_key && first == second {
        return Err(ApiError::bad_request(
            "A record cannot be related to itself",
        ));
    }
    let duplicate = store.other.associations.relations.iter().any(|r| {
        r.association_id == a.id
            && ((r.first_record_id == first && r.second_record_id == second)
                || (a.first_key == a.second_key
                    && r.first_record_id == second
                    && r.second_record_id == first))
    });
    if duplicate {
        return Err(ApiError::bad_request("This relation already exists"));
    }
    let now = store.now();
    let r = Relation {
        id: object_id(&mut store.rng),
        association_id: a.id.clone(),
        first_record_id: first,
        second_record_id: second,
        date_added: now,
    };
    let body = r.render(&a, &store.location_id);
    let event = Event::new("RelationCreate", r.webhook(&a));
    store.other.associations.relations.push(r);
    Ok(Reply::ok(ctx, body).with_events(vec![event]))
}

/// `GET /associations/relations/{recordId}?locationId&skip&limit&associationIds`.
pub fn relations_of(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    ensure(store);
    let record = ctx.path("recordId");
    let wanted: Vec<&str> = ctx
        .query
        .iter()
        .filter(|(k, _)| k == "associationIds" || k == "associationIds[]")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    let assoc = &store.other.associations;
    let all: Vec<Value> = assoc
        .relations
        .iter()
        .filter(|r| r.first_record_id == record || r.second_record_id == record)
        .filter(|r| wanted.is_empty() || wanted.contains(&r.association_id.as_str()))
        .filter(|r| relation_live(store, r))
        .filter_map(|r| {
            let a = assoc.items.iter().find(|a| a.id == r.association_id)?;
            Some(r.render(a, &store.location_id))
        })
        .collect();
    let (total, items) = page(all, ctx)?;
    Ok(Reply::ok(ctx, json!({ "relations": items, "total": total })).traced())
}

/// `DELETE /associations/relations/{relationId}?locationId`.
pub fn delete_relation(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    ensure(store);
    let id = ctx.path("relationId");
    let pos = store
        .other
        .associations
        .relations
        .iter()
        .position(|r| r.id == id)
        .ok_or_else(relation_not_found)?;
    let r = store.other.associations.relations.remove(pos);
    let a = store
        .other
        .associations
        .items
        .iter()
        .find(|a| a.id == r.association_id)
        .cloned()
        .ok_or_else(not_found)?;
    Ok(Reply::ok(ctx, r.render(&a, &store.location_id))
        .with_events(vec![Event::new("RelationDelete", r.webhook(&a))]))
}
