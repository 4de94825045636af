//! Connections and pairs, stored in the state database.
//!
//! - A **connection** is one account reached one way: a GHL location by private
//!   integration token (`pit`), by OAuth (`oauth-location`), an agency by OAuth
//!   (`oauth-agency`, whose installed locations become `agency-location` connections
//!   with minted tokens), a Sellsy account by client credentials or by authorization
//!   code with PKCE. Rows hold what is not secret; tokens and client secrets are sealed
//!   (AES-256-GCM) in the core token store under `conn:<id>`.
//! - A **pair** is a GHL location connection synced with a Sellsy connection, with its
//!   own `hlbridge.toml` text and its own state database file
//!   ([`Registry::pair_state_path`]): cursors, links and outbox never mix between pairs.
//!
//! Arrows point down: the CLI and the service use this crate and the engine; this
//! crate knows only core and the two API clients.

mod clients;
mod error;
mod model;
mod private;
mod registry;

pub use clients::{ghl_app_id, needs_reauth, Accounts, Budgets};
pub use error::{AccountsError, Result};
pub use model::{App, ConnKind, ConnStatus, Connection, Pair};
pub use private::ensure_private_file;
pub use registry::{key_file_for, new_id, NewConnection, Registry, PENDING_TTL_MINUTES};

/// The Sellsy token endpoint that goes with an API base URL.
pub fn sellsy_token_url(base_url: &str) -> String {
    hlbridge_sellsy::oauth::token_url_for(base_url)
}

/// The SQLite file behind `sqlite://PATH` (the form of `HLBRIDGE_DATABASE_URL`).
pub fn sqlite_path(url: &str) -> Result<std::path::PathBuf> {
    url.strip_prefix("sqlite://")
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .ok_or_else(|| {
            AccountsError::Input(format!(
                "HLBRIDGE_DATABASE_URL {url:?}: the state database is given as sqlite://PATH"
            ))
        })
}
