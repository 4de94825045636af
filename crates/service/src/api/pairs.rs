//! `GET|POST /api/pairs`, `GET|PUT /api/pairs/{id}/config`, `POST /api/pairs/{id}/sync`,
//! `GET /api/pairs/{id}/status`.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::Extension;
use hlbridge_accounts::Pair;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::connections::api_err;
use super::Lead;
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::runner::validate_pair_config;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PairView {
    pub id: String,
    /// The GHL location connection.
    pub ghl: String,
    /// The Sellsy connection.
    pub sellsy: String,
    pub created: String,
    pub updated: String,
}

impl From<&Pair> for PairView {
    fn from(p: &Pair) -> Self {
        PairView {
            id: p.id.clone(),
            ghl: p.ghl.clone(),
            sellsy: p.sellsy.clone(),
            created: p.created.clone(),
            updated: p.updated.clone(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPair {
    /// A GHL location connection id.
    pub ghl: String,
    /// A Sellsy connection id.
    pub sellsy: String,
    /// The pair's configuration (`hlbridge.toml` format, no credentials); default the
    /// built-in mapping.
    #[serde(default)]
    pub config: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Created {
    pub id: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PairConfig {
    /// The configuration text (`hlbridge.toml` format).
    pub config: String,
}

fn pair_of(lead: &Lead, id: &str) -> Result<Pair, ApiError> {
    lead.accounts
        .registry
        .pair(id)
        .map_err(api_err)?
        .ok_or_else(|| ApiError::not_found(format!("pair {id}")))
}

/// Every pair.
#[utoipa::path(get, path = "/api/pairs", tag = "pairs", responses((status = 200, body = [PairView])))]
pub async fn list_pairs(
    Extension(lead): Extension<Arc<Lead>>,
) -> Result<ApiJson<Vec<PairView>>, ApiError> {
    let pairs = lead.accounts.registry.pairs().map_err(api_err)?;
    Ok(ApiJson(pairs.iter().map(PairView::from).collect()))
}

/// Pair a GHL location connection with a Sellsy connection; its sync starts at once.
#[utoipa::path(post, path = "/api/pairs", tag = "pairs", request_body = NewPair,
    responses((status = 201, body = Created), (status = 400, body = crate::ErrorBody),
              (status = 404, body = crate::ErrorBody), (status = 409, body = crate::ErrorBody)))]
pub async fn create_pair(
    Extension(lead): Extension<Arc<Lead>>,
    ApiJson(body): ApiJson<NewPair>,
) -> Result<(StatusCode, ApiJson<Created>), ApiError> {
    let config = body.config.unwrap_or_default();
    validate_pair_config(&config).map_err(|e| ApiError::bad_request(format!("config: {e}")))?;
    let pair = lead
        .accounts
        .registry
        .add_pair(&body.ghl, &body.sellsy, &config)
        .map_err(api_err)?;
    let _ = lead.runner.reload();
    Ok((StatusCode::CREATED, ApiJson(Created { id: pair.id })))
}

/// The pair's configuration.
#[utoipa::path(get, path = "/api/pairs/{id}/config", tag = "pairs",
    params(("id" = String, Path)), responses((status = 200, body = PairConfig), (status = 404, body = crate::ErrorBody)))]
pub async fn get_config(
    Extension(lead): Extension<Arc<Lead>>,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<PairConfig>, ApiError> {
    let pair = pair_of(&lead, &id)?;
    Ok(ApiJson(PairConfig {
        config: pair.config,
    }))
}

/// Replace the pair's configuration; refused (400, the key named) when it cannot be
/// used. The pair's next cycle runs with it.
#[utoipa::path(put, path = "/api/pairs/{id}/config", tag = "pairs", request_body = PairConfig,
    params(("id" = String, Path)),
    responses((status = 200, body = PairConfig), (status = 400, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody)))]
pub async fn put_config(
    Extension(lead): Extension<Arc<Lead>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PairConfig>,
) -> Result<ApiJson<PairConfig>, ApiError> {
    let pair = pair_of(&lead, &id)?;
    validate_pair_config(&body.config)
        .map_err(|e| ApiError::bad_request(format!("config: {e}")))?;
    lead.accounts
        .registry
        .set_pair_config(&pair.id, &body.config)
        .map_err(api_err)?;
    lead.runner.restart(&pair.id);
    Ok(ApiJson(body))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    /// `started` (a cycle runs now) or `queued` (after the running one).
    pub status: String,
}

/// Run a cycle of the pair now.
#[utoipa::path(post, path = "/api/pairs/{id}/sync", tag = "pairs", params(("id" = String, Path)),
    responses((status = 202, body = Accepted), (status = 404, body = crate::ErrorBody)))]
pub async fn start_sync(
    Extension(lead): Extension<Arc<Lead>>,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, ApiJson<Accepted>), ApiError> {
    pair_of(&lead, &id)?;
    let running = lead.runner.run_of(&id).running;
    if !lead.runner.sync_now(&id) {
        return Err(ApiError::not_found(format!("pair {id}")));
    }
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(Accepted {
            status: if running { "queued" } else { "started" }.into(),
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PairStatus {
    pub id: String,
    pub ghl: String,
    pub sellsy: String,
    /// The runner's side: running now, cycles, last report, last error.
    #[schema(value_type = Object)]
    pub run: crate::runner::PairRun,
    /// The pair's sync state (links, dirty records, outbox, conflicts, notes sweep);
    /// null before its first cycle.
    #[schema(value_type = Object)]
    pub state: Option<hlbridge_engine::Status>,
}

/// The pair's sync state and its runner's progress.
#[utoipa::path(get, path = "/api/pairs/{id}/status", tag = "pairs", params(("id" = String, Path)),
    responses((status = 200, body = PairStatus), (status = 404, body = crate::ErrorBody)))]
pub async fn pair_status(
    Extension(lead): Extension<Arc<Lead>>,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<PairStatus>, ApiError> {
    let pair = pair_of(&lead, &id)?;
    let state = match super::history::pair_store(&lead, &pair.id)? {
        Some(store) => {
            Some(hlbridge_engine::admin::status(store.as_ref()).map_err(ApiError::internal)?)
        }
        None => None,
    };
    Ok(ApiJson(PairStatus {
        run: lead.runner.run_of(&pair.id),
        id: pair.id,
        ghl: pair.ghl,
        sellsy: pair.sellsy,
        state,
    }))
}
