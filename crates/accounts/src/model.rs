//! What a connection and a pair are, as listed by `hlbridge connections list --json`
//! and `GET /api/connections`. Never a secret: tokens live sealed in the token store.

use serde::Serialize;

/// Which API a connection reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum App {
    Ghl,
    Sellsy,
}

impl App {
    pub fn as_str(self) -> &'static str {
        match self {
            App::Ghl => "ghl",
            App::Sellsy => "sellsy",
        }
    }

    pub fn parse(s: &str) -> Option<App> {
        match s {
            "ghl" => Some(App::Ghl),
            "sellsy" => Some(App::Sellsy),
            _ => None,
        }
    }
}

/// How a connection authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ConnKind {
    /// GHL private integration token of one location.
    #[serde(rename = "pit")]
    GhlPit,
    /// GHL OAuth, installed on one location (location token with refresh token).
    #[serde(rename = "oauth-location")]
    GhlOAuthLocation,
    /// GHL OAuth at agency (Company) level: lists installed locations, mints their tokens.
    #[serde(rename = "oauth-agency")]
    GhlOAuthAgency,
    /// A location reached through an agency connection (tokens minted on demand).
    #[serde(rename = "agency-location")]
    GhlAgencyLocation,
    /// Sellsy Personal API client (client_credentials).
    #[serde(rename = "client-credentials")]
    SellsyClientCredentials,
    /// Sellsy authorization code with PKCE.
    #[serde(rename = "oauth")]
    SellsyOAuth,
}

impl ConnKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnKind::GhlPit => "pit",
            ConnKind::GhlOAuthLocation => "oauth-location",
            ConnKind::GhlOAuthAgency => "oauth-agency",
            ConnKind::GhlAgencyLocation => "agency-location",
            ConnKind::SellsyClientCredentials => "client-credentials",
            ConnKind::SellsyOAuth => "oauth",
        }
    }

    pub fn parse(s: &str) -> Option<ConnKind> {
        [
            ConnKind::GhlPit,
            ConnKind::GhlOAuthLocation,
            ConnKind::GhlOAuthAgency,
            ConnKind::GhlAgencyLocation,
            ConnKind::SellsyClientCredentials,
            ConnKind::SellsyOAuth,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    pub fn app(self) -> App {
        match self {
            ConnKind::SellsyClientCredentials | ConnKind::SellsyOAuth => App::Sellsy,
            _ => App::Ghl,
        }
    }

    /// A GHL connection that can be paired (it reaches one location).
    pub fn is_location(self) -> bool {
        matches!(
            self,
            ConnKind::GhlPit | ConnKind::GhlOAuthLocation | ConnKind::GhlAgencyLocation
        )
    }
}

/// Health of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnStatus {
    Ok,
    /// The access token runs out within a day and nothing can renew it.
    Expiring,
    /// The provider refused the stored grant (revoked, uninstalled, refresh token spent):
    /// connect the account again.
    NeedsReauth,
    /// The last use failed for another reason (see `last_error`).
    Error,
}

impl ConnStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnStatus::Ok => "ok",
            ConnStatus::Expiring => "expiring",
            ConnStatus::NeedsReauth => "needs-reauth",
            ConnStatus::Error => "error",
        }
    }

    pub fn parse(s: &str) -> ConnStatus {
        match s {
            "expiring" => ConnStatus::Expiring,
            "needs-reauth" => ConnStatus::NeedsReauth,
            "error" => ConnStatus::Error,
            _ => ConnStatus::Ok,
        }
    }
}

/// One connected account.
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub id: String,
    pub app: App,
    /// GHL location id, GHL company id (agency) or Sellsy account (corp) id.
    pub account: String,
    pub kind: ConnKind,
    pub status: ConnStatus,
    pub label: Option<String>,
    pub base_url: String,
    /// The agency connection a location was minted from.
    pub parent: Option<String>,
    pub last_error: Option<String>,
    pub created: String,
    /// Implicit connections come from `HLBRIDGE_*` variables and are not stored.
    pub implicit: bool,
    /// Non-secret settings: the OAuth client id, the token URL, the company id.
    #[serde(skip)]
    pub settings: serde_json::Map<String, serde_json::Value>,
}

impl Connection {
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings.get(key).and_then(|v| v.as_str())
    }

    /// Where the connection's tokens are sealed in the token store.
    pub fn token_key(&self) -> String {
        format!("conn:{}", self.id)
    }
}

/// A GHL location connection synced with a Sellsy connection.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub id: String,
    pub ghl: String,
    pub sellsy: String,
    pub created: String,
    pub updated: String,
    /// The pair's `hlbridge.toml` (mapping, policies, intervals).
    #[serde(skip)]
    pub config: String,
}
