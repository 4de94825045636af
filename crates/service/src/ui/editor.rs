//! The flow editor: `/ui/flows/new[?template=NAME]` and `/ui/flows/{name}/edit`. The
//! YAML (a textarea) beside a form generated from the flow model ([`form`]); the
//! script `/ui/assets/editor.js` keeps both in step through `POST /api/flows/parse`
//! and `POST /api/flows/render` (YAML ↔ model on the server), shows each problem of
//! `flow validate` at its field (LINE:COL → path, [`outline`]), tests on a sample item
//! and saves, deploys, enables and disables through the flows API. Nothing is
//! deployed until the user presses "Deploy".

pub mod form;
pub mod outline;
pub mod vars;
pub mod yaml;

use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use hlbridge_flows::model::Flow;
use hlbridge_flows::run::RunFilter;
use hlbridge_flows::validate::Problem;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{enc, error_page, render};
use crate::access::CurrentSession;
use crate::flows::Flows;
use crate::AppState;

const EDITOR_JS: &str = include_str!("../../ui/editor.js");
const EDITOR_FORM_JS: &str = include_str!("../../ui/editor_form.js");

/// The flow a blank "New flow" starts from.
const BLANK: &str = "schema_version: 1\nname: my-flow\ntitle: My flow\n\ntrigger:\n  webhook:\n    app: ghl\n    events: [ContactCreate]\n\nsteps:\n  - id: fields\n    map:\n      email: \"{{ trigger.email }}\"\n";

/// The editor's pages and script.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/flows/new", get(new_page))
        .route("/ui/flows/{name}/edit", get(edit_page))
        .route("/ui/assets/editor.js", get(|| async { script(EDITOR_JS) }))
        .route(
            "/ui/assets/editor_form.js",
            get(|| async { script(EDITOR_FORM_JS) }),
        )
}

fn script(body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// A problem of `flow validate`, placed in the flow.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Placed {
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// JSON pointer of the value at LINE:COL (`/steps/2/action/params/limit`); "" for
    /// the file as a whole.
    pub path: String,
    /// The form field (or group) showing it: its `data-path`; null when no field of the
    /// form holds it (shown at the YAML with its line number).
    pub field: Option<String>,
}

/// The YAML of `flow` (comments are not kept).
pub fn to_yaml(flow: &Flow) -> Result<String, String> {
    let v = serde_json::to_value(flow).map_err(|e| e.to_string())?;
    Ok(yaml::to_text(&yaml::clean(v)))
}

fn is_prefix(prefix: &str, path: &str) -> bool {
    path == prefix || (path.starts_with(prefix) && path[prefix.len()..].starts_with('/'))
}

/// Place each problem at the form field of the longest path holding it; the form's
/// HTML (problems at their fields) when `want_form`.
pub fn place(
    text: &str,
    flow: Option<&Flow>,
    problems: &[Problem],
    sample: Option<&Value>,
    want_form: bool,
) -> (Vec<Placed>, Option<String>) {
    let poll = flow.and_then(|f| match &f.trigger {
        hlbridge_flows::model::Trigger::Poll(p) => Some(p.operation.as_str()),
        _ => None,
    });
    let mut scope = vars::Scope::new(sample, poll);
    let mut nodes = flow.map(|f| form::build(f, &mut scope)).unwrap_or_default();
    let mut targets = Vec::new();
    form::targets(&nodes, &mut targets);
    let placed: Vec<Placed> = problems
        .iter()
        .map(|p| {
            let path = outline::path_at(text, p.line, p.col);
            let field = targets
                .iter()
                .filter(|t| !t.is_empty() && is_prefix(t, &path))
                .max_by_key(|t| t.len())
                .cloned();
            Placed {
                line: p.line,
                col: p.col,
                message: p.message.clone(),
                path,
                field,
            }
        })
        .collect();
    for p in &placed {
        if let Some(f) = &p.field {
            form::attach(&mut nodes, f, &p.message);
        }
    }
    let html = (want_form && flow.is_some()).then(|| form_html(&nodes, &scope));
    (placed, html)
}

fn form_html(nodes: &[form::Node], scope: &vars::Scope) -> String {
    let ctx = minijinja::context! { nodes => nodes, lists => scope.lists() };
    match super::env()
        .get_template("flow_form.html")
        .and_then(|t| t.render(ctx))
    {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "the flow form failed to render");
            format!(
                "<p class=\"error\">The form could not be drawn ({}); edit the YAML.</p>",
                super::escape(&e.to_string())
            )
        }
    }
}

#[derive(Serialize)]
struct Choice {
    name: String,
    title: String,
}

#[derive(Deserialize, Default)]
pub(super) struct NewQuery {
    #[serde(default)]
    template: String,
}

/// The newest recorded trigger item of flow `name`.
fn latest_item(flows: &Flows, name: &str) -> Option<Value> {
    let runs = flows
        .runs
        .list(&RunFilter {
            flow: Some(name.to_string()),
            status: None,
            limit: Some(1),
        })
        .ok()?;
    runs.into_iter()
        .next()
        .and_then(|r| r.trigger.get("payload").cloned())
        .filter(|p| !p.is_null())
}

struct Editing<'a> {
    name: &'a str,
    title: &'a str,
    text: &'a str,
    is_new: bool,
    template: &'a str,
    sample: Option<Value>,
    status: Option<minijinja::Value>,
}

fn page(session: &CurrentSession, e: Editing) -> Response {
    let (flow, problems) = match hlbridge_flows::validate::validate("flow.yaml", e.text) {
        Ok(f) => (Some(f), vec![]),
        Err(p) => (hlbridge_flows::validate::parse("flow.yaml", e.text).ok(), p),
    };
    let (placed, form) = place(e.text, flow.as_ref(), &problems, e.sample.as_ref(), true);
    let unplaced: Vec<&Placed> = placed.iter().filter(|p| p.field.is_none()).collect();
    let templates: Vec<Choice> = hlbridge_flows::catalog::list()
        .into_iter()
        .map(|t| Choice {
            name: t.name.to_string(),
            title: t.title,
        })
        .collect();
    let sample = e
        .sample
        .as_ref()
        .map(|s| serde_json::to_string_pretty(s).unwrap_or_default())
        .unwrap_or_default();
    render(
        if e.is_new {
            "flow_new.html"
        } else {
            "editor.html"
        },
        e.title,
        session,
        minijinja::context! {
            name => e.name,
            slug => enc(e.name),
            yaml => e.text,
            form => form.unwrap_or_default(),
            unplaced => unplaced,
            is_new => e.is_new,
            templates => templates,
            template => e.template,
            sample => sample,
            status => e.status,
        },
    )
}

pub(super) async fn new_page(
    session: CurrentSession,
    Extension(flows): Extension<Arc<Flows>>,
    Query(q): Query<NewQuery>,
) -> Response {
    let chosen = q.template.trim();
    let text = if chosen.is_empty() {
        BLANK
    } else {
        match hlbridge_flows::catalog::get(chosen) {
            Some(t) => t.text,
            None => {
                return error_page(
                    StatusCode::NOT_FOUND,
                    &format!("No template is named {chosen}; pick one at /ui/templates."),
                )
            }
        }
    };
    let name = hlbridge_flows::validate::parse("flow.yaml", text)
        .map(|f| f.name)
        .unwrap_or_default();
    page(
        &session,
        Editing {
            name: &name,
            title: "New flow",
            text,
            is_new: true,
            template: chosen,
            sample: latest_item(&flows, &name),
            status: None,
        },
    )
}

pub(super) async fn edit_page(
    session: CurrentSession,
    Extension(flows): Extension<Arc<Flows>>,
    Path(name): Path<String>,
) -> Response {
    let deployed = match flows.registry.get(&name) {
        Ok(d) => d,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let latest = match flows.registry.latest_version(&name) {
        Ok(Some(v)) => flows.registry.version(&name, v).ok().flatten(),
        Ok(None) => None,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    // The newest stored text: what "Save" wrote last, deployed or not.
    let Some(current) = latest.or_else(|| deployed.clone()) else {
        return error_page(
            StatusCode::NOT_FOUND,
            &format!("No flow is named {name}; see /ui/flows or start one at /ui/flows/new."),
        );
    };
    let status = minijinja::context! {
        stored => current.version,
        deployed => deployed.as_ref().map(|d| d.version),
        enabled => deployed.as_ref().is_some_and(|d| d.enabled),
    };
    let title = format!("Edit {name}");
    page(
        &session,
        Editing {
            name: &name,
            title: &title,
            text: &current.text,
            is_new: false,
            template: "",
            sample: latest_item(&flows, &name),
            status: Some(status),
        },
    )
}
