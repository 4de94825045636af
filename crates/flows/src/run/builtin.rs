//! The built-in actions, run by hlbridge itself rather than sent to an app:
//! `hlbridge:notes.archive` writes a note into the engine's notes archive (the one
//! `hlbridge notes search` reads).

use hlbridge_engine::store::{ArchivedNote, Side};
use serde_json::{json, Value};

use super::exec::{Ctx, Executor, Failure};
use crate::model::Call;

pub const NOTES_ARCHIVE: &str = "hlbridge:notes.archive";

fn fail(path: &str, message: impl Into<String>) -> Failure {
    Failure {
        path: path.to_string(),
        message: message.into(),
        unknown: false,
    }
}

/// A body field as text (numbers are written out), `None` when absent or null.
fn text(body: &Value, field: &str) -> Option<String> {
    match body.get(field)? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The archived note a rendered `notes.archive` body describes.
pub(crate) fn archived_note(path: &str, body: &Value) -> Result<ArchivedNote, Failure> {
    let side = match text(body, "side").as_deref() {
        Some("ghl") => Side::Ghl,
        Some("sellsy") => Side::Sellsy,
        Some(other) => {
            return Err(fail(
                path,
                format!("{path}: {NOTES_ARCHIVE}: body.side is `{other}`: write ghl or sellsy"),
            ))
        }
        None => {
            return Err(fail(
                path,
                format!("{path}: {NOTES_ARCHIVE}: body.side is missing: write ghl or sellsy"),
            ))
        }
    };
    let note_id = text(body, "note_id").ok_or_else(|| {
        fail(
            path,
            format!(
                "{path}: {NOTES_ARCHIVE}: body.note_id is missing or empty: give the note's id"
            ),
        )
    })?;
    let note = match body.get("body") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => {
            return Err(fail(
                path,
                format!("{path}: {NOTES_ARCHIVE}: body.body is missing: give the note's text"),
            ))
        }
        Some(other) => other.to_string(),
    };
    Ok(ArchivedNote {
        side,
        note_id,
        ghl_contact_id: text(body, "ghl_contact_id"),
        sellsy_contact_id: text(body, "sellsy_contact_id"),
        body: note,
        updated: text(body, "updated"),
    })
}

impl Executor {
    /// Run a built-in action (its input is already recorded by the caller).
    pub(crate) fn builtin(&self, ctx: &mut Ctx, path: &str, c: &Call) -> Result<Value, Failure> {
        if c.operation != NOTES_ARCHIVE {
            return Err(fail(
                path,
                format!(
                    "{path}: unknown built-in action {}: the built-in actions are {NOTES_ARCHIVE}",
                    c.operation
                ),
            ));
        }
        let body = match &c.body {
            Some(b) => self
                .templates
                .render(b, &ctx.scope)
                .map_err(|e| fail(path, format!("{path}: body: {e}")))?,
            None => Value::Null,
        };
        let note = archived_note(path, &body)?;
        if ctx.dry {
            ctx.writes.push(json!({
                "step": path,
                "operation": NOTES_ARCHIVE,
                "request": {"archive": note},
            }));
            return Ok(json!({"dry_run": true}));
        }
        let store = self.apps.outbox.as_ref().ok_or_else(|| {
            fail(
                path,
                format!(
                    "{path}: {NOTES_ARCHIVE} needs the state database (Apps.outbox is not set)"
                ),
            )
        })?;
        // The archive is keyed by (side, note id): writing it again is harmless.
        store
            .archive_note(&note)
            .map_err(|e| fail(path, format!("{path}: {NOTES_ARCHIVE}: {e}")))?;
        Ok(json!({
            "archived": true,
            "side": note.side.as_str(),
            "note_id": note.note_id,
        }))
    }
}
