//! `GET /api/history`, `GET /api/conflicts`, `POST /api/conflicts/{id}/resolve`: read
//! from each pair's own state database (never created by a read).

use std::sync::Arc;

use axum::Extension;
use hlbridge_engine::store::{Side, StateStore};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::connections::api_err;
use super::Lead;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};

/// The pair's state store, `None` before its first cycle created it.
pub fn pair_store(lead: &Lead, pair_id: &str) -> Result<Option<Arc<dyn StateStore>>, ApiError> {
    let path = lead.accounts.registry.pair_state_path(pair_id);
    if !path.exists() {
        return Ok(None);
    }
    hlbridge_engine::store::open(&format!("sqlite://{}", path.display()))
        .map(Some)
        .map_err(ApiError::internal)
}

fn pairs_selected(lead: &Lead, pair: Option<&str>) -> Result<Vec<String>, ApiError> {
    let all: Vec<String> = lead
        .accounts
        .registry
        .pairs()
        .map_err(api_err)?
        .into_iter()
        .map(|p| p.id)
        .collect();
    match pair {
        Some(p) if all.iter().any(|a| a == p) => Ok(vec![p.to_string()]),
        Some(p) => Err(ApiError::not_found(format!("pair {p}"))),
        None => Ok(all),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// Only this pair.
    pub pair: Option<String>,
    /// A record id on either side, or a contact's email.
    pub record: Option<String>,
    /// At most this many entries, newest first (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// What happened to records: every applied write, newest first.
#[utoipa::path(get, path = "/api/history", tag = "history", params(HistoryQuery),
    responses((status = 200, body = [Object]), (status = 404, body = crate::ErrorBody)))]
pub async fn list_history(
    Extension(lead): Extension<Arc<Lead>>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<ApiJson<Vec<serde_json::Value>>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let mut out: Vec<serde_json::Value> = Vec::new();
    for pair in pairs_selected(&lead, q.pair.as_deref())? {
        let Some(store) = pair_store(&lead, &pair)? else {
            continue;
        };
        let filter = hlbridge_engine::store::HistoryFilter {
            record: q.record.clone(),
            limit,
            ..Default::default()
        };
        for mut entry in
            hlbridge_engine::admin::history(store.as_ref(), &filter).map_err(ApiError::internal)?
        {
            entry.pair = pair.clone();
            out.push(serde_json::to_value(entry).map_err(ApiError::internal)?);
        }
    }
    out.sort_by(|a, b| b["at"].as_str().cmp(&a["at"].as_str()));
    out.truncate(limit);
    Ok(ApiJson(out))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ConflictsQuery {
    pub pair: Option<String>,
    /// Resolved ones too.
    #[serde(default)]
    pub all: bool,
}

/// A conflict of one pair; `id` is `<pair>:<number>`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictView {
    pub id: String,
    pub pair: String,
    #[schema(value_type = Object)]
    pub conflict: hlbridge_engine::store::Conflict,
}

/// Field conflicts waiting for a decision (policy `manual`).
#[utoipa::path(get, path = "/api/conflicts", tag = "conflicts", params(ConflictsQuery),
    responses((status = 200, body = [ConflictView])))]
pub async fn list_conflicts(
    Extension(lead): Extension<Arc<Lead>>,
    ApiQuery(q): ApiQuery<ConflictsQuery>,
) -> Result<ApiJson<Vec<ConflictView>>, ApiError> {
    let mut out = Vec::new();
    for pair in pairs_selected(&lead, q.pair.as_deref())? {
        let Some(store) = pair_store(&lead, &pair)? else {
            continue;
        };
        for c in
            hlbridge_engine::admin::conflicts(store.as_ref(), q.all).map_err(ApiError::internal)?
        {
            out.push(ConflictView {
                id: format!("{pair}:{}", c.id),
                pair: pair.clone(),
                conflict: c,
            });
        }
    }
    Ok(ApiJson(out))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Resolve {
    /// Whose value wins: `ghl` or `sellsy`.
    pub take: String,
}

/// Resolve a conflict by taking one side's value; the pair's next cycle writes it across.
#[utoipa::path(post, path = "/api/conflicts/{id}/resolve", tag = "conflicts", request_body = Resolve,
    params(("id" = String, Path, description = "`<pair>:<number>` as listed")),
    responses((status = 200, body = ConflictView), (status = 400, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody)))]
pub async fn resolve_conflict(
    Extension(lead): Extension<Arc<Lead>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Resolve>,
) -> Result<ApiJson<ConflictView>, ApiError> {
    let take = match body.take.as_str() {
        "ghl" => Side::Ghl,
        "sellsy" => Side::Sellsy,
        other => {
            return Err(ApiError::bad_request(format!(
                "take: {other:?} is neither \"ghl\" nor \"sellsy\""
            )))
        }
    };
    let (pair, n) = id
        .rsplit_once(':')
        .and_then(|(p, n)| n.parse::<i64>().ok().map(|n| (p.to_string(), n)))
        .ok_or_else(|| {
            ApiError::bad_request(format!("{id}: a conflict id is <pair>:<number>, as listed"))
        })?;
    pairs_selected(&lead, Some(&pair))?;
    let store =
        pair_store(&lead, &pair)?.ok_or_else(|| ApiError::not_found(format!("conflict {id}")))?;
    let c =
        hlbridge_engine::admin::resolve_conflict(store.as_ref(), n, take).map_err(|e| match e {
            hlbridge_engine::EngineError::Data(m) => {
                ApiError::new(axum::http::StatusCode::NOT_FOUND, "not_found", m)
            }
            other => ApiError::internal(other),
        })?;
    lead.runner.sync_now(&pair);
    Ok(ApiJson(ConflictView {
        id,
        pair,
        conflict: c,
    }))
}
