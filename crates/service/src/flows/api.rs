//! `/api/flows`, `/api/runs`, `/api/templates`: the flows, their runs and the template
//! gallery over REST (in the OpenAPI document).
//!
//! `PUT /api/flows/{name}` validates and stores the text as a new version (not yet
//! running); `POST /api/flows/{name}/deploy` makes the latest stored version the one
//! that runs; `test` is a dry run (reads real, writes only printed).

use std::sync::Arc;

use axum::http::StatusCode;
use axum::Extension;
use hlbridge_flows::deploy::{DeployError, Deployed};
use hlbridge_flows::run::{RunFilter, TriggerItem};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{parse, Flows};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::AppState;

/// The routes of this module, to merge into the API router.
pub fn routes(flows: Arc<Flows>) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_flows))
        .routes(routes!(get_flow, put_flow))
        .routes(routes!(deploy_flow))
        .routes(routes!(enable_flow))
        .routes(routes!(disable_flow))
        .routes(routes!(test_flow))
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
        .routes(routes!(replay_run))
        .routes(routes!(list_templates))
        .layer(Extension(flows))
}

/// An optional JSON body: empty means the defaults.
fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

fn deploy_err(e: DeployError) -> ApiError {
    match e {
        DeployError::Invalid(_) => ApiError::new(StatusCode::BAD_REQUEST, "invalid", e.to_string()),
        DeployError::NotFound(_) => {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
        }
        DeployError::Store(_) => ApiError::internal(e),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowView {
    pub name: String,
    pub version: i64,
    pub enabled: bool,
    pub pair: Option<String>,
    pub deployed_at: String,
    /// `poll OPERATION every N`, `webhook APP EVENTS`, `schedule CRON TZ`.
    pub trigger: String,
    pub title: Option<String>,
    /// The latest runs (at most 5), newest first.
    #[schema(value_type = Vec<Object>)]
    pub last_runs: Vec<hlbridge_flows::run::RunRecord>,
    /// The flow file (only on `GET /api/flows/{name}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

fn trigger_summary(flow: &hlbridge_flows::model::Flow) -> String {
    use hlbridge_flows::model::Trigger;
    match &flow.trigger {
        Trigger::Poll(p) => format!("poll {} every {}", p.operation, p.every),
        Trigger::Webhook(w) => format!("webhook {} {}", w.app, w.events.join(",")),
        Trigger::Schedule(s) => format!("schedule {} {}", s.cron, s.tz.as_deref().unwrap_or("UTC")),
    }
}

fn view(flows: &Flows, d: Deployed, with_text: bool) -> Result<FlowView, ApiError> {
    let flow = parse(&d).map_err(ApiError::internal)?;
    let last_runs = flows
        .runs
        .list(&RunFilter {
            flow: Some(d.name.clone()),
            status: None,
            limit: Some(5),
        })
        .map_err(ApiError::internal)?;
    Ok(FlowView {
        trigger: trigger_summary(&flow),
        title: flow.title.clone(),
        last_runs,
        text: with_text.then(|| d.text.clone()),
        name: d.name,
        version: d.version,
        enabled: d.enabled,
        pair: d.pair,
        deployed_at: d.deployed_at,
    })
}

/// The flow `name`: its deployed version, else its latest stored one.
fn current(flows: &Flows, name: &str) -> Result<Deployed, ApiError> {
    if let Some(d) = flows.registry.get(name).map_err(deploy_err)? {
        return Ok(d);
    }
    latest(flows, name)
}

fn latest(flows: &Flows, name: &str) -> Result<Deployed, ApiError> {
    let v = flows
        .registry
        .latest_version(name)
        .map_err(deploy_err)?
        .ok_or_else(|| ApiError::not_found(format!("flow {name}")))?;
    flows
        .registry
        .version(name, v)
        .map_err(deploy_err)?
        .ok_or_else(|| ApiError::not_found(format!("flow {name} version {v}")))
}

/// The deployed flows, with their latest runs.
#[utoipa::path(get, path = "/api/flows", tag = "flows", responses((status = 200, body = [FlowView])))]
pub async fn list_flows(
    Extension(flows): Extension<Arc<Flows>>,
) -> Result<ApiJson<Vec<FlowView>>, ApiError> {
    let list = flows.registry.list().map_err(deploy_err)?;
    let views = list
        .into_iter()
        .map(|d| view(&flows, d, false))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ApiJson(views))
}

/// One flow with its text (the deployed version, else the latest stored one).
#[utoipa::path(get, path = "/api/flows/{name}", tag = "flows", params(("name" = String, Path)),
    responses((status = 200, body = FlowView), (status = 404, body = crate::ErrorBody)))]
pub async fn get_flow(
    Extension(flows): Extension<Arc<Flows>>,
    ApiPath(name): ApiPath<String>,
) -> Result<ApiJson<FlowView>, ApiError> {
    let d = current(&flows, &name)?;
    Ok(ApiJson(view(&flows, d, true)?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FlowText {
    /// The flow file (YAML).
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Stored {
    pub name: String,
    pub version: i64,
}

/// Validate and store a flow's text as a version (deploy it to make it run). 400
/// `invalid` with one `FILE:LINE:COL: message` line per problem.
#[utoipa::path(put, path = "/api/flows/{name}", tag = "flows", params(("name" = String, Path)),
    request_body = FlowText,
    responses((status = 200, body = Stored), (status = 400, body = crate::ErrorBody)))]
pub async fn put_flow(
    Extension(flows): Extension<Arc<Flows>>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<FlowText>,
) -> Result<ApiJson<Stored>, ApiError> {
    let file = format!("{name}.flow.yaml");
    let flow = hlbridge_flows::validate::validate(&file, &body.text).map_err(|p| {
        let lines: Vec<String> = p.iter().map(ToString::to_string).collect();
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", lines.join("\n"))
    })?;
    if flow.name != name {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!(
                "{file}:1:1: the file's name is {:?}, not {name:?}: make them the same",
                flow.name
            ),
        ));
    }
    let d = flows
        .registry
        .record_version(&body.text)
        .map_err(deploy_err)?;
    Ok(ApiJson(Stored {
        name: d.name,
        version: d.version,
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DeployRequest {
    /// The pair the flow runs for (default: the flow's current pair, else none).
    #[serde(default)]
    pub pair: Option<String>,
}

/// Deploy the latest stored version of the flow; it runs from now on (enabled).
#[utoipa::path(post, path = "/api/flows/{name}/deploy", tag = "flows", params(("name" = String, Path)),
    request_body(content = DeployRequest, description = "optional"),
    responses((status = 200, body = FlowView), (status = 404, body = crate::ErrorBody)))]
pub async fn deploy_flow(
    Extension(flows): Extension<Arc<Flows>>,
    ApiPath(name): ApiPath<String>,
    body: axum::body::Bytes,
) -> Result<ApiJson<FlowView>, ApiError> {
    let req: DeployRequest = optional_json(&body)?;
    let text = latest(&flows, &name)?.text;
    let pair = match req.pair {
        Some(p) => Some(p),
        None => flows
            .registry
            .get(&name)
            .map_err(deploy_err)?
            .and_then(|d| d.pair),
    };
    if let Some(p) = &pair {
        flows.resolve(Some(p)).map_err(ApiError::bad_request)?;
    }
    let d = flows
        .registry
        .deploy(&text, pair.as_deref())
        .map_err(deploy_err)?;
    Ok(ApiJson(view(&flows, d, false)?))
}

fn set_enabled(flows: &Flows, name: &str, on: bool) -> Result<ApiJson<FlowView>, ApiError> {
    flows.registry.set_enabled(name, on).map_err(deploy_err)?;
    let d = flows
        .registry
        .get(name)
        .map_err(deploy_err)?
        .ok_or_else(|| ApiError::not_found(format!("deployed flow {name}")))?;
    Ok(ApiJson(view(flows, d, false)?))
}

/// Let the deployed flow run.
#[utoipa::path(post, path = "/api/flows/{name}/enable", tag = "flows", params(("name" = String, Path)),
    responses((status = 200, body = FlowView), (status = 404, body = crate::ErrorBody)))]
pub async fn enable_flow(
    Extension(flows): Extension<Arc<Flows>>,
    ApiPath(name): ApiPath<String>,
) -> Result<ApiJson<FlowView>, ApiError> {
    set_enabled(&flows, &name, true)
}

/// Stop the deployed flow (its trigger is no longer polled or matched).
#[utoipa::path(post, path = "/api/flows/{name}/disable", tag = "flows", params(("name" = String, Path)),
    responses((status = 200, body = FlowView), (status = 404, body = crate::ErrorBody)))]
pub async fn disable_flow(
    Extension(flows): Extension<Arc<Flows>>,
    ApiPath(name): ApiPath<String>,
) -> Result<ApiJson<FlowView>, ApiError> {
    set_enabled(&flows, &name, false)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TestRequest {
    /// The trigger item the test runs on.
    #[schema(value_type = Object)]
    pub item: Value,
    /// A flow text to test instead of the stored one (unsaved edits).
    #[serde(default)]
    pub text: Option<String>,
}

/// Dry run: the flow on `item`; reads are real, every write is returned as the
/// request it would send (`writes`), nothing is written or recorded.
#[utoipa::path(post, path = "/api/flows/{name}/test", tag = "flows", params(("name" = String, Path)),
    request_body = TestRequest,
    responses((status = 200, body = Object), (status = 400, body = crate::ErrorBody)))]
pub async fn test_flow(
    Extension(flows): Extension<Arc<Flows>>,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<TestRequest>,
) -> Result<ApiJson<Value>, ApiError> {
    let (flow, pair) = match req.text {
        Some(text) => {
            let flow = hlbridge_flows::validate::validate(&format!("{name}.flow.yaml"), &text)
                .map_err(|p| {
                    let lines: Vec<String> = p.iter().map(ToString::to_string).collect();
                    ApiError::new(StatusCode::BAD_REQUEST, "invalid", lines.join("\n"))
                })?;
            let pair = flows
                .registry
                .get(&name)
                .ok()
                .flatten()
                .and_then(|d| d.pair);
            (flow, pair)
        }
        None => {
            let d = current(&flows, &name)?;
            (parse(&d).map_err(ApiError::internal)?, d.pair)
        }
    };
    let exec = flows
        .executor(pair.as_deref())
        .map_err(ApiError::bad_request)?;
    let item = TriggerItem {
        key: "test".into(),
        payload: req.item,
        previous: None,
    };
    let out = exec
        .dry_run(&flow, item)
        .await
        .map_err(ApiError::internal)?;
    Ok(ApiJson(
        serde_json::to_value(out).map_err(ApiError::internal)?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RunsQuery {
    pub flow: Option<String>,
    /// ok | failed | running | waiting | skipped
    pub status: Option<String>,
    /// At most this many (default 100), newest first.
    pub limit: Option<usize>,
}

/// Runs, newest first (failed runs are the dead letters: `?status=failed`).
#[utoipa::path(get, path = "/api/runs", tag = "runs", params(RunsQuery),
    responses((status = 200, body = [Object])))]
pub async fn list_runs(
    Extension(flows): Extension<Arc<Flows>>,
    ApiQuery(q): ApiQuery<RunsQuery>,
) -> Result<ApiJson<Vec<hlbridge_flows::run::RunRecord>>, ApiError> {
    if let Some(s) = &q.status {
        if !["ok", "failed", "running", "waiting", "skipped"].contains(&s.as_str()) {
            return Err(ApiError::bad_request(format!(
                "status {s:?}: use ok, failed, running, waiting or skipped"
            )));
        }
    }
    let runs = flows
        .runs
        .list(&RunFilter {
            flow: q.flow,
            status: q.status,
            limit: Some(q.limit.unwrap_or(100).min(1000)),
        })
        .map_err(ApiError::internal)?;
    Ok(ApiJson(runs))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    #[schema(value_type = Object)]
    pub run: hlbridge_flows::run::RunRecord,
    /// Each step: path, attempt, status, input, output, error, requests sent, timing.
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<hlbridge_flows::run::StepRecord>,
}

/// One run with every step it recorded.
#[utoipa::path(get, path = "/api/runs/{id}", tag = "runs", params(("id" = i64, Path)),
    responses((status = 200, body = RunView), (status = 404, body = crate::ErrorBody)))]
pub async fn get_run(
    Extension(flows): Extension<Arc<Flows>>,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<RunView>, ApiError> {
    let run = flows
        .runs
        .get(id)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("run {id}")))?;
    let steps = flows.runs.steps(id).map_err(ApiError::internal)?;
    Ok(ApiJson(RunView { run, steps }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReplayRequest {
    /// From the failed step (earlier steps' recorded outputs reused, their writes not
    /// sent again); false: from the start.
    #[serde(default)]
    pub from_failed_step: bool,
    /// Run the latest stored version instead of the run's own.
    #[serde(default)]
    pub latest_version: bool,
}

/// Replay a run as a new run; returns the new run's outcome.
#[utoipa::path(post, path = "/api/runs/{id}/replay", tag = "runs", params(("id" = i64, Path)),
    request_body(content = ReplayRequest, description = "optional"),
    responses((status = 200, body = Object), (status = 400, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody)))]
pub async fn replay_run(
    Extension(flows): Extension<Arc<Flows>>,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> Result<ApiJson<Value>, ApiError> {
    let req: ReplayRequest = optional_json(&body)?;
    let run = flows
        .runs
        .get(id)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("run {id}")))?;
    let d = if req.latest_version {
        latest(&flows, &run.flow)?
    } else {
        flows
            .registry
            .version(&run.flow, run.version)
            .map_err(deploy_err)?
            .ok_or_else(|| {
                ApiError::not_found(format!("flow {} version {}", run.flow, run.version))
            })?
    };
    let flow = parse(&d).map_err(ApiError::internal)?;
    let pair = flows
        .registry
        .get(&run.flow)
        .ok()
        .flatten()
        .and_then(|x| x.pair);
    let exec = flows
        .executor(pair.as_deref())
        .map_err(ApiError::bad_request)?;
    let out = exec
        .replay(id, req.from_failed_step, &flow, d.version)
        .await
        .map_err(|e| match e {
            hlbridge_flows::run::RunError::Refused(m) => ApiError::bad_request(m),
            other => ApiError::internal(other),
        })?;
    Ok(ApiJson(
        serde_json::to_value(out).map_err(ApiError::internal)?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    pub name: String,
    pub title: String,
    pub description: String,
    /// The flow file `templates use NAME` writes.
    pub text: String,
}

/// The template gallery (`hlbridge templates list`).
#[utoipa::path(get, path = "/api/templates", tag = "flows", responses((status = 200, body = [TemplateView])))]
pub async fn list_templates() -> ApiJson<Vec<TemplateView>> {
    ApiJson(
        hlbridge_flows::catalog::list()
            .into_iter()
            .map(|t| TemplateView {
                name: t.name.to_string(),
                title: t.title,
                description: t.description,
                text: t.text.to_string(),
            })
            .collect(),
    )
}
