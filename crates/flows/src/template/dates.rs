//! Date filters: `date`, `format_date`, `to_tz`, `add_days`, `add_hours`, `add_minutes`.
//!
//! Inputs: RFC 3339 (GHL's `2024-05-01T10:00:00.000Z`, Sellsy's `2024-05-01T12:00:00+02:00`),
//! `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` and `YYYY-MM-DDTHH:MM:SS` (UTC), offsets without a
//! colon (`+0200`), `DD/MM/YYYY`, epoch seconds or milliseconds (number or digits).

use std::fmt::Write;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use minijinja::value::{Kwargs, Value as MjValue};
use minijinja::{Environment, Error, ErrorKind};
use serde_json::Value;

/// Parse a JSON value as a date.
pub(crate) fn parse(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Number(n) => from_epoch(n.as_f64()?),
        Value::String(s) => parse_str(s),
        _ => None,
    }
}

fn from_epoch(n: f64) -> Option<DateTime<Utc>> {
    if !n.is_finite() {
        return None;
    }
    // Past 10^11 seconds (year 5138) the number is read as milliseconds.
    let ms = if n.abs() >= 1e11 { n } else { n * 1000.0 };
    if ms.abs() > 8.0e15 {
        return None;
    }
    DateTime::from_timestamp_millis(ms.round() as i64)
}

fn parse_str(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) && s.len() >= 9 {
        return from_epoch(s.parse::<f64>().ok()?);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    let with_t = s.replacen(' ', "T", 1);
    if let Ok(d) = DateTime::parse_from_rfc3339(&with_t) {
        return Some(d.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(d) = DateTime::parse_from_str(&with_t, f) {
            return Some(d.with_timezone(&Utc));
        }
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(&with_t, f) {
            return Some(d.and_utc());
        }
    }
    for f in ["%Y-%m-%d", "%d/%m/%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(d.and_hms_opt(0, 0, 0)?.and_utc());
        }
    }
    None
}

fn bad(filter: &str, expected: &str, got: &MjValue) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("filter `{filter}`: expected {expected}, got {}", shown(got)),
    )
}

pub(crate) fn shown(v: &MjValue) -> String {
    if v.is_undefined() {
        return "an undefined value".into();
    }
    let s = match serde_json::to_string(v) {
        Ok(s) => s,
        Err(_) => v.to_string(),
    };
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

const DATE_EXPECTED: &str =
    "a date (RFC 3339, YYYY-MM-DD, YYYY-MM-DD HH:MM:SS, DD/MM/YYYY or epoch seconds/ms)";

fn input(filter: &str, v: &MjValue) -> Result<DateTime<Utc>, Error> {
    let json = serde_json::to_value(v).unwrap_or(Value::Null);
    parse(&json).ok_or_else(|| bad(filter, DATE_EXPECTED, v))
}

fn tz(filter: &str, name: &str) -> Result<Tz, Error> {
    name.parse::<Tz>().map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("filter `{filter}`: unknown time zone {name:?} (use an IANA name such as \"Europe/Paris\" or \"UTC\")"),
        )
    })
}

fn out(d: DateTime<Utc>) -> String {
    let f = if d.timestamp_subsec_millis() == 0 {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Millis
    };
    d.to_rfc3339_opts(f, true)
}

fn date(v: MjValue) -> Result<String, Error> {
    Ok(out(input("date", &v)?))
}

fn format_date(
    v: MjValue,
    fmt: String,
    positional: Option<String>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let d = input("format_date", &v)?;
    let zone: Option<String> = positional.or(kwargs.get("tz")?);
    kwargs.assert_all_used()?;
    let zone = tz("format_date", zone.as_deref().unwrap_or("UTC"))?;
    let mut s = String::new();
    write!(s, "{}", d.with_timezone(&zone).format(&fmt)).map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("filter `format_date`: invalid format {fmt:?} (use strftime codes such as \"%Y-%m-%d %H:%M\")"),
        )
    })?;
    Ok(s)
}

fn to_tz(v: MjValue, zone: String) -> Result<String, Error> {
    let d = input("to_tz", &v)?;
    let zone = tz("to_tz", &zone)?;
    Ok(d.with_timezone(&zone)
        .to_rfc3339_opts(SecondsFormat::Secs, false))
}

fn amount(filter: &str, n: &MjValue) -> Result<i64, Error> {
    let f = f64::try_from(n.clone())
        .ok()
        .filter(|f| f.is_finite() && f.fract() == 0.0 && f.abs() < 1e7);
    f.map(|f| f as i64).ok_or_else(|| {
        bad(
            filter,
            "a whole number argument (how many to add; negative subtracts)",
            n,
        )
    })
}

fn shifted(filter: &str, d: DateTime<Utc>, by: Duration) -> Result<String, Error> {
    d.checked_add_signed(by).map(out).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("filter `{filter}`: the result is out of range"),
        )
    })
}

fn add_days(v: MjValue, n: MjValue, kwargs: Kwargs) -> Result<String, Error> {
    let d = input("add_days", &v)?;
    let n = amount("add_days", &n)?;
    let zone: Option<String> = kwargs.get("tz")?;
    kwargs.assert_all_used()?;
    match zone {
        None => shifted("add_days", d, Duration::days(n)),
        Some(z) => {
            let zone = tz("add_days", &z)?;
            let local = d.with_timezone(&zone).naive_local();
            let moved = local.checked_add_signed(Duration::days(n)).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    "filter `add_days`: the result is out of range",
                )
            })?;
            // A wall-clock time skipped by a DST change moves forward by the gap.
            let res = zone
                .from_local_datetime(&moved)
                .earliest()
                .or_else(|| {
                    zone.from_local_datetime(&(moved + Duration::hours(1)))
                        .earliest()
                })
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        "filter `add_days`: no such local time",
                    )
                })?;
            Ok(out(res.with_timezone(&Utc)))
        }
    }
}

fn add_hours(v: MjValue, n: MjValue) -> Result<String, Error> {
    let d = input("add_hours", &v)?;
    shifted("add_hours", d, Duration::hours(amount("add_hours", &n)?))
}

fn add_minutes(v: MjValue, n: MjValue) -> Result<String, Error> {
    let d = input("add_minutes", &v)?;
    shifted(
        "add_minutes",
        d,
        Duration::minutes(amount("add_minutes", &n)?),
    )
}

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("date", date);
    env.add_filter("format_date", format_date);
    env.add_filter("to_tz", to_tz);
    env.add_filter("add_days", add_days);
    env.add_filter("add_hours", add_hours);
    env.add_filter("add_minutes", add_minutes);
}
