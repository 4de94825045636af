//! Date filters.

use minijinja::Environment;

pub(crate) fn register(_env: &mut Environment<'static>) {}

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Parse a JSON value as a date.
pub(crate) fn parse(_v: &Value) -> Option<DateTime<Utc>> {
    None
}
