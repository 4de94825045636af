//! Schedule triggers: the cron slots due between two instants, in the flow's time zone.
//!
//! Rules (5-field POSIX cron, `tz` an IANA name, default UTC):
//! - A slot is due when `since < slot <= now`.
//! - Spring gap (the clock jumps, e.g. 02:00 → 03:00 in Europe/Paris): a slot whose
//!   wall-clock time does not exist fires once, at the first instant after the gap.
//! - Autumn overlap (an hour repeats): a wall-clock time that happens twice fires once,
//!   at its first (summer-time) instant, for every pattern, hourly ones included.
//! - Misfire: when `since` is more than [`MISFIRE_GRACE`] behind `now` (the service was
//!   down), the missed slots are not replayed one by one: at most the last due slot is
//!   returned, so a week offline runs a daily flow once, not seven times.

use std::str::FromStr;

use chrono::{DateTime, LocalResult, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use serde_json::json;

use crate::model::{Flow, Trigger};
use crate::run::TriggerItem;

/// How far behind `since` may be before missed slots collapse into the last one.
pub const MISFIRE_GRACE: chrono::Duration = chrono::Duration::hours(1);

/// Most slots returned by one call (a `* * * * *` schedule over the grace window is 60).
const MAX_SLOTS: usize = 1000;

fn parse(cron: &str, tz: Option<&str>) -> Result<(Cron, Tz), String> {
    let parsed = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(cron)
        .map_err(|e| {
            format!("trigger.schedule.cron {cron:?}: {e}; write 5 fields, e.g. \"0 9 * * 1-5\"")
        })?;
    let zone = match tz {
        None => Tz::UTC,
        Some(name) => Tz::from_str(name).map_err(|_| {
            format!(
                "trigger.schedule.tz {name:?} is not an IANA time zone: write e.g. Europe/Paris"
            )
        })?,
    };
    Ok((parsed, zone))
}

/// True when `slot` is the second instant of a wall-clock time that happens twice.
fn is_repeat(slot: &DateTime<Tz>) -> bool {
    match slot.timezone().from_local_datetime(&slot.naive_local()) {
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc) != slot.with_timezone(&Utc),
        _ => false,
    }
}

/// The slots of `cron` in `tz` due in `(since, now]`, oldest first (see the module
/// documentation for DST and misfires).
pub fn due_slots(
    cron: &str,
    tz: Option<&str>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, String> {
    let (cron, zone) = parse(cron, tz)?;
    if now <= since {
        return Ok(Vec::new());
    }
    let err = |e: croner::errors::CronError| format!("schedule: {e}");
    if now - since > MISFIRE_GRACE {
        let mut at = now.with_timezone(&zone);
        let mut inclusive = true;
        for _ in 0..4 {
            let Ok(slot) = cron.find_previous_occurrence(&at, inclusive) else {
                return Ok(Vec::new());
            };
            if slot.with_timezone(&Utc) <= since {
                return Ok(Vec::new());
            }
            if !is_repeat(&slot) {
                return Ok(vec![slot.with_timezone(&Utc)]);
            }
            at = slot;
            inclusive = false;
        }
        return Ok(Vec::new());
    }
    let mut out: Vec<DateTime<Utc>> = Vec::new();
    let mut at = since.with_timezone(&zone);
    while out.len() < MAX_SLOTS {
        let next = match cron.find_next_occurrence(&at, false) {
            Ok(next) => next,
            Err(croner::errors::CronError::TimeSearchLimitExceeded) => break,
            Err(e) => return Err(err(e)),
        };
        let utc = next.with_timezone(&Utc);
        if utc > now || utc <= at.with_timezone(&Utc) {
            break;
        }
        if !is_repeat(&next) && out.last() != Some(&utc) {
            out.push(utc);
        }
        at = next;
    }
    Ok(out)
}

/// The trigger item of one schedule slot: key = the slot in RFC 3339 (UTC); payload
/// `{slot, local, tz, cron}` (`local` is the slot in the flow's time zone).
pub fn schedule_item(flow: &Flow, slot: DateTime<Utc>) -> TriggerItem {
    let key = slot.to_rfc3339_opts(SecondsFormat::Secs, true);
    let (cron, tz) = match &flow.trigger {
        Trigger::Schedule(s) => (s.cron.clone(), s.tz.clone()),
        _ => (String::new(), None),
    };
    let zone = tz
        .as_deref()
        .and_then(|t| Tz::from_str(t).ok())
        .unwrap_or(Tz::UTC);
    let local = slot
        .with_timezone(&zone)
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    TriggerItem {
        key: key.clone(),
        payload: json!({
            "slot": key,
            "local": local,
            "tz": zone.name(),
            "cron": cron,
        }),
        previous: None,
    }
}
