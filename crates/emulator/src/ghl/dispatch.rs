//! The request pipeline for every GHL API route, driven by `hlbridge_ghl::TABLE`:
//!
//! 1. route: method + path → operation (most specific template wins); none → 404
//!    NestJS-style `Cannot GET /x`;
//! 2. auth: bearer token → grant (401 `Invalid token…`), token type and scopes
//!    (401 `The token is not authorized for this scope.`);
//! 3. rate limit per (app/token, location) → 429;
//! 4. `Version` header: missing or malformed → **400** `{"statusCode":400,"message":"…"}`.
//!    The notes document the header as required but not GHL's exact answer; a header is
//!    not part of the validated DTO (that is what gets 422), so a plain Bad Request is
//!    the closest NestJS behaviour. A well-formed value that differs from the
//!    operation's is accepted unless `GhlConfig::strict_version` is set: the official
//!    Node SDK sends one global value (`2023-02-21` by default) on every call, and
//!    public client code sends `2021-07-28` to calendar routes, so GHL evidently
//!    serves them; refusing would break the very clients the emulator is checked with;
//! 5. body decoding (JSON, or form for form operations; malformed JSON → 400);
//! 6. table validation (`hlbridge_core::validate`) → 422 with class-validator messages;
//! 7. `locationId` in the query or body must be the token's location → 403;
//! 8. the handler, or the generic layer ([`super::generic`]) for operations without one,
//!    over the store of the request's location ([`super::tenants`]).
//!
//! Every response of the pipeline carries the five `X-RateLimit-*` headers.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method as HttpMethod, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hlbridge_core::optable::{BodyEncoding, Method, Operation, TokenType};
use hlbridge_core::validate::validate_request;
use serde_json::{Map, Value};

use super::auth::{bearer, Grant};
use super::context::{Ctx, Reply};
use super::errors::ApiError;
use super::ratelimit::RateHeaders;
use super::routes::{handler_for, Handler};
use super::state::{lock, GhlState};

/// Rate key for requests that carry no usable token.
pub(crate) const ANONYMOUS: &str = "anonymous";

/// The axum fallback handler serving every table route.
pub async fn dispatch(
    State(state): State<Arc<GhlState>>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut rate: Option<RateHeaders> = None;
    let result = pipeline(&state, &method, &uri, &headers, &body, &mut rate);
    let mut response = match result {
        Ok((reply, location)) => {
            state.emit_in(&location, reply.events);
            match reply.file {
                Some(file) => (
                    reply.status,
                    [
                        (header::CONTENT_TYPE, file.content_type),
                        (header::CONTENT_DISPOSITION, file.disposition),
                    ],
                    file.bytes,
                )
                    .into_response(),
                None => (reply.status, Json(reply.body)).into_response(),
            }
        }
        Err(e) => e.into_response(),
    };
    rate.unwrap_or_else(|| state.limiter.peek(ANONYMOUS))
        .apply(response.headers_mut());
    response
}

fn pipeline(
    state: &GhlState,
    method: &HttpMethod,
    uri: &Uri,
    headers: &HeaderMap,
    raw_body: &Bytes,
    rate: &mut Option<RateHeaders>,
) -> Result<(Reply, String), ApiError> {
    let path = uri.path();
    let not_found = || ApiError::RouteNotFound {
        method: method.to_string(),
        path: path.to_string(),
    };
    let m = Method::parse(method.as_str()).ok_or_else(not_found)?;
    let (op, path_params) = hlbridge_ghl::TABLE.route(m, path).ok_or_else(not_found)?;
    state.stats.record_operation(op.id);

    let (grant, rate_key) = authenticate(state, op, headers, raw_body)?;
    let decision = state.limiter.hit(&rate_key);
    *rate = Some(decision.headers);
    if !decision.allowed {
        return Err(ApiError::RateLimited);
    }

    check_version(op, headers, state.config.strict_version)?;
    let query: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let body = decode_body(op, headers, raw_body)?;

    let violations = validate_request(
        &hlbridge_ghl::TABLE,
        op,
        &path_params,
        &query,
        body.as_ref(),
    );
    if !violations.is_empty() {
        return Err(ApiError::Unprocessable(
            violations.iter().map(|v| v.nest_message()).collect(),
        ));
    }
    if let Some(g) = &grant {
        check_location(g, &query, body.as_ref())?;
    }

    let location = state.request_location(grant.as_ref(), &path_params, &query, body.as_ref());
    // Operations without a specific handler are served by the generic layer.
    let handler = handler_for(op.id).unwrap_or(Handler::Store(super::generic::serve));
    let ctx = Ctx {
        op,
        grant,
        path: path_params,
        query,
        body: body.unwrap_or(Value::Null),
        base_url: state.base_url(),
    };
    match handler {
        Handler::Store(f) => {
            let shared = state.store_of(&location);
            let mut store = lock(&shared);
            let reply = f(&mut store, &ctx);
            if m != Method::Get {
                // Writes reach search-backed reads through the (lagging) index.
                let store = &mut *store;
                store
                    .search_index
                    .observe(&store.contacts, std::time::Instant::now());
            }
            reply.map(|r| (r, location))
        }
        Handler::State(f) => f(state, &ctx).map(|r| (r, location)),
    }
}

/// Resolve the caller; returns the grant (none for token-less operations) and the
/// rate-limit key.
fn authenticate(
    state: &GhlState,
    op: &Operation,
    headers: &HeaderMap,
    raw_body: &Bytes,
) -> Result<(Option<Grant>, String), ApiError> {
    if op.token_types.contains(&TokenType::None) {
        // The token endpoint: budget per OAuth client.
        let client = client_id_of(headers, raw_body).unwrap_or_else(|| ANONYMOUS.to_string());
        return Ok((None, format!("oauth:{client}")));
    }
    let token = bearer(headers).ok_or(ApiError::InvalidToken)?;
    let grant = state.grant_for(token).ok_or(ApiError::InvalidToken)?;
    grant.authorize(op)?;
    let key = grant.rate_key(token);
    Ok((Some(grant), key))
}

fn client_id_of(headers: &HeaderMap, raw_body: &Bytes) -> Option<String> {
    if is_form(headers) {
        url::form_urlencoded::parse(raw_body)
            .find(|(k, _)| k == "client_id")
            .map(|(_, v)| v.into_owned())
    } else {
        serde_json::from_slice::<Value>(raw_body)
            .ok()?
            .get("client_id")?
            .as_str()
            .map(str::to_string)
    }
}

fn check_version(op: &Operation, headers: &HeaderMap, strict: bool) -> Result<(), ApiError> {
    let Some(expected) = op.version else {
        return Ok(());
    };
    let value = match headers.get("version").map(|v| v.to_str().map(str::trim)) {
        None => return Err(ApiError::bad_request("Version header is required")),
        Some(Err(_)) => return Err(ApiError::bad_request("Version header is not valid text")),
        Some(Ok(v)) => v,
    };
    if value == expected {
        return Ok(());
    }
    if strict {
        return Err(ApiError::bad_request(format!(
            "Version header value {value} is not supported by this endpoint (use {expected})"
        )));
    }
    if looks_like_version(value) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Version header value {value} is not a valid API version"
        )))
    }
}

/// `YYYY-MM-DD` (the v2 versions) or `v<digits>` (the newer API).
fn looks_like_version(v: &str) -> bool {
    let date = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok() && v.len() == 10;
    let major = v
        .strip_prefix('v')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    date || major
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// Decode the body: form bodies become an object of strings; anything else is JSON.
fn decode_body(
    op: &Operation,
    headers: &HeaderMap,
    raw: &Bytes,
) -> Result<Option<Value>, ApiError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let form_op = op.body.is_some_and(|b| b.encoding == BodyEncoding::Form);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Some(boundary) = super::generic::multipart::boundary(content_type) {
        return super::generic::multipart::decode(raw, &boundary)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request("Multipart body is malformed"));
    }
    if is_form(headers) {
        let map: Map<String, Value> = url::form_urlencoded::parse(raw)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return Ok(Some(Value::Object(map)));
    }
    match serde_json::from_slice::<Value>(raw) {
        Ok(v) => Ok(Some(v)),
        Err(e) if form_op => Err(ApiError::bad_request(format!(
            "Body is neither a form nor JSON: {e}"
        ))),
        Err(e) => Err(ApiError::bad_request(format!(
            "Body is not valid JSON: {e}"
        ))),
    }
}

/// A Location grant may only name its own location.
fn check_location(
    grant: &Grant,
    query: &[(String, String)],
    body: Option<&Value>,
) -> Result<(), ApiError> {
    let Some(own) = &grant.location_id else {
        return Ok(());
    };
    let from_query = query
        .iter()
        .find(|(k, _)| k == "locationId")
        .map(|(_, v)| v.as_str());
    let from_body = body
        .and_then(|b| b.get("locationId"))
        .and_then(Value::as_str);
    for named in [from_query, from_body].into_iter().flatten() {
        if !named.is_empty() && named != own {
            return Err(ApiError::LocationForbidden);
        }
    }
    Ok(())
}
