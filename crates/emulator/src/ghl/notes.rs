//! Contact notes: `/contacts/{contactId}/notes[/{id}]`.
//!
//! Responses are `{note}` / `{notes}`; delete answers `{succeded: true}`. Webhooks
//! `NoteCreate`, `NoteUpdate`, `NoteDelete` carry only `id, body, contactId, dateAdded`
//! (GHL builds them from that fixed allowlist).

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::context::{Ctx, Reply};
use super::errors::ApiError;
use super::ids::iso;
use super::store::Store;
use super::webhooks::Event;

#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub id: String,
    pub contact_id: String,
    pub body: String,
    pub user_id: Option<String>,
    pub title: Option<String>,
    pub color: Option<String>,
    pub pinned: Option<bool>,
    pub date_added: DateTime<Utc>,
}

impl Note {
    pub fn render(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("body".into(), json!(self.body));
        if let Some(u) = &self.user_id {
            m.insert("userId".into(), json!(u));
        }
        m.insert("dateAdded".into(), json!(iso(self.date_added)));
        m.insert("contactId".into(), json!(self.contact_id));
        if let Some(t) = &self.title {
            m.insert("title".into(), json!(t));
        }
        if let Some(c) = &self.color {
            m.insert("color".into(), json!(c));
        }
        if let Some(p) = self.pinned {
            m.insert("pinned".into(), json!(p));
        }
        Value::Object(m)
    }

    fn webhook_fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("body".into(), json!(self.body));
        m.insert("contactId".into(), json!(self.contact_id));
        m.insert("dateAdded".into(), json!(iso(self.date_added)));
        m
    }
}

fn note_not_found() -> ApiError {
    ApiError::bad_request("Note not found")
}

fn opt_string(body: &Value, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_string)
}

pub fn list(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let contact_id = ctx.path("contactId");
    store.contact(contact_id)?;
    // Newest first, as GHL lists notes.
    let mut notes: Vec<Value> = store
        .notes
        .get(contact_id)
        .map(|ns| ns.iter().rev().map(Note::render).collect())
        .unwrap_or_default();
    super::store::cut_listing(store.truncate_after, &mut notes);
    Ok(Reply::ok(ctx, json!({ "notes": notes })))
}

fn find<'a>(store: &'a mut Store, ctx: &Ctx) -> Result<&'a mut Note, ApiError> {
    let contact_id = ctx.path("contactId");
    store.contact(contact_id)?;
    let id = ctx.path("id");
    store
        .notes
        .get_mut(contact_id)
        .and_then(|ns| ns.iter_mut().find(|n| n.id == id))
        .ok_or_else(note_not_found)
}

pub fn get(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let note = find(store, ctx)?;
    Ok(Reply::ok(ctx, json!({ "note": note.render() })))
}

pub fn create(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let contact_id = ctx.path("contactId").to_string();
    store.contact(&contact_id)?;
    let now = store.now();
    let note = Note {
        id: store.new_id(),
        contact_id: contact_id.clone(),
        body: ctx.body_str("body").unwrap_or_default().to_string(),
        user_id: opt_string(&ctx.body, "userId"),
        title: opt_string(&ctx.body, "title"),
        color: opt_string(&ctx.body, "color"),
        pinned: ctx.body.get("pinned").and_then(Value::as_bool),
        date_added: now,
    };
    let rendered = note.render();
    let event = Event::new("NoteCreate", note.webhook_fields());
    store.notes.entry(contact_id).or_default().push(note);
    Ok(Reply::ok(ctx, json!({ "note": rendered })).with_events(vec![event]))
}

pub fn update(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let note = find(store, ctx)?;
    if let Some(b) = ctx.body_str("body") {
        note.body = b.to_string();
    }
    for (key, slot) in [
        ("userId", &mut note.user_id),
        ("title", &mut note.title),
        ("color", &mut note.color),
    ] {
        if let Some(v) = ctx.body.get(key) {
            *slot = v.as_str().map(str::to_string);
        }
    }
    if let Some(p) = ctx.body.get("pinned") {
        note.pinned = p.as_bool();
    }
    let event = Event::new("NoteUpdate", note.webhook_fields());
    Ok(Reply::ok(ctx, json!({ "note": note.render() })).with_events(vec![event]))
}

pub fn delete(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let contact_id = ctx.path("contactId");
    store.contact(contact_id)?;
    let id = ctx.path("id");
    let notes = store.notes.get_mut(contact_id).ok_or_else(note_not_found)?;
    let pos = notes
        .iter()
        .position(|n| n.id == id)
        .ok_or_else(note_not_found)?;
    let note = notes.remove(pos);
    Ok(Reply::ok(ctx, json!({ "succeded": true }))
        .with_events(vec![Event::new("NoteDelete", note.webhook_fields())]))
}
