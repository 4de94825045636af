//! The `related` object of tasks and comments, and the ids derived from it.

use serde_json::{Map, Value};

use super::filter::{ids, in_time_range};
use super::store::Pointer;

use super::error::Problems;
use super::store::{Record, Store};

/// Check that modelled related objects (company, individual, contact) exist.
pub fn check_exists(store: &Store, related: Option<&Value>, problems: &mut Problems) {
    let Some(items) = related.and_then(Value::as_array) else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let (Some(kind), Some(id)) = (
            item.get("type").and_then(Value::as_str),
            item.get("id").and_then(Value::as_i64),
        ) else {
            continue;
        };
        let exists = match kind {
            "company" => store.companies.contains(id),
            "individual" => store.individuals.contains(id),
            "contact" => store.contacts.contains(id),
            _ => true,
        };
        if !exists {
            problems.add(
                format!("related[{i}].id"),
                format!("no {kind} with this id"),
            );
        }
    }
}

/// Set `related` (`[{id, type}]`) and the read-only `company_id`, `individual_id`, `contact_id`.
pub fn set(record: &mut Record, related: &Value) {
    let items: Vec<Value> = related
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    // Only what was given: a comment's related item need not name both.
                    let kept: Map<String, Value> = ["id", "type"]
                        .iter()
                        .filter_map(|k| i.get(*k).map(|v| (k.to_string(), v.clone())))
                        .collect();
                    Value::Object(kept)
                })
                .collect()
        })
        .unwrap_or_default();
    for kind in ["company", "individual", "contact"] {
        let id = items
            .iter()
            .find(|i| i.get("type").and_then(Value::as_str) == Some(kind))
            .and_then(|i| i.get("id").cloned())
            .unwrap_or(Value::Null);
        record.insert(format!("{kind}_id"), id);
    }
    record.insert("related".into(), Value::Array(items));
}

/// Does the record relate to one of `wanted` (`[{type, id}]`)?
pub fn matches_any(record: &Record, wanted: &Value) -> bool {
    let Some(wanted) = wanted.as_array() else {
        return true;
    };
    let related = record
        .get("related")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    wanted.iter().any(|w| {
        related
            .iter()
            .any(|r| r.get("type") == w.get("type") && r.get("id") == w.get("id"))
    })
}

/// The filters tasks and comments share: `created`, `owners`, `related_objects`,
/// `companies`, `individuals`, `contacts`. `None` for any other key.
pub fn shared_filter(record: &Record, key: &str, wanted: &Value) -> Option<bool> {
    let int = |pointer: &str| record.pointer(pointer).and_then(Value::as_i64);
    let among = |pointer: &str| int(pointer).is_some_and(|v| ids(wanted).contains(&v));
    Some(match key {
        "created" => in_time_range(record.get("created"), wanted),
        "owners" => among("/owner/id"),
        "related_objects" => matches_any(record, wanted),
        "companies" => among("/company_id"),
        "individuals" => among("/individual_id"),
        "contacts" => among("/contact_id"),
        _ => return None,
    })
}
