//! Sign-in, sessions, CSRF, API tokens, access control, health, OpenAPI, metrics —
//! through real HTTP.

mod common;

use common::{client, csrf_from, sign_in, Options, Server, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn health_is_open_and_checks_the_database() {
    let server = Server::start(Options::default()).await;
    let res = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"status": "ok"}));
    server.stop().await;
}

#[tokio::test]
async fn signed_out_pages_redirect_and_api_answers_401_json() {
    let server = Server::start(Options::default()).await;
    let c = client();
    for page in ["/", "/connections", "/nowhere"] {
        let res = c.get(server.url(page)).send().await.unwrap();
        assert!(res.status().is_redirection(), "{page}: {}", res.status());
        assert_eq!(location(&res), "/login", "{page}");
    }
    for api in ["/api/echo", "/metrics", "/api/pairs"] {
        let res = c.get(server.url(api)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{api}");
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized");
        assert!(body["detail"]
            .as_str()
            .unwrap()
            .contains("api-token create"));
    }
    let res = c
        .post(server.url("/api/echo"))
        .bearer_auth("hlb_notarealtokenatallxxxxxxxxxxxxxxxxxxxxxxxxx")
        .json(&json!({"name": "a", "count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // A POST to a page without a session does not reach the handler.
    let res = c
        .post(server.url("/connections/touch"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/login");
    server.stop().await;
}

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_rotates_the_session() {
    let server = Server::start(Options::default()).await;
    let c = client();
    let page = c.get(server.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let cookies = set_cookies(&page);
    assert!(cookies.iter().any(|c| c.starts_with("hlb_login_csrf=")));
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"type="password""#));
    assert_eq!(
        html.matches("<input").count(),
        2,
        "one password field + the CSRF token"
    );

    let wrong = sign_in(&server, &c, "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.unwrap().contains("Wrong password"));

    let ok = sign_in(&server, &c, PASSWORD).await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&ok), "/");
    let session = set_cookies(&ok)
        .into_iter()
        .find(|c| c.starts_with("hlb_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly"));
    assert!(session.contains("SameSite=Lax"));
    assert!(session.contains("Path=/"));
    assert!(!session.contains("Secure"), "no Secure over plain http");
    let first_id = session.split(';').next().unwrap().to_string();

    let home = c.get(server.url("/")).send().await.unwrap();
    assert_eq!(location(&home), "/home");
    let page = c.get(server.url("/connections")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    // Signed in, /login goes home.
    let again = c.get(server.url("/login")).send().await.unwrap();
    assert_eq!(location(&again), "/");

    // Signing in again gives a new id and ends the old session.
    let page = c.get(server.url("/login")).send().await;
    drop(page);
    let fresh = client();
    let second = sign_in(&server, &fresh, PASSWORD).await;
    let second_id = set_cookies(&second)
        .into_iter()
        .find(|c| c.starts_with("hlb_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_ne!(first_id, second_id);
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let with_first = raw
        .get(server.url("/connections"))
        .header("cookie", &first_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        with_first.status(),
        StatusCode::OK,
        "sessions are independent"
    );

    // The session id is stored hashed only.
    let raw_id = first_id.trim_start_matches("hlb_session=").to_string();
    let stored: i64 = server.state.db.call_blocking(|c| {
        c.query_row(
            "SELECT COUNT(*) FROM service_sessions WHERE id_hash = ?1",
            [&raw_id],
            |r| r.get(0),
        )
        .unwrap()
    });
    assert_eq!(stored, 0);
    server.stop().await;
}

#[tokio::test]
async fn secure_cookies_behind_https() {
    let server = Server::start(Options {
        public_url: Some("https://bridge.example.com"),
        ..Options::default()
    })
    .await;
    let c = client();
    let page = c.get(server.url("/login")).send().await.unwrap();
    assert!(set_cookies(&page).iter().all(|c| c.contains("; Secure")));
    assert!(page.headers().contains_key("strict-transport-security"));
    server.stop().await;
}

#[tokio::test]
async fn failed_sign_ins_are_rate_limited() {
    let server = Server::start(Options::default()).await;
    let c = client();
    for _ in 0..5 {
        let res = sign_in(&server, &c, "guess").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = sign_in(&server, &c, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 15 * 60);
    server.stop().await;
}

#[tokio::test]
async fn login_and_forms_need_csrf_tokens() {
    let server = Server::start(Options::default()).await;
    let c = client();
    // No pre-session cookie / wrong token.
    let res = client()
        .post(server.url("/login"))
        .form(&[("password", PASSWORD), ("csrf_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let _ = c.get(server.url("/login")).send().await.unwrap();
    let res = c
        .post(server.url("/login"))
        .form(&[("password", PASSWORD), ("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    assert_eq!(
        sign_in(&server, &c, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let page = c
        .get(server.url("/connections"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_from(&page);

    let missing = c
        .post(server.url("/connections/touch"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert!(missing.text().await.unwrap().contains("CSRF"));
    let wrong = c
        .post(server.url("/connections/touch"))
        .form(&[("csrf_token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let ok = c
        .post(server.url("/connections/touch"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.text().await.unwrap(), "touched");
    // Session-authenticated API calls need the token too (header).
    let api = c
        .post(server.url("/api/echo"))
        .json(&json!({"name": "x", "count": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::FORBIDDEN);
    let api = c
        .post(server.url("/api/echo"))
        .header("x-csrf-token", &token)
        .json(&json!({"name": "x", "count": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::OK);
    // GETs with a session need no token.
    let metrics = c.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);

    // Logout needs the token, then ends the session.
    let res = c.post(server.url("/logout")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = c
        .post(server.url("/logout"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/login");
    let res = c.get(server.url("/connections")).send().await.unwrap();
    assert_eq!(location(&res), "/login");
    server.stop().await;
}

#[tokio::test]
async fn api_tokens_authenticate_without_csrf_and_can_be_revoked() {
    let server = Server::start(Options::default()).await;
    let (id, token) = server
        .state
        .db
        .call_blocking(|c| hlbridge_service::api_tokens::create(c, "ci"))
        .unwrap();
    assert!(token.starts_with("hlb_") && token.len() > 40);
    let c = client();
    let res = c
        .post(server.url("/api/echo"))
        .bearer_auth(&token)
        .json(&json!({"name": "bob", "count": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"name": "bob", "count": 3})
    );

    // Bad input: JSON errors with the field named.
    let res = c
        .post(server.url("/api/echo"))
        .bearer_auth(&token)
        .json(&json!({"name": "bob"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "bad_request");
    assert!(body["detail"].as_str().unwrap().contains("count"), "{body}");
    let res = c
        .post(server.url("/api/echo"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = c
        .post(server.url("/api/echo"))
        .bearer_auth(&token)
        .json(&json!({"name": "bob", "count": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "bad_request", "detail": "count: must be at least 1"})
    );
    let res = c
        .get(server.url("/api/nothing-here"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "not_found");

    // Metrics with the token.
    let res = c
        .get(server.url("/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );

    let list = server
        .state
        .db
        .call_blocking(|c| hlbridge_service::api_tokens::list(c))
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "ci");
    assert!(token.starts_with(&list[0].prefix));
    assert!(list[0].prefix.len() < token.len() / 2);
    assert!(list[0].last_used.is_some());
    // Only a hash is stored.
    let plain: i64 = server.state.db.call_blocking(|c| {
        c.query_row(
            "SELECT COUNT(*) FROM service_api_tokens WHERE token_hash = ?1 OR prefix = ?1",
            [&token],
            |r| r.get(0),
        )
        .unwrap()
    });
    assert_eq!(plain, 0);

    assert!(server
        .state
        .db
        .call_blocking(|c| hlbridge_service::api_tokens::revoke(c, id))
        .unwrap());
    assert!(!server
        .state
        .db
        .call_blocking(|c| hlbridge_service::api_tokens::revoke(c, id))
        .unwrap());
    let res = c
        .get(server.url("/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test]
async fn openapi_document_merges_every_handler() {
    let server = Server::start(Options::default()).await;
    let res = reqwest::get(server.url("/api/openapi.json")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/echo",
        "/healthz",
        "/metrics",
        "/webhooks/ghl",
        "/webhooks/sellsy",
    ] {
        assert!(paths.contains_key(p), "{p} missing from {:?}", paths.keys());
    }
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["properties"]["error"]["type"], "string");
    assert_eq!(error["properties"]["detail"]["type"], "string");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["Echo"].is_object());
    server.stop().await;
}

#[tokio::test]
async fn metrics_carry_the_hlbridge_series() {
    let server = Server::start(Options::default()).await;
    let m = &server.state.metrics;
    m.record_request("ghl", "contacts.get", 200);
    m.record_request("ghl", "contacts.get", 429);
    m.record_retry("ghl", "contacts.get");
    m.set_budget_remaining("ghl:loc1", 17);
    m.set_sync_lag("p1", 12.5);
    m.set_outbox_depth("p1", 3);
    m.record_webhook("ghl", "queued");
    let (_, token) = server
        .state
        .db
        .call_blocking(|c| hlbridge_service::api_tokens::create(c, "prom"))
        .unwrap();
    let text = client()
        .get(server.url("/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"hlbridge_requests_total{app="ghl",operation="contacts.get",status="200"} 1"#,
        r#"hlbridge_requests_total{app="ghl",operation="contacts.get",status="429"} 1"#,
        r#"hlbridge_rate_limited_total{app="ghl",operation="contacts.get"} 1"#,
        r#"hlbridge_retries_total{app="ghl",operation="contacts.get"} 1"#,
        r#"hlbridge_budget_remaining{account="ghl:loc1"} 17"#,
        r#"hlbridge_sync_lag_seconds{pair="p1"} 12.5"#,
        r#"hlbridge_outbox_depth{pair="p1"} 3"#,
        r#"hlbridge_webhook_events_total{app="ghl",outcome="queued"} 1"#,
        "hlbridge_queue_depth 0",
    ] {
        assert!(text.contains(line), "missing {line} in:\n{text}");
    }
    server.stop().await;
}

#[tokio::test]
async fn no_password_yet_says_how_to_set_one() {
    let server = Server::start(Options {
        password: None,
        ..Options::default()
    })
    .await;
    let c = client();
    let html = c
        .get(server.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("hlbridge admin set-password"));
    let res = sign_in(&server, &c, "anything at all").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    server.stop().await;
}
