//! The per-record history of writes: one row per write whose outcome is known
//! (applied, found again, retrying, failed, skipped), with the pair, what triggered
//! it (a poll cycle, a webhook hint, a flow), the target side, the record ids on both
//! sides, the fields changed (old → new) and which side won.
//!
//! The outbox attaches a [`WriteContext`] to every intent; the store turns it into a
//! history row in the same transaction that settles the outbox entry.

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What triggered a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteSource {
    /// A poll cycle (`sync --once`, the continuous loop).
    #[default]
    Poll,
    /// A verified webhook event (a targeted sync of the record it names).
    Webhook,
    /// An automation flow.
    Flow,
}

impl WriteSource {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteSource::Poll => "poll",
            WriteSource::Webhook => "webhook",
            WriteSource::Flow => "flow",
        }
    }

    pub fn parse(s: &str) -> Option<WriteSource> {
        match s {
            "poll" => Some(WriteSource::Poll),
            "webhook" => Some(WriteSource::Webhook),
            "flow" => Some(WriteSource::Flow),
            _ => None,
        }
    }
}

tokio::task_local! {
    static SOURCE: WriteSource;
}

/// Run `fut` with every write it makes recorded as coming from `source`, e.g.
/// `with_source(WriteSource::Webhook, engine.sync_hint(&hint)).await`. Writes made
/// outside any such scope are recorded as [`WriteSource::Poll`]. The scope follows
/// the future (concurrent hints and cycles on one engine are told apart), not tasks
/// it spawns.
pub async fn with_source<F: Future>(source: WriteSource, fut: F) -> F::Output {
    SOURCE.scope(source, fut).await
}

/// The source of the writes the current task makes.
pub fn current_source() -> WriteSource {
    SOURCE.try_with(|s| *s).unwrap_or_default()
}

/// One field of a write: its value on the target before, and the value sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// What the outbox knows of an intended write, kept with the intent until its
/// outcome is known. Never holds credentials: only canonical record fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WriteContext {
    pub pair: String,
    pub source: WriteSource,
    pub ghl_id: Option<String>,
    pub sellsy_id: Option<String>,
    /// The contact's e-mail (for tasks and notes: their contact's), lower-cased.
    pub email: Option<String>,
    pub changes: Vec<FieldChange>,
    /// `ghl`, `sellsy`, `merge` (both sides won fields of one pair) or `manual` (a
    /// resolved conflict).
    pub winner: Option<String>,
    /// The `meta` key of a conflict resolution this write carries out, cleared once
    /// it is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_key: Option<String>,
}

/// Which rows [`crate::admin::history`] returns, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryFilter {
    pub pair: Option<String>,
    /// A record id on either side, or a contact's e-mail.
    pub record: Option<String>,
    /// Only rows at or after this time (RFC 3339 or YYYY-MM-DD).
    pub since: Option<String>,
    /// At most this many rows (0: the default, 100).
    pub limit: usize,
}

/// One recorded write.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// When the outcome was recorded (RFC 3339, UTC, milliseconds).
    pub at: String,
    pub pair: String,
    pub source: WriteSource,
    /// The side written to.
    pub side: super::Side,
    pub kind: super::Kind,
    pub ghl_id: Option<String>,
    pub sellsy_id: Option<String>,
    /// create | update | archive | delete
    pub op: String,
    pub changes: Vec<FieldChange>,
    pub winner: Option<String>,
    /// applied | found | retrying | failed | skipped
    pub outcome: String,
    pub error: Option<String>,
}

impl HistoryEntry {
    /// One line for `hlbridge history`.
    pub fn line(&self) -> String {
        let changes: Vec<String> = self
            .changes
            .iter()
            .map(|c| format!("{}: {} → {}", c.field, show(&c.old), show(&c.new)))
            .collect();
        let mut out = format!(
            "{} [{}] {} {} {} {} on {} (GHL {} / Sellsy {})",
            self.at,
            self.pair,
            self.source.as_str(),
            self.outcome,
            self.op,
            self.kind.as_str(),
            self.side.label(),
            self.ghl_id.as_deref().unwrap_or("-"),
            self.sellsy_id.as_deref().unwrap_or("-"),
        );
        if let Some(w) = &self.winner {
            out.push_str(&format!(", {w} won"));
        }
        if !changes.is_empty() {
            out.push_str(&format!(": {}", changes.join("; ")));
        }
        if let Some(e) = &self.error {
            out.push_str(&format!(" — {}", e.replace('\n', " ")));
        }
        out
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

/// The history's time format: RFC 3339, UTC, milliseconds (sorts as text).
pub fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A user-given time (`YYYY-MM-DD` or RFC 3339) in the history's time format.
pub fn parse_since(s: &str) -> Option<String> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| stamp(t.and_utc()));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| stamp(t.with_timezone(&chrono::Utc)))
}
