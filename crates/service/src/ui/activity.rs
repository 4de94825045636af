//! `/ui/activity`: one timeline of the pairs' sync cycles and the flows' runs, newest
//! first, filtered by kind, pair, flow, status and time, paged with `?before=`; and
//! `/ui/activity/cycles/{id}`, one cycle's summary.
//!
//! Cycles are kept by [`record_cycles`] (the runner's cycle callback) in
//! `service_sync_cycles`; runs are read from the flows' `flow_runs`. Both are read
//! with indexed, LIMITed queries (one page plus one row per source), never all rows.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use rusqlite::{params_from_iter, types::Value as Sql, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{enc, error_page, render};
use crate::access::CurrentSession;
use crate::api::Lead;
use crate::flows::Flows;
use crate::{AppState, DbError};

mod cycles;
pub use cycles::record_cycles;

const PAGE: usize = 50;

pub(super) fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/activity", get(page))
        .route("/ui/activity/cycles/{id}", get(cycles::cycle))
}

#[derive(Deserialize, Default, Clone)]
pub(super) struct ActivityQuery {
    /// `cycle`, `run` or empty (both).
    #[serde(default)]
    kind: String,
    #[serde(default)]
    pair: String,
    #[serde(default)]
    flow: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// `<time>~<kind>~<id>` of the last entry shown.
    #[serde(default)]
    before: String,
}

#[derive(Debug, Serialize, Clone)]
struct Entry {
    kind: &'static str,
    id: i64,
    at: String,
    title: String,
    status: String,
    summary: String,
}

/// A time filter as the stored format: `2026-12-07`, `2026-12-07T10:30` (a
/// `datetime-local` field) or RFC 3339. `end` moves a bare day to the next midnight.
fn parse_time(field: &str, v: &str, end: bool) -> Result<Option<String>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(Some(stamp(t.with_timezone(&chrono::Utc))));
    }
    for f in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(v, f) {
            return Ok(Some(stamp(t.and_utc())));
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let d = if end {
            d + chrono::Duration::days(1)
        } else {
            d
        };
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(Some(stamp(t.and_utc())));
        }
    }
    Err(format!(
        "{field}={v:?}: write a UTC time as YYYY-MM-DD or YYYY-MM-DDTHH:MM"
    ))
}

struct Cursor {
    at: String,
    kind: String,
    id: i64,
}

fn parse_cursor(v: &str) -> Result<Option<Cursor>, String> {
    if v.trim().is_empty() {
        return Ok(None);
    }
    let mut parts = v.splitn(3, '~');
    match (
        parts.next(),
        parts.next(),
        parts.next().map(str::parse::<i64>),
    ) {
        (Some(at), Some(kind), Some(Ok(id))) if kind == "cycle" || kind == "run" => {
            Ok(Some(Cursor {
                at: at.to_string(),
                kind: kind.to_string(),
                id,
            }))
        }
        _ => Err(format!(
            "before={v:?}: use the \"Older\" link of the page (TIME~KIND~ID)"
        )),
    }
}

/// Where a page starts and the time range, common to both sources.
struct Span {
    from: Option<String>,
    to: Option<String>,
    cursor: Option<Cursor>,
}

/// One kind's entries in timeline order (time, then kind, then id, all descending),
/// after the cursor and within the filters: one page plus one row.
/// The SQL (and its arguments) of one kind's entries in timeline order (time, then
/// kind, then id, all descending), after the cursor and within the filters: one
/// page plus one row.
fn source_sql(
    kind: &'static str,
    select: &str,
    mut conds: Vec<String>,
    mut args: Vec<Sql>,
    span: &Span,
) -> (String, Vec<Sql>) {
    if let Some(f) = &span.from {
        conds.push("started >= ?".into());
        args.push(Sql::Text(f.clone()));
    }
    if let Some(x) = &span.to {
        conds.push("started < ?".into());
        args.push(Sql::Text(x.clone()));
    }
    if let Some(cur) = &span.cursor {
        let at = Sql::Text(cur.at.clone());
        match kind.cmp(cur.kind.as_str()) {
            std::cmp::Ordering::Greater => {
                conds.push("started <= ?".into());
                args.push(at);
            }
            std::cmp::Ordering::Less => {
                conds.push("started < ?".into());
                args.push(at);
            }
            std::cmp::Ordering::Equal => {
                conds.push("(started < ? OR (started = ? AND id < ?))".into());
                args.extend([at.clone(), at, Sql::Integer(cur.id)]);
            }
        }
    }
    let mut sql = select.to_string();
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    sql.push_str(&format!(
        " ORDER BY started DESC, id DESC LIMIT {}",
        PAGE + 1
    ));
    (sql, args)
}

fn query_source(
    c: &rusqlite::Connection,
    (sql, args): (String, Vec<Sql>),
    map: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<Entry>,
) -> rusqlite::Result<Vec<Entry>> {
    let mut stmt = c.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args.iter()), map)?;
    rows.collect()
}

/// The indexes the timeline and dead letters read `flow_runs` by (the flows' table;
/// created here when missing, on the database they are asked of).
pub(super) fn ensure_run_indexes(c: &rusqlite::Connection) -> rusqlite::Result<bool> {
    let table: Option<i64> = c
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='flow_runs'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if table.is_none() {
        return Ok(false);
    }
    let have: Option<i64> = c
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type='index' AND name='ui_flow_runs_status_id'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if have.is_none() {
        c.execute_batch(
            "CREATE INDEX IF NOT EXISTS ui_flow_runs_started ON flow_runs (started);
             CREATE INDEX IF NOT EXISTS ui_flow_runs_status ON flow_runs (status, started);
             CREATE INDEX IF NOT EXISTS ui_flow_runs_flow ON flow_runs (flow, started);
             CREATE INDEX IF NOT EXISTS ui_flow_runs_status_id ON flow_runs (status, id);",
        )?;
    }
    // The replays of a run, for the dead letters (a table without the column is older).
    if has_replay_of(c)? {
        c.execute_batch(
            "CREATE INDEX IF NOT EXISTS ui_flow_runs_replay_of ON flow_runs (replay_of, id);",
        )?;
    }
    Ok(true)
}

/// Whether `flow_runs` records which run a run replays.
pub(super) fn has_replay_of(c: &rusqlite::Connection) -> rusqlite::Result<bool> {
    Ok(c.query_row(
        "SELECT 1 FROM pragma_table_info('flow_runs') WHERE name = 'replay_of'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .optional()?
    .is_some())
}

fn load(
    c: &rusqlite::Connection,
    q: &ActivityQuery,
    pair_flows: Option<Vec<String>>,
) -> Result<Vec<Entry>, String> {
    let span = Span {
        from: parse_time("from", &q.from, false)?,
        to: parse_time("to", &q.to, true)?,
        cursor: parse_cursor(&q.before)?,
    };
    let kind = q.kind.trim();
    if !matches!(kind, "" | "cycle" | "run") {
        return Err(format!("kind={kind:?}: use cycle, run or leave it empty"));
    }
    let (pair, flow, status) = (q.pair.trim(), q.flow.trim(), q.status.trim());
    let sqlerr = |e: rusqlite::Error| e.to_string();
    let mut out = Vec::new();
    if (kind.is_empty() || kind == "cycle") && flow.is_empty() {
        let (mut conds, mut args) = (Vec::new(), Vec::new());
        if !pair.is_empty() {
            conds.push("pair = ?".to_string());
            args.push(Sql::Text(pair.to_string()));
        }
        if !status.is_empty() {
            conds.push("status = ?".to_string());
            args.push(Sql::Text(status.to_string()));
        }
        let select = "SELECT id, pair, started, status, summary, targeted FROM service_sync_cycles";
        let sql = source_sql("cycle", select, conds, args, &span);
        out.extend(
            query_source(c, sql, |r| {
                let id: i64 = r.get(0)?;
                let targeted: bool = r.get(5)?;
                Ok(Entry {
                    kind: "cycle",
                    id,
                    title: format!(
                        "Pair {}: {}",
                        r.get::<_, String>(1)?,
                        if targeted {
                            "webhook sync"
                        } else {
                            "sync cycle"
                        }
                    ),
                    at: r.get(2)?,
                    status: r.get(3)?,
                    summary: r.get(4)?,
                })
            })
            .map_err(sqlerr)?,
        );
    }
    let runs_exist = ensure_run_indexes(c).map_err(sqlerr)?;
    let no_flow_of_pair = pair_flows.as_ref().is_some_and(|f| f.is_empty());
    if (kind.is_empty() || kind == "run") && runs_exist && !no_flow_of_pair {
        let (mut conds, mut args) = (Vec::new(), Vec::new());
        if !flow.is_empty() {
            conds.push("flow = ?".to_string());
            args.push(Sql::Text(flow.to_string()));
        }
        if let Some(flows) = &pair_flows {
            conds.push(format!("flow IN ({})", vec!["?"; flows.len()].join(", ")));
            args.extend(flows.iter().map(|f| Sql::Text(f.clone())));
        }
        if !status.is_empty() {
            conds.push("status = ?".to_string());
            args.push(Sql::Text(status.to_string()));
        }
        let select = "SELECT id, flow, started, status, error, failed_step FROM flow_runs";
        let sql = source_sql("run", select, conds, args, &span);
        out.extend(
            query_source(c, sql, |r| {
                let id: i64 = r.get(0)?;
                let error: Option<String> = r.get(4)?;
                let step: Option<String> = r.get(5)?;
                Ok(Entry {
                    kind: "run",
                    id,
                    title: format!("Flow {}: run #{id}", r.get::<_, String>(1)?),
                    at: r.get(2)?,
                    status: r.get(3)?,
                    summary: match (step, error) {
                        (Some(s), Some(e)) => format!("failed at {s}: {e}"),
                        (None, Some(e)) => e,
                        _ => String::new(),
                    },
                })
            })
            .map_err(sqlerr)?,
        );
    }
    out.sort_by(|a, b| {
        b.at.cmp(&a.at)
            .then(a.kind.cmp(b.kind))
            .then(b.id.cmp(&a.id))
    });
    out.truncate(PAGE + 1);
    Ok(out)
}

pub(super) async fn page(
    session: CurrentSession,
    State(state): State<AppState>,
    Extension(lead): Extension<Arc<Lead>>,
    Extension(flows): Extension<Arc<Flows>>,
    Query(q): Query<ActivityQuery>,
) -> Response {
    let pairs: Vec<String> = lead
        .accounts
        .registry
        .pairs()
        .map(|p| p.into_iter().map(|p| p.id).collect())
        .unwrap_or_default();
    let deployed = flows.registry.deployed().unwrap_or_default();
    let pair_flows = (!q.pair.trim().is_empty()).then(|| {
        deployed
            .iter()
            .filter(|d| d.pair.as_deref() == Some(q.pair.trim()))
            .map(|d| d.name.clone())
            .collect::<Vec<_>>()
    });
    let flow_names: Vec<String> = deployed.iter().map(|d| d.name.clone()).collect();
    let qq = q.clone();
    let loaded = state
        .db
        .call(move |c| Ok::<_, DbError>(load(c, &qq, pair_flows)))
        .await;
    let mut entries = match loaded {
        Ok(Ok(e)) => e,
        Ok(Err(msg)) => return error_page(StatusCode::BAD_REQUEST, &msg),
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let next = (entries.len() > PAGE).then(|| {
        entries.truncate(PAGE);
        let last = entries.last().cloned();
        let cursor = last
            .map(|e| format!("{}~{}~{}", e.at, e.kind, e.id))
            .unwrap_or_default();
        format!(
            "kind={}&pair={}&flow={}&status={}&from={}&to={}&before={}",
            enc(q.kind.trim()),
            enc(q.pair.trim()),
            enc(q.flow.trim()),
            enc(q.status.trim()),
            enc(q.from.trim()),
            enc(q.to.trim()),
            enc(&cursor)
        )
    });
    render(
        "activity.html",
        "Activity",
        &session,
        minijinja::context! {
            entries => entries,
            next => next,
            pairs => pairs,
            flows => flow_names,
            kinds => ["cycle", "run"],
            statuses => ["ok", "failed", "skipped", "running", "waiting"],
            q_kind => q.kind.trim(),
            q_pair => q.pair.trim(),
            q_flow => q.flow.trim(),
            q_status => q.status.trim(),
            q_from => q.from.trim(),
            q_to => q.to.trim(),
            paged => !q.before.trim().is_empty(),
        },
    )
}
#[cfg(test)]
mod tests;
