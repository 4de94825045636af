//! GHL contact ↔ canonical fields.

use hlbridge_ghl::{Contact, ContactInput, CustomFieldInput};
use serde_json::Value;

use super::{FieldSpec, Mapping};
use crate::canonical::{self, FieldKind, Fields};

/// Field writes: `None` clears the field.
pub type Changes = std::collections::BTreeMap<String, Option<Value>>;

fn str_value(s: &Option<String>) -> Option<Value> {
    s.as_ref().map(|s| Value::String(s.clone()))
}

/// The canonical view of a GHL contact.
pub fn read(contact: &Contact, mapping: &Mapping) -> Fields {
    let mut f = Fields::new();
    for spec in &mapping.fields {
        let raw = match spec.name.as_str() {
            "first_name" => str_value(&contact.first_name),
            "last_name" => str_value(&contact.last_name),
            "email" => str_value(&contact.email),
            "phone" => str_value(&contact.phone),
            "company" => str_value(&contact.company_name),
            "address" => str_value(&contact.address1),
            "city" => str_value(&contact.city),
            "postal_code" => str_value(&contact.postal_code),
            "country" => str_value(&contact.country),
            "website" => str_value(&contact.website),
            "tags" => Some(Value::Array(
                contact.tags.iter().cloned().map(Value::String).collect(),
            )),
            "birth_date" => str_value(&contact.date_of_birth),
            "dnd" => Some(Value::Bool(contact.dnd.unwrap_or(false))),
            _ => spec.custom.as_ref().and_then(|c| {
                contact
                    .custom_fields
                    .iter()
                    .find(|v| v.id == c.ghl_id)
                    .map(|v| sellsy_spelling(spec, &v.value))
            }),
        };
        canonical::put_with(
            &mut f,
            &spec.name,
            spec.kind,
            raw.as_ref(),
            mapping.phone_region,
        );
    }
    mapping.transform(&mut f);
    f
}

/// Option labels read with the spelling of the Sellsy choice they name, so that both
/// sides of a pair give the same canonical value.
fn sellsy_spelling(spec: &FieldSpec, v: &Value) -> Value {
    let Some(pair) = &spec.custom else {
        return v.clone();
    };
    let label = |l: &Value| match l.as_str() {
        Some(l) => pair
            .sellsy_choices
            .iter()
            .find(|(_, c)| c.eq_ignore_ascii_case(l))
            .map_or_else(
                || Value::String(l.to_string()),
                |(_, c)| Value::String(c.clone()),
            ),
        None => l.clone(),
    };
    match (spec.kind, v) {
        (FieldKind::Choice, _) => label(v),
        (FieldKind::Choices, Value::Array(a)) => Value::Array(a.iter().map(label).collect()),
        _ => v.clone(),
    }
}

fn text(v: &Option<Value>) -> Option<String> {
    Some(match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(other) if !other.is_null() => other.to_string(),
        _ => String::new(),
    })
}

fn custom_value(spec: &FieldSpec, v: &Option<Value>) -> Value {
    let Some(v) = v else {
        return Value::String(String::new());
    };
    // A label is written with the spelling of the GHL option it names (GHL refuses
    // a value that is not exactly one of the options).
    let option = |l: &Value| match (l.as_str(), &spec.custom) {
        (Some(l), Some(pair)) => pair
            .ghl_options
            .iter()
            .find(|o| o.eq_ignore_ascii_case(l))
            .map_or_else(
                || Value::String(l.to_string()),
                |o| Value::String(o.clone()),
            ),
        _ => l.clone(),
    };
    match spec.kind {
        FieldKind::Number => v
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
            .unwrap_or_else(|| v.clone()),
        FieldKind::Choice => option(v),
        FieldKind::Choices => v.as_array().map_or_else(
            || v.clone(),
            |a| Value::Array(a.iter().map(option).collect()),
        ),
        _ => v.clone(),
    }
}

/// The update (or create) body writing `changes`.
pub fn write(changes: &Changes, mapping: &Mapping) -> ContactInput {
    let mut input = ContactInput::default();
    let mut custom = Vec::new();
    for (name, value) in changes {
        match name.as_str() {
            "first_name" => input.first_name = text(value),
            "last_name" => input.last_name = text(value),
            "email" => input.email = text(value),
            "phone" => input.phone = text(value),
            "company" => input.company_name = text(value),
            "address" => input.address1 = text(value),
            "city" => input.city = text(value),
            "postal_code" => input.postal_code = text(value),
            "country" => input.country = text(value),
            "website" => input.website = text(value),
            "birth_date" => input.date_of_birth = text(value),
            "dnd" => input.dnd = Some(value.as_ref().and_then(Value::as_bool).unwrap_or(false)),
            "tags" => {
                input.tags = Some(
                    value
                        .as_ref()
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|t| t.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                )
            }
            other => {
                if let Some(spec) = mapping.field(other) {
                    if let Some(pair) = &spec.custom {
                        custom.push(CustomFieldInput::by_id(
                            pair.ghl_id.clone(),
                            custom_value(spec, value),
                        ));
                    }
                }
            }
        }
    }
    if !custom.is_empty() {
        input.custom_fields = Some(custom);
    }
    input
}
