//! The route table: `/v2/...` behind quotas, fault injection and bearer auth,
//! `/oauth2/...`, and the `/emulator/...` control endpoints; every response but the
//! control endpoints' is counted for `GET /emulator/stats`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::error::ApiError;
use super::parties::Party;
use super::{
    addresses, auth, comments, control, custom_fields, links, oauth, parties, quota, smart_tags,
    stats, system, tasks, webhooks, SellsyState,
};
use crate::faults::{Fault, FaultInjector};

type St = State<Arc<SellsyState>>;
type Q = RawQuery;

/// Largest request body accepted.
const MAX_BODY: usize = 2 * 1024 * 1024;

pub fn app(state: Arc<SellsyState>) -> Router {
    let api = api_routes()
        .fallback(|| async { ApiError::route_not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            control::truncation,
        ))
        .layer(middleware::from_fn(error_envelope))
        .layer(middleware::from_fn_with_state(state.clone(), plan_quota))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_bearer,
        ));
    let api = fault_injector(&state).apply(api);
    let api = api
        .layer(middleware::from_fn_with_state(
            state.clone(),
            quota::enforce,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY));
    let oauth = Router::new()
        .route("/authorization", get(oauth::authorize))
        .route("/access-tokens", post(oauth::access_tokens));
    Router::new()
        .nest("/v2", api)
        .nest("/oauth2", oauth)
        .nest("/emulator", control::routes())
        .fallback(|| async { ApiError::route_not_found() })
        .layer(middleware::from_fn_with_state(state.clone(), stats::count))
        .with_state(state)
}

fn fault_injector(state: &Arc<SellsyState>) -> FaultInjector {
    state.faults().clone().respond_with(|fault, _parts| {
        let error = match fault {
            Fault::TooManyRequests => ApiError::quota_exceeded("second"),
            Fault::ExpiredToken => ApiError::unauthorized("The access token has expired"),
            Fault::ServerError(status) => {
                ApiError::new(*status, "server_error", "Internal server error")
            }
            Fault::Slow(_) | Fault::Drop | Fault::CommitDrop => ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Internal server error",
            ),
        };
        error.into_response()
    })
}

/// Errors produced by the framework itself (a body over the size limit, an undecodable
/// path segment) come as plain text; give them Sellsy's JSON envelope like every other error.
async fn error_envelope(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !status.is_client_error() && !status.is_server_error() || is_json {
        return response;
    }
    let message = status.canonical_reason().unwrap_or("Request refused");
    ApiError::new(status, "request_error", message).into_response()
}

/// Writes answer 402 while the account's plan quota is marked as reached.
async fn plan_quota(State(state): St, request: Request, next: Next) -> Response {
    let write = request.method() != axum::http::Method::GET;
    let search = request.uri().path().ends_with("/search");
    if write && !search && state.plan_quota_reached() {
        return ApiError::plan_limit("The plan's quota for this feature is reached")
            .into_response();
    }
    next.run(request).await
}

fn party_routes(party: Party) -> Router<Arc<SellsyState>> {
    Router::new()
        .route(
            "/",
            get(move |State(s): St, RawQuery(q): Q| parties::list(party, s, q)).post(
                move |State(s): St, RawQuery(q): Q, b: Bytes| parties::create(party, s, q, b),
            ),
        )
        .route(
            "/search",
            post(move |State(s): St, RawQuery(q): Q, b: Bytes| parties::search(party, s, q, b)),
        )
        .route(
            "/{id}",
            get(
                move |State(s): St, Path(id): Path<String>, RawQuery(q): Q| {
                    parties::get(party, s, id, q)
                },
            )
            .put(
                move |State(s): St, Path(id): Path<String>, RawQuery(q): Q, b: Bytes| {
                    parties::update(party, s, id, q, b)
                },
            )
            .delete(move |State(s): St, Path(id): Path<String>| parties::delete(party, s, id)),
        )
        .route(
            "/{id}/custom-fields",
            get(
                move |State(s): St, Path(id): Path<String>, RawQuery(q): Q| {
                    custom_fields::values(party, s, id, q)
                },
            )
            .put(
                move |State(s): St, Path(id): Path<String>, RawQuery(q): Q, b: Bytes| {
                    custom_fields::set_values(party, s, id, q, b)
                },
            ),
        )
}

fn api_routes() -> Router<Arc<SellsyState>> {
    let contacts = party_routes(Party::Contact)
        .route(
            "/{id}/companies",
            get(|State(s): St, Path(id): Path<String>, RawQuery(q): Q| {
                links::companies_of(s, id, q)
            }),
        )
        .route(
            "/{id}/smart-tags",
            get(|State(s): St, Path(id): Path<String>, RawQuery(q): Q| smart_tags::list(s, id, q))
                .post(
                    |State(s): St, Path(id): Path<String>, RawQuery(q): Q, b: Bytes| {
                        smart_tags::link(s, id, q, b)
                    },
                ),
        )
        .route(
            "/{id}/addresses",
            get(|State(s): St, Path(id): Path<String>, RawQuery(q): Q| addresses::list(s, id, q))
                .post(
                    |State(s): St, Path(id): Path<String>, RawQuery(q): Q, b: Bytes| {
                        addresses::create(s, id, q, b)
                    },
                ),
        )
        .route(
            "/{id}/addresses/{address}",
            get(|State(s): St, Path((id, a)): Path<(String, String)>| addresses::get(s, id, a))
                .put(
                    |State(s): St,
                     Path((id, a)): Path<(String, String)>,
                     RawQuery(q): Q,
                     b: Bytes| { addresses::update(s, id, a, q, b) },
                )
                .delete(|State(s): St, Path((id, a)): Path<(String, String)>| {
                    addresses::delete(s, id, a)
                }),
        );
    let companies = party_routes(Party::Company)
        .route(
            "/{id}/contacts",
            get(|State(s): St, Path(id): Path<String>, RawQuery(q): Q| {
                links::contacts_of(Party::Company, s, id, q)
            }),
        )
        .route(
            "/{id}/contacts/{contact}",
            post(
                |State(s): St, Path((c, k)): Path<(String, String)>, b: Bytes| {
                    links::link_company(s, c, k, b)
                },
            )
            .put(
                |State(s): St, Path((c, k)): Path<(String, String)>, b: Bytes| {
                    links::update_company_link(s, c, k, b)
                },
            )
            .delete(|State(s): St, Path((c, k)): Path<(String, String)>| {
                links::unlink_company(s, c, k)
            }),
        );
    let individuals = party_routes(Party::Individual)
        .route(
            "/{id}/contacts",
            get(|State(s): St, Path(id): Path<String>, RawQuery(q): Q| {
                links::contacts_of(Party::Individual, s, id, q)
            }),
        )
        .route(
            "/{id}/contacts/{contact}",
            post(|State(s): St, Path((i, k)): Path<(String, String)>| {
                links::link_individual(s, i, k)
            })
            .delete(|State(s): St, Path((i, k)): Path<(String, String)>| {
                links::unlink_individual(s, i, k)
            }),
        );
    let tasks = Router::new()
        .route(
            "/",
            get(|State(s): St, RawQuery(q): Q| tasks::list(s, q))
                .post(|State(s): St, RawQuery(q): Q, b: Bytes| tasks::create(s, q, b)),
        )
        .route(
            "/search",
            post(|State(s): St, RawQuery(q): Q, b: Bytes| tasks::search(s, q, b)),
        )
        .route(
            "/labels",
            get(|State(s): St, RawQuery(q): Q| tasks::labels(s, q)),
        )
        .route(
            "/{id}",
            get(|State(s): St, Path(id): Path<String>, RawQuery(q): Q| tasks::get(s, id, q))
                .put(
                    |State(s): St, Path(id): Path<String>, RawQuery(q): Q, b: Bytes| {
                        tasks::update(s, id, q, b)
                    },
                )
                .delete(|State(s): St, Path(id): Path<String>| tasks::delete(s, id)),
        );
    let comments = Router::new()
        .route(
            "/",
            get(|State(s): St, RawQuery(q): Q| comments::list(s, q))
                .post(|State(s): St, RawQuery(q): Q, b: Bytes| comments::create(s, q, b)),
        )
        .route(
            "/search",
            post(|State(s): St, RawQuery(q): Q, b: Bytes| comments::search(s, q, b)),
        )
        .route(
            "/{id}",
            get(|State(s): St, Path(id): Path<String>, RawQuery(q): Q| comments::get(s, id, q))
                .put(
                    |State(s): St, Path(id): Path<String>, RawQuery(q): Q, b: Bytes| {
                        comments::update(s, id, q, b)
                    },
                )
                .delete(|State(s): St, Path(id): Path<String>| comments::delete(s, id)),
        );
    let custom_fields = Router::new()
        .route(
            "/",
            get(|State(s): St, RawQuery(q): Q| custom_fields::list(s, q)),
        )
        .route(
            "/search",
            post(|State(s): St, RawQuery(q): Q, b: Bytes| custom_fields::search(s, q, b)),
        )
        .route(
            "/{id}",
            get(|State(s): St, Path(id): Path<String>, RawQuery(q): Q| {
                custom_fields::get(s, id, q)
            }),
        );
    let webhooks = Router::new()
        .route(
            "/",
            get(|State(s): St, RawQuery(q): Q| webhooks::list(s, q))
                .post(|State(s): St, RawQuery(q): Q, b: Bytes| webhooks::create(s, q, b)),
        )
        .route(
            "/search",
            post(|State(s): St, RawQuery(q): Q, b: Bytes| webhooks::search(s, q, b)),
        )
        .route("/events", get(webhooks::events))
        .route(
            "/{id}",
            get(|State(s): St, Path(id): Path<String>| webhooks::get(s, id))
                .put(
                    |State(s): St, Path(id): Path<String>, RawQuery(q): Q, b: Bytes| {
                        webhooks::update(s, id, q, b)
                    },
                )
                .delete(|State(s): St, Path(id): Path<String>| webhooks::delete(s, id)),
        );
    Router::new()
        .nest("/contacts", contacts)
        .nest("/companies", companies)
        .nest("/individuals", individuals)
        .nest("/tasks", tasks)
        .nest("/comments", comments)
        .nest("/custom-fields", custom_fields)
        .nest("/webhooks", webhooks)
        .route("/quotas", get(|State(s): St| system::quotas(s)))
        .route(
            "/staffs/{id}",
            get(|State(s): St, Path(id): Path<String>| system::staff(s, id)),
        )
}
