//! Sellsy contact (with its invoicing address, smart tags, custom fields and company)
//! ↔ canonical fields.

use serde_json::{json, Map, Value};

use super::{FieldSpec, Mapping};
use crate::canonical::{self, FieldKind, Fields};
use crate::mapping::ghl::Changes;

/// Embeds a contact read needs.
pub fn embeds(mapping: &Mapping) -> Vec<String> {
    let mut out = vec!["invoicing_address".to_string(), "smart_tags".to_string()];
    out.extend(
        mapping
            .sellsy_custom_ids()
            .iter()
            .map(|id| format!("cf.{id}")),
    );
    out
}

fn custom_read(spec: &FieldSpec, raw: &Value) -> Option<Value> {
    let pair = spec.custom.as_ref()?;
    let label = |id: i64| {
        pair.sellsy_choices
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, l)| Value::String(l.clone()))
    };
    match spec.kind {
        FieldKind::Choice => raw.as_i64().and_then(label),
        FieldKind::Choices => Some(Value::Array(
            raw.as_array()?
                .iter()
                .filter_map(|v| v.as_i64().and_then(label))
                .collect(),
        )),
        _ => Some(raw.clone()),
    }
}

/// The canonical view of a Sellsy contact JSON (with `_embed`) and its company name.
pub fn read(contact: &Value, company: Option<&str>, mapping: &Mapping) -> Fields {
    let mut f = Fields::new();
    let get = |k: &str| contact.get(k).filter(|v| !v.is_null()).cloned();
    let address = contact
        .pointer("/_embed/invoicing_address")
        .filter(|a| a.is_object());
    let addr = |k: &str| address.and_then(|a| a.get(k)).cloned();
    for spec in &mapping.fields {
        let raw = match spec.name.as_str() {
            "first_name" | "last_name" | "email" | "website" | "birth_date" => get(&spec.name),
            "phone" => get("mobile_number")
                .filter(|v| !canonical::is_empty(Some(v)))
                .or_else(|| get("phone_number")),
            "company" => company.map(|c| Value::String(c.to_string())),
            "address" => addr("address_line_1"),
            "city" => addr("city"),
            "postal_code" => addr("postal_code"),
            "country" => addr("country_code"),
            "tags" => contact
                .pointer("/_embed/smart_tags")
                .and_then(Value::as_array)
                .map(|tags| {
                    Value::Array(
                        tags.iter()
                            .filter_map(|t| t.get("value").cloned())
                            .collect(),
                    )
                }),
            "dnd" => Some(Value::Bool(
                contact
                    .get("marketing_campaigns_subscriptions")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty),
            )),
            _ => spec.custom.as_ref().and_then(|pair| {
                contact
                    .pointer("/_embed/custom_fields")
                    .and_then(Value::as_array)?
                    .iter()
                    .find(|cf| cf.get("id").and_then(Value::as_i64) == Some(pair.sellsy_id))
                    .and_then(|cf| cf.get("value"))
                    .filter(|v| !v.is_null())
                    .and_then(|v| custom_read(spec, v))
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

/// What to send to Sellsy for a set of field changes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SellsyWrite {
    /// Body of the contact create/update.
    pub contact: Map<String, Value>,
    /// Smart tags to link (Sellsy cannot unlink through the API).
    pub tags_add: Vec<String>,
    /// Invoicing address parts that changed (`address_line_1`, `city`, ...).
    pub address: Map<String, Value>,
    /// `Some(name)`: link to that company (found by name or created); `Some("")` keeps.
    pub company: Option<String>,
    /// `[{id, value}]` for `PUT /contacts/{id}/custom-fields`.
    pub custom: Vec<Value>,
}

fn custom_write(spec: &FieldSpec, v: &Option<Value>) -> Option<Value> {
    let pair = spec.custom.as_ref()?;
    let value = match v {
        None => Value::Null,
        Some(v) => match spec.kind {
            FieldKind::Choice => {
                let label = v.as_str()?;
                json!(
                    pair.sellsy_choices
                        .iter()
                        .find(|(_, l)| l.eq_ignore_ascii_case(label))?
                        .0
                )
            }
            FieldKind::Choices => Value::Array(
                v.as_array()?
                    .iter()
                    .filter_map(|l| {
                        let l = l.as_str()?;
                        pair.sellsy_choices
                            .iter()
                            .find(|(_, c)| c.eq_ignore_ascii_case(l))
                            .map(|(id, _)| json!(id))
                    })
                    .collect(),
            ),
            _ => v.clone(),
        },
    };
    Some(json!({ "id": pair.sellsy_id, "value": value }))
}

/// Turn canonical changes into Sellsy writes. `current` is the Sellsy side as last
/// seen (to pick the phone slot and to know the tags already there).
pub fn write(
    changes: &Changes,
    current: &Fields,
    raw_current: Option<&Value>,
    mapping: &Mapping,
) -> SellsyWrite {
    let mut w = SellsyWrite::default();
    let text = |v: &Option<Value>| match v {
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(other) => other.clone(),
        None => Value::Null,
    };
    for (name, value) in changes {
        match name.as_str() {
            "first_name" | "last_name" | "email" | "website" | "birth_date" => {
                w.contact.insert(name.clone(), text(value));
            }
            "phone" => {
                let has_mobile = raw_current
                    .and_then(|c| c.get("mobile_number"))
                    .is_some_and(|v| !canonical::is_empty(Some(v)));
                let has_phone = raw_current
                    .and_then(|c| c.get("phone_number"))
                    .is_some_and(|v| !canonical::is_empty(Some(v)));
                let slot = if !has_mobile && has_phone {
                    "phone_number"
                } else {
                    "mobile_number"
                };
                w.contact.insert(slot.into(), text(value));
            }
            "dnd" => {
                let dnd = value.as_ref().and_then(Value::as_bool).unwrap_or(false);
                w.contact.insert(
                    "marketing_campaigns_subscriptions".into(),
                    if dnd {
                        json!([])
                    } else {
                        json!(["email", "sms", "phone"])
                    },
                );
            }
            "tags" => {
                let have: Vec<&str> = current
                    .get("tags")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if let Some(want) = value.as_ref().and_then(Value::as_array) {
                    w.tags_add = want
                        .iter()
                        .filter_map(Value::as_str)
                        .filter(|t| !have.contains(t))
                        .map(str::to_string)
                        .collect();
                }
            }
            "company" => {
                w.company = Some(
                    value
                        .as_ref()
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                )
            }
            "address" => {
                w.address.insert("address_line_1".into(), text(value));
            }
            "city" => {
                w.address.insert("city".into(), text(value));
            }
            "postal_code" => {
                w.address.insert("postal_code".into(), text(value));
            }
            "country" => {
                w.address.insert("country_code".into(), text(value));
            }
            other => {
                if let Some(item) = mapping.field(other).and_then(|s| custom_write(s, value)) {
                    w.custom.push(item);
                }
            }
        }
    }
    w
}
