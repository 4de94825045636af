//! Every GHL paging style as one async stream of items, chosen by the operation's
//! `pagination` in the table.

use futures::Stream;
use hlbridge_core::error::{Error, Result};
use hlbridge_core::optable::{Operation, Pagination};
use hlbridge_core::paging::{pages, Page};
use serde_json::Value;

use crate::client::{CallInput, GhlClient};

/// Default page size where the caller gave none (the common maximum of GHL lists).
const DEFAULT_LIMIT: usize = 100;

/// The items of one response body: the array under the operation's response key (or
/// the body itself when it is an array); for the nested messages style the array inside
/// `{messages: {messages: [...]}}`; for a single-object response, that object.
pub fn items_of(op: &Operation, body: &Value) -> Vec<Value> {
    if let Value::Array(items) = body {
        return items.clone();
    }
    let keyed = op.response_key.and_then(|k| body.get(k));
    match keyed {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::Object(inner)) if op.pagination == Pagination::LastMessageId => inner
            .values()
            .find_map(|v| v.as_array().cloned())
            .unwrap_or_default(),
        Some(other) => vec![other.clone()],
        None => match body
            .as_object()
            .and_then(|m| m.values().find(|v| v.is_array()))
        {
            Some(Value::Array(items)) if op.pagination != Pagination::None => items.clone(),
            _ if body.is_null() => Vec::new(),
            _ => vec![body.clone()],
        },
    }
}

fn limit_of(input: &CallInput, name: &str, default: usize) -> usize {
    input
        .params
        .get(name)
        .and_then(|v| v.last())
        .and_then(|v| v.parse().ok())
        .or_else(|| input.body.as_ref()?.get(name)?.as_u64().map(|v| v as usize))
        .unwrap_or(default)
}

fn set_param(input: &mut CallInput, name: &str, value: String) {
    input.params.insert(name.to_string(), vec![value]);
}

/// Stream every item of a list or search operation, page after page, following the
/// operation's paging style. Cursors come from the last item seen, never the clock.
pub fn stream<'a>(
    client: &'a GhlClient,
    op: &'static Operation,
    input: CallInput,
) -> impl Stream<Item = Result<Value>> + 'a {
    pages(input, move |mut input| async move {
        let body = client.call_op(op, &input).await?.body;
        let items = items_of(op, &body);
        let next = match op.pagination {
            Pagination::SearchAfter => {
                let limit = limit_of(&input, "pageLimit", DEFAULT_LIMIT);
                let last_sort = items.last().and_then(|c| c.get("searchAfter")).cloned();
                match (items.len() >= limit, last_sort) {
                    (true, Some(sort)) => {
                        let b = input
                            .body
                            .get_or_insert_with(|| Value::Object(Default::default()));
                        if let Value::Object(m) = b {
                            m.remove("page");
                            m.insert("searchAfter".into(), sort);
                            m.entry("pageLimit").or_insert(Value::from(limit));
                        }
                        Some(input)
                    }
                    _ => None,
                }
            }
            Pagination::StartAfter => {
                let limit = limit_of(&input, "limit", 20);
                let meta = body.get("meta");
                let id = meta
                    .and_then(|m| m.get("startAfterId"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let after = meta
                    .and_then(|m| m.get("startAfter"))
                    .filter(|v| !v.is_null())
                    .map(text);
                match (items.len() >= limit && !items.is_empty(), id, after) {
                    (true, Some(id), Some(after)) => {
                        set_param(&mut input, "startAfterId", id);
                        set_param(&mut input, "startAfter", after);
                        Some(input)
                    }
                    _ => None,
                }
            }
            Pagination::SkipLimit | Pagination::OffsetLimit => {
                let name = if op.pagination == Pagination::SkipLimit {
                    "skip"
                } else {
                    "offset"
                };
                let limit = limit_of(&input, "limit", DEFAULT_LIMIT);
                if !input.params.contains_key("limit") && op.param("limit").is_some() {
                    set_param(&mut input, "limit", limit.to_string());
                }
                let at = limit_of(&input, name, 0);
                if items.len() >= limit && !items.is_empty() {
                    set_param(&mut input, name, (at + items.len()).to_string());
                    Some(input)
                } else {
                    None
                }
            }
            Pagination::PageLimit => {
                let limit = limit_of(&input, "limit", DEFAULT_LIMIT);
                let page = limit_of(&input, "page", 1);
                if items.len() >= limit && !items.is_empty() {
                    set_param(&mut input, "page", (page + 1).to_string());
                    Some(input)
                } else {
                    None
                }
            }
            Pagination::LastMessageId => {
                let nested = body.get("messages");
                let more = nested
                    .and_then(|m| m.get("nextPage"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let last = nested
                    .and_then(|m| m.get("lastMessageId"))
                    .and_then(Value::as_str);
                match (more, last) {
                    (true, Some(last)) => {
                        set_param(&mut input, "lastMessageId", last.to_string());
                        Some(input)
                    }
                    _ => None,
                }
            }
            Pagination::StartAfterDate => {
                let limit = limit_of(&input, "limit", 20);
                let sort = items
                    .last()
                    .and_then(|c| c.get("sort"))
                    .and_then(|s| s.as_array())
                    .and_then(|s| s.first())
                    .map(text);
                match (items.len() >= limit, sort) {
                    (true, Some(sort)) => {
                        set_param(&mut input, "startAfterDate", sort);
                        Some(input)
                    }
                    _ => None,
                }
            }
            Pagination::None | Pagination::TimeWindow | Pagination::Seek => None,
        };
        Ok::<_, Error>(Page { items, next })
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
