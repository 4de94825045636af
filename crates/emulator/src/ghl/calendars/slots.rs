//! Free slots: `GET /calendars/{calendarId}/free-slots?startDate&endDate[&timezone][&userId|userIds]`.
//!
//! Computed, never stored:
//!
//! 1. **Open hours** — `openHours[{daysOfTheWeek (0 = Sunday … 6), hours[{open/close
//!    hour/minute}]}]`, wall-clock in the location's time zone (a close of 00:00 means
//!    midnight at the end of the day). Date-specific `availabilities` (not `deleted`)
//!    replace the weekly hours on their date; with `availabilityType` 1 only they count.
//!    A calendar without open hours has no slots.
//! 2. **Slots** start at each window's opening and every `slotInterval` after it, and
//!    last `slotDuration` (units `mins`|`hours`); a slot must end inside its window.
//!    Starts that fall in a DST gap do not exist and are skipped.
//! 3. **Busy time** — a slot is taken when it overlaps a blocked slot of the calendar (or
//!    of a requested user), or when as many live appointments as `appoinmentPerSlot`
//!    overlap it, each appointment widened by `preBuffer` before and `slotBuffer` after.
//!    Cancelled and invalid appointments free their slot. `appoinmentPerDay` closes a
//!    day once that many appointments start on it.
//! 4. **Booking window** — no slot before now + `allowBookingAfter`, none after now +
//!    `allowBookingFor`.
//!
//! The answer maps each local date (in `timezone`, default the location's) to
//! `{slots: ["2024-10-28T10:00:00-05:00", …]}`, dates without a free slot omitted. It
//! carries no `traceId`: the spec types every property as a `{slots}` object.
//! `startDate`/`endDate` are epoch milliseconds, at most 31 days apart (400 beyond).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{json, Map, Value};

use super::super::context::{Ctx, Reply};
use super::super::errors::ApiError;
use super::super::store::Store;
use super::{parse_millis, render_time, CalEvent, Calendar, Calendars, EventKind};

/// The longest `endDate - startDate` GHL serves.
pub const MAX_RANGE_DAYS: i64 = 31;

/// An interval of busy time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Open windows of one day, in minutes from local midnight.
type Windows = Vec<(i64, i64)>;

/// How far ahead / how soon bookings may be made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Span {
    Minutes(i64),
    Months(u32),
}

impl Span {
    fn from(amount: Option<f64>, unit: Option<&str>) -> Option<Span> {
        let n = amount.filter(|n| n.is_finite() && *n > 0.0)?.round();
        let n = n.min(100_000.0) as i64;
        Some(match unit.unwrap_or("days") {
            "hours" => Span::Minutes(n * 60),
            "weeks" => Span::Minutes(n * 7 * 24 * 60),
            "months" => Span::Months(u32::try_from(n).unwrap_or(u32::MAX)),
            "mins" => Span::Minutes(n),
            _ => Span::Minutes(n * 24 * 60),
        })
    }

    fn after(self, t: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Span::Minutes(m) => t
                .checked_add_signed(Duration::minutes(m))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            Span::Months(m) => t
                .checked_add_months(Months::new(m))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }
}

/// The parts of a calendar that decide its slots.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub duration: i64,
    pub interval: i64,
    pub pre_buffer: i64,
    pub post_buffer: i64,
    pub per_slot: usize,
    pub per_day: Option<usize>,
    /// Weekly hours: weekday (0 = Sunday) → windows.
    pub weekly: BTreeMap<u32, Windows>,
    /// Date-specific hours.
    pub dated: BTreeMap<NaiveDate, Windows>,
    /// Only the dated hours count (`availabilityType` 1).
    pub dated_only: bool,
    pub notice: Option<Span>,
    pub horizon: Option<Span>,
}

/// Minutes in `value` of `unit` (`mins` default, `hours`), clamped to a sane range.
fn minutes(value: Option<f64>, unit: Option<String>) -> Option<i64> {
    let v = value.filter(|v| v.is_finite())?;
    let m = match unit.as_deref() {
        Some("hours") => v * 60.0,
        _ => v,
    };
    Some(m.round().clamp(0.0, 7.0 * 24.0 * 60.0) as i64)
}

fn windows(hours: &Value) -> Windows {
    let mut out = Vec::new();
    for h in hours.as_array().into_iter().flatten() {
        let n = |k: &str| {
            let v = h.get(k).and_then(Value::as_f64).unwrap_or(0.0);
            v.round().clamp(0.0, 24.0 * 60.0) as i64
        };
        let open = n("openHour") * 60 + n("openMinute");
        let mut close = n("closeHour") * 60 + n("closeMinute");
        if close == 0 {
            close = 24 * 60;
        }
        if (0..24 * 60).contains(&open) && close > open {
            out.push((open, close.min(24 * 60)));
        }
    }
    out
}

impl Rules {
    pub fn of(cal: &Calendar) -> Rules {
        let duration = minutes(cal.num("slotDuration"), cal.str("slotDurationUnit"))
            .unwrap_or(30)
            .max(1);
        let interval = minutes(cal.num("slotInterval"), cal.str("slotIntervalUnit"))
            .filter(|m| *m > 0)
            .unwrap_or(duration);
        let mut weekly: BTreeMap<u32, Windows> = BTreeMap::new();
        for oh in cal
            .get("openHours")
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
        {
            let w = oh.get("hours").map(windows).unwrap_or_default();
            for d in oh
                .get("daysOfTheWeek")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(day) = d.as_f64().filter(|d| (0.0..=6.0).contains(d)) {
                    weekly
                        .entry(day as u32)
                        .or_default()
                        .extend(w.iter().copied());
                }
            }
        }
        let mut dated: BTreeMap<NaiveDate, Windows> = BTreeMap::new();
        for a in cal
            .get("availabilities")
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
        {
            if a.get("deleted").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let date = a
                .get("date")
                .and_then(Value::as_str)
                .and_then(|s| s.get(..10))
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
            if let Some(date) = date {
                let w = a.get("hours").map(windows).unwrap_or_default();
                dated.entry(date).or_default().extend(w);
            }
        }
        let count = |k: &str| {
            cal.num(k)
                .filter(|n| n.is_finite() && *n >= 1.0)
                .map(|n| n.min(1e6) as usize)
        };
        Rules {
            duration,
            interval,
            pre_buffer: minutes(cal.num("preBuffer"), cal.str("preBufferUnit")).unwrap_or(0),
            post_buffer: minutes(cal.num("slotBuffer"), cal.str("slotBufferUnit")).unwrap_or(0),
            per_slot: count("appoinmentPerSlot").unwrap_or(1),
            per_day: count("appoinmentPerDay"),
            weekly,
            dated,
            dated_only: cal.num("availabilityType") == Some(1.0),
            notice: Span::from(
                cal.num("allowBookingAfter"),
                cal.str("allowBookingAfterUnit").as_deref(),
            ),
            horizon: Span::from(
                cal.num("allowBookingFor"),
                cal.str("allowBookingForUnit").as_deref(),
            ),
        }
    }

    fn windows_on(&self, date: NaiveDate) -> &[(i64, i64)] {
        if let Some(w) = self.dated.get(&date) {
            return w;
        }
        if self.dated_only {
            return &[];
        }
        self.weekly
            .get(&date.weekday().num_days_from_sunday())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// What to compute: slot starts within `[from, to]`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub now: DateTime<Utc>,
    /// Apply the booking window (now, `allowBookingAfter`, `allowBookingFor`).
    pub booking_window: bool,
}

fn overlaps(a_start: DateTime<Utc>, a_end: DateTime<Utc>, b: &Busy) -> bool {
    a_start < b.end && b.start < a_end
}

/// Free slot starts, in order.
pub fn compute(
    rules: &Rules,
    appointments: &[Busy],
    blocks: &[Busy],
    tz: Tz,
    w: Window,
) -> BTreeSet<DateTime<Utc>> {
    let mut out = BTreeSet::new();
    if w.to < w.from {
        return out;
    }
    let earliest = if w.booking_window {
        let base = rules.notice.map(|n| n.after(w.now)).unwrap_or(w.now);
        base.max(w.from)
    } else {
        w.from
    };
    let latest = match (w.booking_window, rules.horizon) {
        (true, Some(h)) => h.after(w.now).min(w.to),
        _ => w.to,
    };
    let duration = Duration::minutes(rules.duration);
    let widen_before = Duration::minutes(rules.pre_buffer);
    let widen_after = Duration::minutes(rules.post_buffer);
    let first = w.from.with_timezone(&tz).date_naive().pred_opt();
    let last = w.to.with_timezone(&tz).date_naive().succ_opt();
    let (Some(mut date), Some(last)) = (first, last) else {
        return out;
    };
    // At most the 31-day range plus margins; the guard keeps hostile input finite.
    let mut days = 0;
    while date <= last && days < 40 {
        days += 1;
        let day_full = rules.per_day.is_some_and(|max| {
            appointments
                .iter()
                .filter(|a| a.start.with_timezone(&tz).date_naive() == date)
                .count()
                >= max
        });
        if !day_full {
            for &(open, close) in rules.windows_on(date) {
                let mut m = open;
                while m + rules.duration <= close {
                    let naive = date.and_hms_opt(0, 0, 0).map(|t| t + Duration::minutes(m));
                    let start = naive
                        .and_then(|n| tz.from_local_datetime(&n).earliest())
                        .map(|t| t.with_timezone(&Utc));
                    m += rules.interval;
                    let Some(start) = start else { continue };
                    if start < earliest || start > latest {
                        continue;
                    }
                    let end = start + duration;
                    if blocks.iter().any(|b| overlaps(start, end, b)) {
                        continue;
                    }
                    let taken = appointments
                        .iter()
                        .filter(|a| {
                            let widened = Busy {
                                start: a.start - widen_before,
                                end: a.end + widen_after,
                            };
                            overlaps(start, end, &widened)
                        })
                        .count();
                    if taken < rules.per_slot {
                        out.insert(start);
                    }
                }
            }
        }
        match date.succ_opt() {
            Some(d) => date = d,
            None => break,
        }
    }
    out
}

/// `{ "YYYY-MM-DD": {slots: [...]}, ... }` in `tz`.
pub fn render(slots: &BTreeSet<DateTime<Utc>>, tz: Tz) -> Map<String, Value> {
    let mut days: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in slots {
        let local = s.with_timezone(&tz);
        days.entry(local.format("%Y-%m-%d").to_string())
            .or_default()
            .push(render_time(&local));
    }
    days.into_iter()
        .map(|(d, s)| (d, json!({ "slots": s })))
        .collect()
}

/// Busy time relevant to `cal`: its own events, plus those assigned to `users`;
/// `except` (an event being moved) is left out.
pub fn busy_for(
    cals: &Calendars,
    cal_id: &str,
    users: &[String],
    except: Option<&str>,
) -> (Vec<Busy>, Vec<Busy>) {
    let relevant = |e: &&CalEvent| {
        Some(e.id.as_str()) != except
            && (e.calendar_id == cal_id
                || e.assigned_user_id
                    .as_ref()
                    .is_some_and(|u| users.contains(u)))
    };
    let busy = |e: &CalEvent| Busy {
        start: e.start.with_timezone(&Utc),
        end: e.end.with_timezone(&Utc),
    };
    let appointments = cals
        .events
        .iter()
        .filter(relevant)
        .filter(|e| e.kind == EventKind::Appointment && e.occupies())
        .map(busy)
        .collect();
    let blocks = cals
        .events
        .iter()
        .filter(relevant)
        .filter(|e| e.kind == EventKind::Block)
        .map(busy)
        .collect();
    (appointments, blocks)
}

/// Whether an appointment may start at `start` on `cal` (the slot exists and is free).
pub fn is_bookable(
    cals: &Calendars,
    cal: &Calendar,
    start: DateTime<Utc>,
    users: &[String],
    except: Option<&str>,
    booking_window: bool,
) -> bool {
    let rules = Rules::of(cal);
    let (appointments, blocks) = busy_for(cals, &cal.id, users, except);
    let w = Window {
        from: start,
        to: start,
        now: Utc::now(),
        booking_window,
    };
    compute(&rules, &appointments, &blocks, cals.tz(), w).contains(&start)
}

/// The `userId` / `userIds` (repeated, `userIds[]`, or comma-separated) filter.
fn users_of(ctx: &Ctx) -> Vec<String> {
    let mut users: Vec<String> = Vec::new();
    for (k, v) in &ctx.query {
        if k == "userId" || k == "userIds" || k == "userIds[]" {
            users.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            );
        }
    }
    users.sort();
    users.dedup();
    users
}

/// `GET /calendars/{calendarId}/free-slots`.
pub fn get(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let cals = &store.calendars;
    let cal = cals.calendar(ctx.path("calendarId"))?;
    let from = parse_millis("startDate", ctx.query("startDate").unwrap_or_default())?;
    let to = parse_millis("endDate", ctx.query("endDate").unwrap_or_default())?;
    if to < from {
        return Err(ApiError::bad_request("endDate must be after startDate"));
    }
    if to - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(ApiError::bad_request(
            "Date range cannot be more than 31 days",
        ));
    }
    let out_tz = match ctx.query("timezone") {
        None => cals.tz(),
        Some(name) => name
            .parse::<Tz>()
            .map_err(|_| ApiError::bad_request(format!("Invalid timezone {name}")))?,
    };
    let users = users_of(ctx);
    let rules = Rules::of(cal);
    let (appointments, blocks) = busy_for(cals, &cal.id, &users, None);
    let w = Window {
        from,
        to,
        now: Utc::now(),
        booking_window: true,
    };
    let slots = compute(&rules, &appointments, &blocks, cals.tz(), w);
    Ok(Reply::ok(ctx, Value::Object(render(&slots, out_tz))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn cal(extra: Value) -> Calendar {
        let mut data = Map::new();
        super::super::merge(
            &mut data,
            &json!({
                "name": "c",
                "openHours": [{"daysOfTheWeek": [1], "hours": [{"openHour": 9, "openMinute": 0, "closeHour": 11, "closeMinute": 0}]}],
            }),
        );
        super::super::merge(&mut data, &extra);
        Calendar {
            id: "cal".into(),
            data,
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn window(from: &str, to: &str) -> Window {
        Window {
            from: utc(from),
            to: utc(to),
            now: utc("2000-01-01T00:00:00Z"),
            booking_window: true,
        }
    }

    fn starts(set: &BTreeSet<DateTime<Utc>>) -> Vec<String> {
        set.iter().map(render_time).collect()
    }

    // 2030-01-07 is a Monday.
    #[test]
    fn open_hours_duration_and_interval() {
        let rules = Rules::of(&cal(json!({})));
        let s = compute(
            &rules,
            &[],
            &[],
            Tz::UTC,
            window("2030-01-06T00:00:00Z", "2030-01-09T00:00:00Z"),
        );
        assert_eq!(
            starts(&s),
            [
                "2030-01-07T09:00:00+00:00",
                "2030-01-07T09:30:00+00:00",
                "2030-01-07T10:00:00+00:00",
                "2030-01-07T10:30:00+00:00"
            ]
        );
        let rules = Rules::of(&cal(
            json!({"slotDuration": 1, "slotDurationUnit": "hours", "slotInterval": 15}),
        ));
        let s = compute(
            &rules,
            &[],
            &[],
            Tz::UTC,
            window("2030-01-07T00:00:00Z", "2030-01-08T00:00:00Z"),
        );
        assert_eq!(s.len(), 5, "{:?}", starts(&s)); // 9:00 … 10:00 by 15 min
    }

    #[test]
    fn open_hours_are_local_wall_clock_across_dst() {
        // New York: 2030-03-10 (Sunday) springs forward; Mondays before/after differ in UTC.
        let ny: Tz = "America/New_York".parse().unwrap();
        let rules = Rules::of(&cal(json!({"slotDuration": 120, "slotInterval": 120})));
        let s = compute(
            &rules,
            &[],
            &[],
            ny,
            window("2030-03-03T00:00:00Z", "2030-03-13T00:00:00Z"),
        );
        assert_eq!(
            starts(&s),
            ["2030-03-04T14:00:00+00:00", "2030-03-11T13:00:00+00:00"]
        );
        let rendered = render(&s, ny);
        assert_eq!(
            rendered["2030-03-11"]["slots"],
            json!(["2030-03-11T09:00:00-04:00"])
        );
        assert_eq!(
            rendered["2030-03-04"]["slots"],
            json!(["2030-03-04T09:00:00-05:00"])
        );
    }

    #[test]
    fn appointments_blocks_capacity_and_buffers() {
        let rules = Rules::of(&cal(json!({"appoinmentPerSlot": 2})));
        let appt = Busy {
            start: utc("2030-01-07T09:00:00Z"),
            end: utc("2030-01-07T09:30:00Z"),
        };
        let w = window("2030-01-07T00:00:00Z", "2030-01-08T00:00:00Z");
        assert_eq!(compute(&rules, &[appt], &[], Tz::UTC, w).len(), 4);
        assert_eq!(compute(&rules, &[appt, appt], &[], Tz::UTC, w).len(), 3);
        let block = Busy {
            start: utc("2030-01-07T10:15:00Z"),
            end: utc("2030-01-07T10:20:00Z"),
        };
        let s = compute(&rules, &[], &[block], Tz::UTC, w);
        assert_eq!(
            starts(&s),
            [
                "2030-01-07T09:00:00+00:00",
                "2030-01-07T09:30:00+00:00",
                "2030-01-07T10:30:00+00:00"
            ]
        );
        let rules = Rules::of(&cal(json!({"slotBuffer": 30, "preBuffer": 30})));
        let appt = Busy {
            start: utc("2030-01-07T10:00:00Z"),
            end: utc("2030-01-07T10:30:00Z"),
        };
        let s = compute(&rules, &[appt], &[], Tz::UTC, w);
        assert_eq!(starts(&s), ["2030-01-07T09:00:00+00:00"]);
        let rules = Rules::of(&cal(json!({"appoinmentPerDay": 1})));
        assert!(compute(&rules, &[appt], &[], Tz::UTC, w).is_empty());
    }

    #[test]
    fn booking_window_and_dated_availability() {
        let rules = Rules::of(&cal(json!({
            "allowBookingAfter": 1, "allowBookingAfterUnit": "hours",
            "availabilities": [
                {"date": "2030-01-08T00:00:00.000Z", "hours": [{"openHour": 13, "openMinute": 0, "closeHour": 14, "closeMinute": 0}]},
                {"date": "2030-01-09T00:00:00.000Z", "hours": [{"openHour": 13, "openMinute": 0, "closeHour": 14, "closeMinute": 0}], "deleted": true}
            ]
        })));
        let mut w = window("2030-01-07T00:00:00Z", "2030-01-10T00:00:00Z");
        w.now = utc("2030-01-07T09:10:00Z");
        assert_eq!(
            starts(&compute(&rules, &[], &[], Tz::UTC, w)),
            [
                "2030-01-07T10:30:00+00:00",
                "2030-01-08T13:00:00+00:00",
                "2030-01-08T13:30:00+00:00"
            ]
        );
        w.booking_window = false;
        assert_eq!(compute(&rules, &[], &[], Tz::UTC, w).len(), 6);
        let rules = Rules::of(&cal(
            json!({"allowBookingFor": 1, "allowBookingForUnit": "days"}),
        ));
        w.booking_window = true;
        w.now = utc("2030-01-06T10:00:00Z");
        assert_eq!(compute(&rules, &[], &[], Tz::UTC, w).len(), 3);
        w.now = utc("2030-01-05T10:00:00Z");
        assert!(compute(&rules, &[], &[], Tz::UTC, w).is_empty());
    }

    #[test]
    fn hostile_values_stay_finite() {
        let rules = Rules::of(&cal(json!({
            "slotDuration": 0, "slotInterval": -5,
            "openHours": [{"daysOfTheWeek": [0,1,2,3,4,5,6,9], "hours": [{"openHour": 0, "openMinute": 0, "closeHour": 0, "closeMinute": 0}]}]
        })));
        let s = compute(
            &rules,
            &[],
            &[],
            Tz::UTC,
            window("2030-01-01T00:00:00Z", "2030-02-01T00:00:00Z"),
        );
        assert_eq!(s.len(), 31 * 24 * 60 + 1);
        let far = Window {
            from: DateTime::<Utc>::MAX_UTC,
            to: DateTime::<Utc>::MAX_UTC,
            now: Utc::now(),
            booking_window: true,
        };
        assert!(compute(&rules, &[], &[], Tz::UTC, far).is_empty());
    }
}
