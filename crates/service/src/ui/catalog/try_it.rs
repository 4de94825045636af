//! "Try it" (`/ui/catalog/{app}/{op}`): the form generated from an operation's
//! parameters and body, the confirmation a write needs, the call through a stored
//! connection and its answer (secret-looking values masked).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use hlbridge_core::call::CallInput;
use hlbridge_core::optable::{Method, Operation, ParamIn, Table, Ty};
use serde::Serialize;
use serde_json::{json, Value};

use super::table;
use crate::access::CurrentSession;
use crate::api::Lead;
use crate::ui::{enc, error_page, render};

#[derive(Serialize)]
struct Field {
    name: &'static str,
    /// `p-<name>` made safe for an HTML id.
    dom: String,
    location: &'static str,
    input: &'static str,
    step: &'static str,
    options: Vec<&'static str>,
    required: bool,
    hint: String,
    value: String,
}

fn dom_id(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("p-{safe}")
}

/// Filled from the connection when left empty.
fn from_connection(app: &str, name: &str) -> bool {
    app == "ghl" && matches!(name, "locationId" | "location_id" | "companyId")
}

fn fields(op: &Operation, values: &BTreeMap<String, String>) -> Vec<Field> {
    op.params
        .iter()
        .map(|p| {
            let (input, step, options) = match p.ty {
                Ty::Integer => ("number", "1", vec![]),
                Ty::Number => ("number", "any", vec![]),
                Ty::Boolean => ("select", "", vec!["true", "false"]),
                Ty::Enum(vals) => ("select", "", vals.to_vec()),
                _ => ("text", "", vec![]),
            };
            let auto = from_connection(op.app.as_str(), p.name);
            let mut hint = p.ty.describe();
            if matches!(p.ty, Ty::Array(_)) {
                hint.push_str(", comma-separated");
            }
            if auto {
                hint.push_str("; taken from the connection when empty");
            }
            Field {
                name: p.name,
                dom: dom_id(p.name),
                location: p.location.as_str(),
                input,
                step,
                options,
                required: p.required && !auto,
                hint,
                value: values.get(p.name).cloned().unwrap_or_default(),
            }
        })
        .collect()
}

fn skeleton(table: &Table, ty: &Ty, depth: usize) -> Value {
    match ty {
        Ty::String => json!(""),
        Ty::Integer | Ty::Number => json!(0),
        Ty::Boolean => json!(false),
        Ty::Enum(v) => json!(v.first().copied().unwrap_or("")),
        Ty::Array(_) => json!([]),
        Ty::Any => Value::Null,
        Ty::Object(None) => json!({}),
        Ty::Object(Some(name)) => {
            let Some(s) = table.schemas.iter().find(|s| s.name == *name) else {
                return json!({});
            };
            if depth > 1 {
                return json!({});
            }
            let map = s
                .fields
                .iter()
                .map(|f| (f.name.to_string(), skeleton(table, &f.ty, depth + 1)))
                .collect();
            Value::Object(map)
        }
    }
}

fn body_skeleton(table: &Table, op: &Operation) -> Option<String> {
    op.body
        .map(|b| serde_json::to_string_pretty(&skeleton(table, &b.ty, 0)).unwrap_or_default())
}

#[derive(Serialize)]
struct ConnOption {
    id: String,
    label: String,
}

fn connections(lead: &Lead, app: &str) -> Vec<ConnOption> {
    lead.accounts
        .registry
        .list()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.app.as_str() == app)
        .map(|c| ConnOption {
            label: format!(
                "{} · {} ({})",
                c.label.clone().unwrap_or_else(|| c.account.clone()),
                c.kind.as_str(),
                c.id
            ),
            id: c.id,
        })
        .collect()
}

/// The table and operation named in the path, else a "not found" page.
fn find(app: &str, op_id: &str) -> Result<(&'static Table, &'static Operation), Box<Response>> {
    let missing = |m: String| Box::new(error_page(StatusCode::NOT_FOUND, &m));
    let t = table(app).ok_or_else(|| {
        missing(format!(
            "app {app:?}: the catalog has ghl and sellsy; see /ui/catalog"
        ))
    })?;
    let op = t.get(op_id).ok_or_else(|| {
        missing(format!(
            "{app} has no operation {op_id:?}; search /ui/catalog"
        ))
    })?;
    Ok((t, op))
}

/// What the Try-it page shows besides the form.
#[derive(Default, Serialize)]
struct Outcome {
    errors: BTreeMap<String, String>,
    confirm: bool,
    status: Option<u16>,
    response: Option<String>,
    failure: Option<String>,
}

struct Page<'a> {
    table: &'static Table,
    op: &'static Operation,
    values: BTreeMap<String, String>,
    body: Option<String>,
    connection: String,
    outcome: Outcome,
    lead: &'a Lead,
}

fn show(session: &CurrentSession, p: Page<'_>) -> Response {
    let op = p.op;
    let app = op.app.as_str();
    let write = op.method != Method::Get;
    let conns = connections(p.lead, app);
    render(
        "try_it.html",
        &format!("Try {app} {}", op.id),
        session,
        minijinja::context! {
            app => app,
            id => op.id,
            name => op.name,
            category => op.category,
            method => op.method.as_str(),
            path => op.path,
            kind => op.kind.as_str(),
            write => write,
            id_enc => enc(op.id),
            fields => fields(op, &p.values),
            has_body => op.body.is_some(),
            body_required => op.body.is_some_and(|b| b.required),
            body => p.body.or_else(|| body_skeleton(p.table, op)).unwrap_or_default(),
            connections => conns,
            connection => p.connection,
            outcome => p.outcome,
        },
    )
}

pub(crate) async fn try_form(
    session: CurrentSession,
    Extension(lead): Extension<Arc<Lead>>,
    Path((app, op_id)): Path<(String, String)>,
) -> Response {
    let (table, op) = match find(&app, &op_id) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    show(
        &session,
        Page {
            table,
            op,
            values: BTreeMap::new(),
            body: None,
            connection: String::new(),
            outcome: Outcome::default(),
            lead: &lead,
        },
    )
}

/// The submitted parameters as a call input; errors keyed by field name.
fn input_of(
    op: &Operation,
    values: &BTreeMap<String, String>,
    body: Option<&str>,
) -> Result<CallInput, BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    let mut input = CallInput::new();
    for p in op.params {
        let v = values.get(p.name).map(|s| s.trim()).unwrap_or("");
        if v.is_empty() {
            if p.required && !from_connection(op.app.as_str(), p.name) {
                errors.insert(
                    p.name.to_string(),
                    format!(
                        "{}: required {} parameter; fill it in",
                        p.name,
                        p.location.as_str()
                    ),
                );
            }
            continue;
        }
        let bad = match p.ty {
            Ty::Integer => v.parse::<i64>().is_err(),
            Ty::Number => v.parse::<f64>().is_err(),
            Ty::Boolean => v != "true" && v != "false",
            Ty::Enum(vals) => !vals.contains(&v),
            _ => false,
        };
        if bad {
            errors.insert(
                p.name.to_string(),
                format!("{}: {v:?} is not {}", p.name, p.ty.describe()),
            );
            continue;
        }
        if matches!(p.ty, Ty::Array(_)) && p.location == ParamIn::Query {
            for part in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                input = input.param(p.name, part);
            }
        } else {
            input = input.param(p.name, v);
        }
    }
    if let Some(text) = body.map(str::trim).filter(|t| !t.is_empty()) {
        match serde_json::from_str::<Value>(text) {
            Ok(b) => input = input.body(b),
            Err(e) => {
                errors.insert(
                    "body".into(),
                    format!(
                        "body: not JSON ({e}); write a JSON object such as {{\"name\": \"x\"}}"
                    ),
                );
            }
        }
    } else if op.body.is_some_and(|b| b.required) {
        errors.insert(
            "body".into(),
            "body: this operation needs a JSON body".into(),
        );
    }
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(errors)
    }
}

async fn send(lead: &Lead, op: &Operation, conn_id: &str, input: &CallInput) -> Outcome {
    let failed = |m: String| Outcome {
        failure: Some(m),
        ..Outcome::default()
    };
    let conn = match lead.accounts.registry.require(conn_id) {
        Ok(c) if c.app.as_str() == op.app.as_str() => c,
        Ok(c) => {
            return failed(format!(
                "connection: {} is a {} connection; choose a {} one",
                c.id,
                c.app.as_str(),
                op.app.as_str()
            ))
        }
        Err(e) => return failed(format!("connection: {e}")),
    };
    let res = match op.app.as_str() {
        "ghl" => match lead.accounts.ghl_client(&conn) {
            Ok(c) => c.call_op(op, input).await,
            Err(e) => return failed(format!("connection {}: {e}", conn.id)),
        },
        _ => match lead.accounts.sellsy_client(&conn) {
            Ok(c) => c.call_op(op, input).await,
            Err(e) => return failed(format!("connection {}: {e}", conn.id)),
        },
    };
    match res {
        Ok(r) => {
            let shown = if r.is_json() {
                hlbridge_flows::run::redact(&r.body)
            } else {
                json!(format!("({} bytes, not JSON)", r.raw.len()))
            };
            Outcome {
                status: Some(r.status),
                response: Some(serde_json::to_string_pretty(&shown).unwrap_or_default()),
                ..Outcome::default()
            }
        }
        Err(e) => Outcome {
            status: e.status(),
            failure: Some(e.to_string()),
            ..Outcome::default()
        },
    }
}

pub(crate) async fn try_send(
    session: CurrentSession,
    Extension(lead): Extension<Arc<Lead>>,
    Path((app, op_id)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let (table, op) = match find(&app, &op_id) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let mut values = BTreeMap::new();
    let (mut body, mut connection, mut confirmed) = (None, String::new(), false);
    for (k, v) in form {
        match k.as_str() {
            "body" => body = Some(v),
            "connection" => connection = v,
            "confirmed" => confirmed = v == "yes",
            other => {
                if let Some(name) = other.strip_prefix("p.") {
                    values.insert(name.to_string(), v);
                }
            }
        }
    }
    let mut outcome = Outcome::default();
    if connection.trim().is_empty() {
        outcome.errors.insert(
            "connection".into(),
            format!("connection: choose a stored {app} connection (add one on /connections)"),
        );
    }
    let input = input_of(op, &values, body.as_deref());
    match input {
        Err(errors) => outcome.errors.extend(errors),
        Ok(_) if !outcome.errors.is_empty() => {}
        Ok(input) => {
            if op.method != Method::Get && !confirmed {
                outcome.confirm = true;
            } else {
                outcome = send(&lead, op, connection.trim(), &input).await;
            }
        }
    }
    let status = if outcome.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = show(
        &session,
        Page {
            table,
            op,
            values,
            body,
            connection,
            outcome,
            lead: &lead,
        },
    );
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    res
}
