//! Calendars: `GET|POST /calendars/`, `GET|PUT|DELETE /calendars/{calendarId}`.
//!
//! A calendar keeps every property it was given (the DTO has ~60, all echoed back) and
//! answers with the spec's documented defaults for the ones never set (`slotDuration`
//! 30, `slotInterval` 30, `appoinmentPerSlot` 1 — GHL's spelling —, `autoConfirm`
//! true, …). `showDrafted=false` hides inactive (draft) calendars. Deleting a calendar
//! drops its notifications and unlinks it from resources; its appointments stay
//! readable by id, as GHL keeps booked events.

use serde_json::{json, Map, Value};

use super::super::context::{Ctx, Reply};
use super::super::errors::ApiError;
use super::super::store::Store;
use super::{merge, new_id, not_blank};

#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    pub id: String,
    /// Every property as last written (`locationId` included).
    pub data: Map<String, Value>,
}

/// Defaults the spec documents for `CalendarDTO` properties.
fn defaults() -> Map<String, Value> {
    let v = json!({
        "isActive": true,
        "eventType": "RoundRobin_OptimizeForAvailability",
        "widgetType": "classic",
        "eventTitle": "{{contact.name}}",
        "eventColor": "#039be5",
        "slotDuration": 30,
        "slotDurationUnit": "mins",
        "slotInterval": 30,
        "slotIntervalUnit": "mins",
        "appoinmentPerSlot": 1,
        "enableRecurring": false,
        "autoConfirm": true,
        "googleInvitationEmails": false,
        "allowReschedule": true,
        "allowCancellation": true,
        "formSubmitType": "ThankYouMessage",
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

impl Calendar {
    /// A property, falling back to the documented default.
    pub fn get(&self, name: &str) -> Option<Value> {
        self.data
            .get(name)
            .filter(|v| !v.is_null())
            .cloned()
            .or_else(|| defaults().remove(name))
    }

    pub fn num(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(|v| v.as_f64())
    }

    pub fn str(&self, name: &str) -> Option<String> {
        self.get(name).and_then(|v| v.as_str().map(str::to_string))
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(|v| v.as_bool())
    }

    pub fn group_id(&self) -> Option<&str> {
        self.data
            .get("groupId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn is_active(&self) -> bool {
        self.bool("isActive").unwrap_or(true)
    }

    /// Team member user ids, primary first.
    pub fn team_members(&self) -> Vec<String> {
        let members = self
            .data
            .get("teamMembers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut ids: Vec<(bool, String)> = members
            .iter()
            .filter_map(|m| {
                let id = m.get("userId")?.as_str()?.to_string();
                let primary = m.get("isPrimary").and_then(Value::as_bool).unwrap_or(false);
                Some((!primary, id))
            })
            .collect();
        ids.sort_by_key(|(not_primary, _)| *not_primary);
        ids.into_iter().map(|(_, id)| id).collect()
    }

    pub fn render(&self) -> Value {
        let mut out = defaults();
        for (k, v) in &self.data {
            out.insert(k.clone(), v.clone());
        }
        out.insert("id".into(), json!(self.id));
        Value::Object(out)
    }
}

/// class-validator range messages for nested open hours (the table checks types only).
fn check_hours(prefix: &str, hours: &Value, out: &mut Vec<String>) {
    let Some(list) = hours.as_array() else {
        return;
    };
    for (i, h) in list.iter().enumerate() {
        for (key, max) in [
            ("openHour", 23.0),
            ("openMinute", 60.0),
            ("closeHour", 23.0),
            ("closeMinute", 60.0),
        ] {
            if let Some(n) = h.get(key).and_then(Value::as_f64) {
                let path = format!("{prefix}.{i}.{key}");
                if n < 0.0 {
                    out.push(format!("{path} must not be less than 0"));
                } else if n > max {
                    out.push(format!("{path} must not be greater than {max}"));
                }
            }
        }
    }
}

/// Semantic checks of a create/update body (422 for DTO constraints).
fn check_body(body: &Value) -> Result<(), ApiError> {
    let mut out = Vec::new();
    if let Some(list) = body.get("openHours").and_then(Value::as_array) {
        for (i, oh) in list.iter().enumerate() {
            if let Some(days) = oh.get("daysOfTheWeek").and_then(Value::as_array) {
                for (j, d) in days.iter().enumerate() {
                    if let Some(n) = d.as_f64() {
                        let path = format!("openHours.{i}.daysOfTheWeek.{j}");
                        if n < 0.0 {
                            out.push(format!("{path} must not be less than 0"));
                        } else if n > 6.0 {
                            out.push(format!("{path} must not be greater than 6"));
                        }
                    }
                }
            }
            if let Some(h) = oh.get("hours") {
                check_hours(&format!("openHours.{i}.hours"), h, &mut out);
            }
        }
    }
    if let Some(list) = body.get("availabilities").and_then(Value::as_array) {
        for (i, a) in list.iter().enumerate() {
            if let Some(d) = a.get("date").and_then(Value::as_str) {
                if super::parse_time(d, chrono_tz::Tz::UTC).is_none() {
                    out.push(format!(
                        "availabilities.{i}.date must be a valid ISO 8601 date string"
                    ));
                }
            }
            if let Some(h) = a.get("hours") {
                check_hours(&format!("availabilities.{i}.hours"), h, &mut out);
            }
        }
    }
    if let Some(n) = body
        .get("recurring")
        .and_then(|r| r.get("count"))
        .and_then(Value::as_f64)
    {
        if n > 24.0 {
            out.push("recurring.count must not be greater than 24".into());
        }
    }
    for key in ["slotDuration", "slotInterval", "appoinmentPerSlot"] {
        if let Some(n) = body.get(key).and_then(Value::as_f64) {
            if n < 1.0 {
                out.push(format!("{key} must not be less than 1"));
            }
        }
    }
    if out.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(out))
    }
}

fn check_group(store: &Store, body: &Value) -> Result<(), ApiError> {
    match body.get("groupId").and_then(Value::as_str) {
        Some(g) if !g.is_empty() => store.calendars.group(g).map(|_| ()),
        _ => Ok(()),
    }
}

/// `GET /calendars/?locationId&groupId&showDrafted`.
pub fn list(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let group = ctx.query("groupId");
    let show_drafted = ctx.query("showDrafted") != Some("false");
    let calendars: Vec<Value> = store
        .calendars
        .calendars
        .iter()
        .filter(|c| group.is_none() || c.group_id() == group)
        .filter(|c| show_drafted || c.is_active())
        .map(Calendar::render)
        .collect();
    Ok(Reply::ok(ctx, json!({ "calendars": calendars })))
}

/// `GET /calendars/{calendarId}`.
pub fn get(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let cal = store.calendars.calendar(ctx.path("calendarId"))?;
    Ok(Reply::ok(ctx, json!({ "calendar": cal.render() })))
}

/// `POST /calendars/` → `{calendar}`.
pub fn create(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    not_blank(&ctx.body, &["name"])?;
    check_body(&ctx.body)?;
    check_group(store, &ctx.body)?;
    let mut data = Map::new();
    merge(&mut data, &ctx.body);
    data.insert("locationId".into(), json!(store.location_id));
    let cal = Calendar {
        id: new_id(store),
        data,
    };
    let rendered = cal.render();
    store.calendars.calendars.push(cal);
    Ok(Reply::ok(ctx, json!({ "calendar": rendered })))
}

/// `PUT /calendars/{calendarId}` → `{calendar}`.
pub fn update(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.path("calendarId").to_string();
    store.calendars.calendar(&id)?;
    not_blank(&ctx.body, &["name"])?;
    check_body(&ctx.body)?;
    check_group(store, &ctx.body)?;
    let location = store.location_id.clone();
    let cal = store.calendars.calendar_mut(&id)?;
    merge(&mut cal.data, &ctx.body);
    cal.data.insert("locationId".into(), json!(location));
    Ok(Reply::ok(ctx, json!({ "calendar": cal.render() })))
}

/// `DELETE /calendars/{calendarId}` → `{success}`.
pub fn delete(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.path("calendarId");
    let cals = &mut store.calendars;
    let pos = cals
        .calendars
        .iter()
        .position(|c| c.id == id)
        .ok_or_else(|| super::not_found("Calendar"))?;
    cals.calendars.remove(pos);
    cals.notifications.retain(|n| n.calendar_id != id);
    for r in cals.resources.iter_mut() {
        r.calendar_ids.retain(|c| c != id);
    }
    Ok(Reply::ok(ctx, json!({ "success": true })))
}
