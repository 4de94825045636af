//! The REST API over connections, pairs and their sync (`/api/...`), the OAuth
//! routes and the connections page. Handlers reach the accounts and the pairs' runner
//! through [`Lead`], an `Extension` on these routes.

pub mod connections;
pub mod flow_forms;
pub mod history;
pub mod mapping;
pub mod pairs;

use std::sync::Arc;

use axum::Router;
use hlbridge_accounts::Accounts;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::runner::Runner;
use crate::AppState;

/// A GHL marketplace app, for `GET /connect/ghl`.
#[derive(Clone)]
pub struct GhlApp {
    pub client_id: String,
    pub client_secret: String,
    pub base_url: String,
    /// The location chooser (GHL's, or the emulator's beside an emulator base URL).
    pub authorize_url: String,
    pub scopes: String,
}

/// A Sellsy API client, for `GET /connect/sellsy`.
#[derive(Clone)]
pub struct SellsyApp {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub base_url: String,
    pub authorize_url: String,
    pub token_url: String,
}

impl std::fmt::Debug for GhlApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GhlApp")
            .field("client_id", &self.client_id)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SellsyApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SellsyApp")
            .field("client_id", &self.client_id)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// What the API handlers share beyond [`AppState`].
pub struct Lead {
    pub accounts: Accounts,
    pub runner: Arc<Runner>,
    pub ghl_app: Option<GhlApp>,
    pub sellsy_app: Option<SellsyApp>,
    /// Base of the redirect URIs and webhook URLs (`--public-url`, else the listen address).
    pub public_url: String,
}

impl Lead {
    pub fn redirect_uri(&self, app: &str) -> String {
        format!(
            "{}/oauth/{app}/callback",
            self.public_url.trim_end_matches('/')
        )
    }
}

/// The API routes (into the OpenAPI document) and the pages of this module.
pub fn lead_routes(lead: Arc<Lead>) -> (OpenApiRouter<AppState>, Router<AppState>) {
    let api = OpenApiRouter::new()
        .routes(routes!(connections::list_connections))
        .routes(routes!(connections::delete_connection))
        .routes(routes!(pairs::list_pairs, pairs::create_pair))
        .routes(routes!(pairs::get_config, pairs::put_config))
        .routes(routes!(pairs::start_sync))
        .routes(routes!(pairs::pair_status))
        .routes(routes!(mapping::pair_fields))
        .routes(routes!(mapping::run::preview))
        .routes(routes!(mapping::run::dry_run))
        .routes(routes!(history::list_history))
        .routes(routes!(history::list_conflicts))
        .routes(routes!(history::resolve_conflict))
        .routes(routes!(connections::list_ops))
        .merge(flow_forms::routes())
        .layer(axum::Extension(lead.clone()));
    let pages = crate::oauth::pages().layer(axum::Extension(lead));
    (api, pages)
}
