//! OAuth 2.0: the consent page, the token endpoint, agency-to-location tokens and the
//! installed-locations list.
//!
//! - `GET /oauth/chooselocation` (also `/v2/oauth/chooselocation`) with
//!   `response_type=code&client_id&redirect_uri&scope[&state][&locationId]` shows an
//!   HTML consent page whose form posts to `/oauth/chooselocation/approve`, with a
//!   `<select name="locationId">` of the company's locations (`locationId` preselects
//!   one; default the primary); approving (GET or POST) redirects 302 to
//!   `redirect_uri?code=…[&state=…]`, and the code's Location token is for the chosen
//!   location. Approving for a location the app is not installed on installs it (and
//!   sends `INSTALL`). Adding `&approve=true` to the page URL skips the page and
//!   redirects at once (for tests and scripts).
//! - Exchanging a code with `user_type=Company` gives the agency (Company) token with a
//!   refresh token, `companyId` and `approvedLocations` (every installed location).
//! - Codes are single-use and live 10 minutes.
//! - `POST /oauth/token` (form or JSON) with `grant_type` `authorization_code`,
//!   `refresh_token` or `client_credentials`. Refresh tokens rotate: each refresh
//!   returns a new one and the used one is refused from then on (`invalid_grant`).
//!   `client_credentials` returns an agency (Company) token without a refresh token.
//! - Token-endpoint errors carry both GHL's `statusCode`/`message` and RFC 6749's
//!   `error`/`error_description` (wording of the node oauth2-server GHL runs on).
//! - `POST /oauth/locationToken` (Agency token, form `companyId`, `locationId`) returns a
//!   location token without refresh token, for any location of the company the app is
//!   installed on (others: 400). The agency private integration token is
//!   accepted here too, although GHL documents the route as OAuth-only.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use chrono::{DateTime, Duration, Utc};
use hlbridge_core::optable::TokenType;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{AccessRecord, CodeRecord, Grant, RefreshRecord};
use super::context::{Ctx, Reply};
use super::errors::ApiError;
use super::ids::{jwt_like, secret};
use super::state::{lock, GhlState};

/// Lifetime of an authorization code.
const CODE_TTL_MINUTES: i64 = 10;
/// Lifetime of a refresh token if never used.
const REFRESH_TTL_DAYS: i64 = 365;

fn oauth_error(status: u16, error: &'static str, description: impl Into<String>) -> ApiError {
    ApiError::OAuth {
        status,
        error,
        description: description.into(),
    }
}

fn invalid_client() -> ApiError {
    oauth_error(401, "invalid_client", "Invalid client: client is invalid")
}

/// Mint an access token (and a refresh token when `with_refresh`) for `grant`.
fn issue(state: &GhlState, grant: Grant, with_refresh: bool) -> (String, Option<String>, i64) {
    let now = Utc::now();
    let ttl =
        Duration::from_std(state.config.access_token_ttl).unwrap_or(Duration::seconds(86_399));
    let claims = json!({
        "authClass": if grant.kind == TokenType::Agency { "Company" } else { "Location" },
        "authClassId": grant.location_id.as_deref().unwrap_or(&grant.company_id),
        "source": "INTEGRATION",
        "sourceId": grant.client_id,
        "channel": "OAUTH",
        "primaryAuthClassId": grant.location_id.as_deref().unwrap_or(&grant.company_id),
        "oauthMeta": {"scopes": grant.scope_string(&state.all_scopes).split(' ').collect::<Vec<_>>(), "client": grant.client_id},
        "iat": now.timestamp(),
        "exp": now.checked_add_signed(ttl).map(|t| t.timestamp()),
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    let expires_at = now
        .checked_add_signed(ttl)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let access = jwt_like(&claims);
    let refresh = with_refresh
        .then(|| jwt_like(&json!({"jti": uuid::Uuid::new_v4().to_string(), "typ": "refresh"})));
    let mut oauth = lock(&state.oauth);
    oauth.sweep(now);
    oauth.access.insert(
        access.clone(),
        AccessRecord {
            grant: grant.clone(),
            expires_at,
        },
    );
    if let Some(r) = &refresh {
        oauth.refresh.insert(
            r.clone(),
            RefreshRecord {
                grant,
                used: false,
                expires_at: now + Duration::days(REFRESH_TTL_DAYS),
            },
        );
    }
    (access, refresh, ttl.num_seconds())
}

fn token_body(
    state: &GhlState,
    grant: &Grant,
    access: String,
    refresh: Option<String>,
    expires_in: i64,
) -> Value {
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": grant.scope_string(&state.all_scopes),
        "userType": if grant.kind == TokenType::Agency { "Company" } else { "Location" },
        "companyId": grant.company_id,
        "userId": grant.user_id,
        "isBulkInstallation": false,
    });
    if let Value::Object(m) = &mut body {
        if let Some(r) = refresh {
            m.insert("refresh_token".into(), json!(r));
        }
        match &grant.location_id {
            Some(loc) => {
                m.insert("locationId".into(), json!(loc));
            }
            None => {
                m.insert(
                    "approvedLocations".into(),
                    json!(state.installed_location_ids()),
                );
                m.insert("installToFutureLocations".into(), json!(false));
                m.insert("approveAllLocations".into(), json!(false));
            }
        }
    }
    body
}

/// `POST /oauth/token`.
pub fn token(state: &GhlState, ctx: &Ctx) -> Result<Reply, ApiError> {
    let field = |name: &str| ctx.body_str(name).filter(|s| !s.is_empty());
    if field("client_id") != Some(state.config.client_id.as_str())
        || field("client_secret") != Some(state.config.client_secret.as_str())
    {
        return Err(invalid_client());
    }
    let client_id = state.config.client_id.clone();
    let user_type = field("user_type").unwrap_or("Location");
    let grant = match field("grant_type") {
        Some("authorization_code") => {
            let code = field("code")
                .ok_or_else(|| oauth_error(400, "invalid_request", "Missing parameter: `code`"))?;
            let record = {
                let mut oauth = lock(&state.oauth);
                let record = oauth
                    .codes
                    .get_mut(code)
                    .filter(|c| !c.used && c.client_id == client_id)
                    .ok_or_else(|| {
                        oauth_error(
                            400,
                            "invalid_grant",
                            "Invalid grant: authorization code is invalid",
                        )
                    })?;
                if record.expires_at <= Utc::now() {
                    return Err(oauth_error(
                        400,
                        "invalid_grant",
                        "Invalid grant: authorization code has expired",
                    ));
                }
                if let (Some(expected), Some(given)) = (&record.redirect_uri, field("redirect_uri"))
                {
                    if expected != given {
                        return Err(oauth_error(
                            400,
                            "invalid_request",
                            "Invalid request: `redirect_uri` is invalid",
                        ));
                    }
                }
                record.used = true;
                record.clone()
            };
            let company = user_type == "Company";
            Grant {
                kind: if company {
                    TokenType::Agency
                } else {
                    TokenType::Location
                },
                scopes: Some(record.scopes),
                location_id: (!company).then_some(record.location_id),
                company_id: state.config.company_id.clone(),
                client_id: Some(client_id),
                user_id: state.user_id.clone(),
                private: false,
            }
        }
        Some("refresh_token") => {
            let token = field("refresh_token").ok_or_else(|| {
                oauth_error(400, "invalid_request", "Missing parameter: `refresh_token`")
            })?;
            let mut oauth = lock(&state.oauth);
            let record = oauth
                .refresh
                .get_mut(token)
                .filter(|r| !r.used && r.grant.client_id.as_deref() == Some(client_id.as_str()))
                .ok_or_else(|| {
                    oauth_error(
                        400,
                        "invalid_grant",
                        "Invalid grant: refresh token is invalid",
                    )
                })?;
            if record.expires_at <= Utc::now() {
                return Err(oauth_error(
                    400,
                    "invalid_grant",
                    "Invalid grant: refresh token has expired",
                ));
            }
            record.used = true;
            record.grant.clone()
        }
        Some("client_credentials") => Grant {
            kind: TokenType::Agency,
            scopes: None,
            location_id: None,
            company_id: state.config.company_id.clone(),
            client_id: Some(client_id),
            user_id: state.user_id.clone(),
            private: false,
        },
        _ => {
            return Err(oauth_error(
                400,
                "unsupported_grant_type",
                "Unsupported grant type: `grant_type` is invalid",
            ))
        }
    };
    let with_refresh = field("grant_type") != Some("client_credentials");
    let (access, refresh, expires_in) = issue(state, grant.clone(), with_refresh);
    Ok(Reply::ok(
        ctx,
        token_body(state, &grant, access, refresh, expires_in),
    ))
}

/// `POST /oauth/locationToken`.
pub fn location_token(state: &GhlState, ctx: &Ctx) -> Result<Reply, ApiError> {
    let agency = ctx.grant.clone().ok_or(ApiError::InvalidToken)?;
    let company_id = ctx.body_str("companyId").unwrap_or_default();
    let location_id = ctx.body_str("locationId").unwrap_or_default();
    if company_id != agency.company_id {
        return Err(ApiError::bad_request(
            "The companyId does not match the token's company",
        ));
    }
    if state.tenants.installed(location_id) != Some(true) {
        return Err(ApiError::bad_request(
            "Location not found or the app is not installed on it",
        ));
    }
    let grant = Grant {
        kind: TokenType::Location,
        scopes: agency.scopes.clone(),
        location_id: Some(location_id.to_string()),
        company_id: agency.company_id.clone(),
        client_id: agency
            .client_id
            .clone()
            .or_else(|| Some(state.config.client_id.clone())),
        user_id: agency.user_id.clone(),
        private: false,
    };
    let (access, _, expires_in) = issue(state, grant.clone(), false);
    Ok(Reply::ok(
        ctx,
        json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": grant.scope_string(&state.all_scopes),
            "locationId": location_id,
            "userId": grant.user_id,
            "appId": state.config.client_id.split('-').next().unwrap_or_default(),
            "versionId": state.config.client_id.split('-').next().unwrap_or_default(),
            "traceId": super::ids::trace_id(),
        }),
    ))
}

/// `GET /oauth/installedLocations`: the company's locations with the app's install
/// state, filtered by `isInstalled` (`true`: installed only, `false`: not installed
/// only, absent: all) and `query` (name contains, case-insensitive), paged by
/// `skip`/`limit` (default 0/20); `count` is how many match the filters.
pub fn installed_locations(state: &GhlState, ctx: &Ctx) -> Result<Reply, ApiError> {
    let agency = ctx.grant.clone().ok_or(ApiError::InvalidToken)?;
    if ctx.query("companyId") != Some(agency.company_id.as_str()) {
        return Err(ApiError::bad_request(
            "The companyId does not match the token's company",
        ));
    }
    let installed_filter = match ctx.query("isInstalled") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(ApiError::unprocessable(
                "isInstalled must be a boolean value",
            ))
        }
    };
    let name_filter = ctx.query("query").map(str::to_lowercase);
    let skip = usize::try_from(ctx.query_number("skip", 0, 0, None)?).unwrap_or(0);
    let limit = usize::try_from(ctx.query_number("limit", 20, 1, None)?).unwrap_or(20);
    let app_id = state.app_id();
    let matching: Vec<Value> = state
        .locations()
        .into_iter()
        .filter(|l| installed_filter.is_none_or(|want| l.installed == want))
        .filter(|l| {
            name_filter
                .as_ref()
                .is_none_or(|q| l.name.to_lowercase().contains(q))
        })
        .map(|l| {
            let mut row = json!({
                "_id": l.id,
                "name": l.name,
                "address": "1 Emulator Way",
                "isInstalled": l.installed,
            });
            if let (Value::Object(m), Some(at)) = (&mut row, l.installed_at) {
                m.insert("versionId".into(), json!(app_id));
                m.insert("installedAt".into(), json!(at));
            }
            row
        })
        .collect();
    let count = matching.len();
    let locations: Vec<Value> = matching.into_iter().skip(skip).take(limit).collect();
    Ok(Reply::ok(
        ctx,
        json!({ "locations": locations, "count": count, "installToFutureLocations": false }),
    ))
}

// ----- consent page -----

/// Query of the consent page and of the approve endpoint.
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    #[serde(rename = "locationId")]
    pub location_id: Option<String>,
    pub approve: Option<String>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn error_page(status: StatusCode, message: &str) -> Box<Response> {
    let html = format!(
        "<!doctype html><html><head><title>Authorization error</title></head><body><h1>Authorization error</h1><p>{}</p></body></html>",
        escape(message)
    );
    Box::new((status, Html(html)).into_response())
}

/// Check the request and return the parsed redirect URI.
fn check(state: &GhlState, p: &AuthorizeParams) -> Result<url::Url, Box<Response>> {
    if p.response_type.as_deref().unwrap_or("code") != "code" {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "response_type must be code",
        ));
    }
    if p.client_id.as_deref() != Some(state.config.client_id.as_str()) {
        return Err(error_page(StatusCode::BAD_REQUEST, "Unknown client_id"));
    }
    let Some(redirect) = p.redirect_uri.as_deref() else {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "redirect_uri is required",
        ));
    };
    url::Url::parse(redirect)
        .map_err(|_| error_page(StatusCode::BAD_REQUEST, "redirect_uri is not a valid URL"))
}

fn requested_scopes(state: &GhlState, scope: Option<&str>) -> BTreeSet<String> {
    let set: BTreeSet<String> = scope
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if set.is_empty() {
        state.all_scopes.clone()
    } else {
        set
    }
}

/// Issue a code and redirect to the client.
fn approve_and_redirect(state: &GhlState, p: &AuthorizeParams, mut redirect: url::Url) -> Response {
    let location_id = p
        .location_id
        .clone()
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| state.config.location_id.clone());
    match state.tenants.installed(&location_id) {
        None => return *error_page(StatusCode::BAD_REQUEST, "Unknown location"),
        // Approving for a location the app is not on installs it there (INSTALL).
        Some(false) => {
            if let Err(e) = state.reinstall(&location_id) {
                return *error_page(StatusCode::BAD_REQUEST, &e.to_string());
            }
        }
        Some(true) => {}
    }
    let code = secret(40);
    lock(&state.oauth).codes.insert(
        code.clone(),
        CodeRecord {
            client_id: state.config.client_id.clone(),
            redirect_uri: p.redirect_uri.clone(),
            scopes: requested_scopes(state, p.scope.as_deref()),
            location_id,
            expires_at: Utc::now() + Duration::minutes(CODE_TTL_MINUTES),
            used: false,
        },
    );
    {
        let mut pairs = redirect.query_pairs_mut();
        pairs.append_pair("code", &code);
        if let Some(s) = &p.state {
            pairs.append_pair("state", s);
        }
    }
    (
        StatusCode::FOUND,
        [(header::LOCATION, redirect.to_string())],
    )
        .into_response()
}

/// `GET /oauth/chooselocation` and `/v2/oauth/chooselocation`.
pub async fn choose_location(
    State(state): State<Arc<GhlState>>,
    Query(p): Query<AuthorizeParams>,
) -> Response {
    let redirect = match check(&state, &p) {
        Ok(r) => r,
        Err(page) => return *page,
    };
    if p.approve
        .as_deref()
        .is_some_and(|a| a == "true" || a == "1")
    {
        return approve_and_redirect(&state, &p, redirect);
    }
    let hidden = |name: &str, value: Option<&str>| {
        format!(
            r#"<input type="hidden" name="{name}" value="{}">"#,
            escape(value.unwrap_or_default())
        )
    };
    let scopes = requested_scopes(&state, p.scope.as_deref());
    let scope_items: String = scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", escape(s)))
        .collect();
    let locations = state.locations();
    let chosen = p
        .location_id
        .clone()
        .filter(|l| locations.iter().any(|x| x.id == *l))
        .unwrap_or_else(|| state.config.location_id.clone());
    let options: String = locations
        .iter()
        .map(|l| {
            format!(
                r#"<option value="{id}"{selected}>{name} ({id}){note}</option>"#,
                id = escape(&l.id),
                name = escape(&l.name),
                selected = if l.id == chosen { " selected" } else { "" },
                note = if l.installed {
                    ""
                } else {
                    " — not installed"
                },
            )
        })
        .collect();
    let mut link = url::Url::parse("http://emulator/oauth/chooselocation/approve").ok();
    if let Some(l) = link.as_mut() {
        let mut q = l.query_pairs_mut();
        q.append_pair("response_type", "code");
        q.append_pair("client_id", p.client_id.as_deref().unwrap_or_default());
        q.append_pair(
            "redirect_uri",
            p.redirect_uri.as_deref().unwrap_or_default(),
        );
        q.append_pair("scope", p.scope.as_deref().unwrap_or_default());
        if let Some(s) = &p.state {
            q.append_pair("state", s);
        }
        q.append_pair("locationId", &chosen);
    }
    let approve_href = link
        .map(|l| {
            format!(
                "/oauth/chooselocation/approve?{}",
                l.query().unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let html = format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Choose a location — hlbridge GHL emulator</title></head>
<body>
<h1>Authorize application</h1>
<p>Client <code>{client}</code> asks for access to:</p>
<ul>{scope_items}</ul>
<form method="post" action="/oauth/chooselocation/approve">
{rt}{ci}{ru}{sc}{st}
<label>Location <select name="locationId">{options}</select></label>
<button type="submit" id="approve">Allow</button>
</form>
<p><a id="approve-link" href="{href}">Allow (link)</a></p>
</body></html>"#,
        client = escape(p.client_id.as_deref().unwrap_or_default()),
        rt = hidden("response_type", Some("code")),
        ci = hidden("client_id", p.client_id.as_deref()),
        ru = hidden("redirect_uri", p.redirect_uri.as_deref()),
        sc = hidden("scope", p.scope.as_deref()),
        st = hidden("state", p.state.as_deref()),
        href = escape(&approve_href),
    );
    Html(html).into_response()
}

/// `GET /oauth/chooselocation/approve` (link).
pub async fn approve_get(
    State(state): State<Arc<GhlState>>,
    Query(p): Query<AuthorizeParams>,
) -> Response {
    match check(&state, &p) {
        Ok(redirect) => approve_and_redirect(&state, &p, redirect),
        Err(page) => *page,
    }
}

/// `POST /oauth/chooselocation/approve` (form).
pub async fn approve_post(
    State(state): State<Arc<GhlState>>,
    Form(p): Form<AuthorizeParams>,
) -> Response {
    match check(&state, &p) {
        Ok(redirect) => approve_and_redirect(&state, &p, redirect),
        Err(page) => *page,
    }
}
