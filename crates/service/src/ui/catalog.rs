//! `/ui/catalog`: every operation of both apps' tables (aliases left out) by category,
//! filtered server-side by `?q=&app=` (and live by `/ui/assets/catalog.js`); and
//! `/ui/catalog/{app}/{op}`, "Try it": a form generated from the operation's
//! parameters and body, sent through a stored connection with the same clients the
//! sync uses. Anything but a GET asks for confirmation first; the answer is shown
//! with secret-looking values masked.

use std::collections::BTreeMap;

use axum::extract::Query;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hlbridge_core::optable::{Operation, Table};
use serde::{Deserialize, Serialize};

use super::{enc, error_page, render};
use crate::access::CurrentSession;
use crate::AppState;

mod try_it;

const JS: &str = include_str!("../../ui/catalog.js");

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/catalog", get(list))
        .route(
            "/ui/catalog/{app}/{op}",
            get(try_it::try_form).post(try_it::try_send),
        )
        .route("/ui/assets/catalog.js", get(js))
}

/// A script asset of this module, served same-origin (the CSP allows nothing else).
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

fn table(app: &str) -> Option<&'static Table> {
    match app {
        "ghl" => Some(&hlbridge_ghl::TABLE),
        "sellsy" => Some(&hlbridge_sellsy::TABLE),
        _ => None,
    }
}

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    app: String,
}

#[derive(Serialize)]
struct OpRow {
    app: &'static str,
    id: &'static str,
    name: &'static str,
    method: &'static str,
    path: &'static str,
    kind: &'static str,
    /// The id percent-encoded for the link.
    id_enc: String,
    search: String,
}

#[derive(Serialize)]
struct Group {
    app: &'static str,
    category: &'static str,
    ops: Vec<OpRow>,
}

fn matches(op: &Operation, words: &[String]) -> bool {
    let hay = format!(
        "{} {} {} {} {} {}",
        op.app.as_str(),
        op.id,
        op.name,
        op.category,
        op.method.as_str(),
        op.path
    )
    .to_lowercase();
    words.iter().all(|w| hay.contains(w.as_str()))
}

pub(super) async fn list(session: CurrentSession, Query(q): Query<ListQuery>) -> Response {
    let app = q.app.trim();
    let tables: Vec<&Table> = match app {
        "" => vec![&hlbridge_ghl::TABLE, &hlbridge_sellsy::TABLE],
        a => match table(a) {
            Some(t) => vec![t],
            None => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    &format!("app={a:?}: choose ghl, sellsy or leave it empty"),
                )
            }
        },
    };
    let words: Vec<String> = q.q.split_whitespace().map(str::to_lowercase).collect();
    let mut groups: BTreeMap<(&str, &str), Vec<OpRow>> = BTreeMap::new();
    let mut total = 0usize;
    for t in tables {
        for op in t.operations.iter().filter(|o| o.alias_of.is_none()) {
            total += 1;
            if !matches(op, &words) {
                continue;
            }
            groups
                .entry((op.app.as_str(), op.category))
                .or_default()
                .push(OpRow {
                    app: op.app.as_str(),
                    id: op.id,
                    name: op.name,
                    method: op.method.as_str(),
                    path: op.path,
                    kind: op.kind.as_str(),
                    id_enc: enc(op.id),
                    search: format!("{} {} {} {}", op.id, op.name, op.method.as_str(), op.path)
                        .to_lowercase(),
                });
        }
    }
    let shown: usize = groups.values().map(Vec::len).sum();
    let groups: Vec<Group> = groups
        .into_iter()
        .map(|((app, category), ops)| Group { app, category, ops })
        .collect();
    render(
        "catalog.html",
        "Catalog",
        &session,
        minijinja::context! { groups => groups, q => q.q, app => app, shown => shown, total => total },
    )
}
