//! Turning "operation id + parameters by name + body" into a checked [`Request`]:
//! the part of a table-driven client that is the same for every app.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::http::{Payload, Request};
use crate::optable::{BodyEncoding, Kind, Operation, ParamIn, Table};
use crate::validate::validate_request;

/// Parameters of one call: path, query and header parameters by name (values as text,
/// as typed on a command line; repeat a name for a list) and an optional JSON body.
#[derive(Debug, Clone, Default)]
pub struct CallInput {
    pub params: BTreeMap<String, Vec<String>>,
    pub body: Option<Value>,
}

impl CallInput {
    pub fn new() -> Self {
        CallInput::default()
    }

    pub fn param(mut self, name: &str, value: impl ToString) -> Self {
        self.params
            .entry(name.to_string())
            .or_default()
            .push(value.to_string());
        self
    }

    /// Replace a parameter's value(s).
    pub fn set(&mut self, name: &str, value: impl ToString) {
        self.params
            .insert(name.to_string(), vec![value.to_string()]);
    }

    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }
}

/// Look an operation up by id, with a hint when the id is unknown.
pub fn find_operation(table: &Table, id: &str) -> Result<&'static Operation> {
    table.get(id).ok_or_else(|| {
        let hint: Vec<&str> = table
            .operations
            .iter()
            .filter(|op| !id.is_empty() && (op.id.contains(id) || id.contains(op.operation_id)))
            .map(|op| op.id)
            .take(3)
            .collect();
        let list = format!(
            "`hlbridge ops list --app {}` shows them all",
            table.app.as_str()
        );
        if hint.is_empty() {
            Error::InvalidInput(format!("unknown operation {id:?}; {list}"))
        } else {
            Error::InvalidInput(format!(
                "unknown operation {id:?}; did you mean {}? {list}",
                hint.join(", ")
            ))
        }
    })
}

/// Validate `input` against `op` and build the request. Nothing is sent; the first
/// violation becomes an [`Error::InvalidInput`] naming the parameter and what was expected.
pub fn build_request(
    table: &Table,
    op: &Operation,
    input: &CallInput,
    budget_key: &str,
) -> Result<Request> {
    let mut path_params: Vec<(&str, String)> = Vec::new();
    let mut query: Vec<(String, String)> = Vec::new();
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, values) in &input.params {
        match op.params.iter().find(|p| p.name == name) {
            Some(p) if p.location == ParamIn::Path => {
                path_params.push((p.name, values.last().cloned().unwrap_or_default()));
            }
            Some(p) if p.location == ParamIn::Header => {
                headers.extend(values.iter().map(|v| (name.clone(), v.clone())));
            }
            _ => query.extend(values.iter().map(|v| (name.clone(), v.clone()))),
        }
    }
    if op.body.is_none() && input.body.is_some() {
        return Err(Error::InvalidInput(format!(
            "{}: this operation takes no body",
            op.id
        )));
    }
    let form = op.body.is_some_and(|b| b.encoding == BodyEncoding::Form);
    let body_as_sent = match (&input.body, form) {
        (Some(Value::Object(map)), true) => Some(Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), Value::String(text(v))))
                .collect(),
        )),
        (body, _) => body.clone(),
    };
    let violations = validate_request(table, op, &path_params, &query, body_as_sent.as_ref());
    if let Some(v) = violations.first() {
        let more = match violations.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        return Err(Error::InvalidInput(format!(
            "{}: {}{more}",
            op.id,
            v.describe()
        )));
    }
    let path = op
        .render_path(|name| {
            path_params
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        })
        .map_err(|missing| {
            Error::InvalidInput(format!("{}: missing path parameter {missing:?}", op.id))
        })?;
    let body = match body_as_sent {
        Some(Value::Object(map)) if form => Some(Payload::Form(
            map.into_iter().map(|(k, v)| (k, text(&v))).collect(),
        )),
        Some(v) => Some(Payload::Json(v)),
        None => None,
    };
    Ok(Request {
        method: op.method,
        path,
        query,
        headers,
        body,
        safe_to_repeat: op.method.is_idempotent() || op.kind == Kind::Trigger,
        budget_key: budget_key.to_string(),
        anonymous: false,
        app: Some(table.app.as_str()),
        operation: Some(op.id),
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
