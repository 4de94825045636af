//! `/ui/runs` (newest first, `?flow=&status=&before=`), `/ui/runs/{id}` (its steps) and
//! the "Replay from failed step" form.

use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use hlbridge_flows::run::{RunError, RunFilter};
use serde::{Deserialize, Serialize};

use super::{enc, error_page, render};
use crate::access::CurrentSession;
use crate::flows::{parse, Flows};

const PAGE: usize = 50;

#[derive(Deserialize, Default)]
pub(super) struct RunsQuery {
    #[serde(default)]
    flow: String,
    #[serde(default)]
    status: String,
    before: Option<i64>,
}

pub(super) async fn list(
    session: CurrentSession,
    Extension(flows): Extension<Arc<Flows>>,
    Query(q): Query<RunsQuery>,
) -> Response {
    let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    let all = match flows.runs.list(&RunFilter {
        flow: some(&q.flow),
        status: some(&q.status),
        limit: Some(100_000),
    }) {
        Ok(r) => r,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let mut runs: Vec<_> = all
        .into_iter()
        .filter(|r| q.before.is_none_or(|b| r.id < b))
        .take(PAGE + 1)
        .collect();
    let next = (runs.len() > PAGE).then(|| {
        runs.truncate(PAGE);
        let last = runs.last().map(|r| r.id).unwrap_or(0);
        format!(
            "/ui/runs?flow={}&status={}&before={last}",
            enc(q.flow.trim()),
            enc(q.status.trim())
        )
    });
    render(
        "runs.html",
        "Runs",
        &session,
        minijinja::context! {
            runs => runs,
            next => next,
            flow => q.flow.trim(),
            status => q.status.trim(),
            statuses => ["ok", "failed", "skipped", "running", "waiting"],
        },
    )
}

#[derive(Serialize)]
struct StepView {
    step_path: String,
    attempt: i64,
    status: String,
    input: String,
    output: String,
    error: Option<String>,
    started: String,
    finished: Option<String>,
    requests: String,
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

pub(super) async fn show(
    session: CurrentSession,
    Extension(flows): Extension<Arc<Flows>>,
    Path(id): Path<i64>,
) -> Response {
    let run = match flows.runs.get(id) {
        Ok(Some(r)) => r,
        Ok(None) => {
            return error_page(
                StatusCode::NOT_FOUND,
                &format!("No run has id {id}; see /ui/runs."),
            )
        }
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let steps = match flows.runs.steps(id) {
        Ok(s) => s,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let steps: Vec<StepView> = steps
        .into_iter()
        .map(|s| StepView {
            input: pretty(&s.input),
            output: s.output.as_ref().map(pretty).unwrap_or_default(),
            requests: pretty(&s.requests),
            step_path: s.step_path,
            attempt: s.attempt,
            status: s.status,
            error: s.error,
            started: s.started,
            finished: s.finished,
        })
        .collect();
    render(
        "run.html",
        &format!("Run #{id}"),
        &session,
        minijinja::context! { flow_q => enc(&run.flow), run => run, steps => steps },
    )
}

/// Replay a failed run from its failed step with the version it ran, as
/// `POST /api/runs/{id}/replay` does; then show the new run.
pub(super) async fn replay(
    _s: CurrentSession,
    Extension(flows): Extension<Arc<Flows>>,
    Path(id): Path<i64>,
) -> Response {
    let run = match flows.runs.get(id) {
        Ok(Some(r)) => r,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, &format!("No run has id {id}.")),
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let d = match flows.registry.version(&run.flow, run.version) {
        Ok(Some(d)) => d,
        Ok(None) => {
            return error_page(
                StatusCode::NOT_FOUND,
                &format!(
                    "flow {} version {} is no longer stored",
                    run.flow, run.version
                ),
            )
        }
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let flow = match parse(&d) {
        Ok(f) => f,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let pair = flows
        .registry
        .get(&run.flow)
        .ok()
        .flatten()
        .and_then(|x| x.pair);
    let exec = match flows.executor(pair.as_deref()) {
        Ok(x) => x,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e),
    };
    match exec.replay(id, true, &flow, d.version).await {
        Ok(out) => Redirect::to(&format!("/ui/runs/{}", out.run_id)).into_response(),
        Err(RunError::Refused(m)) => error_page(StatusCode::BAD_REQUEST, &m),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
