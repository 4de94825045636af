//! `/ui/pairs/{id}/mapping`: the visual mapping editor. The page lists both accounts'
//! fields (read live through the pair's connections, the same code as
//! `GET /api/pairs/{id}/fields`) and the current rows; `/ui/assets/mapping.js` adds
//! drag and drop, keyboard pairing, type checks, preview, dry run and save (through
//! `PUT /api/pairs/{id}/config`).

use std::sync::Arc;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Serialize;

use super::{error_page, render};
use crate::access::CurrentSession;
use crate::api::mapping::{current_mapping, fields_of, FieldInfo, STANDARD};
use crate::api::Lead;
use crate::AppState;

const JS: &str = include_str!("../../ui/mapping.js");

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/pairs/{id}/mapping", get(page))
        .route("/ui/assets/mapping.js", get(js))
}

/// A JavaScript asset of the UI (same origin, so the CSP allows it).
pub(super) fn script(text: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        text,
    )
        .into_response()
}

async fn js() -> Response {
    script(JS)
}

#[derive(Serialize)]
struct Row {
    ghl: String,
    ghl_label: String,
    sellsy: String,
    sellsy_label: String,
    custom: bool,
    canonical: String,
    kind_ghl: String,
    kind_sellsy: String,
    direction: String,
    conflict: String,
    transform: String,
    text_field: bool,
}

fn label_of(list: &[FieldInfo], key: &str) -> (String, String) {
    list.iter()
        .find(|f| f.key == key)
        .map(|f| (f.label.clone(), f.kind.clone()))
        .unwrap_or_else(|| {
            (
                format!("{key} (not found in the account)"),
                "missing".into(),
            )
        })
}

async fn page(
    session: CurrentSession,
    Extension(lead): Extension<Arc<Lead>>,
    Path(id): Path<String>,
) -> Response {
    let pair = match lead.accounts.registry.pair(&id) {
        Ok(Some(p)) => p,
        Ok(None) => {
            return error_page(
                StatusCode::NOT_FOUND,
                &format!("No pair {id}; see the list at /ui/pairs."),
            )
        }
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    // The fields are read live; when an account cannot be read the page still shows
    // the stored mapping and says why.
    let (ghl, sellsy, current, live_error) = match fields_of(&lead, &pair).await {
        Ok(f) => (f.ghl, f.sellsy, f.current, String::new()),
        Err(e) => match current_mapping(&pair.config) {
            Ok(c) => (Vec::new(), Vec::new(), c, e.detail.clone()),
            Err(e2) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e2),
        },
    };
    let text_kinds = ["text", "email", "country"];
    let rows: Vec<Row> = current
        .rows
        .iter()
        .map(|r| {
            let (gl, gk) = label_of(&ghl, &r.ghl);
            let (sl, sk) = label_of(&sellsy, &r.sellsy);
            let canonical = if r.custom {
                String::new()
            } else {
                STANDARD
                    .iter()
                    .find(|(_, g, _, _)| *g == r.ghl)
                    .map(|(c, _, _, _)| c.to_string())
                    .unwrap_or_default()
            };
            Row {
                // A standard text field, or a pair of custom text fields.
                text_field: text_kinds.contains(&gk.as_str())
                    && (!r.custom || text_kinds.contains(&sk.as_str())),
                ghl: r.ghl.clone(),
                ghl_label: gl,
                sellsy: r.sellsy.clone(),
                sellsy_label: sl,
                custom: r.custom,
                canonical,
                kind_ghl: gk,
                kind_sellsy: sk,
                direction: r.direction.clone(),
                conflict: r.conflict.clone(),
                transform: r.transform.clone().unwrap_or_default(),
            }
        })
        .collect();
    render(
        "mapping.html",
        &format!("Mapping of pair {}", pair.id),
        &session,
        minijinja::context! {
            pair => pair.id,
            ghl_conn => pair.ghl,
            sellsy_conn => pair.sellsy,
            ghl_fields => ghl,
            sellsy_fields => sellsy,
            rows => rows,
            rest => current.rest,
            live_error => live_error,
        },
    )
}
