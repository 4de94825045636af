//! What the flow editor's JavaScript asks the server (all in the OpenAPI document):
//!
//! - `POST /api/flows/parse` {yaml}: the flow as JSON (the model of `crates/flows`) and
//!   every `flow validate` problem with its line, column and the path in the flow it
//!   points at (`/steps/2/action/params/limit`), plus the form field it is shown at;
//! - `POST /api/flows/render` {flow}: the YAML of a flow given as JSON, with the same
//!   problems; YAML comments are not kept (the form has no place for them), keys of
//!   `map`, `params` and `input` come out sorted;
//! - both answer the editor's form (HTML) when asked (`form: true`);
//! - `GET /api/ops/search?q=&kind=`: operations of both apps matching every word;
//! - `GET /api/ops/{app}/{id}`: one operation's parameters (location, type, required,
//!   enum values) and body fields, for the typed form fields.

use axum::http::StatusCode;
use hlbridge_core::optable::{Kind, Operation, Table, Ty};
use hlbridge_flows::model::Flow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::ui::editor::{self, Placed};
use crate::AppState;

/// The routes of this module, to merge into the API router.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(parse_flow))
        .routes(routes!(render_flow))
        .routes(routes!(search_ops))
        .routes(routes!(get_op))
}

/// One path/query parameter or body field of an operation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldMeta {
    pub name: String,
    /// `path`, `query` or `body`.
    pub location: String,
    /// The type, as `flow validate` names it (`integer`, `one of todo|done`, …).
    pub ty: String,
    /// The form control: `string`, `integer`, `number`, `boolean`, `enum` or `json`.
    pub input: String,
    pub required: bool,
    /// The allowed values of an `enum`.
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BodyMeta {
    pub required: bool,
    /// True when fields beyond `fields` are accepted.
    pub open: bool,
    pub fields: Vec<FieldMeta>,
}

/// An operation as the editor's forms need it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OpMeta {
    /// `ghl:OP`, `sellsy:OP` or `hlbridge:OP`: what a flow file writes.
    pub id: String,
    pub app: String,
    pub name: String,
    /// `trigger` (a read) or `action` (a write).
    pub kind: String,
    pub category: String,
    pub method: String,
    pub path: String,
    pub params: Vec<FieldMeta>,
    pub body: Option<BodyMeta>,
    /// Paths in the response (`contact.email`), for template completion.
    pub response: Vec<String>,
}

fn input_of(ty: &Ty) -> (&'static str, Vec<String>) {
    match ty {
        Ty::String => ("string", vec![]),
        Ty::Integer => ("integer", vec![]),
        Ty::Number => ("number", vec![]),
        Ty::Boolean => ("boolean", vec![]),
        Ty::Enum(v) => ("enum", v.iter().map(|s| s.to_string()).collect()),
        Ty::Object(_) | Ty::Array(_) | Ty::Any => ("json", vec![]),
    }
}

fn field(name: &str, location: &str, ty: &Ty, required: bool) -> FieldMeta {
    let (input, options) = input_of(ty);
    FieldMeta {
        name: name.to_string(),
        location: location.to_string(),
        ty: ty.describe(),
        input: input.to_string(),
        required,
        options,
    }
}

fn response_paths(
    table: &Table,
    ty: Option<&Ty>,
    prefix: &str,
    depth: usize,
    out: &mut Vec<String>,
) {
    let Some(Ty::Object(Some(name))) = ty else {
        return;
    };
    let Some(schema) = table.schema(name) else {
        return;
    };
    for f in schema.fields {
        if out.len() >= 80 {
            return;
        }
        let p = format!("{prefix}{}", f.name);
        out.push(p.clone());
        if depth > 0 {
            response_paths(table, Some(&f.ty), &format!("{p}."), depth - 1, out);
        }
    }
}

fn meta_of(op: &Operation, table: &Table) -> OpMeta {
    let prefix = op.app.as_str();
    let params = op
        .params
        .iter()
        .filter(|p| p.location != hlbridge_core::optable::ParamIn::Header)
        .map(|p| {
            // locationId is filled from the connection, as the clients do.
            let required = p.required && p.name != "locationId";
            field(p.name, p.location.as_str(), &p.ty, required)
        })
        .collect();
    let body = op.body.map(|b| {
        let schema = match b.ty {
            Ty::Object(Some(name)) => table.schema(name),
            _ => None,
        };
        BodyMeta {
            required: b.required,
            open: schema.is_none_or(|s| s.open),
            fields: schema
                .map(|s| {
                    s.fields
                        .iter()
                        .map(|f| field(f.name, "body", &f.ty, f.required && f.name != "locationId"))
                        .collect()
                })
                .unwrap_or_default(),
        }
    });
    let mut response = Vec::new();
    response_paths(table, op.response.as_ref(), "", 1, &mut response);
    OpMeta {
        id: format!("{prefix}:{}", op.id),
        app: prefix.to_string(),
        name: op.name.to_string(),
        kind: op.kind.as_str().to_string(),
        category: op.category.to_string(),
        method: op.method.as_str().to_string(),
        path: op.path.to_string(),
        params,
        body,
        response,
    }
}

/// The fields of one item a polling trigger on `operation` yields (the elements of the
/// first list in its response), for the completion of `trigger.*`.
pub fn item_fields(operation: &str) -> Vec<String> {
    let Some((app, op)) = hlbridge_flows::model::split_operation(operation) else {
        return vec![];
    };
    let table: &Table = match app {
        hlbridge_flows::model::App::Ghl => &hlbridge_ghl::TABLE,
        hlbridge_flows::model::App::Sellsy => &hlbridge_sellsy::TABLE,
    };
    let Some(op) = table.get(op) else {
        return vec![];
    };
    let item = match op.response {
        Some(Ty::Array(inner)) => Some(*inner),
        Some(Ty::Object(Some(name))) => table.schema(name).and_then(|s| {
            s.fields.iter().find_map(|f| match f.ty {
                Ty::Array(inner @ Ty::Object(Some(_))) => Some(*inner),
                _ => None,
            })
        }),
        _ => None,
    };
    let mut out = Vec::new();
    response_paths(table, item.as_ref(), "", 1, &mut out);
    out
}

/// The operation a flow names (`ghl:OP`, `sellsy:OP`, a built-in `hlbridge:OP`).
pub fn op_meta(id: &str) -> Option<OpMeta> {
    if let Some(b) = hlbridge_flows::validate::BUILTINS
        .iter()
        .find(|b| b.id == id)
    {
        let fields = b
            .required
            .iter()
            .map(|f| field(f, "body", &Ty::String, true))
            .chain(
                b.optional
                    .iter()
                    .map(|f| field(f, "body", &Ty::String, false)),
            )
            .collect();
        return Some(OpMeta {
            id: b.id.to_string(),
            app: "hlbridge".into(),
            name: "Built-in action".into(),
            kind: "action".into(),
            category: "hlbridge".into(),
            method: "-".into(),
            path: "-".into(),
            params: vec![],
            body: Some(BodyMeta {
                required: true,
                open: false,
                fields,
            }),
            response: vec![],
        });
    }
    let (app, op) = hlbridge_flows::model::split_operation(id)?;
    let table: &Table = match app {
        hlbridge_flows::model::App::Ghl => &hlbridge_ghl::TABLE,
        hlbridge_flows::model::App::Sellsy => &hlbridge_sellsy::TABLE,
    };
    table.get(op).map(|o| meta_of(o, table))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ParseRequest {
    /// The flow file's text.
    pub yaml: String,
    /// A trigger item, for the completion of `trigger.*` in the form.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub sample: Option<Value>,
    /// Also answer the editor's form (HTML).
    #[serde(default)]
    pub form: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParseResponse {
    /// The flow (the model of `hlbridge flow schema`); null when the YAML does not read
    /// as a flow (syntax or shape).
    #[schema(value_type = Option<Object>)]
    pub flow: Option<Value>,
    pub problems: Vec<Placed>,
    /// The editor's form, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
}

/// Read a flow file: the flow as JSON and its problems, each placed at a path of the
/// flow (and the form field showing it).
#[utoipa::path(post, path = "/api/flows/parse", tag = "flows", request_body = ParseRequest,
    responses((status = 200, body = ParseResponse)))]
pub async fn parse_flow(
    ApiJson(req): ApiJson<ParseRequest>,
) -> Result<ApiJson<ParseResponse>, ApiError> {
    let flow = hlbridge_flows::validate::parse("flow.yaml", &req.yaml).ok();
    let problems = match hlbridge_flows::validate::validate("flow.yaml", &req.yaml) {
        Ok(_) => vec![],
        Err(p) => p,
    };
    let (problems, form) = editor::place(
        &req.yaml,
        flow.as_ref(),
        &problems,
        req.sample.as_ref(),
        req.form,
    );
    let flow = flow
        .map(|f| serde_json::to_value(f).map_err(ApiError::internal))
        .transpose()?;
    Ok(ApiJson(ParseResponse {
        flow,
        problems,
        form,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RenderRequest {
    /// The flow as JSON (as `POST /api/flows/parse` answers it).
    #[schema(value_type = Object)]
    pub flow: Value,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub sample: Option<Value>,
    #[serde(default)]
    pub form: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RenderResponse {
    /// The flow file (YAML).
    pub yaml: String,
    pub problems: Vec<Placed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
}

/// Write a flow given as JSON as its YAML file, with the problems `flow validate`
/// finds in it. 400 `invalid` when the JSON is not a flow (naming the field).
#[utoipa::path(post, path = "/api/flows/render", tag = "flows", request_body = RenderRequest,
    responses((status = 200, body = RenderResponse), (status = 400, body = crate::ErrorBody)))]
pub async fn render_flow(
    ApiJson(req): ApiJson<RenderRequest>,
) -> Result<ApiJson<RenderResponse>, ApiError> {
    let flow: Flow = serde_json::from_value(req.flow).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("flow: {e}; see `hlbridge flow schema` for the shape"),
        )
    })?;
    let yaml = editor::to_yaml(&flow).map_err(ApiError::internal)?;
    let problems = match hlbridge_flows::validate::validate("flow.yaml", &yaml) {
        Ok(_) => vec![],
        Err(p) => p,
    };
    let (problems, form) =
        editor::place(&yaml, Some(&flow), &problems, req.sample.as_ref(), req.form);
    Ok(ApiJson(RenderResponse {
        yaml,
        problems,
        form,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct OpsSearch {
    /// Words that must all appear in the id, name, category or path.
    pub q: Option<String>,
    /// `trigger` (reads, for polling triggers) or `action`; default both.
    pub kind: Option<String>,
    /// At most this many (default 20, at most 100).
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpHit {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub category: String,
    pub method: String,
    pub path: String,
}

/// Search both apps' operations (and the built-in actions) for the operation picker.
#[utoipa::path(get, path = "/api/ops/search", tag = "flows", params(OpsSearch),
    responses((status = 200, body = [OpHit]), (status = 400, body = crate::ErrorBody)))]
pub async fn search_ops(ApiQuery(q): ApiQuery<OpsSearch>) -> Result<ApiJson<Vec<OpHit>>, ApiError> {
    let kind = match q.kind.as_deref() {
        None | Some("") => None,
        Some("trigger") => Some(Kind::Trigger),
        Some("action") => Some(Kind::Action),
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "kind={k}: use trigger or action"
            )))
        }
    };
    let words: Vec<String> =
        q.q.unwrap_or_default()
            .to_lowercase()
            .split_whitespace()
            .map(str::to_string)
            .collect();
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let mut hits = Vec::new();
    if kind != Some(Kind::Trigger) {
        for b in hlbridge_flows::validate::BUILTINS {
            if words.iter().all(|w| b.id.contains(w.as_str())) {
                hits.push(OpHit {
                    id: b.id.to_string(),
                    name: "Built-in action".into(),
                    kind: "action".into(),
                    category: "hlbridge".into(),
                    method: "-".into(),
                    path: "-".into(),
                });
            }
        }
    }
    for table in [&hlbridge_ghl::TABLE, &hlbridge_sellsy::TABLE] {
        for op in table.operations.iter() {
            if kind.is_some_and(|k| op.kind != k) {
                continue;
            }
            let id = format!("{}:{}", op.app.as_str(), op.id);
            let hay = format!("{id} {} {} {}", op.name, op.category, op.path).to_lowercase();
            if words.iter().all(|w| hay.contains(w.as_str())) {
                hits.push(OpHit {
                    id,
                    name: op.name.to_string(),
                    kind: op.kind.as_str().to_string(),
                    category: op.category.to_string(),
                    method: op.method.as_str().to_string(),
                    path: op.path.to_string(),
                });
            }
        }
    }
    // Ids that start with the first word first.
    if let Some(first) = words.first() {
        hits.sort_by_key(|h| {
            let short = h.id.split_once(':').map_or(h.id.as_str(), |x| x.1);
            !short.starts_with(first.as_str())
        });
    }
    hits.truncate(limit);
    Ok(ApiJson(hits))
}

/// One operation's parameters and body fields (`app` is ghl, sellsy or hlbridge).
#[utoipa::path(get, path = "/api/ops/{app}/{id}", tag = "flows",
    params(("app" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = OpMeta), (status = 404, body = crate::ErrorBody)))]
pub async fn get_op(
    ApiPath((app, id)): ApiPath<(String, String)>,
) -> Result<ApiJson<OpMeta>, ApiError> {
    let full = format!("{app}:{id}");
    op_meta(&full).map(ApiJson).ok_or_else(|| {
        ApiError::not_found(format!(
            "operation {full} (search them with GET /api/ops/search?q=WORDS)"
        ))
    })
}
