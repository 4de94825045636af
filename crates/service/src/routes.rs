//! Router assembly, `/healthz`, `/metrics` and `/api/openapi.json`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde::{Deserialize, Serialize};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::{access, login, webhooks, AppState};

/// The base of the OpenAPI document: info, the error schema and the bearer scheme.
#[derive(OpenApi)]
#[openapi(
    info(title = "hlbridge", description = "The hlbridge service: connections, pairs, sync, webhooks."),
    components(schemas(ErrorBody)),
    modifiers(&BearerScheme),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token from `hlbridge api-token create`; a signed-in session cookie also works",
                    ))
                    .build(),
            ),
        );
    }
}

/// The answer of `GET /healthz`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// Liveness: the server answers and its database does.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    responses(
        (status = 200, description = "Up", body = Health),
        (status = 503, description = "The state database does not answer", body = ErrorBody),
    ),
    security(())
)]
async fn healthz(State(state): State<AppState>) -> Response {
    let probe = state
        .db
        .call(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?));
    match tokio::time::timeout(Duration::from_secs(5), probe).await {
        Ok(Ok(1)) => Json(Health {
            status: "ok".into(),
        })
        .into_response(),
        _ => ApiError::unavailable("the state database does not answer").into_response(),
    }
}

/// Prometheus metrics (text format 0.0.4).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    responses(
        (status = 200, description = "Metrics, names prefixed `hlbridge_`", content_type = "text/plain", body = String),
        (status = 401, description = "No API token or session", body = ErrorBody),
    )
)]
async fn metrics(State(state): State<AppState>) -> Response {
    if let Ok(depth) = state.db.call(|c| webhooks::store::depth(c)).await {
        state.metrics.set_queue_depth(depth);
    }
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.encode(),
    )
        .into_response()
}

async fn fallback(uri: Uri) -> Response {
    if access::is_api(uri.path()) {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route {}; see /api/openapi.json", uri.path()),
        )
        .into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Not found.\n",
        )
            .into_response()
    }
}

const CSP: &str = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The whole server: sign-in pages, access control and CSRF, the webhook inbox,
/// `/healthz`, `/metrics`, `/api/openapi.json` (this crate's handlers and
/// `extra_api`'s in one document), plus `extra_pages` behind the same sign-in.
/// Layers: tracing, request timeout (408), security headers, body limits (webhooks
/// `webhook_body_limit`, others `body_limit`; 413 beyond).
pub fn router(
    state: AppState,
    extra_api: OpenApiRouter<AppState>,
    extra_pages: Router<AppState>,
) -> Router {
    let cfg = state.config.clone();
    let inbox = OpenApiRouter::new()
        .routes(routes!(webhooks::ghl_webhook))
        .routes(routes!(webhooks::sellsy_webhook))
        .layer(DefaultBodyLimit::max(cfg.webhook_body_limit))
        .layer(RequestBodyLimitLayer::new(cfg.webhook_body_limit));
    let (api, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(metrics))
        .merge(inbox)
        .merge(extra_api)
        .split_for_parts();
    let doc = Arc::new(doc.to_json().unwrap_or_else(|_| "{}".into()));
    let openapi = get(move || {
        let doc = doc.clone();
        async move {
            (
                [(header::CONTENT_TYPE, "application/json")],
                doc.as_str().to_owned(),
            )
        }
    });
    let mut app = Router::new()
        .route("/", get(login::root))
        .route("/login", get(login::get_login).post(login::post_login))
        .route("/logout", post(login::post_logout))
        .route("/api/openapi.json", openapi)
        .merge(api)
        .merge(extra_pages)
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            access::access,
        ))
        .layer(DefaultBodyLimit::max(cfg.body_limit))
        .layer(RequestBodyLimitLayer::new(
            cfg.body_limit.max(cfg.webhook_body_limit),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ));
    if cfg.secure_cookies {
        app = app.layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("strict-transport-security"),
            HeaderValue::from_static("max-age=31536000"),
        ));
    }
    app.layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        cfg.request_timeout,
    ))
    .layer(TraceLayer::new_for_http())
    .with_state(state)
}

/// Every 10 minutes: delete expired sessions, old failed sign-ins, and processed
/// webhook events older than 30 days.
pub fn spawn_housekeeping(state: &AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            let idle = state.config.session_idle.as_secs() as i64;
            let absolute = state.config.session_absolute.as_secs() as i64;
            let window = state.config.login_window.as_secs() as i64;
            let res = state
                .db
                .call(move |c| {
                    crate::sessions::purge_expired(c, idle, absolute)?;
                    let now = crate::db::now_secs();
                    c.execute(
                        "DELETE FROM service_login_attempts WHERE at < ?1",
                        [now - window],
                    )?;
                    c.execute(
                        "DELETE FROM webhook_events WHERE status IN ('done', 'ignored') AND received_at < ?1",
                        [now - 30 * 24 * 3600],
                    )?;
                    Ok(())
                })
                .await;
            if let Err(e) = res {
                tracing::warn!(error = %e, "housekeeping of the service tables failed");
            }
        }
    })
}
