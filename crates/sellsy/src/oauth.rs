//! Sellsy OAuth 2.0: authorization code with PKCE S256 (Private and Public clients),
//! client_credentials (Personal clients), refresh with rotating refresh tokens, and the
//! account id (`corpId`) read from the JWT access token.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures::future::BoxFuture;
use hlbridge_core::auth::{Refresher, Tokens};
use hlbridge_core::error::{Error, Result};
use hlbridge_core::http::{Executor, Payload, Request};
use hlbridge_core::optable::Method;
use hlbridge_core::rate::RateBudget;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::flavor::SellsyFlavor;

pub const DEFAULT_TOKEN_URL: &str = "https://login.sellsy.com/oauth2/access-tokens";
pub const DEFAULT_AUTHORIZE_URL: &str = "https://login.sellsy.com/oauth2/authorization";

/// A PKCE verifier and its S256 challenge.
#[derive(Clone)]
pub struct Pkce {
    pub verifier: SecretString,
    pub challenge: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkce")
            .field("challenge", &self.challenge)
            .finish_non_exhaustive()
    }
}

impl Pkce {
    pub fn new() -> Self {
        let mut bytes = [0u8; 48];
        rand::thread_rng().fill_bytes(&mut bytes);
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        let challenge = Pkce::challenge_of(&verifier);
        Pkce {
            verifier: SecretString::from(verifier),
            challenge,
        }
    }

    /// BASE64URL(SHA256(verifier)), RFC 7636 §4.2.
    pub fn challenge_of(verifier: &str) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Pkce::new()
    }
}

/// A Sellsy API client's credentials and the token endpoint.
pub struct SellsyOAuth {
    exec: Executor,
    client_id: String,
    client_secret: Option<SecretString>,
}

impl std::fmt::Debug for SellsyOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SellsyOAuth")
            .field("client_id", &self.client_id)
            .field("token_url", &self.exec.base_url())
            .finish_non_exhaustive()
    }
}

impl SellsyOAuth {
    /// `client_secret` is `None` for public clients (PKCE only).
    pub fn new(token_url: &str, client_id: &str, client_secret: Option<&str>) -> Result<Self> {
        let exec = Executor::new(
            token_url,
            Arc::new(SellsyFlavor),
            Arc::new(RateBudget::new(vec![])),
            None,
        )?;
        Ok(SellsyOAuth {
            exec,
            client_id: client_id.to_string(),
            client_secret: client_secret.map(|s| SecretString::from(s.to_string())),
        })
    }

    /// Where to send the user; keep `pkce` to exchange the code.
    pub fn authorize_url(
        &self,
        authorize_url: &str,
        redirect_uri: &str,
        state: &str,
        pkce: &Pkce,
    ) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        format!("{authorize_url}?{query}")
    }

    pub async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<Tokens> {
        let mut body = json!({
            "grant_type": "authorization_code",
            "client_id": self.client_id,
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": redirect_uri,
        });
        if let Some(secret) = &self.client_secret {
            body["client_secret"] = Value::String(secret.expose_secret().to_string());
        }
        self.token_request(body).await
    }

    /// Personal clients: a token for the client's own staff member.
    pub async fn client_credentials(&self) -> Result<Tokens> {
        let secret = self.client_secret.as_ref().ok_or_else(|| {
            Error::Config("client_credentials needs HLBRIDGE_SELLSY_CLIENT_SECRET".into())
        })?;
        self.token_request(json!({
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": secret.expose_secret(),
        }))
        .await
    }

    /// Spend `refresh_token` for a new pair (the old one stops working).
    pub async fn refresh_tokens(&self, refresh_token: &str) -> Result<Tokens> {
        let mut body = json!({
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "refresh_token": refresh_token,
        });
        if let Some(secret) = &self.client_secret {
            body["client_secret"] = Value::String(secret.expose_secret().to_string());
        }
        self.token_request(body).await
    }

    async fn token_request(&self, body: Value) -> Result<Tokens> {
        let mut req = Request::new(Method::Post, "", "sellsy:oauth");
        req.anonymous = true;
        req.safe_to_repeat = false;
        req.body = Some(Payload::Json(body));
        let resp = self.exec.send(&req).await?;
        tokens_from_response(&resp.body)
    }
}

impl Refresher for SellsyOAuth {
    fn refresh<'a>(&'a self, current: &'a Tokens) -> BoxFuture<'a, Result<Tokens>> {
        Box::pin(async move {
            match current.refresh() {
                Some(refresh) => self.refresh_tokens(refresh).await,
                // client_credentials tokens come without a refresh token: ask again.
                None => self.client_credentials().await,
            }
        })
    }
}

/// `http://host:port/v2` (an emulator or a proxy) → `http://host:port/oauth2/<leaf>`;
/// Sellsy's own base URL → `default`.
fn beside_base(base_url: &str, leaf: &str, default: &str) -> String {
    let trimmed = base_url.trim_end_matches('/');
    match trimmed.strip_suffix("/v2") {
        Some(root) if trimmed != crate::DEFAULT_BASE_URL => format!("{root}/oauth2/{leaf}"),
        _ => default.to_string(),
    }
}

/// The token endpoint that goes with an API base URL.
pub fn token_url_for(base_url: &str) -> String {
    beside_base(base_url, "access-tokens", DEFAULT_TOKEN_URL)
}

/// The authorize page that goes with an API base URL.
pub fn authorize_url_for(base_url: &str) -> String {
    beside_base(base_url, "authorization", DEFAULT_AUTHORIZE_URL)
}

/// Read a token response; the account id is taken from the JWT's `corpId` claim.
pub fn tokens_from_response(body: &Value) -> Result<Tokens> {
    let mut tokens = Tokens::from_token_response(body)?;
    if let Some(claims) = jwt_claims(tokens.access()) {
        for key in ["corpId", "userId", "scopes"] {
            if let Some(v) = claims.get(key) {
                tokens.extra.insert(key.to_string(), v.clone());
            }
        }
    }
    Ok(tokens)
}

/// The (unverified) claims of a JWT: the client only reads them, the server checks them.
pub fn jwt_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The account id of a token set, from its `corpId` claim.
pub fn corp_id(tokens: &Tokens) -> Option<i64> {
    tokens
        .extra
        .get("corpId")
        .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc7636_example() {
        assert_eq!(
            Pkce::challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn corp_id_is_read_from_the_jwt() {
        let claims = URL_SAFE_NO_PAD.encode(br#"{"corpId":4242,"userId":7}"#);
        let token = format!("x.{claims}.sig");
        let tokens =
            tokens_from_response(&json!({"access_token": token, "expires_in": 3600})).unwrap();
        assert_eq!(corp_id(&tokens), Some(4242));
    }
}
