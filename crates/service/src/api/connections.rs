//! `GET /api/connections`, `DELETE /api/connections/{id}`, `GET /api/ops`.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::Extension;
use hlbridge_accounts::{AccountsError, Connection};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Lead;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};

/// A connection as the API shows it: never a secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConnectionView {
    pub id: String,
    /// `ghl` or `sellsy`.
    pub app: String,
    /// GHL location or company id, Sellsy account id.
    pub account: String,
    /// `pit`, `oauth-location`, `oauth-agency`, `agency-location`, `client-credentials`, `oauth`.
    pub kind: String,
    /// `ok`, `expiring`, `needs-reauth`, `error`.
    pub status: String,
    pub label: Option<String>,
    /// The agency connection a location was minted from.
    pub parent: Option<String>,
    pub last_error: Option<String>,
    pub created: String,
}

pub fn view(lead: &Lead, c: &Connection) -> ConnectionView {
    ConnectionView {
        id: c.id.clone(),
        app: c.app.as_str().into(),
        account: c.account.clone(),
        kind: c.kind.as_str().into(),
        status: lead.accounts.status_of(c).as_str().into(),
        label: c.label.clone(),
        parent: c.parent.clone(),
        last_error: c.last_error.clone(),
        created: c.created.clone(),
    }
}

/// An accounts error as an API answer.
pub fn api_err(e: AccountsError) -> ApiError {
    match e {
        AccountsError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
        AccountsError::Conflict(m) => ApiError::conflict(m),
        AccountsError::Input(m) => ApiError::bad_request(m),
        AccountsError::Core(e) if e.is_input_error() => ApiError::bad_request(e.to_string()),
        AccountsError::Core(e) => ApiError::new(StatusCode::BAD_GATEWAY, "provider", e.to_string()),
        AccountsError::Store(m) => ApiError::internal(m),
    }
}

/// Every stored connection.
#[utoipa::path(get, path = "/api/connections", tag = "connections",
    responses((status = 200, body = [ConnectionView]), (status = 401, body = crate::ErrorBody)))]
pub async fn list_connections(
    Extension(lead): Extension<Arc<Lead>>,
) -> Result<ApiJson<Vec<ConnectionView>>, ApiError> {
    let all = lead.accounts.registry.list().map_err(api_err)?;
    Ok(ApiJson(all.iter().map(|c| view(&lead, c)).collect()))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DeleteQuery {
    /// Also remove the pairs using the connection (their state files are kept).
    #[serde(default)]
    pub with_pairs: bool,
}

/// Remove a connection and its tokens (409 while a pair uses it, unless `with_pairs`).
#[utoipa::path(delete, path = "/api/connections/{id}", tag = "connections",
    params(("id" = String, Path, description = "Connection id"), DeleteQuery),
    responses((status = 204), (status = 404, body = crate::ErrorBody), (status = 409, body = crate::ErrorBody)))]
pub async fn delete_connection(
    Extension(lead): Extension<Arc<Lead>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    let reg = &lead.accounts.registry;
    reg.require(&id).map_err(api_err)?;
    reg.remove(&id, q.with_pairs).map_err(|e| match e {
        AccountsError::Input(m) => ApiError::conflict(m),
        other => api_err(other),
    })?;
    let _ = lead.runner.reload();
    Ok(StatusCode::NO_CONTENT)
}

/// One operation of the catalog.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OpView {
    pub id: String,
    pub app: String,
    /// `trigger` (read) or `action` (write).
    pub kind: String,
    pub name: String,
    pub category: String,
    pub method: String,
    pub path: String,
    /// Part of the named hlbridge catalog.
    pub catalog: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct OpsQuery {
    /// `ghl` or `sellsy` (default both).
    pub app: Option<String>,
    /// `trigger` or `action`.
    pub kind: Option<String>,
}

/// The operations catalog of both APIs.
#[utoipa::path(get, path = "/api/ops", tag = "catalog", params(OpsQuery),
    responses((status = 200, body = [OpView])))]
pub async fn list_ops(ApiQuery(q): ApiQuery<OpsQuery>) -> Result<ApiJson<Vec<OpView>>, ApiError> {
    let tables: Vec<&hlbridge_core::optable::Table> = match q.app.as_deref() {
        None => vec![&hlbridge_ghl::TABLE, &hlbridge_sellsy::TABLE],
        Some("ghl") => vec![&hlbridge_ghl::TABLE],
        Some("sellsy") => vec![&hlbridge_sellsy::TABLE],
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "app={other}: use ghl or sellsy"
            )))
        }
    };
    if let Some(k) = q
        .kind
        .as_deref()
        .filter(|k| *k != "trigger" && *k != "action")
    {
        return Err(ApiError::bad_request(format!(
            "kind={k}: use trigger or action"
        )));
    }
    let mut out = Vec::new();
    for t in tables {
        for op in t.operations.iter().filter(|o| o.alias_of.is_none()) {
            if q.kind.as_deref().is_some_and(|k| op.kind.as_str() != k) {
                continue;
            }
            out.push(OpView {
                id: op.id.into(),
                app: op.app.as_str().into(),
                kind: op.kind.as_str().into(),
                name: op.name.into(),
                category: op.category.into(),
                method: op.method.as_str().into(),
                path: op.path.into(),
                catalog: op.catalog,
            });
        }
    }
    Ok(ApiJson(out))
}
