//! List pagination: opaque seek tokens by default, numeric offsets on request.
//!
//! A seek token is base64 of a JSON array `[sort value, id]` naming the last row of the
//! previous page. Clients must pass it back unchanged; they are not meant to read it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use super::query::{Direction, ListQuery, MAX_NUMERIC_OFFSET};

/// The value a list is ordered by; ties are broken by id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortValue {
    Int(i64),
    Text(String),
}

impl SortValue {
    fn to_json(&self) -> Value {
        match self {
            SortValue::Int(n) => json!(n),
            SortValue::Text(s) => json!(s),
        }
    }

    fn from_json(value: &Value) -> Option<Self> {
        match value {
            Value::Number(n) => n.as_i64().map(SortValue::Int),
            Value::String(s) => Some(SortValue::Text(s.clone())),
            _ => None,
        }
    }
}

/// Position after which a seek page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeekKey {
    pub value: SortValue,
    pub id: i64,
}

impl SeekKey {
    pub fn encode(&self) -> String {
        STANDARD.encode(json!([self.value.to_json(), self.id]).to_string())
    }

    pub fn decode(token: &str) -> Option<Self> {
        let bytes = STANDARD.decode(token.trim()).ok()?;
        let array: Vec<Value> = serde_json::from_slice(&bytes).ok()?;
        match array.as_slice() {
            [value, id] => Some(SeekKey {
                value: SortValue::from_json(value)?,
                id: id.as_i64()?,
            }),
            _ => None,
        }
    }
}

/// How the caller pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offset {
    /// Default mode; `None` on the first page.
    Seek(Option<SeekKey>),
    /// Explicit integer offset.
    Numeric(usize),
}

/// One row to page over: its sort value, its id, and what to render.
pub struct Row<T> {
    pub key: SortValue,
    pub id: i64,
    pub item: T,
}

/// Order `rows` and cut the requested page; returns the page and the `pagination` object.
pub fn paginate<T>(mut rows: Vec<Row<T>>, query: &ListQuery) -> (Vec<T>, Value) {
    rows.sort_by(|a, b| (&a.key, a.id).cmp(&(&b.key, b.id)));
    if query.direction == Direction::Desc {
        rows.reverse();
    }
    let total = rows.len();
    let (page, offset): (Vec<Row<T>>, Value) = match &query.offset {
        Offset::Numeric(start) => {
            let reachable = rows.into_iter().take(MAX_NUMERIC_OFFSET);
            (
                reachable.skip(*start).take(query.limit).collect(),
                json!(start),
            )
        }
        Offset::Seek(after) => {
            let page: Vec<Row<T>> = rows
                .into_iter()
                .filter(|row| match after {
                    None => true,
                    Some(k) => {
                        let here = (&row.key, row.id);
                        let there = (&k.value, k.id);
                        match query.direction {
                            Direction::Asc => here > there,
                            Direction::Desc => here < there,
                        }
                    }
                })
                .take(query.limit)
                .collect();
            let token = match (page.last(), after) {
                (Some(last), _) => SeekKey {
                    value: last.key.clone(),
                    id: last.id,
                }
                .encode(),
                (None, Some(k)) => k.encode(),
                (None, None) => String::new(),
            };
            (page, json!(token))
        }
    };
    let pagination = json!({
        "limit": query.limit,
        "count": page.len(),
        "total": total,
        "offset": offset,
    });
    (page.into_iter().map(|row| row.item).collect(), pagination)
}

/// Wrap a page as Sellsy's list body.
pub fn list_body(data: Vec<Value>, pagination: Value) -> Value {
    json!({ "pagination": pagination, "data": data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seek_tokens_round_trip() {
        let key = SeekKey {
            value: SortValue::Text("Doe".into()),
            id: 598,
        };
        assert_eq!(SeekKey::decode(&key.encode()), Some(key));
        assert_eq!(SeekKey::decode("SoIxNyJd"), None);
        assert_eq!(SeekKey::decode("not base64!"), None);
    }
}
