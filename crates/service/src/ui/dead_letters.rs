//! `/ui/dead-letters`: what was given up on. Failed flow runs (newest first, paged
//! with `?before=<run id>`, each with the "Replay from failed step" form of
//! `/ui/runs/{id}/replay`) and the writes of each pair's sync outbox that ended
//! `failed` (what, why, when), read from the pair's own state file.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use rusqlite::{OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{error_page, render};
use crate::access::CurrentSession;
use crate::api::Lead;
use crate::AppState;

const PAGE: usize = 50;
/// Dead outbox entries shown per pair (newest first).
const OUTBOX_SHOWN: usize = 100;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/ui/dead-letters", get(page))
}

#[derive(Deserialize, Default)]
pub(super) struct DeadQuery {
    before: Option<i64>,
}

#[derive(Serialize)]
struct FailedRun {
    id: i64,
    flow: String,
    version: i64,
    failed_step: Option<String>,
    error: Option<String>,
    started: String,
    finished: Option<String>,
    /// The newest replay of the run and its status.
    replay: Option<i64>,
    replay_status: Option<String>,
}

#[derive(Serialize)]
struct DeadWrite {
    id: i64,
    target: String,
    kind: String,
    op: String,
    target_id: Option<String>,
    source_id: String,
    attempts: i64,
    error: Option<String>,
    created: String,
    updated: String,
}

#[derive(Serialize)]
struct PairDead {
    pair: String,
    total: i64,
    writes: Vec<DeadWrite>,
}

fn failed_runs(c: &rusqlite::Connection, before: Option<i64>) -> rusqlite::Result<Vec<FailedRun>> {
    let exists = super::activity::ensure_run_indexes(c)?;
    if !exists {
        return Ok(Vec::new());
    }
    let replays = if super::activity::has_replay_of(c)? {
        "(SELECT r.id FROM flow_runs r WHERE r.replay_of = f.id ORDER BY r.id DESC LIMIT 1),
         (SELECT r.status FROM flow_runs r WHERE r.replay_of = f.id ORDER BY r.id DESC LIMIT 1)"
    } else {
        "NULL, NULL"
    };
    let mut stmt = c.prepare(&format!(
        "SELECT f.id, f.flow, f.version, f.failed_step, f.error, f.started, f.finished, {replays}
         FROM flow_runs f WHERE f.status = 'failed' AND f.id < ?1 ORDER BY f.id DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(
        rusqlite::params![before.unwrap_or(i64::MAX), (PAGE + 1) as i64],
        |r| {
            Ok(FailedRun {
                id: r.get(0)?,
                flow: r.get(1)?,
                version: r.get(2)?,
                failed_step: r.get(3)?,
                error: r.get(4)?,
                started: r.get(5)?,
                finished: r.get(6)?,
                replay: r.get(7)?,
                replay_status: r.get(8)?,
            })
        },
    )?;
    rows.collect()
}

/// The pair's failed outbox writes, `None` before its first cycle made its state file.
fn dead_writes(path: &std::path::Path) -> rusqlite::Result<Option<(i64, Vec<DeadWrite>)>> {
    if !path.exists() {
        return Ok(None);
    }
    // Read-write without CREATE: never makes a file, and reads a WAL database even
    // when no other connection has it open.
    let c = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.busy_timeout(std::time::Duration::from_secs(5))?;
    let has_outbox = c
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='outbox'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if !has_outbox {
        return Ok(None);
    }
    let total: i64 = c.query_row(
        "SELECT COUNT(*) FROM outbox WHERE status = 'failed'",
        [],
        |r| r.get(0),
    )?;
    let mut stmt = c.prepare(
        "SELECT id, target, kind, op, target_id, source_id, attempts, last_error, created, updated
         FROM outbox WHERE status = 'failed' ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt
        .query_map([OUTBOX_SHOWN as i64], |r| {
            Ok(DeadWrite {
                id: r.get(0)?,
                target: r.get(1)?,
                kind: r.get(2)?,
                op: r.get(3)?,
                target_id: r.get(4)?,
                source_id: r.get(5)?,
                attempts: r.get(6)?,
                error: r.get(7)?,
                created: r.get(8)?,
                updated: r.get(9)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some((total, rows)))
}

pub(super) async fn page(
    session: CurrentSession,
    State(state): State<AppState>,
    Extension(lead): Extension<Arc<Lead>>,
    Query(q): Query<DeadQuery>,
) -> Response {
    let before = q.before;
    let runs = state.db.call(move |c| Ok(failed_runs(c, before)?)).await;
    let mut runs = match runs {
        Ok(r) => r,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let next = (runs.len() > PAGE).then(|| {
        runs.truncate(PAGE);
        runs.last().map(|r| r.id).unwrap_or(0)
    });
    let pairs: Vec<(String, std::path::PathBuf)> = match lead.accounts.registry.pairs() {
        Ok(p) => p
            .into_iter()
            .map(|p| {
                let path = lead.accounts.registry.pair_state_path(&p.id);
                (p.id, path)
            })
            .collect(),
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let outbox = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for (pair, path) in pairs {
            match dead_writes(&path) {
                Ok(Some((total, writes))) => out.push(PairDead {
                    pair,
                    total,
                    writes,
                }),
                Ok(None) => {}
                Err(e) => return Err(format!("pair {pair}: {e}")),
            }
        }
        Ok(out)
    })
    .await;
    let outbox = match outbox {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e),
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    render(
        "dead_letters.html",
        "Dead letters",
        &session,
        minijinja::context! {
            runs => runs,
            next => next,
            paged => before.is_some(),
            outbox => outbox,
            outbox_shown => OUTBOX_SHOWN,
        },
    )
}
