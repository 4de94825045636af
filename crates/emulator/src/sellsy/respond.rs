//! Small helpers shared by the handlers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::ApiError;
use super::paging::{list_body, paginate, Row};
use super::projection::project;
use super::query::ListQuery;

/// What every handler returns.
pub type Reply = Result<Response, ApiError>;

pub fn ok(value: Value) -> Reply {
    Ok((StatusCode::OK, axum::Json(value)).into_response())
}

pub fn created(value: Value) -> Reply {
    Ok((StatusCode::CREATED, axum::Json(value)).into_response())
}

pub fn no_content() -> Reply {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A path id: a positive integer, else 404 (no object can have it).
pub fn parse_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    match raw.parse::<i64>() {
        Ok(id) if id > 0 && raw.chars().all(|c| c.is_ascii_digit()) => Ok(id),
        _ => Err(ApiError::not_found(what, raw)),
    }
}

/// Page `rows`, render each item, project it, and wrap it as `{pagination, data}`.
pub fn list<T>(
    rows: Vec<Row<T>>,
    query: &ListQuery,
    fields: &[String],
    render: impl Fn(T) -> Value,
) -> Reply {
    let (page, pagination) = paginate(rows, query);
    let data = page
        .into_iter()
        .map(|item| project(render(item), fields))
        .collect();
    ok(list_body(data, pagination))
}
