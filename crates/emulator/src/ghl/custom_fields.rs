//! The location's contact custom fields and the `customFields` input of contact writes.
//!
//! Input items are `{id | key, field_value}` (`fieldValue` and `value` are accepted as
//! aliases); `key` may be given with or without the `contact.` prefix. An item naming
//! no known field is refused with a 422 (GHL's spec requires `id` on every typed
//! variant; silently dropping the value would hide client bugs). Output is
//! `[{id, value}]`.

use rand::Rng;
use serde_json::{json, Value};

use super::contact::CustomFieldValue;
use super::errors::ApiError;
use super::ids::new_id;

/// Field types the emulator knows (GHL `dataType` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Text,
    LargeText,
    Numerical,
    Monetory,
    SingleOptions,
    MultipleOptions,
    Checkbox,
    Radio,
    Date,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "TEXT",
            FieldType::LargeText => "LARGE_TEXT",
            FieldType::Numerical => "NUMERICAL",
            FieldType::Monetory => "MONETORY",
            FieldType::SingleOptions => "SINGLE_OPTIONS",
            FieldType::MultipleOptions => "MULTIPLE_OPTIONS",
            FieldType::Checkbox => "CHECKBOX",
            FieldType::Radio => "RADIO",
            FieldType::Date => "DATE",
        }
    }

    /// Every type the emulator accepts for new fields.
    pub const ALL: [FieldType; 9] = [
        FieldType::Text,
        FieldType::LargeText,
        FieldType::Numerical,
        FieldType::Monetory,
        FieldType::SingleOptions,
        FieldType::MultipleOptions,
        FieldType::Checkbox,
        FieldType::Radio,
        FieldType::Date,
    ];

    /// A `dataType` value (case-insensitive).
    pub fn parse(raw: &str) -> Option<FieldType> {
        FieldType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(raw.trim()))
    }

    /// Whether values must be one of the field's options.
    pub fn has_options(self) -> bool {
        matches!(
            self,
            FieldType::SingleOptions
                | FieldType::MultipleOptions
                | FieldType::Checkbox
                | FieldType::Radio
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomFieldDef {
    pub id: String,
    /// Full key, e.g. `contact.lead_score`.
    pub key: String,
    pub name: String,
    pub data_type: FieldType,
    pub options: Vec<String>,
    pub placeholder: String,
    pub position: i64,
    /// `contact` or `opportunity`; contacts only take values for `contact` fields.
    pub model: &'static str,
}

impl CustomFieldDef {
    fn matches_key(&self, key: &str) -> bool {
        let short = self
            .key
            .split_once('.')
            .map(|(_, k)| k)
            .unwrap_or(&self.key);
        key == self.key || key == short
    }

    /// The `CustomFieldSchema` object. `position` is the stored one; the index argument
    /// is ignored (kept for callers that enumerate the list).
    pub fn render(&self, location_id: &str, _index: usize) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "fieldKey": self.key,
            "placeholder": self.placeholder,
            "dataType": self.data_type.as_str(),
            "position": self.position,
            "picklistOptions": self.options,
            "locationId": location_id,
            "model": self.model,
        })
    }
}

/// The demo location's custom fields (ids drawn from the store's seeded generator).
pub fn default_definitions(rng: &mut impl Rng) -> Vec<CustomFieldDef> {
    let mut position = 0;
    let mut def = |key: &str, name: &str, data_type: FieldType, options: &[&str]| {
        position += 50;
        CustomFieldDef {
            id: new_id(rng),
            key: format!("contact.{key}"),
            name: name.to_string(),
            data_type,
            options: options.iter().map(|s| s.to_string()).collect(),
            placeholder: String::new(),
            position: position - 50,
            model: "contact",
        }
    };
    vec![
        def("lead_score", "Lead score", FieldType::Numerical, &[]),
        def(
            "favourite_colour",
            "Favourite colour",
            FieldType::SingleOptions,
            &["red", "green", "blue"],
        ),
        def(
            "interests",
            "Interests",
            FieldType::MultipleOptions,
            &["sales", "support", "billing", "product"],
        ),
        def(
            "customer_notes",
            "Customer notes",
            FieldType::LargeText,
            &[],
        ),
        def("account_number", "Account number", FieldType::Text, &[]),
        def("renewal_date", "Renewal date", FieldType::Date, &[]),
    ]
}

/// Parse the `customFields` array of a contact write.
pub fn parse_input(
    defs: &[CustomFieldDef],
    input: &Value,
) -> Result<Vec<CustomFieldValue>, ApiError> {
    let Some(items) = input.as_array() else {
        return Err(ApiError::unprocessable("customFields must be an array"));
    };
    let defs: Vec<&CustomFieldDef> = defs.iter().filter(|d| d.model == "contact").collect();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(obj) = item.as_object() else {
            problems.push(format!("customFields.{i} must be an object"));
            continue;
        };
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let key = obj
            .get("key")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let def = match (id, key) {
            (Some(id), _) => defs.iter().copied().find(|d| d.id == id),
            (None, Some(key)) => defs.iter().copied().find(|d| d.matches_key(key)),
            (None, None) => {
                problems.push(format!("customFields.{i}.id should not be empty"));
                continue;
            }
        };
        let Some(def) = def else {
            problems.push(format!(
                "customFields.{i} refers to no custom field of this location ({})",
                id.or(key).unwrap_or_default()
            ));
            continue;
        };
        let raw = ["field_value", "fieldValue", "value"]
            .iter()
            .find_map(|k| obj.get(*k))
            .cloned()
            .unwrap_or(Value::Null);
        match coerce(def, raw) {
            Ok(value) => out.push(CustomFieldValue {
                id: def.id.clone(),
                value,
            }),
            Err(reason) => problems.push(format!("customFields.{i}.field_value {reason}")),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::Unprocessable(problems))
    }
}

/// Check and convert a value for the field's type. `null` or `""` clears the value.
fn coerce(def: &CustomFieldDef, raw: Value) -> Result<Value, String> {
    if raw.is_null() || raw.as_str() == Some("") {
        return Ok(Value::Null);
    }
    match def.data_type {
        FieldType::Numerical | FieldType::Monetory => match &raw {
            Value::Number(_) => Ok(raw),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| "must be a number".to_string()),
            _ => Err("must be a number".into()),
        },
        FieldType::MultipleOptions | FieldType::Checkbox => {
            let values: Vec<String> = match &raw {
                Value::String(s) => vec![s.clone()],
                Value::Array(items) => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or("must be an array of strings")
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err("must be an array of strings".into()),
            };
            if let Some(bad) = values
                .iter()
                .find(|v| !def.options.is_empty() && !def.options.contains(v))
            {
                return Err(format!(
                    "value {bad} must be one of the following values: {}",
                    def.options.join(", ")
                ));
            }
            Ok(json!(values))
        }
        FieldType::SingleOptions | FieldType::Radio => match raw.as_str() {
            Some(s) if def.options.is_empty() || def.options.iter().any(|o| o == s) => Ok(raw),
            Some(_) => Err(format!(
                "must be one of the following values: {}",
                def.options.join(", ")
            )),
            None => Err("must be a string".into()),
        },
        FieldType::Text | FieldType::LargeText | FieldType::Date => match &raw {
            Value::String(_) => Ok(raw),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            _ => Err("must be a string".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn defs() -> Vec<CustomFieldDef> {
        default_definitions(&mut rand::rngs::StdRng::seed_from_u64(3))
    }

    #[test]
    fn id_or_key_with_typed_values() {
        let d = defs();
        let input = json!([
            {"id": d[0].id, "field_value": "42"},
            {"key": "favourite_colour", "field_value": "red"},
            {"key": "contact.interests", "field_value": ["sales"]},
        ]);
        let out = parse_input(&d, &input).unwrap();
        assert_eq!(out[0].value, json!(42.0));
        assert_eq!(out[1].id, d[1].id);
        assert_eq!(out[2].value, json!(["sales"]));
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        let d = defs();
        let err = parse_input(&d, &json!([{"id": "nope", "field_value": "x"}])).unwrap_err();
        assert!(matches!(err, ApiError::Unprocessable(_)));
        let err = parse_input(
            &d,
            &json!([{"key": "favourite_colour", "field_value": "pink"}]),
        )
        .unwrap_err();
        assert!(err.body()["message"][0]
            .as_str()
            .unwrap()
            .contains("one of the following values"));
        assert!(parse_input(&d, &json!([{"field_value": "x"}])).is_err());
    }
}
