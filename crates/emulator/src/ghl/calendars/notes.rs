//! Appointment notes: `/calendars/appointments/{appointmentId}/notes[/{noteId}]`.
//!
//! Listed newest first with `limit` (required, ≤ 20) and `offset` (required, ≥ 0) as
//! `{notes, hasMore}`; create answers 201 `{note}`, update `{note}`, delete
//! `{success: true}`. A note's `contactId` is its appointment's contact. Notes go with
//! their appointment when it is deleted.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::super::context::{Ctx, Reply};
use super::super::errors::ApiError;
use super::super::ids::iso;
use super::super::store::Store;
use super::{new_id, not_blank, not_found, query_count, EventKind};

/// `limit` cap of the list.
pub const MAX_LIMIT: i64 = 20;
/// `body` cap (class-validator `MaxLength`).
pub const MAX_BODY: usize = 5000;

#[derive(Debug, Clone, PartialEq)]
pub struct AppointmentNote {
    pub id: String,
    pub appointment_id: String,
    pub contact_id: Option<String>,
    pub body: String,
    pub user_id: Option<String>,
    pub date_added: DateTime<Utc>,
}

impl AppointmentNote {
    pub fn render(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("body".into(), json!(self.body));
        if let Some(u) = &self.user_id {
            m.insert("userId".into(), json!(u));
            m.insert("createdBy".into(), json!({ "id": u }));
        }
        m.insert("dateAdded".into(), json!(iso(self.date_added)));
        if let Some(c) = &self.contact_id {
            m.insert("contactId".into(), json!(c));
        }
        Value::Object(m)
    }
}

fn check_body(ctx: &Ctx) -> Result<String, ApiError> {
    not_blank(&ctx.body, &["body"])?;
    let body = ctx.body_str("body").unwrap_or_default().to_string();
    if body.chars().count() > MAX_BODY {
        return Err(ApiError::unprocessable(format!(
            "body must be shorter than or equal to {MAX_BODY} characters"
        )));
    }
    Ok(body)
}

fn note_mut<'a>(store: &'a mut Store, ctx: &Ctx) -> Result<&'a mut AppointmentNote, ApiError> {
    let appointment = ctx.path("appointmentId");
    store.calendars.event(appointment, EventKind::Appointment)?;
    let id = ctx.path("noteId");
    store
        .calendars
        .notes
        .iter_mut()
        .find(|n| n.id == id && n.appointment_id == appointment)
        .ok_or_else(|| not_found("Note"))
}

/// `GET …/notes?limit&offset` → `{notes, hasMore}`.
pub fn list(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let appointment = ctx.path("appointmentId");
    store.calendars.event(appointment, EventKind::Appointment)?;
    let limit = query_count(ctx, "limit", MAX_LIMIT, Some(MAX_LIMIT))?;
    let offset = query_count(ctx, "offset", 0, None)?;
    let all: Vec<&AppointmentNote> = store
        .calendars
        .notes
        .iter()
        .rev()
        .filter(|n| n.appointment_id == appointment)
        .collect();
    let notes: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|n| n.render())
        .collect();
    let has_more = offset.saturating_add(limit) < all.len();
    Ok(Reply::ok(
        ctx,
        json!({ "notes": notes, "hasMore": has_more }),
    ))
}

/// `POST …/notes` → 201 `{note}`.
pub fn create(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let appointment = ctx.path("appointmentId").to_string();
    let contact_id = store
        .calendars
        .event(&appointment, EventKind::Appointment)?
        .contact_id
        .clone();
    let body = check_body(ctx)?;
    let date_added = store.now();
    let note = AppointmentNote {
        id: new_id(store),
        appointment_id: appointment,
        contact_id,
        body,
        user_id: ctx.body_str("userId").map(str::to_string),
        date_added,
    };
    let rendered = note.render();
    store.calendars.notes.push(note);
    Ok(Reply::ok(ctx, json!({ "note": rendered })))
}

/// `PUT …/notes/{noteId}` → `{note}`.
pub fn update(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let body = check_body(ctx)?;
    let note = note_mut(store, ctx)?;
    note.body = body;
    if let Some(u) = ctx.body_str("userId") {
        note.user_id = Some(u.to_string());
    }
    Ok(Reply::ok(ctx, json!({ "note": note.render() })))
}

/// `DELETE …/notes/{noteId}` → `{success: true}`.
pub fn delete(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = note_mut(store, ctx)?.id.clone();
    store.calendars.notes.retain(|n| n.id != id);
    Ok(Reply::ok(ctx, json!({ "success": true })))
}
