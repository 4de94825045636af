//! `/contacts/{contactId}/addresses`: a contact's postal addresses. Creating the first
//! one makes it the invoicing and delivery address unless told otherwise.

use std::sync::Arc;

use axum::body::Bytes;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::paging::{Row, SortValue};
use super::parties::{touch, Party};
use super::query::{json_body, json_body_or, ListQuery, QueryParams};
use super::respond::{self, parse_id, Reply};
use super::store::{Record, Store};
use super::validation::Kind::*;
use super::validation::{check_object, copy_writable, field, nullable, required, Rule, TEXT};
use super::SellsyState;

const NAME: super::validation::Kind = Str {
    min: 2,
    max: usize::MAX,
};
const CODE: super::validation::Kind = Str { min: 2, max: 2 };
const GEOCODE: &[Rule] = &[nullable("lat", Number), nullable("lng", Number)];

const COMMON: &[Rule] = &[
    nullable("address_line_2", TEXT),
    nullable("address_line_3", TEXT),
    nullable("address_line_4", TEXT),
    field("is_invoicing_address", Bool),
    field("is_delivery_address", Bool),
    field("geocode", Object(GEOCODE)),
];
const CREATE: &[Rule] = &[
    required("name", NAME),
    required("address_line_1", TEXT),
    required("postal_code", NAME),
    required("city", NAME),
    required("country_code", CODE),
];
const UPDATE: &[Rule] = &[
    field("name", NAME),
    field("address_line_1", TEXT),
    field("postal_code", NAME),
    field("city", NAME),
    field("country_code", CODE),
];

const COUNTRIES: &[(&str, &str)] = &[
    ("FR", "France"),
    ("BE", "Belgium"),
    ("CH", "Switzerland"),
    ("DE", "Germany"),
    ("ES", "Spain"),
    ("IT", "Italy"),
    ("GB", "United Kingdom"),
    ("US", "United States"),
    ("CA", "Canada"),
];

fn country_label(code: &str) -> Value {
    COUNTRIES
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code))
        .map(|(_, name)| json!(name))
        .unwrap_or(Value::Null)
}

/// A blank address record.
pub fn blank() -> Record {
    match json!({
        "id": 0, "name": "", "address_line_1": null, "address_line_2": null, "address_line_3": null,
        "address_line_4": null, "postal_code": null, "city": "", "country": null, "country_code": "",
        "is_invoicing_address": false, "is_delivery_address": false,
        "geocode": {"lat": null, "lng": null},
    }) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Store a new address for `contact` (already validated) and update the contact's
/// invoicing/delivery pointers. Returns the address id.
pub fn insert(store: &mut Store, contact: i64, body: &Map<String, Value>) -> i64 {
    let mut record = blank();
    copy_writable(body, COMMON, &mut record);
    copy_writable(body, CREATE, &mut record);
    let id = store.addresses.insert(record);
    store.address_contact.insert(id, contact);
    let has = |store: &Store, key: &str| {
        store
            .contacts
            .get(contact)
            .and_then(|c| c.get(key))
            .is_some_and(|v| !v.is_null())
    };
    let invoicing = body
        .get("is_invoicing_address")
        .and_then(Value::as_bool)
        .unwrap_or(!has(store, "invoicing_address_id"));
    let delivery = body
        .get("is_delivery_address")
        .and_then(Value::as_bool)
        .unwrap_or(!has(store, "delivery_address_id"));
    settle(store, contact, id, Some(invoicing), Some(delivery));
    id
}

/// Apply invoicing/delivery flags of address `id` and keep the contact's pointers and the
/// other addresses' flags consistent; also fills `country`.
fn settle(
    store: &mut Store,
    contact: i64,
    id: i64,
    invoicing: Option<bool>,
    delivery: Option<bool>,
) {
    for (flag, key, role) in [
        (invoicing, "is_invoicing_address", "invoicing_address_id"),
        (delivery, "is_delivery_address", "delivery_address_id"),
    ] {
        let Some(on) = flag else { continue };
        let current = store
            .contacts
            .get(contact)
            .and_then(|c| c.get(role))
            .and_then(Value::as_i64);
        let pointer = match (on, current) {
            (true, _) => Some(id),
            (false, Some(c)) if c == id => None,
            (false, other) => other,
        };
        if let Some(c) = store.contacts.get_mut(contact) {
            c.insert(role.into(), pointer.map(Value::from).unwrap_or(Value::Null));
        }
        for (addr, owner) in store.address_contact.clone() {
            if owner == contact {
                if let Some(a) = store.addresses.get_mut(addr) {
                    a.insert(key.into(), Value::Bool(pointer == Some(addr)));
                }
            }
        }
    }
    if let Some(a) = store.addresses.get_mut(id) {
        let code = a
            .get("country_code")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_uppercase();
        a.insert("country".into(), country_label(&code));
        a.insert("country_code".into(), Value::String(code));
    }
}

fn owned(store: &Store, contact: i64, id: i64) -> Result<(), ApiError> {
    if !store.contacts.contains(contact) {
        return Err(ApiError::not_found("Contact", contact));
    }
    if store.address_contact.get(&id) != Some(&contact) {
        return Err(ApiError::not_found("Address", id));
    }
    Ok(())
}

pub async fn list(state: Arc<SellsyState>, contact: String, raw: Option<String>) -> Reply {
    let contact = parse_id(&contact, "Contact")?;
    let fields = QueryParams::parse(raw.as_deref()).fields()?;
    let store = state.store();
    if !store.contacts.contains(contact) {
        return Err(ApiError::not_found("Contact", contact));
    }
    let rows: Vec<_> = store
        .address_contact
        .iter()
        .filter(|(_, c)| **c == contact)
        .filter_map(|(a, _)| {
            store.addresses.get(*a).map(|r| Row {
                key: SortValue::Int(*a),
                id: *a,
                item: r,
            })
        })
        .collect();
    let list = ListQuery::everything(rows.len());
    respond::list(rows, &list, &fields, |r| Value::Object(r.clone()))
}

pub async fn create(
    state: Arc<SellsyState>,
    contact: String,
    raw: Option<String>,
    body: Bytes,
) -> Reply {
    let contact = parse_id(&contact, "Contact")?;
    let verify = QueryParams::parse(raw.as_deref()).verify()?;
    let body = json_body(&body)?;
    let mut store = state.store();
    if !store.contacts.contains(contact) {
        return Err(ApiError::not_found("Contact", contact));
    }
    let object = check_object(&body, &[COMMON, CREATE])?;
    if verify {
        return respond::no_content();
    }
    let id = insert(&mut store, contact, object);
    let contact_record = touch(&mut store, Party::Contact, contact, |_| {})?;
    state.notify(&store, Party::Contact.change(&contact_record, "updated"));
    respond::created(Value::Object(
        store.addresses.get(id).cloned().unwrap_or_default(),
    ))
}

pub async fn get(state: Arc<SellsyState>, contact: String, id: String) -> Reply {
    let contact = parse_id(&contact, "Contact")?;
    let id = parse_id(&id, "Address")?;
    let store = state.store();
    owned(&store, contact, id)?;
    respond::ok(Value::Object(
        store.addresses.get(id).cloned().unwrap_or_default(),
    ))
}

pub async fn update(
    state: Arc<SellsyState>,
    contact: String,
    id: String,
    raw: Option<String>,
    body: Bytes,
) -> Reply {
    let contact = parse_id(&contact, "Contact")?;
    let id = parse_id(&id, "Address")?;
    let verify = QueryParams::parse(raw.as_deref()).verify()?;
    let body = json_body_or(&body, json!({}))?;
    let mut store = state.store();
    owned(&store, contact, id)?;
    let object = check_object(&body, &[COMMON, UPDATE])?;
    if verify {
        return respond::no_content();
    }
    if let Some(address) = store.addresses.get_mut(id) {
        copy_writable(object, COMMON, address);
        copy_writable(object, UPDATE, address);
    }
    let flag = |k: &str| object.get(k).and_then(Value::as_bool);
    settle(
        &mut store,
        contact,
        id,
        flag("is_invoicing_address"),
        flag("is_delivery_address"),
    );
    let contact_record = touch(&mut store, Party::Contact, contact, |_| {})?;
    state.notify(&store, Party::Contact.change(&contact_record, "updated"));
    respond::ok(Value::Object(
        store.addresses.get(id).cloned().unwrap_or_default(),
    ))
}

pub async fn delete(state: Arc<SellsyState>, contact: String, id: String) -> Reply {
    let contact = parse_id(&contact, "Contact")?;
    let id = parse_id(&id, "Address")?;
    let mut store = state.store();
    owned(&store, contact, id)?;
    store.addresses.remove(id);
    store.address_contact.remove(&id);
    let contact_record = touch(&mut store, Party::Contact, contact, |c| {
        for role in ["invoicing_address_id", "delivery_address_id"] {
            if c.get(role).and_then(Value::as_i64) == Some(id) {
                c.insert(role.into(), Value::Null);
            }
        }
    })?;
    state.notify(&store, Party::Contact.change(&contact_record, "updated"));
    respond::no_content()
}
