//! `/ui/history?record=`: what happened to a record (id on either side or e-mail),
//! read through the same code as `GET /api/history`.

use std::sync::Arc;

use axum::extract::Query;
use axum::response::Response;
use axum::Extension;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{error_page, render};
use crate::access::CurrentSession;
use crate::api::history::{list_history, HistoryQuery};
use crate::api::Lead;
use crate::error::ApiQuery;

#[derive(Deserialize, Default)]
pub(super) struct Search {
    #[serde(default)]
    record: String,
}

#[derive(Serialize)]
struct Row {
    at: String,
    pair: String,
    side: String,
    kind: String,
    ids: String,
    op: String,
    changes: String,
    outcome: String,
    error: String,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn row(e: &Value) -> Row {
    let changes: Vec<String> = e["changes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| format!("{}: {} → {}", text(&c["field"]), c["old"], c["new"]))
                .collect()
        })
        .unwrap_or_default();
    Row {
        at: text(&e["at"]),
        pair: text(&e["pair"]),
        side: text(&e["side"]),
        kind: text(&e["kind"]),
        ids: format!(
            "GHL {} / Sellsy {}",
            text(&e["ghl_id"]),
            text(&e["sellsy_id"])
        ),
        op: text(&e["op"]),
        changes: changes.join("; "),
        outcome: text(&e["outcome"]),
        error: text(&e["error"]),
    }
}

pub(super) async fn page(
    session: CurrentSession,
    Extension(lead): Extension<Arc<Lead>>,
    Query(q): Query<Search>,
) -> Response {
    let record = q.record.trim().to_string();
    let query = HistoryQuery {
        pair: None,
        record: (!record.is_empty()).then(|| record.clone()),
        limit: Some(200),
    };
    let rows: Vec<Row> = match list_history(Extension(lead), ApiQuery(query)).await {
        Ok(out) => out.0.iter().map(row).collect(),
        Err(e) => return error_page(e.status, &e.detail),
    };
    render(
        "history.html",
        "History",
        &session,
        minijinja::context! { rows => rows, record => record },
    )
}
