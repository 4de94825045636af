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
//! - `user_type=Company` on the page (an agency install) or at the exchange gives the
//!   agency (Company) token with a refresh token, `companyId` and `approvedLocations`
//!   (every installed location).
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

use chrono::{DateTime, Duration, Utc};
use hlbridge_core::optable::TokenType;
use serde_json::{json, Value};

use super::auth::{AccessRecord, Grant, RefreshRecord};
use super::context::{Ctx, Reply};
use super::errors::ApiError;
use super::ids::jwt_like;
use super::state::{lock, GhlState};

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
            let company = match field("user_type") {
                Some(explicit) => explicit == "Company",
                None => record.company,
            };
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

// The consent page lives in [`super::consent`].
pub use super::consent::{approve_get, approve_post, choose_location, AuthorizeParams};
