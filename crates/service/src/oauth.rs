//! The OAuth routes and the connections page.
//!
//! - `GET /connect/ghl[?agency=1]` and `GET /connect/sellsy` (signed in) redirect 302 to
//!   the provider's authorize page with a random single-use `state` kept server-side
//!   (15 minutes), and for Sellsy an S256 PKCE challenge whose verifier is sealed with
//!   that state.
//! - `GET /oauth/ghl/callback` and `GET /oauth/sellsy/callback` take the state (a
//!   second use, a mismatch or an expired one is refused with 400 and nothing stored),
//!   exchange the code, store the connection and redirect 303 to `/connections`.
//!   Provider errors are shown in plain words.
//!
//! The connections page itself (`GET /connections`) is part of the web UI
//! (`crate::ui::connections`).

use std::sync::Arc;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use hlbridge_accounts::App;
use hlbridge_core::auth::Tokens;
use hlbridge_ghl::oauth::{GhlOAuth, UserType};
use hlbridge_sellsy::oauth::{Pkce, SellsyOAuth};
use serde::Deserialize;
use serde_json::json;

use crate::access::CurrentSession;
use crate::api::Lead;
use crate::AppState;

pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/connect/ghl", get(connect_ghl))
        .route("/connect/sellsy", get(connect_sellsy))
        .route("/oauth/ghl/callback", get(ghl_callback))
        .route("/oauth/sellsy/callback", get(sellsy_callback))
}

/// 302 Found to `url` (the authorize pages).
fn found(url: &str) -> Response {
    (
        StatusCode::FOUND,
        [(axum::http::header::LOCATION, url.to_string())],
    )
        .into_response()
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · hlbridge</title></head>\
             <body><main><h1>{t}</h1>{body}</main></body></html>",
            t = escape(title)
        )),
    )
        .into_response()
}

fn problem(status: StatusCode, what: &str) -> Response {
    page(
        status,
        "Connection not made",
        &format!(
            "<p>{}</p><p><a href=\"/connections\">Back to the connections</a></p>",
            escape(what)
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct ConnectQuery {
    #[serde(default)]
    agency: Option<String>,
}

async fn connect_ghl(
    _s: CurrentSession,
    Extension(lead): Extension<Arc<Lead>>,
    Query(q): Query<ConnectQuery>,
) -> Response {
    let Some(app) = &lead.ghl_app else {
        return problem(
            StatusCode::BAD_REQUEST,
            "No GHL app is configured: set HLBRIDGE_GHL_CLIENT_ID and HLBRIDGE_GHL_CLIENT_SECRET (the marketplace app's credentials) and restart hlbridge serve.",
        );
    };
    let agency = q.agency.as_deref().is_some_and(|v| v == "1" || v == "true");
    let state = match lead
        .accounts
        .registry
        .put_pending(App::Ghl, &json!({ "agency": agency }))
    {
        Ok(s) => s,
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let redirect = lead.redirect_uri("ghl");
    let scopes: Vec<&str> = app.scopes.split_whitespace().collect();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.client_id)
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", &scopes.join(" "))
        .append_pair("state", &state)
        .append_pair("user_type", if agency { "Company" } else { "Location" })
        .finish();
    found(&format!("{}?{query}", app.authorize_url))
}

async fn connect_sellsy(_s: CurrentSession, Extension(lead): Extension<Arc<Lead>>) -> Response {
    let Some(app) = &lead.sellsy_app else {
        return problem(
            StatusCode::BAD_REQUEST,
            "No Sellsy API client is configured: set HLBRIDGE_SELLSY_CLIENT_ID (and HLBRIDGE_SELLSY_CLIENT_SECRET for a private client) and restart hlbridge serve.",
        );
    };
    let pkce = Pkce::new();
    use secrecy::ExposeSecret;
    let state = match lead.accounts.registry.put_pending(
        App::Sellsy,
        &json!({ "verifier": pkce.verifier.expose_secret() }),
    ) {
        Ok(s) => s,
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let oauth = match SellsyOAuth::new(&app.token_url, &app.client_id, app.client_secret.as_deref())
    {
        Ok(o) => o,
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let url = oauth.authorize_url(
        &app.authorize_url,
        &lead.redirect_uri("sellsy"),
        &state,
        &pkce,
    );
    found(&url)
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The checks both callbacks share: a provider error, a missing code, the state.
fn check_callback(
    lead: &Lead,
    app: App,
    q: &CallbackQuery,
) -> Result<(String, serde_json::Value), Box<Response>> {
    if let Some(err) = &q.error {
        let why = q.error_description.as_deref().unwrap_or(err);
        return Err(Box::new(problem(
            StatusCode::BAD_REQUEST,
            &format!("The provider did not authorize the connection: {why}."),
        )));
    }
    let (Some(code), Some(state)) = (&q.code, &q.state) else {
        return Err(Box::new(problem(
            StatusCode::BAD_REQUEST,
            "The provider's redirect carries no code or no state: start again from the connections page.",
        )));
    };
    match lead.accounts.registry.take_pending(app, state) {
        Ok(Some(pending)) => Ok((code.clone(), pending)),
        Ok(None) => Err(Box::new(problem(
            StatusCode::BAD_REQUEST,
            "This authorization is unknown, expired or already used (state mismatch): start again from the connections page.",
        ))),
        Err(e) => Err(Box::new(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            &e.to_string(),
        ))),
    }
}

async fn ghl_callback(
    Extension(lead): Extension<Arc<Lead>>,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let (code, pending) = match check_callback(&lead, App::Ghl, &q) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(app) = &lead.ghl_app else {
        return problem(StatusCode::BAD_REQUEST, "No GHL app is configured.");
    };
    let agency = pending["agency"].as_bool().unwrap_or(false);
    let exec = match hlbridge_core::http::Executor::new(
        &app.base_url,
        Arc::new(hlbridge_ghl::flavor::GhlFlavor),
        Arc::new(hlbridge_core::rate::RateBudget::ghl_default()),
        None,
    ) {
        Ok(e) => Arc::new(e),
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let user_type = if agency {
        UserType::Company
    } else {
        UserType::Location
    };
    let oauth = GhlOAuth::new(exec, &app.client_id, &app.client_secret, user_type);
    let tokens: Tokens = match oauth
        .exchange_code(&code, Some(&lead.redirect_uri("ghl")))
        .await
    {
        Ok(t) => t,
        Err(e) => {
            return problem(
                StatusCode::BAD_GATEWAY,
                &format!("GHL refused the authorization code: {e}"),
            )
        }
    };
    match lead
        .accounts
        .add_ghl_oauth(tokens, &app.base_url, &app.client_id, &app.client_secret)
        .await
    {
        Ok(_) => {
            let _ = lead.runner.reload();
            Redirect::to("/connections").into_response()
        }
        Err(e) => problem(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}

async fn sellsy_callback(
    Extension(lead): Extension<Arc<Lead>>,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let (code, pending) = match check_callback(&lead, App::Sellsy, &q) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(app) = &lead.sellsy_app else {
        return problem(
            StatusCode::BAD_REQUEST,
            "No Sellsy API client is configured.",
        );
    };
    let verifier = pending["verifier"].as_str().unwrap_or_default();
    let oauth = match SellsyOAuth::new(&app.token_url, &app.client_id, app.client_secret.as_deref())
    {
        Ok(o) => o,
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let tokens = match oauth
        .exchange_code(&code, verifier, &lead.redirect_uri("sellsy"))
        .await
    {
        Ok(t) => t,
        Err(e) => {
            return problem(
                StatusCode::BAD_GATEWAY,
                &format!("Sellsy refused the authorization code: {e}"),
            )
        }
    };
    match lead.accounts.add_sellsy_oauth(
        tokens,
        &app.client_id,
        app.client_secret.as_deref(),
        &app.base_url,
        &app.token_url,
    ) {
        Ok(_) => Redirect::to("/connections").into_response(),
        Err(e) => problem(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}
