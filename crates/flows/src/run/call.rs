//! Calling one operation of either app: input rendering into a [`CallInput`], write
//! detection, retries (429 / 5xx / timeouts only), dry-run printouts.

use std::collections::BTreeMap;
use std::time::Duration;

use hlbridge_core::call::CallInput;
use hlbridge_core::optable::{Kind, Method, Operation};
use hlbridge_core::Error as ApiError;
use serde_json::{json, Map, Value};

use super::Apps;
use crate::model::{split_operation, App, Backoff, Retry};

/// One operation resolved against its table.
pub struct Resolved {
    pub app: App,
    pub op: &'static Operation,
}

impl Resolved {
    /// A write is any non-GET action; searches sent as POST are `kind: trigger` in the
    /// tables and count as reads.
    pub fn is_write(&self) -> bool {
        self.op.method != Method::Get && self.op.kind == Kind::Action
    }

    /// `ghl:contacts.create-contact`, as written in flows.
    pub fn full_id(&self) -> String {
        let app = match self.app {
            App::Ghl => "ghl",
            App::Sellsy => "sellsy",
        };
        format!("{app}:{}", self.op.id)
    }

    pub fn is_create(&self) -> bool {
        self.op.method == Method::Post && self.is_write()
    }
}

pub fn resolve(operation: &str) -> Result<Resolved, String> {
    let (app, id) = split_operation(operation).ok_or_else(|| {
        format!("operation `{operation}`: write it as `ghl:group.op` or `sellsy:group.op`")
    })?;
    let op = match app {
        App::Ghl => hlbridge_ghl::operation(id),
        App::Sellsy => hlbridge_sellsy::client::operation(id),
    }
    .map_err(|e| format!("operation `{operation}`: {e}"))?;
    Ok(Resolved { app, op })
}

/// Turn rendered `params` (any JSON) into the clients' string parameters.
pub fn call_input(params: &Map<String, Value>, body: Option<Value>) -> CallInput {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in params {
        let values = match value {
            Value::Null => continue,
            Value::Array(items) => items.iter().map(scalar).collect(),
            other => vec![scalar(other)],
        };
        out.insert(name.clone(), values);
    }
    CallInput { params: out, body }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether a failed call may be tried again: 429, 5xx, timeouts and cut connections.
pub fn retryable(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::RateLimited { .. }
            | ApiError::Server { .. }
            | ApiError::Timeout(_)
            | ApiError::Network(_)
    )
}

/// Whether the request may have reached the server with its answer lost (a cut
/// connection or a timeout): a create that ends so has an unknown outcome.
pub fn lost_answer(e: &ApiError) -> bool {
    matches!(e, ApiError::Timeout(_) | ApiError::Network(_))
}

/// Parse `500ms`, `2s`, `1m`, `1h` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 = num.parse().ok()?;
    Some(match unit.trim() {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        "d" => Duration::from_secs(n * 86_400),
        _ => return None,
    })
}

/// Wait before attempt `attempt + 1` (attempt counted from 1).
pub fn backoff(retry: &Retry, attempt: u32) -> Duration {
    let base = retry
        .base
        .as_deref()
        .and_then(parse_duration)
        .unwrap_or(Duration::from_secs(1));
    match retry.backoff {
        Backoff::Constant => base,
        Backoff::Exponential => base.saturating_mul(1u32 << (attempt.saturating_sub(1)).min(10)),
    }
}

const SECRET_WORDS: [&str; 6] = [
    "authorization",
    "token",
    "password",
    "secret",
    "api_key",
    "apikey",
];

/// A copy of `v` with the values of secret-looking keys replaced by `***`.
pub fn redact(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    if SECRET_WORDS.iter().any(|w| lower.contains(w)) {
                        (k.clone(), json!("***"))
                    } else {
                        (k.clone(), redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// The exact request an operation would send: method, URL, headers without
/// Authorization, body. Built by the client (parameters checked against the table).
pub async fn describe(apps: &Apps, r: &Resolved, input: &CallInput) -> Result<Value, String> {
    let (request, base) = match r.app {
        App::Ghl => {
            let c = apps
                .ghl
                .as_ref()
                .ok_or("no GHL connection: connect one or set HLBRIDGE_GHL_TOKEN")?;
            (
                c.prepare(r.op, input).await,
                c.executor().base_url().to_string(),
            )
        }
        App::Sellsy => {
            let c = apps
                .sellsy
                .as_ref()
                .ok_or("no Sellsy connection: connect one or set HLBRIDGE_SELLSY_TOKEN")?;
            (c.prepare(r.op, input), c.executor().base_url().to_string())
        }
    };
    let request = request.map_err(|e| format!("{}: {e}", r.op.id))?;
    let mut url = format!("{}{}", base.trim_end_matches('/'), request.path);
    if !request.query.is_empty() {
        let q: Vec<String> = request
            .query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        url.push('?');
        url.push_str(&q.join("&"));
    }
    let headers: Map<String, Value> = request
        .headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("authorization"))
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let body = match &request.body {
        Some(hlbridge_core::http::Payload::Json(v)) => redact(v),
        Some(hlbridge_core::http::Payload::Form(f)) => {
            json!(f.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>())
        }
        None => Value::Null,
    };
    Ok(json!({
        "method": r.op.method.as_str(),
        "url": url,
        "headers": headers,
        "body": body,
    }))
}

/// Send the call once.
pub async fn send(apps: &Apps, r: &Resolved, input: CallInput) -> Result<Value, ApiError> {
    match r.app {
        App::Ghl => match &apps.ghl {
            Some(c) => c.call(r.op.id, input).await,
            None => Err(ApiError::Config(
                "no GHL connection: connect one or set HLBRIDGE_GHL_TOKEN".into(),
            )),
        },
        App::Sellsy => match &apps.sellsy {
            Some(c) => c.call(r.op.id, input).await,
            None => Err(ApiError::Config(
                "no Sellsy connection: connect one or set HLBRIDGE_SELLSY_TOKEN".into(),
            )),
        },
    }
}
