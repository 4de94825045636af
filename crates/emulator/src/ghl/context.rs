//! What a handler receives (a validated request) and returns (a reply plus the webhook
//! events its state change caused).

use axum::http::StatusCode;
use hlbridge_core::optable::Operation;
use serde_json::{Map, Value};

use super::auth::Grant;
use super::errors::ApiError;
use super::ids::trace_id;
use super::webhooks::Event;

/// A request that passed routing, auth, rate limiting and table validation.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub op: &'static Operation,
    /// `None` only for operations that need no token (the OAuth token endpoint).
    pub grant: Option<Grant>,
    pub path: Vec<(&'static str, String)>,
    pub query: Vec<(String, String)>,
    /// The decoded body (`Value::Null` when there was none).
    pub body: Value,
    /// The emulator's base URL (for `nextPageUrl`).
    pub base_url: String,
}

impl Ctx {
    /// A path parameter (routing guarantees declared ones are present).
    pub fn path(&self, name: &str) -> &str {
        self.path
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The body as an object (empty when absent).
    pub fn body_object(&self) -> Map<String, Value> {
        self.body.as_object().cloned().unwrap_or_default()
    }

    /// The strings of a body array (other items skipped; absent → empty).
    pub fn body_strings(&self, name: &str) -> Vec<String> {
        self.body
            .get(name)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn body_str(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str)
    }

    /// A numeric query parameter with a default, refused (422) when out of range.
    pub fn query_number(
        &self,
        name: &str,
        default: i64,
        min: i64,
        max: Option<i64>,
    ) -> Result<i64, ApiError> {
        let Some(raw) = self.query(name) else {
            return Ok(default);
        };
        let n = raw
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && f.fract() == 0.0)
            .ok_or_else(|| ApiError::unprocessable(format!("{name} must be an integer number")))?;
        // Range-checked above as finite and integral; the cast saturates.
        let n = n as i64;
        if n < min {
            return Err(ApiError::unprocessable(format!(
                "{name} must not be less than {min}"
            )));
        }
        if let Some(max) = max {
            if n > max {
                return Err(ApiError::unprocessable(format!(
                    "{name} must not be greater than {max}"
                )));
            }
        }
        Ok(n)
    }
}

/// A handler's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub events: Vec<Event>,
    /// A file served instead of the JSON `body` (recordings, transcripts).
    pub file: Option<FileBody>,
}

/// A non-JSON answer: bytes with their `Content-Type` and `Content-Disposition`.
#[derive(Debug, Clone, PartialEq)]
pub struct FileBody {
    pub content_type: &'static str,
    pub disposition: &'static str,
    pub bytes: Vec<u8>,
}

impl Reply {
    /// The operation's documented success status with `body`.
    pub fn ok(ctx: &Ctx, body: Value) -> Reply {
        Reply {
            status: StatusCode::from_u16(ctx.op.success_status).unwrap_or(StatusCode::OK),
            body,
            events: Vec::new(),
            file: None,
        }
    }

    /// Serve `bytes` as a file instead of a JSON body.
    pub fn file(
        mut self,
        content_type: &'static str,
        disposition: &'static str,
        bytes: Vec<u8>,
    ) -> Reply {
        self.file = Some(FileBody {
            content_type,
            disposition,
            bytes,
        });
        self
    }

    pub fn with_status(mut self, status: StatusCode) -> Reply {
        self.status = status;
        self
    }

    pub fn with_events(mut self, events: Vec<Event>) -> Reply {
        self.events = events;
        self
    }

    /// Add a `traceId` to an object body (where the spec shows one).
    pub fn traced(mut self) -> Reply {
        if let Value::Object(map) = &mut self.body {
            map.insert("traceId".into(), Value::String(trace_id()));
        }
        self
    }
}
