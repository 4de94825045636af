//! Query-string parameters shared by list, search and write endpoints:
//! `limit`, `offset`, `order`, `direction`, `embed[]`, `field[]`, `verify`.

use serde_json::Value;

use super::error::{ApiError, Problems};
use super::paging::{Offset, SeekKey};

pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 100;
/// Numeric offsets reach only the first 100 000 results.
pub const MAX_NUMERIC_OFFSET: usize = 100_000;

/// The raw `key=value` pairs of a query string, in order.
#[derive(Debug, Default, Clone)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// Parameters of a list or search call.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub limit: usize,
    pub offset: Offset,
    pub order: &'static str,
    pub direction: Direction,
}

impl ListQuery {
    /// One page holding all `total` rows, for lists the spec gives no paging parameters.
    pub fn everything(total: usize) -> Self {
        ListQuery {
            limit: total.max(MAX_LIMIT),
            offset: Offset::Seek(None),
            order: "id",
            direction: Direction::Asc,
        }
    }
}

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        QueryParams { pairs }
    }

    /// The single value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values of an array parameter: `name[]=a`, `name[0]=a` or `name=a`. A lone
    /// empty value (`name=`) is how an empty array travels.
    pub fn array(&self, name: &str) -> Vec<&str> {
        let values: Vec<&str> = self
            .pairs
            .iter()
            .filter(|(k, _)| {
                k == name
                    || k.strip_prefix(name)
                        .and_then(|rest| rest.strip_prefix('['))
                        .and_then(|rest| rest.strip_suffix(']'))
                        .is_some_and(|inside| inside.chars().all(|c| c.is_ascii_digit()))
            })
            .map(|(_, v)| v.as_str())
            .collect();
        if values == [""] {
            Vec::new()
        } else {
            values
        }
    }

    /// `?verify=true`: validate without persisting.
    pub fn verify(&self) -> Result<bool, ApiError> {
        match self.get("verify") {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(_) => Err(ApiError::invalid_field("verify", "must be a boolean")),
        }
    }

    /// Paging and ordering where the spec leaves `order` free: unknown values order by the default.
    pub fn list_any_order(&self, orders: &[&'static str]) -> Result<ListQuery, ApiError> {
        let known = self.get("order").is_none_or(|o| orders.contains(&o));
        if known {
            return self.list(orders);
        }
        let mut without_order = self.clone();
        without_order.pairs.retain(|(k, _)| k != "order");
        without_order.list(orders)
    }

    /// Paging and ordering; `orders` lists the accepted `order` values, the first being the default.
    pub fn list(&self, orders: &[&'static str]) -> Result<ListQuery, ApiError> {
        let mut problems = Problems::default();
        let limit = match self.get("limit") {
            None => DEFAULT_LIMIT,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if n <= MAX_LIMIT => n,
                Ok(_) => {
                    problems.add("limit", format!("must be at most {MAX_LIMIT}"));
                    DEFAULT_LIMIT
                }
                Err(_) => {
                    problems.add("limit", "must be a non-negative integer");
                    DEFAULT_LIMIT
                }
            },
        };
        let offset = match self.get("offset") {
            None => Offset::Seek(None),
            Some(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) => {
                match s.parse::<usize>() {
                    Ok(n) if n <= MAX_NUMERIC_OFFSET => Offset::Numeric(n),
                    _ => {
                        problems.add(
                            "offset",
                            format!("numeric offsets are limited to {MAX_NUMERIC_OFFSET}"),
                        );
                        Offset::Seek(None)
                    }
                }
            }
            Some(s) => match SeekKey::decode(s) {
                Some(key) => Offset::Seek(Some(key)),
                None => {
                    problems.add("offset", "is not a valid pagination offset");
                    Offset::Seek(None)
                }
            },
        };
        let order = match self.get("order") {
            None => orders.first().copied().unwrap_or("id"),
            Some(s) => match orders.iter().find(|o| **o == s) {
                Some(o) => o,
                None => {
                    problems.add("order", format!("must be one of {}", orders.join(", ")));
                    "id"
                }
            },
        };
        let direction = match self.get("direction") {
            None | Some("asc") => Direction::Asc,
            Some("desc") => Direction::Desc,
            Some(_) => {
                problems.add("direction", "must be one of asc, desc");
                Direction::Asc
            }
        };
        problems.into_result()?;
        Ok(ListQuery {
            limit,
            offset,
            order,
            direction,
        })
    }

    /// `embed[]` values, checked against the names an endpoint accepts (plus `cf.{id}` when allowed).
    pub fn embeds(&self, allowed: &[&str], custom_fields: bool) -> Result<Embeds, ApiError> {
        let mut embeds = Embeds::default();
        let mut problems = Problems::default();
        for value in self.array("embed") {
            if allowed.contains(&value) {
                embeds.names.push(value.to_string());
            } else if let Some(digits) = custom_field_embed(value).filter(|_| custom_fields) {
                // Ids too large to exist name no field: nothing to embed.
                if let Ok(id) = digits.parse::<i64>() {
                    embeds.custom_fields.push(id);
                }
            } else {
                problems.add("embed", format!("unknown embed {value}"));
            }
        }
        problems.into_result()?;
        Ok(embeds)
    }

    /// `field[]` projection paths.
    pub fn fields(&self) -> Result<Vec<String>, ApiError> {
        let fields: Vec<String> = self
            .array("field")
            .into_iter()
            .map(str::to_string)
            .collect();
        let valid = |f: &String| {
            !f.is_empty()
                && f.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']' | '_' | '-'))
        };
        if let Some(bad) = fields.iter().find(|f| !valid(f)) {
            return Err(ApiError::invalid_field(
                "field",
                format!("invalid field path {bad}"),
            ));
        }
        Ok(fields)
    }
}

/// The digits of a custom-field embed. The spec's pattern is `^cf.\d+$`, where the dot
/// matches any one character, so `cf.12` and `cf_12` both name field 12.
fn custom_field_embed(value: &str) -> Option<&str> {
    let rest = value.strip_prefix("cf")?;
    let mut chars = rest.chars();
    chars.next()?;
    let digits = chars.as_str();
    (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())).then_some(digits)
}

/// Requested embeds.
#[derive(Debug, Default, Clone)]
pub struct Embeds {
    pub names: Vec<String>,
    /// Custom-field ids from `cf.{id}`.
    pub custom_fields: Vec<i64>,
}

impl Embeds {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.custom_fields.is_empty()
    }
}

/// Read a JSON body that may be empty (`None`).
pub fn optional_json(bytes: &[u8]) -> Result<Option<Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let mut value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("Malformed JSON body: {e}")))?;
    integral_floats_as_integers(&mut value);
    Ok(Some(value))
}

/// `3.0` is an integer to JSON Schema; make it one for the handlers too.
fn integral_floats_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64() {
                if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 {
                    *value = Value::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(map) => map.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

/// Read a JSON body, standing in `default` when there is none (the spec marks most
/// request bodies optional: an empty PUT changes nothing, an empty search filters nothing).
pub fn json_body_or(bytes: &[u8], default: Value) -> Result<Value, ApiError> {
    Ok(optional_json(bytes)?.unwrap_or(default))
}

/// Read a JSON body that must be present.
pub fn json_body(bytes: &[u8]) -> Result<Value, ApiError> {
    optional_json(bytes)?.ok_or_else(|| ApiError::invalid_field("body", "a JSON body is required"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_parameters_in_every_spelling() {
        let q = QueryParams::parse(Some("embed[]=acl&embed=cf.3&embed[1]=cf_4&field="));
        let embeds = q.embeds(&["acl"], true).unwrap();
        assert_eq!(embeds.names, vec!["acl"]);
        assert_eq!(embeds.custom_fields, vec![3, 4]);
        assert!(
            q.fields().unwrap().is_empty(),
            "a lone empty value is an empty array"
        );
        assert!(QueryParams::parse(Some("field=&field=")).fields().is_err());
        assert!(QueryParams::parse(Some("embed=cf."))
            .embeds(&[], true)
            .is_err());
    }

    #[test]
    fn integral_floats_read_as_integers() {
        let v = optional_json(br#"{"a": 3.0, "b": [1.5, 2e3]}"#)
            .unwrap()
            .unwrap();
        assert_eq!(v, serde_json::json!({"a": 3, "b": [1.5, 2000]}));
    }

    #[test]
    fn free_order_falls_back_to_the_default() {
        let q = QueryParams::parse(Some("order=whatever"));
        assert_eq!(q.list_any_order(&["id", "due_date"]).unwrap().order, "id");
        assert!(q.list(&["id", "due_date"]).is_err());
    }
}
