//! Typed models of the Sellsy objects the sync works with. Unnamed fields are kept in
//! `extra`; timestamps stay strings exactly as Sellsy wrote them (ISO 8601 with offset).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A person (name, email, phones), linked to 0..n companies or individuals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    #[serde(default)]
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub civility: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoicing_address_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_archived: Option<bool>,
    /// Channels the contact accepts: `sms`, `phone`, `email`, `postal_mail`, `custom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketing_campaigns_subscriptions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Contact {
    /// `first_name last_name`, trimmed.
    pub fn full_name(&self) -> String {
        let first = self.first_name.as_deref().unwrap_or_default();
        let last = self.last_name.as_deref().unwrap_or_default();
        format!("{first} {last}").trim().to_string()
    }

    /// The `_embed` block, when embeds were requested.
    pub fn embedded(&self) -> Option<&Value> {
        self.extra.get("_embed")
    }
}

/// A company (B2B third party).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Company {
    #[serde(default)]
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_archived: Option<bool>,
    /// The contact holding the main role (read-only; set through the link's roles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_contact_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A private person as a customer, prospect or supplier (B2C third party).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Individual {
    #[serde(default)]
    pub id: i64,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An address of a contact or third party.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    #[serde(default)]
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line_1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line_2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_invoicing_address: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The object a task or comment hangs on: `{type: contact|company|individual|…, id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Related {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: i64,
}

impl Related {
    pub fn contact(id: i64) -> Self {
        Related {
            kind: "contact".into(),
            id,
        }
    }
}

/// A task (`status` todo/done).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Task {
    #[serde(default)]
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Related>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Task {
    pub fn is_done(&self) -> bool {
        self.status.as_deref() == Some("done")
    }
}

/// A comment (a note) on a contact, company, individual, …
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    #[serde(default)]
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Related>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A custom field definition (`GET /custom-fields`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomFieldDefinition {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub code: String,
    /// simple-text, rich-text, email, url, numeric, date, time, amount, numeric-with-unit,
    /// radio, select, checkbox, boolean, company-individual, contact, staff, item.
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub mandatory: bool,
    #[serde(default)]
    pub related_object: Vec<String>,
    #[serde(default)]
    pub parameters: Map<String, Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CustomFieldDefinition {
    /// The choices of a radio/select/checkbox field: `(id, label)`.
    pub fn choices(&self) -> Vec<(i64, String)> {
        self.parameters
            .get("items")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| {
                        Some((
                            i.get("id")?.as_i64()?,
                            i.get("label")?.as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A custom field value, shaped by the field's type as the spec says.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomFieldValue {
    /// simple-text, rich-text, email, url; date `YYYY-MM-DD`; time `HH:MM`.
    Text(String),
    /// numeric: a numeric string.
    Numeric(String),
    /// amount: `{amount, currency}`.
    Amount {
        amount: Option<String>,
        currency: Option<String>,
    },
    /// numeric-with-unit: `{number, unit_id}`.
    NumberWithUnit {
        number: Option<String>,
        unit_id: Option<i64>,
    },
    /// radio, select: one choice id.
    Choice(i64),
    /// checkbox: choice ids; contact, staff, item: object ids.
    Ids(Vec<i64>),
    Boolean(bool),
    /// company-individual: `[{type, id}]`.
    Parties(Vec<Related>),
    Null,
}

impl CustomFieldValue {
    /// Read a raw value given the field type.
    pub fn from_json(kind: &str, v: &Value) -> Option<Self> {
        if v.is_null() {
            return Some(CustomFieldValue::Null);
        }
        Some(match kind {
            "numeric" => CustomFieldValue::Numeric(match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            }),
            "amount" => CustomFieldValue::Amount {
                amount: v.get("amount").and_then(Value::as_str).map(str::to_string),
                currency: v
                    .get("currency")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            },
            "numeric-with-unit" => CustomFieldValue::NumberWithUnit {
                number: v.get("number").and_then(Value::as_str).map(str::to_string),
                unit_id: v.get("unit_id").and_then(Value::as_i64),
            },
            "radio" | "select" => CustomFieldValue::Choice(v.as_i64()?),
            "checkbox" | "contact" | "staff" | "item" => {
                CustomFieldValue::Ids(v.as_array()?.iter().filter_map(Value::as_i64).collect())
            }
            "boolean" => CustomFieldValue::Boolean(v.as_bool()?),
            "company-individual" => {
                CustomFieldValue::Parties(serde_json::from_value(v.clone()).ok()?)
            }
            _ => CustomFieldValue::Text(v.as_str()?.to_string()),
        })
    }

    /// The value as a `PUT .../custom-fields` body takes it: like [`Self::to_json`], except
    /// company-individual values, which are written as a list of ids.
    pub fn to_write_json(&self) -> Value {
        match self {
            CustomFieldValue::Parties(p) => {
                Value::Array(p.iter().map(|r| Value::from(r.id)).collect())
            }
            other => other.to_json(),
        }
    }

    pub fn to_json(&self) -> Value {
        use serde_json::json;
        match self {
            CustomFieldValue::Text(s) | CustomFieldValue::Numeric(s) => Value::String(s.clone()),
            CustomFieldValue::Amount { amount, currency } => {
                json!({"amount": amount, "currency": currency})
            }
            CustomFieldValue::NumberWithUnit { number, unit_id } => {
                json!({"number": number, "unit_id": unit_id})
            }
            CustomFieldValue::Choice(id) => json!(id),
            CustomFieldValue::Ids(ids) => json!(ids),
            CustomFieldValue::Boolean(b) => json!(b),
            CustomFieldValue::Parties(p) => serde_json::to_value(p).unwrap_or(Value::Null),
            CustomFieldValue::Null => Value::Null,
        }
    }
}

/// An object's custom field: its definition and current value.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomFieldEntry {
    pub definition: CustomFieldDefinition,
    pub value: CustomFieldValue,
}

impl CustomFieldEntry {
    /// Read one item of `GET /{objects}/{id}/custom-fields` (definition + `value`).
    pub fn from_json(item: &Value) -> Option<Self> {
        let definition: CustomFieldDefinition = serde_json::from_value(item.clone()).ok()?;
        let raw = item.get("value").cloned().unwrap_or(Value::Null);
        let value = CustomFieldValue::from_json(&definition.kind, &raw)?;
        let mut definition = definition;
        definition.extra.remove("value");
        Some(CustomFieldEntry { definition, value })
    }
}

/// A smart tag (Sellsy's tags).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmartTag {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub value: String,
}

/// A task label; creating a task needs one (`GET /tasks/labels`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskLabel {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub is_active: bool,
    #[serde(default)]
    pub rank: i64,
}

/// A staff member (`GET /staffs/me`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Staff {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub firstname: Option<String>,
    #[serde(default)]
    pub lastname: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A webhook registration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    #[serde(default)]
    pub id: i64,
    /// `http` or `slack`.
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub is_enabled: bool,
    #[serde(default)]
    pub endpoint: String,
    #[serde(default)]
    pub configuration: Vec<WebhookEvent>,
    #[serde(default)]
    pub nb_failures: i64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One subscribed event of a webhook: `people.created`, `client.updated`, `task.updated`…
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    pub id: String,
    #[serde(default = "enabled")]
    pub is_enabled: bool,
}

fn enabled() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn custom_values_round_trip_by_type() {
        for (kind, raw) in [
            ("numeric", json!("12.5")),
            ("amount", json!({"amount": "10.00", "currency": "EUR"})),
            ("select", json!(3)),
            ("checkbox", json!([1, 2])),
            ("boolean", json!(true)),
            ("simple-text", json!("hi")),
            ("company-individual", json!([{"type": "company", "id": 4}])),
        ] {
            let v = CustomFieldValue::from_json(kind, &raw).unwrap();
            assert_eq!(v.to_json(), raw, "{kind}");
        }
        assert!(CustomFieldValue::from_json("select", &json!("x")).is_none());
    }
}
