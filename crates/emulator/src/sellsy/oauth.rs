//! The OAuth 2.0 server: `/oauth2/authorization` (code flow with mandatory PKCE S256)
//! and `/oauth2/access-tokens` (authorization_code, refresh_token, client_credentials).
//!
//! Refresh tokens rotate: each one works once, and its use issues a new one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hlbridge_sellsy::oauth::Pkce;
use rand::RngCore;
use serde_json::{json, Map, Value};

use super::query::QueryParams;
use super::{clock, SellsyState};

const CODE_TTL: Duration = Duration::from_secs(600);
const REFRESH_TTL: Duration = Duration::from_secs(60 * 24 * 3600);

#[derive(Debug)]
struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    expires_at: DateTime<Utc>,
}

#[derive(Debug)]
struct RefreshGrant {
    client_id: String,
    expires_at: DateTime<Utc>,
}

/// Outstanding authorization codes and refresh tokens.
#[derive(Debug, Default)]
pub struct Grants {
    codes: HashMap<String, CodeGrant>,
    refresh_tokens: HashMap<String, RefreshGrant>,
}

/// An OAuth error answer (`{"error","error_description"}`).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
}

/// `GET /oauth2/authorization`: shows an approval page, or with `approve=true` redirects
/// straight to `redirect_uri?code=..&state=..` (`approve=false` redirects with `access_denied`).
pub async fn authorize(State(state): State<Arc<SellsyState>>, RawQuery(raw): RawQuery) -> Response {
    let q = QueryParams::parse(raw.as_deref());
    let param = |name: &str| q.get(name).unwrap_or_default().to_string();
    let (client_id, redirect_uri, challenge) = (
        param("client_id"),
        param("redirect_uri"),
        param("code_challenge"),
    );
    if q.get("response_type") != Some("code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "response_type must be code",
        );
    }
    if client_id != state.config().client_id {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "unknown client_id",
        );
    }
    let Ok(redirect) = url::Url::parse(&redirect_uri) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri must be an absolute URL",
        );
    };
    if !matches!(redirect.scheme(), "http" | "https") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri must be http or https",
        );
    }
    if q.get("code_challenge_method") != Some("S256") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "PKCE is required: code_challenge_method must be S256",
        );
    }
    if !is_pkce_string(&challenge) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code_challenge is missing or malformed",
        );
    }
    let state_param = q.get("state").map(str::to_string);
    match q.get("approve") {
        Some("true") => {
            let code = random_token();
            state
                .grants
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .codes
                .insert(
                    code.clone(),
                    CodeGrant {
                        client_id,
                        redirect_uri,
                        challenge,
                        expires_at: clock::now() + CODE_TTL,
                    },
                );
            redirect_to(redirect, &[("code", Some(code)), ("state", state_param)])
        }
        Some("false") => redirect_to(
            redirect,
            &[
                ("error", Some("access_denied".to_string())),
                ("state", state_param),
            ],
        ),
        _ => approval_page(raw.as_deref().unwrap_or_default(), &client_id),
    }
}

fn redirect_to(mut target: url::Url, params: &[(&str, Option<String>)]) -> Response {
    {
        let mut pairs = target.query_pairs_mut();
        for (name, value) in params {
            if let Some(value) = value {
                pairs.append_pair(name, value);
            }
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}

fn approval_page(raw_query: &str, client_id: &str) -> Response {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let base = escape(raw_query);
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sellsy emulator: authorize</title></head>\
         <body><h1>Authorize application</h1>\
         <p>The application <code>{client}</code> asks to access your Sellsy account.</p>\
         <p><a id=\"approve\" href=\"?{base}&amp;approve=true\">Approve</a> \
         <a id=\"deny\" href=\"?{base}&amp;approve=false\">Deny</a></p></body></html>",
        client = escape(client_id),
    );
    Html(page).into_response()
}

/// Read a token request body: JSON or form-encoded, whatever the content type says.
fn token_params(headers: &HeaderMap, body: &[u8]) -> Option<Map<String, Value>> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let from_json = || {
        serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.as_object().cloned())
    };
    let from_form = || {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
        Some(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )
    };
    if is_form {
        from_form().or_else(from_json)
    } else {
        from_json().or_else(from_form)
    }
}

/// `POST /oauth2/access-tokens`.
pub async fn access_tokens(
    State(state): State<Arc<SellsyState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(params) = token_params(&headers, &body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "body must be JSON or form-encoded",
        );
    };
    let param = |name: &str| {
        params
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let config = state.config();
    if param("client_id") != config.client_id {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client_id",
        );
    }
    let secret = param("client_secret");
    let secret_given = params.contains_key("client_secret");
    if secret_given && secret != config.client_secret {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let now = clock::now();
    match param("grant_type").as_str() {
        "authorization_code" => {
            let grant = state
                .grants
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .codes
                .remove(&param("code"));
            let Some(grant) = grant else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown or already used code",
                );
            };
            if grant.expires_at <= now {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the code has expired",
                );
            }
            if grant.client_id != param("client_id") || grant.redirect_uri != param("redirect_uri")
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri does not match",
                );
            }
            let verifier = param("code_verifier");
            if !is_pkce_string(&verifier) || Pkce::challenge_of(&verifier) != grant.challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "code_verifier does not match the challenge",
                );
            }
            issue(&state, true)
        }
        "refresh_token" => {
            let grant = state
                .grants
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .refresh_tokens
                .remove(&param("refresh_token"));
            match grant {
                Some(g) if g.expires_at > now && g.client_id == config.client_id => {
                    issue(&state, true)
                }
                Some(_) => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the refresh token has expired",
                ),
                None => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown, revoked or already used refresh token",
                ),
            }
        }
        "client_credentials" => {
            if !secret_given {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client_secret is required",
                );
            }
            issue(&state, false)
        }
        "" => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required",
        ),
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "unsupported grant_type",
        ),
    }
}

fn issue(state: &SellsyState, with_refresh: bool) -> Response {
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": state.config().access_token_ttl.as_secs(),
        "access_token": state.mint_access_token(),
    });
    if with_refresh {
        let refresh = random_token();
        state
            .grants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .refresh_tokens
            .insert(
                refresh.clone(),
                RefreshGrant {
                    client_id: state.config().client_id.clone(),
                    expires_at: clock::now() + REFRESH_TTL,
                },
            );
        body["refresh_token"] = Value::String(refresh);
    }
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}
