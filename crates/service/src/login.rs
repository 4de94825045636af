//! `GET /login`, `POST /login`, `POST /logout` and `GET /`.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use crate::access::{client_ip, csrf_input, Identity};
use crate::db::{now_secs, DbError};
use crate::sessions::{self, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::AppState;

/// Where `/` sends a signed-in user.
pub const HOME: &str = "/home";

const LOGIN_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'";

fn page(message: Option<&str>, token: &str, no_password: bool) -> String {
    let notice = match (message, no_password) {
        (Some(m), _) => format!(r#"<p class="error" role="alert">{m}</p>"#),
        (None, true) => r#"<p class="error" role="alert">No admin password is set yet. Run <code>hlbridge admin set-password</code>, or start the server with <code>HLBRIDGE_ADMIN_PASSWORD</code> set.</p>"#.to_string(),
        (None, false) => String::new(),
    };
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · hlbridge</title>
<link rel="icon" href="/favicon.ico" type="image/svg+xml">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 24rem; margin: 4rem auto; padding: 0 1rem; }}
label {{ display: block; margin: 1rem 0 .25rem; }}
input[type=password] {{ width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; }}
button {{ margin-top: 1rem; padding: .5rem 1.25rem; font-size: 1rem; }}
.error {{ color: #8a1c1c; }}
</style>
</head>
<body>
<main>
<h1>hlbridge</h1>
{notice}
<form method="post" action="/login">
{csrf}
<label for="password">Admin password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
"#,
        csrf = csrf_input(token),
    )
}

fn secure(state: &AppState) -> bool {
    state.config.secure_cookies
}

fn login_page(
    state: &AppState,
    status: StatusCode,
    message: Option<&str>,
    token: &str,
    no_password: bool,
) -> Response {
    let mut res = (status, Html(page(message, token, no_password))).into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&sessions::set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        secure(state),
        Some(3600),
    )) {
        h.append(header::SET_COOKIE, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(LOGIN_CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

async fn has_password(state: &AppState) -> Result<bool, DbError> {
    state
        .db
        .call(|c| Ok(crate::admin::password_hash(c)?.is_some()))
        .await
}

/// `GET /login`.
pub async fn get_login(State(state): State<AppState>, req: Request) -> Response {
    if matches!(
        req.extensions().get::<Identity>(),
        Some(Identity::Session(_))
    ) {
        return Redirect::to("/").into_response();
    }
    let token = sessions::cookie_value(req.headers(), LOGIN_CSRF_COOKIE)
        .filter(|t| {
            t.len() == 43
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(sessions::random_token);
    let no_password = !has_password(&state).await.unwrap_or(true);
    login_page(&state, StatusCode::OK, None, &token, no_password)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
}

/// Failed sign-ins of `client` within the window, and the seconds until the oldest
/// of them leaves it.
fn failures(conn: &rusqlite::Connection, client: &str, window: i64) -> Result<(u32, i64), DbError> {
    let now = now_secs();
    conn.execute(
        "DELETE FROM service_login_attempts WHERE at < ?1",
        [now - window],
    )?;
    let (count, oldest): (u32, Option<i64>) = conn.query_row(
        "SELECT COUNT(*), MIN(at) FROM service_login_attempts WHERE client = ?1",
        [client],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((count, oldest.map_or(window, |o| (o + window - now).max(1))))
}

/// `POST /login` (form: `password`, `csrf_token`).
pub async fn post_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    req: Request,
) -> Response {
    let client = client_ip(&headers, req.extensions(), state.config.trust_forwarded_for);
    let old_session = sessions::cookie_value(&headers, SESSION_COOKIE).map(str::to_string);
    let Some(cookie_token) =
        sessions::cookie_value(&headers, LOGIN_CSRF_COOKIE).map(str::to_string)
    else {
        return plain(
            StatusCode::FORBIDDEN,
            "CSRF token missing or invalid: reload the sign-in page and try again.\n",
        );
    };
    let form = match Form::<LoginForm>::from_request(req, &state).await {
        Ok(Form(f)) => f,
        Err(_) => {
            return plain(
                StatusCode::BAD_REQUEST,
                "The sign-in form must be sent as application/x-www-form-urlencoded with fields password and csrf_token.\n",
            )
        }
    };
    if !sessions::tokens_match(&form.csrf_token, &cookie_token) {
        return plain(
            StatusCode::FORBIDDEN,
            "CSRF token missing or invalid: reload the sign-in page and try again.\n",
        );
    }
    let window = state.config.login_window.as_secs() as i64;
    let max = state.config.login_max_failures;
    let c = client.clone();
    let (count, retry_after) = match state.db.call(move |db| failures(db, &c, window)).await {
        Ok(v) => v,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    if count >= max {
        let mut res = plain(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-ins from this address; wait and try again.\n",
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after as u64));
        return res;
    }
    let stored = match state.db.call(|c| crate::admin::password_hash(c)).await {
        Ok(h) => h,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let Some(phc) = stored else {
        return login_page(
            &state,
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            &cookie_token,
            true,
        );
    };
    let password = form.password;
    let ok = tokio::task::spawn_blocking(move || crate::admin::verify_password(&phc, &password))
        .await
        .unwrap_or(false);
    if !ok {
        let c = client.clone();
        let _ = state
            .db
            .call(move |db| {
                db.execute(
                    "INSERT INTO service_login_attempts (client, at) VALUES (?1, ?2)",
                    rusqlite::params![c, now_secs()],
                )?;
                Ok(())
            })
            .await;
        return login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("Wrong password."),
            &cookie_token,
            false,
        );
    }
    let created = state
        .db
        .call(move |db| {
            if let Some(old) = old_session {
                sessions::delete(db, &old)?;
            }
            db.execute(
                "DELETE FROM service_login_attempts WHERE client = ?1",
                [&client],
            )?;
            sessions::create(db)
        })
        .await;
    let (id, _) = match created {
        Ok(v) => v,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let mut res = Redirect::to("/").into_response();
    let max_age = state.config.session_absolute.as_secs() as i64;
    let h = res.headers_mut();
    for cookie in [
        sessions::set_cookie(SESSION_COOKIE, &id, secure(&state), Some(max_age)),
        sessions::set_cookie(LOGIN_CSRF_COOKIE, "", secure(&state), Some(0)),
    ] {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            h.append(header::SET_COOKIE, v);
        }
    }
    res
}

/// `POST /logout` (CSRF-checked by the access middleware).
pub async fn post_logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = sessions::cookie_value(&headers, SESSION_COOKIE).map(str::to_string) {
        if let Err(e) = state.db.call(move |db| sessions::delete(db, &id)).await {
            return crate::error::ApiError::from(e).into_response();
        }
    }
    let mut res = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&sessions::set_cookie(
        SESSION_COOKIE,
        "",
        secure(&state),
        Some(0),
    )) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// `GET /`: the home page when signed in (the middleware sends others to `/login`).
pub async fn root() -> Redirect {
    Redirect::to(HOME)
}

use axum::extract::FromRequest as _;
