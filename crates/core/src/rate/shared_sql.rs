//! The SQL behind [`super::SharedSlots`]: rows of `rate_keys`, `rate_limits` and
//! `rate_slots`, and the window arithmetic on them (the in-memory rules of
//! [`crate::rate`], in wall-clock milliseconds).

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::PROBE_POLL;
use crate::error::RateLimitInfo;
use crate::rate::{
    clamp_interval, clamp_limit, max_learned_limit, Observation, Window, LOG_BUCKETS,
};

/// A window as stored (or as defaulted when nothing is stored yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Spec {
    pub(super) limit: u32,
    pub(super) interval_ms: i64,
    pub(super) known: bool,
    pub(super) spent_until: Option<i64>,
}

#[derive(Debug, Default)]
pub(super) struct KeyRow {
    pub(super) observed: bool,
    pub(super) blocked_until: Option<i64>,
    pub(super) exhausted_until: Option<i64>,
    pub(super) exhausted_info: Option<String>,
    pub(super) probe_until: Option<i64>,
}

/// While `row`'s key is unobserved and another request holds its probe: how long to
/// wait before asking again.
pub(super) fn probe_wait(row: &KeyRow, now: i64) -> Option<Duration> {
    if row.observed {
        return None;
    }
    let until = row.probe_until.filter(|u| *u > now)?;
    Some(Duration::from_millis((until - now) as u64).min(PROBE_POLL))
}

/// Tables created before slots could be in flight get the `pending` column.
pub(super) fn add_pending_column(conn: &Connection) -> rusqlite::Result<()> {
    let has: bool = conn
        .prepare("SELECT 1 FROM pragma_table_info('rate_slots') WHERE name = 'pending'")?
        .exists([])?;
    if !has {
        conn.execute_batch("ALTER TABLE rate_slots ADD COLUMN pending INTEGER NOT NULL DEFAULT 0")?;
    }
    Ok(())
}

pub(super) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Milliseconds since the Unix epoch.
pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(ms)
        .unwrap_or(0)
}

pub(super) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(super) fn key_row(tx: &Transaction<'_>, key: &str) -> rusqlite::Result<KeyRow> {
    Ok(tx
        .query_row(
            "SELECT observed, blocked_until_ms, exhausted_until_ms, exhausted_info, probe_until_ms
             FROM rate_keys WHERE key = ?1",
            params![key],
            |r| {
                Ok(KeyRow {
                    observed: r.get::<_, i64>(0)? != 0,
                    blocked_until: r.get(1)?,
                    exhausted_until: r.get(2)?,
                    exhausted_info: r.get(3)?,
                    probe_until: r.get(4)?,
                })
            },
        )
        .optional()?
        .unwrap_or_default())
}

pub(super) fn save_key_row(tx: &Transaction<'_>, key: &str, row: &KeyRow) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO rate_keys (key, observed, blocked_until_ms, exhausted_until_ms, exhausted_info, probe_until_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(key) DO UPDATE SET observed = excluded.observed,
             blocked_until_ms = excluded.blocked_until_ms,
             exhausted_until_ms = excluded.exhausted_until_ms,
             exhausted_info = excluded.exhausted_info,
             probe_until_ms = excluded.probe_until_ms",
        params![
            key,
            row.observed as i64,
            row.blocked_until,
            row.exhausted_until,
            row.exhausted_info,
            row.probe_until
        ],
    )?;
    Ok(())
}

/// Fold `obs` into window `index` of `key`: the key is observed (its probe ends), the
/// window learns its limit and length, requests the server counted and no process
/// here did are recorded now. True when that changes anything stored; written only
/// when `apply`.
pub(super) fn fold_observation(
    tx: &Transaction<'_>,
    key: &str,
    index: usize,
    default: Window,
    obs: Observation,
    apply: bool,
) -> rusqlite::Result<bool> {
    let now = now_ms();
    let mut row = key_row(tx, key)?;
    let mut changed = !row.observed || row.probe_until.is_some();
    row.observed = true;
    row.probe_until = None;
    let stored = stored_spec(tx, key, index)?;
    changed |= stored.is_none();
    let before = stored.unwrap_or_else(|| default_spec(default));
    let mut spec = before;
    if let Some(interval) = obs.interval.and_then(clamp_interval) {
        spec.interval_ms = ms(interval).max(1);
        if spec.known {
            spec.limit = spec.limit.min(max_learned_limit(interval));
        }
        let bound = now.saturating_add(spec.interval_ms);
        spec.spent_until = spec.spent_until.map(|s| s.min(bound));
    }
    let interval = Duration::from_millis(spec.interval_ms as u64);
    if let Some(limit) = obs.limit.and_then(|l| clamp_limit(u64::from(l), interval)) {
        spec.limit = limit;
        spec.known = true;
    }
    let mut uncounted = 0;
    if let Some(remaining) = obs.remaining {
        let server_used = u64::from(spec.limit.saturating_sub(remaining));
        // Requests others spent that no process here counted: placed now.
        uncounted = server_used.saturating_sub(total(tx, key, index, &spec, now)?);
        if remaining == 0 && !spec.known {
            let until = now.saturating_add(spec.interval_ms);
            spec.spent_until = Some(spec.spent_until.map_or(until, |s| s.max(until)));
        }
    }
    changed |= spec != before || uncounted > 0;
    if apply && changed {
        save_key_row(tx, key, &row)?;
        prune(tx, key, index, &spec, now)?;
        record(tx, key, index, &spec, now, uncounted)?;
        save_spec(tx, key, index, &spec, now)?;
    }
    Ok(changed)
}

pub(super) fn default_spec(default: Window) -> Spec {
    Spec {
        limit: default.limit,
        interval_ms: ms(default.interval).max(1),
        known: false,
        spent_until: None,
    }
}

pub(super) fn load_spec(
    tx: &Transaction<'_>,
    key: &str,
    win: usize,
    default: Window,
) -> rusqlite::Result<Spec> {
    Ok(stored_spec(tx, key, win)?.unwrap_or_else(|| default_spec(default)))
}

pub(super) fn stored_spec(
    tx: &Transaction<'_>,
    key: &str,
    win: usize,
) -> rusqlite::Result<Option<Spec>> {
    tx.query_row(
        "SELECT max, window_ms, known, spent_until_ms FROM rate_limits WHERE key = ?1 AND win = ?2",
        params![key, win as i64],
        |r| {
            Ok(Spec {
                limit: u32::try_from(r.get::<_, i64>(0)?.max(0)).unwrap_or(u32::MAX),
                interval_ms: r.get::<_, i64>(1)?.max(1),
                known: r.get::<_, i64>(2)? != 0,
                spent_until: r.get(3)?,
            })
        },
    )
    .optional()
}

pub(super) fn save_spec(
    tx: &Transaction<'_>,
    key: &str,
    win: usize,
    spec: &Spec,
    now: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO rate_limits (key, win, max, window_ms, known, spent_until_ms, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(key, win) DO UPDATE SET max = excluded.max, window_ms = excluded.window_ms,
             known = excluded.known, spent_until_ms = excluded.spent_until_ms,
             updated_ms = excluded.updated_ms",
        params![
            key,
            win as i64,
            i64::from(spec.limit),
            spec.interval_ms,
            spec.known as i64,
            spec.spent_until,
            now
        ],
    )?;
    Ok(())
}

pub(super) fn prune(
    tx: &Transaction<'_>,
    key: &str,
    win: usize,
    spec: &Spec,
    now: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "DELETE FROM rate_slots WHERE key = ?1 AND win = ?2 AND last_ms <= ?3",
        params![key, win as i64, now.saturating_sub(spec.interval_ms)],
    )?;
    Ok(())
}

pub(super) fn total(
    tx: &Transaction<'_>,
    key: &str,
    win: usize,
    spec: &Spec,
    now: i64,
) -> rusqlite::Result<u64> {
    let sum: i64 = tx.query_row(
        "SELECT COALESCE(SUM(count), 0) FROM rate_slots WHERE key = ?1 AND win = ?2 AND last_ms > ?3",
        params![key, win as i64, now.saturating_sub(spec.interval_ms)],
        |r| r.get(0),
    )?;
    Ok(sum.max(0) as u64)
}

/// Count `n` sends at `now`, in the newest row when it is less than a slice old.
pub(super) fn record(
    tx: &Transaction<'_>,
    key: &str,
    win: usize,
    spec: &Spec,
    now: i64,
    n: u64,
) -> rusqlite::Result<()> {
    if n == 0 {
        return Ok(());
    }
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    let slice = (spec.interval_ms / i64::from(LOG_BUCKETS)).max(1);
    let newest: Option<(i64, i64)> = tx
        .query_row(
            "SELECT rowid, first_ms FROM rate_slots WHERE key = ?1 AND win = ?2 AND pending = 0
             ORDER BY last_ms DESC LIMIT 1",
            params![key, win as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match newest {
        Some((rowid, first)) if now.saturating_sub(first) < slice => {
            tx.execute(
                "UPDATE rate_slots SET last_ms = MAX(last_ms, ?2), count = count + ?3 WHERE rowid = ?1",
                params![rowid, now, n],
            )?;
        }
        _ => {
            tx.execute(
                "INSERT INTO rate_slots (key, win, first_ms, last_ms, count) VALUES (?1, ?2, ?3, ?3, ?4)",
                params![key, win as i64, now, n],
            )?;
        }
    }
    Ok(())
}

/// Milliseconds until one more send fits window `win` (`i64::MAX`: never).
pub(super) fn window_wait(
    tx: &Transaction<'_>,
    key: &str,
    win: usize,
    spec: &Spec,
    now: i64,
    margin: i64,
) -> rusqlite::Result<i64> {
    let spent = spec.spent_until.map_or(0, |s| (s - now).max(0));
    let limit = u64::from(spec.limit);
    let total = total(tx, key, win, spec, now)?;
    if total < limit {
        return Ok(spent);
    }
    let mut to_free = total - limit + 1;
    let mut stmt = tx.prepare_cached(
        "SELECT last_ms, count FROM rate_slots WHERE key = ?1 AND win = ?2 AND last_ms > ?3
         ORDER BY last_ms",
    )?;
    let mut rows = stmt.query(params![
        key,
        win as i64,
        now.saturating_sub(spec.interval_ms)
    ])?;
    let mut free_at = None;
    while let Some(r) = rows.next()? {
        let (last, count): (i64, i64) = (r.get(0)?, r.get(1)?);
        let count = count.max(0) as u64;
        if count >= to_free {
            free_at = Some(last.saturating_add(spec.interval_ms));
            break;
        }
        to_free -= count;
    }
    let log_wait = match free_at {
        Some(at) => (at.saturating_add(margin) - now).max(0),
        None => i64::MAX,
    };
    Ok(log_wait.max(spent))
}

pub(super) fn spec_info(spec: &Spec) -> RateLimitInfo {
    RateLimitInfo {
        max: Some(u64::from(spec.limit)),
        remaining: Some(0),
        interval: Some(Duration::from_millis(spec.interval_ms as u64)),
        ..RateLimitInfo::default()
    }
}

pub(super) fn info_to_text(info: &RateLimitInfo) -> String {
    serde_json::json!({
        "max": info.max,
        "remaining": info.remaining,
        "intervalMs": info.interval.map(ms),
        "dailyLimit": info.daily_limit,
        "dailyRemaining": info.daily_remaining,
    })
    .to_string()
}

pub(super) fn info_from_text(text: Option<&str>) -> RateLimitInfo {
    let v: serde_json::Value = text
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default();
    let num = |k: &str| v.get(k).and_then(serde_json::Value::as_u64);
    RateLimitInfo {
        max: num("max"),
        remaining: num("remaining"),
        interval: num("intervalMs").map(Duration::from_millis),
        daily_limit: num("dailyLimit"),
        daily_remaining: num("dailyRemaining"),
        retry_after: None,
    }
}
