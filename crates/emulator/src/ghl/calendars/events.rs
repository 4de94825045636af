//! Appointments and blocked slots: `/calendars/events/appointments[/{eventId}]`,
//! `/calendars/events/block-slots[/{eventId}]`, `GET /calendars/events`,
//! `GET /calendars/blocked-slots`, `DELETE /calendars/events/{eventId}`.
//!
//! - Booking checks the slot like the booking widget does: the start must be one of the
//!   calendar's computed free slots ([`super::slots`]) — open hours, duration/interval,
//!   appointments and blocked slots of the calendar and of the assigned user,
//!   `appoinmentPerSlot` capacity — else **400** [`SLOT_TAKEN`]. The spec documents
//!   only a 400 `BadRequestDTO` for this route, so that is the status; the message is
//!   the one the booking flow shows. `ignoreFreeSlotValidation: true` skips the check;
//!   `ignoreDateRange: true` keeps it but lifts the booking window (past, minimum
//!   notice, `allowBookingFor`).
//! - A missing `endTime` is `startTime` + the calendar's slot duration; a missing
//!   `assignedUserId` is the calendar's primary (else first) team member; a missing
//!   `appointmentStatus` is `confirmed` when the calendar auto-confirms (the default),
//!   else `new`; a missing title is the contact's name.
//! - The quirks the notes document: block-slot `PUT` answers 201, `DELETE
//!   /calendars/events/{id}` answers 201 `{succeeded: true}` (appointments and blocked
//!   slots alike).
//! - Listings take `startTime`/`endTime` (epoch ms; ISO 8601 accepted too) and at least one of `calendarId`,
//!   `userId`, `groupId` (400 otherwise); an event is listed when it overlaps the window.
//! - Webhooks `AppointmentCreate`, `AppointmentUpdate`, `AppointmentDelete` carry the
//!   event under `appointment`.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use chrono_tz::Tz;
use serde_json::{json, Map, Value};

use super::super::context::{Ctx, Reply};
use super::super::errors::ApiError;
use super::super::store::Store;
use super::super::webhooks::Event;
use super::slots::{is_bookable, Rules};
use super::{body_time, new_id, not_found, parse_millis, render_time};

/// The 400 message for a start time that is not a free slot.
pub const SLOT_TAKEN: &str = "The slot you have selected is no longer available.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Appointment,
    Block,
}

impl EventKind {
    /// The thing a 400 says was not found.
    pub fn noun(self) -> &'static str {
        match self {
            EventKind::Appointment => "Appointment",
            EventKind::Block => "Event",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CalEvent {
    pub id: String,
    pub kind: EventKind,
    pub location_id: String,
    pub calendar_id: String,
    pub contact_id: Option<String>,
    pub title: String,
    /// `appointmentStatus` (empty for blocked slots).
    pub status: String,
    pub assigned_user_id: Option<String>,
    pub address: Option<String>,
    pub description: Option<String>,
    pub meeting_location_type: Option<String>,
    pub meeting_location_id: Option<String>,
    pub rrule: Option<String>,
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub date_added: DateTime<Utc>,
    pub date_updated: DateTime<Utc>,
}

/// `createdBy.source` of events made through the API.
const SOURCE: &str = "third_party";

impl CalEvent {
    /// Whether the event holds its slot (cancelled and invalid appointments do not).
    pub fn occupies(&self) -> bool {
        !matches!(self.status.as_str(), "cancelled" | "invalid")
    }

    fn is_recurring(&self) -> bool {
        self.rrule.as_deref().is_some_and(|r| !r.is_empty())
    }

    fn users(&self) -> Vec<String> {
        self.assigned_user_id.iter().cloned().collect()
    }

    /// `AppointmentSchemaResponse` (create/update answers).
    pub fn render_appointment(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("calendarId".into(), json!(self.calendar_id));
        m.insert("locationId".into(), json!(self.location_id));
        m.insert(
            "contactId".into(),
            json!(self.contact_id.clone().unwrap_or_default()),
        );
        m.insert("startTime".into(), json!(render_time(&self.start)));
        m.insert("endTime".into(), json!(render_time(&self.end)));
        m.insert("title".into(), json!(self.title));
        m.insert(
            "meetingLocationType".into(),
            json!(self.meeting_location_type.as_deref().unwrap_or("default")),
        );
        m.insert("appointmentStatus".into(), json!(self.status));
        if let Some(u) = &self.assigned_user_id {
            m.insert("assignedUserId".into(), json!(u));
        }
        if let Some(a) = &self.address {
            m.insert("address".into(), json!(a));
        }
        m.insert("isRecurring".into(), json!(self.is_recurring()));
        if let Some(r) = &self.rrule {
            m.insert("rrule".into(), json!(r));
        }
        Value::Object(m)
    }

    /// `CalendarEventDTO` (reads and listings). Required strings the event does not have
    /// (a blocked slot's contact, a calendar without group) are empty strings.
    pub fn render_event(&self, group_id: Option<String>, tz: Tz) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        if let Some(a) = &self.address {
            m.insert("address".into(), json!(a));
        }
        m.insert("title".into(), json!(self.title));
        m.insert("calendarId".into(), json!(self.calendar_id));
        m.insert("locationId".into(), json!(self.location_id));
        m.insert(
            "contactId".into(),
            json!(self.contact_id.clone().unwrap_or_default()),
        );
        m.insert("groupId".into(), json!(group_id.unwrap_or_default()));
        m.insert("appointmentStatus".into(), json!(self.status));
        m.insert(
            "assignedUserId".into(),
            json!(self.assigned_user_id.clone().unwrap_or_default()),
        );
        m.insert("users".into(), json!(self.users()));
        if let Some(d) = &self.description {
            m.insert("description".into(), json!(d));
        }
        m.insert("isRecurring".into(), json!(self.is_recurring()));
        if let Some(r) = &self.rrule {
            m.insert("rrule".into(), json!(r));
        }
        m.insert("startTime".into(), json!(render_time(&self.start)));
        m.insert("endTime".into(), json!(render_time(&self.end)));
        m.insert(
            "dateAdded".into(),
            json!(render_time(&self.date_added.with_timezone(&tz))),
        );
        m.insert(
            "dateUpdated".into(),
            json!(render_time(&self.date_updated.with_timezone(&tz))),
        );
        m.insert("assignedResources".into(), json!([]));
        m.insert("createdBy".into(), json!({ "source": SOURCE }));
        Value::Object(m)
    }

    /// `BlockedSlotSuccessfulResponseDto`.
    pub fn render_block(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("locationId".into(), json!(self.location_id));
        m.insert("title".into(), json!(self.title));
        m.insert("startTime".into(), json!(render_time(&self.start)));
        m.insert("endTime".into(), json!(render_time(&self.end)));
        m.insert("calendarId".into(), json!(self.calendar_id));
        if let Some(u) = &self.assigned_user_id {
            m.insert("assignedUserId".into(), json!(u));
        }
        Value::Object(m)
    }

    /// The contacts API's `GetEventSchema` (times as `YYYY-MM-DD HH:MM:SS`, location time).
    pub fn render_for_contact(&self, group_id: Option<String>, tz: Tz) -> Value {
        let plain = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string();
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("calendarId".into(), json!(self.calendar_id));
        let status = if self.status == "cancelled" {
            "cancelled"
        } else {
            "booked"
        };
        m.insert("status".into(), json!(status));
        m.insert("title".into(), json!(self.title));
        if let Some(u) = &self.assigned_user_id {
            m.insert("assignedUserId".into(), json!(u));
        }
        m.insert(
            "startTime".into(),
            json!(plain(self.start.with_timezone(&Utc))),
        );
        m.insert("endTime".into(), json!(plain(self.end.with_timezone(&Utc))));
        if let Some(a) = &self.address {
            m.insert("address".into(), json!(a));
        }
        m.insert("locationId".into(), json!(self.location_id));
        if let Some(c) = &self.contact_id {
            m.insert("contactId".into(), json!(c));
        }
        if let Some(g) = group_id {
            m.insert("groupId".into(), json!(g));
        }
        m.insert("appointmentStatus".into(), json!(self.status));
        m.insert("users".into(), json!(self.users()));
        m.insert("dateAdded".into(), json!(plain(self.date_added)));
        m.insert("dateUpdated".into(), json!(plain(self.date_updated)));
        m.insert("assignedResources".into(), json!([]));
        Value::Object(m)
    }

    fn webhook(&self, kind: &'static str, group_id: Option<String>) -> Event {
        let mut a = Map::new();
        a.insert("id".into(), json!(self.id));
        if let Some(addr) = &self.address {
            a.insert("address".into(), json!(addr));
        }
        a.insert("title".into(), json!(self.title));
        a.insert("calendarId".into(), json!(self.calendar_id));
        if let Some(c) = &self.contact_id {
            a.insert("contactId".into(), json!(c));
        }
        if let Some(g) = group_id {
            a.insert("groupId".into(), json!(g));
        }
        a.insert("appointmentStatus".into(), json!(self.status));
        if let Some(u) = &self.assigned_user_id {
            a.insert("assignedUserId".into(), json!(u));
        }
        a.insert("users".into(), json!(self.users()));
        a.insert("source".into(), json!(SOURCE));
        a.insert("startTime".into(), json!(render_time(&self.start)));
        a.insert("endTime".into(), json!(render_time(&self.end)));
        a.insert("dateAdded".into(), json!(render_time(&self.date_added)));
        a.insert("dateUpdated".into(), json!(render_time(&self.date_updated)));
        let mut fields = Map::new();
        fields.insert("appointment".into(), Value::Object(a));
        Event::new(kind, fields)
    }
}

fn opt(body: &Value, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_string)
}

fn flag(body: &Value, key: &str) -> bool {
    body.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn check_order(start: DateTime<FixedOffset>, end: DateTime<FixedOffset>) -> Result<(), ApiError> {
    if end <= start {
        return Err(ApiError::bad_request("endTime must be after startTime"));
    }
    Ok(())
}

fn event_mut<'a>(
    store: &'a mut Store,
    id: &str,
    kind: EventKind,
) -> Result<&'a mut CalEvent, ApiError> {
    store
        .calendars
        .events
        .iter_mut()
        .find(|e| e.id == id && e.kind == kind)
        .ok_or_else(|| not_found(kind.noun()))
}

/// `POST /calendars/events/appointments`.
pub fn create_appointment(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let body = &ctx.body;
    let tz = store.calendars.tz();
    let cal = store
        .calendars
        .calendar(ctx.body_str("calendarId").unwrap_or_default())?
        .clone();
    let contact_id = ctx.body_str("contactId").unwrap_or_default().to_string();
    let contact_name = store.contact(&contact_id)?.display_name();
    let start = body_time(body, "startTime", tz)?
        .ok_or_else(|| ApiError::unprocessable("startTime should not be empty"))?;
    let end = match body_time(body, "endTime", tz)? {
        Some(e) => e,
        None => start + Duration::minutes(Rules::of(&cal).duration),
    };
    check_order(start, end)?;
    let assigned = opt(body, "assignedUserId").or_else(|| cal.team_members().into_iter().next());
    let status = opt(body, "appointmentStatus").unwrap_or_else(|| {
        if cal.bool("autoConfirm").unwrap_or(true) {
            "confirmed".into()
        } else {
            "new".into()
        }
    });
    let holds_slot = !matches!(status.as_str(), "cancelled" | "invalid");
    if holds_slot && !flag(body, "ignoreFreeSlotValidation") {
        let users: Vec<String> = assigned.iter().cloned().collect();
        let window = !flag(body, "ignoreDateRange");
        let start_utc = start.with_timezone(&Utc);
        if !is_bookable(&store.calendars, &cal, start_utc, &users, None, window) {
            return Err(ApiError::bad_request(SLOT_TAKEN));
        }
    }
    let now = store.now();
    let event = CalEvent {
        id: new_id(store),
        kind: EventKind::Appointment,
        location_id: store.location_id.clone(),
        calendar_id: cal.id.clone(),
        contact_id: Some(contact_id),
        title: opt(body, "title")
            .or(contact_name)
            .unwrap_or_else(|| "Appointment".into()),
        status,
        assigned_user_id: assigned,
        address: opt(body, "address"),
        description: opt(body, "description"),
        meeting_location_type: opt(body, "meetingLocationType"),
        meeting_location_id: opt(body, "meetingLocationId"),
        rrule: opt(body, "rrule").filter(|r| !r.is_empty()),
        start,
        end,
        date_added: now,
        date_updated: now,
    };
    let reply = event.render_appointment();
    let hook = event.webhook("AppointmentCreate", cal.group_id().map(str::to_string));
    store.calendars.events.push(event);
    Ok(Reply::ok(ctx, reply).with_events(vec![hook]))
}

/// `GET /calendars/events/appointments/{eventId}` → `{event}`.
pub fn get_appointment(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let cals = &store.calendars;
    let e = cals.event(ctx.path("eventId"), EventKind::Appointment)?;
    Ok(Reply::ok(
        ctx,
        json!({ "event": e.render_event(cals.group_of(e), cals.tz()) }),
    ))
}

/// `PUT /calendars/events/appointments/{eventId}`.
pub fn edit_appointment(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let body = &ctx.body;
    let id = ctx.path("eventId").to_string();
    let tz = store.calendars.tz();
    let current = store.calendars.event(&id, EventKind::Appointment)?.clone();
    let cal_id = opt(body, "calendarId").unwrap_or_else(|| current.calendar_id.clone());
    let cal = store.calendars.calendar(&cal_id)?.clone();
    let start = body_time(body, "startTime", tz)?.unwrap_or(current.start);
    let end = match body_time(body, "endTime", tz)? {
        Some(e) => e,
        None => start + (current.end - current.start),
    };
    check_order(start, end)?;
    let assigned = opt(body, "assignedUserId").or_else(|| current.assigned_user_id.clone());
    let status = opt(body, "appointmentStatus").unwrap_or_else(|| current.status.clone());
    let moved = start != current.start
        || end != current.end
        || cal_id != current.calendar_id
        || assigned != current.assigned_user_id
        || (!current.occupies() && !matches!(status.as_str(), "cancelled" | "invalid"));
    let holds_slot = !matches!(status.as_str(), "cancelled" | "invalid");
    if moved && holds_slot && !flag(body, "ignoreFreeSlotValidation") {
        let users: Vec<String> = assigned.iter().cloned().collect();
        let window = !flag(body, "ignoreDateRange");
        let start_utc = start.with_timezone(&Utc);
        if !is_bookable(&store.calendars, &cal, start_utc, &users, Some(&id), window) {
            return Err(ApiError::bad_request(SLOT_TAKEN));
        }
    }
    let now = store.now();
    let e = event_mut(store, &id, EventKind::Appointment)?;
    e.calendar_id = cal_id;
    e.start = start;
    e.end = end;
    e.assigned_user_id = assigned;
    e.status = status;
    if let Some(t) = opt(body, "title") {
        e.title = t;
    }
    for (key, slot) in [
        ("address", &mut e.address),
        ("description", &mut e.description),
        ("meetingLocationType", &mut e.meeting_location_type),
        ("meetingLocationId", &mut e.meeting_location_id),
    ] {
        if let Some(v) = opt(body, key) {
            *slot = Some(v);
        }
    }
    if let Some(r) = opt(body, "rrule") {
        e.rrule = Some(r).filter(|r| !r.is_empty());
    }
    e.date_updated = now;
    let reply = e.render_appointment();
    let hook = e.webhook("AppointmentUpdate", cal.group_id().map(str::to_string));
    Ok(Reply::ok(ctx, reply).with_events(vec![hook]))
}

/// The block-slot body: calendar, times (required in practice), title, user.
fn block_fields(
    store: &Store,
    ctx: &Ctx,
    current: Option<&CalEvent>,
) -> Result<(String, DateTime<FixedOffset>, DateTime<FixedOffset>), ApiError> {
    let tz = store.calendars.tz();
    let cal_id = ctx.body_str("calendarId").unwrap_or_default().to_string();
    store.calendars.calendar(&cal_id)?;
    let start = body_time(&ctx.body, "startTime", tz)?.or(current.map(|c| c.start));
    let end = body_time(&ctx.body, "endTime", tz)?.or(current.map(|c| c.end));
    let mut missing = Vec::new();
    if start.is_none() {
        missing.push("startTime should not be empty".to_string());
    }
    if end.is_none() {
        missing.push("endTime should not be empty".to_string());
    }
    match (start, end) {
        (Some(s), Some(e)) => {
            check_order(s, e)?;
            Ok((cal_id, s, e))
        }
        _ => Err(ApiError::Unprocessable(missing)),
    }
}

/// `POST /calendars/events/block-slots` → 201.
pub fn create_block_slot(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let (calendar_id, start, end) = block_fields(store, ctx, None)?;
    let now = store.now();
    let event = CalEvent {
        id: new_id(store),
        kind: EventKind::Block,
        location_id: store.location_id.clone(),
        calendar_id,
        contact_id: None,
        title: opt(&ctx.body, "title").unwrap_or_default(),
        status: String::new(),
        assigned_user_id: opt(&ctx.body, "assignedUserId"),
        address: None,
        description: None,
        meeting_location_type: None,
        meeting_location_id: None,
        rrule: None,
        start,
        end,
        date_added: now,
        date_updated: now,
    };
    let reply = event.render_block();
    store.calendars.events.push(event);
    Ok(Reply::ok(ctx, reply))
}

/// `PUT /calendars/events/block-slots/{eventId}` → 201 (sic).
pub fn edit_block_slot(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.path("eventId").to_string();
    let current = store.calendars.event(&id, EventKind::Block)?.clone();
    let (calendar_id, start, end) = block_fields(store, ctx, Some(&current))?;
    let now = store.now();
    let e = event_mut(store, &id, EventKind::Block)?;
    e.calendar_id = calendar_id;
    e.start = start;
    e.end = end;
    if let Some(t) = opt(&ctx.body, "title") {
        e.title = t;
    }
    if let Some(u) = opt(&ctx.body, "assignedUserId") {
        e.assigned_user_id = Some(u);
    }
    e.date_updated = now;
    Ok(Reply::ok(ctx, e.render_block()))
}

/// `DELETE /calendars/events/{eventId}` → 201 `{succeeded: true}`.
pub fn delete_event(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.path("eventId");
    let cals = &mut store.calendars;
    let pos = cals
        .events
        .iter()
        .position(|e| e.id == id)
        .ok_or_else(|| not_found("Event"))?;
    let group = cals.group_of(&cals.events[pos]);
    let event = cals.events.remove(pos);
    cals.notes.retain(|n| n.appointment_id != id);
    let events = match event.kind {
        EventKind::Appointment => vec![event.webhook("AppointmentDelete", group)],
        EventKind::Block => Vec::new(),
    };
    Ok(Reply::ok(ctx, json!({ "succeeded": true })).with_events(events))
}

/// A listing bound: epoch milliseconds as documented; an ISO 8601 date-time is taken
/// too (the parameter is typed as a plain string).
fn window_bound(ctx: &Ctx, name: &str, tz: Tz) -> Result<DateTime<Utc>, ApiError> {
    let raw = ctx.query(name).unwrap_or_default();
    match parse_millis(name, raw) {
        Ok(t) => Ok(t),
        Err(e) => super::parse_time(raw, tz)
            .map(|t| t.with_timezone(&Utc))
            .ok_or(e),
    }
}

/// `GET /calendars/events` and `GET /calendars/blocked-slots`.
fn list(store: &Store, ctx: &Ctx, kind: EventKind) -> Result<Reply, ApiError> {
    let cals = &store.calendars;
    let from = window_bound(ctx, "startTime", cals.tz())?;
    let to = window_bound(ctx, "endTime", cals.tz())?;
    let calendar = ctx.query("calendarId");
    let user = ctx.query("userId");
    let group = ctx.query("groupId");
    if calendar.is_none() && user.is_none() && group.is_none() {
        return Err(ApiError::bad_request(
            "Either of calendarId, userId or groupId is required",
        ));
    }
    if let Some(c) = calendar {
        cals.calendar(c)?;
    }
    if let Some(g) = group {
        cals.group(g)?;
    }
    let mut found: Vec<&CalEvent> = cals
        .events
        .iter()
        .filter(|e| e.kind == kind)
        .filter(|e| e.start.with_timezone(&Utc) < to && e.end.with_timezone(&Utc) > from)
        .filter(|e| calendar.is_none_or(|c| e.calendar_id == c))
        .filter(|e| user.is_none_or(|u| e.assigned_user_id.as_deref() == Some(u)))
        .filter(|e| group.is_none_or(|g| cals.group_of(e).as_deref() == Some(g)))
        .collect();
    found.sort_by_key(|e| (e.start, e.date_added));
    let tz = cals.tz();
    let events: Vec<Value> = found
        .into_iter()
        .map(|e| e.render_event(cals.group_of(e), tz))
        .collect();
    Ok(Reply::ok(ctx, json!({ "events": events })))
}

pub fn list_events(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    list(store, ctx, EventKind::Appointment)
}

pub fn list_blocked_slots(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    list(store, ctx, EventKind::Block)
}
