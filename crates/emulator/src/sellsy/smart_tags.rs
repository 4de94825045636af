//! `/contacts/{contactId}/smart-tags`: list and link tags, by `{value}` (create or reuse,
//! case- and accent-insensitive) or by `{id}`.

use std::sync::Arc;

use axum::body::Bytes;
use serde_json::{json, Value};

use super::embed::tags_of;
use super::error::{ApiError, Problems};
use super::paging::{Row, SortValue};
use super::parties::{touch, Party};
use super::query::{optional_json, ListQuery, QueryParams};
use super::respond::{self, parse_id, Reply};
use super::store::{Owner, Store};
use super::SellsyState;

/// Lower-case and strip the accents of Latin letters, for tag matching.
pub fn fold(value: &str) -> String {
    value
        .trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'ç' => 'c',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ñ' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ý' | 'ÿ' => 'y',
            other => other,
        })
        .collect()
}

/// The id of the tag spelled `value` (ignoring case and accents), created if missing.
pub fn tag_id(store: &mut Store, value: &str) -> i64 {
    let wanted = fold(value);
    let existing = store
        .smart_tags
        .rows
        .iter()
        .find(|(_, t)| {
            t.get("value").and_then(Value::as_str).map(fold).as_deref() == Some(wanted.as_str())
        })
        .map(|(id, _)| *id);
    existing.unwrap_or_else(|| {
        let record = json!({ "id": 0, "value": value.trim() });
        store
            .smart_tags
            .insert(record.as_object().cloned().unwrap_or_default())
    })
}

fn tag_list(store: &Store, contact: i64, raw: Option<&str>) -> Reply {
    let fields = QueryParams::parse(raw).fields()?;
    let tags = tags_of(store, Owner::Contact, contact);
    let list = ListQuery::everything(tags.len());
    let rows = tags
        .into_iter()
        .map(|t| {
            let id = t.get("id").and_then(Value::as_i64).unwrap_or_default();
            let key = fold(t.get("value").and_then(Value::as_str).unwrap_or_default());
            Row {
                key: SortValue::Text(key),
                id,
                item: t,
            }
        })
        .collect();
    respond::list(rows, &list, &fields, |t| t)
}

pub async fn list(state: Arc<SellsyState>, contact: String, raw: Option<String>) -> Reply {
    let contact = parse_id(&contact, "Contact")?;
    let store = state.store();
    if !store.contacts.contains(contact) {
        return Err(ApiError::not_found("Contact", contact));
    }
    tag_list(&store, contact, raw.as_deref())
}

pub async fn link(
    state: Arc<SellsyState>,
    contact: String,
    raw: Option<String>,
    body: Bytes,
) -> Reply {
    let contact = parse_id(&contact, "Contact")?;
    let body = optional_json(&body)?.unwrap_or(Value::Null);
    let mut store = state.store();
    if !store.contacts.contains(contact) {
        return Err(ApiError::not_found("Contact", contact));
    }
    let items = match &body {
        Value::Null => Vec::new(),
        Value::Array(items) => items.clone(),
        _ => {
            return Err(ApiError::invalid_field(
                "body",
                "must be an array of {value} or {id}",
            ))
        }
    };
    let mut problems = Problems::default();
    for (i, item) in items.iter().enumerate() {
        match (item.get("value"), item.get("id")) {
            (Some(Value::String(v)), _) if !v.trim().is_empty() => {}
            (Some(_), _) => problems.add(format!("[{i}].value"), "must be a non-empty string"),
            (None, Some(id)) => match id.as_i64() {
                Some(id) if store.smart_tags.contains(id) => {}
                Some(_) => problems.add(format!("[{i}].id"), "no smart tag with this id"),
                None => problems.add(format!("[{i}].id"), "must be an integer"),
            },
            (None, None) => problems.add(format!("[{i}]"), "must have a value or an id"),
        }
    }
    problems.into_result()?;
    for item in &items {
        let tag = match item.get("value").and_then(Value::as_str) {
            Some(v) => tag_id(&mut store, v),
            None => item.get("id").and_then(Value::as_i64).unwrap_or_default(),
        };
        store.tag_links.insert((Owner::Contact, contact, tag));
    }
    if !items.is_empty() {
        let record = touch(&mut store, Party::Contact, contact, |_| {})?;
        state.notify(&store, Party::Contact.change(&record, "updated"));
    }
    tag_list(&store, contact, raw.as_deref())
}
