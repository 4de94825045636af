//! Calendars & Appointments: groups, calendars, appointments and blocked slots, computed
//! free slots, appointment notes, calendar notifications and resources (rooms and
//! equipments), all under `/calendars/…`.
//!
//! State lives in [`Calendars`] (one field of the location's [`Store`]). Behaviour
//! where the spec is silent, chosen to stay close to the real API:
//!
//! - Unknown ids answer **400** `{statusCode, message: "<Thing> not found"}`: the spec
//!   documents only 400/401 for these routes (like the contact routes).
//! - Times are ISO 8601 strings that keep the offset they were written with (the spec
//!   types event times as `object`; see the override in `xtask/src/ghl_overrides.rs`).
//! - Open hours are wall-clock times in the location's time zone ([`LOCATION_TZ`], the
//!   one `GET /locations/{locationId}` reports, unless [`Calendars::time_zone`] is set);
//!   free slots are rendered in the `timezone` query parameter (default: the
//!   location's), see [`slots`].
//! - DTO constraints the table cannot express (`limit` ≤ 20, `body` ≤ 5000 characters,
//!   open hours within a day, …) answer 422 like class-validator; business rules (slot
//!   taken, slug taken, date range over 31 days) answer 400.

pub mod calendar;
pub mod events;
pub mod groups;
pub mod notes;
pub mod notifications;
pub mod resources;
pub mod slots;

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde_json::{Map, Value};

use super::errors::ApiError;
use super::store::Store;

pub use calendar::Calendar;
pub use events::{CalEvent, EventKind};
pub use groups::Group;
pub use notes::AppointmentNote;
pub use notifications::Notification;
pub use resources::Resource;

/// The location's calendars and everything hanging off them.
#[derive(Debug, Default)]
pub struct Calendars {
    /// Calendar groups, in creation order.
    pub groups: Vec<Group>,
    /// Calendars, in creation order.
    pub calendars: Vec<Calendar>,
    /// Appointments and blocked slots, in creation order.
    pub events: Vec<CalEvent>,
    /// Appointment notes, in creation order.
    pub notes: Vec<AppointmentNote>,
    /// Calendar notifications (soft-deleted ones included), in creation order.
    pub notifications: Vec<Notification>,
    /// Rooms and equipments, in creation order.
    pub resources: Vec<Resource>,
    /// The location's time zone, where open hours are read (`None` = [`LOCATION_TZ`]).
    pub time_zone: Option<Tz>,
}

/// The emulated location's time zone, as its location record reports it
/// (`super::locations::configured`; a test keeps the two in step).
pub const LOCATION_TZ: Tz = chrono_tz::America::Chicago;

impl Calendars {
    /// The location's time zone.
    pub fn tz(&self) -> Tz {
        self.time_zone.unwrap_or(LOCATION_TZ)
    }

    pub fn group(&self, id: &str) -> Result<&Group, ApiError> {
        self.groups
            .iter()
            .find(|g| g.id == id)
            .ok_or_else(|| not_found("Group"))
    }

    pub fn calendar(&self, id: &str) -> Result<&Calendar, ApiError> {
        self.calendars
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| not_found("Calendar"))
    }

    pub fn calendar_mut(&mut self, id: &str) -> Result<&mut Calendar, ApiError> {
        self.calendars
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or_else(|| not_found("Calendar"))
    }

    pub fn event(&self, id: &str, kind: EventKind) -> Result<&CalEvent, ApiError> {
        self.events
            .iter()
            .find(|e| e.id == id && e.kind == kind)
            .ok_or_else(|| not_found(kind.noun()))
    }

    /// A contact's appointments in the shape of `GET /contacts/{contactId}/appointments`
    /// (oldest first).
    pub fn contact_appointments(&self, contact_id: &str) -> Vec<Value> {
        let tz = self.tz();
        let mut appts: Vec<&CalEvent> = self
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Appointment)
            .filter(|e| e.contact_id.as_deref() == Some(contact_id))
            .collect();
        appts.sort_by_key(|e| (e.start, e.date_added));
        appts
            .into_iter()
            .map(|e| e.render_for_contact(self.group_of(e), tz))
            .collect()
    }

    /// The group of an event's calendar, if any.
    pub fn group_of(&self, e: &CalEvent) -> Option<String> {
        let cal = self.calendars.iter().find(|c| c.id == e.calendar_id)?;
        cal.group_id().map(str::to_string)
    }
}

/// `<thing> not found` as a 400 (the only error status the spec documents here).
pub fn not_found(thing: &str) -> ApiError {
    ApiError::bad_request(format!("{thing} not found"))
}

/// A fresh id that no calendar entity uses yet.
pub fn new_id(store: &mut Store) -> String {
    loop {
        let id = store.new_id();
        let c = &store.calendars;
        let taken = c.groups.iter().any(|x| x.id == id)
            || c.calendars.iter().any(|x| x.id == id)
            || c.events.iter().any(|x| x.id == id)
            || c.notes.iter().any(|x| x.id == id)
            || c.notifications.iter().any(|x| x.id == id)
            || c.resources.iter().any(|x| x.id == id);
        if !taken {
            return id;
        }
    }
}

/// Parse an ISO 8601 date-time. A value without an offset is wall-clock time in `tz`
/// (the location's); a date alone is its midnight. Years outside 1–9999 are refused
/// (so time arithmetic on the result can never overflow).
pub fn parse_time(raw: &str, tz: Tz) -> Option<DateTime<FixedOffset>> {
    parse_any_time(raw, tz).filter(|t| (1..=9999).contains(&t.year()))
}

fn parse_any_time(raw: &str, tz: Tz) -> Option<DateTime<FixedOffset>> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t);
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })?;
    let local = tz.from_local_datetime(&naive).earliest()?;
    Some(local.fixed_offset())
}

/// A body time field: `Ok(None)` when absent, 422 when present but not a date.
pub fn body_time(
    body: &Value,
    name: &str,
    tz: Tz,
) -> Result<Option<DateTime<FixedOffset>>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_time(s, tz).map(Some).ok_or_else(|| {
            ApiError::unprocessable(format!("{name} must be a valid ISO 8601 date string"))
        }),
        Some(_) => Err(ApiError::unprocessable(format!(
            "{name} must be a valid ISO 8601 date string"
        ))),
    }
}

/// `2024-10-28T10:00:00-05:00` (seconds, numeric offset, as GHL prints times).
pub fn render_time<T: TimeZone>(t: &DateTime<T>) -> String
where
    T::Offset: std::fmt::Display,
{
    t.fixed_offset().to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Epoch milliseconds given as a string or number (query values), 422 otherwise.
pub fn parse_millis(name: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    let bad = || ApiError::unprocessable(format!("{name} must be a number in milliseconds"));
    let n = raw
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .ok_or_else(bad)?;
    // Beyond ±8e15 ms chrono cannot represent the instant; refuse rather than wrap.
    if n.abs() > 8.0e15 {
        return Err(bad());
    }
    DateTime::<Utc>::from_timestamp_millis(n.trunc() as i64).ok_or_else(bad)
}

/// Merge the body's properties into a stored object (top-level replace).
pub fn merge(into: &mut Map<String, Value>, body: &Value) {
    if let Some(obj) = body.as_object() {
        for (k, v) in obj {
            into.insert(k.clone(), v.clone());
        }
    }
}

/// A required string body field must not be blank (class-validator `IsNotEmpty`).
pub fn not_blank(body: &Value, names: &[&str]) -> Result<(), ApiError> {
    let messages: Vec<String> = names
        .iter()
        .filter(|n| {
            body.get(**n)
                .and_then(Value::as_str)
                .is_some_and(|s| s.trim().is_empty())
        })
        .map(|n| format!("{n} should not be empty"))
        .collect();
    if messages.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(messages))
    }
}

/// A non-negative whole number from a numeric query parameter (422 otherwise).
pub fn query_count(
    ctx: &super::context::Ctx,
    name: &str,
    default: i64,
    max: Option<i64>,
) -> Result<usize, ApiError> {
    let n = ctx.query_number(name, default, 0, max)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_time_zone_is_the_location_records() {
        let store = Store::new("loc", "company", false);
        let location = super::super::locations::configured(&store);
        assert_eq!(location.fields["timezone"], LOCATION_TZ.name());
        assert_eq!(store.calendars.tz(), LOCATION_TZ);
    }

    #[test]
    fn times_parse_with_or_without_offset() {
        let t = parse_time("2030-01-07T10:00:00+05:30", Tz::UTC).unwrap();
        assert_eq!(render_time(&t), "2030-01-07T10:00:00+05:30");
        let t = parse_time("2030-01-07T10:00:00", chrono_tz::Europe::Paris).unwrap();
        assert_eq!(render_time(&t), "2030-01-07T10:00:00+01:00");
        assert!(parse_time("soon", Tz::UTC).is_none());
        assert!(parse_time("+200000-01-01T00:00:00", Tz::UTC).is_none());
        assert!(parse_time("0000-01-01T00:00:00Z", Tz::UTC).is_none());
        assert!(parse_millis("x", "1e300").is_err());
        assert!(parse_millis("x", "NaN").is_err());
        assert_eq!(
            parse_millis("x", "1893456000000").unwrap().to_rfc3339(),
            "2030-01-01T00:00:00+00:00"
        );
    }
}
