//! `/ui/conflicts`: the open field conflicts of every pair, both sides' values side by
//! side, and "Keep GoHighLevel" / "Keep Sellsy" forms that resolve one through the
//! same code as `POST /api/conflicts/{id}/resolve` (the pair's next cycle, started
//! at once, writes the kept value to the other side through the engine's outbox).

use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use serde::{Deserialize, Serialize};

use super::{enc, error_page, render, show};
use crate::access::CurrentSession;
use crate::api::history::{list_conflicts, resolve_conflict, ConflictsQuery, Resolve};
use crate::api::Lead;
use crate::error::{ApiJson, ApiPath, ApiQuery};
use crate::AppState;

/// At most this many conflicts on the page (the oldest first, as they are decided).
const SHOWN: usize = 200;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/conflicts", get(page))
        .route("/ui/conflicts/{id}/resolve", post(resolve))
}

#[derive(Deserialize, Default)]
pub(super) struct PageQuery {
    #[serde(default)]
    pair: String,
    /// The conflict just resolved and the side kept, for the confirmation line.
    #[serde(default)]
    done: String,
    #[serde(default)]
    took: String,
}

#[derive(Serialize)]
struct Row {
    id: String,
    /// `id` usable in HTML ids and test ids (`:` replaced).
    slug: String,
    /// `id` percent-encoded for the form action.
    id_enc: String,
    pair: String,
    kind: String,
    field: String,
    ghl_id: String,
    sellsy_id: String,
    ghl_value: String,
    sellsy_value: String,
    created: String,
}

pub(super) async fn page(
    session: CurrentSession,
    Extension(lead): Extension<Arc<Lead>>,
    Query(q): Query<PageQuery>,
) -> Response {
    let pair = (!q.pair.trim().is_empty()).then(|| q.pair.trim().to_string());
    let listed = list_conflicts(
        Extension(lead.clone()),
        ApiQuery(ConflictsQuery {
            pair: pair.clone(),
            all: false,
        }),
    )
    .await;
    let all = match listed {
        Ok(ApiJson(v)) => v,
        Err(e) => return error_page(e.status, &e.detail),
    };
    let total = all.len();
    let rows: Vec<Row> = all
        .into_iter()
        .take(SHOWN)
        .map(|c| Row {
            slug: c.id.replace(':', "-"),
            id_enc: enc(&c.id),
            id: c.id,
            pair: c.pair,
            kind: c.conflict.kind.as_str().to_string(),
            field: c.conflict.field.clone(),
            ghl_id: c.conflict.ghl_id.clone(),
            sellsy_id: c.conflict.sellsy_id.clone(),
            ghl_value: show(&c.conflict.ghl_value),
            sellsy_value: show(&c.conflict.sellsy_value),
            created: c.conflict.created.clone(),
        })
        .collect();
    let pairs: Vec<String> = lead
        .accounts
        .registry
        .pairs()
        .map(|p| p.into_iter().map(|p| p.id).collect())
        .unwrap_or_default();
    render(
        "conflicts.html",
        "Conflicts",
        &session,
        minijinja::context! {
            rows => rows,
            total => total,
            more => total > SHOWN,
            pairs => pairs,
            q_pair => q.pair.trim(),
            done => q.done.trim(),
            took => q.took.trim(),
        },
    )
}

#[derive(Deserialize)]
pub(super) struct ResolveForm {
    #[serde(default)]
    take: String,
}

pub(super) async fn resolve(
    _s: CurrentSession,
    Extension(lead): Extension<Arc<Lead>>,
    Path(id): Path<String>,
    Form(f): Form<ResolveForm>,
) -> Response {
    let take = f.take.trim().to_string();
    match resolve_conflict(
        Extension(lead),
        ApiPath(id.clone()),
        ApiJson(Resolve { take: take.clone() }),
    )
    .await
    {
        Ok(_) => Redirect::to(&format!(
            "/ui/conflicts?done={}&took={}",
            enc(&id),
            enc(&take)
        ))
        .into_response(),
        Err(e) => error_page(e.status, &format!("conflict {id}: {}", e.detail)),
    }
}
