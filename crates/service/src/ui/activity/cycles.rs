//! The sync cycles of the activity timeline: [`record_cycles`] keeps each finished
//! cycle in `service_sync_cycles`; `/ui/activity/cycles/{id}` shows one.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use hlbridge_engine::CycleReport;
use rusqlite::OptionalExtension;

use super::stamp;
use crate::access::CurrentSession;
use crate::runner::CycleLog;
use crate::ui::{enc, error_page, render};
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

pub(crate) async fn cycle(
    session: CurrentSession,
    State(state): State<AppState>,
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
            report => serde_json::to_string_pretty(&report).unwrap_or_default(),
        },
    )
}
