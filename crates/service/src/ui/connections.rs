//! `/connections`: one card per connection (status, budget, last successful sync), the
//! OAuth Connect links, the forms adding a GHL private integration token or Sellsy
//! client credentials (stored sealed through the accounts registry, exactly as
//! `hlbridge connections add` does), and disconnect behind a confirmation page.

use std::sync::Arc;

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Form, Router};
use hlbridge_accounts::{App, ConnKind, Connection};
use serde::{Deserialize, Serialize};

use super::{enc, error_page, render};
use crate::access::CurrentSession;
use crate::api::Lead;
use crate::{AppState, Db};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/connections", get(page))
        .route(
            "/ui/connections/ghl",
            get(|| async { Redirect::to("/connections#add-ghl") }).post(add_ghl),
        )
        .route(
            "/ui/connections/sellsy",
            get(|| async { Redirect::to("/connections#add-sellsy") }).post(add_sellsy),
        )
        .route(
            "/ui/connections/{id}/disconnect",
            get(confirm).post(disconnect),
        )
}

#[derive(Serialize)]
struct Card {
    id: String,
    slug: String,
    app: String,
    app_name: String,
    account: String,
    label: String,
    kind: String,
    status: String,
    status_text: String,
    budget: String,
    last_success: String,
    last_error: String,
    pairs: Vec<String>,
}

fn status_text(s: &str) -> &'static str {
    match s {
        "ok" => "OK",
        "expiring" => "Expiring soon: connect it again",
        "needs-reauth" => "Needs re-authorization: connect it again",
        _ => "Error (see below)",
    }
}

/// The budget key the API clients of `c` count their requests under.
fn budget_key(c: &Connection) -> String {
    match (c.app, c.kind) {
        (App::Ghl, ConnKind::GhlOAuthAgency) => format!("ghl:company:{}", c.account),
        (App::Ghl, _) => format!("ghl:{}", c.account),
        (App::Sellsy, _) => format!("sellsy:{}", c.account),
    }
}

fn interval_text(secs: u64) -> String {
    match secs {
        86_400 => "today (day window)".into(),
        s if s >= 86_400 => format!("in the {}-day window", s / 86_400),
        s if s >= 3_600 => format!("in the {} h window", s / 3_600),
        s if s >= 60 => format!("in the {} min window", s / 60),
        s => format!("in the {s} s window"),
    }
}

/// Requests sent today (UTC) per budget key, as the request observer recorded them
/// (`service_budget_hourly`, flushed every few seconds); empty when not recorded.
fn today_counts(db: &Db) -> HashMap<String, u64> {
    let today = chrono::Utc::now().format("%Y-%m-%dT00").to_string();
    db.call_blocking(|c| -> rusqlite::Result<HashMap<String, u64>> {
        let mut stmt = c.prepare(
            "SELECT account, SUM(requests) FROM service_budget_hourly WHERE hour >= ?1 GROUP BY account",
        )?;
        let rows = stmt.query_map([today], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
        })?;
        rows.collect()
    })
    .unwrap_or_default()
}

/// When the newest cycle of `pair` that ended without error finished.
fn last_ok_cycle(db: &Db, pair: &str) -> Option<String> {
    db.call_blocking(|c| {
        c.query_row(
            "SELECT finished FROM service_sync_cycles WHERE pair = ?1 AND status = 'ok'
             ORDER BY started DESC LIMIT 1",
            [pair],
            |r| r.get::<_, String>(0),
        )
    })
    .ok()
}

/// Requests sent today, and those counted in the widest rate window known for the
/// connection (the day window when the provider announced one).
fn budget_text(lead: &Lead, c: &Connection, today: &HashMap<String, u64>) -> String {
    let sent = today.get(&budget_key(c)).copied().unwrap_or(0);
    format!("{sent} requests today · {}", window_text(lead, c))
}

fn window_text(lead: &Lead, c: &Connection) -> String {
    let budget = match c.app {
        App::Ghl => lead.accounts.budgets.ghl.as_ref(),
        App::Sellsy => lead.accounts.budgets.sellsy.as_ref(),
    };
    let Some(b) = budget else {
        return "not tracked".into();
    };
    let usage = b.usage(&budget_key(c));
    let day = usage
        .iter()
        .find(|u| u.window.interval.as_secs() == 86_400)
        .or_else(|| usage.iter().max_by_key(|u| u.window.interval));
    match day {
        Some(u) => format!(
            "{} of {} requests {}",
            u.used,
            u.window.limit,
            interval_text(u.window.interval.as_secs())
        ),
        None => "no request yet".into(),
    }
}

fn cards(lead: &Lead, db: &Db) -> Result<Vec<Card>, String> {
    let today = today_counts(db);
    let reg = &lead.accounts.registry;
    let conns = reg.list().map_err(|e| e.to_string())?;
    let pairs = reg.pairs().map_err(|e| e.to_string())?;
    Ok(conns
        .iter()
        .map(|c| {
            let mine: Vec<&hlbridge_accounts::Pair> = pairs
                .iter()
                .filter(|p| p.ghl == c.id || p.sellsy == c.id)
                .collect();
            // The newest cycle without error of a pair of this connection: kept in
            // `service_sync_cycles` (so across restarts), and the runner's memory.
            let last_success = mine
                .iter()
                .flat_map(|p| {
                    let run = lead.runner.run_of(&p.id);
                    let now = run.last_finished.filter(|_| run.last_error.is_none());
                    [now, last_ok_cycle(db, &p.id)]
                })
                .flatten()
                .max()
                .unwrap_or_else(|| "no sync yet".into());
            let status = lead.accounts.status_of(c).as_str().to_string();
            Card {
                slug: enc(&c.id),
                id: c.id.clone(),
                app: c.app.as_str().into(),
                app_name: match c.app {
                    App::Ghl => "GoHighLevel",
                    App::Sellsy => "Sellsy",
                }
                .into(),
                account: c.account.clone(),
                label: c.label.clone().unwrap_or_default(),
                kind: c.kind.as_str().into(),
                status_text: status_text(&status).into(),
                status,
                budget: budget_text(lead, c, &today),
                last_success,
                last_error: c.last_error.clone().unwrap_or_default(),
                pairs: mine.iter().map(|p| p.id.clone()).collect(),
            }
        })
        .collect())
}

/// What the add forms show again after a refusal (never the secrets).
#[derive(Serialize, Default)]
struct Again {
    form: String,
    error: String,
    location: String,
    ghl_base_url: String,
    client_id: String,
    sellsy_base_url: String,
    token_url: String,
}

fn default_ghl_base(lead: &Lead) -> String {
    lead.ghl_app
        .as_ref()
        .map(|a| a.base_url.clone())
        .or_else(|| std::env::var("HLBRIDGE_GHL_BASE_URL").ok())
        .unwrap_or_else(|| hlbridge_ghl::DEFAULT_BASE_URL.to_string())
}

fn default_sellsy_base(lead: &Lead) -> String {
    lead.sellsy_app
        .as_ref()
        .map(|a| a.base_url.clone())
        .or_else(|| std::env::var("HLBRIDGE_SELLSY_BASE_URL").ok())
        .unwrap_or_else(|| hlbridge_sellsy::DEFAULT_BASE_URL.to_string())
}

fn show(
    session: &CurrentSession,
    lead: &Lead,
    db: &Db,
    status: StatusCode,
    again: Again,
) -> Response {
    let cards = match cards(lead, db) {
        Ok(c) => c,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let again = Again {
        ghl_base_url: if again.ghl_base_url.is_empty() {
            default_ghl_base(lead)
        } else {
            again.ghl_base_url
        },
        sellsy_base_url: if again.sellsy_base_url.is_empty() {
            default_sellsy_base(lead)
        } else {
            again.sellsy_base_url
        },
        ..again
    };
    let mut res = render(
        "connections.html",
        "Connections",
        session,
        minijinja::context! {
            cards => cards,
            again => again,
            ghl_app => lead.ghl_app.is_some(),
            sellsy_app => lead.sellsy_app.is_some(),
            ghl_redirect => lead.redirect_uri("ghl"),
            sellsy_redirect => lead.redirect_uri("sellsy"),
            base => lead.public_url.trim_end_matches('/'),
        },
    );
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    res
}

async fn page(
    session: CurrentSession,
    State(state): State<AppState>,
    Extension(lead): Extension<Arc<Lead>>,
) -> Response {
    show(&session, &lead, &state.db, StatusCode::OK, Again::default())
}

#[derive(Deserialize)]
pub(super) struct GhlForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    base_url: String,
}

async fn add_ghl(
    session: CurrentSession,
    State(state): State<AppState>,
    Extension(lead): Extension<Arc<Lead>>,
    Form(f): Form<GhlForm>,
) -> Response {
    let again = |error: String| Again {
        form: "ghl".into(),
        error,
        location: f.location.trim().to_string(),
        ghl_base_url: f.base_url.trim().to_string(),
        ..Again::default()
    };
    let refuse = |e: String| {
        show(
            &session,
            &lead,
            &state.db,
            StatusCode::BAD_REQUEST,
            again(e),
        )
    };
    if f.token.trim().is_empty() {
        return refuse("Private integration token: required (GHL: Settings → Private Integrations → create one with the contacts scopes).".into());
    }
    if f.location.trim().is_empty() {
        return refuse(
            "Location id: required (GHL: Settings → Business Profile → Location ID).".into(),
        );
    }
    let base = if f.base_url.trim().is_empty() {
        default_ghl_base(&lead)
    } else {
        f.base_url.trim().to_string()
    };
    match lead
        .accounts
        .add_ghl_pit(f.token.trim(), f.location.trim(), &base)
        .await
    {
        Ok(_) => {
            let _ = lead.runner.reload();
            Redirect::to("/connections").into_response()
        }
        Err(e) => refuse(format!(
            "Private integration token / location id: GHL refused them for location {} at {base}: {e}. Check that the token belongs to this location and has the locations and contacts scopes.",
            f.location.trim()
        )),
    }
}

#[derive(Deserialize)]
pub(super) struct SellsyForm {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    token_url: String,
}

async fn add_sellsy(
    session: CurrentSession,
    State(state): State<AppState>,
    Extension(lead): Extension<Arc<Lead>>,
    Form(f): Form<SellsyForm>,
) -> Response {
    let again = |error: String| Again {
        form: "sellsy".into(),
        error,
        client_id: f.client_id.trim().to_string(),
        sellsy_base_url: f.base_url.trim().to_string(),
        token_url: f.token_url.trim().to_string(),
        ..Again::default()
    };
    let refuse = |e: String| {
        show(
            &session,
            &lead,
            &state.db,
            StatusCode::BAD_REQUEST,
            again(e),
        )
    };
    if f.client_id.trim().is_empty() {
        return refuse("Client id: required (Sellsy: Settings → API → Personal client).".into());
    }
    if f.client_secret.trim().is_empty() {
        return refuse(
            "Client secret: required (Sellsy: Settings → API → Personal client).".into(),
        );
    }
    let base = if f.base_url.trim().is_empty() {
        default_sellsy_base(&lead)
    } else {
        f.base_url.trim().to_string()
    };
    let token_url = Some(f.token_url.trim()).filter(|t| !t.is_empty());
    match lead
        .accounts
        .add_sellsy_client(f.client_id.trim(), f.client_secret.trim(), &base, token_url)
        .await
    {
        Ok(_) => {
            let _ = lead.runner.reload();
            Redirect::to("/connections").into_response()
        }
        Err(e) => refuse(format!(
            "Client id / client secret: Sellsy refused them at {}: {e}. Copy both again from Settings → API.",
            token_url
                .map(str::to_string)
                .unwrap_or_else(|| hlbridge_accounts::sellsy_token_url(&base))
        )),
    }
}

async fn confirm(
    session: CurrentSession,
    State(state): State<AppState>,
    Extension(lead): Extension<Arc<Lead>>,
    Path(id): Path<String>,
) -> Response {
    let cards = match cards(&lead, &state.db) {
        Ok(c) => c,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let Some(card) = cards.into_iter().find(|c| c.id == id) else {
        return error_page(
            StatusCode::NOT_FOUND,
            &format!("No connection {id}; see the list at /connections."),
        );
    };
    render(
        "conn_disconnect.html",
        "Disconnect",
        &session,
        minijinja::context! { card => card },
    )
}

#[derive(Deserialize)]
pub(super) struct DisconnectForm {
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    with_pairs: String,
}

async fn disconnect(
    _s: CurrentSession,
    Extension(lead): Extension<Arc<Lead>>,
    Path(id): Path<String>,
    Form(f): Form<DisconnectForm>,
) -> Response {
    if f.confirm != "yes" {
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!("Disconnecting {id} needs the confirmation: use the Disconnect button on /ui/connections/{id}/disconnect."),
        );
    }
    let reg = &lead.accounts.registry;
    if let Err(e) = reg.require(&id) {
        return error_page(StatusCode::NOT_FOUND, &e.to_string());
    }
    match reg.remove(&id, f.with_pairs == "yes") {
        Ok(_) => {
            let _ = lead.runner.reload();
            Redirect::to("/connections").into_response()
        }
        Err(e) => error_page(
            StatusCode::CONFLICT,
            &format!("{e} Tick \"also remove its pairs\" on the confirmation page to remove them with it."),
        ),
    }
}

#[cfg(test)]
mod tests {
    /// The card's "last successful sync" comes from the stored cycles (so it survives a
    /// restart): the newest cycle of the pair that ended without error.
    #[test]
    fn last_success_is_the_newest_ok_cycle_of_the_pair() {
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("hlb-conn-card-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = crate::Db::open(&dir.join("s.sqlite")).unwrap();
        db.call_blocking(|c| {
            crate::db::migrate(c).unwrap();
            for (pair, started, status) in [
                ("p1", "2026-12-01T10:00:00.000Z", "ok"),
                ("p1", "2026-12-01T11:00:00.000Z", "ok"),
                ("p1", "2026-12-01T12:00:00.000Z", "failed"),
                ("p2", "2026-12-01T13:00:00.000Z", "ok"),
            ] {
                c.execute(
                    "INSERT INTO service_sync_cycles (pair, started, finished, targeted, status, summary, report)
                     VALUES (?1, ?2, ?2, 0, ?3, '', '{}')",
                    rusqlite::params![pair, started, status],
                )
                .unwrap();
            }
        });
        assert_eq!(
            super::last_ok_cycle(&db, "p1").as_deref(),
            Some("2026-12-01T11:00:00.000Z")
        );
        assert_eq!(super::last_ok_cycle(&db, "p3"), None);
        std::fs::remove_dir_all(dir).ok();
    }
}
