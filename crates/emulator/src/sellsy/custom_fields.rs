//! Custom fields: definitions (`/custom-fields`) and the values objects carry
//! (`/{contacts|companies|individuals}/{id}/custom-fields`, `embed[]=cf.{id}`).
//!
//! Values are checked against their definition's type; see [`check_value`].

use std::sync::Arc;

use axum::body::Bytes;
use serde_json::{json, Map, Value};

use super::clock;
use super::error::{ApiError, Problems};
use super::paging::{Row, SortValue};
use super::parties::{touch, Party};
use super::query::{json_body_or, QueryParams};
use super::respond::{self, parse_id, Reply};
use super::store::Pointer;
use super::store::{Owner, Record, Store};
use super::validation::Kind::*;
use super::validation::{check_object, field, is_email, required, Rule};
use super::SellsyState;

const RELATED_OBJECTS: &[&str] = &[
    "document",
    "contact",
    "client",
    "prospect",
    "supplier",
    "item",
    "service",
    "ticket",
    "task",
    "purchase",
    "opportunity",
    "project",
    "staff",
    "site",
];
const FILTER_FIELDS: &[Rule] = &[
    field("related_object", Enum(RELATED_OBJECTS)),
    field("is_required", Bool),
];
const FILTERS: &[Rule] = &[required("filters", Object(FILTER_FIELDS))];

/// Does definition `def` apply to this object? Contacts match `contact`; companies and
/// individuals match their third type (`client`, `prospect`, `supplier`).
pub fn applies_to(store: &Store, def: &Record, owner: Owner, id: i64) -> bool {
    let kind = match owner {
        Owner::Contact => "contact".to_string(),
        _ => store
            .owner_table(owner)
            .get(id)
            .and_then(|r| r.get("type"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    };
    def.get("related_object")
        .and_then(Value::as_array)
        .is_some_and(|objs| objs.iter().any(|o| o.as_str() == Some(kind.as_str())))
}

/// A definition plus the object's `value` (null when unset).
pub fn value_item(store: &Store, def: &Record, owner: Owner, id: i64) -> Value {
    let field_id = def.get("id").and_then(Value::as_i64).unwrap_or_default();
    let mut item = def.clone();
    let value = store
        .custom_field_values
        .get(&(owner, id, field_id))
        .cloned()
        .unwrap_or(Value::Null);
    item.insert("value".into(), value);
    Value::Object(item)
}

fn choice_ids(def: &Record) -> Vec<i64> {
    def.pointer("/parameters/items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("id").and_then(Value::as_i64))
                .collect()
        })
        .unwrap_or_default()
}

fn is_numeric_string(v: &Value) -> bool {
    v.as_str()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .is_some_and(f64::is_finite)
}

fn id_list(value: &Value, max: usize) -> Result<Vec<i64>, String> {
    let items = value.as_array().ok_or("must be an array of ids")?;
    if items.len() > max {
        return Err(format!("takes at most {max} values"));
    }
    items
        .iter()
        .map(|v| {
            v.as_i64()
                .filter(|id| *id > 0)
                .ok_or_else(|| "must be an array of ids".to_string())
        })
        .collect()
}

/// Check a written value against its definition; returns the value in its read shape.
pub fn check_value(store: &Store, def: &Record, value: &Value) -> Result<Value, String> {
    let kind = def.get("type").and_then(Value::as_str).unwrap_or_default();
    if value.is_null() {
        if def.get("mandatory") == Some(&Value::Bool(true)) {
            return Err("is mandatory".into());
        }
        return Ok(Value::Null);
    }
    let max_values = def
        .pointer("/parameters/number_of_values")
        .and_then(Value::as_u64)
        .unwrap_or(10) as usize;
    match kind {
        "simple-text" | "rich-text" | "url" => {
            let s = value.as_str().ok_or("must be a string")?;
            match def.pointer("/parameters/char_max").and_then(Value::as_u64) {
                Some(max) if s.chars().count() as u64 > max => {
                    Err(format!("must be at most {max} characters"))
                }
                _ => Ok(value.clone()),
            }
        }
        "email" => match value.as_str() {
            Some(s) if is_email(s) => Ok(value.clone()),
            _ => Err("must be an e-mail address".into()),
        },
        "numeric" => match is_numeric_string(value) {
            true => Ok(value.clone()),
            false => Err("must be a numeric string".into()),
        },
        "date" => match value.as_str().and_then(clock::parse_date) {
            Some(_) => Ok(value.clone()),
            None => Err("must be a date YYYY-MM-DD".into()),
        },
        "time" => match value.as_str().and_then(clock::parse_time) {
            Some(_) => Ok(value.clone()),
            None => Err("must be a time HH:MM".into()),
        },
        "amount" => {
            let o = value.as_object().ok_or("must be {amount, currency}")?;
            let amount_ok = o
                .get("amount")
                .is_some_and(|a| a.is_null() || is_numeric_string(a));
            let currency_ok = o
                .get("currency")
                .is_some_and(|c| c.is_null() || c.is_string());
            if amount_ok && currency_ok {
                Ok(json!({ "amount": o.get("amount"), "currency": o.get("currency") }))
            } else {
                Err("must be {amount: numeric string, currency: string}".into())
            }
        }
        "numeric-with-unit" => {
            let o = value.as_object().ok_or("must be {number, unit_id}")?;
            let number_ok = o
                .get("number")
                .is_some_and(|n| n.is_null() || is_numeric_string(n));
            let units: Vec<i64> = def
                .pointer("/parameters/units")
                .and_then(Value::as_array)
                .map(|u| {
                    u.iter()
                        .filter_map(|x| x.get("id").and_then(Value::as_i64))
                        .collect()
                })
                .unwrap_or_default();
            let unit_ok = o
                .get("unit_id")
                .is_some_and(|u| u.is_null() || u.as_i64().is_some_and(|id| units.contains(&id)));
            if number_ok && unit_ok {
                Ok(json!({ "number": o.get("number"), "unit_id": o.get("unit_id") }))
            } else {
                Err("must be {number: numeric string, unit_id: a unit of the field}".into())
            }
        }
        "radio" | "select" => match value.as_i64() {
            Some(id) if choice_ids(def).contains(&id) => Ok(value.clone()),
            _ => Err("must be the id of one of the field's choices".into()),
        },
        "checkbox" => {
            let ids = id_list(value, usize::MAX)?;
            let choices = choice_ids(def);
            match ids.iter().all(|id| choices.contains(id)) {
                true => Ok(json!(ids)),
                false => Err("must be ids of the field's choices".into()),
            }
        }
        "boolean" => match value.is_boolean() {
            true => Ok(value.clone()),
            false => Err("must be a boolean".into()),
        },
        "company-individual" => {
            let ids = id_list(value, max_values)?;
            ids.iter()
                .map(|id| {
                    if store.companies.contains(*id) {
                        Ok(json!({ "type": "company", "id": id }))
                    } else if store.individuals.contains(*id) {
                        Ok(json!({ "type": "individual", "id": id }))
                    } else {
                        Err(format!("no company or individual {id}"))
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        "contact" | "staff" | "item" => {
            let ids = id_list(value, max_values)?;
            let exists = |id: i64| match kind {
                "contact" => store.contacts.contains(id),
                "staff" => store.staffs.contains(id),
                _ => true,
            };
            match ids.iter().find(|id| !exists(**id)) {
                Some(id) => Err(format!("no {kind} {id}")),
                None => Ok(json!(ids)),
            }
        }
        _ => Ok(value.clone()),
    }
}

pub async fn list(state: Arc<SellsyState>, raw: Option<String>) -> Reply {
    definitions(&state, raw, None)
}

pub async fn search(state: Arc<SellsyState>, raw: Option<String>, body: Bytes) -> Reply {
    let body = json_body_or(&body, json!({ "filters": {} }))?;
    let object = check_object(&body, &[FILTERS])?;
    let filters = object
        .get("filters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    definitions(&state, raw, Some(filters))
}

fn definitions(
    state: &SellsyState,
    raw: Option<String>,
    filters: Option<Map<String, Value>>,
) -> Reply {
    let q = QueryParams::parse(raw.as_deref());
    let list = q.list(&["id"])?;
    let fields = q.fields()?;
    let store = state.store();
    let keep = |def: &Record| {
        let Some(f) = &filters else { return true };
        let related_ok = f
            .get("related_object")
            .and_then(Value::as_str)
            .is_none_or(|wanted| {
                def.get("related_object")
                    .and_then(Value::as_array)
                    .is_some_and(|objs| objs.iter().any(|o| o.as_str() == Some(wanted)))
            });
        let required_ok = f
            .get("is_required")
            .is_none_or(|wanted| def.get("mandatory") == Some(wanted));
        related_ok && required_ok
    };
    let rows = store
        .custom_fields
        .rows
        .iter()
        .filter(|(_, def)| keep(def))
        .map(|(id, def)| Row {
            key: SortValue::Int(*id),
            id: *id,
            item: def,
        })
        .collect();
    respond::list(rows, &list, &fields, |def| Value::Object(def.clone()))
}

pub async fn get(state: Arc<SellsyState>, id: String, raw: Option<String>) -> Reply {
    let id = parse_id(&id, "Custom field")?;
    let fields = QueryParams::parse(raw.as_deref()).fields()?;
    let store = state.store();
    let def = store
        .custom_fields
        .get(id)
        .ok_or_else(|| ApiError::not_found("Custom field", id))?;
    respond::ok(super::projection::project(
        Value::Object(def.clone()),
        &fields,
    ))
}

fn values_page(store: &Store, party: Party, id: i64, raw: Option<&str>) -> Reply {
    let q = QueryParams::parse(raw);
    let list = q.list(&["id"])?;
    let fields = q.fields()?;
    let rows = store
        .custom_fields
        .rows
        .iter()
        .filter(|(_, def)| applies_to(store, def, party.owner(), id))
        .map(|(fid, def)| Row {
            key: SortValue::Int(*fid),
            id: *fid,
            item: def,
        })
        .collect();
    respond::list(rows, &list, &fields, |def| {
        value_item(store, def, party.owner(), id)
    })
}

/// `GET /{contacts|companies|individuals}/{id}/custom-fields`.
pub async fn values(
    party: Party,
    state: Arc<SellsyState>,
    id: String,
    raw: Option<String>,
) -> Reply {
    let id = parse_id(&id, party.what())?;
    let store = state.store();
    if !store.owner_table(party.owner()).contains(id) {
        return Err(ApiError::not_found(party.what(), id));
    }
    values_page(&store, party, id, raw.as_deref())
}

/// `PUT /{contacts|companies|individuals}/{id}/custom-fields` with `[{id, value}]`.
pub async fn set_values(
    party: Party,
    state: Arc<SellsyState>,
    id: String,
    raw: Option<String>,
    body: Bytes,
) -> Reply {
    let id = parse_id(&id, party.what())?;
    let verify = QueryParams::parse(raw.as_deref()).verify()?;
    let body = json_body_or(&body, json!([]))?;
    let mut store = state.store();
    if !store.owner_table(party.owner()).contains(id) {
        return Err(ApiError::not_found(party.what(), id));
    }
    let Some(items) = body.as_array() else {
        return Err(ApiError::invalid_field(
            "body",
            "must be an array of {id, value}",
        ));
    };
    let mut problems = Problems::default();
    let mut accepted = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field_id = item.get("id").and_then(Value::as_i64);
        let (Some(field_id), Some(value)) = (field_id, item.get("value")) else {
            problems.add(
                format!("[{i}]"),
                "must be an object with an integer id and a value",
            );
            continue;
        };
        let Some(def) = store.custom_fields.get(field_id) else {
            problems.add(format!("[{i}].id"), "no custom field with this id");
            continue;
        };
        if !applies_to(&store, def, party.owner(), id) {
            problems.add(
                format!("[{i}].id"),
                "this custom field does not apply to this object",
            );
            continue;
        }
        match check_value(&store, def, value) {
            Ok(read_shape) => accepted.push((field_id, read_shape)),
            Err(problem) => problems.add(format!("[{i}].value"), problem),
        }
    }
    problems.into_result()?;
    if verify {
        return respond::no_content();
    }
    for (field_id, value) in accepted {
        let key = (party.owner(), id, field_id);
        if value.is_null() {
            store.custom_field_values.remove(&key);
        } else {
            store.custom_field_values.insert(key, value);
        }
    }
    let record = touch(&mut store, party, id, |_| {})?;
    state.notify(&store, party.change(&record, "updated"));
    values_page(&store, party, id, None)
}

/// The definitions every emulator starts with: one or more of each type.
pub fn seed_definitions(store: &mut Store) {
    let group = json!({ "id": 1, "name": "General", "code": "general", "open_by_default": true });
    let all_thirds = json!(["contact", "client", "prospect", "supplier"]);
    let choices = |base: i64, labels: &[&str]| {
        let items: Vec<Value> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| json!({ "id": base + i as i64, "label": l, "checked": false, "rank": i + 1 }))
            .collect();
        json!({ "items": items, "min": null, "max": null })
    };
    let text = json!({ "default_value": null, "char_min": 0, "char_max": 250 });
    let number = json!({ "default_value": null, "min_value": null, "max_value": null });
    let refs = |n: u64| json!({ "number_of_values": n });
    let definitions = [
        (
            "GHL contact id",
            "ghl-contact-id",
            "simple-text",
            json!(["contact"]),
            text.clone(),
        ),
        (
            "Customer segment",
            "customer-segment",
            "simple-text",
            all_thirds.clone(),
            text.clone(),
        ),
        (
            "Background",
            "background",
            "rich-text",
            json!(["contact"]),
            text,
        ),
        (
            "Secondary e-mail",
            "secondary-email",
            "email",
            json!(["contact"]),
            json!({}),
        ),
        (
            "Profile URL",
            "profile-url",
            "url",
            json!(["contact", "client", "prospect"]),
            json!({}),
        ),
        (
            "Score",
            "score",
            "numeric",
            all_thirds.clone(),
            number.clone(),
        ),
        (
            "Anniversary",
            "anniversary",
            "date",
            json!(["contact"]),
            json!({ "min_date": null, "max_date": null }),
        ),
        (
            "Best time to call",
            "best-time-to-call",
            "time",
            json!(["contact"]),
            json!({ "min_hour": null, "max_hour": null }),
        ),
        (
            "Budget",
            "budget",
            "amount",
            json!(["contact", "client", "prospect"]),
            json!({ "currency": "EUR" }),
        ),
        (
            "Fleet size",
            "fleet-size",
            "numeric-with-unit",
            json!(["client", "prospect"]),
            json!({ "units": [{ "id": 1, "label": "vehicles" }, { "id": 2, "label": "trucks" }] }),
        ),
        (
            "Lead source",
            "lead-source",
            "radio",
            json!(["contact", "client", "prospect"]),
            choices(101, &["Web", "Referral", "Event"]),
        ),
        (
            "Industry",
            "industry",
            "select",
            all_thirds.clone(),
            choices(201, &["Retail", "Software", "Construction", "Health"]),
        ),
        (
            "Interests",
            "interests",
            "checkbox",
            json!(["contact"]),
            choices(301, &["Newsletter", "Webinars", "Events"]),
        ),
        (
            "VIP",
            "vip",
            "boolean",
            all_thirds,
            json!({ "default_value": false }),
        ),
        (
            "Related third",
            "related-third",
            "company-individual",
            json!(["contact"]),
            refs(3),
        ),
        (
            "Referred by",
            "referred-by",
            "contact",
            json!(["contact", "client"]),
            refs(1),
        ),
        (
            "Account manager",
            "account-manager",
            "staff",
            json!(["contact", "client", "prospect"]),
            refs(1),
        ),
        (
            "Products of interest",
            "products-of-interest",
            "item",
            json!(["contact"]),
            refs(5),
        ),
    ];
    for (rank, (name, code, kind, related, parameters)) in definitions.into_iter().enumerate() {
        let record = json!({
            "id": 0, "name": name, "code": code, "description": "", "type": kind, "mandatory": false,
            "rank": rank + 1, "related_object": related, "customfield_group": group, "parameters": parameters,
        });
        store
            .custom_fields
            .insert(record.as_object().cloned().unwrap_or_default());
    }
}
