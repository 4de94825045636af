//! Who may call what. One middleware in front of every route:
//! - a route listed in [`OPEN_ROUTES`] is served to anyone;
//! - `/api/*` and `/metrics` take `Authorization: Bearer TOKEN` (an API token) or a
//!   signed-in session, else 401 JSON with `WWW-Authenticate: Bearer`;
//! - every other route needs a session, else a redirect to `/login`;
//! - a cookie-authenticated request that is not GET/HEAD/OPTIONS must carry the
//!   session's CSRF token (form field `csrf_token` or header `X-CSRF-Token`), else 403.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::ApiError;
use crate::sessions::{self, SessionInfo, CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE};
use crate::AppState;

/// Routes served without sign-in. `*` stands for exactly one path segment. To open
/// another route, add its pattern here (and nowhere else).
pub const OPEN_ROUTES: &[&str] = &[
    "/healthz",
    "/login",
    "/favicon.ico",
    "/api/openapi.json",
    "/webhooks/*",
    "/oauth/*/callback",
];

/// Whether `path` matches one of [`OPEN_ROUTES`].
pub fn is_open(path: &str) -> bool {
    OPEN_ROUTES.iter().any(|p| pattern_matches(p, path))
}

fn pattern_matches(pattern: &str, path: &str) -> bool {
    let mut pat = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (pat.next(), got.next()) {
            (None, None) => return true,
            (Some("*"), Some(seg)) if !seg.is_empty() => {}
            (Some(p), Some(seg)) if p == seg => {}
            _ => return false,
        }
    }
}

/// Routes that answer 401 JSON (not a redirect) and accept bearer tokens.
pub fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path == "/metrics"
}

/// Who made the request (in the request extensions once the middleware ran).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Signed in with the session cookie.
    Session(SessionInfo),
    /// `Authorization: Bearer` with API token `id`.
    Token { id: i64 },
}

/// Extractor: the signed-in session (its CSRF token goes into forms). Rejects with a
/// redirect to `/login` (or 401 JSON under `/api`).
#[derive(Debug, Clone)]
pub struct CurrentSession(pub SessionInfo);

impl CurrentSession {
    /// `<input type="hidden" name="csrf_token" value="...">` for a form of this session.
    pub fn csrf_input(&self) -> String {
        csrf_input(&self.0.csrf_token)
    }
}

/// The hidden form field carrying `token`.
pub fn csrf_input(token: &str) -> String {
    // Tokens are base64url: nothing to escape.
    format!(r#"<input type="hidden" name="{CSRF_FIELD}" value="{token}">"#)
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Identity>() {
            Some(Identity::Session(s)) => Ok(CurrentSession(s.clone())),
            _ if is_api(parts.uri.path()) => {
                Err(ApiError::unauthorized("this call needs a signed-in session").into_response())
            }
            _ => Err(Redirect::to("/login").into_response()),
        }
    }
}

/// The client address used for sign-in rate limits.
pub fn client_ip(headers: &HeaderMap, ext: &axum::http::Extensions, trust_xff: bool) -> String {
    if trust_xff {
        if let Some(first) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            return first.to_string();
        }
    }
    ext.get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn csrf_refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "CSRF token missing or invalid: reload the page and submit the form again.\n",
    )
        .into_response()
}

/// The session of the request's cookie, if live.
pub async fn session_of(state: &AppState, headers: &HeaderMap) -> Option<SessionInfo> {
    let id = sessions::cookie_value(headers, SESSION_COOKIE)?.to_string();
    let idle = state.config.session_idle.as_secs() as i64;
    let absolute = state.config.session_absolute.as_secs() as i64;
    match state
        .db
        .call(move |c| sessions::lookup(c, &id, idle, absolute))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the session table");
            None
        }
    }
}

/// The middleware (installed by [`crate::router`]).
pub async fn access(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let open = is_open(&path);
    let api = is_api(&path);
    let mut identity = None;
    if let (true, Some(token)) = (api, bearer(req.headers())) {
        let token = token.to_string();
        match state
            .db
            .call(move |c| crate::api_tokens::verify(c, &token))
            .await
        {
            Ok(Some(id)) => identity = Some(Identity::Token { id }),
            Ok(None) if open => {}
            Ok(None) => {
                return ApiError::unauthorized(
                    "the bearer token is not valid (revoked or mistyped); create one with `hlbridge api-token create`",
                )
                .into_response()
            }
            Err(e) => return ApiError::from(e).into_response(),
        }
    }
    if identity.is_none() {
        identity = session_of(&state, req.headers())
            .await
            .map(Identity::Session);
    }
    if open {
        if let Some(id) = identity {
            req.extensions_mut().insert(id);
        }
        return next.run(req).await;
    }
    match identity {
        None if api => ApiError::unauthorized(
            "send `Authorization: Bearer TOKEN` (create one with `hlbridge api-token create`) or sign in at /login",
        )
        .into_response(),
        None => Redirect::to("/login").into_response(),
        Some(Identity::Token { id }) => {
            req.extensions_mut().insert(Identity::Token { id });
            next.run(req).await
        }
        Some(Identity::Session(session)) => {
            if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
                let (ok, rebuilt) =
                    check_csrf(req, &session.csrf_token, state.config.body_limit).await;
                let Some(rebuilt) = rebuilt.filter(|_| ok) else {
                    return csrf_refused();
                };
                req = rebuilt;
            }
            req.extensions_mut().insert(Identity::Session(session));
            next.run(req).await
        }
    }
}

/// Whether the request carries `expected` (header, or form field of an url-encoded
/// body, which is buffered and put back).
async fn check_csrf(req: Request, expected: &str, limit: usize) -> (bool, Option<Request>) {
    if let Some(given) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        let ok = sessions::tokens_match(given, expected);
        return (ok, Some(req));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return (false, Some(req));
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return (false, None);
    };
    let ok = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .is_some_and(|(_, v)| sessions::tokens_match(&v, expected));
    (ok, Some(Request::from_parts(parts, Body::from(bytes))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_routes_match_one_segment_per_star() {
        assert!(is_open("/healthz"));
        assert!(is_open("/webhooks/ghl"));
        assert!(is_open("/oauth/sellsy/callback"));
        assert!(is_open("/api/openapi.json"));
        assert!(!is_open("/webhooks"));
        assert!(!is_open("/webhooks/"));
        assert!(!is_open("/webhooks/ghl/extra"));
        assert!(!is_open("/oauth/callback"));
        assert!(!is_open("/api/pairs"));
        assert!(!is_open("/healthz/"));
        assert!(!is_open("/"));
    }
}
