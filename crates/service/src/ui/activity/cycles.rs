//! The sync cycles of the activity timeline: [`record_cycles`] keeps each finished
//! cycle in `service_sync_cycles`; `/ui/activity/cycles/{id}` shows one.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use hlbridge_engine::store::HistoryFilter;
use hlbridge_engine::CycleReport;
use rusqlite::OptionalExtension;
use serde::Serialize;

use super::stamp;
use crate::access::CurrentSession;
use crate::api::history::pair_store;
use crate::api::Lead;
use crate::runner::CycleLog;
use crate::ui::{enc, error_page, render, show};
use crate::{AppState, Db};

/// Cycles kept (the oldest are removed beyond this many).
const KEEP_CYCLES: i64 = 200_000;

/// `inner` (if any), and each finished cycle written to `service_sync_cycles`.
pub fn record_cycles(db: Db, inner: Option<CycleLog>) -> CycleLog {
    Arc::new(move |pair: &str, report: &CycleReport, targeted: bool| {
        if let Some(log) = &inner {
            log(pair, report, targeted);
        }
        let finished = chrono::Utc::now();
        let took = chrono::Duration::milliseconds((report.seconds * 1000.0) as i64);
        let started = stamp(finished - took);
        let finished = stamp(finished);
        let status = if report.errors.is_empty() && report.failed_now == 0 {
            "ok"
        } else {
            "failed"
        };
        let summary = report.line();
        let json = serde_json::to_string(report).unwrap_or_else(|_| "{}".into());
        let pair = pair.to_string();
        let db = db.clone();
        let write = move || {
            db.call_blocking(|c| {
                c.execute(
                    "INSERT INTO service_sync_cycles (pair, started, finished, targeted, status, summary, report)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    rusqlite::params![pair, started, finished, targeted, status, summary, json],
                )?;
                let id = c.last_insert_rowid();
                if id % 1000 == 0 {
                    c.execute(
                        "DELETE FROM service_sync_cycles WHERE id <= ?1",
                        [id - KEEP_CYCLES],
                    )?;
                }
                Ok::<_, rusqlite::Error>(())
            })
        };
        let done = match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(move || {
                    if let Err(e) = write() {
                        tracing::warn!(error = %e, "cannot record the sync cycle");
                    }
                });
                Ok(())
            }
            Err(_) => write(),
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, "cannot record the sync cycle");
        }
    })
}

/// The pair's history rows read to find one cycle's writes (newest first from its
/// start): a cycle followed by more writes than this shows a link to the history.
const WRITES_READ: usize = 1000;

/// One write of the cycle, as the record's history has it.
#[derive(Serialize)]
struct Write {
    at: String,
    side: &'static str,
    kind: &'static str,
    op: String,
    ghl_id: String,
    sellsy_id: String,
    /// The record to look up in `/ui/history` (percent-encoded).
    record_q: String,
    changes: String,
    outcome: String,
    error: String,
}

fn time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// The writes the pair recorded between `started` and `finished` from this kind of
/// cycle (a webhook sync's writes are `webhook`, a cycle's `poll`), oldest first;
/// `complete` is false when more than [`WRITES_READ`] rows came after its start.
fn writes_of(
    lead: &Lead,
    pair: &str,
    started: &str,
    finished: &str,
    targeted: bool,
) -> Result<(Vec<Write>, bool), String> {
    let (Some(from), Some(to)) = (time(started), time(finished)) else {
        return Ok((Vec::new(), true));
    };
    let Some(store) = pair_store(lead, pair).map_err(|e| e.detail)? else {
        return Ok((Vec::new(), true));
    };
    let filter = HistoryFilter {
        since: Some(started.to_string()),
        limit: WRITES_READ,
        ..Default::default()
    };
    let rows =
        hlbridge_engine::admin::history(store.as_ref(), &filter).map_err(|e| e.to_string())?;
    let complete = rows.len() < WRITES_READ;
    let source = if targeted { "webhook" } else { "poll" };
    let mut out: Vec<Write> = rows
        .into_iter()
        .filter(|e| e.source.as_str() == source)
        .filter(|e| time(&e.at).is_some_and(|at| at >= from && at <= to))
        .map(|e| {
            let changes: Vec<String> = e
                .changes
                .iter()
                .map(|c| format!("{}: {} → {}", c.field, show(&c.old), show(&c.new)))
                .collect();
            let record = e
                .sellsy_id
                .clone()
                .or_else(|| e.ghl_id.clone())
                .unwrap_or_default();
            Write {
                at: e.at,
                side: e.side.as_str(),
                kind: e.kind.as_str(),
                op: e.op,
                ghl_id: e.ghl_id.unwrap_or_default(),
                sellsy_id: e.sellsy_id.unwrap_or_default(),
                record_q: enc(&record),
                changes: changes.join("; "),
                outcome: e.outcome,
                error: e.error.unwrap_or_default(),
            }
        })
        .collect();
    out.reverse();
    Ok((out, complete))
}

pub(crate) async fn cycle(
    session: CurrentSession,
    State(state): State<AppState>,
    Extension(lead): Extension<Arc<Lead>>,
    Path(id): Path<i64>,
) -> Response {
    let row = state
        .db
        .call(move |c| {
            Ok(c.query_row(
                "SELECT pair, started, finished, targeted, status, summary, report
                 FROM service_sync_cycles WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, bool>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                    ))
                },
            )
            .optional()?)
        })
        .await;
    let (pair, started, finished, targeted, status, summary, report) = match row {
        Ok(Some(r)) => r,
        Ok(None) => {
            return error_page(
                StatusCode::NOT_FOUND,
                &format!("No sync cycle has id {id}; see /ui/activity."),
            )
        }
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let (writes, writes_complete) = {
        let (lead, pair, started, finished) = (
            lead.clone(),
            pair.clone(),
            started.clone(),
            finished.clone(),
        );
        match tokio::task::spawn_blocking(move || {
            writes_of(&lead, &pair, &started, &finished, targeted)
        })
        .await
        {
            Ok(Ok(w)) => w,
            Ok(Err(e)) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e),
            Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        }
    };
    let report: serde_json::Value = serde_json::from_str(&report).unwrap_or_default();
    let side = |s: &str| {
        let v = &report[s];
        [
            "read", "created", "updated", "archived", "deleted", "failed",
        ]
        .iter()
        .map(|k| (k.to_string(), v[*k].as_u64().unwrap_or(0)))
        .collect::<Vec<_>>()
    };
    let errors: Vec<String> = report["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    render(
        "cycle.html",
        &format!("Sync cycle #{id}"),
        &session,
        minijinja::context! {
            id => id,
            pair => pair,
            pair_q => enc(&pair),
            started => started,
            finished => finished,
            targeted => targeted,
            status => status,
            summary => summary,
            ghl => side("ghl"),
            sellsy => side("sellsy"),
            errors => errors,
            conflicts_queued => report["conflicts_queued"].as_u64().unwrap_or(0),
            writes => writes,
            writes_complete => writes_complete,
            report => serde_json::to_string_pretty(&report).unwrap_or_default(),
        },
    )
}
