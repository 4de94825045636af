//! GHL OAuth 2.0: the authorize URL, the code exchange, refresh with rotating refresh
//! tokens, and location tokens minted from an agency token.

use std::sync::Arc;

use futures::future::BoxFuture;
use hlbridge_core::auth::{Refresher, TokenManager, Tokens};
use hlbridge_core::error::{Error, Result};
use hlbridge_core::http::{Executor, Payload, Request};
use hlbridge_core::optable::Method;
use secrecy::SecretString;
use serde_json::Value;

/// The marketplace page where a user picks the sub-account to connect.
pub const DEFAULT_AUTHORIZE_URL: &str =
    "https://marketplace.gohighlevel.com/v2/oauth/chooselocation";

/// The location chooser that goes with an API base URL: GHL's marketplace page beside
/// GHL's own base URL, `BASE/oauth/chooselocation` beside an emulator or a proxy.
pub fn authorize_url_for(base_url: &str) -> String {
    let trimmed = base_url.trim_end_matches('/');
    if trimmed == crate::DEFAULT_BASE_URL {
        DEFAULT_AUTHORIZE_URL.to_string()
    } else {
        format!("{trimmed}/oauth/chooselocation")
    }
}

/// `Location` (sub-account) or `Company` (agency) tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserType {
    Location,
    Company,
}

impl UserType {
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Location => "Location",
            UserType::Company => "Company",
        }
    }
}

/// An OAuth app's credentials and the token endpoint (`{base}/oauth/token`).
pub struct GhlOAuth {
    exec: Arc<Executor>,
    client_id: String,
    client_secret: SecretString,
    user_type: UserType,
    redirect_uri: Option<String>,
}

impl std::fmt::Debug for GhlOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GhlOAuth")
            .field("client_id", &self.client_id)
            .field("user_type", &self.user_type)
            .finish_non_exhaustive()
    }
}

impl GhlOAuth {
    /// `exec` must point at the API base URL; token requests are sent without a bearer.
    pub fn new(
        exec: Arc<Executor>,
        client_id: &str,
        client_secret: &str,
        user_type: UserType,
    ) -> Self {
        GhlOAuth {
            exec,
            client_id: client_id.to_string(),
            client_secret: SecretString::from(client_secret.to_string()),
            user_type,
            redirect_uri: None,
        }
    }

    pub fn with_redirect_uri(mut self, uri: &str) -> Self {
        self.redirect_uri = Some(uri.to_string());
        self
    }

    /// The URL to send the user to.
    pub fn authorize_url(
        &self,
        authorize_base: &str,
        redirect_uri: &str,
        scopes: &[&str],
    ) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .finish();
        format!("{authorize_base}?{query}")
    }

    /// Exchange an authorization code for tokens.
    pub async fn exchange_code(&self, code: &str, redirect_uri: Option<&str>) -> Result<Tokens> {
        let mut form = self.base_form("authorization_code");
        form.push(("code".into(), code.into()));
        if let Some(uri) = redirect_uri.or(self.redirect_uri.as_deref()) {
            form.push(("redirect_uri".into(), uri.into()));
        }
        self.token_request(form).await
    }

    /// Spend `refresh_token` for a new pair (the old refresh token stops working).
    pub async fn refresh_tokens(&self, refresh_token: &str) -> Result<Tokens> {
        let mut form = self.base_form("refresh_token");
        form.push(("refresh_token".into(), refresh_token.into()));
        self.token_request(form).await
    }

    fn base_form(&self, grant: &str) -> Vec<(String, String)> {
        use secrecy::ExposeSecret;
        vec![
            ("client_id".into(), self.client_id.clone()),
            (
                "client_secret".into(),
                self.client_secret.expose_secret().to_string(),
            ),
            ("grant_type".into(), grant.into()),
            ("user_type".into(), self.user_type.as_str().into()),
        ]
    }

    async fn token_request(&self, form: Vec<(String, String)>) -> Result<Tokens> {
        let mut req = Request::new(Method::Post, "/oauth/token", "ghl:oauth");
        req.anonymous = true;
        // A token grant must not be sent twice: a refresh token is single-use.
        req.safe_to_repeat = false;
        req.body = Some(Payload::Form(form));
        let resp = self.exec.send(&req).await?;
        tokens_from_response(&resp.body)
    }
}

impl Refresher for GhlOAuth {
    fn refresh<'a>(&'a self, current: &'a Tokens) -> BoxFuture<'a, Result<Tokens>> {
        Box::pin(async move {
            let refresh = current.refresh().ok_or_else(|| {
                Error::Config("no refresh token stored: reconnect the account".into())
            })?;
            self.refresh_tokens(refresh).await
        })
    }
}

/// Read a token endpoint response (`access_token`, `refresh_token`, `expires_in`, …).
pub fn tokens_from_response(body: &Value) -> Result<Tokens> {
    let mut tokens = Tokens::from_token_response(body)?;
    for key in [
        "userType",
        "locationId",
        "companyId",
        "userId",
        "planId",
        "approvedLocations",
    ] {
        if let Some(v) = body.get(key) {
            tokens.extra.insert(key.to_string(), v.clone());
        }
    }
    Ok(tokens)
}

/// Mints location tokens from an agency token (`POST /oauth/locationToken`): the
/// refresher of a location connection that was installed at agency level.
pub struct LocationTokenMinter {
    agency: Arc<crate::GhlClient>,
    company_id: String,
    location_id: String,
}

impl LocationTokenMinter {
    pub fn new(agency: Arc<crate::GhlClient>, company_id: &str, location_id: &str) -> Self {
        LocationTokenMinter {
            agency,
            company_id: company_id.to_string(),
            location_id: location_id.to_string(),
        }
    }

    pub async fn mint(&self) -> Result<Tokens> {
        let input = crate::CallInput::new().body(serde_json::json!({
            "companyId": self.company_id,
            "locationId": self.location_id,
        }));
        let body = self
            .agency
            .call("oauth.get-location-access-token", input)
            .await?;
        tokens_from_response(&body)
    }
}

impl Refresher for LocationTokenMinter {
    fn refresh<'a>(&'a self, _current: &'a Tokens) -> BoxFuture<'a, Result<Tokens>> {
        Box::pin(self.mint())
    }
}

/// A token manager for an OAuth connection, resumed from the store.
pub fn oauth_manager(
    key: &str,
    store: Arc<dyn hlbridge_core::auth::TokenStore>,
    oauth: Arc<GhlOAuth>,
) -> Result<TokenManager> {
    TokenManager::load(key, store, Some(oauth))
}
