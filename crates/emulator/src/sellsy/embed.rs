//! `_embed` blocks: only the requested keys are present.

use serde_json::{json, Map, Value};

use super::custom_fields;
use super::query::Embeds;
use super::store::Pointer;
use super::store::{Owner, Record, Store};

/// Smart tags shown in an embed: the first 20, alphabetically.
pub const SMART_TAG_EMBED_CAP: usize = 20;

fn acl() -> Value {
    json!({ "can_be_updated": true, "can_be_deleted": true })
}

fn record_or_null(record: Option<&Record>) -> Value {
    record
        .map(|r| Value::Object(r.clone()))
        .unwrap_or(Value::Null)
}

/// Smart tags of an object, alphabetically (case-insensitive).
pub fn tags_of(store: &Store, owner: Owner, id: i64) -> Vec<Value> {
    let mut tags: Vec<(String, i64, Value)> = store
        .tag_links
        .range((owner, id, i64::MIN)..=(owner, id, i64::MAX))
        .filter_map(|(_, _, tag)| store.smart_tags.get(*tag))
        .map(|t| {
            let value = t.get("value").and_then(Value::as_str).unwrap_or_default();
            let id = t.get("id").and_then(Value::as_i64).unwrap_or_default();
            (value.to_lowercase(), id, Value::Object(t.clone()))
        })
        .collect();
    tags.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    tags.into_iter().map(|(_, _, t)| t).collect()
}

/// `_embed` of a contact, company or individual.
pub fn party(store: &Store, owner: Owner, record: &Record, embeds: &Embeds) -> Option<Value> {
    if embeds.is_empty() {
        return None;
    }
    let id = record.get("id").and_then(Value::as_i64).unwrap_or_default();
    let mut out = Map::new();
    for name in &embeds.names {
        let value = match name.as_str() {
            "invoicing_address" | "delivery_address" => {
                let key = format!("{name}_id");
                let address = record
                    .get(&key)
                    .and_then(Value::as_i64)
                    .and_then(|a| store.addresses.get(a));
                record_or_null(address)
            }
            "opportunities" | "estimates" | "invoices" | "orders" | "deliveries" => json!(0),
            "acl" => acl(),
            "smart_tags" => Value::Array(
                tags_of(store, owner, id)
                    .into_iter()
                    .take(SMART_TAG_EMBED_CAP)
                    .collect(),
            ),
            "main_contact" | "dunning_contact" | "invoicing_contact" => {
                let key = format!("{name}_id");
                let contact = record
                    .get(&key)
                    .and_then(Value::as_i64)
                    .and_then(|c| store.contacts.get(c));
                record_or_null(contact)
            }
            _ => continue,
        };
        out.insert(name.clone(), value);
    }
    if !embeds.custom_fields.is_empty() {
        let values: Vec<Value> = embeds
            .custom_fields
            .iter()
            .filter_map(|cf| store.custom_fields.get(*cf))
            .filter(|def| custom_fields::applies_to(store, def, owner, id))
            .map(|def| custom_fields::value_item(store, def, owner, id))
            .collect();
        out.insert("custom_fields".into(), Value::Array(values));
    }
    Some(Value::Object(out))
}

/// The object a task or comment is related to, or `null`.
fn related_record<'a>(store: &'a Store, kind: &str, id: i64) -> Option<&'a Record> {
    match kind {
        "company" => store.companies.get(id),
        "individual" => store.individuals.get(id),
        "contact" => store.contacts.get(id),
        _ => None,
    }
}

fn staff_restricted(store: &Store, id: i64) -> Value {
    store
        .staffs
        .get(id)
        .map(|s| {
            let mut s = s.clone();
            for extra in [
                "phone_number",
                "mobile_number",
                "civility",
                "timezone",
                "language",
                "created",
            ] {
                s.remove(extra);
            }
            Value::Object(s)
        })
        .unwrap_or(Value::Null)
}

/// `_embed` of a task or comment.
pub fn activity(store: &Store, record: &Record, embeds: &Embeds) -> Option<Value> {
    if embeds.is_empty() {
        return None;
    }
    let related = record
        .get("related")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .cloned();
    let related_ref = related
        .as_ref()
        .and_then(|r| Some((r.get("type")?.as_str()?.to_string(), r.get("id")?.as_i64()?)));
    let mut out = Map::new();
    for name in &embeds.names {
        let value = match name.as_str() {
            "owner" => {
                let owner_id = record
                    .pointer("/owner/id")
                    .and_then(Value::as_i64)
                    .unwrap_or_default();
                staff_restricted(store, owner_id)
            }
            "assigned_staffs" => Value::Array(
                record
                    .get("assigned_staff_ids")
                    .and_then(Value::as_array)
                    .map(|ids| {
                        ids.iter()
                            .filter_map(Value::as_i64)
                            .map(|s| staff_restricted(store, s))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            "related" => Value::Array(
                related_ref
                    .iter()
                    .map(|(kind, id)| {
                        let name = related_record(store, kind, *id).map(display_name);
                        json!({ "id": id, "type": kind, "name": name })
                    })
                    .collect(),
            ),
            "company" | "individual" | "contact" => {
                let key = format!("{name}_id");
                let id = record.get(&key).and_then(Value::as_i64);
                record_or_null(id.and_then(|id| related_record(store, name, id)))
            }
            "acl" => acl(),
            _ => continue,
        };
        out.insert(name.clone(), value);
    }
    Some(Value::Object(out))
}

/// A readable name: company `name`, else `first_name last_name`.
pub fn display_name(record: &Record) -> String {
    if let Some(name) = record.get("name").and_then(Value::as_str) {
        return name.to_string();
    }
    let part = |k: &str| {
        record
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    format!("{} {}", part("first_name"), part("last_name"))
        .trim()
        .to_string()
}

/// A task or comment with its `_embed`.
pub fn render_activity(store: &Store, record: &Record, embeds: &Embeds) -> Value {
    attach(record.clone(), activity(store, record, embeds))
}

/// Attach `_embed` (when any) to a rendered record.
pub fn attach(mut record: Record, embed: Option<Value>) -> Value {
    if let Some(embed) = embed {
        record.insert("_embed".into(), embed);
    }
    Value::Object(record)
}
