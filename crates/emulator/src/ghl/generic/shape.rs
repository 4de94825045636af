//! Response bodies shaped by an operation's success response schema.
//!
//! [`shape`] builds a value of a table type from an optional source (a stored record,
//! or the request's own values): a source value is kept where its name matches and it
//! already conforms to the declared type (nested objects and arrays are shaped in turn
//! from their source); required fields without a usable source get a plausible value
//! of the right type (ids for `…Id`, ISO timestamps for dates, the first enum value,
//! `true` for success flags, `0`, `[]`, `{}`); optional fields are included only when
//! the source has them, or when they are the wrapper of the payload (`{product: …}`),
//! an array, or a `traceId`. Lists put the collection's records into the response's
//! array of objects and the total into its count field.

use hlbridge_core::optable::{Field, Schema, Ty};
use hlbridge_core::schema_check::conforms;
use serde_json::{Map, Value};

use crate::ghl::ids::{new_id, trace_id};

/// Deepest object nesting generated.
const MAX_DEPTH: usize = 8;
/// Optional nested objects are generated down to this depth only.
const OPTIONAL_OBJECT_DEPTH: usize = 2;

/// What a response is built from, besides the schema.
#[derive(Debug, Default)]
pub struct Source<'a> {
    /// The record (or request values) whose fields fill the body.
    pub record: Option<&'a Value>,
    /// The record's id (fills `id`, `_id` and the item's id parameter).
    pub id: Option<&'a str>,
    /// The item id parameter's name (`productId`).
    pub id_param: Option<&'a str>,
    pub location_id: &'a str,
    pub company_id: &'a str,
    /// ISO timestamp for date-like fields without a source.
    pub now: String,
    /// The operation's payload key (`product`, `invoices`), where the table names one.
    pub wrapper: Option<&'a str>,
    /// The records of a list answer, with the total before paging.
    pub list: Option<(&'a [Value], usize)>,
    /// A delete: `deleted` flags are true.
    pub deleting: bool,
}

struct Shaper<'a> {
    src: &'a Source<'a>,
    /// Set once the list's records were placed, so nested arrays stay empty.
    list_placed: bool,
}

/// Shape a body of type `ty` from `src`.
pub fn shape(ty: &Ty, src: &Source<'_>) -> Value {
    let mut s = Shaper {
        src,
        list_placed: false,
    };
    if let (Ty::Array(inner), Some((items, _))) = (ty, src.list) {
        s.list_placed = true;
        return Value::Array(items.iter().map(|r| s.item(inner, r)).collect());
    }
    s.value(ty, src.record, "", 0)
}

fn is_id_name(name: &str) -> bool {
    name == "id" || name == "_id" || name.ends_with("Id") || name.ends_with("_id")
}

fn is_date_name(name: &str) -> bool {
    name.ends_with("At")
        || name.ends_with("_at")
        || name.ends_with("Time")
        || name.starts_with("date")
        || name.ends_with("Date")
        || name == "timestamp"
}

/// Numeric bounds (`minimum`/`maximum`) of response fields, which the table does not
/// carry, by field name (every response field of that name in the spec files has them).
const BOUNDS: &[(&str, f64, f64)] = &[
    // phone-system: numbers by location, `pageSize` 1..=1000, `page` >= 0.
    ("pageSize", 1.0, 1000.0),
    ("page", 0.0, f64::MAX),
    // voice-ai agents.
    ("maxCallDuration", 180.0, 900.0),
    ("reminderAfterIdleTimeSeconds", 1.0, 20.0),
    ("startHour", 0.0, 23.0),
    ("endHour", 0.0, 23.0),
    ("startMinute", 0.0, 59.0),
    ("endMinute", 0.0, 59.0),
    // calendars: open hours.
    ("daysOfTheWeek", 0.0, 6.0),
    ("openHour", 0.0, 23.0),
    ("closeHour", 0.0, 23.0),
    ("openMinute", 0.0, 60.0),
    ("closeMinute", 0.0, 60.0),
];

fn bounds(name: &str) -> Option<(f64, f64)> {
    BOUNDS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, lo, hi)| (*lo, *hi))
}

/// `value` within the bounds of the field `name` (unchanged when it has none).
fn clamp(name: &str, value: f64) -> f64 {
    match bounds(name) {
        Some((lo, hi)) if value.is_finite() => value.clamp(lo, hi),
        Some((lo, _)) => lo,
        None => value,
    }
}

/// Response fields the spec types as `oneOf` object alternatives (`Ty::Any` in the
/// table): a value that satisfies exactly one alternative, keeping the source's values
/// of that alternative's properties. `None` for other names.
fn one_of_choice(name: &str, source: Option<&Value>) -> Option<Value> {
    // (alternative's required properties with defaults, its other text properties)
    let (required, optional): (Value, &[&str]) = match name {
        // conversation-ai action `details`: `triggerWorkflowDto`, the only alternative
        // that requires `workflowIds`.
        "details" => (
            serde_json::json!({"workflowIds": [], "triggerCondition": ""}),
            &["triggerMessage"],
        ),
        // voice-ai `actionParameters`: `KnowledgeBaseParameters`, the only alternative
        // that requires `knowledgeBaseId`.
        "actionParameters" => (
            serde_json::json!({"triggerPrompt": "", "knowledgeBaseId": ""}),
            &[],
        ),
        _ => return None,
    };
    let mut out = required.as_object().cloned().unwrap_or_default();
    if let Some(Value::Object(src)) = source {
        for (key, default) in out.iter_mut() {
            if let Some(v) = src.get(key) {
                // Arrays of these alternatives are arrays of strings (ids, examples).
                let strings = v
                    .as_array()
                    .is_some_and(|items| items.iter().all(Value::is_string));
                let same_kind =
                    (strings && default.is_array()) || (v.is_string() && default.is_string());
                if same_kind {
                    *default = v.clone();
                }
            }
        }
        for key in optional {
            if let Some(v @ Value::String(_)) = src.get(*key) {
                out.insert((*key).to_string(), v.clone());
            }
        }
    }
    Some(Value::Object(out))
}

/// Names the spec types as `format: date-time` in responses (`createdAt`,
/// `issueDate`, `date`): their values must be RFC 3339 date-times even where the
/// request took a plain date.
fn is_timestamp_name(name: &str) -> bool {
    name.ends_with("At") || name.starts_with("date") || name.ends_with("Date")
}

/// `text` as an RFC 3339 date-time: kept when it is one, a plain date becomes
/// midnight UTC, anything else is not a timestamp.
fn as_timestamp(text: &str) -> Option<String> {
    if chrono::DateTime::parse_from_rfc3339(text).is_ok() {
        return Some(text.to_string());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(|d| format!("{d}T00:00:00.000Z"))
}

fn is_success_name(name: &str) -> bool {
    // `status: true` is GHL's success flag where `status` is a boolean.
    matches!(name, "success" | "succeded" | "succeeded" | "ok" | "status")
        || name.starts_with("success")
}

fn is_count_name(name: &str) -> bool {
    matches!(
        name,
        "total" | "count" | "totalCount" | "total_count" | "totalRecords" | "totalItems"
    )
}

impl Shaper<'_> {
    fn item(&mut self, ty: &Ty, record: &Value) -> Value {
        let id = record
            .get("id")
            .or_else(|| record.get("_id"))
            .and_then(Value::as_str);
        let src = Source {
            record: Some(record),
            id,
            id_param: self.src.id_param,
            location_id: self.src.location_id,
            company_id: self.src.company_id,
            now: self.src.now.clone(),
            wrapper: None,
            list: None,
            deleting: false,
        };
        let mut inner = Shaper {
            src: &src,
            list_placed: true,
        };
        inner.value(ty, Some(record), "", 1)
    }

    /// A value of `ty` for the field `name` from `source` (when it conforms or can be
    /// shaped), else a default.
    fn value(&mut self, ty: &Ty, source: Option<&Value>, name: &str, depth: usize) -> Value {
        let table = &hlbridge_ghl::TABLE;
        match (ty, source) {
            (Ty::Object(Some(schema)), src) if depth <= MAX_DEPTH => match table.schema(schema) {
                Some(schema) => {
                    let obj = src.and_then(Value::as_object);
                    self.object(schema, obj, depth)
                }
                None => src
                    .filter(|v| v.is_object())
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Map::new())),
            },
            (Ty::Array(inner), Some(Value::Array(items))) => Value::Array(
                items
                    .iter()
                    .filter(|v| !v.is_null())
                    .map(|v| self.value(inner, Some(v), name, depth + 1))
                    .collect(),
            ),
            (Ty::Any, src) if one_of_choice(name, None).is_some() => {
                one_of_choice(name, src).unwrap_or(Value::Null)
            }
            (Ty::Integer | Ty::Number, Some(Value::Number(n))) if bounds(name).is_some() => {
                Value::from(clamp(name, n.as_f64().unwrap_or_default()))
            }
            (Ty::String, Some(Value::String(text))) if is_timestamp_name(name) => {
                Value::String(as_timestamp(text).unwrap_or_else(|| self.src.now.clone()))
            }
            (_, Some(v)) if !v.is_null() && conforms(table, ty, v) => v.clone(),
            _ => self.default(ty, name, depth),
        }
    }

    fn default(&mut self, ty: &Ty, name: &str, depth: usize) -> Value {
        match ty {
            Ty::String => Value::String(self.default_string(name)),
            Ty::Integer | Ty::Number => Value::from(clamp(name, 0.0)),
            Ty::Boolean => {
                Value::Bool(is_success_name(name) || (self.src.deleting && name == "deleted"))
            }
            Ty::Enum(values) => Value::String(values.first().copied().unwrap_or_default().into()),
            Ty::Array(_) => Value::Array(Vec::new()),
            Ty::Object(Some(_)) if depth <= MAX_DEPTH => self.value(ty, None, name, depth),
            Ty::Object(_) => Value::Object(Map::new()),
            // `oneOf`/`anyOf` or untyped in the spec: the known choice, else a string
            // (the most common alternative: ids, dates, "string or number" values).
            Ty::Any => one_of_choice(name, None).unwrap_or_else(|| Value::String(String::new())),
        }
    }

    fn default_string(&self, name: &str) -> String {
        let src = self.src;
        let own_id = || {
            src.id
                .map(str::to_string)
                .unwrap_or_else(|| new_id(&mut rand::thread_rng()))
        };
        match name {
            "id" | "_id" => own_id(),
            "traceId" => trace_id(),
            "locationId" | "altId" => src.location_id.to_string(),
            "companyId" => src.company_id.to_string(),
            n if Some(n) == src.id_param => own_id(),
            n if is_id_name(n) => new_id(&mut rand::thread_rng()),
            n if is_date_name(n) => src.now.clone(),
            n if n.to_ascii_lowercase().contains("email") => "user@example.com".into(),
            n if n.to_ascii_lowercase().ends_with("url") || n == "link" => {
                "https://example.com".into()
            }
            "currency" => "USD".into(),
            "country" => "US".into(),
            "timezone" => "UTC".into(),
            "altType" => "location".into(),
            _ => String::new(),
        }
    }

    fn object(&mut self, schema: &Schema, src: Option<&Map<String, Value>>, depth: usize) -> Value {
        let mut out = Map::new();
        let list_field = if self.list_placed || self.src.list.is_none() {
            None
        } else {
            list_field(schema, self.src.wrapper)
        };
        for field in schema.fields {
            if Some(field.name) == list_field {
                if let (Ty::Array(inner), Some((items, _))) = (&field.ty, self.src.list) {
                    self.list_placed = true;
                    let shaped: Vec<Value> = items.iter().map(|r| self.item(inner, r)).collect();
                    out.insert(field.name.into(), Value::Array(shaped));
                    continue;
                }
            }
            if let Some(v) = self.field(field, src, depth) {
                out.insert(field.name.into(), v);
            }
        }
        Value::Object(out)
    }

    fn field(
        &mut self,
        field: &Field,
        src: Option<&Map<String, Value>>,
        depth: usize,
    ) -> Option<Value> {
        let given = src.and_then(|m| m.get(field.name));
        if let Some(Value::Null) = given {
            if field.nullable {
                return Some(Value::Null);
            }
        }
        let given = given.filter(|v| !v.is_null());
        if let (Some(total), true) = (self.src.list.map(|(_, t)| t), is_count_name(field.name)) {
            if matches!(field.ty, Ty::Integer | Ty::Number) && depth <= 1 {
                return Some(Value::from(total));
            }
        }
        if let Some(v) = given {
            return Some(self.value(&field.ty, Some(v), field.name, depth + 1));
        }
        // The payload wrapper (`{product: {...}}`): shaped from the same record.
        let is_object = matches!(field.ty, Ty::Object(Some(_)));
        let wraps = is_object
            && depth == 0
            && (Some(field.name) == self.src.wrapper || self.src.wrapper.is_none());
        if wraps && self.src.record.is_some() {
            let record = self.src.record;
            return Some(self.value(&field.ty, record, field.name, depth + 1));
        }
        if field.required {
            return Some(self.default(&field.ty, field.name, depth + 1));
        }
        match field.ty {
            Ty::Object(Some(_)) if depth < OPTIONAL_OBJECT_DEPTH => {
                Some(self.default(&field.ty, field.name, depth + 1))
            }
            Ty::Array(_) if depth < OPTIONAL_OBJECT_DEPTH => Some(Value::Array(Vec::new())),
            Ty::String if field.name == "traceId" => Some(Value::String(trace_id())),
            Ty::Boolean if depth == 0 && is_success_name(field.name) => Some(Value::Bool(true)),
            _ => None,
        }
    }
}

/// The field of `schema` that holds a list's records: the payload key when it is an
/// array of objects, else the first array of objects.
fn list_field(schema: &Schema, wrapper: Option<&str>) -> Option<&'static str> {
    let arrays = || {
        schema
            .fields
            .iter()
            .filter(|f| matches!(f.ty, Ty::Array(Ty::Object(_))))
    };
    arrays()
        .find(|f| Some(f.name) == wrapper)
        .or_else(|| arrays().find(|f| f.required))
        .or_else(|| arrays().next())
        .map(|f| f.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hlbridge_core::schema_check::{check_value, Strictness};
    use serde_json::json;

    fn src<'a>(record: Option<&'a Value>) -> Source<'a> {
        Source {
            record,
            id: Some("AbCdEfGhIjKlMnOpQrSt"),
            id_param: Some("productId"),
            location_id: "loc",
            company_id: "co",
            now: "2026-01-01T00:00:00.000Z".into(),
            wrapper: None,
            list: None,
            deleting: false,
        }
    }

    #[test]
    fn every_response_schema_shapes_to_a_conforming_value() {
        let record = json!({"id": "AbCdEfGhIjKlMnOpQrSt", "name": "n", "price": "wrong type"});
        for op in hlbridge_ghl::TABLE.distinct() {
            let Some(ty) = op.response else { continue };
            let body = shape(&ty, &src(Some(&record)));
            let bad = check_value(&hlbridge_ghl::TABLE, &ty, &body, Strictness::Closed);
            assert!(bad.is_empty(), "{}: {bad:?} in {body}", op.id);
        }
    }

    #[test]
    fn one_of_fields_answer_exactly_one_alternative() {
        let kept = one_of_choice(
            "details",
            Some(&json!({"workflowIds": ["w1"], "triggerCondition": "c", "contactFieldId": "x"})),
        );
        assert_eq!(
            kept,
            Some(json!({"workflowIds": ["w1"], "triggerCondition": "c"}))
        );
        let fixed = one_of_choice("details", Some(&json!({"workflowIds": [{}]})));
        assert_eq!(
            fixed,
            Some(json!({"workflowIds": [], "triggerCondition": ""}))
        );
        assert_eq!(one_of_choice("other", None), None);
        assert_eq!(clamp("maxCallDuration", 0.0), 180.0);
        assert_eq!(clamp("total", 7.0), 7.0);
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(
            as_timestamp("2024-08-07").as_deref(),
            Some("2024-08-07T00:00:00.000Z")
        );
        assert_eq!(
            as_timestamp("2024-08-07T10:00:00Z").as_deref(),
            Some("2024-08-07T10:00:00Z")
        );
        assert_eq!(as_timestamp("soon"), None);
        assert!(is_timestamp_name("createdAt") && is_timestamp_name("issueDate"));
        assert!(!is_timestamp_name("startTime"));
    }

    #[test]
    fn lists_fill_the_array_and_the_total() {
        let op = hlbridge_ghl::TABLE
            .distinct()
            .find(|o| o.path == "/products/" && o.method == hlbridge_core::optable::Method::Get)
            .expect("list products");
        let records = vec![
            json!({"_id": "p1", "name": "A"}),
            json!({"_id": "p2", "name": "B"}),
        ];
        let mut s = src(None);
        s.list = Some((&records, 7));
        s.wrapper = op.response_key;
        let body = shape(&op.response.expect("schema"), &s);
        let text = body.to_string();
        assert!(text.contains("\"p1\"") && text.contains("\"p2\""), "{text}");
    }
}
