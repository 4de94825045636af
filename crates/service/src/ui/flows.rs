//! `/ui/flows` (deployed flows, enable/disable) and `/ui/templates` (the gallery).

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use hlbridge_flows::run::RunFilter;
use serde::Serialize;

use super::{enc, error_page, render};
use crate::access::CurrentSession;
use crate::flows::{parse, Flows};

#[derive(Serialize)]
struct LastRun {
    id: i64,
    status: String,
    started: String,
}

#[derive(Serialize)]
struct FlowRow {
    name: String,
    slug: String,
    version: i64,
    enabled: bool,
    pair: Option<String>,
    trigger: String,
    last_run: Option<LastRun>,
}

fn trigger_summary(flow: &hlbridge_flows::model::Flow) -> String {
    use hlbridge_flows::model::Trigger;
    match &flow.trigger {
        Trigger::Poll(p) => format!("poll {} every {}", p.operation, p.every),
        Trigger::Webhook(w) => format!("webhook {} {}", w.app, w.events.join(",")),
        Trigger::Schedule(s) => format!("schedule {} {}", s.cron, s.tz.as_deref().unwrap_or("UTC")),
    }
}

fn rows(flows: &Flows) -> Result<Vec<FlowRow>, String> {
    let mut out = Vec::new();
    for d in flows.registry.list().map_err(|e| e.to_string())? {
        let trigger = parse(&d)
            .map(|f| trigger_summary(&f))
            .unwrap_or_else(|e| format!("(unreadable: {e})"));
        let last = flows
            .runs
            .list(&RunFilter {
                flow: Some(d.name.clone()),
                status: None,
                limit: Some(1),
            })
            .map_err(|e| e.to_string())?;
        out.push(FlowRow {
            slug: enc(&d.name),
            last_run: last.into_iter().next().map(|r| LastRun {
                id: r.id,
                status: r.status,
                started: r.started,
            }),
            name: d.name,
            version: d.version,
            enabled: d.enabled,
            pair: d.pair,
            trigger,
        });
    }
    Ok(out)
}

pub(super) async fn list(
    session: CurrentSession,
    Extension(flows): Extension<Arc<Flows>>,
) -> Response {
    match rows(&flows) {
        Ok(r) => render(
            "flows.html",
            "Flows",
            &session,
            minijinja::context! { flows => r },
        ),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

fn set(flows: &Flows, name: &str, enabled: bool) -> Response {
    match flows.registry.get(name) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return error_page(
                StatusCode::NOT_FOUND,
                &format!("No deployed flow is named {name}; see the list at /ui/flows."),
            )
        }
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
    match flows.registry.set_enabled(name, enabled) {
        Ok(()) => Redirect::to("/ui/flows").into_response(),
        Err(e) => error_page(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

pub(super) async fn enable(
    _s: CurrentSession,
    Extension(flows): Extension<Arc<Flows>>,
    Path(name): Path<String>,
) -> Response {
    set(&flows, &name, true)
}

pub(super) async fn disable(
    _s: CurrentSession,
    Extension(flows): Extension<Arc<Flows>>,
    Path(name): Path<String>,
) -> Response {
    set(&flows, &name, false)
}

#[derive(Serialize)]
struct TemplateCard {
    name: String,
    slug: String,
    title: String,
    description: String,
}

pub(super) async fn gallery(session: CurrentSession) -> Response {
    let cards: Vec<TemplateCard> = hlbridge_flows::catalog::list()
        .into_iter()
        .map(|t| TemplateCard {
            name: t.name.to_string(),
            slug: enc(t.name),
            title: t.title,
            description: t.description,
        })
        .collect();
    render(
        "templates.html",
        "Templates",
        &session,
        minijinja::context! { templates => cards },
    )
}

/// Store the template's text as a version, deploy it, back to `/ui/flows`.
pub(super) async fn use_template(
    _s: CurrentSession,
    Extension(flows): Extension<Arc<Flows>>,
    Path(name): Path<String>,
) -> Response {
    let Some(t) = hlbridge_flows::catalog::get(&name) else {
        return error_page(
            StatusCode::NOT_FOUND,
            &format!("No template is named {name}; pick one at /ui/templates."),
        );
    };
    if let Err(e) = flows.registry.record_version(t.text) {
        return error_page(StatusCode::BAD_REQUEST, &format!("template {name}: {e}"));
    }
    match flows.registry.deploy(t.text, None) {
        Ok(_) => Redirect::to("/ui/flows").into_response(),
        Err(e) => error_page(StatusCode::BAD_REQUEST, &format!("template {name}: {e}")),
    }
}
