//! Calendar notifications: `/calendars/{calendarId}/notifications[/{notificationId}]`.
//!
//! Create takes an **array** and answers the created notifications as an array; the
//! list is a bare array too (as the notes say), filtered by `isActive` and `deleted`
//! (default: not deleted), paged by `skip`/`limit` (default 0/100). Ids are `_id`.
//! Delete is soft, as the DTO's `deleted` flag shows: the notification leaves the
//! default list, stays readable by id with `deleted: true`, and an update with
//! `deleted: false` restores it; deleting it twice is a 400. Update and delete answer
//! `{message}`.

use serde_json::{json, Map, Value};

use super::super::context::{Ctx, Reply};
use super::super::errors::ApiError;
use super::super::store::Store;
use super::{merge, new_id, not_found, query_count};

/// The properties of `CalendarNotificationResponseDTO` besides `_id`.
const FIELDS: &[&str] = &[
    "receiverType",
    "additionalEmailIds",
    "additionalPhoneNumbers",
    "channel",
    "notificationType",
    "isActive",
    "additionalWhatsappNumbers",
    "templateId",
    "body",
    "subject",
    "afterTime",
    "beforeTime",
    "selectedUsers",
    "deleted",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: String,
    pub calendar_id: String,
    /// Every property as written (`fromAddress`, … included).
    pub data: Map<String, Value>,
}

impl Notification {
    fn flag(&self, name: &str, default: bool) -> bool {
        self.data
            .get(name)
            .and_then(Value::as_bool)
            .unwrap_or(default)
    }

    pub fn is_active(&self) -> bool {
        self.flag("isActive", true)
    }

    pub fn deleted(&self) -> bool {
        self.flag("deleted", false)
    }

    pub fn render(&self) -> Value {
        let mut m = Map::new();
        m.insert("_id".into(), json!(self.id));
        for key in FIELDS {
            if let Some(v) = self.data.get(*key).filter(|v| !v.is_null()) {
                m.insert((*key).into(), v.clone());
            }
        }
        m.insert("isActive".into(), json!(self.is_active()));
        m.insert("deleted".into(), json!(self.deleted()));
        Value::Object(m)
    }
}

fn find_mut<'a>(store: &'a mut Store, ctx: &Ctx) -> Result<&'a mut Notification, ApiError> {
    let cal = ctx.path("calendarId");
    store.calendars.calendar(cal)?;
    let id = ctx.path("notificationId");
    store
        .calendars
        .notifications
        .iter_mut()
        .find(|n| n.id == id && n.calendar_id == cal)
        .ok_or_else(|| not_found("Notification"))
}

fn bool_query(ctx: &Ctx, name: &str) -> Option<bool> {
    ctx.query(name).map(|v| v == "true")
}

/// `GET /calendars/{calendarId}/notifications` → bare array.
pub fn list(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let cal = ctx.path("calendarId");
    store.calendars.calendar(cal)?;
    let limit = query_count(ctx, "limit", 100, None)?;
    let skip = query_count(ctx, "skip", 0, None)?;
    let active = bool_query(ctx, "isActive");
    let deleted = bool_query(ctx, "deleted").unwrap_or(false);
    let list: Vec<Value> = store
        .calendars
        .notifications
        .iter()
        .filter(|n| n.calendar_id == cal)
        .filter(|n| n.deleted() == deleted)
        .filter(|n| active.is_none_or(|want| want == n.is_active()))
        .skip(skip)
        .take(limit)
        .map(Notification::render)
        .collect();
    Ok(Reply::ok(ctx, Value::Array(list)))
}

/// `POST /calendars/{calendarId}/notifications` (array body) → array.
pub fn create(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let cal = ctx.path("calendarId").to_string();
    store.calendars.calendar(&cal)?;
    let items = ctx.body.as_array().cloned().unwrap_or_default();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let mut data = Map::new();
        merge(&mut data, &item);
        data.insert("deleted".into(), json!(false));
        let n = Notification {
            id: new_id(store),
            calendar_id: cal.clone(),
            data,
        };
        out.push(n.render());
        store.calendars.notifications.push(n);
    }
    Ok(Reply::ok(ctx, Value::Array(out)))
}

/// `GET /calendars/{calendarId}/notifications/{notificationId}`.
pub fn get(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let n = find_mut(store, ctx)?;
    Ok(Reply::ok(ctx, n.render()))
}

/// `PUT …/{notificationId}` → `{message}`.
pub fn update(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let n = find_mut(store, ctx)?;
    merge(&mut n.data, &ctx.body);
    Ok(Reply::ok(
        ctx,
        json!({ "message": "Notification updated successfully" }),
    ))
}

/// `DELETE …/{notificationId}` → `{message}` (soft delete).
pub fn delete(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let n = find_mut(store, ctx)?;
    if n.deleted() {
        return Err(not_found("Notification"));
    }
    n.data.insert("deleted".into(), json!(true));
    Ok(Reply::ok(
        ctx,
        json!({ "message": "Notification deleted successfully" }),
    ))
}
