//! Contact tasks: `/contacts/{contactId}/tasks[/{taskId}[/completed]]`.
//!
//! Responses are `{task}` / `{tasks}`; delete answers `{succeded: true}` (GHL's
//! spelling). Webhooks: `TaskCreate`, `TaskComplete` (when `completed` turns true, by
//! update or by the complete endpoint), `TaskDelete`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{json, Map, Value};

use super::context::{Ctx, Reply};
use super::errors::ApiError;
use super::ids::iso;
use super::store::Store;
use super::webhooks::Event;

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: String,
    pub contact_id: String,
    pub title: String,
    pub body: Option<String>,
    pub assigned_to: Option<String>,
    pub due_date: DateTime<Utc>,
    pub completed: bool,
    pub date_added: DateTime<Utc>,
    pub date_updated: DateTime<Utc>,
}

impl Task {
    pub fn render(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "title": self.title,
            "dueDate": iso(self.due_date),
            "completed": self.completed,
            "contactId": self.contact_id,
            "dateAdded": iso(self.date_added),
            "dateUpdated": iso(self.date_updated),
        });
        if let Value::Object(map) = &mut v {
            if let Some(b) = &self.body {
                map.insert("body".into(), json!(b));
            }
            if let Some(a) = &self.assigned_to {
                map.insert("assignedTo".into(), json!(a));
            }
        }
        v
    }

    /// Fields of the task webhook events.
    fn webhook_fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        if let Some(a) = &self.assigned_to {
            m.insert("assignedTo".into(), json!(a));
        }
        if let Some(b) = &self.body {
            m.insert("body".into(), json!(b));
        }
        m.insert("contactId".into(), json!(self.contact_id));
        m.insert("title".into(), json!(self.title));
        m.insert("dateAdded".into(), json!(iso(self.date_added)));
        m.insert("dueDate".into(), json!(iso(self.due_date)));
        m
    }
}

/// Parse an ISO 8601 date-time (a date alone or a naive time is taken as UTC).
pub fn parse_due_date(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, fmt) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn due_date(body: &Value) -> Result<Option<DateTime<Utc>>, ApiError> {
    match body.get("dueDate").and_then(Value::as_str) {
        None => Ok(None),
        Some(raw) => parse_due_date(raw)
            .map(Some)
            .ok_or_else(|| ApiError::unprocessable("dueDate must be a valid ISO 8601 date string")),
    }
}

fn task_not_found() -> ApiError {
    ApiError::bad_request("Task not found")
}

fn find<'a>(store: &'a mut Store, ctx: &Ctx) -> Result<&'a mut Task, ApiError> {
    let contact_id = ctx.path("contactId");
    store.contact(contact_id)?;
    let task_id = ctx.path("taskId");
    store
        .tasks
        .get_mut(contact_id)
        .and_then(|ts| ts.iter_mut().find(|t| t.id == task_id))
        .ok_or_else(task_not_found)
}

pub fn list(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let contact_id = ctx.path("contactId");
    store.contact(contact_id)?;
    let mut tasks: Vec<Value> = store
        .tasks
        .get(contact_id)
        .map(|ts| ts.iter().map(Task::render).collect())
        .unwrap_or_default();
    super::store::cut_listing(store.truncate_after, &mut tasks);
    Ok(Reply::ok(ctx, json!({ "tasks": tasks })))
}

pub fn get(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let task = find(store, ctx)?;
    Ok(Reply::ok(ctx, json!({ "task": task.render() })))
}

pub fn create(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let contact_id = ctx.path("contactId").to_string();
    store.contact(&contact_id)?;
    let due = due_date(&ctx.body)?
        .ok_or_else(|| ApiError::unprocessable("dueDate should not be empty"))?;
    let now = store.now();
    let task = Task {
        id: store.new_id(),
        contact_id: contact_id.clone(),
        title: ctx.body_str("title").unwrap_or_default().to_string(),
        body: ctx.body_str("body").map(str::to_string),
        assigned_to: ctx.body_str("assignedTo").map(str::to_string),
        due_date: due,
        completed: ctx
            .body
            .get("completed")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        date_added: now,
        date_updated: now,
    };
    let mut events = vec![Event::new("TaskCreate", task.webhook_fields())];
    if task.completed {
        events.push(Event::new("TaskComplete", task.webhook_fields()));
    }
    let rendered = task.render();
    store.tasks.entry(contact_id).or_default().push(task);
    Ok(Reply::ok(ctx, json!({ "task": rendered })).with_events(events))
}

pub fn update(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let due = due_date(&ctx.body)?;
    let now = store.now();
    let task = find(store, ctx)?;
    let was_completed = task.completed;
    if let Some(t) = ctx.body_str("title") {
        task.title = t.to_string();
    }
    if let Some(v) = ctx.body.get("body") {
        task.body = v.as_str().map(str::to_string);
    }
    if let Some(v) = ctx.body.get("assignedTo") {
        task.assigned_to = v.as_str().map(str::to_string);
    }
    if let Some(d) = due {
        task.due_date = d;
    }
    if let Some(c) = ctx.body.get("completed").and_then(Value::as_bool) {
        task.completed = c;
    }
    task.date_updated = now;
    let events = if task.completed && !was_completed {
        vec![Event::new("TaskComplete", task.webhook_fields())]
    } else {
        Vec::new()
    };
    Ok(Reply::ok(ctx, json!({ "task": task.render() })).with_events(events))
}

pub fn complete(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let now = store.now();
    let task = find(store, ctx)?;
    let was_completed = task.completed;
    task.completed = ctx
        .body
        .get("completed")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    task.date_updated = now;
    let events = if task.completed && !was_completed {
        vec![Event::new("TaskComplete", task.webhook_fields())]
    } else {
        Vec::new()
    };
    Ok(Reply::ok(ctx, json!({ "task": task.render() })).with_events(events))
}

pub fn delete(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let contact_id = ctx.path("contactId");
    store.contact(contact_id)?;
    let task_id = ctx.path("taskId");
    let tasks = store.tasks.get_mut(contact_id).ok_or_else(task_not_found)?;
    let pos = tasks
        .iter()
        .position(|t| t.id == task_id)
        .ok_or_else(task_not_found)?;
    let task = tasks.remove(pos);
    Ok(Reply::ok(ctx, json!({ "succeded": true }))
        .with_events(vec![Event::new("TaskDelete", task.webhook_fields())]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_dates_parse_leniently() {
        assert!(parse_due_date("2024-05-01T10:00:00Z").is_some());
        assert!(parse_due_date("2024-05-01T10:00:00.000+02:00").is_some());
        assert!(parse_due_date("2024-05-01").is_some());
        assert!(parse_due_date("tomorrow").is_none());
    }
}
