//! The OAuth consent page (`/oauth/chooselocation`, also under `/v2/`) and its
//! approval, which issues the authorization codes [`super::oauth::token`] exchanges
//! (see [`super::oauth`] for the flow).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use chrono::{Duration, Utc};
use serde::Deserialize;

use super::auth::CodeRecord;
use super::ids::secret;
use super::state::{lock, GhlState};

/// Lifetime of an authorization code.
const CODE_TTL_MINUTES: i64 = 10;

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
    /// `Company` for an agency-level install (`Location`, the default, otherwise).
    #[serde(alias = "userType")]
    pub user_type: Option<String>,
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
    if !matches!(
        p.user_type.as_deref().filter(|t| !t.is_empty()),
        None | Some("Location" | "Company")
    ) {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "user_type must be Location or Company",
        ));
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
    let company = p.user_type.as_deref() == Some("Company");
    match state.tenants.installed(&location_id) {
        None => return *error_page(StatusCode::BAD_REQUEST, "Unknown location"),
        // Approving for a location the app is not on installs it there (INSTALL).
        Some(false) if !company => {
            if let Err(e) = state.reinstall(&location_id) {
                return *error_page(StatusCode::BAD_REQUEST, &e.to_string());
            }
        }
        Some(_) => {}
    }
    let code = secret(40);
    lock(&state.oauth).codes.insert(
        code.clone(),
        CodeRecord {
            client_id: state.config.client_id.clone(),
            redirect_uri: p.redirect_uri.clone(),
            scopes: requested_scopes(state, p.scope.as_deref()),
            location_id,
            company,
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
        if let Some(t) = p.user_type.as_deref().filter(|t| !t.is_empty()) {
            q.append_pair("user_type", t);
        }
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
<p id="install-for">{install_for}</p>
<ul>{scope_items}</ul>
<form method="post" action="/oauth/chooselocation/approve">
{rt}{ci}{ru}{sc}{st}{ut}
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
        ut = hidden("user_type", p.user_type.as_deref()),
        install_for = if p.user_type.as_deref() == Some("Company") {
            format!(
                "Agency install: company <code>{}</code>, every installed location",
                escape(&state.config.company_id)
            )
        } else {
            "Sub-account install: the location chosen below".to_string()
        },
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
