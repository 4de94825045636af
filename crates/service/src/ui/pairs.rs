//! `/ui/pairs`: the pairs with their sync status (links to their mapping editor), a
//! form creating one from a GHL location connection and a Sellsy connection, and
//! "Sync now".

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use hlbridge_accounts::App;
use serde::{Deserialize, Serialize};

use super::{enc, error_page, render};
use crate::access::CurrentSession;
use crate::api::Lead;
use crate::runner::validate_pair_config;
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/pairs", get(list).post(create))
        .route("/ui/pairs/{id}/sync", post(sync_now))
}

#[derive(Serialize)]
struct Row {
    id: String,
    slug: String,
    ghl: String,
    sellsy: String,
    running: bool,
    cycles: u64,
    last_finished: String,
    last_line: String,
    last_error: String,
}

#[derive(Serialize)]
struct Opt {
    id: String,
    text: String,
}

fn show(session: &CurrentSession, lead: &Lead, status: StatusCode, error: &str) -> Response {
    let reg = &lead.accounts.registry;
    let (conns, pairs) = match (reg.list(), reg.pairs()) {
        (Ok(c), Ok(p)) => (c, p),
        (Err(e), _) | (_, Err(e)) => {
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
        }
    };
    let name = |id: &str| {
        conns
            .iter()
            .find(|c| c.id == id)
            .map(|c| format!("{} ({})", c.label.as_deref().unwrap_or(&c.account), c.id))
            .unwrap_or_else(|| format!("{id} (missing)"))
    };
    let rows: Vec<Row> = pairs
        .iter()
        .map(|p| {
            let run = lead.runner.run_of(&p.id);
            Row {
                slug: enc(&p.id),
                id: p.id.clone(),
                ghl: name(&p.ghl),
                sellsy: name(&p.sellsy),
                running: run.running,
                cycles: run.cycles,
                last_finished: run.last_finished.unwrap_or_else(|| "never".into()),
                last_line: run.last_report.map(|r| r.line()).unwrap_or_default(),
                last_error: run.last_error.unwrap_or_default(),
            }
        })
        .collect();
    let opt = |c: &hlbridge_accounts::Connection| Opt {
        id: c.id.clone(),
        text: format!(
            "{} · {} ({})",
            c.label.as_deref().unwrap_or(&c.account),
            c.account,
            c.kind.as_str()
        ),
    };
    let ghl: Vec<Opt> = conns
        .iter()
        .filter(|c| c.app == App::Ghl && c.kind.is_location())
        .map(opt)
        .collect();
    let sellsy: Vec<Opt> = conns
        .iter()
        .filter(|c| c.app == App::Sellsy)
        .map(opt)
        .collect();
    let mut res = render(
        "pairs.html",
        "Pairs",
        session,
        minijinja::context! { pairs => rows, ghl => ghl, sellsy => sellsy, error => error },
    );
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    res
}

async fn list(session: CurrentSession, Extension(lead): Extension<Arc<Lead>>) -> Response {
    show(&session, &lead, StatusCode::OK, "")
}

#[derive(Deserialize)]
pub(super) struct NewPair {
    #[serde(default)]
    ghl: String,
    #[serde(default)]
    sellsy: String,
}

async fn create(
    session: CurrentSession,
    Extension(lead): Extension<Arc<Lead>>,
    Form(f): Form<NewPair>,
) -> Response {
    let refuse = |e: &str| show(&session, &lead, StatusCode::BAD_REQUEST, e);
    if f.ghl.is_empty() {
        return refuse("GHL location: choose one (connect a GHL location on /connections first).");
    }
    if f.sellsy.is_empty() {
        return refuse("Sellsy account: choose one (connect Sellsy on /connections first).");
    }
    if let Err(e) = validate_pair_config("") {
        return refuse(&format!("default configuration: {e}"));
    }
    match lead.accounts.registry.add_pair(&f.ghl, &f.sellsy, "") {
        Ok(p) => {
            let _ = lead.runner.reload();
            Redirect::to(&format!("/ui/pairs/{}/mapping", enc(&p.id))).into_response()
        }
        Err(e) => refuse(&format!("GHL location / Sellsy account: {e}")),
    }
}

async fn sync_now(
    _s: CurrentSession,
    Extension(lead): Extension<Arc<Lead>>,
    Path(id): Path<String>,
) -> Response {
    if lead.runner.sync_now(&id) {
        Redirect::to("/ui/pairs").into_response()
    } else {
        error_page(
            StatusCode::NOT_FOUND,
            &format!("No pair {id}; see the list at /ui/pairs."),
        )
    }
}
