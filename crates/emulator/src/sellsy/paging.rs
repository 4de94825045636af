//! List pagination: opaque seek tokens by default, numeric offsets on request.
//!
//! A seek token is base64 of a JSON array `[sort value, id]` naming the last row of the
//! previous page. Clients must pass it back unchanged; they are not meant to read it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};

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

/// Sort by a record's id.
pub fn id_key(record: &Map<String, Value>) -> SortValue {
    SortValue::Int(record.get("id").and_then(Value::as_i64).unwrap_or_default())
}

/// Sort by a record's timestamp `field` (seconds since the epoch).
pub fn time_key(record: &Map<String, Value>, field: &str) -> SortValue {
    let stamp = record
        .get(field)
        .and_then(Value::as_str)
        .and_then(super::clock::epoch);
    SortValue::Int(stamp.unwrap_or_default())
}

/// Position after which a seek page starts: the last row's sort value and id.
///
/// Tokens this emulator did not write are read leniently, as the spec's own examples
/// are not all JSON (`[2014-01-01,598]`, `["11"]`): the last item is the id, the first (if
/// any other) the sort value. A sort value of another kind than the list's order (or none)
/// makes the seek go by id alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeekKey {
    pub value: Option<SortValue>,
    pub id: i64,
}

impl SeekKey {
    pub fn encode(&self) -> String {
        let value = self
            .value
            .as_ref()
            .map(SortValue::to_json)
            .unwrap_or(Value::Null);
        STANDARD.encode(json!([value, self.id]).to_string())
    }

    pub fn decode(token: &str) -> Option<Self> {
        let bytes = STANDARD.decode(token.trim()).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        match serde_json::from_str::<Vec<Value>>(text) {
            Ok(items) => Self::from_items(&items),
            Err(_) => Self::from_loose_list(text),
        }
    }

    fn from_items(items: &[Value]) -> Option<Self> {
        let id = match items.last()? {
            Value::Number(n) => n.as_i64()?,
            Value::String(s) => s.trim().parse().ok()?,
            _ => return None,
        };
        let value = if items.len() > 1 {
            SortValue::from_json(&items[0])
        } else {
            None
        };
        Some(SeekKey { value, id })
    }

    /// `[2014-01-01,598]`: a bracketed list of bare words.
    fn from_loose_list(text: &str) -> Option<Self> {
        let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?;
        let parts: Vec<&str> = inner
            .split(',')
            .map(|p| p.trim().trim_matches('"'))
            .collect();
        let id = parts.last()?.parse().ok()?;
        let value = match parts.as_slice() {
            [first, _, ..] => Some(match first.parse::<i64>() {
                Ok(n) => SortValue::Int(n),
                Err(_) => SortValue::Text(first.to_string()),
            }),
            _ => None,
        };
        Some(SeekKey { value, id })
    }

    /// This position against a row at (`key`, `id`), ascending: `Less` when the row
    /// comes after it.
    fn cmp_row(&self, key: &SortValue, id: i64) -> std::cmp::Ordering {
        match &self.value {
            Some(v) if std::mem::discriminant(v) == std::mem::discriminant(key) => {
                (v, self.id).cmp(&(key, id))
            }
            _ => self.id.cmp(&id),
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

tokio::task_local! {
    /// `POST /emulator/truncate`'s limit, for the request being served.
    static TRUNCATE_AFTER: Option<usize>;
}

/// Serve `request` with listings cut after `after` items in total (`None`: whole).
pub async fn with_truncation<F: std::future::Future>(
    after: Option<usize>,
    request: F,
) -> F::Output {
    TRUNCATE_AFTER.scope(after, request).await
}

fn truncate_after() -> Option<usize> {
    TRUNCATE_AFTER.try_with(|t| *t).ok().flatten()
}

/// Order `rows` and cut the requested page; returns the page and the `pagination` object.
/// A truncation set by `POST /emulator/truncate` cuts the ordered rows first.
pub fn paginate<T>(mut rows: Vec<Row<T>>, query: &ListQuery) -> (Vec<T>, Value) {
    rows.sort_by(|a, b| (&a.key, a.id).cmp(&(&b.key, b.id)));
    if query.direction == Direction::Desc {
        rows.reverse();
    }
    if let Some(n) = truncate_after() {
        rows.truncate(n);
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
                        let order = k.cmp_row(&row.key, row.id);
                        match query.direction {
                            Direction::Asc => order.is_lt(),
                            Direction::Desc => order.is_gt(),
                        }
                    }
                })
                .take(query.limit)
                .collect();
            let token = match (page.last(), after) {
                (Some(last), _) => SeekKey {
                    value: Some(last.key.clone()),
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
            value: Some(SortValue::Text("Doe".into())),
            id: 598,
        };
        assert_eq!(SeekKey::decode(&key.encode()), Some(key));
        assert_eq!(SeekKey::decode("SoIxNyJd"), None);
        let documented = SeekKey::decode("WzIwMTQtMDEtMDEsNTk4XQ==").unwrap();
        assert_eq!(documented.id, 598);
        assert_eq!(documented.value, Some(SortValue::Text("2014-01-01".into())));
        assert_eq!(
            SeekKey::decode("WyIxMSJd"),
            Some(SeekKey {
                value: None,
                id: 11
            })
        );
        assert_eq!(SeekKey::decode("not base64!"), None);
    }
}
