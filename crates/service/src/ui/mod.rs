//! The web UI (server-rendered with minijinja, HTML autoescaped): a shared layout with
//! the section links, `/home`, deployed flows, the template gallery, runs and record history.
//! Templates and the one stylesheet are embedded in the binary; no asset comes from
//! another origin, so the service's CSP (`default-src 'self'`) holds unchanged.

pub mod activity;
pub mod budgets;
mod catalog;
mod conflicts;
mod connections;
mod dead_letters;
pub(crate) mod editor;
mod flows;
mod history;
mod mapping;
mod pairs;
mod runs;

use std::sync::{Arc, OnceLock};

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use minijinja::Environment;
use serde::Serialize;

use crate::access::CurrentSession;
use crate::api::Lead;
use crate::flows::Flows;
use crate::AppState;

const CSS: &str = include_str!("../../ui/app.css");
const FAVICON: &str = include_str!("../../ui/favicon.svg");

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // Names end in `.html`: minijinja's default callback escapes them as HTML.
        let files = [
            ("base.html", include_str!("../../ui/base.html")),
            ("home.html", include_str!("../../ui/home.html")),
            ("flows.html", include_str!("../../ui/flows.html")),
            ("templates.html", include_str!("../../ui/templates.html")),
            ("runs.html", include_str!("../../ui/runs.html")),
            ("run.html", include_str!("../../ui/run.html")),
            ("history.html", include_str!("../../ui/history.html")),
            ("editor.html", include_str!("../../ui/editor.html")),
            ("flow_new.html", include_str!("../../ui/flow_new.html")),
            ("flow_form.html", include_str!("../../ui/flow_form.html")),
            (
                "connections.html",
                include_str!("../../ui/connections.html"),
            ),
            (
                "conn_disconnect.html",
                include_str!("../../ui/conn_disconnect.html"),
            ),
            ("pairs.html", include_str!("../../ui/pairs.html")),
            ("mapping.html", include_str!("../../ui/mapping.html")),
            ("catalog.html", include_str!("../../ui/catalog.html")),
            ("try_it.html", include_str!("../../ui/try_it.html")),
            ("activity.html", include_str!("../../ui/activity.html")),
            ("cycle.html", include_str!("../../ui/cycle.html")),
            ("conflicts.html", include_str!("../../ui/conflicts.html")),
            (
                "dead_letters.html",
                include_str!("../../ui/dead_letters.html"),
            ),
            ("budgets.html", include_str!("../../ui/budgets.html")),
        ];
        for (name, text) in files {
            env.add_template(name, text)
                .unwrap_or_else(|e| panic!("UI template {name} does not parse: {e}"));
        }
        env
    })
}

/// Render `name` with `ctx` (plus `title` and the session's CSRF input for the layout).
pub(crate) fn render(
    name: &str,
    title: &str,
    session: &CurrentSession,
    ctx: minijinja::Value,
) -> Response {
    let base = minijinja::context! { title => title, csrf => session.csrf_input() };
    let ctx = minijinja::context! { ..base, ..ctx };
    match env().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "UI template failed to render");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("page {name}: {e}"),
            )
        }
    }
}

/// A plain error page (escaped text), still inside the service's CSP.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let msg = escape(message);
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title>\
         <link rel=\"stylesheet\" href=\"/ui/assets/app.css\"></head><body><main id=\"main\">\
         <h1>Error {}</h1><p>{msg}</p><p><a href=\"/home\">Back to home</a></p></main></body></html>",
        status.as_u16()
    );
    (status, Html(body)).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A field value as a page shows it: a string as it is, null as "(empty)", else JSON.
pub(crate) fn show(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "(empty)".into(),
        other => other.to_string(),
    }
}

/// A path segment / query value, percent-encoded.
pub(crate) fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The UI's routes; merge into the pages router given to [`crate::router`].
pub fn pages(lead: Arc<Lead>, flows: Arc<Flows>) -> Router<AppState> {
    Router::new()
        .route("/home", get(home))
        .route("/ui/assets/app.css", get(css))
        .route("/favicon.ico", get(favicon))
        .route("/ui/flows", get(flows::list))
        .route("/ui/flows/{name}/enable", post(flows::enable))
        .route("/ui/flows/{name}/disable", post(flows::disable))
        .route("/ui/templates", get(flows::gallery))
        .route("/ui/templates/{name}/use", post(flows::use_template))
        .route("/ui/history", get(history::page))
        .route("/ui/runs", get(runs::list))
        .route("/ui/runs/{id}", get(runs::show))
        .route("/ui/runs/{id}/replay", post(runs::replay))
        .merge(editor::routes())
        .merge(connections::routes())
        .merge(pairs::routes())
        .merge(mapping::routes())
        .merge(catalog::routes())
        .merge(activity::routes())
        .merge(conflicts::routes())
        .merge(dead_letters::routes())
        .merge(budgets::routes())
        .layer(Extension(lead))
        .layer(Extension(flows))
}

/// The icon browsers ask every origin for (an SVG, served to anyone: see
/// [`crate::access::OPEN_ROUTES`]).
async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        FAVICON,
    )
        .into_response()
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        CSS,
    )
        .into_response()
}

#[derive(Serialize)]
struct Counts {
    connections: usize,
    pairs: usize,
    flows: usize,
    templates: usize,
    runs: usize,
    failed: usize,
}

async fn home(
    session: CurrentSession,
    Extension(lead): Extension<Arc<Lead>>,
    Extension(flows): Extension<Arc<Flows>>,
) -> Response {
    let run_count = |status: Option<&str>| {
        flows
            .runs
            .count(&hlbridge_flows::run::RunFilter {
                flow: None,
                status: status.map(str::to_string),
                limit: None,
            })
            .map(|n| n as usize)
    };
    let counts = (|| -> Result<Counts, String> {
        Ok(Counts {
            connections: lead
                .accounts
                .registry
                .list()
                .map_err(|e| e.to_string())?
                .len(),
            pairs: lead
                .accounts
                .registry
                .pairs()
                .map_err(|e| e.to_string())?
                .len(),
            flows: flows.registry.deployed().map_err(|e| e.to_string())?.len(),
            templates: hlbridge_flows::catalog::list().len(),
            runs: run_count(None).map_err(|e| e.to_string())?,
            failed: run_count(Some("failed")).map_err(|e| e.to_string())?,
        })
    })();
    match counts {
        Ok(c) => render(
            "home.html",
            "Home",
            &session,
            minijinja::Value::from_serialize(&c),
        ),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}
