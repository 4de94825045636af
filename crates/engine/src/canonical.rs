//! The canonical contact both sides are mapped to: a flat object of named fields,
//! normalised so equal meaning gives equal JSON (and equal hashes).

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::phone::Region;

/// Canonical fields: (name, kind). Custom fields are `custom.<ghl key>`.
pub const FIELDS: &[(&str, FieldKind)] = &[
    ("first_name", FieldKind::Text),
    ("last_name", FieldKind::Text),
    ("email", FieldKind::Email),
    ("phone", FieldKind::Phone),
    ("company", FieldKind::Text),
    ("address", FieldKind::Text),
    ("city", FieldKind::Text),
    ("postal_code", FieldKind::Text),
    ("country", FieldKind::Country),
    ("website", FieldKind::Text),
    ("tags", FieldKind::Tags),
    ("birth_date", FieldKind::Date),
    ("dnd", FieldKind::Bool),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Email,
    Phone,
    Country,
    Tags,
    Date,
    Bool,
    Number,
    Choice,
    Choices,
}

pub fn kind_of(field: &str) -> Option<FieldKind> {
    FIELDS.iter().find(|(n, _)| *n == field).map(|(_, k)| *k)
}

/// A canonical record: field → value; absent means empty.
pub type Fields = BTreeMap<String, Value>;

/// Normalise one value of `kind`; `None` when empty. Phone numbers without a country
/// code are read as French: callers that know the pair's region (the mapping does) use
/// [`normalise_with`].
pub fn normalise(kind: FieldKind, v: &Value) -> Option<Value> {
    normalise_with(kind, v, Region::FR)
}

/// Normalise one value of `kind`, reading phone numbers without a country code in
/// `region`; `None` when empty (or, for a phone, not a usable number).
pub fn normalise_with(kind: FieldKind, v: &Value, region: Region) -> Option<Value> {
    let text = || match v {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match kind {
        FieldKind::Text => text().map(Value::String),
        FieldKind::Email => text().map(|s| Value::String(s.to_lowercase())),
        FieldKind::Phone => text()
            .and_then(|s| crate::phone::to_e164(&s, region))
            .map(Value::String),
        FieldKind::Country => text().map(|s| Value::String(s.to_uppercase())),
        FieldKind::Date => date_of(v).map(Value::String),
        FieldKind::Bool => match v {
            Value::Bool(b) => Some(Value::Bool(*b)),
            Value::String(s) => match s.trim().to_lowercase().as_str() {
                "true" | "yes" | "1" => Some(Value::Bool(true)),
                "false" | "no" | "0" => Some(Value::Bool(false)),
                _ => None,
            },
            _ => None,
        },
        FieldKind::Number => {
            let n = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().replace(',', ".").parse::<f64>().ok(),
                _ => None,
            }?;
            Some(Value::String(format_number(n)))
        }
        FieldKind::Choice => text().map(Value::String),
        FieldKind::Tags | FieldKind::Choices => {
            let mut items: Vec<String> = match v {
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(|s| s.trim().to_string()))
                    .collect(),
                Value::String(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
                _ => Vec::new(),
            };
            if kind == FieldKind::Tags {
                items = items.into_iter().map(|s| s.to_lowercase()).collect();
            }
            items.retain(|s| !s.is_empty());
            items.sort();
            items.dedup();
            (!items.is_empty())
                .then(|| Value::Array(items.into_iter().map(Value::String).collect()))
        }
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// `YYYY-MM-DD` of a date, date-time or epoch-milliseconds value.
pub fn date_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let s = s.trim();
            let head = s.get(..10)?;
            chrono::NaiveDate::parse_from_str(head, "%Y-%m-%d")
                .ok()
                .map(|d| d.format("%Y-%m-%d").to_string())
        }
        Value::Number(n) => {
            let ms = n.as_i64()?;
            chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d").to_string())
        }
        _ => None,
    }
}

/// Insert `raw` under `field` when it normalises to something (phones read as French;
/// see [`put_with`]).
pub fn put(fields: &mut Fields, field: &str, kind: FieldKind, raw: Option<&Value>) {
    put_with(fields, field, kind, raw, Region::FR)
}

/// Insert `raw` under `field` when it normalises to something, reading phone numbers
/// without a country code in `region`.
pub fn put_with(
    fields: &mut Fields,
    field: &str,
    kind: FieldKind,
    raw: Option<&Value>,
    region: Region,
) {
    if let Some(v) = raw.and_then(|r| normalise_with(kind, r, region)) {
        fields.insert(field.to_string(), v);
    }
}

/// Stable hash of a canonical object.
pub fn hash(data: &Value) -> String {
    hex::encode(&Sha256::digest(data.to_string().as_bytes())[..16])
}

pub fn to_value(fields: &Fields) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Map<_, _>>(),
    )
}

pub fn from_value(v: &Value) -> Fields {
    v.as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// Whether a value counts as empty.
pub fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_normalise() {
        assert_eq!(
            normalise(FieldKind::Email, &json!(" A@X.io ")),
            Some(json!("a@x.io"))
        );
        assert_eq!(
            normalise(FieldKind::Number, &json!("42.0")),
            Some(json!("42"))
        );
        assert_eq!(normalise(FieldKind::Number, &json!(42)), Some(json!("42")));
        assert_eq!(
            normalise(FieldKind::Date, &json!("1980-02-03T00:00:00.000Z")),
            Some(json!("1980-02-03"))
        );
        assert_eq!(
            normalise(FieldKind::Tags, &json!(["VIP", "lead", "vip"])),
            Some(json!(["lead", "vip"]))
        );
        assert_eq!(normalise(FieldKind::Text, &json!("  ")), None);
    }

    #[test]
    fn phones_normalise_in_the_given_region() {
        assert_eq!(
            normalise(FieldKind::Phone, &json!("06 12 34 56 78")),
            Some(json!("+33612345678"))
        );
        assert_eq!(
            normalise_with(FieldKind::Phone, &json!("(555) 100-0001"), Region::US),
            Some(json!("+15551000001"))
        );
        assert_eq!(
            normalise_with(FieldKind::Phone, &json!("+33 6 12 34 56 78"), Region::US),
            Some(json!("+33612345678"))
        );
        assert_eq!(normalise(FieldKind::Phone, &json!("n/a")), None);
        let mut f = Fields::new();
        put_with(
            &mut f,
            "phone",
            FieldKind::Phone,
            Some(&json!("07700 900123")),
            Region::GB,
        );
        assert_eq!(f["phone"], json!("+447700900123"));
    }
}
